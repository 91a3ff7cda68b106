"""How close used_memory is to the memory flowcache really takes, and how it compares to Redis.

Loads `-n` keys `key:NNNNNNN` -> `--value-size`-byte values (default: the
issue's 1 million small keys) three ways and compares the growth of
INFO used_memory with the growth of the real footprint:

  in-process, RSS         a ServerState in this process, keys set through the
                          command dispatcher; /proc/self/statm before and after
  in-process, tracemalloc the same under tracemalloc (every byte CPython
                          requested; no allocator rounding or arena slack)
  over the network        `flowcache serve` and `redis-server` loaded with
                          pipelined SETs; each server's VmRSS (/proc/PID/status)
                          before and after, next to its own used_memory

Values are digits by default, `%03d` of i % 1000: Redis stores the ones it
reads as integers below 10000 as shared objects, at no cost per key. With
`--text-values` they start with a letter (`x%02d`), which Redis must allocate
like any string: the issue's "3-byte non-integer values".

Usage: python bench/memory_bench.py [-n 1000000] [--value-size 3] [--text-values]
                                    [--skip-network]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support import flowcache_and_redis, wait_for_port  # noqa: E402

Values = Callable[[int], bytes]  # key number -> value


def values(size: int, text: bool) -> Values:
    if text:
        return lambda i: (b"x%0*d" % (size - 1, i % 1000))[:size]
    return lambda i: b"%0*d" % (size, i % 1000)


def self_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pid_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def in_process(n: int, value: Values, traced: bool) -> tuple[int, int]:
    """(used_memory growth, real growth) for n keys set through the dispatcher."""
    import flow
    from cache import commands  # noqa: F401
    from cache.dispatch import execute
    from cache.eviction import used_memory
    from cache.state import Client, ServerState

    state = ServerState(loop=flow.SimLoop(seed=1))
    client = Client(state)
    gc.collect()
    if traced:
        tracemalloc.start()
    real_before = tracemalloc.get_traced_memory()[0] if traced else self_rss()
    used_before = used_memory(state)
    for i in range(n):
        execute(client, [b"SET", b"key:%07d" % i, value(i)])
    gc.collect()
    real = (tracemalloc.get_traced_memory()[0] if traced else self_rss()) - real_before
    if traced:
        tracemalloc.stop()
    return used_memory(state) - used_before, real


def load(port: int, n: int, value: Values) -> None:
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    batch = 1000
    for start in range(0, n, batch):
        parts = []
        for i in range(start, min(start + batch, n)):
            key, val = b"key:%07d" % i, value(i)
            parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                         % (len(key), key, len(val), val))
        sock.sendall(b"".join(parts))
        expected = 5 * (min(start + batch, n) - start)
        got = 0
        while got < expected:
            got += len(sock.recv(1 << 20))
    sock.close()


def used_memory_of(port: int) -> int:
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "memory"], capture_output=True,
                         text=True, check=True).stdout
    return int(next(line.split(":")[1] for line in out.splitlines()
                    if line.startswith("used_memory:")))


def over_network(name: str, proc: subprocess.Popen, port: int, n: int,
                 value: Values) -> tuple[int, int]:
    wait_for_port(port)
    time.sleep(0.5)
    used0, rss0 = used_memory_of(port), pid_rss(proc.pid)
    load(port, n, value)
    time.sleep(0.5)
    return used_memory_of(port) - used0, pid_rss(proc.pid) - rss0


def row(label: str, n: int, used: int, real: int) -> str:
    return (f"{label:<34}{used / n:>12.1f}{real / n:>12.1f}{used / real:>10.3f}"
            f"{(used - real) / real:>+10.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=3)
    parser.add_argument("--text-values", action="store_true")
    parser.add_argument("--skip-network", action="store_true")
    args = parser.parse_args()
    n = args.n
    value = values(args.value_size, args.text_values)
    kind = "text" if args.text_values else "digit"
    print(f"{n:,} keys key:NNNNNNN -> {args.value_size}-byte {kind} values, e.g. {value(7)!r}")
    print(f"{'measurement':<34}{'used/key':>12}{'real/key':>12}{'used/real':>10}{'error':>10}")
    results = {}
    for label, traced in (("in-process, RSS", False), ("in-process, tracemalloc", True)):
        used, real = in_process(n, value, traced)
        results[label] = (used, real)
        print(row(label, n, used, real))
    if args.skip_network or not shutil.which("redis-server"):
        return 0
    with flowcache_and_redis("flowcache-mem-bench-") as (flowcache, fc_port, redis, redis_port):
        fc_used, fc_rss = over_network("flowcache", flowcache, fc_port, n, value)
        rd_used, rd_rss = over_network("redis", redis, redis_port, n, value)
    print(row("flowcache serve, VmRSS", n, fc_used, fc_rss))
    print(row("redis-server 7.0, VmRSS", n, rd_used, rd_rss))
    print()
    print(f"flowcache / redis: RSS growth {fc_rss / rd_rss:.2f}x, "
          f"used_memory growth {fc_used / rd_used:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
