"""Expiry in virtual time: no value read after its deadline, no key gone before it.

Both rules are conservative: the deadline of a write is only known within
[sent + ttl, replied + ttl] (plus twice the allowed clock `skew` and a
millisecond of rounding), any op that might have changed the TTL in between
(EXPIRE, PERSIST, GETEX, SET ... KEEPTTL, INCR keeping an older TTL) widens
it, and an early-expiry alarm needs a read that had nothing else on its key
(no concurrent write, delete, eviction, restart or FLUSHALL) since the write.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from sim.history import History, show

from .base import CLOCK_EPSILON, EARLY_EPSILON, INF, Failure, Result, at, evictions, outages
from .strings import (DELETE, KEEP, READ_KINDS, certainly_changes, parse_int, project_all, read_value,
                      written_value)

CHECKER = "ttl"


def check_ttl(history: History, *, skew: float = 0.0) -> Result:
    """Late reads (a value returned after it must have expired) and early expiries."""
    slack = 2 * skew + EARLY_EPSILON  # how early a deadline may fire (see base.EARLY_EPSILON)
    late = 2 * skew + CLOCK_EPSILON  # and how late
    per_key, unsupported, flushes = project_all(history, slack)
    lost = outages(history)
    evicted = evictions(history)
    failures = []
    for key in sorted(per_key):
        if key in unsupported:
            continue
        kops = [k for k in per_key[key] if k.op is not None]
        window = _Interference(kops, lost, evicted.get(key, ()), flushes)
        writers_of: dict[bytes, list] = {}
        for kop in kops:
            value = written_value(kop)
            if value is not None and not _certainly_failed(kop):
                writers_of.setdefault(value, []).append(kop)
        modifiers = [k for k in kops if _may_modify_ttl(k)]
        # Values these make are not known: a read of such a value has an unknown source.
        makers = [k for k in kops if k.kind == "append" or (k.kind == "incrby" and not k.known)]
        writes = sorted((k for k in kops if written_value(k) is not None and certainly_changes(k)),
                        key=lambda k: k.ret)
        write_rets = [k.ret for k in writes]
        for kop in kops:
            value = read_value(kop)
            if isinstance(value, bytes):
                if any(m.inv <= kop.ret and (m.kind == "append" or parse_int(value) is not None) for m in makers):
                    continue
                found = _late_read(key, kop, value, writers_of.get(value, ()), modifiers, slack + late, skew)
            elif value is None or _observed_absent(kop):
                found = _early_expiry(key, kop, writes, write_rets, window)
            else:
                found = None
            if found is not None:
                failures.append(found)
    return Result(failures, stats={"keys": len(per_key), "skipped": sorted(unsupported)})


def _certainly_failed(kop) -> bool:
    if not kop.known:
        return False
    if kop.kind == "set":
        return kop.arg[1] is not None and not kop.arg[2] and kop.reply is None
    if kop.kind == "setnx":
        return kop.reply == 0
    return isinstance(kop.reply, tuple)


def _may_modify_ttl(kop) -> bool:
    if kop.kind in ("expire", "persist"):
        return not kop.known or kop.reply == 1
    if kop.kind == "getex":
        return kop.arg is not KEEP and (not kop.known or kop.reply is not None)
    return False


def _observed_absent(kop) -> bool:
    if not kop.known:
        return False
    if kop.kind == "exists":
        return kop.reply == frozenset({False})
    return kop.kind == "ttl" and kop.reply == -2


def _latest_deadline(kop, slack: float) -> float:
    """The latest virtual time at which the TTL `kop` set can fire (INF: none or unknown)."""
    if kop.kind == "set":
        deadline = kop.arg[3]
    elif kop.kind in ("expire", "getex"):
        deadline = kop.arg[1] if kop.kind == "expire" else kop.arg
    else:
        return INF
    if deadline is DELETE:
        return -INF
    if deadline is None or deadline is KEEP or deadline == -INF or kop.ret == INF:
        return INF
    # deadline = sent + ttl - early slack, and the server ran the op no later than its reply;
    # `slack` is the early slack plus the late one.
    return kop.ret + (deadline - kop.inv) + slack


def _late_read(key, read, value, writers, modifiers, slack, skew):
    candidates = [w for w in writers if w.op is not read.op and w.inv <= read.ret]
    if not candidates:
        return None  # a value nobody wrote is the linearizability checker's business
    best = None
    for write in candidates:
        between = [m for m in modifiers if m.inv <= read.ret and m.ret >= write.inv]
        definite = [m for m in between if m.known and m.inv > write.ret and m.ret < read.inv]
        deadlines = [_latest_deadline(m, slack) for m in between]
        if not definite:
            deadlines.append(_latest_deadline(write, slack))
        deadline = max(deadlines)
        if deadline >= read.inv:
            return None  # this write can explain the read
        if best is None or deadline > best[0]:
            best = (deadline, write, definite[-1:] if definite else [])
    deadline, write, extra = best
    via = f", then {extra[0].op.text} completed at {at(extra[0].ret)}" if extra else ""
    return Failure(CHECKER, read.op.invoke, key,
                   f"{read.op.text} sent at {at(read.inv)} returned {show(value)}, but {show(value)} was written "
                   f"by {write.op.text} completed at {at(write.ret)}{via}, so it had expired by {at(deadline)} "
                   f"(allowing {skew:g}s of clock skew)",
                   _ops(write, *extra, read))


def _early_expiry(key, read, writes, write_rets, window):
    last = bisect_left(write_rets, read.inv) - 1
    if last < 0:
        return None
    write = writes[last]
    if write.kind in ("incrby", "append") or (write.kind == "set" and write.arg[3] is KEEP):
        return None  # these keep an older TTL that is not tracked here
    earliest = write.arg[3] if write.kind == "set" else None
    if earliest is not None and earliest <= read.ret:
        return None  # it may really have expired (and -INF: an absolute deadline)
    if window.touched(write, read):
        return None
    ttl = "no TTL" if earliest is None else f"a TTL that cannot fire before {at(earliest)}"
    return Failure(CHECKER, read.op.complete, key,
                   f"{read.op.text} at {at(read.op.complete)} found {show(key)} missing, but {write.op.text} "
                   f"completed at {at(write.ret)} with {ttl} and nothing else touched {show(key)} in between "
                   f"(no write, delete, eviction, restart or flush): it expired early",
                   _ops(write, read))


def _ops(*kops):
    ops = []
    for kop in kops:
        if kop.op not in ops:
            ops.append(kop.op)
    return sorted(ops, key=lambda op: op.index)


class _Interference:
    """Answers: could anything but `write` have changed the key between it and `read`?"""

    __slots__ = ("invs", "max_ret_before", "lost", "evicted", "flushes")

    def __init__(self, kops, lost, evicted, flushes) -> None:
        changers = sorted((k for k in kops if k.kind not in READ_KINDS), key=lambda k: k.inv)
        self.invs = [k.inv for k in changers]
        self.max_ret_before = [-INF]
        for kop in changers:
            self.max_ret_before.append(max(self.max_ret_before[-1], kop.ret))
        self.lost = lost
        self.evicted = evicted
        self.flushes = flushes

    def touched(self, write, read) -> bool:
        start, end = write.inv, read.ret
        first = bisect_left(self.invs, start)
        own = 1 + (read.kind not in READ_KINDS)  # the write itself, and the read if it writes too
        if bisect_right(self.invs, end) - first > own or self.max_ret_before[first] >= start:
            return True  # another changer was sent in the window, or was still running when it opened
        if any(outage.start <= end and outage.end >= start for outage in self.lost):
            return True
        if any(start <= time <= end for time in self.evicted):
            return True
        return any(op.invoke <= end and (op.complete is None or op.complete >= start) for op in self.flushes)
