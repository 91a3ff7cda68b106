"""String commands, unit-tested in virtual time and compared byte for byte with redis-server."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cache.commands.strings import format_long_double, parse_long_double, round_long_double
from cache.reply import Error
from tests.cache.harness import Differential, Harness, parse_reply

FAR_FUTURE_S = 4102444800  # 2100-01-01, in the future on both servers' clocks
FAR_FUTURE_MS = FAR_FUTURE_S * 1000


@pytest.fixture
def diff(redis_server):
    d = Differential(redis_server)
    yield d
    d.close()


def run_script(diff: Differential, script: str) -> None:
    """Each line a command (words split on spaces, `''` is an empty argument)."""
    for line in script.strip().splitlines():
        args = [b"" if word == "''" else word.encode() for word in line.split()]
        diff.check(*args)


SCRIPTS = {
    "set_options": """
        SET k v NX XX
        SET k v EX 10 PX 100
        SET k v EX 10 KEEPTTL
        SET k v PXAT 1 EXAT 1
        SET k v EX 0
        SET k v PX -5
        SET k v EX abc
        SET k v EX 9223372036854775807
        SET k v EX 9223372036854775
        SET k v PX 9223372036854775807
        SET k v EXAT 9223372036854775807
        SET k v EX
        SET k v FOO
        SET k v nx get
        SET k w NX GET
        SET k v GET GET
        SET k v ex 10 ex 20
        SET k v KEEPTTL KEEPTTL
        SET k v XX
        SET nope v XX
        SET nope v XX GET
        GET nope
        SET k v2 XX GET
        GET k
    """,
    "set_ttl_and_keepttl": """
        SET k v EX 1000
        TTL k
        SET k v2 KEEPTTL
        TTL k
        SET k v3
        TTL k
        SET k v PXAT 1
        EXISTS k
        SET k v EXAT 4102444800
        EXPIRETIME k
        SET k v PX 100000
        TTL k
    """,
    "setnx_setex_psetex": """
        SETNX a 1
        SETNX a 2
        GET a
        SETEX b 100 v
        TTL b
        SETEX b 0 v
        SETEX b -1 v
        SETEX b x v
        PSETEX c 100000 v
        TTL c
        PSETEX c 0 v
        PSETEX c 9223372036854775807 v
    """,
    "getset_getdel_getex": """
        GETSET a 1
        GETSET a 2
        SET t v EX 1000
        GETSET t w
        TTL t
        GETDEL t
        GETDEL t
        EXISTS t
        GETEX nokey
        GETEX nokey EX 0
        GETEX nokey FOO
        SET k v
        GETEX k
        GETEX k EX 0
        GETEX k EX 10 PERSIST
        GETEX k PERSIST EX 10
        GETEX k NX
        GETEX k KEEPTTL
        GETEX k EX 1000
        TTL k
        GETEX k PERSIST
        TTL k
        GETEX k EXAT 4102444800
        EXPIRETIME k
        GETEX k PXAT 1
        EXISTS k
        GETEX k EX
    """,
    "multi_key": """
        MSET a 1 b 2 c
        MSET a 1 b 2
        MSET a 1 a 3
        MGET a b nokey
        MSETNX a 1 c 3
        MSETNX c 3 d 4 c 5
        MGET c d
        MSETNX x
        SET t v EX 1000
        MSET t w
        TTL t
    """,
    "append_strlen_ranges": """
        APPEND a xyz
        APPEND a ''
        APPEND a 123
        GET a
        STRLEN a
        STRLEN nokey
        GETRANGE a 0 -1
        GETRANGE a -100 100
        GETRANGE a -1 -5
        GETRANGE a 5 3
        GETRANGE a 2 2
        GETRANGE a 1 -1
        GETRANGE a 0 9223372036854775807
        GETRANGE a -9223372036854775808 -1
        GETRANGE nokey 0 1
        GETRANGE a x 1
        GETRANGE a 0 1.5
        SUBSTR a 0 1
        SET e ''
        GETRANGE e 0 -1
        GETRANGE e 0 0
        SETRANGE a 10 hi
        GET a
        SETRANGE q 3 hi
        GET q
        SETRANGE a 0 ''
        SETRANGE nokey 5 ''
        EXISTS nokey
        SETRANGE a -1 x
        SETRANGE a x x
        SETRANGE a 536870912 x
        SETRANGE a 9223372036854775807 x
        SET t v EX 1000
        APPEND t w
        SETRANGE t 0 z
        TTL t
        GET t
    """,
    "counters": """
        INCR n
        INCRBY n 10
        DECR n
        DECRBY n 5
        INCRBY n abc
        INCRBY n 01
        INCRBY n +1
        INCRBY n ' 1'
        DECRBY n -9223372036854775808
        SET n 9223372036854775807
        INCR n
        INCRBY n -1
        SET n -9223372036854775808
        DECR n
        DECRBY n 1
        INCRBY n 9223372036854775807
        SET n 00
        INCR n
        SET n ' 1'
        INCR n
        SET n 12345678901234567890
        INCR n
        SET n 1.0
        INCR n
        SET t 5 EX 1000
        INCR t
        TTL t
        APPEND s 9
        INCR s
        GET s
    """,
    "incrbyfloat": """
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f 0.2
        INCRBYFLOAT f -0.3
        INCRBYFLOAT f 1.1e-1
        INCRBYFLOAT f 0x10
        INCRBYFLOAT f 0x1.8p3
        INCRBYFLOAT f 5.0e3
        INCRBYFLOAT f .5
        INCRBYFLOAT f 7.
        INCRBYFLOAT f inf
        INCRBYFLOAT f -Infinity
        INCRBYFLOAT f nan
        INCRBYFLOAT f 1e
        INCRBYFLOAT f 0x
        INCRBYFLOAT f abc
        INCRBYFLOAT f ''
        INCRBYFLOAT f 1e4933
        INCRBYFLOAT f 1e-5000
        INCRBYFLOAT f 123456789012345678901234567890
        INCRBYFLOAT f -123456789012345678901234567890.5
        INCRBYFLOAT f 3.0000000000000000001
        SET f 1.5
        INCRBYFLOAT f 1.5
        SET f 0
        INCRBYFLOAT f 0.000003814697265625
        SET f 0
        INCRBYFLOAT f 0.000000000000000005
        INCRBYFLOAT f 0.000000000000000015
        INCRBYFLOAT f -0.00000000000000002
        SET f 1
        INCRBYFLOAT f 1e4932
        INCRBYFLOAT f 1e4932
        SET f 1e300
        INCRBYFLOAT f 1e300
        SET f abc
        INCRBYFLOAT f 1
        SET f inf
        INCRBYFLOAT f 1
        SET f 10
        INCRBYFLOAT f -1e-4940
        SET t 1 EX 1000
        INCRBYFLOAT t 1
        TTL t
    """,
}


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(diff, name):
    run_script(diff, SCRIPTS[name])


@pytest.mark.redis
@pytest.mark.parametrize("value", [
    "0.1", "1e-17", "5e-18", "-5e-18", "123.456", "1e20", "-1e-300", "0x1p-16445",
    "1.9999999999999999999", "0.30000000000000000001", "2.5e-17", "3.5e-17", "1e4900",
    "9223372036854775807", "18446744073709551617", "1e-4950", "1e-4951", "0.0",
])
def test_incrbyfloat_formatting_matches_redis(diff, value):
    diff.check("DEL", "f")
    diff.check("INCRBYFLOAT", "f", value)
    diff.check("INCRBYFLOAT", "f", "0.1")


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("SET", "k", "v", b"NX\x00yy"), ("SET", "k", "v", b"EX\x00", "10"), ("INCRBYFLOAT", "f", b"1.5\x00"),
    ("SET", "k", b"1\x00"), ("INCR", "k"), ("GETEX", "k", b"PERSIST\x00x"),
])
def test_arguments_with_nul_bytes_match_redis(diff, args):
    """Redis compares options as C strings (cut at NUL) but parses numbers over every byte."""
    diff.check(*args)


def test_long_double_rounding_and_format():
    tenth, fifth = parse_long_double(b"0.1"), parse_long_double(b"0.2")
    assert format_long_double(round_long_double(tenth + fifth)) == b"0.3"
    assert format_long_double(parse_long_double(b"-0.000000000000000001")) == b"0"
    assert parse_long_double(b"1e5000") is None  # overflow is ERANGE, not infinity
    assert parse_long_double(b"inf") == float("inf")
    assert parse_long_double(b"nan") is None
    assert parse_long_double(b"1.5\x00") is None, "string2ld checks that strtold used every byte"
    assert round_long_double(2**16384) == float("inf")


def test_wrong_type_is_refused(monkeypatch):
    """No other type exists yet: a list-like value stands in for one."""
    from cache import keyspace

    class FakeList(list):
        pass

    monkeypatch.setitem(keyspace._TYPE_NAMES, FakeList, b"list")
    h = Harness()
    h.server.dbs[0].add(b"l", FakeList())
    wrongtype = Error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
    for args in (("GET", "l"), ("SET", "l", "v", "GET"), ("GETSET", "l", "v"), ("APPEND", "l", "x"),
                 ("STRLEN", "l"), ("GETRANGE", "l", 0, 1), ("SETRANGE", "l", 0, "x"),
                 ("INCR", "l"), ("INCRBYFLOAT", "l", 1), ("GETDEL", "l"), ("GETEX", "l")):
        assert h.run(*args) == wrongtype, args
    assert h.run("MGET", "l") == [None]
    assert h.run("TYPE", "l") == b"list"
    assert h.run("SET", "l", "v") == b"OK"


def test_ttls_run_on_virtual_time():
    h = Harness()
    assert h.run("SET", "k", "v", "PX", 1500) == b"OK"
    assert (h.run("TTL", "k"), h.run("PTTL", "k")) == (2, 1500)
    h.advance(1000)
    assert (h.run("TTL", "k"), h.run("PTTL", "k")) == (1, 500)
    h.advance(500)
    assert (h.run("GET", "k"), h.run("PTTL", "k")) == (b"v", 0)
    h.advance(1)
    assert (h.run("GET", "k"), h.run("PTTL", "k")) == (None, -2)
    assert h.server.stats.expired_keys == 1


def test_setex_and_getex_use_the_cached_clock():
    h = Harness()
    now = h.now_ms
    h.run("SETEX", "k", 10, "v")
    assert h.run("PEXPIRETIME", "k") == now + 10_000
    h.run("GETEX", "k", "PX", 5)
    assert h.run("PEXPIRETIME", "k") == now + 5
    h.run("GETEX", "k", "EXAT", now // 1000 - 1)
    assert h.run("EXISTS", "k") == 0


def test_append_grows_in_place_and_reports_raw():
    h = Harness()
    h.run("SET", "k", "12")
    assert h.run("OBJECT", "ENCODING", "k") == b"int"
    for _ in range(1000):
        h.run("APPEND", "k", "x")
    assert h.run("STRLEN", "k") == 1002
    assert h.run("OBJECT", "ENCODING", "k") == b"raw"
    assert type(h.run("GET", "k")) is bytes


def test_string_size_limit_follows_proto_max_bulk_len():
    h = Harness()
    h.run("CONFIG", "SET", "proto-max-bulk-len", "1mb")
    h.run("SET", "k", "x" * 1000)
    assert h.run("APPEND", "k", "y" * (1024 * 1024 - 1000)) == 1024 * 1024
    assert h.run("APPEND", "k", "z") == Error(
        b"ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    assert h.run("SETRANGE", "new", 1024 * 1024, "z") == Error(
        b"ERR string exceeds maximum allowed size (proto-max-bulk-len)")


# -- random command sequences against the real server ---------------------------

KEYS = st.sampled_from(["a", "b", "c", "n"])
SMALL_INTS = st.sampled_from(["0", "1", "-1", "7", "100", "-100", "abc", "9223372036854775807",
                              "-9223372036854775808", "1.5", "01", ""])
VALUES = st.sampled_from(["", "v", "0", "12", "-3", "1.5", "hello world", "x" * 50])
FLOATS = st.sampled_from(["0.1", "-2.5", "1e3", "abc", "inf", "3", "0x10", "1e-20"])
TTL_ARGS = st.sampled_from(["-1", "0", "1000", "abc", "9223372036854775807"])
ABS_TIMES = st.sampled_from(["1", "-5", str(FAR_FUTURE_S), str(FAR_FUTURE_MS), "0"])

COMMANDS = st.one_of(
    st.tuples(st.just("GET"), KEYS),
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.builds(lambda k, v, opts: ("SET", k, v, *opts), KEYS, VALUES,
              st.lists(st.sampled_from([("NX",), ("XX",), ("GET",), ("KEEPTTL",), ("EX", "1000"),
                                        ("PX", "0"), ("EXAT", str(FAR_FUTURE_S)), ("PXAT", "1")]),
                       max_size=3).map(lambda groups: [w for g in groups for w in g])),
    st.tuples(st.just("SETNX"), KEYS, VALUES),
    st.tuples(st.sampled_from(["SETEX", "PSETEX"]), KEYS, TTL_ARGS, VALUES),
    st.tuples(st.sampled_from(["GETSET", "APPEND"]), KEYS, VALUES),
    st.tuples(st.sampled_from(["GETDEL", "STRLEN", "INCR", "DECR", "TYPE", "PERSIST", "TTL"]), KEYS),
    st.builds(lambda k, opt: ("GETEX", k, *opt), KEYS,
              st.sampled_from([(), ("PERSIST",), ("EX", "1000"), ("EX", "0"), ("PXAT", "1"),
                               ("EXAT", str(FAR_FUTURE_S)), ("KEEPTTL",)])),
    st.builds(lambda ks: ("MGET", *ks), st.lists(KEYS, min_size=1, max_size=4)),
    st.builds(lambda kvs: ("MSET", *[x for kv in kvs for x in kv]),
              st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3)),
    st.builds(lambda kvs: ("MSETNX", *[x for kv in kvs for x in kv]),
              st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["GETRANGE", "SUBSTR"]), KEYS, SMALL_INTS, SMALL_INTS),
    st.tuples(st.just("SETRANGE"), KEYS, st.sampled_from(["0", "3", "-1", "x"]), VALUES),
    st.tuples(st.sampled_from(["INCRBY", "DECRBY"]), KEYS, SMALL_INTS),
    st.tuples(st.just("INCRBYFLOAT"), KEYS, FLOATS),
    st.builds(lambda ks: ("DEL", *ks), st.lists(KEYS, min_size=1, max_size=3)),
    st.builds(lambda ks: ("EXISTS", *ks), st.lists(KEYS, min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["RENAME", "RENAMENX"]), KEYS, KEYS),
    st.builds(lambda a, b, opts: ("COPY", a, b, *opts), KEYS, KEYS,
              st.sampled_from([(), ("REPLACE",), ("DB", "1"), ("DB", "0", "REPLACE")])),
    # GT/LT only with absolute times: relative ones compare clocks that differ between servers
    st.builds(lambda k, t, opts: ("EXPIRE", k, t, *opts), KEYS, st.sampled_from(["-1", "0", "1000"]),
              st.sampled_from([(), ("NX",), ("XX",), ("NX", "XX"), ("GT", "LT")])),
    st.builds(lambda c, k, t, opts: (c, k, t, *opts), st.sampled_from(["EXPIREAT", "PEXPIREAT"]),
              KEYS, ABS_TIMES, st.sampled_from([(), ("GT",), ("LT",), ("XX",)])),
    st.tuples(st.just("MOVE"), KEYS, st.sampled_from(["1", "0"])),
)


def _same_reply(args: tuple, ours: bytes, theirs: bytes) -> bool:
    """Byte equality, except a TTL in seconds may be off by one (the real server's clock runs)."""
    if ours == theirs:
        return True
    if args[0] == "TTL":
        a, b = parse_reply(ours), parse_reply(theirs)
        return isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0 and abs(a - b) <= 1
    return False


@pytest.mark.redis
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(COMMANDS, min_size=1, max_size=25))
def test_random_command_sequences_match_redis(diff, commands):
    diff.oracle.call("FLUSHALL")
    diff.harness.run("FLUSHALL")
    for args in commands:
        # Pin flowcache's clock to the real server's before every command: absolute
        # expiries (EXAT, PXAT 1) then mean the same and relative ones do not drift.
        diff.sync_clock()
        ours, theirs = diff.both(*args)
        assert _same_reply(args, ours, theirs), f"{args}: flowcache {ours!r} != redis {theirs!r}"
    for db in ("0", "1"):
        diff.oracle.call("SELECT", db)
        diff.harness.run("SELECT", db)
        assert sorted(parse_reply(diff.harness.run_raw("KEYS", "*"))) == sorted(
            parse_reply(diff.oracle.raw("KEYS", "*")))
        for key in ("a", "b", "c", "n"):
            diff.check("GET", key)
    diff.oracle.call("SELECT", "0")
    diff.harness.run("SELECT", "0")
