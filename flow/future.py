"""Futures, promises and actors: the whole suspension model of flow.

A `Future` is FoundationDB's single-assignment variable: pending, then a
value or an error, forever. Callbacks fire synchronously, in registration
order, when it is set. A `Promise` is the writing end. An actor is a
generator function decorated with `@actor`: calling it starts the body at
once and returns the actor's own `Future`; the body suspends only by
yielding a `Future` that is not ready yet.

Refuses: yielding anything but a `Future` (a loud `TypeError` naming the
actor); recursion when many ready futures are waited in a row (the runner
is a trampoline); behaviour that depends on garbage collection (no
`__del__`: cancellation is explicit, through `cancel()`).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Generator, TypeVar

from flow import _state
from flow.errors import ActorCancelled, FlowError

T = TypeVar("T")

PENDING, VALUE, ERROR = 0, 1, 2

# Nested synchronous wake-ups deeper than this are deferred to the loop, so
# a long chain of actors finishing one another cannot overflow the C stack.
_MAX_DEPTH = 64
_depth = 0


class Future:
    """A value that will be ready later: pending, then a value or an error."""

    # _cb is None, one callable, or a list of callables (most futures have one waiter).
    __slots__ = ("_state", "_result", "_cb", "_observed")

    def __init__(self) -> None:
        self._state = PENDING
        self._result: Any = None
        self._cb: Any = None

    @classmethod
    def ready(cls, value: Any = None) -> "Future":
        fut = cls()
        fut._state = VALUE
        fut._result = value
        return fut

    @classmethod
    def failed(cls, error: BaseException) -> "Future":
        fut = cls()
        fut._state = ERROR
        fut._result = error
        fut._observed = True
        return fut

    def is_ready(self) -> bool:
        return self._state != PENDING

    def is_error(self) -> bool:
        self._observed = True
        return self._state == ERROR

    def is_cancelled(self) -> bool:
        return self._state == ERROR and isinstance(self._result, ActorCancelled)

    def get(self) -> Any:
        """The value, or raise the error; a pending future is a programming error."""
        state = self._state
        if state == VALUE:
            return self._result
        if state == ERROR:
            self._observed = True
            raise self._result
        raise FlowError("get() on a future that is not ready")

    def error(self) -> BaseException | None:
        self._observed = True
        return self._result if self._state == ERROR else None

    def add_callback(self, callback: Callable[["Future"], None]) -> None:
        """Call `callback(self)` when set; at once if already set."""
        self._observed = True
        if self._state != PENDING:
            callback(self)
            return
        cb = self._cb
        if cb is None:
            self._cb = callback
        elif cb.__class__ is list:
            cb.append(callback)
        else:
            self._cb = [cb, callback]

    def remove_callback(self, callback: Callable[["Future"], None]) -> None:
        cb = self._cb
        if cb is None:
            return
        if cb.__class__ is list:
            try:
                cb.remove(callback)
            except ValueError:
                pass
        elif cb == callback:
            self._cb = None

    def has_waiters(self) -> bool:
        return bool(self._cb)

    def cancel(self) -> None:
        """Stop whatever would set this future; waiters get ActorCancelled."""
        if self._state == PENDING:
            self._on_cancel()
            if self._state == PENDING:
                self._set(ERROR, ActorCancelled())

    def _on_cancel(self) -> None:
        """Subclasses release what would have set them (timers, callbacks)."""

    def _set(self, state: int, result: Any) -> None:
        global _depth
        self._state = state
        self._result = result
        cb = self._cb
        if cb is None:
            return
        self._cb = None
        self._observed = True
        if _depth >= _MAX_DEPTH and _state.current is not None:
            _state.current.call_soon(_fire_later, (self, cb))
            return
        _depth += 1
        if cb.__class__ is list:
            for callback in cb:
                callback(self)
        else:
            cb(self)
        _depth -= 1

    def __repr__(self) -> str:
        state = ("pending", "value", "error")[self._state]
        return f"<{type(self).__name__} {state} {self._result!r}>" if self._state else f"<{type(self).__name__} pending>"


def _fire_later(item: tuple[Future, Any]) -> None:
    """Run callbacks that were deferred because the synchronous chain got too deep."""
    global _depth
    fut, cb = item
    _depth = 0
    if cb.__class__ is list:
        for callback in cb:
            callback(fut)
    else:
        cb(fut)


def reset_depth() -> None:
    """Called by the loops before each step: nothing is nested at top level."""
    global _depth
    _depth = 0


def release(fut: Future) -> None:
    """Cancel `fut` if it is still pending and no one waits for it any more."""
    if fut._state == PENDING and not fut._cb:
        fut.cancel()


class Promise:
    """The writing end of a Future. Sending into a cancelled future is ignored."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future = Future()

    def send(self, value: Any = None) -> None:
        fut = self.future
        if fut._state == PENDING:
            fut._set(VALUE, value)
        elif not fut.is_cancelled():
            raise FlowError("promise set twice")

    def send_error(self, error: BaseException) -> None:
        fut = self.future
        if fut._state == PENDING:
            fut._set(ERROR, error)
        elif not fut.is_cancelled():
            raise FlowError("promise set twice")

    def is_set(self) -> bool:
        return self.future._state != PENDING

    def break_promise(self) -> None:
        """Tell waiters no value will ever come (FDB's broken_promise)."""
        from flow.errors import BrokenPromise

        if self.future._state == PENDING:
            self.future._set(ERROR, BrokenPromise())


class Actor(Future):
    """The running body of an `@actor` call; it is also that call's Future."""

    __slots__ = ("_gen", "_waiting", "_wake_cb", "name", "id", "_loop")

    def __init__(self, gen: Generator[Future, Any, Any], name: str) -> None:
        self._state = PENDING
        self._result = None
        self._cb = None
        self._observed = False
        self._gen = gen
        self._waiting: Future | None = None
        self._wake_cb = self._wake  # one bound method for the actor's whole life
        self.name = name
        loop = _state.current
        self._loop = loop
        self.id = loop._register_actor(self) if loop is not None else 0

    def _wake(self, fut: Future) -> None:
        """Resume with `fut`'s outcome; a trampoline until the body waits on a pending future."""
        gen = self._gen
        while True:
            try:
                if fut._state == 1:  # VALUE (literal: this is the hottest line in flow)
                    fut = gen.send(fut._result)
                else:
                    fut._observed = True
                    fut = gen.throw(fut._result)
            except StopIteration as stop:
                self._finish(VALUE, stop.value)
                return
            except Exception as exc:  # noqa: BLE001 - an actor's error is its result
                self._finish(ERROR, exc)
                return
            except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the loop too
                self._finish(ERROR, exc)
                raise
            cls = fut.__class__
            if cls is not _Future and cls is not _Delay and not isinstance(fut, _Future):
                fut = Future.failed(TypeError(
                    f"actor {self.name} yielded {fut!r}; an actor may only yield a flow.Future"
                ))
                continue
            if fut._state == 0:  # PENDING
                self._waiting = fut
                cb = fut._cb
                if cb is None:
                    fut._cb = self._wake_cb
                elif cb.__class__ is list:
                    cb.append(self._wake_cb)
                else:
                    fut._cb = [cb, self._wake_cb]
                return

    def _finish(self, state: int, result: Any) -> None:
        self._gen = None  # type: ignore[assignment]
        loop = self._loop
        if loop is not None:
            loop._unregister_actor(self)
        had_waiters = self._cb is not None or self._observed
        self._set(state, result)
        if state == ERROR and not had_waiters and loop is not None and not isinstance(result, ActorCancelled):
            loop._note_unobserved(self)

    def cancel(self) -> None:
        """Throw ActorCancelled into the body at its wait, then cancel what it waited on.

        An actor cancelled from inside its own step (by itself, or by code it
        called) is cancelled as soon as that step ends, at its next wait.
        """
        if self._state != PENDING:
            return
        gen = self._gen
        if gen is not None and gen.gi_running:
            self._loop.call_soon(self._cancel_after_step)
            return
        waiting = self._waiting
        self._waiting = None
        if waiting is not None:
            waiting.remove_callback(self._wake_cb)
            release(waiting)
        if gen is None:  # cancelled while still starting: nothing to unwind
            self._finish(ERROR, ActorCancelled())
            return
        try:
            gen.throw(ActorCancelled())
        except (StopIteration, ActorCancelled):
            self._finish(ERROR, ActorCancelled())
        except Exception as exc:  # noqa: BLE001 - a cleanup error is reported as the result
            self._finish(ERROR, exc)
        else:
            gen.close()
            self._finish(ERROR, ActorCancelled())
            if self._loop is not None:
                self._loop._report_error(
                    self.name, FlowError(f"actor {self.name} caught ActorCancelled and waited again")
                )

    def _cancel_after_step(self, _arg: Any) -> None:
        self.cancel()

    def waiting_on(self) -> Future | None:
        return self._waiting

    def __repr__(self) -> str:
        return f"<Actor {self.name}#{self.id} {('pending', 'value', 'error')[self._state]}>"


_Future = Future
_Delay: type = Future  # flow.loop replaces this with its timer class (the most yielded type)
_STARTED = Future.ready(None)  # what an actor "waited on" before its first step


def actor(fn: Callable[..., Generator[Future, Any, T]]) -> Callable[..., Future]:
    """Turn a generator function into a function that starts it and returns its Future."""
    if not inspect.isgeneratorfunction(fn):
        raise TypeError(f"@actor needs a generator function (one that yields futures), got {fn!r}")
    name = fn.__qualname__

    @functools.wraps(fn)
    def start(*args: Any, **kwargs: Any) -> Future:
        act = Actor(fn(*args, **kwargs), name)
        act._wake(_STARTED)
        return act

    start.__flow_actor__ = True  # type: ignore[attr-defined]
    return start
