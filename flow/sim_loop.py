"""SimLoop: virtual time, one seeded RNG, no real I/O; a seed replays exactly.

What it does: pops the run queue in (time, priority, sequence) order and
jumps virtual time to each entry, so hours of sleeping actors pass in
moments. Every step and every random draw is folded into `digest()`, the
proof that two runs of a seed did the same thing. BUGGIFY is live here.

What it refuses: real clocks, real sockets, threads, and any ordering that
depends on hashing or on the garbage collector (it disables the cyclic GC
while it runs and collects only at the end). An actor error no one waits
for fails the run. When nothing can ever happen again while the main
future is pending, that is a deadlock, reported with the waiting actors.
"""

from __future__ import annotations

import gc
import heapq
from typing import Any

from flow.errors import Deadlock, UnhandledActorError
from flow.future import PENDING, VALUE, Future, reset_depth
from flow.loop import Loop, TaskPriority, _fire_timer, _stop_marker
from flow.rng import DeterministicRandom

_MASK64 = (1 << 64) - 1
DEFAULT_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: sim dates look like real ones


class SimLoop(Loop):
    is_simulated = True

    def __init__(self, seed: int = 0, buggify: bool = False, epoch: float = DEFAULT_EPOCH,
                 record_steps: bool = False) -> None:
        super().__init__(DeterministicRandom(seed), buggify)
        self.seed = seed
        self.epoch = epoch
        self.steps = 0
        self._step_digest = 0
        self.failures: list[UnhandledActorError] = []
        self.error_hook = self._fail_run
        # With record_steps, (step, time, digest) checkpoints let two runs find where they diverged.
        self.step_log: list[tuple[int, float, int]] | None = [] if record_steps else None

    def wall_time(self) -> float:
        """Unix seconds for users' dates (TIME, EXPIREAT): the epoch plus virtual time."""
        return self.epoch + self._now

    def digest(self) -> int:
        """A hash of every scheduling step and every random draw so far."""
        return (self._step_digest * 0x9E3779B97F4A7C15 ^ self.random.digest) & _MASK64

    def _fail_run(self, actor_name: str, error: BaseException) -> None:
        self.failures.append(UnhandledActorError(actor_name, error))
        self.stop()

    def _run_until(self, fut: Future) -> None:
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._loop(fut)
        except _Stopped:
            pass
        finally:
            if gc_was_enabled:
                gc.enable()
        if self.failures:
            raise self.failures[0]

    def _loop(self, fut: Future) -> None:
        if self.step_log is not None:
            return self._loop_recording(fut)
        # The main future queues a stop marker when it is set, so the hot loop
        # below checks nothing per step but the entry it popped.
        fut.add_callback(self._main_done)
        queue = self._queue
        pop = heapq.heappop
        digest = self._step_digest
        now = self._now
        fire_timer = _fire_timer
        stop_marker = _stop_marker
        try:
            while True:
                try:
                    when, prio, seq, fn, arg = pop(queue)
                except IndexError:
                    self._check_unobserved()
                    if self._stopping or not queue and fut._state == PENDING:
                        self._raise_deadlock(fut)
                    continue
                if when > now:
                    if self._unobserved:
                        self._check_unobserved()
                        if self._stopping:
                            heapq.heappush(queue, (when, prio, seq, fn, arg))
                            continue
                    now = self._now = when
                    digest = (digest * 31 + hash(when)) & 0x3FFFFFFF
                digest = (digest * 31 + seq) & 0x3FFFFFFF  # 30 bits: one-digit int arithmetic
                if fn is fire_timer:  # inlined: most steps are timers
                    if arg._state == 0:  # PENDING
                        arg._state = 1  # VALUE
                        cb = arg._cb
                        if cb is not None:
                            arg._cb = None
                            if cb.__class__ is list:
                                for callback in cb:
                                    callback(arg)
                            else:
                                cb(arg)
                elif fn is stop_marker:
                    break
                else:
                    fn(arg)
        finally:
            reset_depth()
            self._step_digest = digest
            self.steps = self._seq - len(queue)

    def _main_done(self, _fut: Future) -> None:
        self.call_soon(_stop_marker, None, priority=TaskPriority.MAX + 1)

    def _raise_deadlock(self, fut: Future) -> None:
        if self._stopping:
            raise _Stopped()
        raise Deadlock(
            "simulation deadlock: the main future can never be ready; waiting actors:\n  "
            + "\n  ".join(self.waiting_actors() or ["(none)"])
        )

    def _loop_recording(self, fut: Future) -> None:
        """The plain loop, logging (step, time, digest) after every step to locate divergence."""
        log = self.step_log
        queue = self._queue
        steps = 0
        while fut._state == PENDING and not self._stopping:
            if not queue:
                self._check_unobserved()
                if fut._state == PENDING and not self._stopping:
                    self._raise_deadlock(fut)
                break
            when, _prio, seq, fn, arg = heapq.heappop(queue)
            if when > self._now:
                self._check_unobserved()
                self._now = when
                self._step_digest = (self._step_digest * 31 + hash(when)) & 0x3FFFFFFF
            self._step_digest = (self._step_digest * 31 + seq) & 0x3FFFFFFF
            steps += 1
            if fn is not _stop_marker:
                fn(arg)
                reset_depth()
            log.append((steps, when, self.digest()))  # type: ignore[union-attr]
        self.steps = self._seq - len(queue)


class _Stopped(Exception):
    """stop() was called with nothing left to run: leave the loop quietly."""
