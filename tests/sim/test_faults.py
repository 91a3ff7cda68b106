"""Faults: planned from the seed, applied on time, lifted by their end or by the heal."""

from __future__ import annotations

import flow
from sim import scenario as scenario_module
from sim.faults import FaultPlan, Injector, plan
from sim.workloads import connect
from sim.world import World


def world_for(faults=(), servers=None, workloads=None):
    raw = {
        "simulation": {"name": "faults", "duration": 10.0},
        "server": servers or [{"name": "cache", "port": 3000}],
        "workload": workloads or [{"kind": "kv", "clients": 2}],
        "fault": list(faults),
    }
    scenario = scenario_module.parse(raw, "faults.toml")
    loop = flow.SimLoop(seed=5)
    world = World(scenario, loop)
    for index in range(2):
        world.add_client_host(f"client-0-{index}")
    return loop, world


def run(loop, body):
    return loop.run(flow.actor(body))


def test_plans_come_from_the_seed_and_fixed_times_stay_fixed():
    faults = [{"kind": "partition", "count": 3, "duration": 1.0}, {"kind": "clog", "at": 2.5, "hosts": ["client-0-1"]},
              {"kind": "drop", "at": 12.0}]
    loop, world = world_for(faults)
    plans = plan(world, 10.0)
    assert [p.kind for p in plans].count("partition") == 3
    assert any(p.kind == "clog" and p.start == 2.5 and p.hosts == ["client-0-1"] for p in plans)
    assert not any(p.kind == "drop" for p in plans)  # after the fault phase: never
    assert all(p.hosts == ["cache"] for p in plans if p.kind == "partition")  # default: a server
    assert [p.start for p in plans] == sorted(p.start for p in plans)
    again = plan(world_for(faults)[1], 10.0)
    assert [(p.kind, p.start) for p in again] == [(p.kind, p.start) for p in plans]


def test_overlapping_partitions_heal_only_when_the_last_ends():
    loop, world = world_for()
    injector = Injector(world, end=10.0)
    net = world.network

    def body():
        first = injector.apply(FaultPlan("partition", 0.0, 2.0, ["cache"], {}))
        second = injector.apply(FaultPlan("partition", 0.0, 2.0, ["cache"], {}))
        assert net.is_partitioned("cache", "client-0-0") and net.is_partitioned("cache", "client-0-1")
        first()
        assert net.is_partitioned("cache", "client-0-0")
        second()
        assert not net.is_partitioned("cache", "client-0-0")
        yield flow.delay(0)

    run(loop, body)


def test_kill_takes_the_server_down_and_its_lift_restarts_it_empty():
    loop, world = world_for()
    injector = Injector(world, end=10.0)
    host = world.network.host("client-0-0")

    def body():
        world.start_servers()
        resp = yield connect(host, "cache", 3000, loop.random)
        assert (yield resp.call("SET", "k", "v")) == b"OK"
        lift = injector.apply(FaultPlan("kill", 1.0, 2.0, ["cache"], {}))
        assert not world.server("cache").alive
        try:
            yield host.connect("cache", 3000)
        except Exception as exc:  # noqa: BLE001 - any refusal will do
            refused = exc
        assert "refused" in str(refused)
        yield flow.delay(1.0)
        lift()
        resp = yield connect(host, "cache", 3000, loop.random)
        assert (yield resp.call("GET", "k")) is None  # the restarted cache is empty
        resp.close()

    run(loop, body)
    kinds = [(event.kind, event.detail.get("server")) for event in world.history.events]
    assert ("kill", "cache") in kinds and ("restart", "cache") in kinds
    restart = next(event for event in world.history.events if event.kind == "restart")
    assert restart.detail["killed_at"] < restart.time
    assert world.server("cache").generation == 2


def test_clock_skew_moves_one_servers_clock_and_is_lifted():
    loop, world = world_for(servers=[{"name": "a", "port": 3000}, {"name": "b", "port": 3000}])
    injector = Injector(world, end=10.0)
    host = world.network.host("client-0-0")

    def server_time(resp):
        seconds, micros = yield resp.call("TIME")
        return int(seconds) + int(micros) / 1e6

    def body():
        world.start_servers()
        a = yield connect(host, "a", 3000, loop.random)
        b = yield connect(host, "b", 3000, loop.random)
        lift = injector.apply(FaultPlan("clock_skew", 0.0, 1.0, ["a"], {"skew": 5.0}))
        offset = world.server("a").clock.offset
        assert offset != 0.0 and abs(offset) <= 5.0
        skewed = yield from server_time(a)
        plain = yield from server_time(b)
        assert abs((skewed - plain) - offset) < 0.01
        lift()
        assert world.server("a").clock.offset == 0.0 and world.server("a").max_skew == abs(offset)
        assert world.server("b").max_skew == 0.0

    run(loop, body)


def test_lift_all_ends_everything_at_once():
    loop, world = world_for()
    injector = Injector(world, end=1.0)
    net = world.network

    def body():
        world.start_servers()
        injector.start([FaultPlan("partition", 0.1, 50.0, ["cache"], {}),
                        FaultPlan("clog", 0.1, 50.0, ["client-0-0"], {}),
                        FaultPlan("drop", 0.1, 50.0, [], {"rate": 0.3}),
                        FaultPlan("kill", 0.2, 50.0, ["cache"], {}),
                        FaultPlan("swizzle", 0.3, 50.0, ["cache", "client-0-0", "client-0-1"], {}),
                        FaultPlan("clock_skew", 0.4, 50.0, ["cache"], {"skew": 1.0})])
        yield flow.delay(1.0)
        assert not world.server("cache").alive and net.drop_rate == 0.3
        injector.lift_all()
        assert world.server("cache").alive and world.server("cache").clock.offset == 0.0
        assert net.drop_rate == 0.0 and not net.is_partitioned("cache", "client-0-0")
        assert all(host.clog_until == 0.0 for host in net.hosts())
        yield flow.delay(60.0)  # nothing planned before the heal comes back
        assert all(host.clog_until == 0.0 for host in net.hosts())
        assert not net.is_partitioned("cache", "client-0-0")

    run(loop, body)
    assert len(injector.applied) == 6
