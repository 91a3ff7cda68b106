"""The same test bodies run on both loops where the behaviour must agree."""

import pytest

import flow


@pytest.fixture(params=["sim", "real"])
def loop(request):
    made = flow.SimLoop(seed=1234) if request.param == "sim" else flow.RealLoop()
    yield made
    if request.param == "real":
        made.close()


@pytest.fixture
def sim():
    return flow.SimLoop(seed=42)
