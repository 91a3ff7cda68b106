"""Pub/sub delivery: each subscriber gets what was published, once, in publish order.

Publishers' PUBLISH commands are ops; subscribers record "subscribed"
events (when the server confirmed a channel) and "received" events, each
tagged with the subscriber and its session (one connection: a reconnect
starts a new session, and what was published in between is legally lost).
Every rule is a proof, never a guess:

- nothing is received that no PUBLISH sent, or before its PUBLISH was sent;
- no session receives a message twice;
- a session receives two messages of a channel in the order they were
  published when one PUBLISH completed before the other was sent;
- all sessions agree on the order of the messages they both received (the
  server runs PUBLISHes one at a time);
- no gaps: if a session got m2, it got every m1 of that channel whose
  PUBLISH ran after the session was subscribed and completed before m2's
  was sent (the server wrote m1 before m2 on the same connection);
- PUBLISH's reply (receivers) is at least the number of sessions that got it.
"""

from __future__ import annotations

from sim.history import History, Op, show

from .base import Failure, Result, at

CHECKER = "pubsub"
MAX_FAILURES = 20


def check_pubsub(history: History) -> Result:
    published: dict[bytes, Op] = {}
    for op in history.ops:
        if op.name == b"PUBLISH" and len(op.command) == 3:
            published[op.command[2]] = op
    sessions: dict[tuple, list] = {}  # (subscriber, session) -> [(time, channel, payload)]
    subscribed: dict[tuple, dict[bytes, float]] = {}  # (subscriber, session) -> channel -> confirmed at
    for event in history.events:
        detail = event.detail
        if event.kind == "received":
            sessions.setdefault((detail["subscriber"], detail["session"]), []).append(
                (event.time, bytes(detail["channel"]), bytes(detail["payload"])))
        elif event.kind == "subscribed":
            subscribed.setdefault((detail["subscriber"], detail["session"]), {}).setdefault(
                bytes(detail["channel"]), event.time)
    failures: list[Failure] = []
    receivers: dict[bytes, int] = {}
    for session, messages in sessions.items():
        failures.extend(_check_session(session, messages, published, subscribed.get(session, {}), receivers))
    failures.extend(_check_agreement(sessions, published))
    for payload, count in receivers.items():
        op = published.get(payload)
        if op is not None and op.complete is not None and isinstance(op.reply, int) and op.reply < count:
            failures.append(Failure(CHECKER, op.complete, op.command[1],
                                    f"{op.text} replied {op.reply} receivers, but {count} subscriber sessions "
                                    f"received {show(payload)}", [op]))
    return Result(failures[:MAX_FAILURES], stats={"sessions": len(sessions), "published": len(published),
                                                  "received": sum(len(m) for m in sessions.values())})


def _who(session) -> str:
    return f"subscriber {session[0]} (session {session[1]})"


def _check_session(session, messages, published, subscribed, receivers) -> list[Failure]:
    failures = []
    seen: dict[bytes, float] = {}
    per_channel: dict[bytes, list] = {}
    for time, channel, payload in messages:
        op = published.get(payload)
        if op is None or op.command[1] != channel:
            failures.append(Failure(CHECKER, time, channel,
                                    f"{_who(session)} received {show(payload)} on {show(channel)} at {at(time)}, "
                                    f"a message no PUBLISH sent to that channel"))
            continue
        if time < op.invoke:
            failures.append(Failure(CHECKER, time, channel,
                                    f"{_who(session)} received {show(payload)} at {at(time)}, before "
                                    f"{op.text} was sent at {at(op.invoke)}", [op]))
        if payload in seen:
            failures.append(Failure(CHECKER, time, channel,
                                    f"{_who(session)} received {show(payload)} twice (at {at(seen[payload])} "
                                    f"and {at(time)})", [op]))
            continue
        seen[payload] = time
        receivers[payload] = receivers.get(payload, 0) + 1
        per_channel.setdefault(channel, []).append((time, op))
    for channel, got in per_channel.items():
        failures.extend(_check_order(session, channel, got))
        failures.extend(_check_gaps(session, channel, got, published, subscribed.get(channel)))
    return failures


def _check_order(session, channel, got) -> list[Failure]:
    """A message must not arrive after one whose PUBLISH was sent only after it completed."""
    latest = None  # (the latest PUBLISH invoke among those received so far, its op)
    for time, op in got:
        if latest is not None and op.complete is not None and op.complete < latest[0]:
            other = latest[1]
            return [Failure(CHECKER, time, channel,
                            f"{_who(session)} received {show(op.command[2])} after {show(other.command[2])}, "
                            f"but {op.text} completed at {at(op.complete)}, before {other.text} was sent at "
                            f"{at(other.invoke)}: out of publish order", [op, other])]
        if latest is None or op.invoke > latest[0]:
            latest = (op.invoke, op)
    return []


def _check_gaps(session, channel, got, published, since) -> list[Failure]:
    """Every message published after subscribing and before a later received one must be there."""
    if since is None:
        return []
    received = {op.command[2] for _, op in got}
    last_invoke = max(op.invoke for _, op in got)
    last = max((op for _, op in got), key=lambda op: op.invoke)
    missing = [op for op in published.values()
               if op.command[1] == channel and op.command[2] not in received and op.invoke > since
               and op.complete is not None and op.complete < last_invoke]
    if not missing:
        return []
    first = min(missing, key=lambda op: op.invoke)
    more = f" ({len(missing)} such messages)" if len(missing) > 1 else ""
    return [Failure(CHECKER, first.complete, channel,
                    f"{_who(session)}, subscribed to {show(channel)} since {at(since)}, never received "
                    f"{show(first.command[2])} ({first.text} completed at {at(first.complete)}) but received "
                    f"{show(last.command[2])} published after it{more}: a lost message", [first, last])]


def _check_agreement(sessions, published) -> list[Failure]:
    """The sessions' orders of each channel's messages must merge into one order (no cycle)."""
    edges: dict[bytes, dict[bytes, dict[bytes, tuple]]] = {}  # channel -> a -> b -> session
    for session, messages in sessions.items():
        previous: dict[bytes, bytes] = {}
        for _time, channel, payload in messages:
            if payload not in published:
                continue
            before = previous.get(channel)
            if before is not None and before != payload:
                edges.setdefault(channel, {}).setdefault(before, {}).setdefault(payload, session)
            previous[channel] = payload
    failures = []
    for channel, graph in edges.items():
        cycle = _find_cycle(graph)
        if cycle:
            hops = [f"{show(a)} before {show(b)} for {_who(graph[a][b])}" for a, b in zip(cycle, cycle[1:])]
            time = max(published[p].invoke for p in cycle)
            failures.append(Failure(CHECKER, time, channel,
                                    f"subscribers disagree on the order of messages on {show(channel)}: "
                                    + "; ".join(hops), [published[p] for p in cycle[:-1]]))
    return failures


def _find_cycle(graph: dict[bytes, dict[bytes, tuple]]) -> list[bytes]:
    """A cycle [a, b, ..., a] in the directed graph, or [] (iterative DFS, insertion order)."""
    state: dict[bytes, int] = {}  # 1 on the stack, 2 done
    for root in graph:
        if state.get(root):
            continue
        stack = [(root, iter(graph.get(root, {})))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            mark = state.get(child)
            if mark == 1:
                return path[path.index(child):] + [child]
            if mark is None:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph.get(child, {}))))
    return []
