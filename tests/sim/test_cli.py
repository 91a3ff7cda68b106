"""`flowcache sim`: exit codes, repro lines, the report, --jobs and --check-determinism."""

from __future__ import annotations

import io
import json
import re

import pytest

from cache.commands import table
from flowcache.cli import main as flowcache_main
from sim import cli, workloads

TINY = """
[simulation]
name = "tiny"
seed = 4
duration = 1.5
heal = 1.0
buggify = "off"

[[workload]]
kind = "kv"
clients = 2
keys = 4
rate = 40

[[check]]
kind = "linearizable"

[[check]]
kind = "no_errors"
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return str(path)


def sim(*args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_passing_seed_exits_0_and_says_so(tiny):
    code, out, _ = sim(tiny)
    assert code == 0
    assert "seed 4: passed" in out and "PASSED: 1 of 1 seeds run" in out
    assert re.search(r"digest [0-9a-f]{16}", out)


@pytest.mark.parametrize("text, where", [
    (TINY.replace('duration = 1.5', 'duraton = 1.5'), "[simulation] unknown key 'duraton'"),
    (TINY.replace('rate = 40', 'rate = "fast"'), "[workload #1] bad value for 'rate'"),
    (TINY + '\n[[fault]]\nkind = "kill"\nat = 1.0\nhosts = ["nowhere"]\n', "[fault #1] unknown host 'nowhere'"),
    (TINY + '\n[[server]]\nname = "cache"\nconfig = { maxmemory = "lots" }\n', "[server #1] bad value in 'config'"),
    ("[simulation\n", "not valid TOML"),
])
def test_a_bad_scenario_exits_2_naming_file_table_and_key(tmp_path, text, where):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = sim(path)
    assert code == 2
    assert str(path) in err and where in err


@pytest.mark.parametrize("args", [["--first-seed", "3"], ["--seeds", "0"], ["--jobs", "0"], ["--seed", "1", "--seeds", "2"],
                                  ["--buggify", "sometimes"]])
def test_usage_errors_exit_2(tiny, args):
    code, _, _ = sim(tiny, *args)
    assert code == 2


def test_a_missing_file_exits_2(tmp_path):
    code, _, err = sim(tmp_path / "nope.toml")
    assert code == 2 and "cannot read" in err


def test_a_failing_seed_exits_1_with_a_repro_line_that_fails_the_same_way(tiny, monkeypatch, tmp_path):
    spec = table.COMMANDS[b"mset"]
    original = spec.handler
    monkeypatch.setattr(spec, "handler", lambda client, argv: original(client, argv[:-2] if len(argv) > 3 else argv))
    report = tmp_path / "report.json"
    code, out, _ = sim(tiny, "--seeds", 6, "--first-seed", 1, "--duration", 3, "--report", report)
    assert code == 1
    repros = re.findall(r"repro: (flowcache sim .*)", out)
    assert repros and all(f"flowcache sim {tiny} --seed " in line and "--duration 3" in line for line in repros)
    assert "FAILED" in out and "failing seeds:" in out
    data = json.loads(report.read_text())
    failed = [row for row in data["seeds"] if not row["passed"]]
    assert {row["repro"] for row in failed} == set(repros)
    for key in ("seed", "passed", "digest", "virtual_seconds", "wall_seconds", "events", "operations", "failures",
                "buggify_sites"):
        assert all(key in row for row in data["seeds"])
    first = failed[0]
    assert first["failures"][0].startswith("[linearizable]")
    # The repro line replays the failure exactly.
    argv = first["repro"].split()[2:]
    code, out, _ = sim(*argv)
    assert code == 1 and f"digest {first['digest']}" in out


def test_jobs_run_seeds_in_processes_with_the_same_results(tiny, tmp_path):
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    assert sim(tiny, "--seeds", 2, "--report", here, "--quiet")[0] == 0
    code, out, _ = sim(tiny, "--seeds", 2, "--jobs", 2, "--report", there, "--quiet")
    assert code == 0 and "PASSED: 2 of 2" in out
    digests = [[row["digest"] for row in json.loads(path.read_text())["seeds"]] for path in (here, there)]
    assert digests[0] == digests[1]


def test_check_determinism_passes_a_deterministic_seed(tiny):
    code, out, _ = sim(tiny, "--check-determinism")
    assert code == 0 and "NONDETERMINISTIC" not in out


def test_check_determinism_names_the_step_where_runs_diverge(tiny, monkeypatch):
    """This process draws one extra random number per kv op; the fresh process does not."""
    original = workloads.GENERATORS["kv"]

    def drifting(ctx, client):
        ctx.rng.random()
        return original(ctx, client)

    monkeypatch.setitem(workloads.GENERATORS, "kv", drifting)
    code, out, _ = sim(tiny, "--check-determinism")
    assert code == 3
    assert re.search(r"NONDETERMINISTIC seed 4: runs diverged at step \d+ \(t=\d+\.\d+\)", out)
    assert "last op sent by then" in out and f"repro: flowcache sim {tiny} --seed 4" in out


def test_flowcache_sim_routes_to_the_simulator(tiny, capsys):
    assert flowcache_main(["sim", tiny, "--quiet"]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert flowcache_main(["sim", "--help"]) == 0
    assert "--check-determinism" in capsys.readouterr().out
