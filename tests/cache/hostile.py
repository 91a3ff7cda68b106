"""Hostile clients, written twice over the same bytes: real sockets and simulated connections.

The robustness suite sends each byte sequence to a real redis-server (the
oracle), to `flowcache serve` in its own process, and to a `CacheServer`
on the simulated network, and compares what comes back before the server
closes. Real-socket helpers are plain blocking code (tests may use
sockets); simulated ones are flow actors.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from dataclasses import dataclass

import flow
from cache.client import RespClient, encode_command
from cache.config import Config
from cache.server import CacheServer
from net import NetworkError, SimNetwork

GENEROUS = 5.0  # seconds: "at once" for a fresh client, and the wait for a close that must come
MB = 1 << 20


@dataclass(frozen=True)
class Case:
    """Bytes a client sends, and everything Redis 7.0.15 writes back before closing the connection."""

    name: str
    payload: bytes
    reply: bytes


def cmd(*args: bytes | str) -> bytes:
    return encode_command(args)


QUIT = b"QUIT\r\n"  # ends the cases whose bytes alone leave the connection open
INVALID_BULK = b"-ERR Protocol error: invalid bulk length\r\n"
INVALID_MULTIBULK = b"-ERR Protocol error: invalid multibulk length\r\n"

PROTOCOL_CASES = (
    # huge and negative bulk headers
    Case("bulk-2^31", b"*1\r\n$2147483648\r\n", INVALID_BULK),
    Case("bulk-negative", b"*1\r\n$-5\r\n", INVALID_BULK),
    Case("bulk-null-in-request", b"*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n", b"+PONG\r\n" + INVALID_BULK),
    Case("bulk-over-proto-max", b"*1\r\n$536870913\r\n", INVALID_BULK),
    Case("bulk-over-llong", b"*1\r\n$9223372036854775808\r\n", INVALID_BULK),
    Case("bulk-30-digits", b"*1\r\n$" + b"9" * 30 + b"\r\n", INVALID_BULK),
    Case("bulk-not-a-number", b"*1\r\n$abc\r\n", INVALID_BULK),
    Case("bulk-leading-zero", b"*1\r\n$04\r\nPING\r\n", INVALID_BULK),
    Case("bulk-leading-space", b"*1\r\n$ 4\r\nPING\r\n", INVALID_BULK),
    Case("bulk-count-too-long", b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
    # invalid and huge multibulk headers
    Case("multibulk-2^31", b"*2147483648\r\n", INVALID_MULTIBULK),
    Case("multibulk-not-a-number", b"*abc\r\n", INVALID_MULTIBULK),
    Case("multibulk-plus-sign", b"*+1\r\n", INVALID_MULTIBULK),
    Case("multibulk-leading-zero", b"*01\r\n$4\r\nPING\r\n", INVALID_MULTIBULK),
    Case("multibulk-count-too-long", b"*1" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    Case("multibulk-expected-dollar", b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    # counts Redis 7.0 accepts, shown by the error at the malformed bulk that follows
    Case("multibulk-1048577-accepted", b"*1048577\r\n$4\r\nPING\r\n$x\r\n", INVALID_BULK),
    Case("multibulk-int-max-accepted", b"*2147483647\r\n$4\r\nPING\r\n$-1\r\n", INVALID_BULK),
    # headers that are no error at all
    Case("multibulk-negative-ignored", b"*-5\r\nPING\r\n" + QUIT, b"+PONG\r\n+OK\r\n"),
    Case("multibulk-zero-ignored", b"*0\r\n" + cmd("PING") + QUIT, b"+PONG\r\n+OK\r\n"),
    Case("bulk-header-as-inline", b"$2147483648\r\n" + QUIT,
         b"-ERR unknown command '$2147483648', with args beginning with: \r\n+OK\r\n"),
    Case("bulk-bad-terminator", b"*1\r\n$4\r\nPINGXX" + cmd("PING") + QUIT, b"+PONG\r\n+PONG\r\n+OK\r\n"),
    # inline
    Case("inline-unbalanced-quotes", b'ECHO "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    Case("inline-nul-hides-newline", b"\x00PING\r\n" + b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
)

# Redis formats names and arguments into these errors with C's %s, which stops at a NUL byte.
_UNKNOWN = b"-ERR unknown command '%s', with args beginning with: %s\r\n"
NUL_IN_ERROR_CASES = (
    Case("unknown-command-nul-in-arg", cmd("NOSUCH", "a\x00b", "c") + QUIT,
         _UNKNOWN % (b"NOSUCH", b"'a' 'c' ") + b"+OK\r\n"),
    Case("unknown-command-nul-in-name", cmd("NO\x00SUCH", "x") + QUIT, _UNKNOWN % (b"NO", b"'x' ") + b"+OK\r\n"),
    Case("unknown-command-nul-at-128", cmd("NOSUCH", "x" * 120, "y\x00z", "w") + QUIT,
         _UNKNOWN % (b"NOSUCH", b"'" + b"x" * 120 + b"' 'y' 'w' ") + b"+OK\r\n"),
    Case("unknown-subcommand-nul", cmd("CONFIG", "x\x00y") + QUIT,
         b"-ERR unknown subcommand 'x'. Try CONFIG HELP.\r\n+OK\r\n"),
)

INLINE_12MB = b"A" * (12 * MB)  # no newline anywhere
TOO_BIG_INLINE = b"-ERR Protocol error: too big inline request\r\n"


def conversation(prefix: str) -> list[bytes]:
    """A full pipelined conversation, one request per item, ending with QUIT."""
    k, n = f"{prefix}:k", f"{prefix}:n"
    return [
        cmd("DEL", k, n),
        cmd("SET", k, "hello"),
        cmd("GET", k),
        cmd("APPEND", k, " world"),
        b"INCR " + n.encode() + b"\r\n",
        cmd("INCR", n),
        cmd("INCRBY", n, "40"),
        cmd("ECHO", b"bin\r\n\x00ary"),
        cmd("ECHO", ""),
        b'ECHO "quoted \\x41 arg" \'single\'\r\n',
        b"\r\n",
        b"PING\n",
        cmd("MGET", k, n, f"{prefix}:missing"),
        cmd("GETRANGE", k, "0", "4"),
        cmd("NOSUCHCOMMAND", "x"),
        cmd("GET"),
        cmd("DEL", k, n),
        QUIT,
    ]


# -- real sockets ----------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=GENEROUS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_until_closed(port: int, payload: bytes, *, byte_by_byte: bool = False,
                      half_close: bool = False, timeout: float = GENEROUS) -> tuple[bytes, str]:
    """Write `payload` while reading; (everything read, how it ended: "eof", "reset" or "open").

    Reading while writing matters: a server that answers and closes before
    the payload is all sent resets the connection, and the answer must have
    been read by then. `half_close` sends FIN after the payload, which makes
    Redis (and flowcache) close once it has answered what it could.
    """
    sock = connect(port)
    sock.setblocking(False)
    view = memoryview(payload)
    received = bytearray()
    ended = "open"
    deadline = time.monotonic() + timeout
    if not view and half_close:
        sock.shutdown(socket.SHUT_WR)
    poller = select.poll()  # not select(): descriptors may be above FD_SETSIZE here
    try:
        while time.monotonic() < deadline:
            poller.register(sock, select.POLLIN | (select.POLLOUT if view else 0))
            events = dict(poller.poll(200)).get(sock.fileno(), 0)
            readable = events & (select.POLLIN | select.POLLHUP | select.POLLERR)
            writable = events & select.POLLOUT
            if writable:
                try:
                    sent = sock.send(view[:1] if byte_by_byte else view[:256 * 1024])
                    view = view[sent:]
                    if not view and half_close:
                        sock.shutdown(socket.SHUT_WR)
                except BlockingIOError:
                    pass
                except OSError:
                    view = view[:0]  # the server closed on us; what it said is still to be read
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    ended = "reset"
                    break
                if not data:
                    ended = "eof"
                    break
                received += data
    finally:
        sock.close()
    return bytes(received), ended


def readable(socks: list[socket.socket]) -> list[socket.socket]:
    """The sockets with something to read (or an end) right now."""
    poller = select.poll()
    by_fd = {sock.fileno(): sock for sock in socks}
    for sock in socks:
        poller.register(sock, select.POLLIN)
    return [by_fd[fd] for fd, _events in poller.poll(0)]


def roundtrip(sock: socket.socket, request: bytes) -> bytes:
    """Send one request and read one complete reply line or bulk (enough for these tests)."""
    sock.sendall(request)
    return read_reply(sock)


def read_reply(sock: socket.socket) -> bytes:
    """One RESP2 reply of a simple kind (+, -, :, or $ bulk), read off a blocking socket."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    if data[:1] == b"$" and not data.startswith(b"$-1"):
        size = int(data[1:data.index(b"\r\n")])
        total = data.index(b"\r\n") + 2 + size + 2
        while len(data) < total:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed inside a bulk after {len(data)} bytes")
            data += chunk
    return data


def fresh_ping(port: int) -> bytes:
    """What a brand-new client gets for PING, within the generous bound."""
    with connect(port) as sock:
        return roundtrip(sock, cmd("PING"))


def info_field(port: int, section: str, field: str) -> bytes:
    with connect(port) as sock:
        text = roundtrip(sock, cmd("INFO", section))
    for line in text.split(b"\r\n"):
        if line.startswith(field.encode() + b":"):
            return line.split(b":", 1)[1]
    raise KeyError(field)


def wait_for_clients(port: int, count: int, timeout: float = GENEROUS) -> int:
    """Poll INFO until connected_clients (the poller included) is `count`; the last value seen."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        seen = int(info_field(port, "clients", "connected_clients"))
        if seen == count:
            break
        time.sleep(0.05)
    return seen


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- the simulated network --------------------------------------------------------------


class SimWorld:
    """A CacheServer on host "cache" of a SimNetwork that fragments writes; clients on host "clients"."""

    PORT = 6379

    def __init__(self, loop: flow.SimLoop) -> None:
        self.loop = loop
        self.net = SimNetwork(loop, latency=(0.0005, 0.005), fragment=True)
        self.server = CacheServer(Config(), self.net.add_host("cache"))
        self.server.start("0.0.0.0", self.PORT)
        self.clients = self.net.add_host("clients")

    def connect(self) -> flow.Future:
        return self.clients.connect("cache", self.PORT)

    @property
    def state(self):
        return self.server.state


def run_sim(body, seed: int = 1):
    """Run actor `body(world)` on a fresh SimLoop with a fresh server; its result."""
    loop = flow.SimLoop(seed=seed)

    @flow.actor
    def main():
        world = SimWorld(loop)
        try:
            return (yield body(world))
        finally:
            world.server.stop()

    return loop.run(main)


@flow.actor
def sim_send_until_closed(world: SimWorld, payload: bytes, byte_by_byte: bool = False,
                          half_close: bool = False, limit: float = 60.0):
    """The simulated twin of `send_until_closed`: (bytes read, "eof" / "reset" / "open")."""
    conn = yield world.connect()
    if byte_by_byte:
        for i in range(len(payload)):
            conn.write(payload[i:i + 1])
            yield flow.delay(0.0002)  # each byte its own segment
    else:
        conn.write(payload)
    if half_close:
        conn.shutdown_write()
    received = bytearray()
    deadline = world.loop.now() + limit
    ended = "open"
    while True:
        try:
            data = yield flow.timeout(conn.read(65536), max(0.0, deadline - world.loop.now()))
        except flow.TimedOut:
            break
        except NetworkError:
            ended = "reset"
            break
        if not data:
            ended = "eof"
            break
        received += data
    conn.abort()
    return bytes(received), ended


@flow.actor
def sim_fresh_ping(world: SimWorld, bound: float = GENEROUS):
    """A brand-new simulated client's PING reply, or flow.TimedOut after `bound` simulated seconds."""
    client = RespClient((yield flow.timeout(world.connect(), bound)), raw=True)
    try:
        return (yield flow.timeout(client.call("PING"), bound))
    finally:
        client.close()
