"""The keyspace: one `Database` per SELECT index, with lazy and active expiry.

Layout, chosen for memory (a small string key costs ~195 B: Entry 48, key
and value objects 48 each, its dict and list shares):

    data      dict key -> Entry(value, lru); the only per-key object
    expires   dict key -> absolute Unix ms, only for keys with a TTL
    slots     append-only list of keys, one slot per key, for random sampling and SCAN
    gone      dict key -> None: keys removed since the last compaction (their slot is dead)
    sized     dict key -> memory estimate, only for values other than bytes
    volatile  append-only list of keys that got a TTL, for active expiry

`slots` and `volatile` are cleaned lazily. A slot is live iff its key is in
`data`. A removed key's slot stays, dead, until the list is compacted; a
key added again before that takes its old slot back (`gone`), so no key
ever has two slots and draws stay uniform. When dead slots outnumber live
ones the list is compacted in order, and the compaction is recorded
(epoch, slots removed) so a SCAN cursor from before it can step back far
enough to miss nothing.
`volatile` may hold stale or repeated keys (a key that lost and regained a
TTL); it is rebuilt from `expires` when the stale part grows too large.

`lru` is the access clock in seconds (shared int objects), or under an LFU
policy Redis's packed minutes/counter (cache.eviction). A key's memory
estimate (cache.memory) is summed server-wide into `mem.used`
(cache.eviction.MemoryState); for a bytes value it follows from the key's
and value's lengths, so it is stored only for other values (`sized`).

Keys and string values are bytes; a string grown in place (APPEND,
SETRANGE) is a bytearray, which is what Redis reports as the `raw`
encoding. Other data types register themselves with `register_type`.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import flow
from cache.eviction import memory_state
from cache.glob import compile_pattern
from cache.memory import (
    BYTES_HEADER,
    PER_EXPIRE,
    PER_KEY,
    Sized,
    alloc,
    key_size,
    string_size,
    value_estimate,
)
from cache.resp import string2ll

STRING_TYPES = (bytes, bytearray)
SCAN_EPOCH_BITS = 20
_SCAN_EPOCH_MASK = (1 << SCAN_EPOCH_BITS) - 1
_EPOCH_HISTORY = 1024  # compactions remembered for mapping old SCAN cursors
_MIN_COMPACT = 64  # below this many dead slots, never compact
EMBSTR_LIMIT = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT
SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS
SHARED_REFCOUNT = 2147483647  # OBJ_SHARED_REFCOUNT


_SMALL = 479  # keys and strings this long or shorter fit pymalloc's size classes
# memory.alloc(BYTES_HEADER + n) for n <= _SMALL: a bytes object of length n
_BYTES_ALLOC = [(BYTES_HEADER + n + 15) & -16 for n in range(_SMALL + 1)]
# memory.bytes_size: the same, but values of length 0 and 1 are shared singletons
_VALUE_ALLOC = [0, 0] + _BYTES_ALLOC[2:]


def _string_total(key: bytes, value: bytes | bytearray) -> int:
    """memory.key_size + string_size (runs on every new or removed string)."""
    n = len(value)
    k = len(key)
    if n <= _SMALL and k <= _SMALL and value.__class__ is bytes:
        return PER_KEY + _BYTES_ALLOC[k] + _VALUE_ALLOC[n]
    return key_size(key) + string_size(value)


def _bytes_value_size(n: int) -> int:
    """memory.bytes_size of a bytes value of length n."""
    return _VALUE_ALLOC[n] if n <= _SMALL else alloc(BYTES_HEADER + n)


class Entry:
    """One key's value and access clock; the name is its key in `data`.

    Two slots make 48 bytes with the GC header, the smallest a tracked
    object gets in pymalloc's 16-byte classes (one slot would cost as much).
    """

    __slots__ = ("value", "lru")

    def __init__(self, value: Any, lru: int) -> None:
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


# -- hooks -----------------------------------------------------------------------

# Installed by the modules that react to writes. Called after the change, with
# the Database (its `.server` and `.index` identify the instance). Append at
# import time; never replace the lists.
#
# WATCH_HOOKS run for a write only while some module has told the keyspace,
# with `set_watching`, that it watches keys on that server (a client in WATCH
# or blocked on a key): with nobody watching, a write pays one truth test.
# KEY_MODIFIED_HOOKS run on every write, delete and expiry, watched or not;
# they cost every write a call, so prefer WATCH_HOOKS.
WATCH_HOOKS: list[Callable[["Database", bytes], None]] = []
KEY_MODIFIED_HOOKS: list[Callable[["Database", bytes], None]] = []
FLUSHED_HOOKS: list[Callable[["Database"], None]] = []  # FLUSHDB/FLUSHALL/SWAPDB
# (db, event, key): "expired" and "evicted" for removals nobody asked for, "new" for a
# key created (add, set_key, set_many), "keymiss" for a miss counted by a read lookup.
KEY_EVENT_HOOKS: list[Callable[["Database", str, bytes], None]] = []

_WATCHING: "weakref.WeakKeyDictionary[Any, dict[str, None]]" = weakref.WeakKeyDictionary()


def watching_owners(server: Any) -> dict[str, None]:
    """The names of the modules watching keys on `server`, shared by its databases."""
    owners = _WATCHING.get(server)
    if owners is None:
        owners = _WATCHING[server] = {}
    return owners


def set_watching(server: Any, owner: str, active: bool) -> None:
    """`owner` starts (True) or stops (False) watching keys on `server`.

    Say True before relying on a WATCH_HOOKS call (when the first key is
    registered) and False once nothing is registered. Saying True too often
    is harmless; a missing True loses wakeups.
    """
    owners = watching_owners(server)
    if active:
        owners[owner] = None
    else:
        owners.pop(owner, None)


# -- the database ----------------------------------------------------------------


class Database:
    """One numbered keyspace. Every mutation path calls `on_key_modified`.

    Reads: `lookup_read` (read commands: stats and access time), `lookup_notouch`
    (stats only), `lookup_write` (access time only), `live_entry` (neither),
    `entry_for_write` (an Entry to update in place, then `on_key_modified`, or
    give it a new value with `replace_value`).
    Writes: `add`, `set_key`, `set_many`, `delete`, `set_expire`, `persist`, `flush`.
    Every lookup expires the key first if its TTL has passed.

    SET, GET, INCR and MSET on an existing string key run short paths that
    keep the same bookkeeping as the general ones (`_set_general`,
    `on_key_modified`); tests/cache/test_memory.py checks the memory total
    against a recount.
    """

    __slots__ = (
        "server", "index", "mem", "watching", "data", "expires", "slots", "gone", "dead", "sized",
        "volatile", "volatile_stale", "epoch", "removed_total", "epoch_removed", "avg_ttl",
    )

    def __init__(self, server: Any, index: int) -> None:
        self.server = server
        self.index = index
        self.mem = memory_state(server)  # shared by the server's databases
        self.watching = watching_owners(server)  # shared too: empty while nobody watches
        self._clear()

    def _clear(self) -> None:
        self.data: dict[bytes, Entry] = {}
        self.expires: dict[bytes, int] = {}
        self.slots: list[bytes] = []
        self.gone: dict[bytes, None] = {}
        self.dead = 0  # slots of removed keys (len(slots) - len(data))
        self.sized: dict[bytes, Any] = {}  # an int, or a memory.Sized memo for collections
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
        """Called after every write, delete and expiry of `key`: memory, WATCH, blocking ops."""
        entry = self.data.get(key)
        if entry is not None and entry.value.__class__ is not bytes:  # bytes never change
            self._account_in_place(key, entry.value)
        if self.watching or KEY_MODIFIED_HOOKS:
            self._notify(key)

    def _notify(self, key: bytes) -> None:
        """The hooks of `on_key_modified`, for paths that did the accounting themselves."""
        if self.watching:
            for hook in WATCH_HOOKS:
                hook(self, key)
        for hook in KEY_MODIFIED_HOOKS:
            hook(self, key)

    def on_flushed(self) -> None:
        """Called after the whole database changed at once (FLUSHDB, SWAPDB)."""
        for hook in FLUSHED_HOOKS:
            hook(self)

    # -- memory and access clock ----------------------------------------------
    def _grow(self, delta: int) -> None:
        if delta:
            mem = self.mem
            used = mem.used = mem.used + delta
            if used > mem.peak:
                mem.peak = used

    def _estimate(self, key: bytes, value: Any) -> int:
        """The key's estimate with `value`, recorded in `sized` unless value is bytes."""
        cls = value.__class__
        if cls is bytes:
            return _string_total(key, value)
        if cls is bytearray:
            size = self.sized[key] = key_size(key) + string_size(value)
            return size
        memo = self.sized.get(key)
        if memo.__class__ is not Sized:
            memo = self.sized[key] = Sized()
        return value_estimate(key, value, memo)

    def _forget(self, key: bytes, value: Any) -> int:
        """What the key adds to `mem.used` now, its `sized` record dropped (before a
        new value or removal)."""
        if value.__class__ is bytes:
            return _string_total(key, value)
        record = self.sized.pop(key, 0)
        return record if record.__class__ is int else record.total

    def _account_in_place(self, key: bytes, value: Any) -> None:
        """Bring the estimate of a value other than bytes up to date after a write."""
        record = self.sized.get(key)
        if record.__class__ is Sized:  # a collection: the memo re-samples when due
            old = record.total
            self._grow(value_estimate(key, value, record) - old)
            return
        self._grow(self._estimate(key, value) - (record or 0))

    def _resized(self, old_len: int, new_len: int) -> None:
        """A bytes value replaced by bytes of another length: the estimate follows."""
        self._grow(_bytes_value_size(new_len) - _bytes_value_size(old_len))

    def _missed(self, key: bytes) -> None:
        """A read lookup found nothing: counted (INFO keyspace_misses) and reported."""
        self.server.stats.keyspace_misses += 1
        for hook in KEY_EVENT_HOOKS:
            hook(self, "keymiss", key)

    def memory_used(self) -> int:
        """This database's share of `mem.used`, summed (O(n): FLUSHDB, MEMORY STATS)."""
        sized = self.sized
        total = len(self.expires) * PER_EXPIRE
        total += sum(size if size.__class__ is int else size.total for size in sized.values())
        return total + sum(_string_total(key, entry.value) for key, entry in self.data.items()
                           if key not in sized)

    def _new_lru(self) -> int:
        """The access clock of a new key: now, or LFU's initial counter."""
        mem = self.mem
        if mem.lfu:
            return mem.lfu_new(self.server.now_ms)
        return self.server.lru_clock

    def _touch(self, entry: Entry) -> None:
        """Record an access: the LRU clock, or an LFU decay-and-increment."""
        mem = self.mem
        server = self.server
        if mem.lfu:
            entry.lru = mem.lfu_touch(entry.lru, server.now_ms, server.random)
        else:
            entry.lru = server.lru_clock

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
            self._missed(key)
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < server.now_ms:
                self._expire(key, entry)
                self._missed(key)
                return None
        mem = self.mem
        if mem.lfu:
            entry.lru = mem.lfu_touch(entry.lru, server.now_ms, server.random)
        else:
            entry.lru = server.lru_clock
        server.stats.keyspace_hits += 1
        return entry.value

    def lookup_notouch(self, key: bytes) -> Any:
        """Like `lookup_read` but leaves the access time (EXISTS, TYPE, TTL, OBJECT)."""
        entry = self.live_entry(key)
        if entry is None:
            self._missed(key)
            return None
        self.server.stats.keyspace_hits += 1
        return entry.value

    def lookup_write(self, key: bytes) -> Any:
        """The value for a write command: lazy expiry and access time, no stats."""
        entry = self.entry_for_write(key)
        return None if entry is None else entry.value

    def entry_for_write(self, key: bytes) -> Entry | None:
        """The live Entry for in-place updates; the caller calls `on_key_modified`."""
        entry = self.data.get(key)
        if entry is None:
            return None
        server = self.server
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < server.now_ms:
                self._expire(key, entry)
                return None
        mem = self.mem
        if mem.lfu:
            entry.lru = mem.lfu_touch(entry.lru, server.now_ms, server.random)
        else:
            entry.lru = server.lru_clock
        return entry

    def editable_string(self, key: bytes, entry: Entry) -> bytearray:
        """A string key's value as a bytearray to change in place (APPEND, SETRANGE),
        converted and accounted if it was bytes; the caller calls `on_key_modified`."""
        value = entry.value
        if value.__class__ is bytes:
            before = self._forget(key, value)
            value = entry.value = bytearray(value)
            self._grow(self._estimate(key, value) - before)
        return value

    # -- writes ---------------------------------------------------------------
    def add(self, key: bytes, value: Any, lru: int | None = None) -> Entry:
        """Store a new key (the caller made sure no live key has this name)."""
        old = self.data.get(key)
        if old is not None:
            self._remove(key, old)
        return self._insert(key, value, self._new_lru() if lru is None else lru)

    def _insert(self, key: bytes, value: Any, lru: int) -> Entry:
        """A new Entry for a key that has none: stored, accounted, notified."""
        entry = Entry(value, lru)
        self.data[key] = entry
        gone = self.gone
        if gone and key in gone:  # its dead slot is live again
            del gone[key]
            self.dead -= 1
        else:
            self.slots.append(key)
        self._grow(self._estimate(key, value))
        if self.watching or KEY_MODIFIED_HOOKS:
            self._notify(key)
        for hook in KEY_EVENT_HOOKS:  # dbAdd's `new`, before the command's own event
            hook(self, "new", key)
        return entry

    def set_key(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Redis's setKey: create or overwrite, dropping any TTL unless `keep_ttl`."""
        entry = self.data.get(key)
        if entry is None or self.mem.lfu or (self.expires and key in self.expires):
            self._set_general(key, value, keep_ttl, entry)
            return
        old = entry.value
        if old.__class__ is not bytes or value.__class__ is not bytes:
            self._set_general(key, value, keep_ttl, entry)
            return
        # The common overwrite: string by string, no TTL, LRU clock.
        entry.value = value
        entry.lru = self.server.lru_clock
        if len(old) != len(value):
            self._resized(len(old), len(value))
        if self.watching or KEY_MODIFIED_HOOKS:
            self._notify(key)

    def _set_general(self, key: bytes, value: Any, keep_ttl: bool, entry: Entry | None) -> None:
        """set_key for every case: a new key, a TTL, LFU, other value types."""
        if entry is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.server.now_ms:
                self._expire(key, entry)
                entry = None
        if entry is None:
            self._insert(key, value, self._new_lru())
            return
        old = self._forget(key, entry.value)
        entry.value = value
        if self.mem.lfu:  # LFU keeps the counter across an overwrite, as dbOverwrite
            self._touch(entry)
        else:
            entry.lru = self.server.lru_clock
        if not keep_ttl and self.expires and self.expires.pop(key, None) is not None:
            self._ttl_dropped()
        self._grow(self._estimate(key, value) - old)
        self._notify(key)

    def set_many(self, items: list[bytes], start: int = 1) -> None:
        """MSET: `set_key` for items[start], items[start + 1], ... as key, value pairs
        (all bytes, as the wire gives them)."""
        if self.mem.lfu or self.watching or KEY_MODIFIED_HOOKS:  # set_key's per-key work
            set_key = self.set_key
            for i in range(start, len(items), 2):
                set_key(items[i], items[i + 1])
            return
        data = self.data
        expires = self.expires
        clock = self.server.lru_clock
        for key, value in zip(items[start::2], items[start + 1::2]):
            entry = data.get(key)
            if entry is None or (expires and key in expires):
                self._set_general(key, value, False, entry)
                continue
            old = entry.value
            if old.__class__ is not bytes:
                self._set_general(key, value, False, entry)
                continue
            # set_key's common overwrite
            entry.value = value
            entry.lru = clock
            if len(old) != len(value):
                self._resized(len(old), len(value))

    def replace_value(self, key: bytes, entry: Entry, value: Any) -> None:
        """Give a live Entry (from `entry_for_write`) a new value, then notify (INCR, APPEND)."""
        old = entry.value
        if old.__class__ is bytes and value.__class__ is bytes:
            entry.value = value
            if len(old) != len(value):
                self._resized(len(old), len(value))
            if self.watching or KEY_MODIFIED_HOOKS:
                self._notify(key)
        else:
            before = self._forget(key, old)
            entry.value = value
            self._grow(self._estimate(key, value) - before)
            self._notify(key)

    def delete(self, key: bytes) -> bool:
        """Remove a live key; an expired one is expired instead and counts as absent."""
        entry = self.live_entry(key)
        if entry is None:
            return False
        self._remove(key, entry)
        self._notify(key)
        return True

    def evict(self, key: bytes) -> None:
        """Remove a live or expired key to free memory: counted, notified, as Redis evicts."""
        self._remove(key, self.data[key])
        self.server.stats.evicted_keys += 1
        self._notify(key)
        for hook in KEY_EVENT_HOOKS:
            hook(self, "evicted", key)

    def _remove(self, key: bytes, entry: Entry) -> None:
        del self.data[key]
        self.mem.used -= self._forget(key, entry.value)
        self.gone[key] = None
        self.dead += 1
        if self.expires and self.expires.pop(key, None) is not None:
            self._ttl_dropped()
        if self.dead > _MIN_COMPACT and self.dead * 2 > len(self.slots):
            self._compact()

    def _ttl_dropped(self) -> None:
        self.volatile_stale += 1
        self.mem.used -= PER_EXPIRE
        self._maybe_rebuild_volatile()

    def _expire(self, key: bytes, entry: Entry) -> None:
        self._remove(key, entry)
        self.server.stats.expired_keys += 1
        for hook in KEY_EVENT_HOOKS:
            hook(self, "expired", key)
        self._notify(key)

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
            self.mem.used += PER_EXPIRE
        expires[key] = when_ms
        self.on_key_modified(key)

    def persist(self, key: bytes) -> bool:
        """Drop the key's TTL; False when it had none."""
        if self.expires.pop(key, None) is None:
            return False
        self._ttl_dropped()
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
            self.rebuild_volatile()

    def rebuild_volatile(self) -> None:
        """`volatile` from `expires` again: one entry per key with a TTL, nothing stale."""
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
        data = self.data
        while data:
            slots = self.slots
            key = slots[random.randint(0, len(slots) - 1)]
            entry = data.get(key)
            if entry is None:
                continue
            if self.is_expired(key):
                self._expire(key, entry)
                continue
            return key
        return None

    def keys(self, pattern: bytes) -> list[bytes]:
        """KEYS: matching keys in `data`'s order, expired ones skipped but not removed."""
        match_all = pattern == b"*"
        match = None if match_all else compile_pattern(pattern).match
        now = self.server.now_ms
        expires = self.expires
        out = []
        for key in self.data:
            if match is not None and not match(key):
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
        data = self.data
        out: list[bytes] = []
        while pos < end and budget > 0:
            key = slots[pos]
            pos += 1
            budget -= 1
            if key in data:
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
        data = self.data
        live = [key for key in self.slots if key in data]  # order kept: SCAN cursors step back
        self._record_compaction(len(self.slots) - len(live))
        self.slots = live
        self.gone.clear()
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
        if any(db.data for db in self.server.dbs if db is not self):
            self.mem.used -= self.memory_used()
        else:  # the only database with keys: all of `mem.used` is its share, no recount
            self.mem.used = 0
        self._clear()
        self.epoch, self.removed_total, self.epoch_removed = history
        self._record_compaction(removed)
        self.on_flushed()
        return count

    def swap_contents(self, other: "Database") -> None:
        """SWAPDB: exchange keys, TTLs and bookkeeping; index and server stay."""
        for name in Database.__slots__:
            if name not in ("server", "index", "mem", "watching"):
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
        effort = server.config.get("active-expire-effort", 1) - 1
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
            db.rebuild_volatile()
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
            db.rebuild_volatile()
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
    effort = server.config.get("active-expire-effort", 1) - 1
    budget_us = (SLOW_TIME_PERC + 2 * effort) * 1_000_000 // max(hz, 1) // 100
    max_loops = None if deadline_reached is not None else max(budget_us // LOOP_COST_US, 16)
    if flow.buggify():  # a starved cycle: expired keys linger and lazy expiry must hide them
        max_loops = 1
    return cycle.run(deadline_reached, max_loops)
