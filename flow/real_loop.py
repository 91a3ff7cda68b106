"""RealLoop: the same run queue on the monotonic clock, waiting in `selectors`.

What it does: runs every entry that is due, then the `before_poll`
callbacks (where `net/` sends what connections wrote meanwhile, all at
once), then sleeps in the selector until the next timer or until a file
descriptor `net/` registered is ready.
Signals (SIGINT, SIGTERM) are turned into ordinary callbacks run between
steps, never in the middle of an actor.

What it refuses: threads, and randomness that replays (its RNG is seeded
from the OS; determinism is SimLoop's job). BUGGIFY is always off here.
"""

from __future__ import annotations

import heapq
import math
import select
import selectors
import signal
import socket
import time
from typing import Any, Callable

from flow.future import PENDING, Future, reset_depth
from flow.loop import Loop, _stop_marker
from flow.rng import DeterministicRandom

_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)


class _SelectorPoller:
    """The epoll calls RealLoop makes, on `selectors` where there is no epoll."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    @staticmethod
    def _events(mask: int) -> int:
        return (selectors.EVENT_READ if mask & _IN else 0) | (selectors.EVENT_WRITE if mask & _OUT else 0)

    def register(self, fd: int, mask: int) -> None:
        self._selector.register(fd, self._events(mask))

    def modify(self, fd: int, mask: int) -> None:
        self._selector.modify(fd, self._events(mask))

    def unregister(self, fd: int) -> None:
        self._selector.unregister(fd)

    def poll(self, timeout: float = -1, _max: int = -1) -> list[tuple[int, int]]:
        events = self._selector.select(None if timeout < 0 else timeout)
        return [(key.fd, (_IN if mask & selectors.EVENT_READ else 0) | (_OUT if mask & selectors.EVENT_WRITE else 0))
                for key, mask in events]

    def close(self) -> None:
        self._selector.close()


class RealLoop(Loop):
    is_simulated = False

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(DeterministicRandom(seed), buggify=False)
        # epoll straight, not through `selectors`: no SelectorKey per ready fd.
        self._poller: Any = select.epoll() if hasattr(select, "epoll") else _SelectorPoller()
        self._masks: dict[int, int] = {}  # fd -> registered event mask
        self._handlers: dict[int, list[Callable[[], None] | None]] = {}  # fd -> [reader, writer]
        self._now = time.monotonic()
        self._signal_handlers: dict[int, Callable[[int], None]] = {}
        self._signals_seen: list[int] = []
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        # The C function itself, not a method: the server reads it twice per command.
        self.wall_time = time.time  # type: ignore[method-assign]
        self._before_poll: list[Callable[[], None]] = []

    def wall_time(self) -> float:  # shadowed per instance by time.time
        return time.time()

    # -- file descriptors (for net/) --------------------------------------
    def _update(self, fd: int) -> None:
        reader, writer = self._handlers[fd]
        mask = (_IN if reader else 0) | (_OUT if writer else 0)
        registered = self._masks.get(fd)
        if mask == 0:
            if registered is not None:
                del self._masks[fd]
                self._poller.unregister(fd)
            del self._handlers[fd]
        elif registered is None:
            self._poller.register(fd, mask)
            self._masks[fd] = mask
        elif registered != mask:
            self._poller.modify(fd, mask)
            self._masks[fd] = mask

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._handlers.setdefault(fd, [None, None])[0] = callback
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        if fd in self._handlers:
            self._handlers[fd][0] = None
            self._update(fd)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        self._handlers.setdefault(fd, [None, None])[1] = callback
        self._update(fd)

    def remove_writer(self, fd: int) -> None:
        if fd in self._handlers:
            self._handlers[fd][1] = None
            self._update(fd)

    def before_poll(self, callback: Callable[[], None]) -> None:
        """Run `callback()` once, when nothing more is due and the loop is about to
        wait for I/O: Redis's beforeSleep, where it writes every client's replies.
        Also run when `run()` returns, so nothing written is left unsent."""
        self._before_poll.append(callback)

    def _run_before_poll(self) -> None:
        if self._before_poll:
            callbacks, self._before_poll = self._before_poll, []
            for callback in callbacks:
                callback()
                reset_depth()

    # -- signals ------------------------------------------------------------
    def add_signal_handler(self, signum: int, callback: Callable[[int], None]) -> None:
        """Run `callback(signum)` on the loop, between steps, when the signal arrives."""
        if self._wake_r is None:
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self.add_reader(self._wake_r.fileno(), self._drain_wakeup)
        self._signal_handlers[signum] = callback
        signal.signal(signum, self._on_signal)

    def on_shutdown_signal(self, callback: Callable[[int], None]) -> None:
        """Run `callback(signum)` on SIGINT or SIGTERM: the graceful-stop hook for servers."""
        self.add_signal_handler(signal.SIGINT, callback)
        self.add_signal_handler(signal.SIGTERM, callback)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # Runs between two bytecodes of whatever was running: only record and wake.
        self._signals_seen.append(signum)
        try:
            self._wake_w.send(b"\0")  # type: ignore[union-attr]
        except OSError:
            pass

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_r.recv(4096):  # type: ignore[union-attr]
                pass
        except OSError:
            pass

    def _dispatch_signals(self) -> None:
        while self._signals_seen:
            signum = self._signals_seen.pop(0)
            handler = self._signal_handlers.get(signum)
            if handler is not None:
                handler(signum)

    def close(self) -> None:
        for signum in self._signal_handlers:
            signal.signal(signum, signal.SIG_DFL)
        self._signal_handlers.clear()
        if self._wake_r is not None:
            self.remove_reader(self._wake_r.fileno())
            self._wake_r.close()
            self._wake_w.close()  # type: ignore[union-attr]
            self._wake_r = self._wake_w = None
        self._poller.close()

    # -- running --------------------------------------------------------------
    def _run_until(self, fut: Future) -> None:
        queue = self._queue
        pop = heapq.heappop
        poll = self._poller.poll
        handlers = self._handlers
        masks = self._masks
        monotonic = time.monotonic
        while fut._state == PENDING and not self._stopping:
            now = monotonic()
            self._now = now
            # Run what is due now; entries added meanwhile for "now" wait one turn,
            # so a busy actor cannot starve the sockets.
            limit = self._seq
            while queue and queue[0][0] <= now and queue[0][2] <= limit:
                _when, _prio, _seq, fn, arg = pop(queue)
                fn(arg)
                reset_depth()
                if fn is _stop_marker:
                    break
                if fut._state != PENDING or self._stopping:
                    break
            self._check_unobserved()
            if fut._state != PENDING or self._stopping:
                break
            self._run_before_poll()
            if fut._state != PENDING or self._stopping:
                break
            if queue:
                timeout = max(0.0, queue[0][0] - monotonic())
                if queue[0][2] > limit and queue[0][0] <= now:
                    timeout = 0.0
            else:
                timeout = None
            if timeout is None and not handlers:
                from flow.errors import Deadlock

                raise Deadlock("nothing to wait for: no timers, no sockets, main future pending:\n  "
                               + "\n  ".join(self.waiting_actors() or ["(none)"]))
            if self._before_poll:  # registered by what the callbacks woke: poll, do not sleep
                timeout = 0.0
            if timeout is None:
                timeout = -1
            elif timeout > 0:
                timeout = math.ceil(timeout * 1e3) * 1e-3  # as selectors does: epoll counts in ms
            events = poll(timeout, len(masks) or 1)
            self._now = monotonic()
            for fd, event in events:
                entry = handlers.get(fd)
                if entry is None:
                    continue
                # An error or hang-up wakes both sides, as `selectors` reports it.
                if event & ~_OUT and entry[0] is not None:
                    entry[0]()
                if event & ~_IN and entry[1] is not None:
                    entry = handlers.get(fd)
                    if entry is not None and entry[1] is not None:
                        entry[1]()
            if self._signals_seen:
                self._dispatch_signals()
        self._run_before_poll()  # what the last turn wrote goes out before run() returns
