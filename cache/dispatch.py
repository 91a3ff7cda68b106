"""The one path every command takes, from the network and from the test harness.

`execute(client, argv)` is Redis 7.0's processCommand: look the command up,
refuse it (unknown, arity, NOAUTH, no-multi, OOM, RESP2 subscribed
context, a MONITOR client touching keys), queue it inside MULTI, or `call` it; then serve clients blocked
on keys the command made ready. `call` is Redis's call(): run the handler,
count the command, its time and its errors (INFO commandstats and
errorstats), then report it to `diagnostics.after_call` (latency
histogram, slow log, MONITOR). EXEC runs its queued commands through
`call` alone.

Refusals count as `rejected_calls`, errors the handler returns as
`failed_calls`; a command's failures are the errors recorded between the
end of the previous call and the end of its own, so errors of the commands
EXEC runs are theirs, not EXEC's, as in Redis.
"""

from __future__ import annotations

from typing import Any

from cache import blocking, errors, pubsub
from cache.blocking import Blocked
from cache.commands.diagnostics import after_call, refusal
from cache.commands.table import CommandSpec, find
from cache.eviction import free_memory_if_needed
from cache.reply import QUEUED, Error

NULL_COMMAND = b"NULL"  # CLIENT LIST's cmd= after an unknown command


def execute(client: Any, argv: list[bytes]) -> Any:
    """Run one command for `client` and return its reply value (maybe a `blocking.Blocked`)."""
    state = client.server
    wall_time = state.wall_time
    started = wall_time()
    now_ms = state.now_ms = int(started * 1000)  # ServerState.refresh_clock, inlined
    if now_ms // 1000 != state.lru_clock:
        state.lru_clock = now_ms // 1000
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
        refused = refusal(client, spec)  # a MONITOR client may not touch keys
        if refused is not None:
            return reject(client, spec, refused)
    if in_multi and not spec.runs_in_multi:
        client.queued.append((spec, argv))
        client.multi += 1
        if spec.deny_oom:
            client.queued_denyoom = True
        return QUEUED
    # call(), inlined: this is the hot path
    stats = state.stats
    stats.error_mark = stats.total_error_replies
    try:
        reply = spec.handler(client, argv)  # type: ignore[misc]
    except errors.CommandError as exc:
        reply = Error(exc.message)
    if reply.__class__ is Error:
        stats.record_error(reply)
    entry = stats.commandstats.get(name)
    if entry is None:
        entry = stats.commandstats[name] = [0, 0, 0, 0]
    entry[0] += 1
    entry[1] += (usec := int((wall_time() - started) * 1_000_000))
    if stats.total_error_replies != stats.error_mark:  # errors of EXEC's commands are theirs
        entry[3] += 1
        stats.error_mark = stats.total_error_replies
    stats.total_commands_processed += 1
    if reply.__class__ is Blocked:  # histogram and slow log wait until it is served
        reply.spec, reply.argv, reply.call_us = spec, argv, usec
        after_call(client, spec, argv, usec, True)
    else:
        after_call(client, spec, argv, usec)
    if state.ready_keys:
        blocking.serve_ready_keys(state)
    return reply


def call(client: Any, spec: CommandSpec, argv: list[bytes]) -> Any:
    """Run a command that passed every check (EXEC's queued ones); count it in INFO stats."""
    state = client.server
    stats = state.stats
    started = state.wall_time()
    stats.error_mark = stats.total_error_replies
    try:
        reply = spec.handler(client, argv)  # type: ignore[misc]
    except errors.CommandError as exc:
        reply = Error(exc.message)
    if reply.__class__ is Error:
        stats.record_error(reply)
    entry = stats.commandstats.get(spec.name)
    if entry is None:
        entry = stats.commandstats[spec.name] = [0, 0, 0, 0]
    entry[0] += 1
    entry[1] += (usec := int((state.wall_time() - started) * 1_000_000))
    if stats.total_error_replies != stats.error_mark:
        entry[3] += 1
        stats.error_mark = stats.total_error_replies
    stats.total_commands_processed += 1
    after_call(client, spec, argv, usec)
    return reply


def reject(client: Any, spec: CommandSpec | None, message: bytes | Error) -> Error:
    """Refuse a command before it runs: counted as rejected; inside MULTI, EXEC will abort."""
    stats = client.server.stats
    if spec is not None:
        entry = stats.commandstats.get(spec.name)
        if entry is None:
            entry = stats.commandstats[spec.name] = [0, 0, 0, 0]
        entry[2] += 1
    if client.multi >= 0:
        client.dirty_exec = True
    if spec is not None and spec.name == "exec":
        from cache.commands.transactions import discard_transaction

        discard_transaction(client)
        # Redis names the reason without "ERR " (rejectCommandFormat) but keeps NOAUTH, OOM...
        message = errors.exec_aborted_because(message[4:] if message[:4] == b"ERR " else message)
    reply = Error(message)
    stats.record_error(reply)
    stats.error_mark = stats.total_error_replies
    return reply
