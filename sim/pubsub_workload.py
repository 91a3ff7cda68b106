"""The `pubsub` workload: publishers and subscribers on a few channels.

Half the clients (at least one) publish `PUBLISH ch payload` with payloads
never sent before. The others subscribe in sessions: connect, `HELLO 3`
(messages then arrive as RESP3 pushes, apart from replies), `SUBSCRIBE` to
a random subset of the channels one by one, then listen until the session
ends (a reset, or by choice after a random while, to churn subscriptions).
Subscribers record "subscribed" and "received" events for the `pubsub`
checker, tagged with the session so a reconnect is a fresh start.
"""

from __future__ import annotations

from typing import Any

import flow
from sim.workloads import STARTERS, WorkloadContext, close, connect, exchange, paced_client

MEAN_SESSION = 8.0  # virtual seconds a subscriber stays on one connection, on average
LISTEN_SLICE = 0.5  # how often a listening subscriber looks at `stop`


def publish(ctx: WorkloadContext, client: int) -> tuple[bytes, ...]:
    return (b"PUBLISH", ctx.key(), b"m%d.%d.%d" % (ctx.index, client, _next(ctx)))


def _next(ctx: WorkloadContext) -> int:
    ctx.counter += 1
    return ctx.counter


@flow.actor
def publisher(ctx: WorkloadContext, client: int, host: Any, stop: flow.AsyncVar):
    yield from paced_client(ctx, client, host, stop, lambda: ([publish(ctx, client)], 0.0),
                            ctx.spec["rate"])


@flow.actor
def subscriber(ctx: WorkloadContext, client: int, host: Any, stop: flow.AsyncVar):
    rng = ctx.rng
    history = ctx.history
    me = ctx.client_id(client)
    session = 0
    while not stop.get():
        resp = yield connect(host, ctx.server, ctx.port, rng, stop)
        if resp is None:
            break
        session += 1
        channels = rng.sample(ctx.keys, rng.randint(1, len(ctx.keys)))
        replies, usable = yield from exchange(ctx, client, resp, [(b"HELLO", b"3")], ctx.spec["timeout"])
        for channel in channels if usable else ():
            replies, usable = yield from exchange(ctx, client, resp, [(b"SUBSCRIBE", channel)],
                                                  ctx.spec["timeout"])
            if not usable:
                break
            history.event(flow.now(), "subscribed", subscriber=me, session=session, channel=channel)
        ends = flow.now() + rng.expovariate(1.0 / MEAN_SESSION)
        while usable and not stop.get() and flow.now() < ends:
            try:
                push = yield flow.timeout(resp.pushes.next(), min(LISTEN_SLICE, max(0.0, ends - flow.now())))
            except flow.TimedOut:
                continue
            except flow.FlowError:  # the connection ended
                break
            if len(push) == 3 and push[0] == b"message":
                history.event(flow.now(), "received", subscriber=me, session=session,
                              channel=bytes(push[1]), payload=bytes(push[2]))
        if usable:  # otherwise `exchange` already closed it, or handed it to `settle`
            close(resp)


def start(ctx: WorkloadContext, stop: flow.AsyncVar) -> list[flow.Future]:
    count = ctx.spec["clients"]
    publishers = max(1, count // 2)
    actors = []
    for client in range(count):
        host = ctx.runner.add_client_host(f"client-{ctx.index}-{client}")
        role = publisher if client < publishers else subscriber
        actors.append(role(ctx, client, host, stop))
    return actors


STARTERS["pubsub"] = start
