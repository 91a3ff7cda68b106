"""Security rules by real clients over loopback, against `flowcache serve` and redis-server alike.

Both servers run with the same `requirepass`; every conversation is sent
whole (then the write side is closed) and everything each server writes
back before closing must be the same bytes. redis-py logs in the way an
application does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

import flow
from cache import errors, limits
from cache.client import RespClient
from cache.config import Config
from cache.server import CacheServer
from cache.state import Client, ServerState
from net import NetworkError, SimNetwork
from support import ROOT, free_port, redis_server_for_tests, wait_for_port

from tests.cache.hostile import cmd, connect, roundtrip, send_until_closed
from tests.cache.servers import flowcache_for_tests

PASSWORD = "s3cret"
QUIT = cmd("QUIT")


@pytest.fixture(scope="module")
def flowcache_with_password():
    with flowcache_for_tests(f'requirepass = "{PASSWORD}"\n') as port:
        yield port


@pytest.fixture(scope="module")
def redis_with_password():
    with redis_server_for_tests("--requirepass", PASSWORD) as port:
        yield port


def both(flowcache_port: int, redis_port: int, payload: bytes) -> tuple[bytes, bytes]:
    """What each server answers to `payload` before it closes (after a half-close)."""
    ours, ours_end = send_until_closed(flowcache_port, payload, half_close=True)
    theirs, theirs_end = send_until_closed(redis_port, payload, half_close=True)
    closed = ("eof", "reset")  # which one depends on unread bytes at the close, on both
    assert ours_end in closed and theirs_end in closed
    return ours, theirs


CONVERSATIONS = {
    "noauth-then-auth": [
        cmd("GET", "sec:k"), cmd("SET", "sec:k", "v"), cmd("AUTH", "wrong"), cmd("GET", "sec:k"),
        cmd("AUTH", PASSWORD), cmd("SET", "sec:k", "v"), cmd("GET", "sec:k"), cmd("DEL", "sec:k"), QUIT,
    ],
    "auth-default-user": [cmd("AUTH", "default", "nope"), cmd("PING"), cmd("AUTH", "default", PASSWORD),
                          cmd("PING"), QUIT],
    "auth-unknown-user": [cmd("AUTH", "bob", PASSWORD), cmd("PING"), QUIT],
    "auth-arity": [cmd("AUTH"), cmd("AUTH", "a", "b", "c"), QUIT],
    "no-auth-commands-allowed": [cmd("PING"), cmd("ECHO", "x"), cmd("INFO"), cmd("CLIENT", "LIST"), QUIT],
    "hello-needs-auth": [cmd("HELLO", "3"), cmd("HELLO", "2", "AUTH", "default", "wrong"),
                         cmd("HELLO", "2", "AUTH", "bob", PASSWORD), cmd("PING"), QUIT],
    "reset-logs-out": [cmd("AUTH", PASSWORD), cmd("PING"), cmd("RESET"), cmd("PING"), QUIT],
    "multi-noauth": [cmd("MULTI"), cmd("AUTH", PASSWORD), cmd("MULTI"), cmd("PING"), cmd("EXEC"), QUIT],
    # the limits Redis puts on a client that has not authenticated
    "unauth-multibulk-10-ok": [cmd("DEL", *(f"sec:{i}" for i in range(9))), QUIT],
    "unauth-multibulk-11": [cmd("DEL", *(f"sec:{i}" for i in range(10))), cmd("PING")],
    "unauth-bulk-16k-ok": [cmd("ECHO", "x" * 16384), QUIT],
    "unauth-bulk-over-16k": [cmd("ECHO", "x" * 16385), cmd("PING")],
    "unauth-bulk-header-only": [b"*2\r\n$4\r\nECHO\r\n$16385\r\n"],
    "auth-lifts-limits": [cmd("AUTH", PASSWORD), cmd("DEL", *(f"sec:{i}" for i in range(20))),
                          cmd("ECHO", "y" * 20000), QUIT],
    "auth-pipelined-lifts-limits": [cmd("AUTH", PASSWORD) + cmd("DEL", *(f"sec:{i}" for i in range(20))) * 50,
                                    QUIT],
    "reset-restores-limits": [cmd("AUTH", PASSWORD), cmd("RESET"), cmd("DEL", *(f"sec:{i}" for i in range(10))),
                              cmd("PING")],
}


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_same_bytes_as_redis(flowcache_with_password, redis_with_password, name):
    ours, theirs = both(flowcache_with_password, redis_with_password, b"".join(CONVERSATIONS[name]))
    assert ours == theirs


def test_errors_are_redis_texts(flowcache_with_password):
    """The texts themselves, so a change in both servers' answers is noticed too."""
    ours, _ = send_until_closed(flowcache_with_password, cmd("GET", "k") + cmd("AUTH", "x") + QUIT, half_close=True)
    assert ours == (b"-NOAUTH Authentication required.\r\n"
                    b"-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n")


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_with_password(flowcache_with_password, protocol):
    redis = pytest.importorskip("redis")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    def connect(**kwargs):  # no retries: a refused login is the answer, not a hiccup
        return redis.Redis(port=flowcache_with_password, retry=Retry(NoBackoff(), 0), **kwargs)

    client = connect(password=PASSWORD, protocol=protocol)
    try:
        assert client.set("sec:py", "v") is True
        assert client.get("sec:py") == b"v"
        assert client.delete("sec:py") == 1
    finally:
        client.close()
    anonymous = connect(protocol=2)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("sec:py")
    finally:
        anonymous.close()
    wrong = connect(password="wrong", protocol=protocol)
    try:
        with pytest.raises(redis.AuthenticationError):
            wrong.ping()
    finally:
        wrong.close()


def test_hello_3_auth_logs_in(flowcache_with_password, redis_with_password):
    """HELLO's map differs in id and version; its keys and what follows it must not."""
    payload = cmd("HELLO", "3", "AUTH", "default", PASSWORD) + cmd("GET", "sec:none") + QUIT
    ours, _ = send_until_closed(flowcache_with_password, payload, half_close=True)
    theirs, _ = send_until_closed(redis_with_password, payload, half_close=True)
    assert ours.startswith(b"%7\r\n") and theirs.startswith(b"%7\r\n")
    assert ours.endswith(b"_\r\n+OK\r\n") and theirs.endswith(b"_\r\n+OK\r\n")
    for key in (b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"):
        assert b"$%d\r\n%s\r\n" % (len(key), key) in ours


# -- limits on connections, in the simulator (clients on another host) and over loopback ----------

SIM_PORT = 6379


def run_configured(settings: dict[str, str], body, seed: int = 1):
    """Run actor `body(server, net, outside)`: a server on host "cache" with `settings`;
    `outside` is another host, `net` itself is the loopback host "localhost"."""
    loop = flow.SimLoop(seed=seed)

    @flow.actor
    def main():
        net = SimNetwork(loop, latency=(0.0005, 0.005), fragment=True)
        config = Config()
        for name, value in settings.items():
            config.set(name, value)
        server = CacheServer(config, net.add_host("cache"))
        server.start("0.0.0.0", SIM_PORT)
        outside = net.add_host("clients")
        try:
            return (yield body(server, net, outside))
        finally:
            server.stop()

    return loop.run(main)


@flow.actor
def conversation(host, payload: bytes, wait: float = 1.0):
    """(what the server wrote back within `wait` simulated seconds, "eof" / "reset" / "open")."""
    conn = yield host.connect("cache", SIM_PORT)
    conn.write(payload)
    received = bytearray()
    deadline = flow.current_loop().now() + wait
    while True:
        try:
            data = yield flow.timeout(conn.read(65536), max(0.0, deadline - flow.current_loop().now()))
        except flow.TimedOut:
            conn.abort()
            return bytes(received), "open"
        except NetworkError:
            return bytes(received), "reset"
        if not data:
            conn.abort()
            return bytes(received), "eof"
        received += data


DENIED = b"-" + errors.PROTECTED_MODE_DENIED + b"\r\n"


def test_protected_mode_refuses_outside_clients():
    @flow.actor
    def body(server, net, outside):
        refused = yield conversation(outside, cmd("PING"))
        local = yield conversation(net, cmd("PING"))
        yield flow.delay(0.1)  # the server sees the local client go
        return refused, local, server.state.stats.rejected_connections, len(server.state.clients)

    refused, local, rejected, left = run_configured({"bind": "0.0.0.0"}, body)
    assert refused == (DENIED, "eof")
    assert local == (b"+PONG\r\n", "open")
    assert (rejected, left) == (1, 0)


@pytest.mark.parametrize("settings", [
    {"bind": "0.0.0.0", "protected-mode": "no"},
    {"bind": "0.0.0.0", "requirepass": PASSWORD},
    {"bind": "127.0.0.1 -::1"},  # only loopback can reach such a listener: nothing to protect
])
def test_protected_mode_off(settings):
    @flow.actor
    def body(server, net, outside):
        return (yield conversation(outside, cmd("PING")))

    expected = b"-NOAUTH Authentication required.\r\n" if "requirepass" in settings else b"+PONG\r\n"
    assert run_configured(settings, body) == (expected, "open")


def test_admission_decision_by_peer_address():
    loop = flow.SimLoop(seed=1)
    config = Config()
    config.set("bind", "0.0.0.0")
    state = ServerState(config, loop=loop)
    assert [limits.admission_refusal(state, host) for host in ("127.0.0.1", "::1", "127.0.0.2", "10.1.2.3")] == [
        None, None, None, errors.PROTECTED_MODE_DENIED]
    config.set("maxclients", "1")
    Client(state, "127.0.0.1:5000")
    assert limits.admission_refusal(state, "127.0.0.1") == errors.MAX_CLIENTS_REACHED


def test_maxclients_in_the_simulator():
    @flow.actor
    def body(server, net, outside):
        first = yield net.connect("cache", SIM_PORT)
        second = yield net.connect("cache", SIM_PORT)
        yield flow.delay(0.1)
        third = yield conversation(net, cmd("PING"))
        first.abort()
        yield flow.delay(0.1)
        fourth = yield conversation(net, cmd("PING"), wait=0.5)
        second.abort()
        return third, fourth, server.state.stats.rejected_connections

    third, fourth, rejected = run_configured({"maxclients": "2"}, body)
    assert third == (b"-ERR max number of clients reached\r\n", "eof")
    assert fourth == (b"+PONG\r\n", "open")
    assert rejected == 1


@pytest.fixture(scope="module")
def flowcache_two_clients():
    with flowcache_for_tests('maxclients = 2\nclient-output-buffer-limit = "normal 1mb 512kb 60"\n') as port:
        yield port


@pytest.fixture(scope="module")
def redis_two_clients():
    with redis_server_for_tests("--maxclients", "2", "--client-output-buffer-limit", "normal 1mb 512kb 60") as port:
        yield port


def test_maxclients_like_redis(flowcache_two_clients, redis_two_clients):
    answers = []
    for port in (flowcache_two_clients, redis_two_clients):
        with connect(port) as first, connect(port) as second:
            assert roundtrip(first, cmd("PING")) == roundtrip(second, cmd("PING")) == b"+PONG\r\n"
            answers.append(send_until_closed(port, cmd("PING")))
        assert wait_for_port_answer(port) == b"+PONG\r\n"  # room again once one leaves
    # closed with the PING unread: a reset or an end, on both
    assert [reply for reply, _ended in answers] == [b"-ERR max number of clients reached\r\n"] * 2
    assert all(ended in ("eof", "reset") for _reply, ended in answers)


def wait_for_port_answer(port: int) -> bytes:
    """A PING once the server has seen the last clients go (it closes them asynchronously)."""
    for _ in range(100):
        reply, _ended = send_until_closed(port, cmd("PING") + QUIT, half_close=True)
        if reply.startswith(b"+PONG"):
            return reply[:7]
    return reply


def test_output_buffer_limit_closes_a_non_reader_like_redis(flowcache_two_clients, redis_two_clients):
    """Over the normal class's hard limit the non-reader is dropped; the other client does not notice."""
    value = b"v" * (256 * 1024)
    for port in (flowcache_two_clients, redis_two_clients):
        with connect(port) as admin:
            assert roundtrip(admin, cmd("SET", "sec:big", value)) == b"+OK\r\n"
            hog = connect(port)
            try:
                hog.sendall(cmd("GET", "sec:big") * 64)  # 16 MiB asked for, never read
                assert wait_for_clients_count(admin, 1) == 1, f"the non-reader was not dropped (port {port})"
                assert roundtrip(admin, cmd("STRLEN", "sec:big")) == b":%d\r\n" % len(value)
            finally:
                hog.close()
            assert roundtrip(admin, cmd("DEL", "sec:big")) == b":1\r\n"


def wait_for_clients_count(admin, count: int) -> int:
    """connected_clients as INFO says, polled until it is `count` (bounded)."""
    for _ in range(200):
        info = roundtrip(admin, cmd("INFO", "clients"))
        connected = int(info.split(b"connected_clients:")[1].split(b"\r\n")[0])
        if connected == count:
            return connected
        time.sleep(0.01)
    return connected


def test_output_buffer_limit_in_the_simulator():
    value_size = 64 * 1024

    @flow.actor
    def body(server, net, outside):
        admin = RespClient((yield net.connect("cache", SIM_PORT)), raw=True)
        yield admin.call("SET", "big", b"b" * value_size)
        hog = yield net.connect("cache", SIM_PORT)
        hog.write(cmd("GET", "big") * 64)  # 4 MiB of replies, never read
        yield flow.delay(1.0)
        left = sorted(client.id for client in server.state.clients.values())
        strlen = yield admin.call("STRLEN", "big")
        hog.abort()
        admin.close()
        return left, strlen

    left, strlen = run_configured({"client-output-buffer-limit": "normal 256kb 128kb 10"}, body)
    assert left == [1]  # the admin only
    assert strlen == b":%d\r\n" % value_size


def test_idle_clients_are_closed_but_not_blocked_or_subscribed_ones():
    @flow.actor
    def body(server, net, outside):
        idle = yield net.connect("cache", SIM_PORT)
        blocked = yield net.connect("cache", SIM_PORT)
        blocked.write(cmd("BLPOP", "sec:none", "0"))
        subscriber = yield net.connect("cache", SIM_PORT)
        subscriber.write(cmd("SUBSCRIBE", "sec:news"))
        monitor = yield net.connect("cache", SIM_PORT)
        monitor.write(cmd("MONITOR"))
        busy = RespClient((yield net.connect("cache", SIM_PORT)), raw=True)
        for _ in range(8):
            yield flow.delay(0.5)
            assert (yield busy.call("PING")) == b"+PONG\r\n"
        idle_end = yield idle.read(65536)
        names = sorted(c.last_command for c in server.state.clients.values())
        for conn in (idle, blocked, subscriber, monitor):
            conn.abort()
        busy.close()
        return idle_end, names

    idle_end, names = run_configured({"timeout": "1"}, body)
    assert idle_end == b""  # closed, not reset
    assert names == ["blpop", "monitor", "ping", "subscribe"]


def test_client_list_flags_a_monitor_client():
    @flow.actor
    def body(server, net, outside):
        monitor = yield net.connect("cache", SIM_PORT)
        monitor.write(cmd("MONITOR"))
        admin = RespClient((yield net.connect("cache", SIM_PORT)))
        yield flow.delay(0.1)
        listing = yield admin.call("CLIENT", "LIST")
        monitor.abort()
        admin.close()
        return listing

    lines = bytes(run_configured({}, body)).splitlines()
    assert [line.split(b" flags=")[1].split(b" ")[0] for line in lines] == [b"O", b"N"]


def test_shutdown_reports_no_failed_actor():
    """SIGTERM stops `flowcache serve` without an orphaned accept_loop failure in its log."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flowcache", "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port)
        assert send_until_closed(port, cmd("PING") + QUIT, half_close=True)[0] == b"+PONG\r\n+OK\r\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, output
    assert "flowcache stopped" in output
    assert "no one waited" not in output, output


def test_cron_evicts_without_commands():
    """Lowering maxmemory is followed by eviction from the cron, with no command to trigger it."""
    from cache import eviction

    @flow.actor
    def body(server, net, outside):
        admin = RespClient((yield net.connect("cache", SIM_PORT)), raw=True)
        for i in range(200):
            admin.call("SET", f"sec:fill:{i}", b"x" * 1000)
        assert (yield admin.call("DBSIZE")) == b":200\r\n"
        limit = eviction.used_memory(server.state) + 50_000
        assert (yield admin.call("CONFIG", "SET", "maxmemory", str(limit))) == b"+OK\r\n"
        db = server.state.dbs[0]
        for i in range(200):  # written behind the dispatcher's back, which would evict first
            key = f"sec:more:{i}".encode()
            db.add(key, b"y" * 1000)
            db.on_key_modified(key)
        over = eviction.used_memory(server.state) - limit
        yield flow.delay(1.0)  # no commands: only the cron runs
        after = eviction.used_memory(server.state) - limit
        admin.close()
        return over, after, len(db)

    over, after, keys = run_configured({"maxmemory-policy": "allkeys-random"}, body)
    assert over > 0 and after <= 0
    assert 0 < keys < 400
