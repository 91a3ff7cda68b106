"""How fast the simulator runs each shipped scenario, on one core.

For every scenario: seeds per minute, virtual seconds per wall second and
per CPU second (the CPU figure is what one core delivers even on a busy
machine), operations per second, and how much of the time the checkers
take. Seeds run one after another in this process.

Usage: python bench/sim_bench.py [--seeds 3] [--first-seed 1] [--buggify on|off|random] [scenario ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sim.runner import RunOptions, run_seed  # noqa: E402
from sim.scenario import load  # noqa: E402


def bench(path: str, seeds: list[int], buggify: str | None) -> dict[str, float]:
    scenario = load(path)
    wall = cpu = virtual = checks = 0.0
    ops = events = failed = 0
    for seed in seeds:
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        result = run_seed(scenario, seed, RunOptions(buggify=buggify))
        wall += time.perf_counter() - started_wall
        cpu += time.process_time() - started_cpu
        virtual += result.virtual_seconds
        checks += result.check_seconds
        ops += result.operations
        events += result.events
        failed += not result.passed
    return {"seeds": len(seeds), "failed": failed, "wall": wall, "cpu": cpu, "virtual": virtual, "checks": checks,
            "ops": ops, "events": events}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names or files (default: every one in scenarios/)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--buggify", choices=["on", "off", "random"])
    args = parser.parse_args()
    names = args.scenarios or sorted(name[:-5] for name in os.listdir(os.path.join(ROOT, "scenarios"))
                                     if name.endswith(".toml"))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"{'scenario':<12} {'seeds':>5} {'failed':>6} {'seeds/min':>10} {'vs/wall s':>10} {'vs/CPU s':>9} "
          f"{'ops/CPU s':>10} {'check %':>8}")
    for name in names:
        path = name if name.endswith(".toml") else os.path.join(ROOT, "scenarios", f"{name}.toml")
        row = bench(path, seeds, args.buggify)
        print(f"{os.path.basename(path)[:-5]:<12} {row['seeds']:>5} {row['failed']:>6} "
              f"{60.0 * row['seeds'] / row['wall']:>10.1f} {row['virtual'] / row['wall']:>10.1f} "
              f"{row['virtual'] / row['cpu']:>9.1f} {row['ops'] / row['cpu']:>10.0f} "
              f"{100.0 * row['checks'] / row['wall']:>7.0f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
