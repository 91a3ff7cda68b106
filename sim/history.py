"""What the clients of a simulation saw, in virtual time, for the checkers.

A `History` records every operation a simulated client sent (`invoke`) and the
reply it got (`complete`), plus the events on the server side that explain
legal anomalies ("kill"/"restart" lose the keyspace, "evict" drops a key).
An op whose reply never arrived keeps `complete=None`: it may or may not have
taken effect, and the checkers treat it so. When the client saw its
connection end without a reply (a reset, the server closing), the op is
`abandon`ed: it may have taken effect, but no later than `deadline`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cache.reply import NULL_ARRAY, Error, Status

__all__ = ["Op", "Event", "History", "show", "show_reply"]


@dataclass(slots=True, eq=False)
class Op:
    """One request: argv as sent, virtual times, decoded reply (cache.reply types)."""

    client: int
    command: tuple[bytes, ...]
    invoke: float
    complete: float | None = None
    reply: object = None
    index: int = 0
    deadline: float | None = None  # no reply, but it cannot take effect after this instant

    @property
    def name(self) -> bytes:
        return self.command[0].upper() if self.command else b""

    @property
    def text(self) -> str:
        """The command as a user would type it: `SET k v1 PX 500`."""
        return " ".join(_word(arg) for arg in self.command)

    def describe(self) -> str:
        """`SET k v1 (client 3, sent t=1.000, replied t=1.002: OK)` for failure messages."""
        if self.complete is None:
            lost = "" if self.deadline is None else f", connection lost t={self.deadline:.3f}"
            return f"{self.text} (client {self.client}, sent t={self.invoke:.3f}, no reply{lost})"
        return (f"{self.text} (client {self.client}, sent t={self.invoke:.3f}, "
                f"replied t={self.complete:.3f}: {show_reply(self.reply)})")

    def __repr__(self) -> str:
        return f"Op#{self.index}<{self.describe()}>"


@dataclass(slots=True, eq=False)
class Event:
    """A server-side happening on the timeline ("kill", "restart", "evict", "fault")."""

    time: float
    kind: str
    detail: dict = field(default_factory=dict)


class History:
    """Append-only record of ops and events; `ops[i].index == i`."""

    __slots__ = ("ops", "events")

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.events: list[Event] = []

    def invoke(self, client: int, command, time: float) -> Op:
        if command.__class__ is not tuple or not all(arg.__class__ is bytes for arg in command):
            command = tuple(_as_bytes(arg) for arg in command)
        op = Op(client, command, float(time), index=len(self.ops))
        self.ops.append(op)
        return op

    def complete(self, op: Op, reply: object, time: float) -> None:
        op.reply = reply
        op.complete = float(time)

    def abandon(self, op: Op, time: float) -> None:
        """The connection of an op without reply ended at `time`: it can no longer take effect."""
        if op.complete is None:
            op.deadline = float(time)

    def event(self, time: float, kind: str, **detail) -> Event:
        event = Event(float(time), kind, detail)
        self.events.append(event)
        return event

    def end_time(self) -> float:
        """The last instant anything was recorded (0.0 for an empty history)."""
        times = [0.0]
        for op in self.ops:
            times.append(op.invoke if op.complete is None else op.complete)
        times.extend(event.time for event in self.events)
        return max(times)

    def to_json(self, path) -> None:
        """Write one JSON object a line, ops and events in time order (Porcupine-like)."""
        rows = []
        for op in self.ops:
            row = {
                "type": "op", "index": op.index, "client": op.client,
                "input": [_word(arg) for arg in op.command],
                "call": op.invoke, "return": op.complete,
                "output": None if op.complete is None else _jsonable(op.reply),
            }
            if op.deadline is not None:
                row["deadline"] = op.deadline
            rows.append((op.invoke, 0, op.index, row))
        for position, event in enumerate(self.events):
            rows.append((event.time, 1, position, {
                "type": "event", "time": event.time, "kind": event.kind,
                "detail": {str(k): _jsonable(v) for k, v in event.detail.items()},
            }))
        rows.sort(key=lambda row: row[:3])
        with open(path, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row[3], ensure_ascii=True))
                out.write("\n")


def show(value: object) -> str:
    """A value as it appears in messages: b'v3', nil, 7."""
    if value is None or value is NULL_ARRAY:
        return "nil"
    return repr(bytes(value)) if isinstance(value, bytes) else repr(value)


def show_reply(reply: object) -> str:
    if isinstance(reply, Error):
        return f"error {_word(reply)!r}"
    if isinstance(reply, Status):
        return _word(reply)
    if isinstance(reply, list):
        return "[" + ", ".join(show_reply(item) for item in reply) + "]"
    return show(reply)


def _word(arg: bytes) -> str:
    """Printable ASCII stays readable; anything else is escaped as in a bytes repr."""
    return repr(bytes(arg))[2:-1]


def _as_bytes(arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    return str(arg).encode()


def _jsonable(value: object):
    if value is None or value is NULL_ARRAY:
        return None
    if isinstance(value, Error):
        return {"error": _word(value)}
    if isinstance(value, Status):
        return {"status": _word(value)}
    if isinstance(value, (bytes, bytearray)):
        return _word(bytes(value))
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (int, float, str, bool)):
        return value
    return repr(value)
