"""Work queues on lists: nothing popped twice, invented, or lost; FIFO where it applies.

Producers push unique items (RPUSH/LPUSH), consumers pop them (LPOP, RPOP,
BLPOP, BRPOP, LMPOP, LMOVE, RPOPLPUSH and the blocking forms; a move counts as a
pop from the source and a push onto the destination). An acknowledged push
must be popped or still be in the queue at the end: the last full
`LRANGE q 0 -1`, or the last pop that found q empty, is that end. A push
that may have run before a kill/restart may be lost, and so may as many
items as there are pops whose reply never came (they may have taken them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.history import Event, History, Op, show

from .base import Failure, Outage, Result, Unknown, at, evictions, is_error, is_nil, outages
from .strings import parse_int

CHECKER = "queue"
PUSHES = {b"RPUSH": b"R", b"LPUSH": b"L", b"RPUSHX": b"R", b"LPUSHX": b"L"}  # the end items go in at
DESTRUCTIVE = frozenset({b"DEL", b"UNLINK", b"LTRIM", b"LREM", b"LSET", b"LINSERT", b"RENAME", b"EXPIRE",
                         b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT", b"GETDEL", b"SET", b"RESTORE", b"MOVE"})
MAX_LISTED = 20


@dataclass(slots=True, eq=False)
class Push:
    op: Op
    queue: bytes
    items: list
    side: bytes
    acked: bool


@dataclass(slots=True, eq=False)
class Pop:
    op: Op
    queue: bytes | None  # None: a multi-queue pop without reply
    queues: tuple
    items: list
    side: bytes
    capacity: int  # how many items it may have taken if its reply never came
    destination: bytes | None = None
    destination_side: bytes = b"L"


@dataclass(slots=True)
class Queue:
    pushes: list = field(default_factory=list)
    pops: list = field(default_factory=list)
    pending: list = field(default_factory=list)  # pops without reply
    views: list = field(default_factory=list)  # (op, items) of full LRANGEs
    empties: list = field(default_factory=list)  # pops that found it empty
    destroyed: list = field(default_factory=list)


def check_queue(history: History, *, killed: bool = False, queues=None) -> Result:
    """Check every list used as a queue (or only `queues`).

    `killed`: the scenario killed the server; losses are then excused even
    without "restart" events (when there are such events, only pushes that
    may have run before a kill are excused).
    """
    state = _collect(history)
    wanted = sorted(state) if queues is None else [bytes(q) for q in queues]
    lost_windows = outages(history)
    evicted = evictions(history)
    failures, unknown = [], []
    for name in wanted:
        queue = state.get(name)
        if queue is None:
            continue
        failures.extend(_check_pops(name, queue))
        # An eviction of the list loses what it held then, as a restart does.
        windows = lost_windows + [Outage(t, t, Event(t, "evict", {"key": name})) for t in evicted.get(name, ())]
        failures.extend(_check_losses(name, queue, windows, killed, unknown))
        failures.extend(_check_order(name, queue, windows))
    return Result(failures, unknown, {"queues": len(wanted)})


# ---------------------------------------------------------------- parsing

def _collect(history) -> dict[bytes, Queue]:
    state: dict[bytes, Queue] = {}

    def queue(name):
        return state.setdefault(name, Queue())

    for op in history.ops:
        name = op.name
        args = op.command[1:]
        done = op.complete is not None
        if done and is_error(op.reply):
            continue
        if name in PUSHES and len(args) >= 2:
            acked = done and isinstance(op.reply, int) and (op.reply > 0 or not name.endswith(b"X"))
            if done and not acked:
                continue  # RPUSHX on a missing list: nothing was pushed
            queue(args[0]).pushes.append(Push(op, args[0], list(args[1:]), PUSHES[name], acked))
        elif name == b"LRANGE" and len(args) == 3:
            if done and parse_int(args[1]) == 0 and parse_int(args[2]) == -1 and isinstance(op.reply, list):
                queue(args[0]).views.append((op, [bytes(item) for item in op.reply]))
        elif name in DESTRUCTIVE and args:
            queue(args[0]).destroyed.append(op)
        elif name in (b"FLUSHALL", b"FLUSHDB"):
            for existing in state.values():
                existing.destroyed.append(op)
        else:
            pop = _parse_pop(op, name, args)
            if pop is None:
                continue
            for target in pop.queues:
                queue(target)
            if not done:
                for target in pop.queues:
                    state[target].pending.append(pop)
            elif not pop.items:
                for target in pop.queues:
                    state[target].empties.append(pop)
            else:
                state[pop.queue].pops.append(pop)
            if pop.destination is not None and (not done or pop.items):
                queue(pop.destination).pushes.append(
                    Push(op, pop.destination, list(pop.items), pop.destination_side, done))
    return state


def _parse_pop(op, name, args):
    reply = op.reply if op.complete is not None else None
    if name in (b"LPOP", b"RPOP") and args:
        count = parse_int(args[1]) if len(args) > 1 else 1
        if isinstance(reply, list):
            items = [bytes(item) for item in reply]
        else:
            items = [] if is_nil(reply) else [bytes(reply)]
        return Pop(op, args[0], (args[0],), items, name[:1], max(count or 1, 1))
    if name in (b"BLPOP", b"BRPOP") and len(args) >= 2:
        queues = tuple(args[:-1])
        if isinstance(reply, list) and len(reply) == 2:
            return Pop(op, bytes(reply[0]), queues, [bytes(reply[1])], name[1:2], 1)
        return Pop(op, None, queues, [], name[1:2], 1)
    if name in (b"LMOVE", b"BLMOVE", b"RPOPLPUSH", b"BRPOPLPUSH") and len(args) >= 2:
        moves = name.endswith(b"LMOVE") and len(args) >= 4
        side, to = (args[2].upper()[:1], args[3].upper()[:1]) if moves else (b"R", b"L")
        items = [] if is_nil(reply) else [bytes(reply)]
        return Pop(op, args[0], (args[0],), items, side, 1, destination=args[1], destination_side=to)
    if name in (b"LMPOP", b"BLMPOP"):
        return _parse_lmpop(op, name, args, reply)
    return None


def _parse_lmpop(op, name, args, reply):
    offset = 1 if name == b"BLMPOP" else 0  # BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]
    numkeys = parse_int(args[offset]) if len(args) > offset else None
    if not numkeys or len(args) < offset + 2 + numkeys:
        return None
    queues = tuple(args[offset + 1: offset + 1 + numkeys])
    rest = [word.upper() for word in args[offset + 1 + numkeys:]]
    side = rest[0][:1] if rest else b"L"
    count = parse_int(args[-1]) if len(rest) == 3 and rest[1] == b"COUNT" else 1
    if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):
        return Pop(op, bytes(reply[0]), queues, [bytes(item) for item in reply[1]], side, count or 1)
    return Pop(op, None, queues, [], side, count or 1)


# ---------------------------------------------------------------- checks

def _pushes_by_item(queue):
    by_item: dict[bytes, list] = {}
    for push in queue.pushes:
        for item in push.items:
            by_item.setdefault(item, []).append(push)
    return by_item


def _check_pops(name, queue):
    """Every popped item was pushed, and no more often than it was pushed."""
    pushed = _pushes_by_item(queue)
    popped: dict[bytes, list] = {}
    for pop in queue.pops:
        for item in pop.items:
            popped.setdefault(item, []).append(pop)
    failures = []
    for item, pops in popped.items():
        first = pops[0].op
        if item not in pushed:
            failures.append(Failure(CHECKER, first.complete, name,
                                    f"{first.text} at {at(first.complete)} returned {show(item)}, "
                                    f"which was never pushed to {show(name)}", [first]))
            continue
        times = len(pushed[item])
        late_views = [view for view, items in queue.views if item in items
                      and any(pop.op.complete < view.invoke for pop in pops)]
        seen = len(pops) + (1 if late_views else 0)
        if seen > times:
            witnesses = [pushed[item][0].op, *(pop.op for pop in pops[:2]), *late_views[:1]]
            if len(pops) > times:
                what = " and ".join(f"{pop.op.text} (client {pop.op.client}) at {at(pop.op.complete)}"
                                    for pop in pops[:2])
                message = f"{show(item)} was popped {len(pops)} times from {show(name)} but pushed {times}: {what}"
            else:
                message = (f"{show(item)} was popped from {show(name)} at {at(first.complete)} but was still "
                           f"in it when {late_views[0].text} ran at {at(late_views[0].invoke)}")
            failures.append(Failure(CHECKER, pops[min(times, len(pops) - 1)].op.complete, name, message,
                                    _ordered(witnesses)))
    return failures


def _final_observation(queue):
    """The last op that showed the whole content of the queue: (op, items) or None."""
    candidates = list(queue.views) + [(pop.op, []) for pop in queue.empties]
    if not candidates:
        return None
    return max(candidates, key=lambda entry: (entry[0].invoke, entry[0].index))


def _check_losses(name, queue, lost_windows, killed, unknown):
    final = _final_observation(queue)
    if final is None:
        if queue.pushes:
            unknown.append(Unknown(CHECKER, name, "no final LRANGE or empty pop: cannot tell lost items "
                                                  "from items left in the queue"))
        return []
    end_op, remaining = final
    if queue.destroyed:
        unknown.append(Unknown(CHECKER, name, f"losses not checked: {queue.destroyed[0].text} removed items"))
        return []
    if killed and not lost_windows:
        unknown.append(Unknown(CHECKER, name, "losses not checked: the server was killed and the history "
                                              "has no restart events to say when"))
        return []
    accounted = set(remaining)
    for pop in queue.pops:
        accounted.update(pop.items)
    lost = []
    for push in queue.pushes:
        if not push.acked or push.op.complete >= end_op.invoke:
            continue
        if any(window.end >= push.op.invoke and window.start <= end_op.complete for window in lost_windows):
            continue  # it may have been stored just before the data was lost
        lost.extend((item, push) for item in push.items if item not in accounted)
    capacity = sum(pop.capacity for pop in queue.pending if pop.op.invoke <= end_op.complete)
    if len(lost) <= capacity:
        return []
    seen_how = f"{end_op.text} at {at(end_op.complete)}"
    if capacity == 0:
        return [Failure(CHECKER, push.op.complete, name,
                        f"{show(item)} was pushed by {push.op.text} (acknowledged at {at(push.op.complete)}) "
                        f"but never popped, and {seen_how} did not find it: a lost push", [push.op, end_op])
                for item, push in lost[:MAX_LISTED]]
    sample = [push.op for _, push in lost[:3]]
    return [Failure(CHECKER, lost[0][1].op.complete, name,
                    f"{len(lost)} acknowledged pushes to {show(name)} were never popped nor left in it "
                    f"({seen_how}), more than the {capacity} items the pops without reply could have taken; "
                    f"first: {show(lost[0][0])}", _ordered([*sample, end_op]))]


def _check_order(name, queue, lost_windows):
    """With one consumer, a push that finished before another started is popped first."""
    if queue.pending or lost_windows or queue.destroyed or not queue.pops:
        return []
    if any(not push.acked for push in queue.pushes):
        return []
    consumers = {pop.op.client for pop in queue.pops} | {pop.op.client for pop in queue.empties}
    push_sides = {push.side for push in queue.pushes}
    pop_sides = {pop.side for pop in queue.pops}
    if len(consumers) != 1 or len(push_sides) != 1 or len(pop_sides) != 1 or push_sides == pop_sides:
        return []
    push_of = {}
    for push in queue.pushes:
        for item in push.items:
            if item in push_of:
                return []  # an item pushed twice: order by item is ambiguous
            push_of[item] = push
    latest = None  # (invoke of the latest-sent push popped so far, item, pop)
    for pop in sorted(queue.pops, key=lambda p: p.op.invoke):
        for item in pop.items:
            push = push_of.get(item)
            if push is None:
                continue
            if latest is not None and push.op.complete < latest[0]:
                other_item, other_push, other_pop = latest[1], push_of[latest[1]], latest[2]
                return [Failure(CHECKER, pop.op.complete, name,
                                f"{show(item)} was popped after {show(other_item)} by the only consumer, but "
                                f"its push completed at {at(push.op.complete)}, before the push of "
                                f"{show(other_item)} was sent at {at(other_push.op.invoke)}: not FIFO",
                                _ordered([push.op, other_push.op, other_pop.op, pop.op]))]
            if latest is None or push.op.invoke > latest[0]:
                latest = (push.op.invoke, item, pop)
    return []


def _ordered(ops):
    unique = []
    for op in ops:
        if op not in unique:
            unique.append(op)
    return sorted(unique, key=lambda op: op.index)
