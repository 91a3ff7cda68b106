"""Workloads: simulated clients that drive the server and record a history.

Each client is an actor on its own simulated host with its own connection.
It draws every choice from the loop's RNG, records each command's
invocation and completion (virtual times, arguments, reply) in the shared
`History`, and reconnects after a reset. A command with no reply within
the workload's timeout stays incomplete in the history: it may or may not
have happened, which is exactly what the checkers must allow.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import flow
from cache.client import RespClient
from net.base import NetworkError


class WorkloadContext:
    """What a workload needs from the world: hosts, the server address, the history."""

    def __init__(self, runner: Any, spec: dict[str, Any], index: int) -> None:
        self.runner = runner
        self.spec = spec
        self.index = index
        self.history = runner.history
        self.rng = flow.current_loop().random
        server = spec["server"] or runner.scenario.servers[0]["name"]
        self.server = server
        self.port = next(s["port"] for s in runner.scenario.servers if s["name"] == server)
        self.keys = [b"%s:%d" % (spec["kind"].encode(), k) for k in range(spec["keys"])]
        self._zipf = _zipf_table(len(self.keys)) if spec["key_distribution"] == "zipf" else None
        self.counter = 0

    def key(self) -> bytes:
        if self._zipf is None:
            return self.rng.choice(self.keys)
        x = self.rng.random()
        lo, hi = 0, len(self._zipf) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._zipf[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return self.keys[lo]

    def value(self, client: int) -> bytes:
        """A value never written before, padded to a size drawn from value_size."""
        self.counter += 1
        lo, hi = self.spec["value_size"]
        tag = b"w%dc%dn%d-" % (self.index, client, self.counter)
        size = self.rng.randint(int(lo), int(hi))
        return tag + b"x" * max(0, size - len(tag))


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
def connect(host: Any, server: str, port: int, rng: Any):
    """Connect, retrying with jittered backoff while the server is unreachable."""
    backoff = 0.01
    while True:
        try:
            conn = yield host.connect(server, port)
            return RespClient(conn)
        except NetworkError:
            yield flow.delay(backoff * (0.5 + rng.random()))
            backoff = min(backoff * 2, 1.0)


@flow.actor
def request_client(ctx: WorkloadContext, client: int, host: Any, stop: flow.AsyncVar):
    """A client issuing one generated command at a time at the workload's rate."""
    generate = GENERATORS[ctx.spec["kind"]]
    rate = ctx.spec["rate"]
    timeout = ctx.spec["timeout"]
    history = ctx.history
    rng = ctx.rng
    resp: RespClient | None = None
    while not stop.get():
        if resp is None or resp.closed:
            resp = yield connect(host, ctx.server, ctx.port, rng)
        yield flow.delay(rng.expovariate(rate))
        if stop.get():
            break
        command = generate(ctx, client)
        op = history.invoke(ctx.index * 1000 + client, command, flow.now())
        try:
            reply = yield flow.timeout(resp.call(*command), timeout)
        except (flow.TimedOut, flow.FlowError):
            resp.close()
            resp = None
            continue
        history.complete(op, reply, flow.now())
    if resp is not None:
        resp.close()


def start_workload(runner: Any, spec: dict[str, Any], index: int, stop: flow.AsyncVar) -> list[flow.Future]:
    ctx = WorkloadContext(runner, spec, index)
    kind = spec["kind"]
    if kind not in GENERATORS:
        raise NotImplementedError(f"workload kind '{kind}' is not available yet")
    actors = []
    for client in range(spec["clients"]):
        host = runner.network.add_host(f"client-{index}-{client}")
        actors.append(request_client(ctx, client, host, stop))
    return actors
