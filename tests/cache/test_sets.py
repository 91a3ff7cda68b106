"""Set commands against redis-server, byte for byte where Redis's order is defined.

Replies whose order Redis leaves to its hash table are compared as
multisets, random ones by shape and membership; small integer sets are
intsets in both servers, so their replies are compared exactly. Also: a
hypothesis command-sequence differential over a few colliding keys (sets,
hashes and strings), a stateful test against a plain Python model, the
SSCAN guarantee under churn, and determinism of SPOP across processes.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cache.datatypes.sets import SetValue, scan_positions
from cache.resp import string2ll
from tests.cache.collections_diff import (
    SEQ_COMMANDS,
    Session,
    bulks,
    full_scan,
    run_script,
    run_sequence,
    scan_with_churn,
    session,  # noqa: F401  (the fixture)
)
from tests.cache.harness import Harness, parse_reply

SCRIPTS = {
    "add_remove_count": """
        SADD s 3 1 2
        SADD s 2 4
        SCARD s
        SMEMBERS s
        TYPE s
        SISMEMBER s 2
        SISMEMBER s 5
        SISMEMBER s 02
        SMISMEMBER s 1 x 4 01
        SREM s 1 9 x
        SREM s 2 3 4 5
        EXISTS s
        SREM s a
        SMEMBERS nokey
        SISMEMBER nokey a
        SMISMEMBER nokey a b
        SCARD nokey
        SADD w a b c a
        unordered: SMEMBERS w
        SMISMEMBER w c d a
        SREM w a a
        SCARD w
    """,
    "wrong_type_and_arity": """
        SET str v
        SADD str a
        SREM str a
        SMEMBERS str
        SISMEMBER str a
        SMISMEMBER str a
        SCARD str
        SPOP str
        SRANDMEMBER str
        SSCAN str 0
        SADD
        SADD s
        SREM s
        SMISMEMBER s
        SPOP
        SMOVE a b
        SINTER
        SINTERSTORE d
        SINTERCARD 1
        SSCAN s
        GET str
    """,
    "encodings": """
        SADD i -9223372036854775808 9223372036854775807 0 -1
        SMEMBERS i
        OBJECT ENCODING i
        SADD i 9223372036854775808
        OBJECT ENCODING i
        unordered: SMEMBERS i
        SADD z 01
        OBJECT ENCODING z
        SADD m -0
        OBJECT ENCODING m
        SADD p +1
        OBJECT ENCODING p
        SADD e ''
        OBJECT ENCODING e
        SMEMBERS e
        SADD h 1 a
        SREM h a
        OBJECT ENCODING h
        SMEMBERS h
        COPY h h2
        OBJECT ENCODING h2
        COPY i i2
        SADD i2 x
        SCARD i
        SCARD i2
        SADD n 5
        COPY n n2
        OBJECT ENCODING n2
        SADD n2 7
        SMEMBERS n
        SMEMBERS n2
        CONFIG SET set-max-intset-entries 3
        SADD c 1 2 3
        OBJECT ENCODING c
        SADD c 4
        OBJECT ENCODING c
        unordered: SMEMBERS c
        SREM c 4 3
        OBJECT ENCODING c
        CONFIG SET set-max-intset-entries 0
        SADD d 1
        OBJECT ENCODING d
    """,
    "smove": """
        SADD src 1 2 a
        SET str x
        SMOVE src dst 1
        OBJECT ENCODING dst
        SMOVE src dst a
        OBJECT ENCODING dst
        unordered: SMEMBERS dst
        SMOVE src dst nope
        SMOVE src src 2
        SMOVE src src 9
        SMOVE nokey dst 1
        SMOVE nokey str 1
        SMOVE str dst 1
        SMOVE src str 2
        SMOVE src dst 2
        EXISTS src
        unordered: SMEMBERS dst
        SADD src2 b
        SADD dst2 b
        SMOVE src2 dst2 b
        EXISTS src2
        SMEMBERS dst2
        SADD s3 5
        SMOVE s3 i3 5
        OBJECT ENCODING i3
        SMEMBERS i3
    """,
    "random_counts": """
        SADD one x
        SRANDMEMBER one
        SRANDMEMBER one 1
        SRANDMEMBER one -3
        SRANDMEMBER one 0
        SRANDMEMBER one 5
        SRANDMEMBER one -9223372036854775807 x
        SRANDMEMBER one 1 2
        SRANDMEMBER one abc x
        SRANDMEMBER one -9223372036854775808
        SRANDMEMBER one 9223372036854775808
        SRANDMEMBER one abc
        SRANDMEMBER one 1.5
        SRANDMEMBER one ''
        SADD ints 5 3 9 1
        SRANDMEMBER ints 4
        SRANDMEMBER ints 100
        SRANDMEMBER ints 9223372036854775807
        SRANDMEMBER nokey
        SRANDMEMBER nokey 5
        SRANDMEMBER nokey -5
        SRANDMEMBER nokey -9223372036854775807
        SRANDMEMBER nokey 0
        SET str v
        SRANDMEMBER str
        SRANDMEMBER str 0
        SRANDMEMBER str -1
        SRANDMEMBER str abc
        SPOP one 0
        SPOP one -1
        SPOP one abc
        SPOP one 1 2
        SPOP one -9223372036854775808
        SPOP str
        SPOP str 0
        SPOP str -1
        SPOP nokey
        SPOP nokey 0
        SPOP nokey 5
        SPOP nokey 9223372036854775807
        SPOP ints 4
        EXISTS ints
        SADD ints 5 3 9 1
        SPOP ints 100
        SADD ints 5 3 9 1
        SPOP ints 9223372036854775807
        SPOP one
        EXISTS one
        SADD one x
        SPOP one 1
        EXISTS one
        SADD hs a b c
        unordered: SRANDMEMBER hs 3
        unordered: SRANDMEMBER hs 50
        unordered: SPOP hs 3
        EXISTS hs
    """,
    "spop_count_strategies": """
        SADD big 1 2 3 4 5 6 7 8 9 10 11 12 a
        SREM big a
        OBJECT ENCODING big
        shape: SPOP big 2
        OBJECT ENCODING big
        SCARD big
        shape: SPOP big 9
        OBJECT ENCODING big
        SCARD big
        SADD mixed a b c d e f g 1
        shape: SPOP mixed 7
        SCARD mixed
        shape: SPOP mixed 1
        EXISTS mixed
    """,
    "sinter_sunion_sdiff": """
        SADD a 1 2 3 4
        SADD b 3 4 5
        SADD c 4 5 6 x
        SINTER a b
        SINTER b a
        SINTER a c
        SINTER a nokey
        SINTER nokey a
        SINTER a a
        unordered: SINTER c c
        SUNION a b
        unordered: SUNION a c
        SUNION nokey
        SUNION nokey a nokey2
        SDIFF a b
        SDIFF a b c
        SDIFF b a a
        SDIFF a a
        SDIFF nokey a
        SDIFF a nokey
        unordered: SDIFF c a
        SDIFF c c
        SMEMBERS nokey
    """,
    "sintercard": """
        SADD a 1 2 3 4
        SADD b 3 4 5
        SADD c 4 5 6 x
        SINTERCARD 2 a b
        SINTERCARD 2 a b LIMIT 1
        SINTERCARD 2 a b LIMIT 0
        SINTERCARD 2 a b limit 1 LIMIT 5
        SINTERCARD 3 a b c LIMIT 100
        SINTERCARD 1 a limit 2
        SINTERCARD 2 a nokey
        SINTERCARD 1 nokey
        SINTERCARD 2 a a
        SINTERCARD 0 a
        SINTERCARD -1 a
        SINTERCARD x a
        SINTERCARD 2 a
        SINTERCARD 9223372036854775807 a
        SINTERCARD 1 a LIMIT
        SINTERCARD 1 a LIMIT -1
        SINTERCARD 1 a LIMIT x
        SINTERCARD 1 a LIMIT 9223372036854775808
        SINTERCARD 1 a FOO 1
        SINTERCARD 1 a a
        SET str v
        SINTERCARD 1 str
        SINTERCARD 2 nokey str
        SINTERCARD 2 str nokey
        SINTERCARD 1 str LIMIT x
    """,
    "store_variants": """
        SADD a 1 2 3 4
        SADD b 3 4 5
        SADD c 4 5 6 x
        SINTERSTORE d a b
        SMEMBERS d
        OBJECT ENCODING d
        SINTERSTORE d a c
        OBJECT ENCODING d
        SUNIONSTORE d a c
        OBJECT ENCODING d
        SDIFFSTORE d c a
        OBJECT ENCODING d
        SADD e 1 x
        SADD f x
        SDIFFSTORE d e f
        OBJECT ENCODING d
        SADD g x 1 2 3 4 5 6 7 8 9
        SADD h1 x
        SADD h2 y
        SADD h3 z
        SDIFFSTORE d g h1 h2 h3
        OBJECT ENCODING d
        SDIFFSTORE d g h1
        OBJECT ENCODING d
        SMEMBERS d
        SINTERSTORE d nokey a
        EXISTS d
        SUNIONSTORE d nokey
        SDIFFSTORE d a a
        EXISTS d
        SET str v
        SINTERSTORE str a b
        TYPE str
        SET t v EX 100
        SUNIONSTORE t a
        TTL t
        SINTERSTORE a a
        SMEMBERS a
        SUNIONSTORE a a b
        SMEMBERS a
        SET str v
        SINTER a str
        SUNIONSTORE d a str
        SDIFFSTORE d str
        SINTERSTORE d2 str
        SINTERSTORE d2 nokey str
        EXISTS d2
        SINTERSTORE str nokey
        EXISTS str
    """,
    "sscan_small_and_options": """
        SADD i 3 1 2 10
        SSCAN i 0
        SSCAN i 12345
        SSCAN i 0 MATCH 1*
        SSCAN i 0 COUNT 1
        SSCAN i 0 match [12] count 100
        SSCAN i 0 MATCH 1* MATCH 2*
        SSCAN i 0 COUNT 0
        SSCAN i 0 COUNT -1
        SSCAN i 0 COUNT x
        SSCAN i 0 MATCH
        SSCAN i 0 TYPE string
        SSCAN i 0 FOO
        SSCAN i 0 COUNT
        SSCAN i x
        SSCAN i -1
        SSCAN i 18446744073709551616
        SSCAN i ''
        SSCAN nokey 0
        SSCAN nokey 0 COUNT 0
        SSCAN nokey 0 FOO bar
        SSCAN nokey x
        SET str v
        SSCAN str 0 COUNT 0
        SSCAN str x
        SADD e ''
        SSCAN e 0
        SSCAN e 0 MATCH *
        SSCAN e 0 MATCH ?
        SADD w apple banana cherry
        scan: SSCAN w 0
        scan: SSCAN w 0 MATCH *an*
        SSCAN w 0 MATCH zz*
    """,
}


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(session, name):
    run_script(session, SCRIPTS[name])


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("SSCAN", "s", b"0\x00x"), ("SSCAN", "s", "0", b"COUNT\x00x", "5"),
    ("SSCAN", "s", "0", b"MATCH\x00", "1*"), ("SINTERCARD", "1", "s", b"LIMIT\x00x", "1"),
    ("SPOP", "s", b"1\x00"), ("SRANDMEMBER", "s", b"-1\x00"), ("SADD", "s", b"4\x00"),
    ("SISMEMBER", "s", b"1\x00"),
])
def test_arguments_with_nul_bytes_match_redis(session, args):
    """Options are C strings (cut at NUL); counts and members use every byte."""
    session.check("SADD", "s", "1", "2", "3")
    session.check(*args)
    session.check("SMEMBERS", "s", mode="unordered")


# -- random replies: shape and membership ---------------------------------------------


def _members(session: Session, key: str) -> set[bytes]:
    return set(bulks(session.harness.run_raw("SMEMBERS", key)))


@pytest.mark.redis
@pytest.mark.parametrize("members", [
    [str(i) for i in range(7)], [f"m{i}" for i in range(7)], [str(i) for i in range(40)],
    ["only"],
], ids=["intset", "hashtable", "larger", "single"])
def test_random_counts_have_redis_shapes(session, members):
    session.check("SADD", "s", *members)
    everything = set(m.encode() for m in members)
    for count in (1, 2, 3, 5, 6, 7, 8, 13, 39, 40, 100, -1, -2, -7, -50, 0):
        ours, theirs = session.both("SRANDMEMBER", "s", count)
        session.check("SRANDMEMBER", "s", count, mode="shape")
        got = bulks(ours)
        assert set(got) <= everything
        assert len(got) == (abs(count) if count < 0 else min(count, len(members)))
        if count > 0:
            assert len(set(got)) == len(got), "a positive count returns distinct members"
        assert set(bulks(theirs)) <= everything
    one = session.harness.run("SRANDMEMBER", "s")
    assert one in everything


@pytest.mark.redis
@pytest.mark.parametrize("count", [1, 2, 5, 6, 7, 11, 12, 13])
def test_spop_with_count_pops_distinct_members_like_redis(session, count):
    members = [str(i) for i in range(10)] + ["a", "b"]
    session.check("SADD", "s", *members)
    before = _members(session, "s")
    popped = bulks(session.check("SPOP", "s", count, mode="shape"))
    after = _members(session, "s")
    assert len(popped) == len(set(popped)) == min(count, len(before))
    assert set(popped) | after == before and not set(popped) & after
    session.check("SCARD", "s")
    session.check("EXISTS", "s")


# -- SSCAN: whole iterations ---------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("options", [(), ("COUNT", "3"), ("COUNT", "1000"), ("MATCH", "m1*"),
                                     ("MATCH", "*[05]", "COUNT", "7")])
@pytest.mark.parametrize("kind", ["hashtable", "intset"])
def test_full_sscan_returns_what_redis_returns(session, kind, options):
    if kind == "intset":
        session.configure(set_max_intset_entries=1000)
    members = [f"m{i}" if kind == "hashtable" else str(i) for i in range(300)]
    session.check("SADD", "big", *members)
    session.check("OBJECT", "ENCODING", "big")
    ours, calls = full_scan(lambda *a: parse_reply(session.harness.run_raw(*a)), "SSCAN", "big",
                            *options)
    theirs, _ = full_scan(lambda *a: parse_reply(session.oracle.raw(*a)), "SSCAN", "big", *options)
    assert len(ours) == len(set(ours)), "nothing changed, so nothing comes twice"
    assert sorted(ours) == sorted(set(theirs))
    if kind == "intset":
        assert calls == 1, "a small encoding is returned whole, as Redis does"


def test_sscan_returns_every_member_present_throughout_despite_churn():
    h = Harness()
    h.run("SADD", "s", *[m for i in range(200) for m in (f"stable{i}", f"temp{i}")])
    stable = {f"stable{i}".encode() for i in range(200)}

    def mutate(step):
        h.run("SREM", "s", *[f"temp{i}" for i in range(step * 9, step * 9 + 9)])
        h.run("SADD", "s", *[f"new{step}-{j}" for j in range(5)])
        h.run("SMOVE", "s", "elsewhere", f"new{step}-0")

    seen = scan_with_churn(h, "SSCAN", "s", mutate)
    assert stable <= seen


class ScanChurn(RuleBasedStateMachine):
    """Random interleavings of SSCAN steps and writes: members never removed are all seen."""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(seed=3)
        self.h.run("SADD", "s", "x", *[f"m{i}" for i in range(60)])
        self.present_throughout = {f"m{i}".encode() for i in range(60)} | {b"x"}
        self.seen: set[bytes] = set()
        self.cursor = b"0"
        self.done = False
        self.fresh = 0

    @precondition(lambda self: not self.done)
    @rule(count=st.integers(1, 12))
    def scan_step(self, count):
        self.cursor, batch = self.h.run("SSCAN", "s", self.cursor, "COUNT", count)
        self.seen.update(batch)
        self.done = self.cursor == b"0"

    @rule(n=st.integers(1, 6))
    def add(self, n):
        self.fresh += n
        self.h.run("SADD", "s", *[f"n{self.fresh}-{i}" for i in range(n)])

    @rule(i=st.integers(0, 59))
    def remove(self, i):
        self.h.run("SREM", "s", f"m{i}")
        self.present_throughout.discard(f"m{i}".encode())

    @rule(count=st.integers(1, 5))
    def spop(self, count):
        for member in self.h.run("SPOP", "s", count):
            self.present_throughout.discard(member)

    @invariant()
    def guarantee(self):
        if self.done:
            assert self.present_throughout <= self.seen


TestScanChurn = ScanChurn.TestCase
TestScanChurn.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)


def test_scan_positions_cursor_walks_down_and_clamps():
    items = list(range(10))
    assert scan_positions(items, 0, 4) == (6, [6, 7, 8, 9])
    assert scan_positions(items, 6, 4) == (2, [2, 3, 4, 5])
    assert scan_positions(items, 2, 4) == (0, [0, 1])
    assert scan_positions(items[:3], 6, 4) == (0, [0, 1, 2]), "a shrunk list clamps the cursor"
    assert scan_positions([], 0, 4) == (0, [])


# -- determinism ------------------------------------------------------------------------

_REPLAY = """
from tests.cache.harness import Harness
h = Harness(seed=SEED)
h.run("SADD", "s", *[f"member-{i}" for i in range(300)])
h.run("SADD", "i", *range(50))
h.run("HSET", "h", *[x for i in range(100) for x in (f"f{i}", f"v{i}")])
out = [h.run("SPOP", "s") for _ in range(20)]
out += [h.run("SPOP", "s", 30), h.run("SRANDMEMBER", "s", 10), h.run("SRANDMEMBER", "s", -10)]
out += [h.run("SPOP", "i", 5), h.run("HRANDFIELD", "h", 5), h.run("HRANDFIELD", "h", -5)]
out += [h.run("SMEMBERS", "s"), h.run("SSCAN", "s", 0, "COUNT", 20)]
print(repr(out))
"""


def _replay_here(seed: int) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(_REPLAY.replace("SEED", str(seed)), {})
    return buffer.getvalue()


def test_same_seed_same_random_replies_in_another_process():
    """The other process hashes strings with another PYTHONHASHSEED than this one."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    hashseed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    there = subprocess.run([sys.executable, "-c", _REPLAY.replace("SEED", "42")],
                           env=dict(os.environ, PYTHONHASHSEED=hashseed), cwd=root,
                           capture_output=True, text=True, check=True).stdout
    assert there == _replay_here(42)
    assert there != _replay_here(43), "another seed draws other members"


def test_same_seed_same_spop_sequence_in_fresh_servers():
    runs = []
    for _ in range(2):
        h = Harness(seed=9)
        h.run("SADD", "s", *[f"k{i}" for i in range(100)])
        runs.append([h.run("SPOP", "s") for _ in range(30)] + [h.run("SPOP", "s", 40)])
    assert runs[0] == runs[1]
    assert len(set(runs[0][:30])) == 30


# -- COPY and value class ------------------------------------------------------------------


def test_copy_shares_no_mutable_state():
    h = Harness()
    h.run("SADD", "a", "x", "y")
    h.run("SADD", "i", 1, 2)
    h.run("COPY", "a", "b")
    h.run("COPY", "i", "j")
    h.run("SADD", "b", "z")
    h.run("SREM", "j", 1)
    assert sorted(h.run("SMEMBERS", "a")) == [b"x", b"y"]
    assert h.run("SMEMBERS", "i") == [b"1", b"2"]
    assert h.run("OBJECT", "ENCODING", "b") == b"hashtable"


def test_hashtable_remove_keeps_index_consistent():
    value = SetValue(intset=False)
    for i in range(50):
        value.add(b"m%d" % i, 512)
    for i in range(0, 50, 3):
        assert value.remove(b"m%d" % i)
    assert not value.remove(b"m0")
    assert all(value.index[m] == pos for pos, m in enumerate(value.members))
    assert sorted(value) == sorted(b"m%d" % i for i in range(50) if i % 3)


def test_memory_per_member_stays_lean():
    import tracemalloc
    members = [b"member:%07d" % i for i in range(20_000)]
    tracemalloc.start()
    value = SetValue(intset=False)
    for member in members:
        value.add(member, 512)
    hashtable = tracemalloc.get_traced_memory()[0] / len(members)
    tracemalloc.stop()
    tracemalloc.start()
    ints = SetValue()
    for i in range(20_000):
        ints.add(b"%d" % (i * 7), 10**6)
    intset = tracemalloc.get_traced_memory()[0] / 20_000
    tracemalloc.stop()
    assert hashtable < 100, f"{hashtable:.0f} bytes of overhead per member"
    assert intset < 12, f"{intset:.0f} bytes per intset member"


# -- a plain Python model ----------------------------------------------------------------------

MAX_INTSET = 5
MEMBERS = st.sampled_from(["1", "2", "3", "-7", "10", "01", "a", "b", "", "9223372036854775807"])
SET_KEYS = st.sampled_from(["s1", "s2", "s3"])


def _is_int(member: str) -> bool:
    return string2ll(member.encode()) is not None


class SetModel(RuleBasedStateMachine):
    """Sets in flowcache against Python sets, encodings included."""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(seed=5)
        self.h.run("CONFIG", "SET", "set-max-intset-entries", MAX_INTSET)
        self.sets: dict[str, set[str]] = {}
        self.intset: dict[str, bool | None] = {}  # None: encoding not modelled (SDIFFSTORE)

    def _added(self, key: str, member: str) -> None:
        if key not in self.sets:
            self.sets[key] = set()
            self.intset[key] = _is_int(member)
        self.sets[key].add(member)
        if self.intset[key] and (not _is_int(member) or len(self.sets[key]) > MAX_INTSET):
            self.intset[key] = False

    def _drop_if_empty(self, key: str) -> None:
        if key in self.sets and not self.sets[key]:
            del self.sets[key], self.intset[key]

    @rule(key=SET_KEYS, members=st.lists(MEMBERS, min_size=1, max_size=6))
    def sadd(self, key, members):
        expected = len(set(members) - self.sets.get(key, set()))
        assert self.h.run("SADD", key, *members) == expected
        for member in members:
            self._added(key, member)

    @rule(key=SET_KEYS, members=st.lists(MEMBERS, min_size=1, max_size=4))
    def srem(self, key, members):
        current = self.sets.get(key, set())
        assert self.h.run("SREM", key, *members) == len(set(members) & current)
        current -= set(members)
        self._drop_if_empty(key)

    @rule(src=SET_KEYS, dst=SET_KEYS, member=MEMBERS)
    def smove(self, src, dst, member):
        present = member in self.sets.get(src, set())
        assert self.h.run("SMOVE", src, dst, member) == int(present)
        if present and src != dst:
            self.sets[src].discard(member)
            self._drop_if_empty(src)
            self._added(dst, member)

    @rule(key=SET_KEYS, count=st.integers(0, 8))
    def spop_count(self, key, count):
        before = self.sets.get(key, set())
        popped = [m.decode() for m in self.h.run("SPOP", key, count)]
        assert len(popped) == len(set(popped)) == min(count, len(before))
        assert set(popped) <= before
        remaining = len(before) - len(popped)
        case3 = 0 < remaining and remaining * 5 <= count
        before -= set(popped)
        self._drop_if_empty(key)
        if case3 and all(_is_int(m) for m in before) and len(before) <= MAX_INTSET:
            self.intset[key] = True

    @rule(key=SET_KEYS)
    def spop_one(self, key):
        popped = self.h.run("SPOP", key)
        if key not in self.sets:
            assert popped is None
            return
        assert popped.decode() in self.sets[key]
        self.sets[key].discard(popped.decode())
        self._drop_if_empty(key)

    @rule(dst=SET_KEYS, keys=st.lists(SET_KEYS, min_size=1, max_size=3),
          op=st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]))
    def store(self, dst, keys, op):
        sources = [self.sets.get(k, set()) for k in keys]
        if op == "SINTERSTORE":
            result = set.intersection(*sources)
        elif op == "SUNIONSTORE":
            result = set.union(*sources)
        else:
            result = sources[0].difference(*sources[1:])
        assert self.h.run(op, dst, *keys) == len(result)
        self.sets.pop(dst, None)
        self.intset.pop(dst, None)
        if result:
            self.sets[dst] = set(result)
            fits = all(_is_int(m) for m in result) and len(result) <= MAX_INTSET
            self.intset[dst] = None if op == "SDIFFSTORE" else fits

    @rule(keys=st.lists(SET_KEYS, min_size=1, max_size=3), limit=st.integers(0, 3))
    def sintercard(self, keys, limit):
        size = len(set.intersection(*[self.sets.get(k, set()) for k in keys]))
        reply = self.h.run("SINTERCARD", len(keys), *keys, "LIMIT", limit)
        assert reply == (min(size, limit) if limit else size)

    @invariant()
    def matches_model(self):
        for key in ("s1", "s2", "s3"):
            members = self.sets.get(key)
            if members is None:
                assert self.h.run("EXISTS", key) == 0
                continue
            reply = self.h.run("SMEMBERS", key)
            assert sorted(reply) == sorted(m.encode() for m in members)
            assert self.h.run("SCARD", key) == len(members)
            encoding = self.h.run("OBJECT", "ENCODING", key)
            if self.intset[key] is not None:
                assert encoding == (b"intset" if self.intset[key] else b"hashtable")
            if encoding == b"intset":
                assert reply == sorted(reply, key=int), "an intset iterates in order"


TestSetModel = SetModel.TestCase
TestSetModel.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)


# -- hypothesis: random command sequences against redis-server -------------------------------


@pytest.mark.redis
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(SEQ_COMMANDS, min_size=1, max_size=25))
def test_random_command_sequences_match_redis(session, commands):
    session.configure(set_max_intset_entries=4, hash_max_listpack_entries=4,
                      hash_max_listpack_value=8)
    run_sequence(session, commands)
