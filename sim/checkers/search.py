"""The linearizability search for one key: memoised configurations, event by event.

This is the Wing–Gong–Lowe search turned breadth-first over time ("just in
time" linearization, as in Lowe 2017 and Knossos' linear checker). A
configuration is (model state, bitmask of ops invoked but not yet
linearized); the set of configurations is the memo. Walking the invoke and
return events in time order:

- invoke: the op joins every configuration's pending set;
- return of op r: every configuration where r is still pending must
  linearize it now, possibly after some other pending ops (explored
  breadth-first, deduplicated); configurations that cannot are dropped.

When no configuration survives a return, that op is the violation: found
where it happens, without backtracking over the history before it. Three
reductions keep the configuration set small and stay exact:

- a pending read that agrees with the state is linearized at once (doing so
  never removes a possibility);
- of two configurations that differ only in which ops without reply are
  still pending, the one with more of them pending subsumes the other;
- identical ops without reply are interchangeable: only the first pending
  one of a kind is tried.
"""

from __future__ import annotations

from collections import deque

from .base import INF
from .strings import ABSENT, KEEP, READ_KINDS, UNKNOWN_REPLY

INVOKE, RETURN = 0, 1


class Outcome:
    __slots__ = ("verdict", "steps", "culprit", "states")

    def __init__(self, verdict: str, steps: int, culprit=None, states=()) -> None:
        self.verdict = verdict  # "ok", "fail" or "unknown"
        self.steps = steps
        self.culprit = culprit  # the KeyOp whose return no configuration survived
        self.states = states  # the states it could have seen


def search(kops: list, budget: int) -> Outcome:
    n = len(kops)
    steps_left = budget
    reads = 0
    never_returns = 0
    blind = 0
    twins_before = [0] * n
    first_of_kind: dict = {}
    for i, kop in enumerate(kops):
        if kop.kind in READ_KINDS and kop.known:
            reads |= 1 << i
        if is_blind(kop):
            blind |= 1 << i
        if kop.ret == INF:
            never_returns |= 1 << i
            kind = (kop.kind, kop.step, _hashable(kop.arg), kop.optional, kop.known and _hashable(kop.reply))
            twins_before[i] = first_of_kind.get(kind, 0)
            first_of_kind[kind] = twins_before[i] | (1 << i)
    events = []
    for i, kop in enumerate(kops):
        events.append((kop.inv, INVOKE, i))
        if kop.ret != INF:
            events.append((kop.ret, RETURN, i))
    events.sort()

    def absorb(state, pending):
        """Linearize every pending read the state already satisfies."""
        waiting = pending & reads
        while waiting:
            low = waiting & -waiting
            waiting ^= low
            kop = kops[low.bit_length() - 1]
            if kop.step(state, kop) == (state,):
                pending ^= low
        return state, pending

    def successors(state, kop, now):
        """States after linearizing `kop` at a time <= now (a TTL may fire first)."""
        befores = (state, ABSENT) if state[1] is not None and state[1] < now else (state,)
        result = []
        for before in befores:
            result.extend(kop.step(before, kop))
            if kop.optional:
                result.append(before)
        return result

    configs = [(ABSENT, 0)]
    for now, kind, i in events:
        bit = 1 << i
        if kind == INVOKE:
            if bit & reads:
                configs = list(dict.fromkeys(absorb(state, pending | bit) for state, pending in configs))
            else:
                configs = [(state, pending | bit) for state, pending in configs]
            continue
        done = _Antichain(never_returns)
        todo = deque()
        seen = _Antichain(never_returns)
        for config in configs:
            if not config[1] & bit:
                done.add(config)  # linearized already, while serving an earlier return
            else:
                config = seen.add(config, False)
                if config is not None:
                    todo.append((config[0], config[1], False))
        seen_states = set()
        returning = kops[i]
        while todo:
            state, pending, after_unobserved = todo.popleft()  # breadth first: more options left
            seen_states.add(state)
            steps_left -= 1
            if steps_left < 0:
                return Outcome("unknown", budget)
            if not (after_unobserved and bit & blind):
                for after in successors(state, returning, now):
                    done.add(absorb(after, pending ^ bit))
            others = pending ^ bit
            if state[1] is None:
                others &= ~reads  # pending reads disagree with the state, and no TTL can change it
            if after_unobserved:
                others &= ~blind
            while others:
                low = others & -others
                others ^= low
                if twins_before[low.bit_length() - 1] & pending:
                    continue
                kop = kops[low.bit_length() - 1]
                no_reply = bool(low & never_returns)
                for after in successors(state, kop, now):
                    config = absorb(after, pending ^ low)
                    # An op without reply that nothing observed is pointless right before a blind op.
                    unobserved = no_reply and config[1] == pending ^ low
                    config = seen.add(config, unobserved)
                    if config is not None:
                        todo.append((config[0], config[1], unobserved))
        configs = done.configs()
        if not configs:
            return Outcome("fail", budget - steps_left, returning, frozenset(seen_states))
    return Outcome("ok", budget - steps_left)


class _Antichain:
    """Configurations, minus those another one subsumes.

    A configuration with more no-reply ops still pending (and otherwise equal)
    can do everything the other can: those ops may also never take effect.
    When too many incomparable ones pile up for one state, they are merged
    into one with the union pending: more permissive (a no-reply op may then
    take effect twice), so still never a false alarm, and the work stays bounded.
    """

    __slots__ = ("groups", "optional")
    LIMIT = 4

    def __init__(self, optional_mask: int) -> None:
        self.groups: dict = {}
        self.optional = optional_mask

    def add(self, config, mark=None):
        """The configuration to explore (`config`, or a merge that covers it), or None if covered."""
        state, pending = config
        optional = pending & self.optional
        owed = pending ^ optional
        key = (state, owed, mark)
        options = self.groups.get(key)
        if options is None:
            self.groups[key] = [optional]
            return config
        for other in options:
            if optional & ~other == 0:
                return None
        if len(options) >= self.LIMIT:
            for other in options:
                optional |= other
            options[:] = [optional]
            return state, owed | optional
        options[:] = [other for other in options if other & ~optional]
        options.append(optional)
        return config

    def configs(self) -> list:
        return [(state, owed | optional) for (state, owed, _), options in self.groups.items()
                for optional in options]


def is_blind(kop) -> bool:
    """Does the op set the state whatever it was, and say nothing about it?"""
    if kop.kind == "set":
        return kop.arg[1] is None and not kop.arg[2] and kop.arg[3] is not KEEP
    return kop.kind in ("reset", "flush") or (kop.kind == "delete" and not kop.known)


def _hashable(value):
    if value is UNKNOWN_REPLY:
        return "?"
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)
