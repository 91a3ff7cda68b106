"""Flow errors: what a `yield fut` can raise besides the producer's own errors.

Names and codes follow FoundationDB's `error_definitions.h` so a Flow
engineer can read a trace without a glossary.
"""

from __future__ import annotations


class FlowError(Exception):
    """Base of the runtime's own errors; `code` is FoundationDB's number."""

    code = 4100  # internal_error


class ActorCancelled(FlowError):
    """Thrown into an actor at its current wait when its future is cancelled."""

    code = 1101


class BrokenPromise(FlowError):
    """The promise was dropped without ever being set."""

    code = 1100


class TimedOut(FlowError):
    """`flow.timeout` gave up waiting."""

    code = 1004


class EndOfStream(FlowError):
    """A PromiseStream was closed and every value before the close was read."""

    code = 1


class Deadlock(FlowError):
    """SimLoop.run's future can never complete: nothing is ready and no timer is pending."""


class UnhandledActorError(FlowError):
    """An actor failed and no one waited for its future (a failure in simulation)."""

    def __init__(self, actor_name: str, error: BaseException) -> None:
        super().__init__(f"actor {actor_name} failed with no waiter: {error!r}")
        self.actor_name = actor_name
        self.error = error
