"""Hash commands against redis-server, byte for byte where Redis's order is defined.

Small hashes are listpacks in both servers and keep insertion order, so
their replies are compared exactly; hashtable replies are compared as sets
of pairs and random ones by shape and membership. Also: a hash-heavy
hypothesis sequence differential, a stateful test against Python dicts
(listpack order included), the HSCAN guarantee under churn, and keyspace
statistics and the dirty counter against Redis for sets and hashes.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cache.datatypes.hashes import HashValue
from tests.cache.harness import Harness, parse_reply
from tests.cache.collections_diff import (
    FIELDS,
    KEYS,
    SEQ_MEMBERS,
    VALUES,
    Session,
    bulks,
    decode,
    full_scan,
    run_script,
    run_sequence,
    scan_with_churn,
    session,  # noqa: F401  (the fixture)
)

SCRIPTS = {
    "set_get_delete": """
        HSET h a 1 b 2 a 3
        HGETALL h
        HSET h c 4
        HMSET h d 5 a 6
        HGETALL h
        HKEYS h
        HVALS h
        HLEN h
        HGET h a
        HGET h nofield
        HMGET h a nofield b
        HEXISTS h a
        HEXISTS h nofield
        HSTRLEN h a
        HSTRLEN h nofield
        HSETNX h a 9
        HSETNX h e 9
        HGETALL h
        HDEL h a nofield
        HGETALL h
        HDEL h b c d e
        EXISTS h
        HGET nokey a
        HMGET nokey a b
        HLEN nokey
        HEXISTS nokey a
        HSTRLEN nokey a
        HKEYS nokey
        HVALS nokey
        HGETALL nokey
        HDEL nokey a
        HSET e '' ''
        HGETALL e
        HSTRLEN e ''
        TYPE e
        HSET n -0 01 9223372036854775808 -9223372036854775808
        HGETALL n
        HSTRLEN n -0
        HSTRLEN n 9223372036854775808
    """,
    "wrong_type_and_arity": """
        SET str v
        HSET str a 1
        HMSET str a 1
        HSETNX str a 1
        HGET str a
        HMGET str a
        HDEL str a
        HLEN str
        HEXISTS str a
        HSTRLEN str a
        HKEYS str
        HVALS str
        HGETALL str
        HINCRBY str a 1
        HINCRBYFLOAT str a 1
        HRANDFIELD str
        HRANDFIELD str 2
        HSCAN str 0
        HSET h a
        HSET h a 1 b
        HMSET h a 1 b
        HSET h
        HGET h
        HMGET h
        HDEL h
        GET str
        EXISTS h
    """,
    "encodings": """
        HSET h a 1
        OBJECT ENCODING h
        HSET h b <x*64>
        OBJECT ENCODING h
        HSET h c <x*65>
        OBJECT ENCODING h
        HDEL h c
        OBJECT ENCODING h
        HSET k <y*65> 1
        OBJECT ENCODING k
        HSETNX s a <x*65>
        OBJECT ENCODING s
        HSET t a 1
        HSETNX t a <x*65>
        OBJECT ENCODING t
        HINCRBY i <f*65> 1
        OBJECT ENCODING i
        HINCRBYFLOAT j <f*65> 1
        OBJECT ENCODING j
        HSET m a 1
        HINCRBYFLOAT m a 1e70
        OBJECT ENCODING m
        HSET l a 1
        COPY l l2
        OBJECT ENCODING l2
        COPY h h2
        OBJECT ENCODING h2
        HSET l2 b 2
        HGETALL l
        HGETALL l2
        CONFIG SET hash-max-listpack-entries 2
        HSET c a 1 b 2
        OBJECT ENCODING c
        HSET c c 3
        OBJECT ENCODING c
        HDEL c c b
        OBJECT ENCODING c
        HGETALL c
        CONFIG SET hash-max-listpack-entries 0
        HSET z a 1
        OBJECT ENCODING z
        CONFIG SET hash-max-listpack-entries 512
        CONFIG SET hash-max-listpack-value 0
        HSET v '' ''
        OBJECT ENCODING v
        HSET w a ''
        OBJECT ENCODING w
    """,
    "hincrby": """
        HINCRBY h n 5
        HINCRBY h n -7
        HGET h n
        HINCRBY h n x
        HINCRBY h n 1.5
        HINCRBY h n ''
        HINCRBY h n 9223372036854775808
        HSET h big 9223372036854775807
        HINCRBY h big 1
        HINCRBY h big 0
        HINCRBY h big -9223372036854775808
        HINCRBY h small -9223372036854775808
        HINCRBY h small -1
        HINCRBY h small 0
        HSET h s abc
        HINCRBY h s 1
        HSET h z 01
        HINCRBY h z 1
        HSET h sp ' 1'
        HINCRBY h sp 1
        HINCRBY nokey n x
        EXISTS nokey
        HGETALL h
    """,
    "hincrbyfloat": """
        HINCRBYFLOAT h f 1.5
        HINCRBYFLOAT h f 0.1
        HINCRBYFLOAT h f -0.6
        HINCRBYFLOAT h f 1e3
        HINCRBYFLOAT h f 0x10
        HINCRBYFLOAT h f 1.
        HINCRBYFLOAT h f .5
        HINCRBYFLOAT h f -0.0
        HINCRBYFLOAT h f abc
        HINCRBYFLOAT h f ''
        HINCRBYFLOAT h f inf
        HINCRBYFLOAT h f -inf
        HINCRBYFLOAT h f nan
        HINCRBYFLOAT h f 1e-5000
        HINCRBYFLOAT h f ' 1'
        HGET h f
        HINCRBYFLOAT h g 1e308
        HINCRBYFLOAT h g 1e308
        HINCRBYFLOAT h g -1e308
        HINCRBYFLOAT h big 1e4000
        HINCRBYFLOAT h big -1e4000
        HSET h i 5
        HINCRBYFLOAT h i 0.25
        HSET h inf inf
        HINCRBYFLOAT h inf 1
        HSET h word abc
        HINCRBYFLOAT h word 1
        HSET h z 0
        HINCRBYFLOAT h z -0.0
        HINCRBYFLOAT nokey f inf
        HINCRBYFLOAT nokey f x
        EXISTS nokey
        SET str v
        HINCRBYFLOAT str f inf
        HINCRBYFLOAT str f x
        HINCRBYFLOAT str f 1
        HLEN h
    """,
    "hrandfield_counts": """
        HSET one f v
        HRANDFIELD one
        HRANDFIELD one 1
        HRANDFIELD one 1 WITHVALUES
        HRANDFIELD one -3
        HRANDFIELD one -3 WITHVALUES
        HRANDFIELD one 0
        HRANDFIELD one 0 WITHVALUES
        HRANDFIELD one 5 withvalues
        HRANDFIELD one 5 WITHVALUE
        HRANDFIELD one 5 WITHVALUES x
        HRANDFIELD one x WITHVALUES x
        HRANDFIELD one x
        HRANDFIELD one -9223372036854775808
        HRANDFIELD nokey -9223372036854775807
        HRANDFIELD one 9223372036854775808
        HRANDFIELD one -9223372036854775807 WITHVALUES
        HRANDFIELD one -4611686018427387904 WITHVALUES
        HRANDFIELD one 4611686018427387904 WITHVALUES
        HSET lp a 1 b 2 c 3
        HRANDFIELD lp 3
        HRANDFIELD lp 3 WITHVALUES
        HRANDFIELD lp 100 WITHVALUES
        HRANDFIELD lp 9223372036854775807
        HRANDFIELD lp 4611686018427387903 WITHVALUES
        HRANDFIELD nokey
        HRANDFIELD nokey 3
        HRANDFIELD nokey -3 WITHVALUES
        HRANDFIELD nokey 0
        HRANDFIELD nokey -4611686018427387903 WITHVALUES
    """,
    "hscan_small_and_options": """
        HSET h f1 v1 f2 v2 g1 v3
        HSCAN h 0
        HSCAN h 99
        HSCAN h 0 MATCH f*
        HSCAN h 0 MATCH v*
        HSCAN h 0 COUNT 1
        HSCAN h 0 COUNT 0
        HSCAN h 0 COUNT x
        HSCAN h 0 MATCH
        HSCAN h 0 NOVALUES
        HSCAN h 0 TYPE hash
        HSCAN h x
        HSCAN h -1
        HSCAN nokey 0
        HSCAN nokey 0 COUNT 0
        HSCAN nokey x
        SET str v
        HSCAN str 0 COUNT 0
        HSET big a <x*65>
        scanpairs: HSCAN big 0
    """,
}


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(session, name):
    run_script(session, SCRIPTS[name])


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("HRANDFIELD", "h", "2", b"WITHVALUES\x00x"), ("HRANDFIELD", "h", b"2\x00"),
    ("HSCAN", "h", "0", b"MATCH\x00", "*"), ("HINCRBY", "h", "a", b"1\x00"),
    ("HINCRBYFLOAT", "h", "a", b"1\x00"), ("HGET", "h", b"a\x00"), ("HSET", "h", b"a\x00", "v"),
])
def test_arguments_with_nul_bytes_match_redis(session, args):
    session.check("HSET", "h", "a", "1", "b", "2")
    session.check(*args)
    session.check("HGETALL", "h")


# -- random replies ---------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("size,long_value", [(7, False), (40, False), (7, True)],
                         ids=["listpack", "larger", "hashtable"])
def test_hrandfield_counts_have_redis_shapes(session, size, long_value):
    pairs = {f"f{i}".encode(): (b"x" * 70 if long_value else b"v%d" % i) for i in range(size)}
    session.check("HSET", "h", *[x for kv in pairs.items() for x in kv])
    session.check("OBJECT", "ENCODING", "h")
    for count in (1, 2, 3, 6, 7, 8, 13, 39, 40, 100, -1, -2, -7, -50):
        for extra in ((), ("WITHVALUES",)):
            ours = session.check("HRANDFIELD", "h", count, *extra, mode="shape")
            want = abs(count) if count < 0 else min(count, size)
            kind, payload = decode(ours)
            assert kind == "array" and len(payload) == want * (2 if extra and session.proto == 2
                                                               else 1)
            if extra and session.proto == 3:
                assert all(item[0] == "array" and len(item[1]) == 2 for item in payload)
            got = bulks(ours)
            fields = got[::2] if extra else got
            assert set(fields) <= set(pairs)
            if extra:
                assert all(pairs[f] == v for f, v in zip(got[::2], got[1::2]))
            if count > 0:
                assert len(set(fields)) == len(fields)
    assert session.harness.run("HRANDFIELD", "h") in pairs


# -- HSCAN --------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("options", [(), ("COUNT", "5"), ("MATCH", "f1*"), ("COUNT", "1000")])
@pytest.mark.parametrize("kind", ["hashtable", "listpack"])
def test_full_hscan_returns_what_redis_returns(session, kind, options):
    if kind == "listpack":
        session.configure(hash_max_listpack_entries=1000)
    session.check("HSET", "big", *[x for i in range(300) for x in (f"f{i}", f"v{i}")])
    session.check("OBJECT", "ENCODING", "big")
    ours, calls = full_scan(lambda *a: parse_reply(session.harness.run_raw(*a)), "HSCAN", "big",
                            *options)
    theirs, _ = full_scan(lambda *a: parse_reply(session.oracle.raw(*a)), "HSCAN", "big", *options)
    ours_pairs = list(zip(ours[::2], ours[1::2]))
    assert len(ours_pairs) == len(set(ours_pairs))
    assert sorted(ours_pairs) == sorted(set(zip(theirs[::2], theirs[1::2])))
    if kind == "listpack":
        assert calls == 1
        session.check("HSCAN", "big", "0", *options)


def test_hscan_returns_every_field_present_throughout_despite_churn():
    h = Harness()
    h.run("HSET", "h", *[x for i in range(150) for x in (f"stable{i}", "v", f"temp{i}", "v")])
    assert h.run("OBJECT", "ENCODING", "h") == b"listpack"
    h.run("HSET", "h", *[x for i in range(400) for x in (f"pad{i}", "v")])
    h.run("HDEL", "h", *[f"pad{i}" for i in range(400)])
    assert h.run("OBJECT", "ENCODING", "h") == b"hashtable"

    def mutate(step):
        h.run("HDEL", "h", *[f"temp{i}" for i in range(step * 5, step * 5 + 5)])
        h.run("HSET", "h", f"new{step}", "v", f"stable{step}", "updated")
        h.run("HINCRBY", "h", f"count{step}", 1)

    seen = scan_with_churn(h, "HSCAN", "h", mutate)
    assert {f"stable{i}".encode() for i in range(150)} <= seen


class HashScanChurn(RuleBasedStateMachine):
    """Random interleavings of HSCAN steps and writes: fields never deleted are all seen."""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(seed=4)
        self.h.run("CONFIG", "SET", "hash-max-listpack-entries", 8)
        self.h.run("HSET", "h", *[x for i in range(50) for x in (f"f{i}", i)])
        self.present_throughout = {f"f{i}".encode() for i in range(50)}
        self.seen: set[bytes] = set()
        self.cursor = b"0"
        self.done = False
        self.fresh = 0

    @precondition(lambda self: not self.done)
    @rule(count=st.integers(1, 12))
    def scan_step(self, count):
        self.cursor, batch = self.h.run("HSCAN", "h", self.cursor, "COUNT", count)
        self.seen.update(batch[::2])
        self.done = self.cursor == b"0"

    @rule(n=st.integers(1, 5))
    def add(self, n):
        self.fresh += n
        self.h.run("HSET", "h", *[x for i in range(n) for x in (f"n{self.fresh}-{i}", "v")])

    @rule(i=st.integers(0, 49), value=st.sampled_from(["1", "x" * 100]))
    def update(self, i, value):
        self.h.run("HSET", "h", f"f{i}", value)

    @rule(i=st.integers(0, 49))
    def delete(self, i):
        self.h.run("HDEL", "h", f"f{i}")
        self.present_throughout.discard(f"f{i}".encode())

    @invariant()
    def guarantee(self):
        if self.done:
            assert self.present_throughout <= self.seen


TestHashScanChurn = HashScanChurn.TestCase
TestHashScanChurn.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)


# -- the value class ------------------------------------------------------------------------


def test_hashtable_delete_keeps_index_consistent():
    value = HashValue()
    for i in range(30):
        value.set(b"f%d" % i, b"v%d" % i, 8, 64)
    assert value.encoding == b"hashtable"
    for i in range(0, 30, 4):
        assert value.delete(b"f%d" % i)
    assert not value.delete(b"f0")
    assert all(value.index[f] == pos for pos, f in enumerate(value.fields))
    assert dict(value.items()) == {b"f%d" % i: b"v%d" % i for i in range(30) if i % 4}


def test_copy_shares_no_mutable_state():
    h = Harness()
    h.run("HSET", "a", "f", "1")
    h.run("HSET", "big", "f", "x" * 100)
    h.run("COPY", "a", "b")
    h.run("COPY", "big", "big2")
    h.run("HSET", "b", "g", "2")
    h.run("HDEL", "big2", "f")
    assert h.run("HGETALL", "a") == [(b"f", b"1")]
    assert h.run("HGETALL", "big") == [(b"f", b"x" * 100)]


def test_memory_per_field_stays_lean():
    import tracemalloc
    fields = [b"field:%07d" % i for i in range(20_000)]
    value = b"v"
    tracemalloc.start()
    big = HashValue()
    for field in fields:
        big.set(field, value, 0, 64)
    per_field = tracemalloc.get_traced_memory()[0] / len(fields)
    tracemalloc.stop()
    assert big.encoding == b"hashtable"
    assert per_field < 110, f"{per_field:.0f} bytes of overhead per field"


# -- a plain Python model ----------------------------------------------------------------

MAX_ENTRIES, MAX_VALUE = 4, 6
H_KEYS = st.sampled_from(["h1", "h2"])
H_FIELDS = st.sampled_from(["a", "b", "c", "d", "e", "", "longfield"])
H_VALUES = st.sampled_from(["1", "-3", "x", "", "1.5", "toolongvalue"])


def _human(value: Fraction) -> bytes:
    """%.17Lf without trailing zeros, for the dyadic values this model produces."""
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return b"0" if text in ("-0", "") else text.encode()


class HashModel(RuleBasedStateMachine):
    """Hashes in flowcache against Python dicts: contents, listpack order, encodings."""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(seed=6)
        self.h.run("CONFIG", "SET", "hash-max-listpack-entries", MAX_ENTRIES)
        self.h.run("CONFIG", "SET", "hash-max-listpack-value", MAX_VALUE)
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.listpack: dict[str, bool] = {}

    def _set(self, key: str, field: bytes, value: bytes) -> None:
        fields = self.hashes.setdefault(key, {})
        self.listpack.setdefault(key, True)
        fields[field] = value
        if len(field) > MAX_VALUE or len(value) > MAX_VALUE or len(fields) > MAX_ENTRIES:
            self.listpack[key] = False

    @rule(key=H_KEYS, pairs=st.lists(st.tuples(H_FIELDS, H_VALUES), min_size=1, max_size=4))
    def hset(self, key, pairs):
        current = self.hashes.get(key, {})
        new = len({f for f, _ in pairs} - {f.decode() for f in current})
        assert self.h.run("HSET", key, *[x for p in pairs for x in p]) == new
        if key in self.listpack and any(len(x) > MAX_VALUE for p in pairs for x in p):
            self.listpack[key] = False
        for field, value in pairs:
            self._set(key, field.encode(), value.encode())

    @rule(key=H_KEYS, field=H_FIELDS, value=H_VALUES)
    def hsetnx(self, key, field, value):
        exists = field.encode() in self.hashes.get(key, {})
        assert self.h.run("HSETNX", key, field, value) == int(not exists)
        if not exists:
            self._set(key, field.encode(), value.encode())

    @rule(key=H_KEYS, fields=st.lists(H_FIELDS, min_size=1, max_size=3))
    def hdel(self, key, fields):
        current = self.hashes.get(key, {})
        wanted = {f.encode() for f in fields}
        assert self.h.run("HDEL", key, *fields) == len(wanted & set(current))
        for field in wanted:
            current.pop(field, None)
        if key in self.hashes and not current:
            del self.hashes[key], self.listpack[key]

    @rule(key=H_KEYS, field=H_FIELDS, by=st.integers(-5, 5))
    def hincrby(self, key, field, by):
        old = self.hashes.get(key, {}).get(field.encode(), b"0")
        reply = self.h.run("HINCRBY", key, field, by)
        try:
            expected = int(old) + by
            assert old == b"%d" % int(old)
        except (ValueError, AssertionError):
            assert reply == b"ERR hash value is not an integer"
            return
        assert reply == expected
        self._set(key, field.encode(), b"%d" % expected)

    @rule(key=H_KEYS, field=H_FIELDS, by=st.sampled_from(["0.5", "-1.25", "3", "1e1"]))
    def hincrbyfloat(self, key, field, by):
        old = self.hashes.get(key, {}).get(field.encode(), b"0")
        reply = self.h.run("HINCRBYFLOAT", key, field, by)
        try:
            total = Fraction(old.decode()) + Fraction(by)
        except ValueError:
            assert reply == b"ERR hash value is not a float"
            return
        assert reply == _human(total)
        self._set(key, field.encode(), reply)

    @invariant()
    def matches_model(self):
        for key in ("h1", "h2"):
            fields = self.hashes.get(key)
            if fields is None:
                assert self.h.run("EXISTS", key) == 0
                continue
            encoding = self.h.run("OBJECT", "ENCODING", key)
            assert encoding == (b"listpack" if self.listpack[key] else b"hashtable")
            pairs = self.h.run("HGETALL", key)
            if self.listpack[key]:
                assert pairs == list(fields.items()), "a listpack keeps insertion order"
            else:
                assert dict(pairs) == fields and len(pairs) == len(fields)
            assert self.h.run("HLEN", key) == len(fields)
            assert self.h.run("HKEYS", key) == [f for f, _ in pairs]
            assert self.h.run("HVALS", key) == [v for _, v in pairs]


TestHashModel = HashModel.TestCase
TestHashModel.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)


# -- hypothesis: hash-heavy command sequences against redis-server ---------------------------

HASH_COMMANDS = st.one_of(
    st.builds(lambda c, k, fvs: (c, k, *[x for fv in fvs for x in fv]),
              st.sampled_from(["HSET", "HMSET"]), KEYS,
              st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=3)),
    st.tuples(st.just("HSETNX"), KEYS, FIELDS, VALUES),
    st.builds(lambda c, k, fs: (c, k, *fs), st.sampled_from(["HDEL", "HMGET"]), KEYS,
              st.lists(FIELDS, min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["HGET", "HEXISTS", "HSTRLEN"]), KEYS, FIELDS),
    st.tuples(st.sampled_from(["HLEN", "HKEYS", "HVALS", "HGETALL", "HRANDFIELD", "TYPE", "DEL"]),
              KEYS),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), KEYS),
    st.tuples(st.just("HINCRBY"), KEYS, FIELDS, st.sampled_from(["1", "-3", "x", "99999999"])),
    st.tuples(st.just("HINCRBYFLOAT"), KEYS, FIELDS,
              st.sampled_from(["0.1", "-2.5", "1e30", "inf", "x", "3", "-0"])),
    st.tuples(st.just("HRANDFIELD"), KEYS, st.sampled_from(["1", "2", "5", "-4", "0", "x"])),
    st.tuples(st.just("HRANDFIELD"), KEYS, st.sampled_from(["2", "9", "-3"]),
              st.just("WITHVALUES")),
    st.builds(lambda k, opts: ("HSCAN*", k, *opts), KEYS,
              st.sampled_from([(), ("COUNT", "1"), ("MATCH", "*g*")])),
    st.tuples(st.just("SADD"), KEYS, SEQ_MEMBERS),
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("COPY"), KEYS, KEYS),
)


@pytest.mark.redis
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(HASH_COMMANDS, min_size=1, max_size=25))
def test_random_hash_sequences_match_redis(session, commands):
    session.configure(hash_max_listpack_entries=3, hash_max_listpack_value=6)
    run_sequence(session, commands)


# -- keyspace statistics and the dirty counter --------------------------------------------------


def _redis_counters(session: Session) -> tuple[int, int, int]:
    fields = {}
    for section in ("stats", "persistence"):
        text = parse_reply(session.oracle.raw("INFO", section)).decode()
        fields.update(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return (int(fields["keyspace_hits"]), int(fields["keyspace_misses"]),
            int(fields["rdb_changes_since_last_save"]))


STATS_SCRIPT = [
    ("SADD", "s", "1", "2", "3", "a"), ("SADD", "s", "1"), ("SREM", "s", "9", "a"),
    ("SISMEMBER", "s", "1"), ("SISMEMBER", "nos", "1"), ("SMISMEMBER", "nos", "1"),
    ("SCARD", "s"), ("SMEMBERS", "nos"), ("SRANDMEMBER", "s"), ("SRANDMEMBER", "nos", "3"),
    ("SMOVE", "s", "t", "1"), ("SMOVE", "nos", "t", "1"), ("SINTER", "s", "t", "nos"),
    ("SUNIONSTORE", "u", "s", "t"), ("SDIFFSTORE", "u", "nos"), ("SINTERCARD", "2", "s", "t"),
    ("SSCAN", "s", "0"), ("SSCAN", "nos", "0"), ("SPOP", "t"), ("SPOP", "s", "5"),
    ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "a", "1"), ("HSETNX", "h", "a", "2"),
    ("HMSET", "h", "c", "3"), ("HGET", "h", "a"), ("HGET", "noh", "a"), ("HMGET", "noh", "a"),
    ("HDEL", "h", "zz"), ("HDEL", "h", "c", "zz"), ("HLEN", "h"), ("HINCRBY", "h", "n", "2"),
    ("HINCRBYFLOAT", "h", "n", "1.5"), ("HINCRBY", "h", "a", "x"), ("HSTRLEN", "noh", "a"),
    ("HEXISTS", "h", "a"), ("HKEYS", "h"), ("HGETALL", "noh"), ("HRANDFIELD", "h", "-2"),
    ("HSCAN", "h", "0"), ("HDEL", "h", "a", "b", "n"),
]


@pytest.mark.redis
def test_hits_misses_and_dirty_count_like_redis(session):
    stats = session.harness.server.stats
    for args in STATS_SCRIPT:
        ours_before = (stats.keyspace_hits, stats.keyspace_misses, session.harness.server.dirty)
        theirs_before = _redis_counters(session)
        session.check(*args, mode="shape")
        ours = (stats.keyspace_hits - ours_before[0], stats.keyspace_misses - ours_before[1],
                session.harness.server.dirty - ours_before[2])
        after = _redis_counters(session)
        assert ours == tuple(a - b for a, b in zip(after, theirs_before)), args
