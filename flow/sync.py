"""Synchronisation built from Future alone: PromiseStream and AsyncVar."""

from __future__ import annotations

from collections import deque
from typing import Any

from flow.errors import EndOfStream
from flow.future import ERROR, PENDING, VALUE, Future


class _NextFuture(Future):
    __slots__ = ("_stream",)

    def _on_cancel(self) -> None:
        if self._stream._reader is self:
            self._stream._reader = None


class PromiseStream:
    """Many values to one reader, in order, then end-of-stream or an error.

    `next()` returns a future for the next value; a value is consumed only
    when that future is set, so a cancelled `next()` loses nothing.
    """

    __slots__ = ("_items", "_reader", "_closed_with")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._reader: _NextFuture | None = None
        self._closed_with: BaseException | None = None

    def send(self, value: Any) -> None:
        if self._closed_with is not None:
            raise EndOfStream("send on a closed PromiseStream")
        reader = self._reader
        if reader is not None:
            self._reader = None
            reader._set(VALUE, value)
        else:
            self._items.append(value)

    def send_error(self, error: BaseException) -> None:
        """End the stream with `error` after the values already sent."""
        if self._closed_with is not None:
            return
        self._closed_with = error
        reader = self._reader
        if reader is not None and not self._items:
            self._reader = None
            reader._set(ERROR, error)

    def close(self) -> None:
        self.send_error(EndOfStream())

    def next(self) -> Future:
        """The next value; raises EndOfStream (or the stream's error) once drained."""
        if self._items:
            return Future.ready(self._items.popleft())
        if self._closed_with is not None:
            return Future.failed(self._closed_with)
        if self._reader is not None:
            raise RuntimeError("PromiseStream has a single reader; next() is already pending")
        fut = _NextFuture()
        fut._stream = self
        self._reader = fut
        return fut

    def __len__(self) -> int:
        return len(self._items)


class AsyncVar:
    """A value with a future for its next change (FDB's AsyncVar)."""

    __slots__ = ("_value", "_change")

    def __init__(self, value: Any = None) -> None:
        self._value = value
        self._change: Future | None = None

    def get(self) -> Any:
        return self._value

    def set(self, value: Any) -> None:
        """Change the value; waiters wake only if it differs."""
        if value != self._value:
            self.set_unconditional(value)

    def set_unconditional(self, value: Any) -> None:
        self._value = value
        change, self._change = self._change, None
        if change is not None and change._state == PENDING:
            change._set(VALUE, None)

    def trigger(self) -> None:
        self.set_unconditional(self._value)

    def on_change(self) -> Future:
        if self._change is None or self._change._state != PENDING:
            self._change = Future()
        return self._change
