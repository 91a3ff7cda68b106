"""Generic key commands: differential scripts against redis-server plus virtual-time tests."""

from __future__ import annotations

import pytest

from cache.reply import Error
from tests.cache.harness import Differential, Harness, parse_reply
from tests.cache.test_strings import run_script


@pytest.fixture
def diff(redis_server):
    d = Differential(redis_server)
    yield d
    d.oracle.call("SELECT", "0")
    d.oracle.call("FLUSHALL")
    d.close()


SCRIPTS = {
    "del_exists_touch_type": """
        MSET a 1 b 2 c 3
        DEL a a nokey
        UNLINK b nokey
        EXISTS a b c c nokey
        TOUCH c c nokey
        TYPE c
        TYPE nokey
        DEL
    """,
    "rename": """
        RENAME nokey x
        RENAMENX nokey x
        SET a 1
        RENAME a a
        RENAMENX a a
        SET b 2
        RENAMENX a b
        RENAME a b
        GET b
        EXISTS a
        SET t v EX 1000
        RENAME t u
        TTL u
        RENAMENX u w
        TTL w
    """,
    "copy": """
        SET a 1
        COPY a a
        COPY a a DB 0
        COPY a a DB 1
        COPY a b DB 16
        COPY a b DB -1
        COPY a b DB x
        COPY a b FOO
        COPY a b DB
        COPY a b REPLACE REPLACE
        COPY nokey b
        SET c 3
        COPY a c
        COPY a c REPLACE
        GET c
        SET t v EXAT 4102444800
        COPY t t2
        EXPIRETIME t2
        COPY t t3 DB 2
        SELECT 2
        EXPIRETIME t3
        SELECT 0
    """,
    "move_swapdb": """
        SET a 1
        MOVE a 0
        MOVE a 16
        MOVE a -1
        MOVE a abc
        MOVE a 2147483648
        MOVE nokey 1
        SET t v EXAT 4102444800
        MOVE t 1
        MOVE a 1
        SET a again
        MOVE a 1
        SELECT 1
        GET a
        EXPIRETIME t
        SWAPDB 0 1
        GET a
        SWAPDB 0 16
        SWAPDB a 1
        SWAPDB 1 a
        SWAPDB -1 1
        SWAPDB 0 0
        SWAPDB 2147483648 0
        SELECT 0
        GET a
        EXPIRETIME t
    """,
    "expire_options": """
        EXPIRE nokey 100
        SET k v
        EXPIRE k 100 NX XX
        EXPIRE k 100 GT LT
        EXPIRE k 100 NX GT
        EXPIRE k 100 FOO
        EXPIRE k 100 nx BAR
        EXPIRE k abc
        EXPIRE k 100 XX
        EXPIRE k 100 GT
        EXPIRE k 100 LT
        TTL k
        EXPIRE k 100 NX
        EXPIRE k 200 NX
        EXPIRE k 50 GT
        EXPIRE k 200 GT
        EXPIRE k 300 LT
        EXPIRE k 150 LT
        TTL k
        EXPIRE k 9223372036854775807
        EXPIRE k 92233720368547758
        EXPIRE k -9223372036854775
        EXPIRE k -9223372036854776
        PEXPIRE k 9223372036854775807
        PEXPIRE k -9223372036854775808
        EXPIREAT k 9223372036854775807
        PEXPIREAT k 9223372036854775807
        PEXPIREAT k 4102444800000
        PEXPIRETIME k
        EXPIRETIME k
        EXPIREAT k 4102444801 LT
        EXPIREAT k 4102444801 GT
        PEXPIRETIME k
        PERSIST k
        PERSIST k
        PERSIST nokey
        TTL k
        PTTL k
        EXPIRETIME k
        PEXPIRETIME nokey
        EXPIRE k -1 GT
        EXPIRE k -1
        EXISTS k
        SET k v
        EXPIREAT k 1
        EXISTS k
        SET k v
        PEXPIRE k 0
        EXISTS k
    """,
    "object": """
        OBJECT HELP
        OBJECT HELP extra
        OBJECT
        OBJECT foo
        OBJECT ENCODING
        OBJECT ENCODING nokey
        OBJECT REFCOUNT nokey
        OBJECT IDLETIME nokey
        OBJECT FREQ nokey
        MSET i 123 n -5 big 12345678901234567890 ll 1234567890123456789 lz 01
        MSET min -9223372036854775808 e44 12345678901234567890123456789012345678901234
        SET e45 123456789012345678901234567890123456789012345
        OBJECT ENCODING i
        OBJECT ENCODING n
        OBJECT ENCODING big
        OBJECT ENCODING ll
        OBJECT ENCODING lz
        OBJECT ENCODING e44
        OBJECT ENCODING e45
        OBJECT ENCODING min
        OBJECT REFCOUNT i
        OBJECT REFCOUNT n
        OBJECT REFCOUNT e44
        SET s 9999
        OBJECT REFCOUNT s
        SET s 10000
        OBJECT REFCOUNT s
        APPEND ap 12
        OBJECT ENCODING ap
        APPEND ap 3
        OBJECT ENCODING ap
        INCR ap
        OBJECT ENCODING ap
        SETRANGE sr 0 5
        OBJECT ENCODING sr
        SETRANGE i 0 9
        OBJECT ENCODING i
        INCRBYFLOAT f 1.5
        OBJECT ENCODING f
        COPY ap ap2
        OBJECT ENCODING ap2
        OBJECT FREQ i
        OBJECT IDLETIME i
    """,
    "scan_arguments": """
        SCAN abc
        SCAN ' 0'
        SCAN 0x
        SCAN 18446744073709551616
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 COUNT x
        SCAN 0 MATCH
        SCAN 0 FOO bar
        SCAN 0 TYPE
        SCAN abc COUNT 0
        SET a 1
        SCAN 0
        SCAN ''
        SCAN +0
        SCAN 0 TYPE string
        SCAN 0 TYPE STRING COUNT 100 MATCH a*
        SCAN 0 TYPE list
        SCAN 0 TYPE nosuchtype
        SCAN 0 MATCH b*
        SCAN 0 MATCH * COUNT 1000
    """,
    "keys_and_randomkey": """
        KEYS *
        RANDOMKEY
        SET only 1
        RANDOMKEY
        KEYS *
        KEYS on?y
        KEYS [n-p]*
        KEYS x*
        SET t v PXAT 1
        KEYS *
    """,
}


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(diff, name):
    run_script(diff, SCRIPTS[name])


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("SCAN", b"0\x00abc"), ("SCAN", "0", b"COUNT\x00x", "5"), ("SCAN", "0", "TYPE", b"string\x00x"),
    ("EXPIRE", "k", "10", b"NX\x00zz"), ("EXPIRE", "k", "10", b"foo\x00zz"),
    ("COPY", "k", "k2", b"REPLACE\x00x"), ("EXPIRE", "k", b"10\x00"),
])
def test_arguments_with_nul_bytes_match_redis(diff, args):
    """Options and cursors are read as C strings (cut at NUL), integers over every byte."""
    diff.check("SET", "k", "v")
    diff.check(*args)


def _full_scan(run, *options) -> list[bytes]:
    keys: list[bytes] = []
    cursor = b"0"
    while True:
        cursor, batch = parse_reply(run("SCAN", cursor, *options))
        keys.extend(batch)
        if cursor == b"0":
            return keys


@pytest.mark.redis
@pytest.mark.parametrize("options", [(), ("COUNT", "3"), ("MATCH", "k1*"), ("MATCH", "*[05]"),
                                     ("TYPE", "string", "COUNT", "1000"), ("TYPE", "hash")])
def test_full_scan_returns_the_same_keys_as_redis(diff, options):
    for i in range(200):
        diff.check("SET", f"k{i}", i)
    ours = _full_scan(diff.harness.run_raw, *options)
    theirs = _full_scan(diff.oracle.raw, *options)
    assert len(ours) == len(set(ours)), "no churn, so no duplicates"
    assert sorted(ours) == sorted(set(theirs))


@pytest.mark.redis
def test_keys_returns_the_same_set_as_redis(diff):
    for key in ("user:1", "user:2", "user:10", "session:1", "a*b", "a\\b", "", "\xff"):
        diff.check("SET", key, "1")
    for pattern in ("*", "user:*", "user:?", "*1*", "a\\*b", "a\\\\b", "[a-z]*", "[^u]*", "", "**"):
        ours = parse_reply(diff.harness.run_raw("KEYS", pattern))
        theirs = parse_reply(diff.oracle.raw("KEYS", pattern))
        assert sorted(ours) == sorted(theirs), pattern


def _redis_stats(diff: Differential) -> tuple[int, int]:
    info = parse_reply(diff.oracle.raw("INFO", "stats")).decode()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])


@pytest.mark.redis
def test_hits_and_misses_are_counted_like_redis(diff):
    script = [
        ("SET", "a", "1"), ("SET", "a", "1", "GET"), ("SET", "b", "1", "NX", "GET"),
        ("GET", "a"), ("GET", "zz"), ("MGET", "a", "zz", "b"), ("EXISTS", "a", "zz"),
        ("TYPE", "a"), ("TTL", "zz"), ("EXPIRETIME", "a"), ("TOUCH", "a", "zz"), ("STRLEN", "a"),
        ("GETRANGE", "a", "0", "1"), ("APPEND", "a", "x"), ("INCR", "c"), ("GETSET", "a", "1"),
        ("GETEX", "zz"), ("SETRANGE", "b", "0", "x"), ("OBJECT", "ENCODING", "b"),
        ("OBJECT", "IDLETIME", "zz"), ("COPY", "b", "c2"), ("COPY", "zz", "c3"),
        ("RENAME", "b", "b2"), ("EXPIRE", "c", "100"), ("DEL", "c", "zz"), ("KEYS", "*"),
        ("SCAN", "0", "TYPE", "string"), ("MSETNX", "x", "1"), ("GETDEL", "a"),
    ]
    stats = diff.harness.server.stats
    for args in script:
        before_ours = (stats.keyspace_hits, stats.keyspace_misses)
        before_theirs = _redis_stats(diff)
        replies = diff.both(*args)
        if args[0] not in ("KEYS", "SCAN"):  # their order is the hash table's
            assert replies[0] == replies[1], args
        ours = (stats.keyspace_hits - before_ours[0], stats.keyspace_misses - before_ours[1])
        after = _redis_stats(diff)
        assert ours == (after[0] - before_theirs[0], after[1] - before_theirs[1]), args


# -- virtual time -----------------------------------------------------------------


def test_expire_family_in_virtual_time():
    h = Harness()
    now = h.now_ms
    h.run("SET", "k", "v")
    assert h.run("PEXPIRE", "k", 1500) == 1
    assert (h.run("TTL", "k"), h.run("PTTL", "k"), h.run("PEXPIRETIME", "k")) == (2, 1500, now + 1500)
    assert h.run("EXPIRETIME", "k") == (now + 1500) // 1000
    h.advance(1499)
    assert h.run("PTTL", "k") == 1
    h.advance(2)
    assert h.run("EXISTS", "k") == 0
    h.run("SET", "k", "v")
    assert h.run("EXPIREAT", "k", now // 1000 + 100) == 1
    assert h.run("PEXPIREAT", "k", h.now_ms) == 1, "a time equal to now deletes the key"
    assert h.run("EXISTS", "k") == 0


def test_keys_skips_expired_keys_without_removing_them():
    h = Harness()
    h.run("SET", "live", "1")
    h.run("SET", "gone", "1", "PX", 10)
    h.advance(20)
    assert h.run("KEYS", "*") == [b"live"]
    assert h.run("DBSIZE") == 2
    assert h.run("SCAN", 0) == [b"0", [b"live"]]
    assert h.run("DBSIZE") == 1


def test_object_idletime_counts_seconds_since_last_access():
    h = Harness()
    h.run("SET", "k", "v")
    h.advance(5000)
    assert h.run("OBJECT", "IDLETIME", "k") == 5
    h.run("TTL", "k")  # no touch
    assert h.run("OBJECT", "IDLETIME", "k") == 5
    h.run("GET", "k")
    assert h.run("OBJECT", "IDLETIME", "k") == 0
    h.advance(3000)
    h.run("RENAME", "k", "k2")
    assert h.run("OBJECT", "IDLETIME", "k2") == 0, "RENAME's write lookup touches the key"


def test_object_freq_and_idletime_follow_the_policy():
    h = Harness()
    h.run("SET", "k", "v")
    lfu = h.run("OBJECT", "FREQ", "k")
    assert isinstance(lfu, Error) and lfu.startswith(b"ERR An LFU maxmemory policy is not selected")
    assert h.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == b"OK"
    assert h.run("OBJECT", "FREQ", "k") == 0
    idle = h.run("OBJECT", "IDLETIME", "k")
    assert isinstance(idle, Error) and idle.startswith(b"ERR An LFU maxmemory policy is selected")


def test_randomkey_and_scan_are_deterministic_per_seed():
    replies = []
    for _ in range(2):
        h = Harness(seed=7)
        for i in range(100):
            h.run("SET", f"k{i}", i)
        replies.append(([h.run("RANDOMKEY") for _ in range(10)], h.run("SCAN", 0, "COUNT", 7)))
    assert replies[0] == replies[1]


def test_scan_over_a_churning_keyspace_misses_no_stable_key():
    h = Harness()
    for i in range(1000):
        h.run("SET", f"stable{i}" if i % 4 == 0 else f"temp{i}", i)
    seen = set()
    cursor = b"0"
    step = 0
    while True:
        cursor, keys = h.run("SCAN", cursor, "COUNT", 25)
        seen.update(keys)
        for i in range(step * 40, step * 40 + 40):
            h.run("DEL", f"temp{i}")
        h.run("SET", f"late{step}", step)
        step += 1
        if cursor == b"0":
            break
    assert {f"stable{i}".encode() for i in range(0, 1000, 4)} <= seen
    assert h.server.dbs[0].epoch > 0, "the deletions compacted the slots mid-scan"


def test_swapdb_is_seen_by_clients_of_both_databases():
    h = Harness()
    other = h.new_client()
    h.run("SELECT", 1, client=other)
    h.run("SET", "k", "from0")
    assert h.run("SWAPDB", 0, 1) == b"OK"
    assert h.run("GET", "k") is None
    assert h.run("GET", "k", client=other) == b"from0"
