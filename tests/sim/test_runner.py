"""One seed of a scenario: the world it builds, what it reports, and that it replays."""

from __future__ import annotations

import json

import pytest

from cache.commands import table
from sim import scenario as scenario_module
from sim.runner import RunOptions, buggify_for, run_seed

BASIC = {
    "simulation": {"name": "tiny", "duration": 2.0, "heal": 1.0, "buggify": "off"},
    "workload": [{"kind": "kv", "clients": 3, "keys": 5, "rate": 50}],
    "check": [{"kind": "linearizable"}, {"kind": "no_errors"}, {"kind": "liveness"}],
}


def scenario(**tables):
    raw = {key: value for key, value in BASIC.items()}
    raw.update(tables)
    return scenario_module.parse(raw, "tiny.toml")


def test_a_run_reports_what_happened():
    result = run_seed(scenario(), 7)
    assert result.passed, result.failures
    assert result.seed == 7 and result.scenario == "tiny" and result.path == "tiny.toml"
    assert result.operations > 100 and result.events > result.operations
    assert 3.0 <= result.virtual_seconds < 3.0 + 10.5  # duration + heal, then the clients' stop
    assert len(result.digest) == 16 and int(result.digest, 16) >= 0
    assert result.buggify is False and result.buggify_sites == {}
    assert json.loads(json.dumps(result.to_json()))["digest"] == result.digest


def test_a_seed_replays_exactly_and_another_seed_differs():
    first, again, other = run_seed(scenario(), 3), run_seed(scenario(), 3), run_seed(scenario(), 4)
    assert (first.digest, first.events, first.operations) == (again.digest, again.events, again.operations)
    assert other.digest != first.digest


def test_buggify_is_decided_by_the_mode_or_by_the_seed():
    assert buggify_for("on", 5) is True and buggify_for("off", 5) is False
    decided = [buggify_for("random", seed) for seed in range(1, 41)]
    assert decided == [buggify_for("random", seed) for seed in range(1, 41)]
    assert 5 < sum(decided) < 40
    on = run_seed(scenario(), 2, RunOptions(buggify="on"))
    assert on.buggify is True and on.passed, on.failures


def test_overrides_change_the_phases():
    result = run_seed(scenario(), 1, RunOptions(duration=0.5, heal=0.5))
    assert result.virtual_seconds < 3.0 + 10.5 and result.passed


def test_an_uncaught_error_in_a_server_actor_fails_the_run(monkeypatch):
    spec = table.COMMANDS[b"append"]

    def broken(client, argv):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(spec, "handler", broken)
    result = run_seed(scenario(), 1)
    assert not result.passed
    [failure] = [line for line in result.failures if "planted" in line]
    assert failure.startswith("[no_errors]") and "ZeroDivisionError" in failure and "no one waited" in failure


def test_error_replies_fail_no_errors_unless_expected(monkeypatch):
    spec = table.COMMANDS[b"get"]
    from cache.errors import CommandError

    def refuse(client, argv):
        raise CommandError(b"ERR planted refusal")

    monkeypatch.setattr(spec, "handler", refuse)
    result = run_seed(scenario(), 1)
    assert any(line.startswith("[no_errors]") and "ERR planted refusal" in line for line in result.failures)
    allowed = scenario(check=[{"kind": "no_errors", "allowed": ["ERR planted"]}])
    assert run_seed(allowed, 1).passed


def test_trace_and_history_files(tmp_path):
    trace, history = tmp_path / "trace.jsonl", tmp_path / "history.jsonl"
    faulty = scenario(fault=[{"kind": "clog", "at": 0.5, "duration": 0.2, "hosts": ["cache"]}])
    result = run_seed(faulty, 1, RunOptions(trace=str(trace), history=str(history)))
    assert result.passed, result.failures
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    assert {"SimFault", "NetClog", "SimHeal", "SimInvoke", "SimComplete"} <= {event["kind"] for event in events}
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    assert sum(row["type"] == "op" for row in rows) == result.operations
    assert [row["detail"]["fault"] for row in rows if row["type"] == "event" and row["kind"] == "fault"] == ["clog"]
    # Tracing observes; it does not change what happens.
    assert run_seed(faulty, 1).digest == result.digest


@pytest.mark.parametrize("kind", ["partition", "clog", "drop", "reset", "kill", "restart", "swizzle", "clock_skew"])
def test_every_fault_kind_runs_and_heals(kind):
    fault = {"kind": kind, "count": 2, "duration": 0.5}
    if kind == "drop":
        fault["rate"] = 0.2
    if kind == "clock_skew":
        fault["skew"] = 0.2
    faulty = scenario(fault=[fault], check=BASIC["check"] + [{"kind": "ttl"}],
                      workload=[{"kind": "kv", "clients": 3, "keys": 5, "rate": 50},
                                {"kind": "ttl", "clients": 2, "keys": 4, "rate": 40}])
    result = run_seed(faulty, 11, RunOptions(duration=3.0, heal=2.0))
    assert result.passed, result.failures
    assert [line.split()[0] for line in result.faults] == [kind, kind]


def test_each_servers_keys_are_checked_with_its_own_restarts():
    """A restart of server b excuses lost data on b only, not a lost write on a."""
    from cache.reply import Status
    from sim.checks import run_checks
    from sim.history import History

    two = scenario_module.parse({
        "simulation": {"name": "two"},
        "server": [{"name": "a"}, {"name": "b", "port": 3001}],
        "workload": [{"kind": "kv", "server": "a"}, {"kind": "kv", "server": "b"}],
        "check": [{"kind": "linearizable"}],
    }, "two.toml")
    history = History()
    for client, key in ((0, b"kv:1"), (1000, b"kv:1")):  # workload 0 talks to a, workload 1 to b
        put = history.invoke(client, [b"SET", key, b"v%d" % client], 1.0)
        history.complete(put, Status(b"OK"), 1.1)
    history.event(2.0, "kill", server="b")
    history.event(2.5, "restart", server="b", killed_at=2.0)
    for client in (0, 1000):
        get = history.invoke(client, [b"GET", b"kv:1"], 3.0)
        history.complete(get, None, 3.1)
    [result] = run_checks(two, history, heal_time=5.0, end_time=6.0, skews={}, killed={"b"})
    assert len(result) == 1 and result[0].ops[0].client == 0 and "lost write" in result[0].message
