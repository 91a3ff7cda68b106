"""Workloads: simulated clients that drive the server and record a history.

Each client is an actor on its own simulated host with its own connection.
It draws every choice from the loop's RNG, records each command's
invocation and completion (virtual times, arguments, reply) in the shared
`History`, and reconnects after a reset. A command with no reply within
the workload's timeout stays incomplete in the history: it may or may not
have happened, which is exactly what the checkers must allow.

Kinds: `kv`, `counter` and `ttl` issue generated commands at a rate
(`request_client`); `queue`, `pubsub` and `random` live in their own
modules and register here.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any, Callable

import flow
from cache.client import RespClient
from flow.future import PENDING
from net.base import NetworkError

# Error replies a workload provokes on purpose (prefixes): never a no_errors failure.
EXPECTED_ERRORS: dict[str, tuple[str, ...]] = {
    "kv": ("ERR value is not an integer or out of range",),
    "counter": (),
    "ttl": (),
    "queue": (),
    "pubsub": (),
    "random": (),
}


class WorkloadContext:
    """What a workload needs from the world: hosts, the server address, the history."""

    def __init__(self, runner: Any, spec: dict[str, Any], index: int) -> None:
        self.runner = runner
        self.spec = spec
        self.index = index
        self.history = runner.history
        self.rng = flow.current_loop().random
        server = server_of(runner.scenario, spec)
        self.server = server
        self.port = next(s["port"] for s in runner.scenario.servers if s["name"] == server)
        self.keys = [b"%s:%d" % (spec["kind"].encode(), k) for k in range(spec["keys"])]
        self._zipf = _zipf_table(len(self.keys)) if spec["key_distribution"] == "zipf" else None
        self.counter = 0
        self.tracing = flow.current_loop().trace_sink is not None

    def client_id(self, client: int) -> int:
        """The client number in the history: workload index * 1000 + client."""
        return self.index * 1000 + client

    def key(self) -> bytes:
        if self._zipf is None:
            return self.rng.choice(self.keys)
        return self.keys[bisect_left(self._zipf, self.rng.random())]

    def value(self, client: int) -> bytes:
        """A value never written before, padded to a size drawn from value_size."""
        self.counter += 1
        lo, hi = self.spec["value_size"]
        tag = b"w%dc%dn%d-" % (self.index, client, self.counter)
        size = self.rng.randint(int(lo), int(hi))
        return tag + b"x" * max(0, size - len(tag))

    def invoke(self, client: int, command: tuple) -> Any:
        op = self.history.invoke(self.client_id(client), command, flow.now())
        if self.tracing:
            flow.trace("SimInvoke", op=op.index, client=op.client, command=op.text)
        return op

    def complete(self, op: Any, reply: Any) -> None:
        self.history.complete(op, reply, flow.now())
        if self.tracing:
            from sim.history import show_reply

            flow.trace("SimComplete", op=op.index, client=op.client, reply=show_reply(reply))


def server_of(scenario: Any, spec: dict[str, Any]) -> str:
    """The server a workload talks to: its `server`, else the scenario's first."""
    return spec["server"] or scenario.servers[0]["name"]


def _zipf_table(n: int, s: float = 1.1) -> list[float]:
    weights = [1.0 / math.pow(rank + 1, s) for rank in range(n)]
    total = sum(weights)
    acc, out = 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


# -- operation generators: (ctx, client_id) -> argv tuple ----------------------


def kv_op(ctx: WorkloadContext, client: int) -> tuple[bytes, ...]:
    rng = ctx.rng
    r = rng.random()
    k = ctx.key()
    if r < 0.30:
        return (b"GET", k)
    if r < 0.55:
        return (b"SET", k, ctx.value(client))
    if r < 0.62:
        return (b"DEL", k)
    if r < 0.68:
        return (b"APPEND", k, ctx.value(client))
    if r < 0.75:
        return (b"SETNX", k, ctx.value(client))
    if r < 0.82:
        return (b"GETSET", k, ctx.value(client))
    if r < 0.88:
        k2 = ctx.key()
        return (b"MSET", k, ctx.value(client), k2, ctx.value(client)) if k2 != k else (b"SET", k, ctx.value(client))
    if r < 0.94:
        return (b"MGET", k, ctx.key())
    return (b"INCR", k)


def counter_op(ctx: WorkloadContext, client: int) -> tuple[bytes, ...]:
    if ctx.rng.random() < 0.8:
        return (b"INCRBY", ctx.key(), b"%d" % ctx.rng.randint(-5, 10))
    return (b"GET", ctx.key())


def ttl_op(ctx: WorkloadContext, client: int) -> tuple[bytes, ...]:
    rng = ctx.rng
    r = rng.random()
    k = ctx.key()
    lo, hi = ctx.spec["ttl"]
    ms = b"%d" % max(1, int(rng.uniform(lo, hi) * 1000))
    if r < 0.35:
        return (b"SET", k, ctx.value(client), b"PX", ms)
    if r < 0.45:
        return (b"PEXPIRE", k, ms)
    if r < 0.50:
        return (b"PERSIST", k)
    if r < 0.55:
        return (b"SET", k, ctx.value(client))
    if r < 0.62:
        return (b"PTTL", k)
    return (b"GET", k)


GENERATORS: dict[str, Callable[[WorkloadContext, int], tuple[bytes, ...]]] = {
    "kv": kv_op,
    "counter": counter_op,
    "ttl": ttl_op,
}


@flow.actor
def connect(host: Any, server: str, port: int, rng: Any, stop: flow.AsyncVar | None = None):
    """A RespClient, retrying with jittered backoff while the server is unreachable (None once stopped)."""
    backoff = 0.01
    while stop is None or not stop.get():
        try:
            conn = yield host.connect(server, port)
            return RespClient(conn)
        except NetworkError:
            yield flow.delay(backoff * (0.5 + rng.random()))
            backoff = min(backoff * 2, 1.0)
    return None


def close(resp: RespClient) -> None:
    """Close a client at the next step of this same instant.

    A reply wakes its waiter from inside the client's reader actor, which
    should finish dispatching before its client closes under it; a client
    whose reader already failed only has its connection left to close.
    """
    if resp.closed:
        resp.conn.close()
    else:
        flow.current_loop().call_soon(_close_now, resp)


def _close_now(resp: RespClient) -> None:
    if resp.closed:
        resp.conn.close()
    else:
        resp.close()


def _keep(_fut: flow.Future) -> None:
    """A waiter that keeps a reply future alive when a timeout gives up on it."""


def exchange(ctx: WorkloadContext, client: int, resp: RespClient, commands: list, timeout: float):
    """Send `commands` on `resp` and record them (a sub-generator: `yield from` it in an actor).

    Returns (replies received, whether `resp` is still usable). After a
    timeout the connection is handed to `settle`, which records the late
    replies or the moment the connection ended; after a failure the ops
    without reply are abandoned at once: they can no longer take effect.
    """
    ops = [ctx.invoke(client, command) for command in commands]
    futures = [resp.call(*command) for command in commands]
    deadline = flow.now() + timeout
    replies = []
    for position, future in enumerate(futures):
        if future._state == PENDING:
            future.add_callback(_keep)
        try:
            reply = yield flow.timeout(future, max(0.0, deadline - flow.now()))
        except flow.TimedOut:
            settle(ctx, resp, list(zip(ops[position:], futures[position:])))
            return replies, False
        except flow.FlowError:
            now = flow.now()
            for op in ops[position:]:
                ctx.history.abandon(op, now)
            close(resp)
            return replies, False
        ctx.complete(ops[position], reply)
        replies.append(reply)
    return replies, True


def paced_connection(ctx: WorkloadContext, host: Any, resp: RespClient | None, rate: float, stop: flow.AsyncVar):
    """Wait a Poisson gap, then a live connection (a sub-generator: `yield from` it in an actor).

    Returns None once stopped or unable to reconnect, having closed `resp`,
    so every paced client loop ends the same way.
    """
    yield flow.delay(ctx.rng.expovariate(rate))
    if stop.get():
        if resp is not None:
            close(resp)
        return None
    if resp is None or resp.closed:
        if resp is not None:
            close(resp)
        resp = yield connect(host, ctx.server, ctx.port, ctx.rng, stop)
    return resp


@flow.actor
def settle(ctx: WorkloadContext, resp: RespClient, pending: list):
    """Give up on a slow connection: half-close it and wait for what it still says.

    The server answers what it already received, then closes; each late
    reply completes its op, and a reset abandons the rest when it happens.
    """
    if not resp.closed:
        resp.conn.shutdown_write()
    for position, (op, future) in enumerate(pending):
        try:
            reply = yield future
        except flow.FlowError:
            now = flow.now()
            for later, _ in pending[position:]:
                ctx.history.abandon(later, now)
            break
        ctx.complete(op, reply)
    close(resp)


def paced_client(ctx: WorkloadContext, client: int, host: Any, stop: flow.AsyncVar,
                 next_commands: Callable[[], tuple[list[tuple], float]], rate: float):
    """A client's life: a Poisson gap, a live connection, the commands `next_commands()`
    gives (with how much longer than the workload's timeout they may take), until
    stopped (a sub-generator: `yield from` it in an actor)."""
    timeout = ctx.spec["timeout"]
    resp: RespClient | None = None
    while True:
        resp = yield from paced_connection(ctx, host, resp, rate, stop)
        if resp is None:
            return
        commands, extra = next_commands()
        _replies, usable = yield from exchange(ctx, client, resp, commands, timeout + extra)
        if not usable:
            resp = None


@flow.actor
def request_client(ctx: WorkloadContext, client: int, host: Any, stop: flow.AsyncVar):
    """A client issuing generated commands at the workload's rate, `pipeline` at a time."""
    generate = GENERATORS[ctx.spec["kind"]]
    pipeline = ctx.spec["pipeline"]
    yield from paced_client(ctx, client, host, stop,
                            lambda: ([generate(ctx, client) for _ in range(pipeline)], 0.0),
                            ctx.spec["rate"] / pipeline)


def _start_requests(ctx: WorkloadContext, stop: flow.AsyncVar) -> list[flow.Future]:
    actors = []
    for client in range(ctx.spec["clients"]):
        host = ctx.runner.add_client_host(f"client-{ctx.index}-{client}")
        actors.append(request_client(ctx, client, host, stop))
    return actors


# kind -> (ctx, stop) -> client actors; the other kinds register themselves on import.
STARTERS: dict[str, Callable[[WorkloadContext, flow.AsyncVar], list[flow.Future]]] = {
    kind: _start_requests for kind in GENERATORS
}


def _register_more_kinds() -> None:
    """Import the modules of the other kinds (they import this one, so not at the top)."""
    from sim import pubsub_workload, queue_workload, random_workload  # noqa: F401


def start_workload(runner: Any, spec: dict[str, Any], index: int, stop: flow.AsyncVar) -> list[flow.Future]:
    """Start one [[workload]]'s clients; they finish soon after `stop` is set."""
    _register_more_kinds()
    kind = spec["kind"]
    if kind not in STARTERS:
        raise NotImplementedError(f"workload kind '{kind}' is not available yet")
    return STARTERS[kind](WorkloadContext(runner, spec, index), stop)
