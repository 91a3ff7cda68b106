"""flow: a Flow-style actor runtime with a real loop and a deterministic one.

An actor is a generator function that yields futures:

    @flow.actor
    def pinger(n):
        for _ in range(n):
            yield flow.delay(1.0)
        return "done"

    flow.SimLoop(seed=7).run(lambda: pinger(3))   # instant, replayable
    flow.RealLoop().run(lambda: pinger(3))        # three real seconds
"""

from flow.combinators import delay, never, ready, timeout, wait_all, wait_any, yield_now
from flow.errors import (
    ActorCancelled,
    BrokenPromise,
    Deadlock,
    EndOfStream,
    FlowError,
    TimedOut,
    UnhandledActorError,
)
from flow.future import Actor, Future, Promise, actor, release
from flow.loop import Loop, TaskPriority, buggify, current_loop, now, trace
from flow.real_loop import RealLoop
from flow.rng import DeterministicRandom
from flow.sim_loop import SimLoop
from flow.sync import AsyncVar, PromiseStream

__all__ = [
    "ActorCancelled", "Actor", "AsyncVar", "BrokenPromise", "Deadlock", "DeterministicRandom",
    "EndOfStream", "FlowError", "Future", "Loop", "Promise", "PromiseStream", "RealLoop",
    "SimLoop", "TaskPriority", "TimedOut", "UnhandledActorError", "actor", "buggify",
    "current_loop", "delay", "never", "now", "ready", "release", "timeout", "trace",
    "wait_all", "wait_any", "yield_now",
]
