"""What every checker returns, and the timeline facts they share."""

from __future__ import annotations

from dataclasses import dataclass, field

from cache.reply import NULL_ARRAY, Error
from sim.history import Event, History, Op, show

INF = float("inf")
# The server computes deadlines from a millisecond clock cached before each
# command; one millisecond of rounding either way must never raise an alarm.
CLOCK_EPSILON = 0.0015
# Except early: its clock is floored to the millisecond and a key expires only
# once that clock is past the deadline, so a key never vanishes before it was
# sent + ttl; only the float rounding of the wall clock needs allowing for.
# (A server that expired keys when its clock *reached* the deadline would.)
EARLY_EPSILON = 1e-5


@dataclass(slots=True, eq=False)
class Failure:
    """A violation and the few ops that prove it."""

    checker: str
    time: float
    key: bytes | None
    message: str
    ops: list[Op] = field(default_factory=list)

    def __str__(self) -> str:
        where = "" if self.key is None else f" key {show(self.key)}"
        lines = [f"[{self.checker}] t={self.time:.3f}{where}: {self.message}"]
        lines.extend(f"    #{op.index} {op.describe()}" for op in self.ops)
        return "\n".join(lines)


@dataclass(slots=True, eq=False)
class Unknown:
    """A part of the history the checker could not decide (not a failure)."""

    checker: str
    key: bytes | None
    reason: str

    def __str__(self) -> str:
        where = "" if self.key is None else f" key {show(self.key)}"
        return f"[{self.checker}]{where}: unknown: {self.reason}"


class Result(list):
    """The failures (a list), plus what could not be checked and search counters."""

    __slots__ = ("unknown", "stats")

    def __init__(self, failures=(), unknown=(), stats=None) -> None:
        super().__init__(sorted(failures, key=lambda failure: failure.time))
        self.unknown: list[Unknown] = list(unknown)
        self.stats: dict = dict(stats or {})

    @property
    def ok(self) -> bool:
        return not self

    def report(self) -> str:
        lines = [str(failure) for failure in self]
        lines.extend(str(unknown) for unknown in self.unknown)
        return "\n".join(lines) if lines else "ok"


def is_error(reply: object) -> bool:
    return isinstance(reply, Error)


def is_nil(reply: object) -> bool:
    return reply is None or reply is NULL_ARRAY


def at(time: float) -> str:
    return f"t={time:.3f}"


@dataclass(slots=True, frozen=True)
class Outage:
    """The keyspace was lost at some instant in [start, end] (a kill/restart)."""

    start: float
    end: float
    event: Event


def outages(history: History) -> list[Outage]:
    """Each "restart" loses the data; with a "kill"/"crash" before it, from the kill on.

    A restart may also carry the kill time itself as detail `killed_at`.
    """
    result = []
    down_since = None
    for event in sorted(history.events, key=lambda e: e.time):
        if event.kind in ("kill", "crash"):
            if down_since is None:
                down_since = event.time
        elif event.kind == "restart":
            start = event.detail.get("killed_at", down_since)
            start = event.time if start is None else min(float(start), event.time)
            result.append(Outage(start, event.time, event))
            down_since = None
    if down_since is not None:
        # Killed and never restarted: whatever was there is gone from the kill on.
        result.append(Outage(down_since, INF, Event(down_since, "kill")))
    return result


def evictions(history: History) -> dict[bytes, list[float]]:
    found: dict[bytes, list[float]] = {}
    for event in history.events:
        if event.kind == "evict" and "key" in event.detail:
            found.setdefault(bytes(event.detail["key"]), []).append(event.time)
    return found
