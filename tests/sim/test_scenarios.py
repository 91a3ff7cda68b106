"""The shipped scenarios: all there, valid, and passing a short run of their first seed."""

from __future__ import annotations

import pathlib

import pytest

from sim.scenario import load

ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRED = ["basic", "partitions", "clogging", "restarts", "ttl", "queues", "pubsub", "chaos"]
SHIPPED = sorted(path.stem for path in (ROOT / "scenarios").glob("*.toml"))


def test_every_required_scenario_ships():
    assert set(REQUIRED) <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_scenario_is_valid_and_checks_something(name):
    scenario = load(str(ROOT / "scenarios" / f"{name}.toml"))
    assert scenario.name == name
    assert scenario.workloads and scenario.checks
    assert {"no_errors", "liveness"} <= {check["kind"] for check in scenario.checks}


def test_chaos_has_everything_and_buggify_on():
    chaos = load(str(ROOT / "scenarios" / "chaos.toml"))
    assert chaos.simulation["buggify"] == "on"
    assert {w["kind"] for w in chaos.workloads} == {"kv", "counter", "ttl", "queue", "pubsub", "random"}
    assert {f["kind"] for f in chaos.faults} == {"partition", "clog", "drop", "reset", "kill", "restart", "swizzle",
                                                  "clock_skew"}
    assert {c["kind"] for c in chaos.checks} == {"linearizable", "no_errors", "ttl", "queue", "liveness", "memory",
                                                  "pubsub"}


@pytest.mark.parametrize("name", SHIPPED)
def test_a_short_run_of_a_shipped_scenario_passes(sim, name):
    sim.check(f"scenarios/{name}.toml", seeds=[1], duration=3.0, heal=3.0)
