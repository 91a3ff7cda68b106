"""In-process executor for command tests, plus a real redis-server as oracle.

`Harness` runs commands through the server's own dispatcher
(`cache.dispatch.execute`: MULTI queueing, NOAUTH, stats, blocked-client
wakeups) on a ServerState built on a deterministic `flow.SimLoop`, so tests
need no sockets and time only moves when a test calls `advance`. `RedisOracle` speaks RESP to a real
redis-server so differential tests can compare exact reply bytes:

    h = Harness()
    oracle = RedisOracle(port)
    assert h.run_raw("GET", "k") == oracle.raw("GET", "k")

`Differential(port)` pairs the two (`check(*args)` asserts equal bytes).
`advance(ms)` moves the wall clock the server sees by an exact offset and
fires the loop's timers due by then (blocked clients' timeouts). A blocking
command that has to wait returns a `cache.blocking.Blocked`; its `done()`
and `result()` tell whether and how it was answered.
"""

from __future__ import annotations

import socket
from typing import Any

import flow
from cache import commands  # noqa: F401  (fills the command table)
from cache.blocking import Blocked
from cache.dispatch import execute, run_batch
from cache.state import Client, ServerState

try:
    from cache import resp as _resp
except ImportError:  # the encoder is written by another engineer
    _resp = None


def as_bytes(arg: Any) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    return str(arg).encode()


class _OffsetClock:
    """The SimLoop seen through a settable wall-clock offset (for `advance`).

    `advance` also runs the loop forward by the same time, to fire timers;
    that loop time is not counted twice in the wall clock.
    """

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self.offset_ms = 0
        self.advanced_s = 0.0  # loop time that `advance` has run

    def wall_time(self) -> float:
        loop = self._loop
        return loop.epoch + self.offset_ms / 1000.0 + (loop.now() - self.advanced_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


class Harness:
    """One server and one client, driven synchronously."""

    def __init__(self, seed: int = 1, config: Any = None) -> None:
        self.sim = flow.SimLoop(seed=seed)
        self.loop = _OffsetClock(self.sim)
        self.server = ServerState(config=config, loop=self.loop)
        self.client = Client(self.server)

    def new_client(self) -> Client:
        return Client(self.server)

    def run(self, *args: Any, client: Client | None = None) -> Any:
        """Execute one command as the server does; returns the reply value (or a Blocked)."""
        return execute(client or self.client, [as_bytes(a) for a in args])

    def run_raw(self, *args: Any, proto: int = 2, client: Client | None = None) -> bytes:
        """Execute one command and encode the reply as the wire would carry it."""
        if _resp is None:
            raise RuntimeError("cache.resp is not written yet")
        client = client or self.client
        argv = [as_bytes(a) for a in args]
        out: list[bytes] = []
        if proto == client.proto and run_batch(client, [argv], 0, out):
            return b"".join(out)  # the connection's fast path took it
        reply = execute(client, argv)
        if isinstance(reply, Blocked):
            if not reply.done():
                raise RuntimeError(f"{args!r} blocked; use run() and the Blocked it returns")
            reply = reply.result()
        return _resp.encode(reply, proto)

    def advance(self, ms: int) -> None:
        """Move virtual wall time forward by `ms` milliseconds, firing timers due by then."""
        clock = self.loop
        clock.offset_ms += ms
        sim = self.sim
        before = sim.now()
        if ms > 0:
            sim.run(lambda: sim.delay(ms / 1000.0))
        clock.advanced_s += sim.now() - before
        self.server.refresh_clock()

    def pushes(self, client: Client | None = None) -> list[Any]:
        """Push messages (pub/sub) sent to a client since the last call, oldest first."""
        client = client or self.client
        sent, client.pushes = client.pushes, []
        return sent

    @property
    def now_ms(self) -> int:
        self.server.refresh_clock()
        return self.server.now_ms


# -- a minimal RESP client for the oracle ------------------------------------


class RedisOracle:
    """A blocking RESP connection to a real redis-server; replies as raw bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self) -> None:
        self.sock.close()

    @staticmethod
    def encode_command(args: tuple) -> bytes:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = as_bytes(arg)
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

    def raw(self, *args: Any) -> bytes:
        """Send one command and return its complete reply, byte for byte."""
        self.sock.sendall(self.encode_command(args))
        return self.read_raw()

    def call(self, *args: Any) -> Any:
        """Send one command and return the decoded reply (errors as ReplyError values)."""
        return parse_reply(self.raw(*args))

    def read_raw(self) -> bytes:
        start = self.pos
        self._skip_value()
        out = self.buf[start:self.pos]
        self.buf = self.buf[self.pos:]
        self.pos = 0
        return out

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _need(self, n: int) -> None:
        while len(self.buf) - self.pos < n:
            self._fill()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("redis-server closed the connection")
        self.buf += chunk

    def _skip_value(self) -> None:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in b"$=!":
            n = int(rest)
            if n >= 0:
                self._need(n + 2)
                self.pos += n + 2
        elif kind in b"*~>%|":
            n = int(rest)
            if kind in b"%|":
                n *= 2
            for _ in range(max(n, 0)):
                self._skip_value()
            if kind == b"|":
                self._skip_value()


class ReplyError(bytes):
    """An error reply decoded by `parse_reply`."""


def parse_reply(data: bytes) -> Any:
    """Decode one complete RESP2/RESP3 reply into Python values."""
    value, end = _parse(data, 0)
    if end != len(data):
        raise ValueError(f"trailing bytes after reply: {data[end:]!r}")
    return value


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    end = data.index(b"\r\n", pos)
    kind, rest = data[pos:pos + 1], data[pos + 1:end]
    pos = end + 2
    if kind == b"+":
        return rest, pos
    if kind == b"-":
        return ReplyError(rest), pos
    if kind == b":":
        return int(rest), pos
    if kind == b",":
        return float(rest), pos
    if kind == b"#":
        return rest == b"t", pos
    if kind == b"_":
        return None, pos
    if kind in (b"$", b"=", b"!"):
        n = int(rest)
        if n < 0:
            return None, pos
        return data[pos:pos + n], pos + n + 2
    if kind in (b"*", b"~", b">"):
        n = int(rest)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = _parse(data, pos)
            items.append(item)
        return items, pos
    if kind == b"%":
        pairs = []
        for _ in range(int(rest)):
            k, pos = _parse(data, pos)
            v, pos = _parse(data, pos)
            pairs.append((k, v))
        return pairs, pos
    raise ValueError(f"unknown RESP type {kind!r}")


class Differential:
    """One Harness and one real redis-server fed the same commands, replies compared."""

    def __init__(self, port: int, seed: int = 1) -> None:
        self.harness = Harness(seed)
        self.oracle = RedisOracle(port)
        self.oracle.call("FLUSHALL")
        self.oracle.call("SELECT", "0")
        self.sync_clock()

    def sync_clock(self) -> None:
        """Set the harness's wall clock to the real server's, so absolute times (EXAT,
        EXPIREAT) mean the same on both sides; relative ones drift as real time passes."""
        seconds, micros = self.oracle.call("TIME")
        real_ms = int(seconds) * 1000 + int(micros) // 1000
        self.harness.loop.offset_ms += real_ms - self.harness.now_ms
        self.harness.server.refresh_clock()

    def close(self) -> None:
        self.oracle.close()

    def both(self, *args: Any, proto: int = 2) -> tuple[bytes, bytes]:
        """(flowcache reply bytes, redis reply bytes) for one command."""
        return self.harness.run_raw(*args, proto=proto), self.oracle.raw(*args)

    def check(self, *args: Any) -> bytes:
        """Run on both sides and assert byte-identical replies; returns the reply."""
        ours, theirs = self.both(*args)
        assert ours == theirs, f"{args!r}: flowcache {ours!r} != redis {theirs!r}"
        return ours
