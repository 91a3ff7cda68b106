"""What both loops share: the run queue, timers, actors, BUGGIFY and traces.

Work is one heap of `(time, -priority, seq, fn, arg)`: earlier first, then
higher priority, then first scheduled. The sequence number makes the order
total, so it never depends on hashing, identity or the garbage collector.
`RealLoop` fills `time` from the monotonic clock and waits in `selectors`;
`SimLoop` jumps virtual time to the next entry. Nothing here touches I/O.
"""

from __future__ import annotations

import heapq
from heapq import heappush as _heappush
import functools
import json
import logging
import os
import sys
from typing import Any, Callable

from flow import _state
from flow import future as _future_module
from flow.errors import FlowError, UnhandledActorError
from flow.future import ERROR, PENDING, VALUE, Actor, Future
from flow.rng import DeterministicRandom

log = logging.getLogger("flow")


class TaskPriority:
    """FoundationDB's named priorities: higher runs first at the same instant."""

    MAX = 1_000_000
    RUN_LOOP = 30_000
    WRITE_SOCKET = 10_000
    READ_SOCKET = 9_000
    ACCEPT_SOCKET = 8_950
    DEFAULT_PROMISE = 8_000
    DEFAULT_DELAY = 7_010
    DEFAULT_YIELD = 7_000
    LOW = 3_500


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=4096)  # a BUGGIFY point is evaluated often; relpath is slow
def _site_name(filename: str, line: int) -> str:
    """A BUGGIFY site as `package/module.py:line`, the same on every machine."""
    try:
        rel = os.path.relpath(filename, _ROOT)
    except ValueError:
        rel = filename
    if rel.startswith(".."):
        rel = os.path.basename(filename)
    return f"{rel.replace(os.sep, '/')}:{line}"


class _DelayFuture(Future):
    __slots__ = ()

    def _on_cancel(self) -> None:
        loop = _state.current
        if loop is not None:
            loop._cancelled_timers += 1
            if loop._cancelled_timers > 1024 and loop._cancelled_timers * 2 > len(loop._queue):
                loop._compact_timers()


_future_module._Delay = _DelayFuture


def _stop_marker(_arg: Any) -> None:
    """Queued by stop(); the loops end run() when they pop it."""


_new_delay = object.__new__  # a pending timer needs only _state and _cb; skip __init__


def _fire_timer(fut: Future) -> None:
    """A timer is due: set its future (top level, so callbacks run inline)."""
    if fut._state == PENDING:
        fut._state = VALUE
        cb = fut._cb
        if cb is not None:
            fut._cb = None
            if cb.__class__ is list:
                for callback in cb:
                    callback(fut)
            else:
                cb(fut)


class Loop:
    """The interface both loops implement; see RealLoop and SimLoop."""

    is_simulated = False

    def __init__(self, random: DeterministicRandom, buggify: bool = False) -> None:
        self._queue: list[tuple[float, int, int, Callable[[Any], None], Any]] = []
        self._seq = 0
        self._now = 0.0
        self._cancelled_timers = 0
        self.random = random
        self.buggify_enabled = buggify
        self._buggify_sites: dict[str, list[int]] = {}  # site -> [activated, evaluated, fired]
        self._actors: dict[int, Actor] = {}
        self._next_actor_id = 1
        self._unobserved: list[Actor] = []
        self._stopping = False
        self.services: dict[str, Any] = {}  # per-loop singletons (the network, ...)
        self.error_hook: Callable[[str, BaseException], None] = self._default_error_hook
        self.trace_sink: Callable[[dict[str, Any]], None] | None = None

    # -- time -------------------------------------------------------------
    def now(self) -> float:
        """Seconds on this loop's monotonic clock, fixed while a step runs."""
        return self._now

    def wall_time(self) -> float:  # pragma: no cover - implemented by each loop
        raise NotImplementedError

    # -- scheduling -------------------------------------------------------
    def call_at(self, when: float, fn: Callable[[Any], None], arg: Any = None,
                priority: int = TaskPriority.DEFAULT_DELAY) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, -priority, self._seq, fn, arg))

    def call_soon(self, fn: Callable[[Any], None], arg: Any = None,
                  priority: int = TaskPriority.DEFAULT_PROMISE) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self._now, -priority, self._seq, fn, arg))

    def delay(self, seconds: float, priority: int = TaskPriority.DEFAULT_DELAY) -> Future:
        """A future that becomes ready `seconds` from now."""
        fut = _new_delay(_DelayFuture)
        fut._state = PENDING
        fut._result = None
        fut._cb = None
        self._seq = seq = self._seq + 1
        _heappush(self._queue, (self._now + seconds if seconds > 0.0 else self._now, -priority, seq, _fire_timer, fut))
        return fut

    def _compact_timers(self) -> None:
        # In place: the loops hold a reference to this very list.
        self._queue[:] = [e for e in self._queue if not (e[3] is _fire_timer and e[4]._state != PENDING)]
        heapq.heapify(self._queue)
        self._cancelled_timers = 0

    # -- actors -----------------------------------------------------------
    def _register_actor(self, act: Actor) -> int:
        ident = self._next_actor_id
        self._next_actor_id = ident + 1
        self._actors[ident] = act
        return ident

    def _unregister_actor(self, act: Actor) -> None:
        self._actors.pop(act.id, None)

    def waiting_actors(self) -> list[str]:
        """Live actors and what each waits on, oldest first (for deadlock reports)."""
        out = []
        for act in self._actors.values():
            waiting = act.waiting_on()
            out.append(f"{act.name}#{act.id} waiting on {waiting!r}")
        return out

    def _note_unobserved(self, act: Actor) -> None:
        self._unobserved.append(act)

    def _check_unobserved(self) -> None:
        """Report actor errors that no one waited for by the end of the instant."""
        pending, self._unobserved = self._unobserved, []
        for act in pending:
            if not act._observed:
                act._observed = True
                self._report_error(act.name, act._result)

    def _report_error(self, actor_name: str, error: BaseException) -> None:
        self.error_hook(actor_name, error)

    def _default_error_hook(self, actor_name: str, error: BaseException) -> None:
        log.error("actor %s failed and no one waited for it", actor_name, exc_info=error)

    # -- BUGGIFY ----------------------------------------------------------
    def buggify_site(self, site: str, probability: float) -> bool:
        """FoundationDB semantics: a site is activated once per run (p=0.25), then fires with p."""
        stats = self._buggify_sites.get(site)
        if stats is None:
            stats = [1 if self.random.random() < 0.25 else 0, 0, 0]
            self._buggify_sites[site] = stats
        stats[1] += 1
        if stats[0] and self.random.random() < probability:
            stats[2] += 1
            return True
        return False

    def buggify_report(self) -> dict[str, dict[str, int | bool]]:
        """Every site evaluated this run: activated or not, evaluations, firings."""
        return {
            site: {"activated": bool(a), "evaluated": e, "fired": f}
            for site, (a, e, f) in sorted(self._buggify_sites.items())
        }

    # -- traces -----------------------------------------------------------
    def trace(self, kind: str, fields: dict[str, Any]) -> None:
        sink = self.trace_sink
        if sink is not None:
            event = {"time": round(self._now, 9), "kind": kind}
            event.update(fields)
            sink(event)

    def trace_to_file(self, path: str) -> Callable[[], None]:
        """Write trace events as JSON lines; returns a function that closes the file."""
        handle = open(path, "w", encoding="utf-8")
        self.trace_sink = lambda event: handle.write(json.dumps(event, sort_keys=True, default=repr) + "\n")
        return handle.close

    # -- running ----------------------------------------------------------
    def _start_main(self, main: Any) -> Future:
        if isinstance(main, Future):
            return main
        if callable(main):
            fut = main()
            if not isinstance(fut, Future):
                raise TypeError(f"run() needs a Future or a callable returning one, got {fut!r}")
            return fut
        raise TypeError(f"run() needs a Future or a callable returning one, got {main!r}")

    def run(self, main: Any) -> Any:
        """Run until `main` is done; return its value or raise its error."""
        previous = _state.current
        _state.current = self
        self._stopping = False
        try:
            fut = self._start_main(main)
            fut._observed = True
            self._run_until(fut)
            self._check_unobserved()
            if fut._state == PENDING:
                raise FlowError("loop stopped before the main future was ready")
            return fut.get()
        finally:
            _state.current = previous

    def _run_until(self, fut: Future) -> None:  # pragma: no cover - per loop
        raise NotImplementedError

    def stop(self) -> None:
        """Ask run() to return soon (the main future will not be ready)."""
        if not self._stopping:
            self._stopping = True
            self.call_soon(_stop_marker, None, priority=TaskPriority.MAX + 1)

    def make_current(self) -> None:
        """Make this the loop that actors and combinators use outside run()."""
        _state.current = self


def current_loop() -> Loop:
    loop = _state.current
    if loop is None:
        raise FlowError("no flow loop is current; create one and call run() or make_current()")
    return loop


def now() -> float:
    return current_loop()._now


def buggify(probability: float = 0.25) -> bool:
    """True at a rare, seeded moment in simulation with buggify on; always False otherwise."""
    loop = _state.current
    if loop is None or not loop.buggify_enabled:
        return False
    frame = sys._getframe(1)
    return loop.buggify_site(_site_name(frame.f_code.co_filename, frame.f_lineno), probability)


def trace(kind: str, **fields: Any) -> None:
    """A structured event stamped with loop time (JSON lines in simulation)."""
    loop = _state.current
    if loop is not None and loop.trace_sink is not None:
        loop.trace(kind, fields)


__all__ = ["Loop", "TaskPriority", "current_loop", "now", "buggify", "trace", "ERROR", "VALUE"]
