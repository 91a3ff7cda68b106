"""Eviction policies of flowcache against redis-server under a zipf workload, in one run.

Both servers start on free loopback ports (persistence off) and get the same
`maxmemory`. For each policy the same seeded workload runs against each: a
read-through cache over `--keys` keys drawn from a zipf distribution
(`--alpha`): GET the key, and on a miss SET it (with a TTL under the
volatile policies, so they have something to evict). Commands go out in
pipelined batches of `--batch`. The first `--warmup` share of operations
fills the cache and is not counted.

Printed per policy and server: hit rate, keys held at the end, evictions,
and throughput (commands per second, GETs and SETs together); then the
flowcache/redis ratios. flowcache needs more memory per key than Redis, so
at the same maxmemory it holds fewer keys; `--same-capacity` also runs
flowcache with maxmemory scaled to hold as many keys as Redis does, which
compares the eviction algorithms alone.

Usage: python bench/eviction_bench.py [--maxmemory 4mb] [--keys 200000] [--ops 300000]
       [--alpha 0.99] [--policies allkeys-lru,...] [--same-capacity]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import shutil
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support import flowcache_and_redis  # noqa: E402

POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
            "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")
UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3,
         "gb": 1024**3}


def parse_memory(text: str) -> int:
    digits = text.rstrip("bkmgBKMG")
    return int(digits) * UNITS[text[len(digits):].lower()]


class Connection:
    """Pipelined RESP over one socket; replies parsed just enough for GET/SET/INFO."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    @staticmethod
    def encode(*args: bytes | str | int) -> bytes:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

    def pipeline(self, commands: list[bytes]) -> list:
        self.sock.sendall(b"".join(commands))
        return [self._reply() for _ in commands]

    def call(self, *args) -> object:
        return self.pipeline([self.encode(*args)])[0]

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self.buf = self.buf[self.pos:] + self.sock.recv(1 << 20)
            self.pos = 0

    def _reply(self) -> object:
        line = self._line()
        kind = line[:1]
        if kind in (b"+", b"-"):
            return line
        if kind == b":":
            return int(line[1:])
        if kind == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self.buf = self.buf[self.pos:] + self.sock.recv(1 << 20)
                self.pos = 0
            data = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return data
        if kind == b"*":
            return [self._reply() for _ in range(int(line[1:]))]
        raise ValueError(f"unexpected reply {line!r}")

    def info(self, section: str) -> dict[str, str]:
        text = self.call("INFO", section)
        return dict(line.split(":", 1) for line in text.decode().split("\r\n") if ":" in line)


def zipf_sampler(n: int, alpha: float, rng: random.Random):
    """Ranks 0..n-1 with P(rank r) proportional to 1/(r+1)^alpha, shuffled over key names."""
    weights = [1.0 / (r + 1) ** alpha for r in range(n)]
    cdf = list(itertools.accumulate(weights))
    total = cdf[-1]
    names = list(range(n))
    rng.shuffle(names)
    return lambda: names[bisect.bisect_left(cdf, rng.random() * total)]


def run_policy(conn: Connection, policy: str, maxmemory: int, args) -> dict[str, float]:
    conn.call("FLUSHALL")
    conn.call("CONFIG", "SET", "maxmemory", 0)
    conn.call("CONFIG", "RESETSTAT")
    conn.call("CONFIG", "SET", "maxmemory-policy", policy, "maxmemory", maxmemory)
    rng = random.Random(args.seed)
    draw = zipf_sampler(args.keys, args.alpha, rng)
    value = b"v" * args.value_size
    volatile = policy.startswith("volatile")
    warmup = int(args.ops * args.warmup)
    hits = gets = commands = ooms = 0
    elapsed = 0.0
    done = 0
    while done < args.ops:
        batch = [draw() for _ in range(min(args.batch, args.ops - done))]
        keys = [b"key:%d" % k for k in batch]
        started = time.perf_counter()
        replies = conn.pipeline([conn.encode(b"GET", k) for k in keys])
        misses = [k for k, r in zip(keys, replies) if r is None]
        sets = [conn.encode(b"SET", k, value, b"EX", 3600 + rng.randrange(3600)) if volatile
                else conn.encode(b"SET", k, value) for k in misses]
        set_replies = conn.pipeline(sets) if sets else []
        took = time.perf_counter() - started
        if done >= warmup:
            elapsed += took
            gets += len(keys)
            hits += len(keys) - len(misses)
            commands += len(keys) + len(sets)
            ooms += sum(1 for r in set_replies if isinstance(r, bytes) and r.startswith(b"-OOM"))
        done += len(batch)
    stats = conn.info("stats")
    keyspace = conn.info("keyspace").get("db0", "keys=0")
    return {"hit_rate": hits / gets, "ops": commands / elapsed,
            "keys": int(keyspace.split(",")[0].split("=")[1]),
            "evicted": int(stats["evicted_keys"]), "ooms": ooms,
            "used": int(conn.info("memory")["used_memory"])}


def bytes_per_key(conn: Connection, value_size: int, n: int = 20000) -> float:
    """used_memory per key of this workload's shape, on an unlimited server."""
    conn.call("FLUSHALL")
    conn.call("CONFIG", "SET", "maxmemory", 0)
    before = int(conn.info("memory")["used_memory"])
    value = b"v" * value_size
    for start in range(0, n, 1000):
        conn.pipeline([conn.encode(b"SET", b"key:%d" % k, value)
                       for k in range(start, start + 1000)])
    per_key = (int(conn.info("memory")["used_memory"]) - before) / n
    conn.call("FLUSHALL")
    return per_key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maxmemory", default="4mb")
    parser.add_argument("--keys", type=int, default=200_000, help="distinct keys in the workload")
    parser.add_argument("--ops", type=int, default=300_000, help="GETs per policy and server")
    parser.add_argument("--alpha", type=float, default=0.99, help="zipf exponent")
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--batch", type=int, default=64, help="commands per pipeline")
    parser.add_argument("--warmup", type=float, default=0.3, help="share of ops not counted")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--same-capacity", action="store_true",
                        help="also run flowcache with maxmemory scaled to Redis's key capacity")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        print("needs redis-server (apt-get install redis-server)", file=sys.stderr)
        return 2
    maxmemory = parse_memory(args.maxmemory)
    with flowcache_and_redis("flowcache-evict-bench-") as (_fc, fc_port, _rd, redis_port):
        fc, rd = Connection(fc_port), Connection(redis_port)
        fc_per_key = bytes_per_key(fc, args.value_size)
        rd_per_key = bytes_per_key(rd, args.value_size)
        startup = int(rd.info("memory")["used_memory_startup"])
        scaled = startup + int((maxmemory - startup) * fc_per_key / rd_per_key)
        print(f"zipf alpha={args.alpha} keys={args.keys:,} ops={args.ops:,} (warmup "
              f"{args.warmup:.0%}) value={args.value_size}B batch={args.batch} "
              f"maxmemory={maxmemory:,}")
        print(f"used_memory per key: flowcache {fc_per_key:.0f} B, redis {rd_per_key:.0f} B")
        runs = [("flowcache", fc, maxmemory), ("redis", rd, maxmemory)]
        if args.same_capacity:
            runs.insert(1, ("flowcache*", fc, scaled))
            print(f"flowcache* = flowcache at maxmemory {scaled:,} (Redis's key capacity)")
        header = (f"{'policy':<16}{'server':<12}{'hit rate':>9}{'keys':>9}{'evicted':>10}"
                  f"{'OOM':>8}{'cmds/s':>10}")
        print(header)
        print("-" * len(header))
        summary = []
        for policy in args.policies.split(","):
            results = {}
            for name, conn, limit in runs:
                results[name] = r = run_policy(conn, policy, limit, args)
                print(f"{policy:<16}{name:<12}{r['hit_rate']:>9.3f}{r['keys']:>9,}"
                      f"{r['evicted']:>10,}{r['ooms']:>8,}{r['ops']:>10,.0f}")
            summary.append((policy, results))
        print()
        print(f"{'policy':<16}{'hit-rate ratio':>15}{'throughput ratio':>18}"
              + (f"{'hit ratio (same capacity)':>27}" if args.same_capacity else ""))
        for policy, results in summary:
            redis, ours = results["redis"], results["flowcache"]
            line = (f"{policy:<16}{ratio(ours['hit_rate'], redis['hit_rate']):>15}"
                    f"{ratio(ours['ops'], redis['ops']):>18}")
            if args.same_capacity:
                line += f"{ratio(results['flowcache*']['hit_rate'], redis['hit_rate']):>27}"
            print(line)
    return 0


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "-"


if __name__ == "__main__":
    raise SystemExit(main())
