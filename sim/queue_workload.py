"""The `queue` workload: producers push unique items, consumers pop them, many with BLPOP.

Half the clients (at least one) produce: `RPUSH q item [item]` with items
never pushed before. The others consume from the head: `BLPOP q1 [q2] t`
with a short timeout (a blocked client is woken by a push), or `LPOP q
[count]`. When the workload stops, one last client reads every queue with
`LRANGE q 0 -1`, the end state the `queue` checker compares against: every
acknowledged push must have been popped once, or still be there.
"""

from __future__ import annotations

from typing import Any

import flow
from sim.workloads import STARTERS, WorkloadContext, close, connect, exchange, paced_client

BLOCK_TIMEOUTS = (b"0.05", b"0.1", b"0.2", b"0.5", b"1")


def produce(ctx: WorkloadContext, client: int) -> tuple[bytes, ...]:
    queue = ctx.key()
    items = [ctx.value(client) for _ in range(1 if ctx.rng.random() < 0.8 else 2)]
    return (b"RPUSH", queue, *items)


def consume(ctx: WorkloadContext, client: int) -> tuple[tuple[bytes, ...], float]:
    """A pop command and how much longer than the usual timeout its reply may take."""
    rng = ctx.rng
    r = rng.random()
    if r < 0.7:
        queues = [ctx.key()]
        if len(ctx.keys) > 1 and rng.random() < 0.3:
            other = ctx.key()
            if other != queues[0]:
                queues.append(other)
        wait = rng.choice(BLOCK_TIMEOUTS)
        return (b"BLPOP", *queues, wait), float(wait)
    if r < 0.9:
        return (b"LPOP", ctx.key()), 0.0
    return (b"LPOP", ctx.key(), b"%d" % rng.randint(1, 3)), 0.0


@flow.actor
def queue_client(ctx: WorkloadContext, client: int, host: Any, producer: bool, stop: flow.AsyncVar):
    def next_commands() -> tuple[list[tuple], float]:
        if producer:
            return [produce(ctx, client)], 0.0
        command, extra = consume(ctx, client)
        return [command], extra

    yield from paced_client(ctx, client, host, stop, next_commands, ctx.spec["rate"])


@flow.actor
def final_view(ctx: WorkloadContext, client: int, host: Any, others: list, stop: flow.AsyncVar):
    """After the others have stopped, read each queue whole (retrying until it is read)."""
    yield stop.on_change()
    for other in others:
        try:
            yield other
        except Exception:  # noqa: BLE001 - the runner reports the other clients' errors
            pass
    never = flow.AsyncVar(False)  # this client stops when it is done, not when told to
    for queue in ctx.keys:
        while True:
            resp = yield connect(host, ctx.server, ctx.port, ctx.rng, never)
            replies, usable = yield from exchange(ctx, client, resp, [(b"LRANGE", queue, b"0", b"-1")],
                                                  ctx.spec["timeout"])
            if usable:
                close(resp)
            if replies and isinstance(replies[0], list):
                break
            yield flow.delay(0.05)


def start(ctx: WorkloadContext, stop: flow.AsyncVar) -> list[flow.Future]:
    count = ctx.spec["clients"]
    producers = max(1, count // 2)
    actors = []
    for client in range(count):
        host = ctx.runner.add_client_host(f"client-{ctx.index}-{client}")
        actors.append(queue_client(ctx, client, host, client < producers, stop))
    host = ctx.runner.add_client_host(f"client-{ctx.index}-final")
    actors.append(final_view(ctx, count, host, list(actors), stop))
    return actors


STARTERS["queue"] = start
