"""Per-key linearizability of string commands against a Redis model.

Linearizability is compositional (P-compositionality), so each key is checked
alone: ops are projected onto keys (`strings.project`: MSET becomes one SET per
key, MGET one GET per key, DEL k1 k2 a delete per key whose outcomes are those
the total allows), and `search.search` looks for an order of each key's ops
that respects real time and the model. Ops without a reply may take effect
at any time after they were sent, or never; a restart resets every key
somewhere between the kill and the restart; an "evict" event may delete its
key at that instant; a key with a TTL may read as nil once the TTL may have
fired. All of these only ever widen what is allowed: a failure is a proof.
"""

from __future__ import annotations

from sim.history import History, show, show_reply

from .base import EARLY_EPSILON, INF, Failure, Result, Unknown, at, evictions, outages
from .search import search
from .strings import (ABSENT, READ_KINDS, UNKNOWN_REPLY, KeyOp, certainly_changes, parse_int, project_all, read_value,
                      step_reset, written_value)

CHECKER = "linearizable"
# Ops only a string key accepts; other ops (DEL, EXISTS, EXPIRE...) work on any type.
STRING_KINDS = frozenset({"get", "set", "setnx", "getset", "incrby", "append", "strlen", "getdel", "getex"})
REMOVING_KINDS = frozenset({"delete", "getdel", "reset", "evict", "flush", "expire", "getex", "set"})


def check_linearizable(history: History, *, max_search_steps: int = 500_000, skew: float = 0.0,
                       max_delay: float | None = None) -> Result:
    """Failures for keys with no valid order; `unknown` for keys whose search ran out of steps.

    `max_search_steps` bounds the work per key (configurations expanded);
    `skew` (seconds) is how far the server's clock may be from virtual time
    (it widens TTL windows); `max_delay`, if the network guarantees it, is
    how long after being sent an op without reply can still take effect
    (default: forever), which keeps many lost replies cheap to check.
    """
    slack = 2 * skew + EARLY_EPSILON  # this checker only cares when a TTL may fire at the earliest
    per_key, unsupported, flushes = project_all(history, slack)
    _add_server_events(history, per_key, flushes)
    failures, unknown = [], []
    skipped = {}
    steps_total = 0
    checked = 0
    for key in sorted(set(per_key) | set(unsupported)):
        kops = per_key.get(key, [])
        if key in unsupported:
            if any(k.kind in STRING_KINDS for k in kops):
                unknown.append(Unknown(CHECKER, key, f"not checked: {unsupported[key]}"))
            else:
                skipped[key] = unsupported[key]
            continue
        kops = [k for k in kops if k.ret != INF or k.kind not in READ_KINDS]
        for kop in kops:
            if kop.ret == INF and kop.op is not None and kop.op.deadline is not None:
                kop.ret = max(kop.inv, kop.op.deadline)
                kop.optional = True
        if max_delay is not None:
            for kop in kops:
                if kop.ret == INF and kop.op is not None:
                    kop.ret = kop.inv + max_delay
                    kop.optional = True
        outcome = search(kops, max_search_steps)
        steps_total += outcome.steps
        checked += 1
        if outcome.verdict == "unknown":
            unknown.append(Unknown(CHECKER, key, f"search gave up after {outcome.steps} steps over {len(kops)} "
                                                 f"ops (raise max_search_steps to decide)"))
        elif outcome.verdict == "fail":
            failures.append(explain(key, kops, outcome.culprit, outcome.states))
    stats = {"keys": checked, "ops": len(history.ops), "steps": steps_total, "skipped": skipped}
    return Result(failures, unknown, stats)


def _add_server_events(history, per_key, flushes):
    lost = outages(history)
    evicted = evictions(history)
    for key, kops in per_key.items():
        for outage in lost:
            kops.append(KeyOp("reset", step_reset, None, UNKNOWN_REPLY, None, inv=outage.start, ret=outage.end))
        for time in evicted.get(key, ()):
            kops.append(KeyOp("evict", step_reset, None, UNKNOWN_REPLY, None, inv=time, ret=time, optional=True))
        for op in flushes:
            kops.append(KeyOp("flush", step_reset, None, UNKNOWN_REPLY, op))


# ---------------------------------------------------------------- explanations

def explain(key: bytes, kops: list[KeyOp], culprit: KeyOp, states) -> Failure:
    """Turn the op no order could place into a sentence and a small witness."""
    for explainer in (_explain_value_read, _explain_nil_read, _explain_counter):
        found = explainer(key, kops, culprit)
        if found is not None:
            message, witness = found
            return _failure(key, culprit, message, witness)
    return _failure(key, culprit, *_explain_generic(key, kops, culprit, states))


def _failure(key, culprit, message, witness):
    ops = []
    for kop in witness:
        if kop is not None and kop.op is not None and kop.op not in ops:
            ops.append(kop.op)
    ops.sort(key=lambda op: op.index)
    time = culprit.ret if culprit.ret != INF else culprit.inv
    return Failure(CHECKER, time, key, message, ops)


def _when(kop) -> str:
    return f"{kop.op.text} at {at(kop.op.complete if kop.op.complete is not None else kop.op.invoke)}"


def _explain_value_read(key, kops, culprit):
    value = read_value(culprit)
    if value is UNKNOWN_REPLY or value is None:
        return None
    producers = [k for k in kops if k is not culprit and k.op is not None and written_value(k) == value]
    if not producers:
        numeric = parse_int(value) is not None
        if any(k.kind == "append" or (numeric and k.kind == "incrby" and not k.known) for k in kops):
            return None  # an APPEND, or an INCR without reply, may have made it
        return (f"{_when(culprit)} returned {show(value)}, a value no operation ever wrote to {show(key)}",
                [culprit])
    possible = [k for k in producers if k.inv <= culprit.ret]
    if not possible:
        first = min(producers, key=lambda k: k.inv)
        return (f"{_when(culprit)} returned {show(value)} before any write of it was sent "
                f"(the first, {first.op.text}, was sent at {at(first.inv)})", [culprit, first])
    latest = max(possible, key=lambda k: k.ret)
    overwriters = [k for k in kops if k.op is not None and k.ret < culprit.inv and certainly_changes(k)
                   and written_value(k) != value and all(k.inv > p.ret for p in possible)]
    if not overwriters:
        return None
    overwriter = max(overwriters, key=lambda k: k.ret)
    writes = "every write" if len(possible) > 1 else "the write"
    how = "deleted" if written_value(overwriter) is None else "overwritten"
    return (f"{_when(culprit)} returned {show(value)} but {writes} of {show(value)} "
            f"(last: {latest.op.text} completed at {at(latest.ret)}) was {how} by "
            f"{overwriter.op.text} completed at {at(overwriter.ret)}", [latest, overwriter, culprit])


def _explain_nil_read(key, kops, culprit):
    if read_value(culprit) is not None and not (culprit.kind == "exists" and culprit.known
                                                 and culprit.reply == frozenset({False})):
        return None
    writes = [k for k in kops if k.op is not None and k.ret < culprit.inv and written_value(k) is not None
              and certainly_changes(k)]
    if not writes:
        return None
    write = max(writes, key=lambda k: k.ret)
    removers = [k for k in kops if k is not write and k is not culprit and k.kind in REMOVING_KINDS
                and k.ret >= write.inv and k.inv <= culprit.ret]
    if removers or write.kind in ("incrby", "append") or (write.kind == "set" and write.arg[3] is not None):
        return None  # something may have removed it, or a TTL (set, or kept from before) may have fired
    saw = "found it missing" if culprit.kind == "exists" else "returned nil"
    return (f"{_when(culprit)} {saw}, but {write.op.text} completed at {at(write.ret)} "
            f"and nothing that could remove {show(key)} (a delete, an expiry, an eviction, a restart) "
            f"happened in between: a lost write", [write, culprit])


def _explain_counter(key, kops, culprit):
    if culprit.kind != "incrby" or not culprit.known or not isinstance(culprit.reply, int):
        return None
    twins = [k for k in kops if k is not culprit and k.kind == "incrby" and k.known and k.reply == culprit.reply
             and k.arg == culprit.arg and k.op is not None]
    if not twins:
        return None
    twin = min(twins, key=lambda k: k.ret)
    return (f"{_when(culprit)} returned {culprit.reply}, the same value {_when(twin)} returned: "
            f"one of the two increments was lost", [twin, culprit])


def _explain_generic(key, kops, culprit, states):
    values = sorted({state[0] for state in states}, key=lambda v: (v is not None, v or b""))
    held = " or ".join(show(value) for value in values)
    before = [k for k in kops if k.kind not in READ_KINDS and k.ret < culprit.inv]
    writer = max(before, key=lambda k: k.ret) if before else None
    concurrent = [k for k in kops if k is not culprit and k.op is not None and k.inv <= culprit.ret
                  and culprit.inv <= k.ret != INF][:3]
    reply = show_reply(culprit.op.reply) if culprit.op.complete is not None else "nothing"
    message = f"{_when(culprit)} replied {reply}, which no order of the operations on {show(key)} explains: " \
              f"when it could take effect {show(key)} could only hold {held}"
    if writer is not None:
        source = writer.op.text if writer.op is not None else f"a server {writer.kind}"
        message += f" (last changed by {source} at {at(writer.ret if writer.ret != INF else writer.inv)})"
    return message, [writer, *concurrent, culprit]
