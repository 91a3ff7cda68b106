"""flowcache against redis-server with redis-benchmark, side by side in one run.

Starts both servers on free loopback ports (persistence off), runs
`redis-benchmark -t set,get,incr,mset -c 50` at -P 1 and -P 16 against each,
and prints requests per second and the flowcache/redis ratio.

A shared 2-core machine drifts: redis-server's own figure at -P 16 has
been seen anywhere from 0.9M to 1.9M rps. So each pipeline depth is run
`--rounds` times, flowcache and redis-server taking turns (who goes first
alternates), and the table shows the median rps of each and the range of
the per-round ratios.

By default every request names redis-benchmark's one literal key
(`key:__rand_key__`), as the issue's benchmark does. `--random-keys N`
passes `-r N`, so requests spread over N keys, as real traffic does, and
each key write pays for reaching memory that is not in the CPU's caches.

Usage: python bench/server_bench.py [-n 200000] [--clients 50] [--pipelines 1,16] [--rounds 3]
                                    [--random-keys N]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support import flowcache_and_redis  # noqa: E402

TESTS = "set,get,incr,mset"


def benchmark(port: int, requests: int, clients: int, pipeline: int, random_keys: int) -> dict[str, float]:
    spread = ["-r", str(random_keys)] if random_keys else []
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", TESTS, "-n", str(requests), "-c", str(clients),
         "-P", str(pipeline), *spread, "--csv"],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return {row[0].split()[0]: float(row[1]) for row in rows[1:] if len(row) > 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--random-keys", type=int, default=0, metavar="N",
                        help="spread requests over N keys (redis-benchmark -r N)")
    args = parser.parse_args()
    if not shutil.which("redis-benchmark") or not shutil.which("redis-server"):
        print("needs redis-server and redis-benchmark (apt-get install redis-server redis-tools)", file=sys.stderr)
        return 2
    with flowcache_and_redis("flowcache-bench-") as (_fc, fc_port, _rd, redis_port):
        spread = f" -r {args.random_keys}" if args.random_keys else ""
        print(f"redis-benchmark -t {TESTS} -n {args.requests} -c {args.clients}{spread}, "
              f"median of {args.rounds} rounds")
        print(f"{'test':<8}{'-P':>4}{'flowcache rps':>16}{'redis rps':>14}{'ratio':>9}"
              f"{'ratio range':>16}")
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            ours: dict[str, list[float]] = {}
            theirs: dict[str, list[float]] = {}
            for turn in range(args.rounds):
                sides = [(fc_port, ours), (redis_port, theirs)]
                for port, results in sides if turn % 2 == 0 else sides[::-1]:
                    for test, rps in benchmark(port, args.requests, args.clients, pipeline,
                                                   args.random_keys).items():
                        results.setdefault(test, []).append(rps)
            for test, rd in theirs.items():
                fc = ours.get(test, [0.0] * len(rd))
                ratios = [a / b if b else 0.0 for a, b in zip(fc, rd)]
                fc_mid, rd_mid = statistics.median(fc), statistics.median(rd)
                print(f"{test:<8}{pipeline:>4}{fc_mid:>16,.0f}{rd_mid:>14,.0f}"
                      f"{fc_mid / rd_mid if rd_mid else 0.0:>8.0%}"
                      f"{min(ratios):>10.0%}-{max(ratios):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
