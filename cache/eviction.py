"""maxmemory: used-memory accounting per server, LFU counters and eviction (Redis's evict.c).

`free_memory_if_needed(state)` is called by the dispatcher before a command
when `maxmemory` is set. True: the command may run (memory is under the
limit, or was brought under it, or eviction is still under way). False:
over the limit and nothing can be evicted (`noeviction`, or a `volatile-*`
policy with no key with a TTL), so `denyoom` commands get the OOM error.

Eviction is Redis 7.0's approximation: each round samples `maxmemory-samples`
keys from every database into one 16-entry pool ordered by idle time (LRU),
inverted frequency (LFU) or nearness of expiry (volatile-ttl), and evicts
the best entry still present. LFU is the 8-bit logarithmic counter with
decay, packed like Redis's 24-bit `lru` field: 16 bits of minutes, 8 of
counter. Every draw comes from the loop's random (`state.random`).

One call evicts at most a key budget derived from `maxmemory-eviction-tenacity`
(Redis's time limit, turned into keys because cache code reads no clock);
past it the call returns True and the next call (next command, or the cron)
carries on, as Redis's eviction time proc does.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from typing import Any

import flow

STARTUP_MEMORY = 875_976  # Redis 7.0's used_memory_startup: the empty-server baseline
EVPOOL_SIZE = 16
LFU_INIT_VAL = 5
LRU_CLOCK_MAX = (1 << 24) - 1
EVICTION_COST_US = 10  # roughly what one eviction costs here: turns tenacity's time into keys
POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")

EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2


class MemoryState:
    """One server's used memory, its eviction settings (cached from the config) and pool."""

    __slots__ = (
        "used", "peak", "maxmemory", "policy", "allkeys", "kind", "lfu", "samples",
        "key_budget", "log_factor", "decay_time", "pool", "next_db", "lfu_minute",
        "lfu_values", "server", "exceeded_since", "exceeded_total", "__weakref__",
    )

    def __init__(self, server: Any) -> None:
        self.server = weakref.ref(server)
        self.used = 0  # sum of the per-key estimates of every database (cache.memory)
        self.peak = 0  # highest `used` seen (kept by the keyspace as it grows)
        self.pool: list[list[Any]] = []  # [score, key, db index], ascending score
        self.next_db = 0
        self.exceeded_since = -1  # now_ms when used memory went over the limit for good
        self.exceeded_total = 0  # ms spent over the limit (INFO total_eviction_exceeded_time)
        self.lfu_minute = -1
        self.lfu_values: list[int] = []
        self.maxmemory = 0
        self.samples = 5
        self.log_factor = 10
        self.decay_time = 1
        self.key_budget = _key_budget(10)
        self._set_policy("noeviction")
        if getattr(server, "config", None) is not None:
            self._follow(server.config)

    def _follow(self, config: Any) -> None:
        """Cache the settings and keep them current across CONFIG SET."""
        self.maxmemory = config["maxmemory"]
        self.samples = config["maxmemory-samples"]
        self.log_factor = config["lfu-log-factor"]
        self.decay_time = config["lfu-decay-time"]
        self.key_budget = _key_budget(config["maxmemory-eviction-tenacity"])
        self._set_policy(config["maxmemory-policy"])
        ref = weakref.ref(self)

        def setter(apply: Any) -> Any:
            def on_change(value: Any) -> None:
                mem = ref()
                if mem is not None:
                    apply(mem, value)
            return on_change

        config.on_change("maxmemory-policy", setter(MemoryState._set_policy))
        config.on_change("maxmemory-samples", setter(lambda m, v: setattr(m, "samples", v)))
        config.on_change("lfu-log-factor", setter(lambda m, v: setattr(m, "log_factor", v)))
        config.on_change("lfu-decay-time", setter(lambda m, v: setattr(m, "decay_time", v)))
        config.on_change("maxmemory-eviction-tenacity",
                         setter(lambda m, v: setattr(m, "key_budget", _key_budget(v))))
        config.on_change("maxmemory", setter(MemoryState._set_maxmemory))

    def _set_maxmemory(self, maxmemory: int) -> None:
        """CONFIG SET maxmemory: a lower limit evicts down to it at once."""
        self.maxmemory = maxmemory
        server = self.server()
        if maxmemory and server is not None and STARTUP_MEMORY + self.used > maxmemory:
            evict_to_limit(server)

    def _set_policy(self, policy: str) -> None:
        self.policy = policy
        self.allkeys = policy.startswith("allkeys")
        self.kind = policy.rsplit("-", 1)[-1]  # lru lfu random ttl noeviction
        self.lfu = self.kind == "lfu"
        self.pool = []

    # -- LFU (evict.c) --------------------------------------------------------
    def lfu_value(self, minutes: int, counter: int) -> int:
        """(minutes << 8) | counter, one shared int per value in the current minute."""
        if minutes != self.lfu_minute:
            self.lfu_minute = minutes
            self.lfu_values = [(minutes << 8) | c for c in range(256)]
        return self.lfu_values[counter]

    def lfu_new(self, now_ms: int) -> int:
        return self.lfu_value((now_ms // 60000) & 65535, LFU_INIT_VAL)

    def lfu_touch(self, lru: int, now_ms: int, random: Any) -> int:
        """updateLFU: decay by the minutes elapsed, then a logarithmic increment."""
        minutes = (now_ms // 60000) & 65535
        counter = lfu_decr_and_return(lru, minutes, self.decay_time)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if base <= 0 or random.random() < 1.0 / (base * self.log_factor + 1):
                counter += 1
        return self.lfu_value(minutes, counter)


def _key_budget(tenacity: int) -> int:
    """evictionTimeLimitUs, as a number of keys (a multiple of 16, at least 16)."""
    if tenacity >= 100:
        return 1 << 62
    limit_us = 50 * tenacity if tenacity <= 10 else 500.0 * 1.15 ** (tenacity - 10)
    return max(16, int(limit_us // EVICTION_COST_US + 15) // 16 * 16)


def lfu_decr_and_return(lru: int, now_minutes: int, decay_time: int) -> int:
    """LFUDecrAndReturn: the counter after one step of decay per `decay_time` minutes."""
    counter = lru & 255
    if decay_time:
        ldt = (lru >> 8) & 65535
        elapsed = now_minutes - ldt if now_minutes >= ldt else 65535 - ldt + now_minutes
        periods = elapsed // decay_time
        if periods:
            counter = 0 if periods > counter else counter - periods
    return counter


def idle_seconds(lru_clock: int, lru: int) -> int:
    """estimateObjectIdleTime in seconds, on Redis's 24-bit wrapping clock."""
    clock = lru_clock & LRU_CLOCK_MAX
    lru &= LRU_CLOCK_MAX
    return clock - lru if clock >= lru else clock + (LRU_CLOCK_MAX - lru)


def lfu_frequency(state: Any, lru: int) -> int:
    """OBJECT FREQ: the counter as decayed now (the stored value is not updated)."""
    mem = state.dbs[0].mem
    return lfu_decr_and_return(lru, (state.now_ms // 60000) & 65535, mem.decay_time)


_STATES: "weakref.WeakKeyDictionary[Any, MemoryState]" = weakref.WeakKeyDictionary()


def memory_state(server: Any) -> MemoryState:
    """The server's MemoryState, shared by its databases (created with the first)."""
    mem = _STATES.get(server)
    if mem is None:
        mem = _STATES[server] = MemoryState(server)
    return mem


# -- used memory -----------------------------------------------------------------


def used_memory(state: Any) -> int:
    """INFO used_memory: the empty-server baseline plus every key's estimate."""
    return STARTUP_MEMORY + state.dbs[0].mem.used


def peak_memory(state: Any) -> int:
    mem = state.dbs[0].mem
    return STARTUP_MEMORY + max(mem.peak, mem.used)


# -- eviction --------------------------------------------------------------------


def free_memory_if_needed(state: Any) -> bool:
    """Evict per `maxmemory-policy` until under `maxmemory`; False when that is impossible."""
    mem = state.dbs[0].mem
    limit = mem.maxmemory
    if not limit or STARTUP_MEMORY + mem.used <= limit:
        if mem.exceeded_since >= 0:
            _exceeded_until(mem, state.now_ms)
        return True
    # BUGGIFY: a budget of one key, so memory stays over the limit across commands and crons.
    result = perform_evictions(state, 1 if flow.buggify() else mem.key_budget)
    if result == EVICT_OK:
        if mem.exceeded_since >= 0:
            _exceeded_until(mem, state.now_ms)
    elif mem.exceeded_since < 0:
        mem.exceeded_since = state.now_ms
    return result != EVICT_FAIL


def _exceeded_until(mem: MemoryState, now_ms: int) -> None:
    mem.exceeded_total += now_ms - mem.exceeded_since
    mem.exceeded_since = -1


def exceeded_times(state: Any) -> tuple[int, int]:
    """INFO total_ and current_eviction_exceeded_time, in ms."""
    mem = state.dbs[0].mem
    current = state.now_ms - mem.exceeded_since if mem.exceeded_since >= 0 else 0
    return mem.exceeded_total + current, current


def perform_evictions(state: Any, budget: int) -> int:
    """performEvictions: EVICT_OK, EVICT_RUNNING (budget spent) or EVICT_FAIL."""
    mem = state.dbs[0].mem
    if mem.kind == "noeviction":
        return EVICT_FAIL
    pick = _pick_random if mem.kind == "random" else _pick_from_pool
    freed = 0
    while STARTUP_MEMORY + mem.used > mem.maxmemory:
        found = pick(state, mem)
        if found is None:
            return EVICT_FAIL
        db, key = found
        db.evict(key)
        freed += 1
        if freed % 16 == 0 and freed >= budget:
            return EVICT_OK if STARTUP_MEMORY + mem.used <= mem.maxmemory else EVICT_RUNNING
    return EVICT_OK


def evict_to_limit(state: Any) -> bool:
    """Evict until under maxmemory with no budget (CONFIG SET maxmemory); False if stuck."""
    return perform_evictions(state, 1 << 62) == EVICT_OK


def _pick_random(state: Any, mem: MemoryState) -> tuple[Any, bytes] | None:
    """allkeys-random / volatile-random: one key from the next database that has some."""
    dbs = state.dbs
    random = state.random
    for _ in range(len(dbs)):
        mem.next_db += 1
        db = dbs[mem.next_db % len(dbs)]
        if mem.allkeys:
            if db.data:
                return db, _random_live_key(db, random)
        elif db.expires:
            return db, _random_volatile_key(db)
    return None


def _random_live_key(db: Any, random: Any) -> bytes:
    slots = db.slots
    data = db.data
    while True:
        key = slots[random.randbelow(len(slots))]
        if key in data:
            return key


def _random_volatile_key(db: Any) -> bytes:
    for _ in range(64):
        key = db.sample_volatile()
        if key is not None:
            return key
    db.rebuild_volatile()  # mostly stale: rebuild and draw again
    return _random_volatile_key(db)


def _pick_from_pool(state: Any, mem: MemoryState) -> tuple[Any, bytes] | None:
    """The LRU/LFU/TTL pick: populate the pool from every database, take the best."""
    pool = mem.pool
    dbs = state.dbs
    allkeys = mem.allkeys
    while True:
        found = False
        for db in dbs:
            if db.data if allkeys else db.expires:
                _populate(db, mem, pool, state)
                found = True
        if not found:
            return None
        while pool:
            _, key, index = pool.pop()
            db = dbs[index]
            if key in (db.data if allkeys else db.expires):
                return db, key
            # a ghost: deleted since it was sampled, try the next best


_DRAW_BITS = 40  # bits per random index: modulo bias below n / 2**40


def sample_keys(db: Any, count: int, allkeys: bool, random: Any) -> list[bytes]:
    """Up to `count` keys drawn from db.slots (live) or db.volatile (with a TTL).

    2*count draws fed by one `getrandbits` call; like dictGetSomeKeys, fewer
    keys may come back when many drawn slots are dead or stale.
    """
    items, live = (db.slots, db.data) if allkeys else (db.volatile, db.expires)
    n = len(items)
    draws = 2 * count
    bits = random.getrandbits(_DRAW_BITS * draws)
    mask = (1 << _DRAW_BITS) - 1
    keys: list[bytes] = []
    for _ in range(draws):
        key = items[(bits & mask) % n]
        bits >>= _DRAW_BITS
        if key in live:
            keys.append(key)
            if len(keys) == count:
                break
    return keys


def _populate(db: Any, mem: MemoryState, pool: list[list[Any]], state: Any) -> None:
    """evictionPoolPopulate: score `maxmemory-samples` keys of `db` and merge them in."""
    data = db.data
    keys = sample_keys(db, mem.samples, mem.allkeys, state.random)
    if not keys and not mem.allkeys:  # every draw was stale: rebuild for the next round
        db.rebuild_volatile()
    kind = mem.kind
    if kind == "lru":
        clock = state.lru_clock
        scores = [idle_seconds(clock, data[key].lru) for key in keys]
    elif kind == "lfu":
        minutes = (state.now_ms // 60000) & 65535
        decay = mem.decay_time
        scores = [255 - lfu_decr_and_return(data[key].lru, minutes, decay) for key in keys]
    else:  # volatile-ttl: the sooner the expiry, the better the candidate
        expires = db.expires
        scores = [-expires[key] for key in keys]
    index = db.index
    for key, score in zip(keys, scores):
        k = bisect_left(pool, [score])  # first candidate scoring >= score
        if len(pool) < EVPOOL_SIZE:
            pool.insert(k, [score, key, index])
        elif k > 0:  # full: drop the worst candidate, keep the order
            del pool[0]
            pool.insert(k - 1, [score, key, index])
