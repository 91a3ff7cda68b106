"""Combinators beside the loop, built only on Future and the loop's timers.

Each returns a Future. Cancelling a combinator's future unhooks it from
its inputs and cancels the inputs that nothing else waits for, as dropping
the last reference does in Flow.
"""

from __future__ import annotations

from heapq import heappush as _heappush
from typing import Any, Iterable

from flow import _state
from flow.errors import TimedOut
from flow.future import ERROR, PENDING, VALUE, Future, release
from flow.loop import TaskPriority, _DelayFuture, _fire_timer, _new_delay, current_loop


def delay(seconds: float, priority: int = TaskPriority.DEFAULT_DELAY) -> Future:
    """Ready `seconds` of loop time from now."""
    loop = _state.current
    if loop is None:
        loop = current_loop()  # raises the clear error
    fut = _new_delay(_DelayFuture)
    fut._state = 0  # PENDING
    fut._result = None
    fut._cb = None
    loop._seq = seq = loop._seq + 1
    now = loop._now
    _heappush(loop._queue, (now + seconds if seconds > 0.0 else now, -priority, seq, _fire_timer, fut))
    return fut


def yield_now() -> Future:
    """Let everything else that is ready at this instant run first."""
    loop = _state.current
    if loop is None:
        loop = current_loop()  # raises the clear error
    fut = _new_delay(_DelayFuture)
    fut._state = 0  # PENDING
    fut._result = None
    fut._cb = None
    loop._seq = seq = loop._seq + 1
    _heappush(loop._queue, (loop._now, -7000, seq, _fire_timer, fut))  # TaskPriority.DEFAULT_YIELD
    return fut


_NEG_YIELD = -TaskPriority.DEFAULT_YIELD


class _Never(Future):
    __slots__ = ()

    def _on_cancel(self) -> None:
        pass


def never() -> Future:
    """A future that is never set (until cancelled)."""
    return _Never()


class _Combined(Future):
    """A future fed by callbacks on several inputs; cancel detaches them."""

    __slots__ = ("_inputs", "_hooks", "_pending")

    def _detach(self) -> None:
        for fut, hook in zip(self._inputs, self._hooks):
            fut.remove_callback(hook)

    def _on_cancel(self) -> None:
        self._detach()
        for fut in self._inputs:
            release(fut)


def wait_all(futures: Iterable[Future]) -> Future:
    """The list of every value; fails as soon as any input fails (FDB's waitForAll)."""
    inputs = list(futures)
    out = _Combined()
    out._inputs = inputs
    out._pending = len(inputs)
    if not inputs:
        out._set(VALUE, [])
        return out

    def on_ready(fut: Future) -> None:
        if out._state != PENDING:
            return
        if fut._state == ERROR:
            out._detach()
            out._set(ERROR, fut._result)
            return
        out._pending -= 1
        if out._pending == 0:
            out._set(VALUE, [f._result for f in inputs])

    out._hooks = [on_ready] * len(inputs)
    for fut in inputs:
        fut.add_callback(on_ready)
        if out._state != PENDING:
            break
    return out


def wait_any(futures: Iterable[Future]) -> Future:
    """(index, value) of the first input ready; the first listed wins a tie.

    An error in the winner is the result's error. The losers are only
    unhooked, not cancelled, as in Flow's choose/when.
    """
    inputs = list(futures)
    if not inputs:
        raise ValueError("wait_any needs at least one future")
    out = _Combined()
    out._inputs = inputs

    for index, fut in enumerate(inputs):
        if fut._state != PENDING:
            fut._observed = True
            out._set(fut._state, (index, fut._result) if fut._state == VALUE else fut._result)
            return out

    def make_hook(index: int):
        def on_ready(fut: Future) -> None:
            if out._state == PENDING:
                out._detach()
                out._set(fut._state, (index, fut._result) if fut._state == VALUE else fut._result)
        return on_ready

    hooks = out._hooks = [make_hook(i) for i in range(len(inputs))]
    for fut, hook in zip(inputs, hooks):
        fut.add_callback(hook)
    return out


class _Timeout(Future):
    __slots__ = ("_inner", "_timer")

    def _on_cancel(self) -> None:
        self._inner.remove_callback(self._on_inner)
        self._timer.remove_callback(self._on_timer)
        release(self._inner)
        self._timer.cancel()

    def _on_inner(self, fut: Future) -> None:
        if self._state == PENDING:
            self._timer.remove_callback(self._on_timer)
            self._timer.cancel()
            self._set(fut._state, fut._result)

    def _on_timer(self, _fut: Future) -> None:
        if self._state == PENDING:
            self._inner.remove_callback(self._on_inner)
            release(self._inner)
            self._set(ERROR, TimedOut())


def timeout(future: Future, seconds: float) -> Future:
    """`future`'s result, or TimedOut after `seconds` (then `future` is cancelled if unwatched)."""
    if future._state != PENDING:
        return future
    out = _Timeout()
    out._inner = future
    out._timer = current_loop().delay(seconds)
    future.add_callback(out._on_inner)
    out._timer.add_callback(out._on_timer)
    return out


def ready(value: Any = None) -> Future:
    return Future.ready(value)
