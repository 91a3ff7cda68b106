"""The simulated world of one run: the network, the cache servers, the shared history.

A `World` is what workloads and faults act on. Each `[[server]]` is a
`SimServer`: a simulated host running an unchanged `CacheServer` that can
be killed (host down, connections reset, memory gone) and started again
empty on the same address. Each server reads time through its own
`SkewedClock`, so a clock_skew fault moves one server's wall clock without
the cache knowing it runs in a simulation.
"""

from __future__ import annotations

from typing import Any

import flow
from cache import info, keyspace
from cache.config import Config
from cache.server import CacheServer
from net.sim import SimNetwork
from sim.history import History
from sim.scenario import Scenario

MEMORY_SAMPLE_INTERVAL = 0.25  # virtual seconds between used-memory samples


class SkewedClock:
    """The loop as one server sees it: the same in all things but a wall-clock offset."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self.offset = 0.0

    def wall_time(self) -> float:
        return self._loop.wall_time() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


def server_config(spec: dict[str, Any], knobs: dict[str, Any] | None = None) -> Config:
    """The server's settings: flowcache defaults, buggified knobs, the scenario's table, its port."""
    settings = dict(knobs or {})
    settings.update(spec["config"])  # what the scenario asks for wins over a buggified knob
    config = Config(settings, source=f"[[server]] {spec['name']}")
    config.set("port", spec["port"])
    return config


# With buggify on, each knob is set to an extreme value with this probability (FoundationDB's
# knob buggification): the network's window and cutting, its latency tail, the server's hz.
KNOB_PROBABILITY = 0.25


def buggify_knobs(world: "World") -> dict[str, Any]:
    """Draw this run's buggified knobs and apply the network's; returns them all (for the report)."""
    rng = world.loop.random
    net = world.network
    knobs: dict[str, Any] = {}
    if rng.coin(KNOB_PROBABILITY):
        net.window = knobs["net.window"] = rng.choice((1024, 4096, 16384))
    if rng.coin(KNOB_PROBABILITY):
        net.fragment_probability = knobs["net.fragment_probability"] = 1.0
    if rng.coin(KNOB_PROBABILITY):
        net.tail_probability = knobs["net.tail_probability"] = rng.choice((0.01, 0.05))
    if rng.coin(KNOB_PROBABILITY):
        knobs["server.hz"] = rng.choice((1, 100, 500))
    return knobs


class SimServer:
    """One [[server]] of the scenario, on its own host, across kills and restarts."""

    def __init__(self, world: "World", spec: dict[str, Any]) -> None:
        self.world = world
        self.spec = spec
        self.name: str = spec["name"]
        self.port: int = spec["port"]
        self.host = world.network.add_host(self.name)
        self.clock = SkewedClock(world.loop)
        self.cache: CacheServer | None = None
        self.killed_at: float | None = None
        self.generation = 0
        self.memory_peak = 0
        self.max_skew = 0.0  # the largest clock offset this server ever had

    @property
    def alive(self) -> bool:
        return self.cache is not None

    def start(self) -> None:
        """Boot a fresh, empty cache listening on the server's port."""
        knobs = {"hz": self.world.knobs["server.hz"]} if "server.hz" in self.world.knobs else None
        cache = CacheServer(server_config(self.spec, knobs), self.host)
        cache.state.loop = self.clock
        cache.state.refresh_clock()
        cache.start("0.0.0.0", self.port)
        self.cache = cache
        self.world.states[id(cache.state)] = self.name
        self.generation += 1

    def kill(self) -> bool:
        """Host down: every connection resets, the process and its data are gone."""
        if self.cache is None:
            return False
        now = flow.now()
        cache = self.cache
        # A crash, not a shutdown: the process's actors just stop, then its host goes down.
        for task in cache.tasks:
            task.cancel()
        self.world.network.kill_host(self.host)
        for connection in list(cache.connections.values()):
            connection.cancel()
        self.cache = None
        self.killed_at = now
        self.world.history.event(now, "kill", server=self.name)
        flow.trace("SimServerKilled", server=self.name)
        return True

    def restart(self) -> bool:
        """The host comes back and the cache starts again, empty, on the same address."""
        if self.cache is not None:
            return False
        now = flow.now()
        self.world.network.restart_host(self.host)
        self.start()
        killed_at = self.killed_at if self.killed_at is not None else now
        self.world.history.event(now, "restart", server=self.name, killed_at=killed_at)
        flow.trace("SimServerRestarted", server=self.name, down=now - killed_at)
        self.killed_at = None
        return True


class World:
    """Everything a run simulates; workloads find `history`, `scenario` and `network` here."""

    def __init__(self, scenario: Scenario, loop: Any) -> None:
        self.scenario = scenario
        self.loop = loop
        self.history = History()
        net = scenario.network
        self.base_drop_rate = net["drop_rate"]
        self.network = SimNetwork(loop, latency=net["latency"], fragment=net["fragment"],
                                  drop_rate=net["drop_rate"])
        self.knobs: dict[str, Any] = buggify_knobs(self) if loop.buggify_enabled else {}
        self.servers: dict[str, SimServer] = {}
        for spec in scenario.servers:
            self.servers[spec["name"]] = SimServer(self, spec)
        self.client_hosts: list[str] = []
        self.states: dict[int, str] = {}  # id(ServerState) -> server name, for the eviction observer

    def start_servers(self) -> None:
        for server in self.servers.values():
            server.start()

    def server(self, name: str) -> SimServer:
        return self.servers[name]

    def host_names(self) -> list[str]:
        return [host.name for host in self.network.hosts()]

    def add_client_host(self, name: str) -> Any:
        host = self.network.add_host(name)
        self.client_hosts.append(name)
        return host


class EvictionObserver:
    """Records each key a server evicts as an "evict" event (the checkers excuse its loss).

    It listens on the keyspace's removal hooks, which every server in this
    process shares, and keeps only the events of this world's servers.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.hooks = getattr(keyspace, "KEY_EVENT_HOOKS", None)

    def __enter__(self) -> "EvictionObserver":
        if self.hooks is not None:
            self.hooks.append(self.on_event)
        return self

    def __exit__(self, *_exc: Any) -> None:
        if self.hooks is not None and self.on_event in self.hooks:
            self.hooks.remove(self.on_event)

    def on_event(self, db: Any, event: str, key: bytes) -> None:
        if event != "evicted":
            return
        name = self.world.states.get(id(db.server))
        if name is not None:
            self.world.history.event(self.world.loop.now(), "evict", key=bytes(key), server=name, db=db.index)


@flow.actor
def watch_memory(world: World, stop: flow.AsyncVar):
    """Sample each live server's used memory and record every new peak as a "memory" event."""
    while not stop.get():
        yield flow.delay(MEMORY_SAMPLE_INTERVAL)
        for server in world.servers.values():
            cache = server.cache
            if cache is None:
                continue
            used = info.used_memory(cache.state)
            if used > server.memory_peak:
                server.memory_peak = used
                world.history.event(flow.now(), "memory", server=server.name, used=used,
                                    maxmemory=cache.state.config["maxmemory"])
