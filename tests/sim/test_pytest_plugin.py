"""The pytest plugin: the `sim` fixture, --seed / --seeds, repro lines and the regressions file."""

from __future__ import annotations

import pytest

from sim.pytest_plugin import load_regressions

pytest_plugins = ["pytester"]

TINY = """
[simulation]
name = "tiny"
duration = 1.0
heal = 0.5
buggify = "off"

[[workload]]
kind = "kv"
clients = 2
keys = 3
rate = 40

[[check]]
kind = "linearizable"
"""

TESTS = '''
from cache.commands import table

def test_seeds(sim):
    results = sim.check("tiny.toml", seeds=[1, 2])
    print("SEEDS", [r.seed for r in results])

def test_broken_mset(sim, monkeypatch):
    spec = table.COMMANDS[b"mset"]
    original = spec.handler
    monkeypatch.setattr(spec, "handler", lambda c, argv: original(c, argv[:-2] if len(argv) > 3 else argv))
    sim.check("tiny.toml", seeds=range(1, 30), duration=3.0)
'''


@pytest.fixture
def project(pytester):
    pytester.makefile(".toml", tiny=TINY)
    pytester.makeini("[pytest]\nsim_regressions = regressions.toml\n")
    pytester.makepyfile(test_sims=TESTS)
    return pytester


def run(project, *args):
    return project.runpytest_inprocess("-p", "sim.pytest_plugin", "-s", *args)


def test_a_test_runs_its_own_seeds_by_default(project):
    result = run(project, "-k", "test_seeds")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SEEDS [[]1, 2[]]*"])


def test_seed_replays_one_seed_and_seeds_runs_many(project):
    run(project, "-k", "test_seeds", "--seed", "7").stdout.fnmatch_lines(["*SEEDS [[]7[]]*"])
    run(project, "-k", "test_seeds", "--seeds", "3", "--first-seed", "10").stdout.fnmatch_lines(
        ["*SEEDS [[]10, 11, 12[]]*"])


def test_a_failing_simulation_prints_its_seed_and_how_to_replay_it(project):
    result = run(project, "-k", "test_broken_mset")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*simulation tiny.toml seed * failed (digest *",
        "*[[]linearizable[]]*",
        "*replay: flowcache sim tiny.toml --seed * --duration 3*",
        "*replay this test: pytest test_sims.py::test_broken_mset --seed *",
    ])
    result.stdout.fnmatch_lines(["*simulation seeds*", "*seed * FAILED (digest *): flowcache sim tiny.toml --seed *"])


def test_record_regressions_appends_the_failing_seed(project):
    run(project, "-k", "test_broken_mset", "--record-regressions").assert_outcomes(failed=1)
    [entry] = load_regressions(str(project.path / "regressions.toml"))
    assert entry.scenario == "tiny.toml" and entry.overrides == {"duration": 3.0}
    assert entry.note.startswith("[linearizable]")
