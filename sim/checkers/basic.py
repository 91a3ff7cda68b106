"""Unexpected error replies, and progress after a fault heals."""

from __future__ import annotations

from sim.history import History

from .base import Failure, Result, at, is_error

# Commands that may legitimately wait forever (BLPOP q 0), so never owe a reply.
BLOCKING = frozenset({b"BLPOP", b"BRPOP", b"BLMOVE", b"BRPOPLPUSH", b"BZPOPMIN", b"BZPOPMAX", b"BLMPOP",
                      b"BZMPOP", b"XREAD", b"XREADGROUP", b"WAIT", b"SUBSCRIBE", b"PSUBSCRIBE", b"MONITOR"})


def check_no_errors(history: History, allowed=()) -> Result:
    """One failure per distinct error reply not starting with an `allowed` prefix."""
    prefixes = tuple(p.encode() if isinstance(p, str) else bytes(p) for p in allowed)
    first_seen: dict[bytes, list] = {}
    for op in history.ops:
        if op.complete is not None and is_error(op.reply) and not bytes(op.reply).startswith(prefixes):
            first_seen.setdefault(bytes(op.reply), []).append(op)
    failures = []
    for text, ops in first_seen.items():
        first = ops[0]
        more = f" ({len(ops)} replies like it in total)" if len(ops) > 1 else ""
        failures.append(Failure("no_errors", first.complete, None,
                                f"{first.text} at {at(first.complete)} got the error reply "
                                f"{text.decode(errors='backslashreplace')!r}{more}", [first]))
    return Result(failures, stats={"errors": sum(len(ops) for ops in first_seen.values())})


def check_liveness(history: History, heal_time: float, bound: float, *, margin: float | None = None,
                   end_time: float | None = None) -> Result:
    """Clients make progress again within `bound` seconds of `heal_time`.

    1. Every client that sends anything after `heal_time` gets a reply to some
       op within `bound` of the heal (or of its first send after it, if later).
    2. No non-blocking op sent after `heal_time + margin` (default: `bound`)
       is left without a reply, unless the history ended less than `bound`
       after it was sent.
    """
    margin = bound if margin is None else margin
    end = history.end_time() if end_time is None else end_time
    by_client: dict[int, list] = {}
    for op in history.ops:
        by_client.setdefault(op.client, []).append(op)
    failures = []
    for client in sorted(by_client):
        ops = by_client[client]
        after = [op for op in ops if op.invoke >= heal_time]
        if not after:
            continue
        deadline = max(heal_time, after[0].invoke) + bound
        replied = [op for op in ops if op.complete is not None and heal_time <= op.complete <= deadline]
        if not replied and deadline <= end and any(op.name not in BLOCKING for op in after):
            failures.append(Failure(
                "liveness", deadline, None,
                f"client {client} sent {len(after)} ops after the heal at {at(heal_time)} but got no reply "
                f"by {at(deadline)} ({bound:g}s later)", after[:2]))
            continue
        stuck = [op for op in after if op.complete is None and op.name not in BLOCKING
                 and op.invoke >= heal_time + margin and op.invoke + bound <= end]
        if stuck:
            failures.append(Failure(
                "liveness", stuck[0].invoke, None,
                f"client {client} got no reply to {stuck[0].text} sent at {at(stuck[0].invoke)}, "
                f"{stuck[0].invoke - heal_time:g}s after the heal at {at(heal_time)}"
                + (f" ({len(stuck)} such ops)" if len(stuck) > 1 else ""), stuck[:1]))
    return Result(failures)
