"""The keyspace: one `Database` per SELECT index, with lazy and active expiry.

Layout, chosen for memory (a million small keys must stay near 2x Redis):

    data      dict key -> Entry(key, value, lru); the only per-key object
    expires   dict key -> absolute Unix ms, only for keys with a TTL
    slots     append-only list of Entry, for random sampling and SCAN
    volatile  append-only list of keys that got a TTL, for active expiry

`slots` and `volatile` are cleaned lazily. A removed Entry has its `key`
cleared, so a slot is live iff `entry.key is not None`; an Entry is never
reused for another key. When dead slots outnumber live ones the list is
compacted in order, and the compaction is recorded (epoch, entries removed)
so a SCAN cursor from before it can step back far enough to miss nothing.
`volatile` may hold stale or repeated keys (a key that lost and regained a
TTL); it is rebuilt from `expires` when the stale part grows too large.

Keys and string values are bytes; a string grown in place (APPEND,
SETRANGE) is a bytearray, which is what Redis reports as the `raw`
encoding. Other data types register themselves with `register_type`.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from cache.glob import compile_pattern
from cache.resp import string2ll

STRING_TYPES = (bytes, bytearray)
SCAN_EPOCH_BITS = 20
_SCAN_EPOCH_MASK = (1 << SCAN_EPOCH_BITS) - 1
_EPOCH_HISTORY = 1024  # compactions remembered for mapping old SCAN cursors
_MIN_COMPACT = 64  # below this many dead slots, never compact
EMBSTR_LIMIT = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT
SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS
SHARED_REFCOUNT = 2147483647  # OBJ_SHARED_REFCOUNT


class Entry:
    """One key: its name, its value and its last-access clock (seconds)."""

    __slots__ = ("key", "value", "lru")

    def __init__(self, key: bytes, value: Any, lru: int) -> None:
        self.key = key
        self.value = value
        self.lru = lru


# -- value types ---------------------------------------------------------------


def string_encoding(value: bytes | bytearray) -> bytes:
    """OBJECT ENCODING of a string: int, embstr or raw, as tryObjectEncoding decides."""
    if type(value) is bytearray:
        return b"raw"
    if len(value) <= 20 and string2ll(value) is not None:
        return b"int"
    return b"embstr" if len(value) <= EMBSTR_LIMIT else b"raw"


_TYPE_NAMES: dict[type, bytes] = {bytes: b"string", bytearray: b"string"}
_ENCODINGS: dict[type, Callable[[Any], bytes]] = {bytes: string_encoding, bytearray: string_encoding}
_COPIERS: dict[type, Callable[[Any], Any]] = {bytes: lambda v: v, bytearray: bytearray}


def register_type(pytype: type, name: bytes, encoding: Callable[[Any], bytes],
                  copy: Callable[[Any], Any]) -> None:
    """Declare a value class: its TYPE name, its OBJECT ENCODING and how COPY duplicates it."""
    _TYPE_NAMES[pytype] = name
    _ENCODINGS[pytype] = encoding
    _COPIERS[pytype] = copy


def type_name(value: Any) -> bytes:
    """The TYPE reply for a stored value (`none` for a missing key)."""
    if value is None:
        return b"none"
    return _TYPE_NAMES[type(value)]


def object_encoding(value: Any) -> bytes:
    return _ENCODINGS[type(value)](value)


def copy_value(value: Any) -> Any:
    """A value COPY can store under a second key without sharing mutable state."""
    return _COPIERS[type(value)](value)


def config_value(server: Any, name: str, default: Any) -> Any:
    """A setting from `server.config`, or `default` when there is no config (unit tests)."""
    config = server.config
    if config is None:
        return default
    try:
        return config[name]
    except (KeyError, TypeError):
        return default


# -- the database ----------------------------------------------------------------


class Database:
    """One numbered keyspace. Every mutation path calls `on_key_modified`.

    Reads: `lookup_read` (read commands: stats and access time), `lookup_notouch`
    (stats only), `lookup_write` (access time only), `live_entry` (neither),
    `entry_for_write` (an Entry to update in place, then `on_key_modified`).
    Writes: `add`, `set_key`, `delete`, `set_expire`, `persist`, `flush`.
    Every lookup expires the key first if its TTL has passed.
    """

    __slots__ = (
        "server", "index", "data", "expires", "slots", "dead", "volatile", "volatile_stale",
        "epoch", "removed_total", "epoch_removed", "avg_ttl",
    )

    def __init__(self, server: Any, index: int) -> None:
        self.server = server
        self.index = index
        self._clear()

    def _clear(self) -> None:
        self.data: dict[bytes, Entry] = {}
        self.expires: dict[bytes, int] = {}
        self.slots: list[Entry] = []
        self.dead = 0
        self.volatile: list[bytes] = []
        self.volatile_stale = 0
        self.epoch = 0
        self.removed_total = 0
        self.epoch_removed: dict[int, int] = {0: 0}
        self.avg_ttl = 0

    def __len__(self) -> int:
        """Keys stored, counting expired keys not yet removed (as DBSIZE does)."""
        return len(self.data)

    @property
    def expires_count(self) -> int:
        return len(self.expires)

    # -- notification point ---------------------------------------------------
    def on_key_modified(self, key: bytes) -> None:
        """Called after every write, delete and expiry of `key` (WATCH, blocking ops)."""

    def on_flushed(self) -> None:
        """Called after the whole database changed at once (FLUSHDB, SWAPDB)."""

    # -- lookups --------------------------------------------------------------
    def live_entry(self, key: bytes) -> Entry | None:
        """The key's Entry after lazy expiry; no stats, no access-time update."""
        entry = self.data.get(key)
        if entry is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.server.now_ms:
                self._expire(key, entry)
                return None
        return entry

    def lookup_read(self, key: bytes) -> Any:
        """The value for a read command: lazy expiry, hit/miss stats, access time."""
        entry = self.data.get(key)
        server = self.server
        if entry is None:
            server.stats.keyspace_misses += 1
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < server.now_ms:
                self._expire(key, entry)
                server.stats.keyspace_misses += 1
                return None
        entry.lru = server.lru_clock
        server.stats.keyspace_hits += 1
        return entry.value

    def lookup_notouch(self, key: bytes) -> Any:
        """Like `lookup_read` but leaves the access time (EXISTS, TYPE, TTL, OBJECT)."""
        entry = self.live_entry(key)
        if entry is None:
            self.server.stats.keyspace_misses += 1
            return None
        self.server.stats.keyspace_hits += 1
        return entry.value

    def lookup_write(self, key: bytes) -> Any:
        """The value for a write command: lazy expiry and access time, no stats."""
        entry = self.live_entry(key)
        if entry is None:
            return None
        entry.lru = self.server.lru_clock
        return entry.value

    def entry_for_write(self, key: bytes) -> Entry | None:
        """The live Entry for in-place updates; the caller calls `on_key_modified`."""
        entry = self.live_entry(key)
        if entry is not None:
            entry.lru = self.server.lru_clock
        return entry

    # -- writes ---------------------------------------------------------------
    def add(self, key: bytes, value: Any, lru: int | None = None) -> Entry:
        """Store a new key (the caller made sure no live key has this name)."""
        old = self.data.get(key)
        if old is not None:
            self._remove(key, old)
        entry = Entry(key, value, self.server.lru_clock if lru is None else lru)
        self.data[key] = entry
        self.slots.append(entry)
        self.on_key_modified(key)
        return entry

    def set_key(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Redis's setKey: create or overwrite, dropping any TTL unless `keep_ttl`."""
        entry = self.live_entry(key)
        if entry is None:
            entry = Entry(key, value, self.server.lru_clock)
            self.data[key] = entry
            self.slots.append(entry)
        else:
            entry.value = value
            entry.lru = self.server.lru_clock
            if not keep_ttl and self.expires and self.expires.pop(key, None) is not None:
                self.volatile_stale += 1
        self.on_key_modified(key)

    def delete(self, key: bytes) -> bool:
        """Remove a live key; an expired one is expired instead and counts as absent."""
        entry = self.live_entry(key)
        if entry is None:
            return False
        self._remove(key, entry)
        self.on_key_modified(key)
        return True

    def _remove(self, key: bytes, entry: Entry) -> None:
        del self.data[key]
        entry.key = None
        entry.value = None
        self.dead += 1
        if self.expires and self.expires.pop(key, None) is not None:
            self.volatile_stale += 1
        if self.dead > _MIN_COMPACT and self.dead * 2 > len(self.slots):
            self._compact()

    def _expire(self, key: bytes, entry: Entry) -> None:
        self._remove(key, entry)
        self.server.stats.expired_keys += 1
        self.on_key_modified(key)

    # -- expiry ---------------------------------------------------------------
    def get_expire(self, key: bytes) -> int | None:
        """Absolute expiry in Unix ms, or None for a key without TTL (no expiry check)."""
        return self.expires.get(key) if self.expires else None

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Give an existing key a TTL (absolute Unix ms)."""
        expires = self.expires
        if key not in expires:
            self.volatile.append(key)
            self._maybe_rebuild_volatile()
        expires[key] = when_ms
        self.on_key_modified(key)

    def persist(self, key: bytes) -> bool:
        """Drop the key's TTL; False when it had none."""
        if self.expires.pop(key, None) is None:
            return False
        self.volatile_stale += 1
        self._maybe_rebuild_volatile()
        self.on_key_modified(key)
        return True

    def expire_if_needed(self, key: bytes) -> bool:
        """Remove the key if it is past its TTL; True only if this call removed it."""
        if self.is_expired(key):
            self._expire(key, self.data[key])
            return True
        return False

    def is_expired(self, key: bytes) -> bool:
        """Past its TTL but not yet removed (what KEYS filters out)."""
        when = self.expires.get(key) if self.expires else None
        return when is not None and when < self.server.now_ms

    def _maybe_rebuild_volatile(self) -> None:
        stale = self.volatile_stale
        if stale > _MIN_COMPACT and stale * 2 > len(self.volatile):
            self.volatile = list(self.expires)
            self.volatile_stale = 0

    def sample_volatile(self) -> bytes | None:
        """A random key from `volatile`, or None when the drawn slot is stale."""
        volatile = self.volatile
        key = volatile[self.server.random.randint(0, len(volatile) - 1)]
        return key if key in self.expires else None

    # -- whole database -------------------------------------------------------
    def random_key(self) -> bytes | None:
        """A random live key (RANDOMKEY); expired keys met on the way are removed."""
        random = self.server.random
        while self.data:
            slots = self.slots
            entry = slots[random.randint(0, len(slots) - 1)]
            key = entry.key
            if key is None:
                continue
            if self.is_expired(key):
                self._expire(key, entry)
                continue
            return key
        return None

    def keys(self, pattern: bytes) -> list[bytes]:
        """KEYS: matching keys in slot order, expired ones skipped but not removed."""
        match_all = pattern == b"*"
        match = None if match_all else compile_pattern(pattern).match
        now = self.server.now_ms
        expires = self.expires
        out = []
        for entry in self.slots:
            key = entry.key
            if key is None or (match is not None and not match(key)):
                continue
            if expires:
                when = expires.get(key)
                if when is not None and when < now:
                    continue
            out.append(key)
        return out

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step: up to `count` live keys from `cursor`, and the next cursor.

        Filtering (MATCH, TYPE) and lazy expiry are the caller's job, after
        this returns, so no compaction happens while the slots are walked.
        """
        slots = self.slots
        pos = self._cursor_position(cursor)
        end = len(slots)
        budget = count * 10
        out: list[bytes] = []
        while pos < end and budget > 0:
            key = slots[pos].key
            pos += 1
            budget -= 1
            if key is not None:
                out.append(key)
                if len(out) >= count:
                    break
        if pos >= end:
            return 0, out
        return ((pos + 1) << SCAN_EPOCH_BITS) | (self.epoch & _SCAN_EPOCH_MASK), out

    def _cursor_position(self, cursor: int) -> int:
        if cursor == 0:
            return 0
        pos = (cursor >> SCAN_EPOCH_BITS) - 1
        cursor_epoch = cursor & _SCAN_EPOCH_MASK
        epoch = self.epoch - ((self.epoch - cursor_epoch) & _SCAN_EPOCH_MASK)
        if epoch == self.epoch:
            return max(pos, 0)
        removed_then = self.epoch_removed.get(epoch)
        if removed_then is None:  # older than the history we keep: start over
            return 0
        return max(pos - (self.removed_total - removed_then), 0)

    def _compact(self) -> None:
        slots = self.slots
        live = [entry for entry in slots if entry.key is not None]
        self._record_compaction(len(slots) - len(live))
        self.slots = live
        self.dead = 0

    def _record_compaction(self, removed: int) -> None:
        self.epoch += 1
        self.removed_total += removed
        self.epoch_removed[self.epoch] = self.removed_total
        self.epoch_removed.pop(self.epoch - _EPOCH_HISTORY, None)

    def flush(self) -> int:
        """Remove every key (FLUSHDB); returns how many there were."""
        count = len(self.data)
        removed = len(self.slots)
        history = (self.epoch, self.removed_total, self.epoch_removed)
        self._clear()
        self.epoch, self.removed_total, self.epoch_removed = history
        self._record_compaction(removed)
        self.on_flushed()
        return count

    def swap_contents(self, other: "Database") -> None:
        """SWAPDB: exchange keys, TTLs and bookkeeping; index and server stay."""
        for name in Database.__slots__:
            if name not in ("server", "index"):
                mine, theirs = getattr(self, name), getattr(other, name)
                setattr(self, name, theirs)
                setattr(other, name, mine)
        self.on_flushed()
        other.on_flushed()


# -- active expiry ---------------------------------------------------------------

KEYS_PER_LOOP = 20  # ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
ACCEPTABLE_STALE = 10  # ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE (percent)
DBS_PER_CALL = 16  # CRON_DBS_PER_CALL


class ExpireCycle:
    """Redis 7.0's slow active-expire cycle, with the state Redis keeps in statics.

    Per database: sample up to 20 keys with a TTL, remove the expired ones,
    and go again while more than 10% of a sample was expired. The caller
    owns time: `deadline_reached()` is asked every 16 sampling loops (as
    Redis checks its clock), and `max_loops` caps the loops of one call.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.current_db = 0
        self.timelimit_exit = False

    def run(self, deadline_reached: Callable[[], bool] | None = None,
            max_loops: int | None = None) -> tuple[int, int]:
        """One cycle; returns (keys sampled, keys expired)."""
        server = self.server
        stats = server.stats
        effort = config_value(server, "active-expire-effort", 1) - 1
        keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP // 4 * effort
        acceptable_stale = ACCEPTABLE_STALE - effort
        dbs = server.dbs
        dbs_per_call = min(DBS_PER_CALL, len(dbs))
        if self.timelimit_exit:
            dbs_per_call = len(dbs)
        self.timelimit_exit = False
        server.refresh_clock()
        total_sampled = total_expired = 0
        loops = 0
        for _ in range(dbs_per_call):
            if self.timelimit_exit:
                break
            db = dbs[self.current_db % len(dbs)]
            self.current_db += 1
            while True:
                loops += 1
                sampled, expired = self._sample(db, keys_per_loop)
                if sampled < 0:
                    break
                total_sampled += sampled
                total_expired += expired
                if (max_loops is not None and loops >= max_loops) or (
                    deadline_reached is not None and loops % 16 == 0 and deadline_reached()
                ):
                    self.timelimit_exit = True
                    stats.expired_time_cap_reached_count += 1
                    break
                if sampled and expired * 100 // sampled <= acceptable_stale:
                    break
        perc = total_expired / total_sampled if total_sampled else 0.0
        stats.expired_stale_perc = perc * 0.05 + stats.expired_stale_perc * 0.95
        return total_sampled, total_expired

    def _sample(self, db: Database, keys_per_loop: int) -> tuple[int, int]:
        """One sampling loop on `db`; sampled is -1 when the db has no TTLs left."""
        expires = db.expires
        if not expires:
            db.avg_ttl = 0
            return -1, 0
        if len(db.volatile) > 100 * len(expires):
            db.volatile = list(expires)
            db.volatile_stale = 0
        want = min(len(expires), keys_per_loop)
        now = self.server.now_ms
        sampled = expired = ttl_sum = ttl_samples = 0
        draws = want * 20
        while sampled < want and draws > 0 and expires:
            draws -= 1
            key = db.sample_volatile()
            if key is None:
                continue
            sampled += 1
            when = expires[key]
            if when < now:
                db._expire(key, db.data[key])
                expired += 1
            elif when > now:
                ttl_sum += when - now
                ttl_samples += 1
        if sampled == 0:  # every draw was stale: rebuild so the next loop finds keys
            db.volatile = list(expires)
            db.volatile_stale = 0
        if ttl_samples:
            avg = ttl_sum // ttl_samples
            if db.avg_ttl == 0:
                db.avg_ttl = avg
            db.avg_ttl = (db.avg_ttl // 50) * 49 + avg // 50
        return sampled, expired


SLOW_TIME_PERC = 25  # ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: share of each cron tick
LOOP_COST_US = 30  # measured cost of one 20-key sampling loop, to turn time into loops

_cycles: "weakref.WeakKeyDictionary[Any, ExpireCycle]" = weakref.WeakKeyDictionary()


def active_expire_cycle(server: Any, hz: int,
                        deadline_reached: Callable[[], bool] | None = None) -> tuple[int, int]:
    """One slow expire cycle from the server's cron, `hz` times a second.

    Redis gives the cycle 25% of a cron tick. Keyspace code cannot read a
    clock, so without `deadline_reached` the tick's time is converted into
    a number of sampling loops (LOOP_COST_US each).
    """
    cycle = _cycles.get(server)
    if cycle is None:
        cycle = _cycles[server] = ExpireCycle(server)
    effort = config_value(server, "active-expire-effort", 1) - 1
    budget_us = (SLOW_TIME_PERC + 2 * effort) * 1_000_000 // max(hz, 1) // 100
    max_loops = None if deadline_reached is not None else max(budget_us // LOOP_COST_US, 16)
    return cycle.run(deadline_reached, max_loops)
