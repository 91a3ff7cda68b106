"""Server CPU per request, flowcache against redis-server, with redis-benchmark.

Throughput on a shared machine swings with the neighbours' load; the CPU
time the server process spends per request (utime + stime from /proc over a
run of known length) is steadier, so profile-driven work is measured here
and `server_bench.py` stays the headline figure.

Usage: python bench/server_cpu.py [-n 300000] [--pipelines 16,1] [--tests set,get,incr,mset]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support import flowcache_and_redis  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def cpu_per_request(pid: int, port: int, test: str, requests: int, pipeline: int) -> float:
    """Microseconds of server CPU per request over one redis-benchmark run."""
    before = cpu_seconds(pid)
    subprocess.run(["redis-benchmark", "-p", str(port), "-t", test, "-n", str(requests),
                    "-c", "50", "-P", str(pipeline), "-q"],
                   check=True, capture_output=True, timeout=600)
    return (cpu_seconds(pid) - before) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=300_000)
    parser.add_argument("--pipelines", default="16,1")
    parser.add_argument("--tests", default="set,get,incr,mset")
    args = parser.parse_args()
    if not shutil.which("redis-benchmark") or not shutil.which("redis-server"):
        print("needs redis-server and redis-benchmark", file=sys.stderr)
        return 2
    with flowcache_and_redis("flowcache-bench-") as (fc, fc_port, rd, redis_port):
        print(f"{'test':<8}{'-P':>4}{'flowcache us':>14}{'redis us':>10}{'redis/flowcache':>17}")
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            for test in args.tests.split(","):
                ours = cpu_per_request(fc.pid, fc_port, test, args.requests, pipeline)
                theirs = cpu_per_request(rd.pid, redis_port, test, args.requests, pipeline)
                ratio = theirs / ours if ours else 0.0
                print(f"{test:<8}{pipeline:>4}{ours:>14.2f}{theirs:>10.2f}{ratio:>16.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
