"""A RESP client written as actors, for simulations and tests.

`RespClient(conn)` pipelines: every `call()` writes its command at once and
returns a future for its reply; one reader actor decodes replies in order
and resolves them. RESP3 push messages go to `pushes`, a PromiseStream.
With `raw=True` replies resolve to their exact bytes (for comparing
servers byte for byte), and `send()` writes any bytes, even a malformed
frame, expecting one reply. `ReplyParser` is sans-I/O, like the server's
parser: bytes in, replies out.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import flow
from cache.reply import Bool, Double, Error, Map, Push, Set, Status, Verbatim

_NEED_MORE = object()


class ReplyParser:
    """Decodes RESP2 and RESP3 replies into the value types of `cache.reply`."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._last = 0  # where the reply next_reply last returned began

    def feed(self, data: bytes) -> None:
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_reply(self) -> Any:
        """The next complete reply, or `ReplyParser.NEED_MORE`."""
        result = self._parse(self._pos)
        if result is _NEED_MORE:
            return _NEED_MORE
        self._last = self._pos
        value, self._pos = result
        return value

    def last_raw(self) -> bytes:
        """The exact bytes of the reply `next_reply` last returned (until the next `feed`)."""
        return bytes(self._buf[self._last:self._pos])

    NEED_MORE = _NEED_MORE

    def _line(self, pos: int) -> tuple[bytes, int] | object:
        end = self._buf.find(b"\r\n", pos)
        if end < 0:
            return _NEED_MORE
        return bytes(self._buf[pos:end]), end + 2

    def _parse(self, pos: int) -> Any:
        if pos >= len(self._buf):
            return _NEED_MORE
        kind = self._buf[pos : pos + 1]
        got = self._line(pos + 1)
        if got is _NEED_MORE:
            return _NEED_MORE
        line, pos = got  # type: ignore[misc]
        if kind == b"+":
            return Status(line), pos
        if kind == b"-":
            return Error(line), pos
        if kind == b":":
            return int(line), pos
        if kind == b"_":
            return None, pos
        if kind == b",":
            return Double(float(line)), pos
        if kind == b"#":
            return Bool(line == b"t"), pos
        if kind == b"(":
            return int(line), pos
        if kind in (b"$", b"=", b"!"):
            length = int(line)
            if length < 0:
                return None, pos
            if len(self._buf) < pos + length + 2:
                return _NEED_MORE
            data = bytes(self._buf[pos : pos + length])
            pos += length + 2
            if kind == b"=":
                return Verbatim(data[4:]), pos
            if kind == b"!":
                return Error(data), pos
            return data, pos
        if kind in (b"*", b"~", b">", b"%"):
            count = int(line)
            if count < 0:
                return None, pos
            items = []
            for _ in range(count * 2 if kind == b"%" else count):
                got = self._parse(pos)
                if got is _NEED_MORE:
                    return _NEED_MORE
                item, pos = got
                items.append(item)
            if kind == b"%":
                return Map(list(zip(items[0::2], items[1::2]))), pos
            if kind == b"~":
                return Set(items), pos
            if kind == b">":
                return Push(items), pos
            return items, pos
        raise ValueError(f"bad RESP type byte {kind!r}")


def encode_command(args: tuple[Any, ...] | list[Any]) -> bytes:
    """A command as a RESP multibulk; str and int arguments are encoded for convenience."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RespClient:
    """A pipelining client on one connection; replies resolve in command order."""

    def __init__(self, conn: Any, raw: bool = False) -> None:
        self.conn = conn
        self.raw = raw
        self._waiting: deque[flow.Promise] = deque()
        self.pushes = flow.PromiseStream()
        self._parser = ReplyParser()
        self.closed = False
        self._dispatching = False  # the reader is resolving replies (its waiters run inside it)
        self._reader = _read_replies(self)

    def call(self, *args: Any) -> flow.Future:
        """Send one command; a future for its reply (an `Error` reply is a value, not raised)."""
        return self.send(encode_command(args))

    def send(self, payload: bytes) -> flow.Future:
        """Write `payload` as it is (inline, malformed...) and wait for one reply to it."""
        if self.closed:
            return flow.Future.failed(flow.FlowError("client is closed"))
        promise = flow.Promise()
        self._waiting.append(promise)
        self.conn.write(payload)
        return promise.future

    def close(self) -> None:
        """Close now; safe from code woken by a reply, whose reader then just stops."""
        self.closed = True
        if not self._dispatching:
            self._reader.cancel()
        self.conn.close()
        self._fail_all(flow.FlowError("client closed"))

    def _fail_all(self, error: BaseException) -> None:
        while self._waiting:
            self._waiting.popleft().send_error(error)


@flow.actor
def _read_replies(client: RespClient):
    parser = client._parser
    try:
        while True:
            data = yield client.conn.read(65536)
            if not data:
                raise flow.FlowError("server closed the connection")
            parser.feed(data)
            client._dispatching = True
            while not client.closed:
                reply = parser.next_reply()
                if reply is _NEED_MORE:
                    break
                value = parser.last_raw() if client.raw else reply
                if isinstance(reply, Push) and reply and reply[0] in (b"message", b"pmessage", b"smessage"):
                    client.pushes.send(value)
                elif client._waiting:
                    client._waiting.popleft().send(value)
                elif isinstance(reply, Push):
                    client.pushes.send(value)
            client._dispatching = False
            if client.closed:
                return
    except flow.ActorCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - every waiter learns why the connection ended
        client.closed = True
        client._dispatching = True  # a waiter woken here may call close(); we end anyway
        client._fail_all(exc)
        client.pushes.send_error(exc)
