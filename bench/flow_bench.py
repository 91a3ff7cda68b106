"""SimLoop against SimPy 4 doing the same work, in one run, as events per second.

(a) 1,000,000 actor resumptions through yield_now / a zero timeout;
(b) 1,000 actors each sleeping 1,000 times.
Usage: python bench/flow_bench.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flow  # noqa: E402


def flow_resumptions(n: int) -> float:
    @flow.actor
    def spinner(count):
        for _ in range(count):
            yield flow.yield_now()

    loop = flow.SimLoop(seed=1)
    start = time.perf_counter()
    loop.run(lambda: spinner(n))
    return time.perf_counter() - start


def flow_sleepers(actors: int, sleeps: int) -> float:
    @flow.actor
    def sleeper(i):
        for _ in range(sleeps):
            yield flow.delay(1.0 + (i % 7) * 0.001)

    @flow.actor
    def main():
        yield flow.wait_all([sleeper(i) for i in range(actors)])

    loop = flow.SimLoop(seed=1)
    start = time.perf_counter()
    loop.run(main)
    return time.perf_counter() - start


def simpy_resumptions(n: int) -> float:
    import simpy

    env = simpy.Environment()

    def spinner(env, count):
        for _ in range(count):
            yield env.timeout(0)

    env.process(spinner(env, n))
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def simpy_sleepers(actors: int, sleeps: int) -> float:
    import simpy

    env = simpy.Environment()

    def sleeper(env, i):
        for _ in range(sleeps):
            yield env.timeout(1.0 + (i % 7) * 0.001)

    for i in range(actors):
        env.process(sleeper(env, i))
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def best(fn, *args, repeat: int = 3) -> float:
    return min(fn(*args) for _ in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the work (0.1 for a quick run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = int(1_000_000 * args.scale)
    actors, sleeps = 1000, max(1, int(1000 * args.scale))
    try:
        import simpy  # noqa: F401
    except ImportError:
        print("SimPy is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    rows = [
        ("(a) resumptions", n, best(flow_resumptions, n, repeat=args.repeat),
         best(simpy_resumptions, n, repeat=args.repeat)),
        ("(b) 1000 sleepers", actors * sleeps, best(flow_sleepers, actors, sleeps, repeat=args.repeat),
         best(simpy_sleepers, actors, sleeps, repeat=args.repeat)),
    ]
    print(f"{'workload':<20}{'events':>10}{'flow ev/s':>14}{'simpy ev/s':>14}{'flow/simpy':>12}")
    for name, events, flow_s, simpy_s in rows:
        print(f"{name:<20}{events:>10}{events / flow_s:>14,.0f}{events / simpy_s:>14,.0f}{simpy_s / flow_s:>11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
