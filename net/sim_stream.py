"""One end of a simulated connection, and the pipe that carries its output.

A pipe is a queue of (arrival time, payload) segments towards the other
end, with one loop entry armed for its head. When it fires, every due
segment is handed over at once, unless a clog holds the path (re-armed
at the clog's end) or a partition stalls it (re-armed on heal). A pump,
run once per instant in which something was written, moves pending
output into the pipe as far as the receiver's window allows; the
receiver's reads reopen the window one latency later.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from flow import Future, buggify, trace
from flow.errors import FlowError
from flow.future import ERROR, PENDING, VALUE
from flow.loop import TaskPriority
from net.base import HIGH_WATER, ConnectionClosed, ConnectionReset, Connection

INF = float("inf")
FIN = object()  # segment payload markers
RST = object()
READ_PRIORITY = TaskPriority.READ_SOCKET
PUMP_PRIORITY = TaskPriority.DEFAULT_YIELD
_new_future = object.__new__


def ready_future(value: Any) -> Future:
    fut = _new_future(Future)
    fut._state = VALUE
    fut._result = value
    fut._cb = None
    return fut


def pending_future() -> Future:
    fut = _new_future(Future)
    fut._state = PENDING
    fut._result = None
    fut._cb = None
    return fut


READY = Future.ready(None)


class SimConnection(Connection):
    """One end of a simulated connection, and the pipe carrying its output to the other end."""

    __slots__ = (
        "net", "host", "other", "id", "peer", "local", "high_water",
        # reading
        "_rbuf", "_read_waiter", "_read_max", "_eof", "_error", "_closed",
        # writing
        "_out", "_drain_waiter", "_fin_pending", "_fin_sent", "_dead", "_pump_scheduled", "_window_blocked",
        "_pump_cb",
        # the pipe towards `other`
        "_segs", "_in_flight", "_last_arrival", "_gen", "_armed", "_deliver_cb",
    )

    def __init__(self, net: Any, host: Any, local_port: int) -> None:
        self.net = net
        self.host = host
        self.other: SimConnection = None  # type: ignore[assignment]
        net._next_id += 1
        self.id = net._next_id
        self.local = (host.name, local_port)
        self.peer = ("", 0)
        self.high_water = HIGH_WATER
        self._rbuf = bytearray()
        self._read_waiter: Future | None = None
        self._read_max = 65536
        self._eof = False
        self._error: BaseException | None = None
        self._closed = False
        self._out = bytearray()
        self._drain_waiter: Future | None = None
        self._fin_pending = False
        self._fin_sent = False
        self._dead = False  # reset or aborted: nothing more goes out
        self._pump_scheduled = False
        self._window_blocked = False
        self._pump_cb = self._pump
        self._segs: deque[tuple[float, bytes]] = deque()
        self._in_flight = 0
        self._last_arrival = 0.0
        self._gen = 0
        self._armed = False
        self._deliver_cb = self._deliver
        host._endpoints[self.id] = self

    # -- reading ----------------------------------------------------------
    def read(self, max_bytes: int = 65536) -> Future:
        rbuf = self._rbuf
        if rbuf and not self._closed:
            if len(rbuf) <= max_bytes:
                data = bytes(rbuf)
                rbuf.clear()
            else:
                data = bytes(rbuf[:max_bytes])
                del rbuf[:max_bytes]
            sender = self.other
            if sender._window_blocked and not sender._pump_scheduled:
                sender._schedule_ack()
            return ready_future(data)
        if self._closed:
            return Future.failed(ConnectionClosed("read() after close()"))
        if self._eof:  # as on Linux: after the peer's FIN, a later reset no longer shows on read
            return ready_future(b"")
        if self._error is not None:
            return Future.failed(self._error)
        waiter = self._read_waiter
        if waiter is not None and waiter._state == PENDING:
            raise FlowError("read() while another read() on this connection is pending")
        fut = self._read_waiter = pending_future()
        self._read_max = max_bytes
        return fut

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is None:
            return
        if waiter._state != PENDING:
            self._read_waiter = None
            return
        rbuf = self._rbuf
        if rbuf:
            max_bytes = self._read_max
            if len(rbuf) <= max_bytes:
                data = bytes(rbuf)
                rbuf.clear()
            else:
                data = bytes(rbuf[:max_bytes])
                del rbuf[:max_bytes]
            self._read_waiter = None
            waiter._set(VALUE, data)
        elif self._eof:
            self._read_waiter = None
            waiter._set(VALUE, b"")
        elif self._error is not None:
            self._read_waiter = None
            waiter._set(ERROR, self._error)

    # -- writing ----------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closed or self._fin_pending or self._dead:
            return
        self._out += data
        if not self._pump_scheduled:
            self._pump_scheduled = True
            self.net.loop.call_soon(self._pump_cb, None, PUMP_PRIORITY)

    def drain(self) -> Future:
        if self._error is not None:
            return Future.failed(self._error)
        if self._closed:
            return Future.failed(ConnectionClosed("drain() after close()"))
        if len(self._out) <= self.high_water:
            return READY
        waiter = self._drain_waiter
        if waiter is None or waiter._state != PENDING:
            waiter = self._drain_waiter = pending_future()
        return waiter

    def pending_output(self) -> int:
        return len(self._out)

    def shutdown_write(self) -> None:
        if self._closed or self._fin_pending or self._dead:
            return
        self._fin_pending = True
        self._schedule_pump()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._discard_input()
        self._fail_waiters(ConnectionClosed("connection closed"))
        if not self._dead:
            self._fin_pending = True
            self._schedule_pump()

    def abort(self) -> None:
        already = self._closed
        self._closed = True
        self._discard_input()
        if not self._dead:
            self._send_reset()
        if not already:
            self._fail_waiters(ConnectionClosed("connection aborted"))

    def _discard_input(self) -> None:
        """Unread input is gone; a writer held by the window hears there is room (and then a reset)."""
        self._rbuf.clear()
        sender = self.other
        if sender is not None and sender._window_blocked and not sender._pump_scheduled and not sender._dead:
            sender._schedule_ack()

    def _schedule_pump(self) -> None:
        if not self._pump_scheduled:
            self._pump_scheduled = True
            self.net.loop.call_soon(self._pump_cb, None, PUMP_PRIORITY)

    def _schedule_ack(self) -> None:
        """The reader made room: the writer hears of it one latency later."""
        self._pump_scheduled = True
        net = self.net
        net.loop.call_at(net.loop._now + net._latency(), self._pump_cb, None, PUMP_PRIORITY)

    def _pump(self, _arg: Any) -> None:
        """Move pending output into the pipe, as far as the receiver's window allows."""
        self._pump_scheduled = False
        if self._dead:
            return
        out = self._out
        if out:
            net = self.net
            room = net.window - self._in_flight - len(self.other._rbuf)
            if room <= 0:
                self._window_blocked = True
            else:
                size = len(out)
                if size <= room:
                    chunk = bytes(out)
                    out.clear()
                else:
                    chunk = bytes(out[:room])
                    del out[:room]
                self._window_blocked = bool(out)
                if net.loop.buggify_enabled and buggify(net.buggify_reset_probability):
                    trace("NetBuggifyReset", host=self.host.name, local=list(self.local), peer=list(self.peer))
                    net._reset_pair(self, ConnectionReset("connection reset (buggify)"))
                    return
                net._emit(self, chunk)
                if self._dead:
                    return
            waiter = self._drain_waiter
            if waiter is not None and len(out) <= self.high_water:
                self._drain_waiter = None
                if waiter._state == PENDING:
                    waiter._set(VALUE, None)
        if not out and self._fin_pending and not self._fin_sent:
            self._fin_sent = True
            self.net._push(self, FIN, 0)
            if self._closed:
                self.host._endpoints.pop(self.id, None)

    # -- the pipe ---------------------------------------------------------
    def _deliver(self, gen: int) -> None:
        """The head segment is due: hand every due segment to the other end, in order."""
        if gen != self._gen:
            return
        self._armed = False
        segs = self._segs
        if not segs:
            return
        net = self.net
        loop = net.loop
        now = loop._now
        dst = self.other
        blocked = net._blocked_until(self.host, dst.host)
        if blocked > now:
            if blocked == INF:
                net._stalled[self.id] = self
            else:
                self._armed = True
                net._clogged[self.id] = self
                loop.call_at(blocked, self._deliver_cb, self._gen, READ_PRIORITY)
            return
        if net._clogged:
            net._clogged.pop(self.id, None)
        host = dst.host
        got = 0
        while segs and segs[0][0] <= now:
            payload = segs.popleft()[1]
            host.segments_received += 1
            if payload is FIN:
                dst._eof = True
            elif payload is RST:
                net._reset_one(dst, ConnectionReset("connection reset by peer"))
            else:
                size = len(payload)
                self._in_flight -= size
                if dst._dead:
                    continue
                if dst._closed:  # data for a closed socket: it answers with a reset
                    dst._send_reset()
                    continue
                host.bytes_received += size
                dst._rbuf += payload
                got += size
        dst._wake_reader()
        if got and self._window_blocked and not self._pump_scheduled:
            room = net.window - self._in_flight - len(dst._rbuf)
            if room > 0:
                self._schedule_ack()
        if segs and not self._armed:
            self._armed = True
            loop.call_at(segs[0][0], self._deliver_cb, self._gen, READ_PRIORITY)

    def _rearm_now(self) -> None:
        """A clog lifted or a partition healed: look at the head segment again."""
        self._gen += 1
        self._armed = False
        if self._segs:
            self._armed = True
            self.net.loop.call_soon(self._deliver_cb, self._gen, READ_PRIORITY)

    # -- failure ----------------------------------------------------------
    def _send_reset(self) -> None:
        """Drop pending output and send RST behind what is already in flight."""
        self._dead = True
        self._out.clear()
        self._fin_pending = True
        self._fin_sent = True
        self.host._endpoints.pop(self.id, None)
        self.net._push(self, RST, 0)
        self._fail_drain(ConnectionClosed("connection aborted"))

    def _fail_waiters(self, error: BaseException) -> None:
        waiter = self._read_waiter
        if waiter is not None:
            self._read_waiter = None
            if waiter._state == PENDING:
                waiter._set(ERROR, error)
        self._fail_drain(error)

    def _fail_drain(self, error: BaseException) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if waiter._state == PENDING:
                waiter._set(ERROR, error)

    def __repr__(self) -> str:
        return f"<SimConnection {self.local} -> {self.peer}>"
