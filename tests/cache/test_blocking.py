"""Blocked clients: the mechanism (cache.blocking) and, end to end, BLPOP against redis-server.

The mechanism tests drive `blocking.block` with hand-made retries that
"pop" string keys, through the harness and through a CacheServer on a
simulated network, so they depend on no list command. A test-only command
(`XTAKE key... timeout`, registered for the test and removed after) makes
the connection actor's side reachable over the wire.
"""

from __future__ import annotations

import time

import pytest

import flow
from cache import blocking, errors
from cache.client import RespClient
from cache.commands import table
from cache.config import Config
from cache.errors import CommandError
from cache.reply import NULL_ARRAY, Error
from cache.server import CacheServer
from net.sim import SimNetwork
from tests.cache.harness import Harness, RedisOracle, parse_reply
from tests.cache.servers import flowcache_for_tests

# -- parse_timeout --------------------------------------------------------------------------


@pytest.mark.parametrize("arg, expected", [
    (b"0", None), (b"1", 1000), (b"0.5", 500), (b"1.5e1", 15000), (b".25", 250),
    (b"+1", 1000), (b"1.", 1000), (b"0x10", 16000), (b"0x1p-3", 125), (b"-0", None),
    (b"-0.0001", None),  # rounds up to -0: block forever, as Redis does
    (b"0.0001", 1),  # the ceiling: a tiny timeout still times out
    (b"1e-400", 1),  # fits a long double, unlike a double
    (b"1e15", 10**18),
])
def test_parse_timeout_reads_what_strtold_reads(arg, expected):
    assert blocking.parse_timeout(arg) == expected


@pytest.mark.parametrize("arg, message", [
    (b"abc", errors.TIMEOUT_NOT_FLOAT), (b"", errors.TIMEOUT_NOT_FLOAT),
    (b" 1", errors.TIMEOUT_NOT_FLOAT), (b"1 ", errors.TIMEOUT_NOT_FLOAT),
    (b"nan", errors.TIMEOUT_NOT_FLOAT), (b"1_0", errors.TIMEOUT_NOT_FLOAT),
    (b"1e-5000", errors.TIMEOUT_NOT_FLOAT), (b"1e4933", errors.TIMEOUT_NOT_FLOAT),
    (b"1" * 5120, errors.TIMEOUT_NOT_FLOAT),
    (b"-1", errors.WAIT_TIMEOUT_NEGATIVE), (b"-0.0011", errors.WAIT_TIMEOUT_NEGATIVE),
    (b"inf", errors.WAIT_TIMEOUT_NEGATIVE), (b"-Infinity", errors.WAIT_TIMEOUT_NEGATIVE),
    (b"1e17", errors.WAIT_TIMEOUT_NEGATIVE),  # past LLONG_MAX ms: LLONG_MIN on x86
    (b"9223372036854775807", errors.WAIT_TIMEOUT_NEGATIVE),
])
def test_parse_timeout_refuses_as_redis_does(arg, message):
    with pytest.raises(CommandError) as caught:
        blocking.parse_timeout(arg)
    assert caught.value.message == message


@pytest.mark.redis
def test_parse_timeout_errors_match_redis(redis_server):
    """Inside MULTI, BLPOP on a missing key answers at once: only the timeout is checked."""
    oracle = RedisOracle(redis_server)
    try:
        for arg in ["0", "abc", "-1", "-0.0001", "1e400", "inf", "nan", " 1", "0x10", "1e17",
                    "1e15", "9223372036854775807", "", "1e-5000", "1e4933", "-0.0011", "1."]:
            oracle.call("MULTI")
            oracle.call("BLPOP", "blocking:missing", arg)
            theirs = oracle.call("EXEC")[0]
            try:
                blocking.parse_timeout(arg.encode())
                ours = None
            except CommandError as exc:
                ours = exc.message
            assert ours == (bytes(theirs) if theirs is not None else None), arg
    finally:
        oracle.close()


# -- the mechanism, in process ----------------------------------------------------------------


def take(client, keys):
    """A retry that 'pops' a string key (the ready one, else the first existing one)."""
    def retry():
        db = client.db
        ready = blocking.serving_key()
        for key in keys if ready is None else [ready]:
            value = db.lookup_write(key)
            if value is not None:
                db.delete(key)
                return [key, value]
        return None
    return retry


def block(h, client, *keys, timeout_ms=None, retry=None):
    keys = [k.encode() for k in keys]
    return blocking.block(client, keys, timeout_ms, retry or take(client, keys), NULL_ARRAY)


def test_waiters_are_served_oldest_first_one_value_each():
    h = Harness()
    clients = [h.new_client() for _ in range(3)]
    waits = [block(h, c, "k") for c in clients]
    assert all(c.blocked for c in clients) and len(h.server.blocked_on[(0, b"k")]) == 3
    h.run("SET", "k", "v1")
    assert [w.done() for w in waits] == [True, False, False]
    assert waits[0].result() == [b"k", b"v1"]
    h.run("SET", "k", "v2")
    h.run("SET", "k", "v3")
    assert [w.result() for w in waits[1:]] == [[b"k", b"v2"], [b"k", b"v3"]]
    assert h.server.blocked_on == {} and not any(c.blocked for c in clients)


def test_each_ready_key_serves_its_own_waiters_in_the_order_keys_became_ready():
    h = Harness()
    a, b = h.new_client(), h.new_client()
    wait_a, wait_b = block(h, a, "k1", "k2"), block(h, b, "k1", "k2")
    h.run("MSET", "k2", "two", "k1", "one")
    assert wait_a.result() == [b"k2", b"two"] and wait_b.result() == [b"k1", b"one"]


def test_a_client_waiting_on_several_keys_is_served_once_and_leaves_every_queue():
    h = Harness()
    a, b = h.new_client(), h.new_client()
    wait_a = block(h, a, "k1", "k2")
    wait_b = block(h, b, "k2")
    h.run("SET", "k2", "x")
    assert wait_a.result() == [b"k2", b"x"] and not wait_b.done()
    assert list(h.server.blocked_on) == [(0, b"k2")]
    assert list(h.server.blocked_on[(0, b"k2")]) == [b.id]


def test_a_retry_that_finds_nothing_keeps_the_client_waiting():
    h = Harness()
    client = h.new_client()
    calls = []

    def retry():
        calls.append(client.db.lookup_write(b"k"))
        return None

    waiting = block(h, client, "k", retry=retry)
    h.run("SET", "k", "1")
    h.run("SET", "k", "2")
    assert calls == [b"1", b"2"] and not waiting.done() and client.blocked


def test_keys_in_another_database_do_not_wake_the_client():
    h = Harness()
    client = h.new_client()
    waiting = block(h, client, "k")
    h.run("SELECT", "1")
    h.run("SET", "k", "elsewhere")
    assert not waiting.done()
    h.run("SELECT", "0")
    h.run("SET", "k", "here")
    assert waiting.result() == [b"k", b"here"]


def test_retries_that_write_make_more_keys_ready_in_the_same_round():
    """A move: the first waiter pops `src` and writes `dst`, which serves the second."""
    h = Harness()
    mover, taker = h.new_client(), h.new_client()

    def move():
        value = mover.db.lookup_write(b"src")
        if value is None:
            return None
        mover.db.delete(b"src")
        mover.db.set_key(b"dst", value)
        return value

    moving = block(h, mover, "src", retry=move)
    taking = block(h, taker, "dst")
    h.run("SET", "src", "payload")
    assert moving.result() == b"payload"
    assert taking.result() == [b"dst", b"payload"]
    assert h.run("EXISTS", "src", "dst") == 0


def test_the_timeout_answers_with_the_timeout_reply_and_leaves_no_trace():
    h = Harness()
    client = h.new_client()
    waiting = block(h, client, "k", timeout_ms=1500)
    h.advance(1000)
    assert not waiting.done()
    h.advance(600)
    assert waiting.result() is NULL_ARRAY
    assert not client.blocked and client.waiting is None and h.server.blocked_on == {}
    h.run("SET", "k", "late")  # nobody is served any more
    assert h.run("GET", "k") == b"late"


def test_a_served_client_does_not_time_out_later():
    h = Harness()
    client = h.new_client()
    waiting = block(h, client, "k", timeout_ms=100)
    h.run("SET", "k", "v")
    h.advance(500)
    assert waiting.result() == [b"k", b"v"]


def test_blocking_inside_a_transaction_answers_at_once():
    h = Harness()
    client = h.new_client()
    h.run("MULTI", client=client)
    assert block(h, client, "k") is NULL_ARRAY
    assert not client.blocked and h.server.blocked_on == {}


def test_writes_inside_exec_wake_waiters_after_the_whole_exec():
    h = Harness()
    waiter = h.new_client()
    seen = []

    def retry():
        seen.append(waiter.db.lookup_write(b"k"))
        return seen[-1]

    waiting = block(h, waiter, "k", retry=retry)
    h.run("MULTI")
    h.run("SET", "k", "first")
    h.run("SET", "k", "second")
    assert h.run("EXEC") == [b"OK", b"OK"]
    assert seen == [b"second"] and waiting.result() == b"second"


def test_forget_removes_a_disconnected_waiter():
    h = Harness()
    gone, stays = h.new_client(), h.new_client()
    gone_wait = block(h, gone, "k", timeout_ms=50)
    stays_wait = block(h, stays, "k")
    blocking.forget(gone_wait)
    assert list(h.server.blocked_on[(0, b"k")]) == [stays.id]
    h.advance(100)  # the cancelled timer must not answer
    assert not gone_wait.done()
    h.run("SET", "k", "v")
    assert stays_wait.result() == [b"k", b"v"]


def test_client_unblock_with_timeout_or_error():
    h = Harness()
    a, b = h.new_client(), h.new_client()
    wait_a, wait_b = block(h, a, "k"), block(h, b, "k")
    assert h.run("CLIENT", "UNBLOCK", str(a.id)) == 1
    assert wait_a.result() is NULL_ARRAY
    assert h.run("CLIENT", "UNBLOCK", str(a.id)) == 0
    assert h.run("CLIENT", "UNBLOCK", str(b.id), "error") == 1
    assert wait_b.result() == Error(errors.UNBLOCKED)
    assert h.run("CLIENT", "UNBLOCK", str(b.id), "nope") == Error(errors.UNBLOCK_REASON)
    assert h.run("CLIENT", "UNBLOCK", "x") == Error(errors.NOT_INTEGER)
    assert h.server.stats.errorstats[b"UNBLOCKED"] == 1


def test_info_counts_blocked_clients():
    h = Harness()
    waiting = block(h, h.new_client(), "k")
    assert b"blocked_clients:1\r\n" in h.run("INFO", "clients")
    h.run("SET", "k", "v")
    assert waiting.done()
    assert b"blocked_clients:0\r\n" in h.run("INFO", "clients")


def test_swapdb_serves_keys_the_other_database_had():
    h = Harness()
    client = h.new_client()
    waiting = block(h, client, "k")
    h.run("SELECT", "1")
    h.run("SET", "k", "from-db1")
    assert not waiting.done()
    h.run("SWAPDB", "0", "1")
    assert waiting.result() == [b"k", b"from-db1"]


# -- the mechanism over the (simulated) wire ---------------------------------------------------


@pytest.fixture
def xtake():
    """A blocking command for the test only: XTAKE key... timeout, popping string keys."""
    def handler(client, argv):
        keys = argv[1:-1]
        timeout_ms = blocking.parse_timeout(argv[-1])
        retry = take(client, keys)
        reply = retry()
        if reply is not None:
            return reply
        return blocking.block(client, keys, timeout_ms, retry, NULL_ARRAY)

    table.command("XTAKE", -3, "write blocking", keys=(1, -2, 1), group="generic",
                  since="7.0.0", summary="test only")(handler)
    yield
    del table.COMMANDS[b"xtake"]


def run_sim(body, seed=1):
    """Run `body(server, connect)` as an actor on a SimLoop with a CacheServer on a SimNetwork."""
    loop = flow.SimLoop(seed=seed)

    @flow.actor
    def main():
        net = SimNetwork(loop)
        server = CacheServer(Config(), net.add_host("cache"))
        server.start("0.0.0.0", 6379)
        hosts = iter(range(1000))

        @flow.actor
        def connect():
            conn = yield net.add_host(f"c{next(hosts)}").connect("cache", 6379)
            return RespClient(conn)

        try:
            return (yield body(server, connect))
        finally:
            server.stop()

    return loop.run(main)


def test_a_blocked_connection_holds_its_pipelined_commands_until_served(xtake):
    @flow.actor
    def body(server, connect):
        waiter, writer = (yield connect()), (yield connect())
        taken = waiter.call("XTAKE", "k", "0")
        after = waiter.call("SET", "k", "mine")  # pipelined behind the blocked XTAKE
        yield flow.delay(1.0)
        assert not taken.is_ready() and not after.is_ready()
        assert (yield writer.call("EXISTS", "k")) == 0  # SET has not run
        assert (yield writer.call("SET", "k", "v")) == b"OK"
        assert (yield taken) == [b"k", b"v"]
        assert (yield after) == b"OK"
        assert (yield writer.call("GET", "k")) == b"mine"
        info = yield writer.call("INFO", "clients")
        return info

    assert b"blocked_clients:0" in run_sim(body)


def test_every_waiter_is_served_before_an_unblocked_client_runs_its_next_command(xtake):
    @flow.actor
    def body(server, connect):
        first, second, writer = (yield connect()), (yield connect()), (yield connect())
        first_take = first.call("XTAKE", "k", "0")
        first_next = first.call("GETDEL", "k2")  # pipelined: must wait for the whole round
        yield flow.delay(0.5)
        second_take = second.call("XTAKE", "k2", "0")
        yield flow.delay(0.5)
        yield writer.call("MSET", "k", "v1", "k2", "v2")
        replies = flow.wait_all([first_take, first_next, second_take])
        return (yield flow.wait_any([replies, flow.delay(5.0)]))[1]

    assert run_sim(body) == [[b"k", b"v1"], None, [b"k2", b"v2"]]


def test_a_client_that_disconnects_while_blocked_leaves_no_trace(xtake):
    @flow.actor
    def body(server, connect):
        gone, stays, writer = (yield connect()), (yield connect()), (yield connect())
        gone.call("XTAKE", "k", "0")
        stays_reply = stays.call("XTAKE", "k", "0")
        yield flow.delay(0.5)
        assert len(server.state.blocked_on[(0, b"k")]) == 2
        gone.close()
        yield flow.delay(0.5)
        assert len(server.state.blocked_on[(0, b"k")]) == 1
        yield writer.call("SET", "k", "v")
        assert (yield stays_reply) == [b"k", b"v"]
        assert server.state.blocked_on == {}
        return (yield writer.call("INFO", "clients"))

    info = run_sim(body)
    assert b"connected_clients:2" in info and b"blocked_clients:0" in info


def test_a_timeout_over_the_wire_answers_after_the_timeout(xtake):
    @flow.actor
    def body(server, connect):
        client = yield connect()
        start = flow.now()
        reply = yield client.call("XTAKE", "k", "2.5")
        return reply, flow.now() - start

    reply, waited = run_sim(body)
    assert reply is None and 2.5 <= waited < 2.6


def test_client_kill_ends_a_blocked_connection(xtake):
    @flow.actor
    def body(server, connect):
        victim, admin = (yield connect()), (yield connect())
        victim_id = yield victim.call("CLIENT", "ID")
        pending = victim.call("XTAKE", "k", "0")
        yield flow.delay(0.5)
        assert (yield admin.call("CLIENT", "KILL", "ID", str(victim_id))) == 1
        yield flow.delay(0.5)
        return pending, server.state.blocked_on, [c.id for c in server.state.clients.values()]

    pending, blocked_on, ids = run_sim(body)
    assert pending.is_error()  # the connection was reset, with no reply
    assert blocked_on == {} and len(ids) == 1


# -- end to end with BLPOP: flowcache server process vs redis-server ---------------------------


def _blocked_count(conn: RedisOracle) -> int:
    info = parse_reply(conn.raw("INFO", "clients")).decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def _wait_blocked(conn: RedisOracle, count: int) -> None:
    deadline = time.monotonic() + 10
    while _blocked_count(conn) != count:
        assert time.monotonic() < deadline, f"expected {count} blocked clients"
        time.sleep(0.005)


def _scenario(port: int) -> list[bytes]:
    """Many BLPOP clients: FIFO, timeout, disconnect, MULTI push; every reply as raw bytes."""
    control, watcher = RedisOracle(port), RedisOracle(port)
    control.call("FLUSHALL")
    out = []
    waiters = [RedisOracle(port) for _ in range(6)]
    try:
        for i, w in enumerate(waiters[:4]):
            w.sock.sendall(RedisOracle.encode_command(("BLPOP", "q", "other", "0")))
            _wait_blocked(watcher, i + 1)
        dropped = waiters[4]
        dropped.sock.sendall(RedisOracle.encode_command(("BLPOP", "q", "0")))
        _wait_blocked(watcher, 5)
        dropped.close()
        _wait_blocked(watcher, 4)
        out.append(control.raw("RPUSH", "q", "a", "b"))
        out.extend(w.read_raw() for w in waiters[:2])  # the two oldest, in order
        out.append(control.raw("MULTI"))
        out.append(control.raw("RPUSH", "other", "x"))
        out.append(control.raw("RPUSH", "q", "y", "z"))
        _wait_blocked(watcher, 2)  # nothing is served before EXEC
        out.append(control.raw("EXEC"))
        out.extend(w.read_raw() for w in waiters[2:4])
        out.append(control.raw("LRANGE", "q", "0", "-1"))
        timed = waiters[5]
        timed.sock.sendall(RedisOracle.encode_command(("BLPOP", "q", "0.05")))
        out.append(timed.read_raw())
        out.append(control.raw("LPUSH", "q", "after"))
        out.append(control.raw("LRANGE", "q", "0", "-1"))
        _wait_blocked(watcher, 0)
        return out
    finally:
        for w in waiters:
            if w is not waiters[4]:
                w.close()
        control.close()
        watcher.close()


@pytest.mark.redis
def test_blpop_end_to_end_matches_redis(redis_server, flowcache_server):
    if b"blpop" not in table.COMMANDS:
        pytest.skip("BLPOP is not written yet")
    assert _scenario(flowcache_server) == _scenario(redis_server)


@pytest.fixture(scope="module")
def flowcache_server():
    with flowcache_for_tests() as port:
        yield port
