"""pytest plugin: simulation seeds in tests, replayed on demand, and a regressions file.

    def test_basic_holds(sim):
        sim.check("scenarios/basic.toml", seeds=range(1, 4), duration=5.0)

`sim.check` runs each seed in this process (so a test may monkeypatch the
server first) and fails with the seed, the failures and the commands that
replay it. Options:

    --seed N     replay seed N in every simulation test instead of its seeds
    --seeds K    run K seeds in every simulation test (from --first-seed, default 1)
    --sim-buggify on|off|random   override every scenario's buggify
    --record-regressions          append failing seeds to the regressions file

The regressions file (ini `sim_regressions`, default tests/sim/regressions.toml)
lists seeds that once failed, with their scenario and options;
`load_regressions` reads it for a test that replays each on every run.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any, Iterable

import pytest

from sim.runner import RunOptions, RunResult, run_seed
from sim.scenario import Scenario, load

REGRESSIONS_DEFAULT = "tests/sim/regressions.toml"
_RUNS = pytest.StashKey[list]()


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("flowcache-sim", "flowcache simulation")
    group.addoption("--seed", type=int, default=None, metavar="N",
                    help="replay seed N in every simulation test (the `sim` fixture)")
    group.addoption("--seeds", type=int, default=None, metavar="K",
                    help="run K seeds in every simulation test")
    group.addoption("--first-seed", type=int, default=1, metavar="S", help="first seed of --seeds (default 1)")
    group.addoption("--sim-buggify", choices=["on", "off", "random"], default=None,
                    help="override the buggify setting of every simulated scenario")
    group.addoption("--record-regressions", action="store_true",
                    help="append each failing simulation seed to the regressions file")
    parser.addini("sim_regressions", "file of simulation seeds that once failed", default=REGRESSIONS_DEFAULT)


class SimulationFailed(AssertionError):
    """A seed failed its checks; the message holds the seed and how to replay it."""


class Sim:
    """The `sim` fixture: runs scenario seeds in-process and explains failures."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.config = request.config
        self.root = str(self.config.rootpath)
        self.runs: list[tuple[str, int, RunOptions, RunResult | None]] = request.node.stash.setdefault(_RUNS, [])

    # -- scenarios and seeds ----------------------------------------------------------
    def scenario(self, path: str) -> Scenario:
        """Load a scenario file by a path relative to the repository root (or absolute)."""
        full = path if os.path.isabs(path) else os.path.join(self.root, path)
        scenario = load(full)
        scenario.path = os.path.relpath(full, self.root) if full.startswith(self.root) else full
        return scenario

    def seeds(self, default: Iterable[int]) -> list[int]:
        """The seeds a test should run: --seed, else --seeds, else its own."""
        option = self.config.getoption
        if option("seed") is not None:
            return [option("seed")]
        if option("seeds") is not None:
            return list(range(option("first_seed"), option("first_seed") + option("seeds")))
        return list(default)

    def options(self, **overrides: Any) -> RunOptions:
        buggify = overrides.pop("buggify", None) or self.config.getoption("sim_buggify")
        return RunOptions(buggify=buggify, **overrides)

    # -- running ------------------------------------------------------------------
    def run(self, scenario: Scenario | str, seed: int, **overrides: Any) -> RunResult:
        """One seed, in this process; recorded so a failing test reports it."""
        scenario = self.scenario(scenario) if isinstance(scenario, str) else scenario
        options = self.options(**overrides)
        entry = [scenario.path, seed, options, None]
        self.runs.append(entry)  # type: ignore[arg-type]
        result = run_seed(scenario, seed, options)
        entry[3] = result
        return result

    def check(self, scenario: Scenario | str, seeds: Iterable[int] = (1,), **overrides: Any) -> list[RunResult]:
        """Run the seeds (or those of --seed/--seeds); fail at the first failing seed."""
        return self.replay(scenario, self.seeds(seeds), **overrides)

    def replay(self, scenario: Scenario | str, seeds: Iterable[int], **overrides: Any) -> list[RunResult]:
        """Like `check`, but exactly these seeds, whatever --seed says (regressions)."""
        scenario = self.scenario(scenario) if isinstance(scenario, str) else scenario
        results = []
        for seed in seeds:
            result = self.run(scenario, seed, **overrides)
            results.append(result)
            if not result.passed:
                if self.config.getoption("record_regressions"):
                    self.record_regression(result, self.options(**overrides))
                raise SimulationFailed(self.explain(result, self.options(**overrides)))
        return results

    def first_failure(self, scenario: Scenario | str, seeds: Iterable[int], **overrides: Any) -> RunResult | None:
        """The first seed that fails (None if all pass): for tests that expect a bug to be found."""
        scenario = self.scenario(scenario) if isinstance(scenario, str) else scenario
        for seed in self.seeds(seeds):
            result = self.run(scenario, seed, **overrides)
            if not result.passed:
                return result
        return None

    # -- explaining ---------------------------------------------------------------
    def repro_lines(self, result: RunResult, options: RunOptions) -> list[str]:
        return [f"replay: {result.repro(options)}",
                f"replay this test: pytest {self.request.node.nodeid} --seed {result.seed}"]

    def explain(self, result: RunResult, options: RunOptions) -> str:
        lines = [f"simulation {result.path} seed {result.seed} failed (digest {result.digest}, "
                 f"buggify {'on' if result.buggify else 'off'}, {result.operations} ops)"]
        lines.extend("  " + line for failure in result.failures[:10] for line in failure.splitlines())
        lines.extend(self.repro_lines(result, options))
        return "\n".join(lines)

    def record_regression(self, result: RunResult, options: RunOptions) -> None:
        path = regressions_path(self.config)
        lines = ["", "[[regression]]", f'scenario = "{result.path}"', f"seed = {result.seed}"]
        if options.buggify:
            lines.append(f'buggify = "{options.buggify}"')
        if options.duration is not None:
            lines.append(f"duration = {options.duration!r}")
        if options.heal is not None:
            lines.append(f"heal = {options.heal!r}")
        first = result.failures[0].splitlines()[0] if result.failures else "failed"
        lines.append(f"note = {_toml_string(first[:200])}")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def sim(request: Any) -> Sim:
    """Run simulation seeds in this process; see `Sim`."""
    return Sim(request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any):
    outcome = yield
    report = outcome.get_result()
    runs = item.stash.get(_RUNS, None)
    if not runs or not report.failed:
        return
    lines = []
    for path, seed, options, result in runs:
        command = " ".join(["flowcache", "sim", path, "--seed", str(seed), *options.flags()])
        if result is None:
            lines.append(f"seed {seed} was running when the test failed: {command}")
        elif not result.passed:
            lines.append(f"seed {seed} FAILED (digest {result.digest}): {command}")
        else:
            lines.append(f"seed {seed} passed (digest {result.digest})")
    lines.append(f"replay this test with one seed: pytest {item.nodeid} --seed N")
    report.sections.append(("simulation seeds", "\n".join(lines)))


# -- the regressions file ----------------------------------------------------------------


@dataclass
class Regression:
    scenario: str
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{os.path.splitext(os.path.basename(self.scenario))[0]}-{self.seed}"


_REGRESSION_KEYS = {"scenario", "seed", "buggify", "duration", "heal", "note"}


def regressions_path(config: Any) -> str:
    path = config.getini("sim_regressions") or REGRESSIONS_DEFAULT
    return path if os.path.isabs(path) else os.path.join(str(config.rootpath), path)


def load_regressions(path: str) -> list[Regression]:
    """The [[regression]] entries of a regressions file (none if it does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    entries = []
    for i, row in enumerate(raw.get("regression", [])):
        unknown = set(row) - _REGRESSION_KEYS
        if unknown or "scenario" not in row or not isinstance(row.get("seed"), int):
            raise ValueError(f"{path}: [[regression]] #{i + 1} needs scenario and an integer seed "
                             f"(and only {sorted(_REGRESSION_KEYS)}); got {sorted(row)}")
        overrides = {key: row[key] for key in ("buggify", "duration", "heal") if key in row}
        entries.append(Regression(row["scenario"], row["seed"], overrides, row.get("note", "")))
    return entries
