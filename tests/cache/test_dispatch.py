"""The dispatcher (cache.dispatch): refusals in Redis's order, NOAUTH, OOM, the RESP2
subscribed context, INFO errorstats/commandstats, CLIENT REPLY, compared with redis-server.
"""

from __future__ import annotations

import math
import shutil
import socket
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache import resp
from cache.dispatch import run_batch
from cache.state import _wall_times_of
from cache.config import Config
from support import free_port, start_redis_server, wait_for_port
from tests.cache.harness import Harness, RedisOracle
from tests.cache.servers import flowcache_for_tests


@pytest.fixture(scope="module")
def redis_with():
    """Start private redis-servers with extra settings; stopped at the end of the module."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    started = []

    def start(*settings: str) -> int:
        port = free_port()
        workdir = tempfile.mkdtemp(prefix="flowcache-dispatch-")
        started.append((start_redis_server(binary, port, workdir, *settings), workdir))
        wait_for_port(port)
        return port

    yield start
    for proc, workdir in started:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def compare(h: Harness, oracle: RedisOracle, script, client=None) -> None:
    client = client or h.client
    for args in script:
        ours = resp.encode(h.run(*args, client=client), client.proto)
        theirs = oracle.raw(*args)
        assert ours == theirs, f"{args!r}: flowcache {ours!r} != redis {theirs!r}"


@pytest.mark.redis
def test_noauth_matches_redis(redis_with):
    port = redis_with("--requirepass", "secret")
    h = Harness(config=Config({"requirepass": "secret"}))
    oracle = RedisOracle(port)
    try:
        compare(h, oracle, [
            ("NOSUCH",), ("GET",), ("GET", "a"), ("CLIENT", "NOSUCH"), ("CLIENT", "ID"),
            ("PING",), ("MULTI",), ("GET", "a"), ("EXEC",), ("HELLO", "3"),
            ("AUTH", "wrong"), ("AUTH", "default", "wrong"), ("SELECT", "1"),
            ("AUTH", "secret"), ("SET", "a", "1"), ("GET", "a"), ("RESET",), ("GET", "a"),
            ("AUTH", "default", "secret"), ("GET", "a"), ("QUIT",),
        ])
    finally:
        oracle.close()


@pytest.mark.redis
def test_oom_refusals_match_redis(redis_with):
    port = redis_with("--maxmemory", "1")
    h = Harness(config=Config({"maxmemory": "1"}))
    oracle = RedisOracle(port)
    try:
        script = [
            ("SET", "a", "1"), ("GET", "a"), ("LPUSH", "l", "x"), ("DEL", "a"),
            ("MULTI",), ("GET", "a"), ("EXEC",), ("MULTI",), ("EXEC",), ("MULTI",), ("DISCARD",),
            ("PING",), ("INFO", "errorstats"),
        ]
        compare(h, oracle, script)
    finally:
        oracle.close()


def test_oom_inside_multi_checks_exec_for_denyoom_commands():
    """Queued while under the limit, EXEC is refused once over it if it would write."""
    h = Harness()
    h.run("MULTI")
    h.run("SET", "a", "1")
    h.run("CONFIG", "SET", "maxmemory", "1", client=h.new_client())
    reply = h.run("EXEC")
    assert reply == b"EXECABORT Transaction discarded because of: OOM command not allowed when " \
                    b"used memory > 'maxmemory'."
    assert h.client.multi == -1
    h.run("CONFIG", "SET", "maxmemory", "0", client=h.new_client())
    assert h.run("SET", "a", "1") == b"OK"


@pytest.mark.redis
def test_resp2_subscribed_context_matches_redis(redis_server):
    h = Harness()
    oracle = RedisOracle(redis_server)
    try:
        h.run("SUBSCRIBE", "c")
        oracle.raw("SUBSCRIBE", "c")
        compare(h, oracle, [("GET", "a"), ("MULTI",), ("CLIENT", "ID"), ("NOSUCH",),
                            ("SET", "a")])
        h.run("UNSUBSCRIBE")
        oracle.raw("UNSUBSCRIBE")
        compare(h, oracle, [("GET", "a")])
    finally:
        oracle.close()


@pytest.mark.redis
def test_error_and_command_stats_match_redis(redis_server):
    h = Harness()
    other = h.new_client()
    oracle, rival = RedisOracle(redis_server), RedisOracle(redis_server)
    try:
        oracle.call("FLUSHALL")
        compare(h, oracle, [("CONFIG", "RESETSTAT")])
        script = [
            ("SET", "s", "x"), ("INCR", "s"), ("LPUSH", "s", "a"), ("GET",), ("NOSUCH", "a"),
            ("CLIENT", "NOSUCH"), ("CLIENT", "KILL", "ID", "0"), ("EXPIRE", "s", "x"),
            ("SET", "n", "1", "EX", "0"), ("OBJECT", "FREQ", "s"), ("SELECT", "99"),
            ("MULTI",), ("INCR", "s"), ("EXEC",), ("CLIENT", "UNBLOCK", "x"),
            ("CLIENT", "UNBLOCK", "1", "maybe"), ("CLIENT", "REPLY", "maybe"), ("ECHO",),
            ("HELLO", "4"), ("AUTH", "x"),
        ]
        compare(h, oracle, script)
        compare(h, rival, [("GET", "s")], client=other)
        info = lambda text: {line for line in text.decode().splitlines()  # noqa: E731
                             if line and not line.startswith("#")}
        assert info(h.run("INFO", "errorstats")) == info(oracle.call("INFO", "errorstats"))
        ours = {_no_usec(line) for line in info(h.run("INFO", "commandstats"))}
        theirs = {_no_usec(line) for line in info(oracle.call("INFO", "commandstats"))}
        assert ours == theirs
        for field in ("total_commands_processed", "total_error_replies"):
            assert _field(h.run("INFO", "stats"), field) == _field(
                bytes(oracle.call("INFO", "stats")), field), field
    finally:
        oracle.close()
        rival.close()


def _no_usec(line: str) -> str:
    name, fields = line.split(":", 1)
    return name + ":" + ",".join(f for f in fields.split(",") if not f.startswith("usec"))


def _field(info: bytes, name: str) -> str:
    return info.decode().split(name + ":")[1].split("\r\n")[0]


def test_unknown_commands_show_as_null_in_client_list():
    h = Harness()
    h.run("NOSUCH")
    assert b" cmd=NULL " in h.run("CLIENT", "LIST", client=h.new_client())
    h.run("GET", "x")
    assert b" cmd=get " in h.run("CLIENT", "LIST", client=h.new_client())


def test_commands_run_inside_exec_keep_exec_as_the_last_command():
    h = Harness()
    h.run("MULTI")
    h.run("CLIENT", "INFO")
    line = h.run("EXEC")[0]
    assert b" cmd=exec " in line and b" flags=x " in line and b" multi=1 " in line


# -- over the wire: CLIENT REPLY and pipelining, flowcache process vs redis-server ------------


@pytest.fixture(scope="module")
def flowcache_port():
    with flowcache_for_tests() as port:
        yield port


def session(port: int, commands: list[tuple]) -> bytes:
    """Send every command in one write, then read until the reply to PING <end> arrives."""
    end = b"$11\r\nsession-end\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(RedisOracle.encode_command(c) for c in commands)
                     + RedisOracle.encode_command(("PING", "session-end")))
        data = b""
        while not data.endswith(end):
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
        return data


@pytest.mark.redis
@pytest.mark.parametrize("commands", [
    [("CLIENT", "REPLY", "foo"), ("CLIENT", "REPLY", "SKIP"), ("PING",), ("PING", "a"),
     ("CLIENT", "REPLY", "OFF"), ("PING",), ("CLIENT", "REPLY", "SKIP"), ("PING", "b"),
     ("CLIENT", "REPLY", "ON"), ("PING", "c")],
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("PING", "a"), ("PING", "b")],
    [("CLIENT", "REPLY", "SKIP"), ("NOSUCH",), ("PING", "b")],
    [("SET", "p", "1"), ("INCR", "p"), ("MULTI",), ("INCR", "p"), ("GET", "p"), ("EXEC",),
     ("DEL", "p")],
], ids=["reply-modes", "skip-twice", "skip-an-error", "pipelined-transaction"])
def test_pipelines_match_redis_byte_for_byte(flowcache_port, redis_server, commands):
    assert session(flowcache_port, commands) == session(redis_server, commands)


@pytest.mark.redis
def test_client_output_buffer_limit_setting_matches_redis(redis_with):
    """Partial updates merge into the other classes; errors name Redis's reasons."""
    port = redis_with()
    h = Harness()
    oracle = RedisOracle(port)
    try:
        compare(h, oracle, [
            ("CONFIG", "GET", "client-output-buffer-limit"),
            ("CONFIG", "SET", "client-output-buffer-limit", "pubsub 64mb 16mb 90"),
            ("CONFIG", "SET", "client-output-buffer-limit", "pubsub 64mb 16mb"),
            ("CONFIG", "SET", "client-output-buffer-limit", "master 1 2 3"),
            ("CONFIG", "SET", "client-output-buffer-limit", "replica 1k 2kb 3"),
            ("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 -3"),
            ("CONFIG", "SET", "client-output-buffer-limit", "normal 1x 2 3"),
            ("CONFIG", "SET", "client-output-buffer-limit", ""),
            ("CONFIG", "GET", "client-output-buffer-limit"),
        ])
    finally:
        oracle.close()


def test_a_pipelined_reply_is_timed_with_its_own_command(monkeypatch):
    """Building a reply is part of its command, as in Redis: a long LRANGE reply is
    the LRANGE's time in the slow log, not the next command's."""
    from cache import dispatch

    h = Harness()
    h.run("RPUSH", "big", *[str(i) for i in range(100)])
    h.run("CONFIG", "SET", "slowlog-log-slower-than", "5000")
    h.run("SLOWLOG", "RESET")
    client = h.client

    def slow_encode(out, reply, proto):  # 20 ms to encode a list reply, on the harness clock
        if isinstance(reply, list):
            h.loop.offset_ms += 20
        resp.encode_into(out, reply, proto)

    monkeypatch.setattr(dispatch, "encode_into", slow_encode)
    for warm in ([b"LRANGE", b"big", b"0", b"-1"], [b"PING"]):
        dispatch.execute(client, warm)  # the routes exist: run_batch takes these
    h.run("SLOWLOG", "RESET")
    out: list[bytes] = []
    pipeline = [[b"LRANGE", b"big", b"0", b"-1"], [b"PING"], [b"PING"]]
    assert dispatch.run_batch(client, pipeline, 0, out) == 3
    logged = [entry[3] for entry in h.run("SLOWLOG", "GET")]
    assert logged == [[b"LRANGE", b"big", b"0", b"-1"]]


# --- the cached millisecond -----------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False))
def test_a_millisecond_window_holds_exactly_the_wall_times_of_its_millisecond(now):
    ms = int(now * 1000)
    start, end = _wall_times_of(ms)
    assert start <= now < end
    assert int(start * 1000) == ms and int(math.nextafter(end, -math.inf) * 1000) == ms
    assert end - start > 0.00099  # the whole millisecond but for a float step at each end


def test_the_batched_path_sees_the_millisecond_a_float_step_before_its_rounded_end():
    # (ms + 1) / 1000 rounds up here: the float just below it already reads as ms + 1.
    h = Harness()
    h.server.refresh_clock(1795676040.6525)
    h.run("SET", "k", "v")  # a route for SET, so run_batch takes the next one
    now = 1795676040.6529999
    h.server.wall_time = lambda: now
    assert run_batch(h.client, [[b"SET", b"k", b"v"]], 0, [])
    assert h.server.now_ms == int(now * 1000) == 1795676040653
