"""How commands run, from the network and from the test harness.

`execute(client, argv)` is Redis 7.0's processCommand: look the command up,
refuse it (unknown, arity, NOAUTH, no-multi, OOM, RESP2 subscribed
context, a MONITOR client touching keys), queue it inside MULTI, or run it
as Redis's call() does; then serve clients blocked on keys the command
made ready. EXEC runs its queued commands through `call` alone.
`run_batch` is the connection's fast path for the commands of a pipelined
read that need none of those checks but arity and memory; whatever it
declines goes through `execute`. `execute_encoded` runs one command the
way the connection does (tests compare its bytes with redis-server's).

Running a command counts it (INFO commandstats: calls, usec, and its
errors; the time includes building the reply, as Redis builds it inside
call(): `run_batch` encodes as it goes, and `execute(encode=True)`, the
connection's way, hands back aggregates `Encoded`), adds its run time to
its latency histogram, and hands it to
`diagnostics.watched` (latency samples, slow log, MONITOR) when it ran for
at least `state.watch_us`: the least duration any of those could want, 0
while anyone monitors. `watched` recomputes that bound each time it runs,
so anything that changes it (CONFIG SET, MONITOR) only sets it to 0.

Each server keeps a `Route` per command: its spec with this server's
counters and histogram, so a batched command costs one dict lookup by
its name as sent. Refusals count as `rejected_calls`, errors the handler
returns as `failed_calls`; a command's failures are the errors recorded
from its start (`stats.error_mark`) to its end, and EXEC's commands move
the mark past theirs, so their errors are theirs, not EXEC's, as in Redis.
"""

from __future__ import annotations

from typing import Any

from cache import blocking, errors, monitor, pubsub
from cache.blocking import Blocked
from cache.commands.diagnostics import watched
from cache.commands.table import CommandSpec, find
from cache.eviction import free_memory_if_needed
from cache.latency import SMALL_US, monitor_of
from cache.reply import OK, QUEUED, Encoded, Error, Map, Push, Set
from cache.resp import encode, encode_into

NULL_COMMAND = "NULL"  # CLIENT LIST's cmd= after an unknown command
MAX_ROUTE_NAMES = 1024  # command names, as sent (any letter case), a server remembers
BATCH_MAX = 64  # commands run_batch runs before the connection looks at its output
BIG_REPLY = 64 * 1024  # a bulk reply this large ends run_batch's run at once
OK_REPLY = encode(OK, 2)
AGGREGATES = frozenset((list, tuple, Map, Set, Push))  # replies `execute(encode=True)` encodes


class Route:
    """One command on one server: its spec, its INFO commandstats entry and its histogram."""

    __slots__ = ("spec", "name", "handler", "arity", "deny_oom", "counts", "histogram", "small",
                 "batched")

    def __init__(self, state: Any, spec: CommandSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.handler = spec.handler
        self.arity = spec.arity
        self.deny_oom = spec.deny_oom
        commandstats = state.stats.commandstats
        counts = commandstats.get(spec.name)
        if counts is None:
            counts = commandstats[spec.name] = [0, 0, 0, 0]
        self.counts = counts  # [calls, usec, rejected_calls, failed_calls]
        self.histogram = monitor_of(state).histogram(spec.name)
        self.small = self.histogram.small
        # Whether `run_batch` may run it: found by the name alone (neither a container
        # nor its subcommand), refused for nothing but arity and OOM from a plain
        # client, never blocking, and leaving the client as plain as it found it.
        self.batched = (spec.parent is None and spec.subcommands is None
                        and not spec.no_multi and not spec.runs_in_multi
                        and not spec.no_auth and "blocking" not in spec.flags
                        and spec.name not in _CHANGE_THE_CLIENT)


# Direct commands that change what `run_batch` checks once per call.
_CHANGE_THE_CLIENT = frozenset(("monitor", "subscribe", "unsubscribe", "psubscribe",
                                "punsubscribe", "ssubscribe", "sunsubscribe"))


def route_of(state: Any, spec: CommandSpec) -> Route:
    routes = state.stats.command_routes
    route = routes.get(spec.name)
    if route is None:
        route = routes[spec.name] = Route(state, spec)
    return route


def run_batch(client: Any, commands: list[list[bytes]], start: int, out: list[bytes]) -> int:
    """Run commands[start:] while they take the common path, encoding their replies
    into `out`; return how many ran (0: commands[start] needs `execute`).

    The common path is a plain client (authenticated, outside MULTI, not
    subscribed, not monitoring, replies on) sending a known command that
    `Route.batched` allows, with the right arity, not refused for memory. It
    is `execute` and `_run` for that case, with what cannot change inside
    it looked up once, and one clock reading per command: a command starts
    when the previous one ended. It stops after BATCH_MAX commands or a big
    reply, so the connection can look at its output.
    """
    if (client.multi >= 0 or not client.authenticated or client.monitoring or client.reply_mode
            or client.sub or client.psub or client.ssub):
        return 0
    state = client.server
    routes = state.routes
    wall_time = state.wall_time
    proto = client.proto
    maxmemory = state.memory.maxmemory
    watch_us = state.watch_us
    ran = 0
    last = None
    big = False  # a reply of BIG_REPLY bytes or more was encoded: stop after its command
    started = wall_time()
    if not state.ms_from <= started < state.ms_until:
        state.refresh_clock(started)
    next_ms = state.ms_until  # when the clock in milliseconds next moves
    for argv in commands[start:start + BATCH_MAX]:
        route = routes.get(argv[0])
        if route is None:
            break
        arity = route.arity
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity or (
                maxmemory and not free_memory_if_needed(state) and route.deny_oom):
            break
        if started >= next_ms:
            state.refresh_clock(started)
            next_ms = state.ms_until
        try:
            reply = route.handler(client, argv)
        except errors.CommandError as exc:
            reply = Error(exc.message)
        counts = route.counts
        if reply is OK:  # encode_into's commonest cases, without the call
            out.append(OK_REPLY)
        elif reply.__class__ is int:  # the same in RESP2 and RESP3
            out.append(b":%d\r\n" % reply)
        else:
            if reply.__class__ is Error:  # a batched command's only error is its reply
                state.stats.record_error(reply)
                counts[3] += 1
            encode_into(out, reply, proto)  # timed with the command, as Redis builds it there
            if reply.__class__ is bytes and len(reply) >= BIG_REPLY:
                big = True
        ended = wall_time()
        usec = int((ended - started) * 1_000_000)
        started = ended
        last = route
        ran += 1
        counts[0] += 1
        counts[1] += usec
        if 0 <= usec < SMALL_US:
            route.small[usec] += 1
        else:
            route.histogram.record_us(usec)
        if usec >= watch_us:
            watched(client, route.spec, argv, usec)
            watch_us = state.watch_us
            started = wall_time()
        if state.ready_keys:
            blocking.serve_ready_keys(state)
            started = wall_time()
        if big:
            break
    if last is not None:
        client.last_command = last.name
    return ran


def execute(client: Any, argv: list[bytes], encode: bool = False) -> Any:
    """Run one command for `client` and return its reply value (maybe a `blocking.Blocked`).

    With `encode`, an aggregate reply comes back `Encoded` for the client's
    protocol, encoded within the command's time as Redis builds it in call()
    (the connection asks for this; tests that look at values do not)."""
    state = client.server
    started = state.wall_time()
    state.refresh_clock(started)
    commands = state.commands
    spec = commands.get(argv[0].lower())
    if spec is None or spec.subcommands is not None:
        container = spec
        spec = find(argv, commands)
        if spec.__class__ is Error:  # unknown command or subcommand, or a bare container
            # A bare container (CONFIG alone) fails its own arity check: Redis counts it there.
            known = container if container is not None and len(argv) < 2 else None
            client.last_command = NULL_COMMAND if known is None else known.name
            return reject(client, known, spec)
    route = route_of(state, spec)
    routes = state.routes
    if route.batched and len(routes) < MAX_ROUTE_NAMES:
        routes[argv[0]] = route  # next time `run_batch` finds it by the name as sent
    name = client.last_command = spec.name
    arity = spec.arity
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        return reject(client, spec, errors.wrong_arity(name))
    if not client.authenticated and not spec.no_auth:
        return reject(client, spec, errors.NOAUTH)
    in_multi = client.multi >= 0
    if in_multi and spec.no_multi:
        return reject(client, spec, errors.NOT_IN_TRANSACTION)
    if state.memory.maxmemory and not free_memory_if_needed(state):
        # Inside MULTI anything but EXEC/DISCARD/QUIT/RESET is refused, since queueing
        # itself takes memory; EXEC is refused when it would run a denyoom command.
        if spec.deny_oom or (in_multi and not spec.multi_control) or (
                name == "exec" and client.queued_denyoom):
            return reject(client, spec, errors.OOM)
    if client.proto == 2 and (client.sub or client.psub or client.ssub):
        refused = pubsub.check_context(client, name)
        if refused is not None:
            return reject(client, spec, refused)
    if client.monitoring:  # after the pub/sub context: redis-server 7.0.15 checks in this order
        refused = monitor.refusal(client, spec)  # a MONITOR client may not touch keys
        if refused is not None:
            return reject(client, spec, refused)
    if in_multi and not spec.runs_in_multi:
        client.queued.append((spec, argv))
        client.multi += 1
        if spec.deny_oom:
            client.queued_denyoom = True
        return QUEUED
    reply = _run(client, route, argv, started, encode)
    if state.ready_keys:
        blocking.serve_ready_keys(state)
    return reply


def call(client: Any, spec: CommandSpec, argv: list[bytes]) -> Any:
    """Run a command that passed every check (EXEC's queued ones); count it in INFO stats."""
    state = client.server
    return _run(client, route_of(state, spec), argv, state.wall_time())


def _run(client: Any, route: Route, argv: list[bytes], started: float, encode: bool = False) -> Any:
    """Redis's call(): the handler, then its counters, histogram and `watched`."""
    state = client.server
    stats = state.stats
    stats.error_mark = stats.total_error_replies
    try:
        reply = route.handler(client, argv)  # type: ignore[misc]
    except errors.CommandError as exc:
        reply = Error(exc.message)
    if encode and reply.__class__ in AGGREGATES:
        parts = Encoded()
        encode_into(parts, reply, client.proto)
        reply = parts
    if reply.__class__ is Error:
        stats.record_error(reply)
    usec = int((state.wall_time() - started) * 1_000_000)
    counts = route.counts
    counts[0] += 1
    counts[1] += usec
    if stats.total_error_replies != stats.error_mark:
        counts[3] += 1
        stats.error_mark = stats.total_error_replies
    if reply.__class__ is Blocked:
        reply.spec, reply.argv, reply.call_us = route.spec, argv, usec
        watched(client, route.spec, argv, usec, True)
        return reply
    route.histogram.record_us(usec)  # run_batch inlines it; not this path
    if usec >= state.watch_us:
        watched(client, route.spec, argv, usec)
    return reply


def reject(client: Any, spec: CommandSpec | None, message: bytes | Error) -> Error:
    """Refuse a command before it runs: counted as rejected; inside MULTI, EXEC will abort."""
    state = client.server
    stats = state.stats
    if spec is not None:
        route_of(state, spec).counts[2] += 1
    if client.multi >= 0:
        client.dirty_exec = True
    if spec is not None and spec.name == "exec":
        from cache.commands.transactions import discard_transaction

        discard_transaction(client)
        # Redis names the reason without "ERR " (rejectCommandFormat) but keeps NOAUTH, OOM...
        message = errors.exec_aborted_because(message[4:] if message[:4] == b"ERR " else message)
    reply = Error(message)
    stats.record_error(reply)
    return reply


def execute_encoded(client: Any, argv: list[bytes]) -> bytes:
    """One command run as the connection runs it (`run_batch` when it takes it), as RESP bytes.

    A blocked command's reply is its `Blocked`, not bytes: callers that may
    block use `execute`.
    """
    out: list[bytes] = []
    if not run_batch(client, [argv], 0, out):
        encode_into(out, execute(client, argv, encode=True), client.proto)
    return b"".join(out)
