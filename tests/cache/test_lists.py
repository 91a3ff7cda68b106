"""List commands: scripts and generated sequences compared byte for byte with redis-server
(RESP2 and RESP3), the command table against COMMAND INFO/DOCS, and keyspace integration."""

from __future__ import annotations

import tracemalloc
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cache import blocking, keyspace, resp
from cache.commands.table import COMMANDS
from cache.datatypes.lists import ListValue
from tests.cache.harness import Differential, Harness, RedisOracle, parse_reply


class ProtoDiff:
    """A Differential whose both sides speak `proto` (HELLO 3 on both for RESP3)."""

    def __init__(self, port: int, proto: int) -> None:
        self.diff = Differential(port)
        self.proto = proto
        if proto == 3:
            self.diff.oracle.raw("HELLO", "3")
            self.diff.harness.run("HELLO", "3")

    @property
    def harness(self) -> Harness:
        return self.diff.harness

    @property
    def oracle(self) -> RedisOracle:
        return self.diff.oracle

    def check(self, *args) -> bytes:
        ours, theirs = self.diff.both(*args, proto=self.proto)
        assert ours == theirs, f"{args!r}: flowcache {ours!r} != redis {theirs!r}"
        return ours

    def close(self) -> None:
        self.oracle.call("RESET")
        self.oracle.call("FLUSHALL")
        self.diff.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def diff(request, redis_server):
    d = ProtoDiff(redis_server, request.param)
    yield d
    d.close()


def run_script(diff: ProtoDiff, script: str) -> None:
    """Each line a command (words split on spaces, `''` is an empty argument)."""
    for line in script.strip().splitlines():
        diff.check(*[b"" if word == "''" else word.encode() for word in line.split()])


BIG = "9223372036854775807"
SMALL = "-9223372036854775808"
SCRIPTS = {
    "push_and_pop": f"""
        LPUSH l a b c
        RPUSH l d e
        LRANGE l 0 -1
        LPUSHX l x y
        RPUSHX l z
        LPUSHX nokey a
        RPUSHX nokey a
        EXISTS nokey
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 2
        LPOP l 0
        RPOP l 0
        LPOP l -1
        LPOP l abc
        LPOP l {BIG}
        LPOP l 1 2
        RPOP l 1 2
        LPOP l
        EXISTS l
        LPOP nokey
        RPOP nokey
        LPOP nokey 0
        LPOP nokey 3
        RPOP nokey -1
        RPUSH r 1 2 3
        RPOP r 100
        EXISTS r
        LPUSH l ''
        LRANGE l 0 -1
        LPOP l
        LPUSH
        LPUSH l
        RPUSHX l
    """,
    "wrong_type": """
        SET s x
        LPUSH s a
        RPUSH s a
        LPUSHX s a
        RPUSHX s a
        LPOP s
        RPOP s 2
        LPOP s 0
        LLEN s
        LRANGE s 0 -1
        LINDEX s 0
        LSET s 0 x
        LREM s 0 x
        LTRIM s 0 1
        LINSERT s BEFORE a b
        LPOS s a
        LMOVE s d LEFT RIGHT
        RPUSH l a
        LMOVE l s LEFT RIGHT
        RPOPLPUSH l s
        RPOPLPUSH s l
        LMPOP 2 s l LEFT
        LMPOP 2 l s LEFT
        LMPOP 2 nokey s LEFT
        LRANGE l 0 -1
        GET l
        INCR l
        APPEND l x
        TYPE l
        OBJECT ENCODING l
    """,
    "range_and_index": f"""
        RPUSH l a b c d e
        LRANGE l 0 0
        LRANGE l -1 -1
        LRANGE l -100 100
        LRANGE l 2 1
        LRANGE l 5 10
        LRANGE l -6 -5
        LRANGE l 1 -2
        LRANGE l {SMALL} {BIG}
        LRANGE l {BIG} {SMALL}
        LRANGE l a 1
        LRANGE l 0 1.5
        LRANGE l ' 1' 2
        LRANGE nokey 0 -1
        LRANGE nokey x 1
        LRANGE l 9223372036854775808 1
        LINDEX l 0
        LINDEX l 4
        LINDEX l 5
        LINDEX l -1
        LINDEX l -5
        LINDEX l -6
        LINDEX l {BIG}
        LINDEX l {SMALL}
        LINDEX l abc
        LINDEX nokey abc
        LINDEX l ''
        LLEN l
        LLEN nokey
    """,
    "lset_lrem_ltrim": f"""
        LSET nokey 0 x
        LSET nokey a x
        RPUSH l a b a c a
        LSET l 0 x
        LSET l -1 y
        LSET l 5 z
        LSET l -6 z
        LSET l {BIG} z
        LSET l abc z
        LRANGE l 0 -1
        LREM l 0 a
        LREM l 1 zz
        RPUSH m a b a c a b a
        LREM m 2 a
        LRANGE m 0 -1
        LREM m -1 a
        LRANGE m 0 -1
        LREM m -5 b
        LREM m {SMALL} a
        LREM m abc a
        LREM nokey 0 a
        LREM nokey x a
        LRANGE m 0 -1
        LREM m 0 c
        EXISTS m
        RPUSH n a b a c a a
        LREM n -2 a
        LRANGE n 0 -1
        LREM n 2 a
        LRANGE n 0 -1
        RPUSH t 1 2 3 4 5 6
        LTRIM t 1 -2
        LRANGE t 0 -1
        LTRIM t -100 100
        LTRIM t 1 1
        LRANGE t 0 -1
        LTRIM t 5 10
        EXISTS t
        RPUSH t 1 2 3
        LTRIM t 2 1
        EXISTS t
        LTRIM nokey 0 1
        LTRIM nokey a 1
        RPUSH t 1 2 3
        LTRIM t {SMALL} {BIG}
        LTRIM t x 1
        LTRIM t 0 -1
        LRANGE t 0 -1
    """,
    "linsert": """
        LINSERT nokey BEFORE a b
        LINSERT nokey MIDDLE a b
        RPUSH l a b c b
        LINSERT l BEFORE b x
        LINSERT l after b y
        LINSERT l AfTeR c ''
        LINSERT l BEFORE zz y
        LINSERT l middle b y
        LINSERT l BEFORE '' z
        LRANGE l 0 -1
    """,
    "lpos": f"""
        RPUSH l a b c a b c a
        LPOS l a
        LPOS l c
        LPOS l zz
        LPOS l a RANK 0
        LPOS l a RANK 1
        LPOS l a RANK 2
        LPOS l a RANK 4
        LPOS l a RANK -1
        LPOS l a RANK -3
        LPOS l a RANK -4
        LPOS l a RANK {SMALL}
        LPOS l a RANK -{BIG}
        LPOS l a RANK {BIG}
        LPOS l a RANK x
        LPOS l a RANK 1.5
        LPOS l a COUNT 0
        LPOS l a COUNT 1
        LPOS l a COUNT 2
        LPOS l a COUNT {BIG}
        LPOS l a COUNT -1
        LPOS l a COUNT x
        LPOS l zz COUNT 0
        LPOS l a COUNT 0 RANK -1
        LPOS l a COUNT 2 RANK 2
        LPOS l a COUNT 2 RANK {SMALL}
        LPOS l a COUNT 0 RANK {SMALL}
        LPOS l a MAXLEN 0
        LPOS l a MAXLEN 1
        LPOS l a MAXLEN 3 COUNT 0
        LPOS l a MAXLEN 4 RANK 2
        LPOS l a MAXLEN 4 RANK -2
        LPOS l a MAXLEN 4 RANK -2 COUNT 0
        LPOS l a MAXLEN -1
        LPOS l a MAXLEN x
        LPOS l a RANK
        LPOS l a COUNT
        LPOS l a FOO 1
        LPOS l a rank 2 RANK 1
        LPOS l a count 1 COUNT 0
        LPOS nokey a
        LPOS nokey a COUNT 0
        LPOS nokey a RANK 0
        SET s x
        LPOS s a
        LPOS s a RANK 0
        LPOS s a COUNT -1
        LPOS s a FOO
    """,
    "lmove_rpoplpush": """
        RPUSH src a b c
        LMOVE src dst LEFT RIGHT
        LMOVE src dst RIGHT LEFT
        LMOVE src dst left left
        LRANGE dst 0 -1
        EXISTS src
        LMOVE src dst LEFT LEFT
        LMOVE dst dst LEFT RIGHT
        LRANGE dst 0 -1
        LMOVE dst dst RIGHT RIGHT
        LRANGE dst 0 -1
        LMOVE dst dst UP LEFT
        LMOVE dst dst LEFT UP
        LMOVE nokey dst UP LEFT
        RPOPLPUSH dst other
        RPOPLPUSH dst other
        RPOPLPUSH dst other
        RPOPLPUSH dst other
        LRANGE other 0 -1
        EXISTS dst
        RPUSH one x
        RPOPLPUSH one one
        LRANGE one 0 -1
        LMOVE one one LEFT LEFT
        LRANGE one 0 -1
        RPOPLPUSH nokey other
        SET s v
        RPOPLPUSH nokey s
        RPOPLPUSH one s
        LRANGE one 0 -1
        RPOPLPUSH s one
    """,
    "lmpop": f"""
        RPUSH a 1 2 3
        RPUSH b 4 5 6 7
        LMPOP 1 a LEFT
        LMPOP 1 a RIGHT COUNT 5
        EXISTS a
        LMPOP 2 a b LEFT
        LMPOP 2 a b RIGHT COUNT 2
        LMPOP 2 a b left count 1
        LMPOP 1 nokey LEFT
        LMPOP 1 nokey LEFT COUNT 5
        LMPOP 0 a LEFT
        LMPOP -1 a LEFT
        LMPOP x a LEFT
        LMPOP {BIG} a LEFT
        LMPOP 9223372036854775808 a LEFT
        LMPOP 2 a LEFT
        LMPOP 1 a UP
        LMPOP 1 a LEFT COUNT 0
        LMPOP 1 a LEFT COUNT -1
        LMPOP 1 a LEFT COUNT x
        LMPOP 1 a LEFT COUNT 1 COUNT 1
        LMPOP 1 a LEFT COUNT
        LMPOP 1 a LEFT FOO
        LMPOP 1 a
        LMPOP 1
        SET s x
        LMPOP 2 s b LEFT
        LMPOP 2 b s LEFT
        LMPOP 3 nokey b s RIGHT COUNT {BIG}
        EXISTS b
    """,
    "blocking_without_blocking": """
        RPUSH a 1 2 3
        BLPOP a 0
        BRPOP nokey a 0
        BLPOP a x
        BLPOP a -1
        BLPOP a 0 extra
        SET s x
        BLPOP s 0
        BLPOP nokey s a 0
        BLPOP a s 0
        BRPOP s x
        RPUSH a 4 5 6 7
        BLMOVE a d UP LEFT 0
        BLMOVE a d LEFT LEFT x
        BLMOVE s d LEFT LEFT x
        BLMOVE a s LEFT LEFT 0
        BLMOVE s d LEFT LEFT 0
        BLMOVE a d LEFT RIGHT 0
        BRPOPLPUSH a s x
        BRPOPLPUSH a s 0
        BRPOPLPUSH s d 0
        BRPOPLPUSH d d 0
        LRANGE d 0 -1
        RPUSH a 1 2 3 4
        BLMPOP x 0 a LEFT
        BLMPOP x 1 a LEFT
        BLMPOP x 1 a UP
        BLMPOP x 1 a LEFT COUNT 0
        BLMPOP -1 1 a LEFT
        BLMPOP 0 1 s LEFT
        BLMPOP 0 2 nokey a RIGHT COUNT 2
        BLMPOP 0 1 a LEFT COUNT 10
        BLMPOP 0 1 a
        BLMPOP 0 2 a LEFT
        EXISTS a
    """,
    "type_and_keyspace": """
        RPUSH l a b c
        TYPE l
        OBJECT ENCODING l
        SCAN 0 TYPE list
        COPY l l2
        LPUSH l2 z
        LRANGE l 0 -1
        LRANGE l2 0 -1
        RENAME l2 l3
        LRANGE l3 0 -1
        EXPIRE l3 100
        RPUSH l3 x
        TTL l3
        LPOP l3 10
        EXISTS l3
        RPUSH l3 y
        TTL l3
        MOVE l 1
        SELECT 1
        LRANGE l 0 -1
        SELECT 0
        DEL l l3
        DBSIZE
    """,
}


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(diff, name):
    run_script(diff, SCRIPTS[name])


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("LMOVE", "l", "d", b"LEFT\x00x", "RIGHT"), ("LINSERT", "l", b"BEFORE\x00", "a", "z"),
    ("LPOS", "l", "a", b"RANK\x00", "2"), ("LMPOP", "1", "l", b"left\x00", b"COUNT\x00", "2"),
    ("LINDEX", "l", b"0\x00"), ("LPOP", "l", b"1\x00"), ("LPOS", b"l", b"a\x00"),
])
def test_arguments_with_nul_bytes_match_redis(diff, args):
    """Options are compared as C strings (cut at NUL); numbers and elements use every byte."""
    diff.check("RPUSH", "l", "a", b"a\x00", "b")
    diff.check(*args)
    diff.check("LRANGE", "l", "0", "-1")


@pytest.mark.redis
def test_long_lists_match_redis(diff):
    """Ranges, trims and searches far from both ends of a list longer than one quicklist node."""
    diff.check("RPUSH", "big", *[str(i % 97) for i in range(3000)])
    for args in [("LRANGE", "big", "1000", "1010"), ("LRANGE", "big", "-1010", "-1000"),
                 ("LINDEX", "big", "1500"), ("LINDEX", "big", "-1501"),
                 ("LPOS", "big", "5", "RANK", "-3", "COUNT", "4"),
                 ("LPOS", "big", "5", "RANK", "7", "MAXLEN", "1000", "COUNT", "0"),
                 ("LSET", "big", "2000", "x"), ("LREM", "big", "-3", "7"), ("LREM", "big", "0", "8"),
                 ("LINSERT", "big", "AFTER", "x", "y"), ("LTRIM", "big", "500", "-500"),
                 ("LLEN", "big"), ("LRANGE", "big", "995", "1010"), ("LPOP", "big", "700"),
                 ("RPOP", "big", "700"), ("LRANGE", "big", "0", "-1")]:
        diff.check(*args)


# -- the command table against COMMAND INFO / COMMAND DOCS ----------------------------

LIST_COMMANDS = ["lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex",
                 "lset", "lrem", "ltrim", "linsert", "lpos", "lmove", "rpoplpush", "lmpop",
                 "blpop", "brpop", "blmove", "brpoplpush", "blmpop"]
# What the shared table cannot declare yet (reported to its owner): per-key key-spec
# flags and keynum specs, doc history / deprecation, per-argument `since`, key_spec_index.
_DOC_FIELDS_NOT_DECLARABLE = {b"history", b"doc_flags", b"deprecated_since", b"replaced_by"}


def _strip_args(args: list) -> list:
    out = []
    for arg in args:
        fields = dict(zip(arg[::2], arg[1::2]))
        fields.pop(b"since", None)
        fields.pop(b"key_spec_index", None)
        if b"arguments" in fields:
            fields[b"arguments"] = _strip_args(fields[b"arguments"])
        out.append(fields)
    return out


def _comparable_docs(doc: list) -> dict:
    fields = dict(zip(doc[::2], doc[1::2]))
    for name in _DOC_FIELDS_NOT_DECLARABLE:
        fields.pop(name, None)
    fields[b"arguments"] = _strip_args(fields[b"arguments"])
    return fields


@pytest.mark.redis
@pytest.mark.parametrize("name", LIST_COMMANDS)
def test_command_info_and_docs_match_redis(redis_server, name):
    oracle = RedisOracle(redis_server)
    try:
        theirs_info = oracle.call("COMMAND", "INFO", name)[0]
        theirs_docs = oracle.call("COMMAND", "DOCS", name)
    finally:
        oracle.close()
    h = Harness()
    ours_info = parse_reply(h.run_raw("COMMAND", "INFO", name))[0]
    assert ours_info[:8] == theirs_info[:8], "name, arity, flags, keys, ACL categories, tips"
    assert len(ours_info[8]) <= len(theirs_info[8])
    ours_docs = parse_reply(h.run_raw("COMMAND", "DOCS", name))
    assert ours_docs[0] == theirs_docs[0] == name.encode()
    assert _comparable_docs(ours_docs[1]) == _comparable_docs(theirs_docs[1])


# -- keyspace integration ---------------------------------------------------------------


def test_type_encoding_and_copy_do_not_share_the_list():
    h = Harness()
    h.run("RPUSH", "l", "a", "b")
    assert h.run("TYPE", "l") == b"list"
    assert h.run("OBJECT", "ENCODING", "l") == b"quicklist"
    assert h.run("COPY", "l", "c") == 1
    original = h.server.dbs[0].data[b"l"].value
    copied = h.server.dbs[0].data[b"c"].value
    assert type(copied) is ListValue and copied is not original
    h.run("RPUSH", "c", "z")
    h.run("LSET", "l", "0", "changed")
    assert h.run("LRANGE", "l", 0, -1) == [b"changed", b"b"]
    assert h.run("LRANGE", "c", 0, -1) == [b"a", b"b", b"z"]
    assert h.run("COPY", "l", "other", "DB", "3") == 1
    h.run("LPOP", "l", "5")
    h.run("SELECT", "3")
    assert h.run("LRANGE", "other", 0, -1) == [b"changed", b"b"]


def test_a_list_expires_in_virtual_time():
    h = Harness()
    h.run("RPUSH", "l", "a")
    h.run("PEXPIRE", "l", 100)
    h.advance(101)
    assert h.run("LLEN", "l") == 0
    assert h.run("RPUSHX", "l", "b") == 0
    assert h.run("LPUSH", "l", "c") == 1
    assert h.run("TTL", "l") == -1


def _notified(h: Harness, *args) -> list[bytes]:
    seen: list[bytes] = []

    def hook(db, key):
        seen.append(key)

    keyspace.KEY_MODIFIED_HOOKS.append(hook)
    try:
        h.run(*args)
    finally:
        keyspace.KEY_MODIFIED_HOOKS.remove(hook)
    return seen


@pytest.mark.parametrize("args, keys", [
    (("LPUSH", "l", "x"), {b"l"}), (("RPUSH", "new", "x"), {b"new"}), (("LPUSHX", "l", "x"), {b"l"}),
    (("RPUSHX", "l", "x"), {b"l"}), (("LPOP", "l"), {b"l"}), (("RPOP", "l", "2"), {b"l"}),
    (("LSET", "l", "0", "x"), {b"l"}), (("LREM", "l", "0", "a"), {b"l"}),
    (("LTRIM", "l", "0", "-1"), {b"l"}), (("LTRIM", "l", "5", "9"), {b"l"}),
    (("LINSERT", "l", "BEFORE", "a", "z"), {b"l"}), (("LMOVE", "l", "d", "LEFT", "LEFT"), {b"l", b"d"}),
    (("RPOPLPUSH", "l", "l"), {b"l"}), (("LMPOP", "2", "nokey", "l", "LEFT"), {b"l"}),
    (("LPOP", "l", "10"), {b"l"}),
])
def test_every_write_notifies_the_keys_it_changed(args, keys):
    h = Harness()
    h.run("RPUSH", "l", "a", "b", "c")
    assert set(_notified(h, *args)) == keys


@pytest.mark.parametrize("args", [
    ("LPUSHX", "nokey", "x"), ("LPOP", "nokey"), ("LPOP", "l", "0"), ("LREM", "l", "0", "zz"),
    ("LINSERT", "l", "BEFORE", "zz", "x"), ("LMOVE", "nokey", "l", "LEFT", "LEFT"),
    ("LMPOP", "1", "nokey", "LEFT"), ("LRANGE", "l", "0", "-1"), ("LPOS", "l", "a"),
    ("LSET", "l", "9", "x"), ("LINDEX", "l", "0"), ("LLEN", "l"), ("LPUSH", "s", "x"),
])
def test_reads_and_no_op_writes_notify_nothing(args):
    h = Harness()
    h.run("RPUSH", "l", "a", "b", "c")
    h.run("SET", "s", "v")
    assert _notified(h, *args) == []


def _allocated(build) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return size


def test_a_list_of_small_items_costs_about_a_deque_of_bytes():
    items = [b"%d" % i for i in range(20000)]
    h = Harness()
    plain = _allocated(lambda: deque(items))
    ours = _allocated(lambda: h.run("RPUSH", "l", *items))
    assert ours <= plain * 1.1 + 4096


@pytest.mark.redis
def test_hits_and_misses_are_counted_like_redis(redis_server):
    d = Differential(redis_server)

    def stats_theirs():
        info = parse_reply(d.oracle.raw("INFO", "stats")).decode()
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])

    stats = d.harness.server.stats
    try:
        for args in [("RPUSH", "l", "a", "b"), ("LLEN", "l"), ("LLEN", "no"), ("LRANGE", "l", 0, 1),
                     ("LRANGE", "no", 0, 1), ("LINDEX", "l", 0), ("LPOS", "l", "a"), ("LPOS", "no", "a"),
                     ("LPOP", "l"), ("LPOP", "no"), ("LMOVE", "l", "m", "LEFT", "LEFT"),
                     ("LSET", "m", 0, "x"), ("LMPOP", "2", "no", "m", "LEFT"), ("RPUSH", "m", "z"),
                     ("BLPOP", "no", "m", "0")]:
            ours_before, theirs_before = (stats.keyspace_hits, stats.keyspace_misses), stats_theirs()
            d.check(*args)
            theirs_after = stats_theirs()
            assert (stats.keyspace_hits - ours_before[0], stats.keyspace_misses - ours_before[1]) == \
                (theirs_after[0] - theirs_before[0], theirs_after[1] - theirs_before[1]), args
    finally:
        d.oracle.call("FLUSHALL")
        d.close()


# -- generated sequences -----------------------------------------------------------------

KEYS = [b"a", b"b", b"c"]
ELEMENTS = [b"x", b"y", b"z", b"", b"1", b"x\x00"]
INDICES = [b"0", b"1", b"2", b"-1", b"-2", b"-3", b"3", b"10", b"-10", b"abc", b"",
           b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808"]
COUNTS = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"100", b"x", b"9223372036854775807",
          b"-9223372036854775808"]
SIDES = [b"LEFT", b"RIGHT", b"left", b"Right", b"UP"]

key = st.sampled_from(KEYS)
element = st.sampled_from(ELEMENTS)
index = st.sampled_from(INDICES)
count = st.sampled_from(COUNTS)
side = st.sampled_from(SIDES)


def cmd(name: bytes, *parts) -> st.SearchStrategy[list[bytes]]:
    return st.tuples(st.just(name), *parts).map(list)


def joined(*parts) -> st.SearchStrategy[list[bytes]]:
    return st.tuples(*parts).map(lambda ps: [a for p in ps for a in (p if isinstance(p, list) else [p])])


LPOS_OPTION = st.one_of(
    st.tuples(st.just(b"RANK"), st.sampled_from([b"1", b"2", b"3", b"-1", b"-2", b"-3"])),
    st.tuples(st.just(b"COUNT"), st.sampled_from([b"0", b"1", b"2"])),
    st.tuples(st.just(b"maxlen"), st.sampled_from([b"0", b"1", b"3"])),
    st.tuples(st.sampled_from([b"RANK", b"COUNT", b"MAXLEN", b"FOO"]), st.sampled_from(COUNTS)),
).map(list)
PUSH = joined(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), key,
              st.lists(element, min_size=1, max_size=4))
TIMEOUT = st.sampled_from([b"0", b"1", b"0.5", b"x", b"-1"])
# Run inside MULTI/EXEC (see below), where they answer at once on both servers.
BLOCKING = st.one_of(
    joined(st.sampled_from([b"BLPOP", b"BRPOP"]), st.lists(key, min_size=1, max_size=3), TIMEOUT),
    cmd(b"BLMOVE", key, key, side, side, TIMEOUT),
    cmd(b"BRPOPLPUSH", key, key, TIMEOUT),
    st.lists(key, min_size=1, max_size=3).flatmap(lambda ks: joined(
        st.just(b"BLMPOP"), TIMEOUT, st.just(b"%d" % len(ks)), st.just(ks), side,
        st.lists(st.sampled_from([b"COUNT", b"2", b"0"]), max_size=2))),
)
SEQUENCE_COMMANDS = st.one_of(
    PUSH, PUSH, PUSH, PUSH, *((BLOCKING, BLOCKING) if b"multi" in COMMANDS else ()),
    joined(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), key,
           st.lists(element, max_size=1)),
    joined(st.sampled_from([b"LPOP", b"RPOP"]), key, st.lists(count, max_size=2)),
    cmd(b"LLEN", key),
    cmd(b"LRANGE", key, index, index),
    cmd(b"LINDEX", key, index),
    cmd(b"LSET", key, index, element),
    cmd(b"LREM", key, count, element),
    cmd(b"LTRIM", key, index, index),
    cmd(b"LINSERT", key, st.sampled_from([b"BEFORE", b"after", b"MIDDLE"]), element, element),
    joined(st.just(b"LPOS"), key, element,
           st.lists(LPOS_OPTION, max_size=3).map(lambda os: [a for o in os for a in o])),
    cmd(b"LMOVE", key, key, side, side),
    cmd(b"RPOPLPUSH", key, key),
    st.lists(key, min_size=1, max_size=3).flatmap(lambda ks: joined(
        st.just(b"LMPOP"), st.sampled_from([b"%d" % len(ks)] * 3 + [b"%d" % (len(ks) + 1), b"0"]),
        st.just(ks), side,
        st.lists(st.sampled_from([b"COUNT", b"2", b"0", b"5"]), max_size=2))),
    cmd(b"SET", key, element),
    cmd(b"GET", key),
    cmd(b"INCR", key),
    cmd(b"DEL", key),
    cmd(b"TYPE", key),
    cmd(b"EXISTS", key),
    cmd(b"OBJECT", st.just(b"ENCODING"), key),
    joined(st.just(b"COPY"), key, key, st.lists(st.just(b"REPLACE"), max_size=1)),
    cmd(b"RENAME", key, key),
)


SEQUENCE_SETUP = [[b"RPUSH", b"a", b"x", b"y", b"x", b"z", b"1"], [b"RPUSH", b"b", b"y", b"x"],
                  [b"SET", b"c", b"1"]]


@pytest.fixture(scope="module")
def sequence_oracle(redis_server):
    conn = RedisOracle(redis_server)
    yield conn
    conn.call("RESET")
    conn.call("FLUSHALL")
    conn.close()


@pytest.mark.redis
@pytest.mark.parametrize("proto", [2, 3])
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=st.lists(SEQUENCE_COMMANDS, min_size=5, max_size=40))
def test_command_sequences_match_redis(sequence_oracle, proto, sequence):
    oracle = sequence_oracle
    oracle.raw("RESET")
    oracle.raw("FLUSHALL")
    h = Harness()
    if proto == 3:
        oracle.raw("HELLO", "3")
        h.run("HELLO", "3")
    transcript = []
    for command in SEQUENCE_SETUP + sequence:
        wrapped = command[0].startswith(b"B")
        for argv in ([b"MULTI"], command, [b"EXEC"]) if wrapped else (command,):
            ours, theirs = h.run_raw(*argv, proto=proto), oracle.raw(*argv)
            transcript.append(f"{argv!r} -> {theirs!r}")
            assert ours == theirs, "\n".join(transcript) + f"\nflowcache: {ours!r}"
    for k in KEYS:  # and the final states agree
        for argv in ((b"TYPE", k), (b"LRANGE", k, b"0", b"-1")):
            assert h.run_raw(*argv, proto=proto) == oracle.raw(*argv)


# -- blocking: several clients on each side, replies compared -------------------------------


class BlockingDiff:
    """`n` clients on flowcache and on redis-server; a blocked command's reply is read later.

    Redis is asked (INFO clients) until it has really blocked a client, so the
    order of commands across connections is the same on both sides.
    """

    def __init__(self, port: int, proto: int, n: int = 3) -> None:
        self.h = Harness()
        self.proto = proto
        self.ours = [self.h.client] + [self.h.new_client() for _ in range(n - 1)]
        self.theirs = [RedisOracle(port) for _ in range(n)]
        self.control = RedisOracle(port)
        self.control.call("FLUSHALL")
        if proto == 3:
            for i in range(n):
                self.h.run("HELLO", "3", client=self.ours[i])
                self.theirs[i].raw("HELLO", "3")
        self.pending: dict[int, object] = {}

    def close(self) -> None:
        for conn in self.theirs:
            conn.close()
        self.control.call("FLUSHALL")
        self.control.close()

    def _ours(self, i: int, args: tuple):
        reply = self.h.run(*args, client=self.ours[i])
        blocking.serve_ready_keys(self.h.server)  # the connection code does this after a command
        return reply

    def call(self, i: int, *args) -> bytes:
        """A command that answers at once on both sides (it may wake others)."""
        reply = self._ours(i, args)
        assert not isinstance(reply, blocking.Blocked), args
        ours = resp.encode(reply, self.ours[i].proto)
        theirs = self.theirs[i].raw(*args)
        assert ours == theirs, f"{args!r}: flowcache {ours!r} != redis {theirs!r}"
        return ours

    def block(self, i: int, *args) -> None:
        """A command that must wait on both sides."""
        before = self._blocked_on_redis()
        reply = self._ours(i, args)
        assert isinstance(reply, blocking.Blocked), f"{args!r} answered {reply!r}"
        self.pending[i] = reply
        self.theirs[i].sock.sendall(RedisOracle.encode_command(args))
        while self._blocked_on_redis() != before + 1:
            pass

    def _blocked_on_redis(self) -> int:
        info = parse_reply(self.control.raw("INFO", "clients")).decode()
        return int(info.split("blocked_clients:")[1].split("\r\n")[0])

    def waiting(self) -> list[int]:
        """Clients still blocked; the same on both sides."""
        ours = sorted(i for i, w in self.pending.items() if not w.done())
        assert len(ours) == self._blocked_on_redis()
        return ours

    def reply(self, i: int) -> bytes:
        """The reply a blocked client finally got, compared."""
        waited = self.pending.pop(i)
        assert waited.done(), f"client {i} still waits on flowcache"
        ours = resp.encode(waited.result(), self.ours[i].proto)
        theirs = self.theirs[i].read_raw()
        assert ours == theirs, f"client {i}: flowcache {ours!r} != redis {theirs!r}"
        return ours

    def time_out(self, i: int, seconds: float) -> bytes:
        """Let virtual time pass on our side; Redis's own timer answers on its side."""
        self.h.sim.run(self.h.sim.delay(seconds))
        return self.reply(i)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def bdiff(request, redis_server):
    d = BlockingDiff(redis_server, request.param)
    yield d
    d.close()


@pytest.mark.redis
def test_blocked_pops_are_served_oldest_first(bdiff):
    bdiff.block(0, "BLPOP", "k", "0")
    bdiff.block(1, "BRPOP", "k", "other", "0")
    bdiff.call(2, "RPUSH", "k", "a", "b", "c")
    bdiff.reply(0)
    bdiff.reply(1)
    assert bdiff.waiting() == []
    bdiff.call(2, "LRANGE", "k", "0", "-1")


@pytest.mark.redis
def test_a_pop_blocked_on_several_keys_takes_the_key_that_was_written(bdiff):
    bdiff.block(0, "BLPOP", "k1", "k2", "k3", "0")
    bdiff.call(2, "RPUSH", "k3", "x")
    bdiff.reply(0)
    bdiff.block(1, "BLMPOP", "0", "2", "k1", "k2", "RIGHT", "COUNT", "2")
    bdiff.call(2, "RPUSH", "k2", "a", "b", "c")
    bdiff.reply(1)
    bdiff.call(2, "LRANGE", "k2", "0", "-1")


@pytest.mark.redis
def test_a_key_of_another_type_leaves_the_client_blocked(bdiff):
    bdiff.block(0, "BLPOP", "k", "0")
    bdiff.call(2, "SET", "k", "string")
    assert bdiff.waiting() == [0]
    bdiff.call(2, "DEL", "k")
    bdiff.call(2, "LPUSH", "k", "v")
    bdiff.reply(0)
    bdiff.call(2, "EXISTS", "k")


@pytest.mark.redis
def test_a_blocked_move_to_a_destination_of_another_type_fails(bdiff):
    bdiff.call(2, "SET", "dst", "string")
    bdiff.block(0, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    bdiff.block(1, "BRPOPLPUSH", "src", "dst", "0")
    bdiff.call(2, "RPUSH", "src", "v1")
    bdiff.reply(0)
    bdiff.reply(1)
    bdiff.call(2, "LRANGE", "src", "0", "-1")


@pytest.mark.redis
def test_blocked_moves_chain_into_other_blocked_clients(bdiff):
    bdiff.block(0, "BLMOVE", "a", "b", "RIGHT", "LEFT", "0")
    bdiff.block(1, "BRPOPLPUSH", "b", "c", "0")
    bdiff.call(2, "LPUSH", "a", "x", "y")
    bdiff.reply(0)
    bdiff.reply(1)
    for key in ("a", "b", "c"):
        bdiff.call(2, "LRANGE", key, "0", "-1")


@pytest.mark.redis
def test_a_blocked_rotation_of_one_list(bdiff):
    bdiff.block(0, "BLMOVE", "q", "q", "LEFT", "RIGHT", "0")
    bdiff.call(2, "RPUSH", "q", "a", "b")
    bdiff.reply(0)
    bdiff.call(2, "LRANGE", "q", "0", "-1")


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("BLPOP", "nokey", "0.05"), ("BRPOP", "n1", "n2", "0.05"), ("BLMOVE", "n", "d", "LEFT", "LEFT", "0.05"),
    ("BRPOPLPUSH", "n", "d", "0.05"), ("BLMPOP", "0.05", "1", "n", "LEFT"),
])
def test_timeouts_answer_a_null_array(bdiff, args):
    bdiff.block(0, *args)
    bdiff.time_out(0, 0.05)
    bdiff.call(0, "EXISTS", "d")


@pytest.mark.redis
def test_blocking_commands_inside_multi_answer_at_once(bdiff):
    if b"multi" not in COMMANDS:
        pytest.skip("MULTI is not implemented yet")
    for args in (("MULTI",), ("BLMOVE", "n", "d", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "n", "d", "0"),
                 ("BLPOP", "n", "0"), ("BLMPOP", "0", "1", "n", "LEFT"), ("EXEC",)):
        bdiff.call(0, *args)


@pytest.mark.redis
@pytest.mark.parametrize("argv", [
    ("LPUSH", "k", "a"), ("LMOVE", "s", "d", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "d"),
    ("BLPOP", "a", "b", "c", "0"), ("BRPOP", "a", "0"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"),
    ("BRPOPLPUSH", "s", "d", "0"), ("LPOS", "k", "x", "RANK", "1"),
])
def test_command_getkeys_matches_redis(redis_server, argv):
    oracle = RedisOracle(redis_server)
    try:
        assert Harness().run_raw("COMMAND", "GETKEYS", *argv) == oracle.raw("COMMAND", "GETKEYS", *argv)
    finally:
        oracle.close()


@pytest.mark.redis
def test_keys_made_ready_by_one_exec_are_served_in_the_order_they_were_written(bdiff):
    bdiff.block(0, "BLPOP", "k1", "k2", "0")
    bdiff.block(1, "BLMPOP", "0", "2", "k1", "k2", "LEFT", "COUNT", "5")
    for args in (("MULTI",), ("RPUSH", "k2", "two"), ("RPUSH", "k1", "one", "uno"), ("EXEC",)):
        bdiff.call(2, *args)
    bdiff.reply(0)
    bdiff.reply(1)
