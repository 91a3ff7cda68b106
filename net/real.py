"""RealNetwork: non-blocking TCP sockets driven by RealLoop's selector.

The hot path is a request/reply server: a `read()` is pending when the
request arrives, so the bytes go straight from `recv` to the waiting actor.
A `write()` is queued and sent with one `send` when the loop is about to
wait for I/O again (`RealLoop.before_poll`), as Redis writes replies in
its beforeSleep: every connection served in one turn of the loop answers
in one burst, so a client with many connections wakes once for many
replies, not once per reply. Write interest exists only while the socket
cannot take the output. When no read is pending, incoming bytes are buffered up to
READ_BUFFER_LIMIT, then reading stops so TCP's window pushes back.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections import deque
from itertools import islice
from typing import Any

from flow import Future, current_loop
from flow.errors import FlowError
from flow.future import ERROR, PENDING, VALUE
from net.base import (
    HIGH_WATER,
    AddressInUse,
    ConnectionClosed,
    ConnectionRefused,
    ConnectionReset,
    ConnectionTimedOut,
    Connection,
    Listener,
    Network,
    NetworkError,
)

READ_SIZE = 65536  # the least one wake-up asks recv for
READ_BUFFER_LIMIT = 256 * 1024  # buffered without a pending read before reading pauses
ACCEPT_BURST = 128  # accepts per wake-up of a listener
ACCEPT_QUEUE_LIMIT = 1024  # accepted but not yet taken before accepting pauses
LISTEN_BACKLOG = 4096
IOV_MAX = 64  # buffers per sendmsg when output is queued
CLOSE_LINGER = 30.0  # seconds close() keeps flushing to a peer that does not read

_AGAIN = (BlockingIOError, InterruptedError)
_new_future = object.__new__


def _ready(value: Any) -> Future:
    fut = _new_future(Future)
    fut._state = VALUE
    fut._result = value
    fut._cb = None
    return fut


_READY = Future.ready(None)
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def _connection_error(exc: OSError) -> NetworkError:
    """An OSError on an established connection, as a flow error."""
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return ConnectionTimedOut(str(exc))
    return ConnectionReset(str(exc) or "connection reset")


def _connect_error(code: int, host: str, port: int) -> NetworkError:
    text = f"{host}:{port}: {errno.errorcode.get(code, code)} {os.strerror(code)}"
    if code == errno.ETIMEDOUT:
        return ConnectionTimedOut(text)
    return ConnectionRefused(text)


def _resolve(host: str) -> tuple[int, str]:
    """(address family, numeric address); empty means loopback."""
    if not host or host == "localhost":
        return socket.AF_INET, "127.0.0.1"
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return family, host
        except OSError:
            pass
    try:
        info = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionRefused(f"cannot resolve {host!r}: {exc}") from None
    family, _type, _proto, _name, sockaddr = info[0]
    return family, sockaddr[0]


class RealConnection(Connection):
    """One TCP socket. Reads and writes are plain method calls on bound socket methods."""

    __slots__ = (
        "_loop", "_sock", "_fd", "_recv", "_send", "_rbuf", "_read_waiter", "_read_max", "_reading",
        "_eof", "_error", "_closed", "_wbuf", "_wlen", "_drain_waiter", "_shut_pending", "_write_done",
        "_on_readable_cb", "_on_writable_cb", "_net", "peer", "_local", "high_water",
        "_flush_cb", "_writing",
    )

    def __init__(self, net: "RealNetwork", sock: socket.socket, peer: Any) -> None:
        self._net = net
        self._loop = net.loop
        self._sock = sock
        self._fd = sock.fileno()
        self._recv = sock.recv
        self._send = sock.send
        self._rbuf = bytearray()
        self._read_waiter: Future | None = None
        self._read_max = READ_SIZE
        self._reading = False
        self._eof = False
        self._error: BaseException | None = None
        self._closed = False
        self._wbuf: deque = deque()
        self._wlen = 0
        self._drain_waiter: Future | None = None
        self._shut_pending = False
        self._write_done = False  # shut down, closed or failed: write() drops its bytes
        self._on_readable_cb = self._on_readable
        self._on_writable_cb = self._on_writable
        self._flush_cb = self._flush
        self._writing = False  # write interest registered: the socket was full
        self.peer = (peer[0], peer[1]) if peer else ("", 0)
        self._local: tuple[str, int] | None = None
        self.high_water = HIGH_WATER
        net._connections[self._fd] = self

    @property
    def local(self) -> tuple[str, int]:
        if self._local is None:
            try:
                addr = self._sock.getsockname()
                self._local = (addr[0], addr[1])
            except OSError:
                self._local = ("", 0)
        return self._local

    def fileno(self) -> int:
        return self._fd

    # -- reading ----------------------------------------------------------
    def read(self, max_bytes: int = 65536) -> Future:
        rbuf = self._rbuf
        if rbuf:
            if len(rbuf) <= max_bytes:
                data = bytes(rbuf)
                rbuf.clear()
            else:
                data = bytes(rbuf[:max_bytes])
                del rbuf[:max_bytes]
            if not self._reading and not self._eof and self._error is None and not self._closed:
                self._reading = True
                self._loop.add_reader(self._fd, self._on_readable_cb)
            return _ready(data)
        if not self._reading:  # reading on means open, no EOF and no error: skip asking
            if self._closed:
                return Future.failed(ConnectionClosed("read() after close()"))
            if self._eof:  # as recv() does: after the peer's FIN, a later reset no longer shows on read
                return _ready(b"")
            if self._error is not None:
                return Future.failed(self._error)
            self._reading = True
            self._loop.add_reader(self._fd, self._on_readable_cb)
        waiter = self._read_waiter
        if waiter is not None and waiter._state == PENDING:
            raise FlowError("read() while another read() on this connection is pending")
        fut = _new_future(Future)
        fut._state = PENDING
        fut._result = None
        fut._cb = None
        self._read_waiter = fut
        self._read_max = max_bytes
        return fut

    def _on_readable(self) -> None:
        max_bytes = self._read_max
        try:
            data = self._recv(max_bytes if max_bytes > READ_SIZE else READ_SIZE)
        except _AGAIN:
            return
        except OSError as exc:
            self._fail(_connection_error(exc))
            return
        waiter = self._read_waiter
        if data:
            if waiter is not None:
                self._read_waiter = None
                if waiter._state == PENDING:  # not cancelled
                    if len(data) > max_bytes:
                        self._rbuf += data[max_bytes:]
                        data = data[:max_bytes]
                    waiter._set(VALUE, data)
                    return
            rbuf = self._rbuf
            rbuf += data
            if len(rbuf) >= READ_BUFFER_LIMIT and self._reading:
                self._reading = False
                self._loop.remove_reader(self._fd)
            return
        self._eof = True
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)
        if waiter is not None:
            self._read_waiter = None
            if waiter._state == PENDING:
                waiter._set(VALUE, b"")

    # -- writing ----------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._write_done or not data:
            return
        if data.__class__ is not bytes:
            data = bytes(data)  # the caller may reuse its buffer
        if self._wlen == 0:  # else a flush or the writer will send it after what is queued
            self._loop.before_poll(self._flush_cb)
        self._wbuf.append(data)
        self._wlen += len(data)

    def _flush(self) -> None:
        """Send what was written this turn of the loop; wait for writability if it does not fit."""
        if not self._wlen or self._sock is None or self._writing:
            return
        self._on_writable()
        if self._wlen and self._sock is not None:
            self._writing = True
            self._loop.add_writer(self._fd, self._on_writable_cb)

    def _on_writable(self) -> None:
        wbuf = self._wbuf
        try:
            if len(wbuf) == 1:
                sent = self._send(wbuf[0])
            else:
                sent = self._sock.sendmsg(list(islice(wbuf, IOV_MAX)))
        except _AGAIN:
            return
        except OSError as exc:
            self._fail(_connection_error(exc))
            return
        wlen = self._wlen = self._wlen - sent
        if not wlen:  # all of it went (the usual case)
            wbuf.clear()
        while wlen and sent:
            head = wbuf[0]
            size = len(head)
            if sent >= size:
                wbuf.popleft()
                sent -= size
            else:
                wbuf[0] = memoryview(head)[sent:]
                break
        if not wlen:
            if self._writing:
                self._writing = False
                self._loop.remove_writer(self._fd)
            if self._shut_pending:
                self._shutdown_now()
            if self._closed:
                self._release()
                return
        waiter = self._drain_waiter
        if waiter is not None and self._wlen <= self.high_water:
            self._drain_waiter = None
            if waiter._state == PENDING:
                waiter._set(VALUE, None)

    def drain(self) -> Future:
        if self._error is not None:
            return Future.failed(self._error)
        if self._closed:
            return Future.failed(ConnectionClosed("drain() after close()"))
        if self._wlen <= self.high_water:
            return _READY
        waiter = self._drain_waiter
        if waiter is None or waiter._state != PENDING:
            waiter = self._drain_waiter = Future()
        return waiter

    def pending_output(self) -> int:
        return self._wlen

    def shutdown_write(self) -> None:
        if self._write_done:
            return
        self._write_done = True
        if self._wlen:
            self._shut_pending = True
        else:
            self._shutdown_now()

    def _shutdown_now(self) -> None:
        self._shut_pending = False
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    # -- ending -----------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._write_done = True
        self._rbuf.clear()
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)
        if self._wlen == 0 or self._error is not None:
            self._release()
        else:
            self._loop.call_at(self._loop.now() + CLOSE_LINGER, self._linger_expired, None)
        self._fail_waiters(ConnectionClosed("connection closed"))

    def _linger_expired(self, _arg: Any) -> None:
        if self._sock is not None:
            self.abort()

    def abort(self) -> None:
        sock = self._sock
        self._closed = True
        self._write_done = True
        self._wbuf.clear()
        self._wlen = 0
        self._rbuf.clear()
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            except OSError:
                pass
            self._release()
        self._fail_waiters(ConnectionClosed("connection aborted"))

    def _release(self) -> None:
        """Unregister and close the socket (idempotent)."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._reading = False
        self._writing = False
        loop = self._loop
        loop.remove_reader(self._fd)
        loop.remove_writer(self._fd)
        self._net._connections.pop(self._fd, None)
        sock.close()

    def _fail(self, error: NetworkError) -> None:
        if self._error is not None:
            return
        self._error = error
        self._write_done = True
        self._wbuf.clear()
        self._wlen = 0
        self._release()
        self._fail_waiters(error)

    def _fail_waiters(self, error: BaseException) -> None:
        waiter = self._read_waiter
        if waiter is not None:
            self._read_waiter = None
            if waiter._state == PENDING:
                waiter._set(ERROR, error)
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if waiter._state == PENDING:
                waiter._set(ERROR, error)

    def __repr__(self) -> str:
        return f"<RealConnection fd={self._fd} peer={self.peer}>"


class RealListener(Listener):
    __slots__ = ("_net", "_sock", "_fd", "_queue", "_waiters", "_accepting", "_closed", "address",
                 "_on_readable_cb")

    def __init__(self, net: "RealNetwork", sock: socket.socket) -> None:
        self._net = net
        self._sock = sock
        self._fd = sock.fileno()
        self._queue: deque[RealConnection] = deque()
        self._waiters: deque[Future] = deque()
        self._accepting = False
        self._closed = False
        addr = sock.getsockname()
        self.address = (addr[0], addr[1])
        self._on_readable_cb = self._on_readable
        self._resume()

    def _resume(self) -> None:
        if not self._accepting and not self._closed:
            self._accepting = True
            self._net.loop.add_reader(self._fd, self._on_readable_cb)

    def _pause(self) -> None:
        if self._accepting:
            self._accepting = False
            self._net.loop.remove_reader(self._fd)

    def accept(self) -> Future:
        if self._queue:
            conn = self._queue.popleft()
            self._resume()
            return _ready(conn)
        if self._closed:
            return Future.failed(ConnectionClosed("accept() on a closed listener"))
        fut = Future()
        self._waiters.append(fut)
        self._resume()
        return fut

    def _on_readable(self) -> None:
        raw_accept = self._sock._accept
        family = self._sock.family
        net = self._net
        waiters = self._waiters
        for _ in range(ACCEPT_BURST):
            try:
                fd, addr = raw_accept()
            except _AGAIN:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: stop listening a moment instead of spinning.
                    self._pause()
                    net.loop.call_at(net.loop.now() + 0.1, self._retry, None)
                    return
                continue  # ECONNABORTED and friends: that client is gone, try the next
            try:
                sock = socket.socket(family, socket.SOCK_STREAM, 0, fileno=fd)
            except OSError:
                os.close(fd)
                continue
            try:
                sock.setblocking(False)
            except OSError:
                sock.close()
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            conn = RealConnection(net, sock, addr)
            while waiters:
                waiter = waiters.popleft()
                if waiter._state == PENDING:
                    waiter._set(VALUE, conn)
                    break
            else:
                self._queue.append(conn)
                if len(self._queue) >= ACCEPT_QUEUE_LIMIT:
                    self._pause()
                    return
            if self._closed:
                return

    def _retry(self, _arg: Any) -> None:
        self._resume()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pause()
        self._net._listeners.pop(self._fd, None)
        self._sock.close()
        while self._queue:
            self._queue.popleft().abort()
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter._state == PENDING:
                waiter._set(ERROR, ConnectionClosed("listener closed"))

    def __repr__(self) -> str:
        return f"<RealListener {self.address}>"


class _ConnectFuture(Future):
    """A connect in progress; cancelling it closes the socket."""

    __slots__ = ("_net", "_sock", "_fd", "_target")

    def _on_cancel(self) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        sock = self._sock
        if sock is not None:
            self._sock = None
            self._net.loop.remove_writer(self._fd)
            sock.close()

    def _on_writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._net.loop.remove_writer(self._fd)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._sock = None
            sock.close()
            self._set(ERROR, _connect_error(code, *self._target))
            return
        self._sock = None
        try:
            peer = sock.getpeername()
        except OSError as exc:
            sock.close()
            self._set(ERROR, _connect_error(exc.errno or errno.ECONNREFUSED, *self._target))
            return
        self._set(VALUE, RealConnection(self._net, sock, peer))


class RealNetwork(Network):
    """TCP on the current RealLoop. Binds to loopback when the host is empty."""

    def __init__(self, loop: Any = None) -> None:
        self.loop = loop if loop is not None else current_loop()
        if self.loop.is_simulated:
            raise FlowError("RealNetwork needs a RealLoop; a SimLoop uses SimNetwork")
        self._connections: dict[int, RealConnection] = {}
        self._listeners: dict[int, RealListener] = {}
        self.loop.services["network"] = self

    def listen(self, host: str = "127.0.0.1", port: int = 0) -> RealListener:
        family, address = _resolve(host) if host not in ("0.0.0.0", "::") else (
            socket.AF_INET6 if host == "::" else socket.AF_INET, host)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise NetworkError(f"cannot listen on {host}:{port}: {exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(f"{host}:{port} is already in use") from None
            raise NetworkError(f"cannot listen on {host}:{port}: {exc}") from None
        listener = RealListener(self, sock)
        self._listeners[listener._fd] = listener
        return listener

    def connect(self, host: str, port: int) -> Future:
        try:
            family, address = _resolve(host)
        except NetworkError as exc:
            return Future.failed(exc)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:  # out of descriptors or buffers
            return Future.failed(ConnectionRefused(f"{host}:{port}: cannot make a socket: {exc}"))
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        code = sock.connect_ex((address, port))
        if code == 0:
            try:
                peer = sock.getpeername()
            except OSError as exc:
                sock.close()
                return Future.failed(_connect_error(exc.errno or errno.ECONNREFUSED, host, port))
            return _ready(RealConnection(self, sock, peer))
        if code not in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
            sock.close()
            return Future.failed(_connect_error(code, host, port))
        fut = _ConnectFuture()
        fut._net = self
        fut._sock = sock
        fut._fd = sock.fileno()
        fut._target = (host, port)
        self.loop.add_writer(fut._fd, fut._on_writable)
        return fut

    def close(self) -> None:
        """Close every listener and abort every connection this network still holds."""
        for listener in list(self._listeners.values()):
            listener.close()
        for conn in list(self._connections.values()):
            conn.abort()

    def stats(self) -> dict[str, int]:
        return {"connections": len(self._connections), "listeners": len(self._listeners)}
