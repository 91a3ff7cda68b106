"""Workloads: each kind drives the server, records a usable history and passes its checks."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sim import scenario as scenario_module
from sim.random_workload import G, available
from sim.runner import RunOptions, run_seed


def history_of(tmp_path, kind, checks, seed=3, faults=(), **workload):
    raw = {
        "simulation": {"name": kind, "duration": 3.0, "heal": 1.0, "buggify": "off"},
        "workload": [{"kind": kind, "clients": 4, "keys": 3, "rate": 50, **workload}],
        "fault": list(faults),
        "check": [{"kind": check} for check in checks],
    }
    path = tmp_path / "history.jsonl"
    result = run_seed(scenario_module.parse(raw, f"{kind}.toml"), seed, RunOptions(history=str(path)))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return result, rows


def test_queue_producers_push_and_blpop_consumers_pop_then_the_end_is_read(tmp_path):
    result, rows = history_of(tmp_path, "queue", ["queue", "no_errors", "liveness"])
    assert result.passed, result.failures
    names = Counter(row["input"][0] for row in rows if row["type"] == "op")
    assert names["RPUSH"] > 50 and names["BLPOP"] > 20 and names["LPOP"] > 0
    assert names["LRANGE"] == 3  # the final view of each queue
    popped = [row for row in rows if row["type"] == "op" and row["input"][0] == "BLPOP" and row["output"]]
    assert popped and all(row["output"][0].startswith("queue:") for row in popped)


def test_pubsub_subscribers_receive_in_sessions(tmp_path):
    result, rows = history_of(tmp_path, "pubsub", ["pubsub", "no_errors"],
                              faults=[{"kind": "reset", "at": 1.5, "hosts": ["cache"]}])
    assert result.passed, result.failures
    events = Counter(row["kind"] for row in rows if row["type"] == "event")
    assert events["subscribed"] >= 2 and events["received"] > 50
    sessions = {(row["detail"]["subscriber"], row["detail"]["session"]) for row in rows
                if row["type"] == "event" and row["kind"] == "received"}
    assert len(sessions) >= 3  # the reset (and churn) started new sessions
    publishes = [row for row in rows if row["type"] == "op" and row["input"][0] == "PUBLISH"]
    assert publishes and any(row["output"] for row in publishes)  # some reached a subscriber


def test_random_throws_many_kinds_of_commands_without_breaking_the_server(tmp_path):
    result, rows = history_of(tmp_path, "random", ["no_errors", "liveness"], rate=200, keys=6)
    assert result.passed, result.failures
    names = {row["input"][0] for row in rows if row["type"] == "op"}
    assert len(names) > 40
    errors = [row for row in rows if row["type"] == "op" and isinstance(row["output"], dict) and "error" in row["output"]]
    assert any(row["output"]["error"].startswith("WRONGTYPE") for row in errors)  # types collide, as meant


def test_random_generators_make_commands_the_server_knows():
    names = [name for name, _ in available()]
    assert names and len(names) == len(set(names))
    assert set(names) <= set(G)
    assert "get" in names and "zadd" in names


@pytest.mark.parametrize("kind", ["kv", "counter", "ttl"])
def test_request_workloads_pipeline(kind):
    raw = {
        "simulation": {"name": kind, "duration": 2.0, "heal": 1.0, "buggify": "off"},
        "workload": [{"kind": kind, "clients": 3, "keys": 4, "rate": 90, "pipeline": 3}],
        "check": [{"kind": "linearizable"}, {"kind": "ttl"}, {"kind": "no_errors"}, {"kind": "liveness"}],
    }
    result = run_seed(scenario_module.parse(raw, f"{kind}.toml"), 2)
    assert result.passed, result.failures
    assert result.operations > 300


def test_evictions_are_recorded_and_excuse_lost_keys(tmp_path):
    raw = {
        "simulation": {"name": "evict", "duration": 4.0, "heal": 1.0, "buggify": "off"},
        "server": [{"name": "cache", "config": {"maxmemory": "1200kb", "maxmemory-policy": "allkeys-lru"}}],
        "workload": [{"kind": "kv", "clients": 4, "keys": 120, "rate": 100, "value_size": [3000, 9000]}],
        "check": [{"kind": "linearizable"}, {"kind": "memory", "slack": 0.1}, {"kind": "no_errors"}],
    }
    path = tmp_path / "history.jsonl"
    result = run_seed(scenario_module.parse(raw, "evict.toml"), 1, RunOptions(history=str(path)))
    assert result.passed, result.failures
    kinds = Counter(json.loads(line).get("kind") for line in path.read_text().splitlines())
    assert kinds["evict"] > 0 and kinds["memory"] > 0
