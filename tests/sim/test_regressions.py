"""Every seed in tests/sim/regressions.toml once failed; each must pass on every run."""

from __future__ import annotations

import os

import pytest

from sim.pytest_plugin import load_regressions

REGRESSIONS = load_regressions(os.path.join(os.path.dirname(__file__), "regressions.toml"))


def test_the_regressions_file_lists_seeds():
    assert REGRESSIONS, "tests/sim/regressions.toml should list the seeds that once failed"


@pytest.mark.parametrize("regression", REGRESSIONS, ids=[r.id for r in REGRESSIONS])
def test_a_seed_that_once_failed_passes(sim, regression):
    sim.replay(regression.scenario, [regression.seed], **regression.overrides)
