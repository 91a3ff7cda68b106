"""Both networks behind one fixture: the conformance suite runs against each."""

from __future__ import annotations

import pytest

import flow
import net

REAL_GUARD = 60.0  # seconds: a hung real-network test fails instead of hanging the suite


class NetEnv:
    """A loop and its network; run() drives an actor to completion on it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "sim":
            self.loop = flow.SimLoop(seed=20260101)
            self.net = net.SimNetwork(self.loop, fragment=True)
        else:
            self.loop = flow.RealLoop()
            self.net = net.RealNetwork(self.loop)

    def run(self, make_main):
        def start():
            main = make_main()
            return main if self.kind == "sim" else flow.timeout(main, REAL_GUARD)
        return self.loop.run(start)

    def close(self) -> None:
        if self.kind == "real":
            self.net.close()
            self.loop.close()


@pytest.fixture(params=["real", "sim"])
def env(request):
    made = NetEnv(request.param)
    yield made
    made.close()
