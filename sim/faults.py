"""Faults: what goes wrong in the world, when, and how it is put right.

`plan` turns the scenario's [[fault]] tables into timed `FaultPlan`s (a fixed
`at`, or `count` instants drawn from the seed). `Injector` applies each one
at its time and lifts it after its duration; `lift_all` ends every fault at
once when the heal phase begins. Overlapping faults of one kind on one
target are counted, so lifting the first does not end the second.

    partition   the hosts are cut off from every other host (both ways)
    clog        traffic to and from the hosts is held, then flows in order
    drop        segments are lost at `rate` and retransmitted
    reset       the hosts' connections are reset (about half of them)
    kill        the server is down for `duration`, then starts again empty
    restart     the server is killed and starts again empty at once
    swizzle     FoundationDB's swizzle-clog of a random subset of the hosts
    clock_skew  the server's wall clock jumps by up to `skew` seconds
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import flow
from sim.world import World

SERVER_FAULTS = ("kill", "restart", "clock_skew")
RESTART_BOOT_TIME = (0.001, 0.05)  # seconds a restarted server takes to listen again


@dataclass(slots=True)
class FaultPlan:
    kind: str
    start: float
    duration: float
    hosts: list[str]
    spec: dict[str, Any] = field(repr=False)

    def describe(self) -> str:
        return f"{self.kind} {','.join(self.hosts) or 'network'} at t={self.start:.3f} for {self.duration:g}s"


def plan(world: World, duration: float) -> list[FaultPlan]:
    """Every fault instance of the run, in start order, drawn from the loop's RNG."""
    rng = world.loop.random
    servers = list(world.servers)
    plans = []
    for spec in world.scenario.faults:
        if spec["at"] is not None:
            starts = [spec["at"]] if spec["at"] < duration else []
        else:
            starts = [rng.uniform(0.0, duration) for _ in range(spec["count"])]
        for start in starts:
            hosts = list(spec["hosts"])
            if not hosts and spec["kind"] != "drop":
                hosts = [rng.choice(servers)]
            plans.append(FaultPlan(spec["kind"], start, spec["duration"], hosts, spec))
    plans.sort(key=lambda p: p.start)
    return plans


class Injector:
    """Applies planned faults on time and keeps what it takes to lift them."""

    def __init__(self, world: World, end: float) -> None:
        self.world = world
        self.net = world.network
        self.end = end  # faults never outlast the fault phase
        self.applied: list[str] = []
        self._partitions: dict[tuple[str, str], int] = {}
        self._drops: list[float] = []
        self._downs: dict[str, int] = {}
        self._skews: dict[str, list[float]] = {}
        self._actors: list[flow.Future] = []
        self._lifts: list[Callable[[], None]] = []

    def start(self, plans: list[FaultPlan]) -> None:
        for fault in plans:
            self._actors.append(_run_fault(self, fault))

    def lift_all(self) -> None:
        """The heal phase begins: every fault ends now, in the order they began."""
        for actor in self._actors:
            actor.cancel()
        lifts, self._lifts = self._lifts, []
        for lift in lifts:
            lift()
        for host in self.net.hosts():
            if host.clog_until > 0.0:
                self.net.unclog(host)
        self.net.heal_all()
        self.net.set_drop_rate(self.world.base_drop_rate)
        for server in self.world.servers.values():
            server.clock.offset = 0.0
            if not server.alive:
                server.restart()

    # -- applying ----------------------------------------------------------
    def apply(self, fault: FaultPlan) -> Callable[[], None] | None:
        """Start one fault now; returns how to lift it (None: nothing to lift)."""
        self.applied.append(fault.describe())
        self.world.history.event(flow.now(), "fault", fault=fault.kind, hosts=list(fault.hosts),
                                 duration=fault.duration)
        flow.trace("SimFault", fault=fault.kind, hosts=list(fault.hosts), duration=fault.duration)
        return getattr(self, "_" + fault.kind)(fault)

    def _others(self, names: list[str]) -> list[str]:
        inside = set(names)
        return [name for name in self.world.host_names() if name not in inside]

    def _partition(self, fault: FaultPlan):
        # The count key is the sorted pair: a partition is symmetric.
        pairs = [(a, b, (a, b) if a < b else (b, a)) for a in fault.hosts for b in self._others(fault.hosts)]
        for a, b, key in pairs:
            self._partitions[key] = self._partitions.get(key, 0) + 1
            self.net.partition(a, b)

        def lift() -> None:
            for a, b, key in pairs:
                left = self._partitions.get(key, 0) - 1
                if left <= 0:
                    self._partitions.pop(key, None)
                    self.net.heal(a, b)
                else:
                    self._partitions[key] = left
        return lift

    def _clog(self, fault: FaultPlan):
        seconds = self._bounded(fault.duration)
        for host in fault.hosts:
            self.net.clog(host, seconds)  # clogs extend, and end by themselves
        return None

    def _drop(self, fault: FaultPlan):
        rate = fault.spec["rate"]
        self._drops.append(rate)
        self.net.set_drop_rate(max(self._drops))

        def lift() -> None:
            self._drops.remove(rate)
            self.net.set_drop_rate(max(self._drops) if self._drops else self.world.base_drop_rate)
        return lift

    def _reset(self, fault: FaultPlan):
        rng = self.world.loop.random
        for name in fault.hosts:
            endpoints = self.net.host(name).connections()
            chosen = [ep for ep in endpoints if rng.coin(0.5)] or endpoints[:1]
            for ep in chosen:
                self.net.kill_connection(ep)
        return None

    def _kill(self, fault: FaultPlan):
        names = [name for name in fault.hosts if name in self.world.servers]
        for name in names:
            self._downs[name] = self._downs.get(name, 0) + 1
            self.world.server(name).kill()

        def lift() -> None:
            for name in names:
                self._downs[name] -= 1
                if self._downs[name] <= 0:
                    del self._downs[name]
                    self.world.server(name).restart()
        return lift

    def _restart(self, fault: FaultPlan):
        rng = self.world.loop.random
        for name in fault.hosts:
            if name in self.world.servers and name not in self._downs and self.world.server(name).kill():
                _restart_later(self, name, rng.uniform(*RESTART_BOOT_TIME))
        return None

    def _swizzle(self, fault: FaultPlan):
        seconds = self._bounded(fault.duration)
        if seconds > 0.0:
            self.net.swizzle(fault.hosts, seconds)
        return None

    def _clock_skew(self, fault: FaultPlan):
        rng = self.world.loop.random
        names = [name for name in fault.hosts if name in self.world.servers]
        applied = []
        for name in names:
            skew = rng.uniform(-fault.spec["skew"], fault.spec["skew"])
            self._skews.setdefault(name, []).append(skew)
            self._apply_skew(name)
            applied.append((name, skew))

        def lift() -> None:
            for name, skew in applied:
                self._skews[name].remove(skew)
                self._apply_skew(name)
        return lift

    def _apply_skew(self, name: str) -> None:
        offset = sum(self._skews.get(name, ()))
        server = self.world.server(name)
        server.clock.offset = offset
        server.max_skew = max(server.max_skew, abs(offset))

    def _bounded(self, seconds: float) -> float:
        """A self-ending fault is cut short so it cannot reach into the heal phase."""
        return max(0.0, min(seconds, self.end - flow.now()))


@flow.actor
def _run_fault(injector: Injector, fault: FaultPlan):
    wait = fault.start - flow.now()
    if wait > 0.0:
        yield flow.delay(wait)
    lift = injector.apply(fault)
    if lift is None:
        return
    injector._lifts.append(lift)
    try:
        yield flow.delay(fault.duration)
    except flow.ActorCancelled:
        return  # lift_all lifts it
    injector._lifts.remove(lift)
    lift()


@flow.actor
def _restart_later(injector: Injector, name: str, boot_time: float):
    try:
        yield flow.delay(boot_time)
    except flow.ActorCancelled:
        return
    if name not in injector._downs:
        injector.world.server(name).restart()

