"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: scripts compared byte for byte with redis-server,
WATCH invalidation in process, and redis-py's transactions against a flowcache process.

`Twins` runs the same commands for several clients on both sides (harness
clients, and one redis-server connection each), so one client's writes can
invalidate another's WATCH.
"""

from __future__ import annotations

import time

import pytest

from cache import resp
from cache.reply import NULL_ARRAY, QUEUED, Error
from tests.cache.harness import Harness, RedisOracle
from tests.cache.servers import flowcache_for_tests


class Twins:
    """`clients` clients on a Harness and as many connections to redis-server."""

    def __init__(self, port: int, clients: int = 2) -> None:
        self.h = Harness()
        self.ours = [self.h.client] + [self.h.new_client() for _ in range(clients - 1)]
        self.theirs = [RedisOracle(port) for _ in range(clients)]
        self.theirs[0].call("FLUSHALL")

    def close(self) -> None:
        for conn in self.theirs:
            conn.close()

    def check(self, i: int, *args) -> bytes:
        client = self.ours[i]
        reply = self.h.run(*args, client=client)
        ours = resp.encode(reply, client.proto)
        theirs = self.theirs[i].raw(*args)
        assert ours == theirs, f"client {i} {args!r}: flowcache {ours!r} != redis {theirs!r}"
        return ours

    def sleep(self, ms: int) -> None:
        """Let `ms` pass on both sides (virtual here, real there)."""
        self.h.advance(ms)
        time.sleep(ms / 1000)


@pytest.fixture
def twins(redis_server):
    t = Twins(redis_server)
    yield t
    t.close()


SCRIPTS = {
    "queued_then_exec": [
        (0, "SET", "a", "1"), (0, "MULTI"), (0, "INCR", "a"), (0, "GET", "a"), (0, "EXEC"),
        (0, "EXEC"), (0, "DISCARD"),
    ],
    "errors_inside_exec_are_per_command": [
        (0, "SET", "s", "text"), (0, "MULTI"), (0, "INCR", "s"), (0, "LPUSH", "s", "x"),
        (0, "SET", "t", "2"), (0, "INCRBY", "t", "x"), (0, "GET", "t"), (0, "EXEC"),
    ],
    "queueing_errors_abort": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "NOSUCH", "x"), (0, "GET"), (0, "SET", "b", "2"),
        (0, "EXEC"), (0, "EXISTS", "a", "b"), (0, "EXEC"),
    ],
    "unknown_subcommand_aborts": [
        (0, "MULTI"), (0, "CLIENT", "NOSUCH"), (0, "EXEC"),
    ],
    "nested_multi_and_watch_inside_do_not_abort": [
        (0, "MULTI"), (0, "MULTI"), (0, "WATCH", "a"), (0, "SET", "a", "1"), (0, "EXEC"),
        (0, "GET", "a"),
    ],
    "discard": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "DISCARD"), (0, "GET", "a"), (0, "DISCARD"),
        (0, "MULTI"), (0, "DISCARD"), (0, "EXEC"),
    ],
    "arity_of_exec_itself": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "EXEC", "x"), (0, "EXEC"), (0, "GET", "a"),
    ],
    "empty_transaction": [(0, "MULTI"), (0, "EXEC")],
    "select_inside_a_transaction": [
        (0, "MULTI"), (0, "SELECT", "1"), (0, "SET", "a", "in-1"), (0, "SELECT", "0"),
        (0, "EXEC"), (0, "GET", "a"), (0, "SELECT", "1"), (0, "GET", "a"), (0, "SELECT", "0"),
    ],
    "blocking_commands_inside_exec_do_not_block": [
        (0, "MULTI"), (0, "BLPOP", "nolist", "0"), (0, "BRPOPLPUSH", "nolist", "x", "0"),
        (0, "EXEC"),
    ],
    "watch_then_other_client_writes": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SET", "k", "2"), (0, "MULTI"),
        (0, "SET", "k", "3"), (0, "EXEC"), (0, "GET", "k"),
    ],
    "watch_then_same_value_is_still_a_write": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SET", "k", "1"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "watch_then_read_only": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "GET", "k"), (1, "EXISTS", "k"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch_a_missing_key_then_delete_nothing": [
        (0, "WATCH", "k"), (1, "DEL", "k"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch_a_missing_key_then_create_it": [
        (0, "WATCH", "k"), (1, "LPUSH", "k", "x"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch_is_per_database": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SELECT", "1"), (1, "SET", "k", "2"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"), (1, "SELECT", "0"),
    ],
    "expire_touches_a_watched_key": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "EXPIRE", "k", "100"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "unwatch_forgets": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SET", "k", "2"), (0, "UNWATCH"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "exec_forgets_watches": [
        (0, "WATCH", "k"), (0, "MULTI"), (0, "EXEC"), (1, "SET", "k", "x"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "discard_forgets_watches": [
        (0, "WATCH", "k"), (0, "MULTI"), (0, "DISCARD"), (1, "SET", "k", "x"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "the_transaction_own_writes_do_not_matter_after_exec": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (0, "MULTI"), (0, "SET", "k", "2"),
        (0, "EXEC"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "own_write_before_multi_invalidates": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (0, "INCR", "k"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "flushall_invalidates_only_existing_keys": [
        (0, "WATCH", "missing"), (1, "FLUSHALL"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "FLUSHALL"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "flushdb_of_another_database_does_not_invalidate": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SELECT", "1"), (1, "FLUSHDB"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"), (1, "SELECT", "0"),
    ],
    "swapdb_invalidates_keys_on_either_side": [
        (0, "WATCH", "k"), (1, "SWAPDB", "0", "1"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
        (1, "SELECT", "1"), (1, "SET", "k", "x"), (1, "SELECT", "0"), (0, "WATCH", "k"),
        (1, "SWAPDB", "0", "1"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "multi_watch_several_keys": [
        (0, "WATCH", "a", "b", "c"), (1, "SET", "c", "1"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "watch_in_a_dirty_client_is_accepted": [
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "DEL", "k"), (0, "WATCH", "other"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "reset_ends_the_transaction_and_the_watches": [
        (0, "WATCH", "k"), (0, "MULTI"), (0, "SET", "a", "1"), (0, "RESET"), (0, "EXEC"),
        (1, "SET", "k", "x"), (0, "MULTI"), (0, "PING"), (0, "EXEC"), (0, "GET", "a"),
    ],
    "resp3_null_for_a_failed_watch": [
        (0, "CLIENT", "SETNAME", "x"),  # HELLO 3 is sent first by the test (ids differ)
        (0, "SET", "k", "1"), (0, "WATCH", "k"), (1, "SET", "k", "2"),
        (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "commands_in_a_transaction_see_queue_counts": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "SET", "b", "2"), (0, "MGET", "a", "b"),
        (0, "EXEC"),
    ],
}


@pytest.mark.redis
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_script_matches_redis(twins, name):
    if name.startswith("resp3"):
        twins.h.run("HELLO", "3")
        twins.theirs[0].raw("HELLO", "3")
    for i, *args in SCRIPTS[name]:
        twins.check(i, *args)


@pytest.mark.redis
def test_watched_key_expiring_before_exec_fails_it(twins):
    twins.check(0, "SET", "k", "v", "PX", "30")
    twins.check(0, "WATCH", "k")
    twins.sleep(60)
    twins.check(0, "MULTI")
    twins.check(0, "PING")
    twins.check(0, "EXEC")


@pytest.mark.redis
def test_watching_an_already_expired_key_does_not_fail_when_it_is_removed(twins):
    twins.check(0, "SET", "k", "v", "PX", "10")
    twins.sleep(30)
    twins.check(0, "WATCH", "k")
    twins.check(1, "GET", "k")  # lazy expiry removes it: no logical change
    twins.check(0, "MULTI")
    twins.check(0, "PING")
    twins.check(0, "EXEC")
    twins.check(0, "SET", "k", "v", "PX", "10")
    twins.sleep(30)
    twins.check(0, "WATCH", "k")
    twins.check(1, "SET", "k", "new")  # but a new value is a change
    twins.check(0, "MULTI")
    twins.check(0, "PING")
    twins.check(0, "EXEC")


@pytest.mark.redis
def test_stats_of_transactions_match_redis(twins):
    """INFO commandstats and errorstats (without timings): rejected vs failed calls."""
    twins.check(0, "CONFIG", "RESETSTAT")
    script = [
        ("GET", "a", "b"), ("NOSUCH",), ("SET", "s", "x"), ("INCR", "s"), ("MULTI",),
        ("INCR", "s"), ("GET", "s"), ("EXEC",), ("MULTI",), ("GET",), ("EXEC",), ("EXEC",),
        ("MULTI",), ("PING",), ("DISCARD",), ("CLIENT", "NOSUCH"), ("CONFIG", "GET"),
        ("WATCH", "s"), ("MULTI",), ("MULTI",), ("EXEC",),
    ]
    for args in script:
        twins.check(0, *args)
    assert _stats(twins.h.run("INFO", "commandstats")) == _stats(
        twins.theirs[0].call("INFO", "commandstats"))
    assert twins.h.run("INFO", "errorstats") == bytes(twins.theirs[0].call("INFO", "errorstats"))
    ours = _field(twins.h.run("INFO", "stats"), "total_commands_processed")
    assert ours == _field(bytes(twins.theirs[0].call("INFO", "stats")), "total_commands_processed")


def _stats(info: bytes) -> dict[str, str]:
    """cmdstat lines without the timings, by command (Redis lists them in hash order)."""
    out = {}
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, fields = line.split(":", 1)
            kept = [f for f in fields.split(",") if not f.startswith("usec")]
            out[name] = ",".join(kept)
    return out


def _field(info: bytes, name: str) -> str:
    return info.decode().split(name + ":")[1].split("\r\n")[0]


# -- in process -------------------------------------------------------------------------------


def test_client_list_shows_the_transaction():
    h = Harness()
    h.run("MULTI")
    h.run("SET", "a", "1")
    h.run("GET", "a")
    observer = h.new_client()
    assert b" flags=N " in h.run("CLIENT", "INFO", client=observer)
    listing = bytes(h.run("CLIENT", "LIST", client=observer)).decode()
    assert listing.count("flags=x") == 1 and "multi=2" in listing
    assert h.run("EXEC") == [b"OK", b"1"]
    assert b"flags=N" in h.run("CLIENT", "INFO") and b"multi=-1" in h.run("CLIENT", "INFO")


def test_queued_replies_and_a_failed_watch_in_process():
    h = Harness()
    other = h.new_client()
    assert h.run("WATCH", "k") == b"OK"
    assert h.run("MULTI") == b"OK"
    assert h.run("SET", "k", "mine") is QUEUED
    h.run("SET", "k", "theirs", client=other)
    assert h.client.dirty_cas
    assert h.run("EXEC") is NULL_ARRAY
    assert h.run("GET", "k") == b"theirs"
    assert not h.client.dirty_cas and h.server.watched_keys == {}


def test_eviction_of_a_watched_key_invalidates():
    h = Harness()
    h.run("SET", "k", "1")
    h.run("WATCH", "k")
    h.server.dbs[0].evict(b"k")
    h.run("MULTI")
    assert h.run("EXEC") is NULL_ARRAY


def test_active_expiry_of_a_watched_key_invalidates():
    from cache import keyspace

    h = Harness()
    h.run("SET", "k", "1", "PX", "10")
    h.run("WATCH", "k")
    h.advance(20)
    while h.run("DBSIZE", client=h.new_client()):
        keyspace.active_expire_cycle(h.server, 10)
    h.run("MULTI")
    assert h.run("EXEC") is NULL_ARRAY


def test_closing_a_connection_forgets_its_watches_and_queue():
    from cache.commands import transactions

    h = Harness()
    other = h.new_client()
    h.run("WATCH", "a", "b", client=other)
    h.run("MULTI", client=other)
    h.run("SET", "a", "1", client=other)
    transactions.forget_client(other)
    assert h.server.watched_keys == {} and other.multi == -1 and other.queued == []


def test_errors_inside_exec_are_replies_not_exceptions():
    h = Harness()
    h.run("SET", "s", "x")
    h.run("MULTI")
    h.run("INCR", "s")
    h.run("SET", "t", "1")
    replies = h.run("EXEC")
    assert isinstance(replies[0], Error) and replies[1] == b"OK"


# -- redis-py against a flowcache process -----------------------------------------------------


@pytest.fixture(scope="module")
def flowcache_port():
    with flowcache_for_tests() as port:
        yield port


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_transactional_pipeline(flowcache_port, protocol):
    redis = pytest.importorskip("redis")
    r = redis.Redis(port=flowcache_port, protocol=protocol)
    try:
        r.delete("tx:n", "tx:l")
        with r.pipeline(transaction=True) as pipe:
            pipe.incr("tx:n").incrby("tx:n", 10).rpush("tx:l", "a", "b").lrange("tx:l", 0, -1)
            assert pipe.execute() == [1, 11, 2, [b"a", b"b"]]
        with r.pipeline(transaction=True) as pipe:
            pipe.set("tx:s", "text").incr("tx:s").get("tx:s")
            with pytest.raises(redis.ResponseError):
                pipe.execute()
        with r.pipeline(transaction=True) as pipe:
            pipe.set("tx:s", "x").incr("tx:s").get("tx:s")
            replies = pipe.execute(raise_on_error=False)
            assert replies[0] is True and isinstance(replies[1], redis.ResponseError)
            assert replies[2] == b"x"
    finally:
        r.close()


def test_redis_py_watch_retry_loop(flowcache_port):
    """r.transaction retries its function when a watched key changes under it."""
    redis = pytest.importorskip("redis")
    r = redis.Redis(port=flowcache_port)
    rival = redis.Redis(port=flowcache_port)
    attempts = []
    try:
        r.set("tx:counter", 0)

        def bump(pipe):
            value = int(pipe.get("tx:counter"))
            attempts.append(value)
            if len(attempts) == 1:
                rival.incr("tx:counter", 100)  # sneaks in between WATCH and EXEC
            pipe.multi()
            pipe.set("tx:counter", value + 1)

        assert r.transaction(bump, "tx:counter") == [True]
        assert attempts == [0, 100]
        assert r.get("tx:counter") == b"101"
        with pytest.raises(redis.WatchError):
            with r.pipeline() as pipe:
                pipe.watch("tx:counter")
                rival.set("tx:counter", "x")
                pipe.multi()
                pipe.set("tx:counter", "y")
                pipe.execute()
        assert r.get("tx:counter") == b"x"
    finally:
        r.close()
        rival.close()
