"""maxmemory and eviction: limits hold, OOM as Redis, and LRU/LFU pick what Redis picks.

The statistical tests run one scenario on flowcache and on a private
redis-server with the same shape (same key counts, a limit that holds the
same share of the keys on each) and compare which keys survive.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from cache import errors, eviction, keyspace
from cache.eviction import EVPOOL_SIZE, STARTUP_MEMORY
from cache.reply import Error
from support import redis_server_for_tests
from tests.cache.harness import Harness, RedisOracle, parse_reply

EVICTING = [p for p in eviction.POLICIES if p != "noeviction"]
VALUE = "v" * 100


def used(h: Harness) -> int:
    return eviction.used_memory(h.server)


def limited(policy: str, maxmemory: str = "2mb", seed: int = 1) -> Harness:
    h = Harness(seed=seed)
    assert h.run("CONFIG", "SET", "maxmemory-policy", policy, "maxmemory", maxmemory) == b"OK"
    return h


# -- the fast path and the limit -------------------------------------------------------


def test_no_limit_never_evicts():
    h = Harness()
    h.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    for i in range(3000):
        h.run("SET", f"k{i}", VALUE)
    assert eviction.free_memory_if_needed(h.server)
    assert h.server.stats.evicted_keys == 0 and h.run("DBSIZE") == 3000


@pytest.mark.parametrize("policy", EVICTING)
def test_sustained_writes_stay_under_maxmemory(policy):
    """Before every command used_memory is back under the limit; keys without TTL
    survive the volatile policies."""
    h = limited(policy)
    limit = 2 * 1024 * 1024
    for i in range(20):
        h.run("SET", f"persistent:{i}", VALUE)
    worst = 0
    for i in range(8000):
        reply = h.run("SET", f"key:{i}", VALUE, "EX", 100_000 + i)
        assert reply == b"OK", reply
        if i % 3 == 0:
            h.run("GET", f"key:{i // 2}")
        assert eviction.free_memory_if_needed(h.server)
        worst = max(worst, used(h))
    assert worst <= limit
    assert h.server.stats.evicted_keys > 4000  # ~3000 keys with a TTL fit in 2mb
    assert h.run("DBSIZE") == 8020 - h.server.stats.evicted_keys
    if policy.startswith("volatile"):
        assert all(h.run("EXISTS", f"persistent:{i}") == 1 for i in range(20))


def test_eviction_is_reported_like_a_deletion():
    h = limited("allkeys-random", "1mb")
    seen = []
    h.run("SET", "watched", VALUE)

    def record(db, event, key):
        if event == "evicted":  # the hook also reports "new" keys and misses
            seen.append((db.index, event, key))

    keyspace.KEY_EVENT_HOOKS.append(record)
    try:
        for i in range(3000):
            h.run("SET", f"key:{i}", VALUE)
    finally:
        keyspace.KEY_EVENT_HOOKS.remove(record)
    evicted = h.server.stats.evicted_keys
    assert evicted and len(seen) == evicted
    assert all(h.run("EXISTS", key) == 0 for _, _, key in seen)
    h.run("DEL", "watched")  # under the limit again: INFO itself evicts nothing
    text = h.run("INFO", "stats").decode()
    assert f"evicted_keys:{h.server.stats.evicted_keys}\r\n" in text


# -- OOM ---------------------------------------------------------------------------------


def test_noeviction_refuses_denyoom_commands_with_redis_error(redis_private):
    h = limited("noeviction", "1mb")
    i = 0
    while h.run("SET", f"key:{i}", VALUE) == b"OK":
        i += 1
    oom = h.run_raw("SET", "one-more", VALUE)
    redis = RedisOracle(redis_private)
    try:
        redis.call("CONFIG", "SET", "maxmemory", "1", "maxmemory-policy", "noeviction")
        assert oom == redis.raw("SET", "one-more", VALUE)
        assert oom == b"-" + errors.OOM + b"\r\n"
    finally:
        redis.call("CONFIG", "SET", "maxmemory", "0")
        redis.close()
    assert h.run("GET", "key:0") == VALUE.encode()  # reads still work
    assert h.run("DEL", "key:0", "key:1") == 2  # and deletes: DEL is not denyoom
    assert h.server.stats.evicted_keys == 0


def test_volatile_policy_without_volatile_keys_is_out_of_memory():
    h = limited("volatile-lru", "1mb")
    replies = [h.run("SET", f"key:{i}", VALUE) for i in range(3000)]
    assert replies[-1] == Error(errors.OOM)
    assert h.server.stats.evicted_keys == 0
    h.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    assert h.run("SET", "now", VALUE) == b"OK"
    assert h.server.stats.evicted_keys > 0


# -- CONFIG SET ------------------------------------------------------------------------


def test_lowering_maxmemory_evicts_at_once():
    h = Harness()
    h.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    for i in range(5000):
        h.run("SET", f"key:{i}", VALUE)
    half = (used(h) + STARTUP_MEMORY) // 2
    assert h.run("CONFIG", "SET", "maxmemory", str(half)) == b"OK"
    assert used(h) <= half
    assert 1500 < h.server.stats.evicted_keys < 3500
    assert h.server.config["maxmemory"] == half


def test_lowering_maxmemory_under_noeviction_keeps_keys_and_refuses_writes():
    h = Harness()
    for i in range(2000):
        h.run("SET", f"key:{i}", VALUE)
    assert h.run("CONFIG", "SET", "maxmemory", "1mb") == b"OK"
    assert h.run("DBSIZE") == 2000
    assert h.run("SET", "x", "y") == Error(errors.OOM)


def test_maxmemory_takes_units_and_info_reports_it(redis_private):
    h = Harness()
    redis = RedisOracle(redis_private)
    try:
        for value in ("100mb", "1gb", "3000k", "0"):
            h.run("CONFIG", "SET", "maxmemory", value, "maxmemory-policy", "allkeys-lfu")
            redis.call("CONFIG", "SET", "maxmemory", value, "maxmemory-policy", "allkeys-lfu")
            ours = _info_fields(h.run("INFO", "memory"))
            theirs = _info_fields(redis.call("INFO", "memory"))
            for name in ("maxmemory", "maxmemory_human", "maxmemory_policy"):
                assert ours[name] == theirs[name], name
    finally:
        redis.call("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")
        redis.close()


def _info_fields(text: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.decode().split("\r\n") if ":" in line)


# -- the pool and the counters ----------------------------------------------------------


def test_pool_keeps_the_best_candidates_in_order():
    h = limited("allkeys-lru", "100mb")
    for i in range(200):
        h.run("SET", f"key:{i}", "v")
        h.advance(1000)
    mem = h.server.memory
    for db in h.server.dbs:
        if db.data:
            for _ in range(10):
                eviction._populate(db, mem, mem.pool, h.server)
    scores = [entry[0] for entry in mem.pool]
    assert len(scores) == EVPOOL_SIZE and scores == sorted(scores)
    assert scores[-1] > 150  # the oldest keys were seen and kept


def test_lfu_counter_matches_redis_for_the_deterministic_steps(redis_private):
    """New keys start at 5; the first increment is certain (p = 1)."""
    h = limited("allkeys-lfu", "0")
    redis = RedisOracle(redis_private)
    try:
        redis.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        redis.call("DEL", "f")
        for server_run in (h.run, redis.call):
            server_run("SET", "f", "v")
        assert h.run("OBJECT", "FREQ", "f") == redis.call("OBJECT", "FREQ", "f") == 5
        h.run("GET", "f")
        redis.call("GET", "f")
        assert h.run("OBJECT", "FREQ", "f") == redis.call("OBJECT", "FREQ", "f") == 6
        assert h.run_raw("OBJECT", "IDLETIME", "f") == redis.raw("OBJECT", "IDLETIME", "f")
    finally:
        redis.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        redis.close()


def test_lfu_counter_grows_logarithmically_and_decays_per_minute():
    """2000 hits take the counter to 21..32 on redis-server 7.0 (log factor 10):
    from 5, the step from c to c+1 takes ~10 (c - 5) hits on average."""
    h = limited("allkeys-lfu", "0")
    counters = []
    for k in range(8):
        h.run("SET", f"hot{k}", "v")
        for _ in range(2000):
            h.run("GET", f"hot{k}")
        counters.append(h.run("OBJECT", "FREQ", f"hot{k}"))
    assert 22 <= sum(counters) / len(counters) <= 30, counters
    freq = counters[0]
    h.advance(3 * 60_000)
    assert h.run("OBJECT", "FREQ", "hot0") == freq - 3
    h.run("CONFIG", "SET", "lfu-decay-time", "0")  # no decay: the stored counter, as Redis
    h.advance(10 * 60_000)
    assert h.run("OBJECT", "FREQ", "hot0") == freq


def test_idletime_follows_the_clock_and_refuses_under_lfu():
    h = Harness()
    h.run("SET", "k", "v")
    h.advance(5000)
    assert h.run("OBJECT", "IDLETIME", "k") == 5
    h.run("GET", "k")
    assert h.run("OBJECT", "IDLETIME", "k") == 0
    assert h.run("OBJECT", "FREQ", "k") == Error(errors.LFU_NOT_SELECTED)
    h.run("CONFIG", "SET", "maxmemory-policy", "volatile-lfu")
    assert h.run("OBJECT", "IDLETIME", "k") == Error(errors.LFU_SELECTED)


# -- determinism ---------------------------------------------------------------------------

_REPLAY = """
import hashlib, sys
sys.path.insert(0, {root!r})
from tests.cache.harness import Harness
for policy in ("allkeys-lru", "volatile-lfu", "volatile-ttl", "allkeys-random"):
    h = Harness(seed=7)
    h.run("CONFIG", "SET", "maxmemory-policy", policy, "maxmemory", "1mb")
    for i in range(3000):
        h.run("SET", "key:%d" % i, "v" * (i % 200), "EX", 1000 + i % 97)
        if i % 3 == 0:
            h.run("GET", "key:%d" % (i // 3))
        if i % 500 == 0:
            h.advance(1500)
    keys = sorted(h.run("KEYS", "*"))
    print(policy, hashlib.sha256(b",".join(keys)).hexdigest(), h.server.stats.evicted_keys)
"""


def test_eviction_replays_exactly_from_a_seed_in_another_process():
    """Same seed, different hash seeds (set and dict-of-str orders): the same evictions."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = _REPLAY.format(root=root)
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONHASHSEED=hash_seed))
            for hash_seed in ("1", "2")]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert len(lines) == 4 and all(int(line.split()[2]) > 1000 for line in lines)


def test_different_seeds_evict_differently():
    digests = set()
    for seed in (1, 2):
        h = limited("allkeys-random", "1mb", seed=seed)
        for i in range(3000):
            h.run("SET", f"key:{i}", VALUE)
        digests.add(hashlib.sha256(b",".join(sorted(h.run("KEYS", "*")))).hexdigest())
    assert len(digests) == 2


# -- flowcache against redis-server ------------------------------------------------------


@pytest.fixture(scope="module")
def redis_private():
    """A redis-server of our own: these tests change maxmemory and its policy."""
    with redis_server_for_tests(prefix="flowcache-evict-") as port:
        yield port


class _Redis:
    """The scenario's view of redis-server: pipelined commands, RESTORE for idle time."""

    def __init__(self, port: int) -> None:
        self.oracle = RedisOracle(port)
        self.oracle.call("FLUSHALL")
        self.oracle.call("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")
        self.oracle.call("SET", "template", BIG_VALUE)
        self.payload = self.oracle.call("DUMP", "template")
        self.oracle.call("DEL", "template")

    def many(self, commands: list[tuple]) -> list:
        """Pipelined in small batches: Redis counts its query buffer in used_memory."""
        oracle = self.oracle
        out = []
        for start in range(0, len(commands), 16):
            chunk = commands[start:start + 16]
            oracle.sock.sendall(b"".join(oracle.encode_command(c) for c in chunk))
            out.extend(parse_reply(oracle.read_raw()) for _ in chunk)
        return out

    def used(self) -> int:
        return int(_info_fields(self.oracle.call("INFO", "memory"))["used_memory"])

    def fill_cold(self, keys: list[str], ttls: list[int | None], idle: bool) -> None:
        """Keys last touched 100 s ago (IDLETIME is ignored under LFU, as `idle` False)."""
        self.many([("RESTORE", k, (t or 0) * 1000, self.payload, "IDLETIME", 100)
                   for k, t in zip(keys, ttls)])

    def settle(self) -> None:
        """Let eviction finish: every command first evicts down to the limit."""
        for _ in range(3):
            self.oracle.call("PING")

    def close(self) -> None:
        self.oracle.call("FLUSHALL")
        self.oracle.call("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")
        self.oracle.close()


class _Flowcache:
    def __init__(self) -> None:
        self.h = Harness(seed=11)

    def many(self, commands: list[tuple]) -> list:
        return [self.h.run(*c) for c in commands]

    def used(self) -> int:
        return used(self.h)

    def fill_cold(self, keys: list[str], ttls: list[int | None], idle: bool) -> None:
        self.many([("SET", k, BIG_VALUE) + (("EX", t) if t else ()) for k, t in zip(keys, ttls)])
        if idle:
            self.h.advance(100_000)

    def settle(self) -> None:
        self.h.run("PING")

    def close(self) -> None:
        pass


N = 2000
# Big enough that Redis's client buffers, which its used_memory counts, are noise.
BIG_VALUE = "v" * 1000


def _survival(server, policy: str) -> tuple[float, float, float]:
    """Fill N keys, make a fifth hot, then write 0.4 N more against a limit that holds
    0.7 N: (hot, cold, new) survival fractions."""
    keys = [f"k:{i}" for i in range(N)]
    hot = [k for i, k in enumerate(keys) if i % 5 == 0]
    cold = [k for i, k in enumerate(keys) if i % 5]
    volatile = policy.startswith("volatile")
    if policy == "volatile-ttl":  # "hot" = the keys that expire last
        ttls = [100_000 + (i * 7919) % N for i in range(N)]
        hot = [k for k, t in zip(keys, ttls) if t >= 100_000 + N * 4 // 5]
        cold = [k for k, t in zip(keys, ttls) if t < 100_000 + N * 4 // 5]
    else:
        ttls = [100_000 if volatile else None] * N
    server.many([("CONFIG", "SET", "maxmemory-policy", policy)])
    before = server.used()
    server.fill_cold(keys, ttls, idle=not policy.endswith("lfu"))
    per_key = (server.used() - before) / N
    if policy.endswith("lfu"):
        server.many([("GET", k) for k in hot for _ in range(20)])
    else:
        server.many([("GET", k) for k in hot])
    limit = int(server.used() - 0.3 * N * per_key)
    server.many([("CONFIG", "SET", "maxmemory", str(limit))])
    new = [f"n:{i}" for i in range(int(0.4 * N))]
    server.many([("SET", k, BIG_VALUE) + (("EX", 200_000) if volatile else ()) for k in new])
    server.settle()

    def alive(names):
        return sum(server.many([("EXISTS", k) for k in names])) / len(names)

    return alive(hot), alive(cold), alive(new)


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "volatile-lru",
                                    "volatile-lfu", "volatile-ttl", "allkeys-random"])
def test_survivors_match_redis(redis_private, policy):
    redis = _Redis(redis_private)
    try:
        theirs = _survival(redis, policy)
    finally:
        redis.close()
    ours = _survival(_Flowcache(), policy)
    for name, a, b in zip(("hot", "cold", "new"), ours, theirs):
        assert abs(a - b) <= 0.1, (policy, name, ours, theirs)
    if policy != "allkeys-random":
        assert ours[0] > 0.9 and ours[0] > ours[1] + 0.3, ours  # the hot set was protected


def test_time_over_the_limit_is_reported():
    h = limited("noeviction", "1mb")
    i = 0
    while h.run("SET", f"key:{i}", VALUE) == b"OK":
        i += 1
    h.advance(5000)
    stats = _info_fields(h.run("INFO", "stats"))
    assert int(stats["current_eviction_exceeded_time"]) == 5000
    h.run("FLUSHALL")
    h.run("PING")  # like Redis, the next command's eviction check stops the clock
    h.advance(1000)
    stats = _info_fields(h.run("INFO", "stats"))
    assert stats["current_eviction_exceeded_time"] == "0"
    assert stats["total_eviction_exceeded_time"] == "5000"
