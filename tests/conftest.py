"""Shared fixtures: a real redis-server as the oracle for differential tests."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import settings

# CI and `make test` replay the same examples every run, so a red build is reproducible;
# `pytest --hypothesis-profile explore` draws fresh examples when hunting for bugs.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("FLOWCACHE_HYPOTHESIS_PROFILE", "default"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # so tests can `import support`

from support import redis_server_for_tests  # noqa: E402
pytest_plugins = ["sim.pytest_plugin"]  # the `sim` fixture, --seed/--seeds, simulation repro lines


@pytest.fixture(scope="session")
def redis_server():
    """Port of a private redis-server (persistence off); CI must have one."""
    with redis_server_for_tests() as port:
        yield port
