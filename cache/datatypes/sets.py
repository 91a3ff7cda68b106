"""The set value, in Redis 7.0's two encodings, with a deterministic order.

    intset     a sorted `array('q')`: 8 bytes a member, while every member is a
               canonical 64-bit integer (string2ll) and there are at most
               `set-max-intset-entries` of them. Sorted exactly like Redis's
               intset, so SMEMBERS/SSCAN/SPOP-all of small integer sets come
               out byte-identical to Redis. Insert and delete are O(n) memmoves,
               as they are in Redis.
    hashtable  `index` (dict member -> position) plus `members` (list).
               Removal moves the last member into the hole (swap-remove), so
               add, remove, contains and a uniform random pick are all O(1).

A Python `set` would iterate in hash-randomised order, which differs between
processes; here the order is a pure function of the operations, so a seed
replays. Like Redis, a set never goes back to intset by itself; only a
rebuild (Redis's SPOP-with-count third case) can (`reencode_if_fits`).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from typing import Any, Iterator

from cache.keyspace import register_type
from cache.memory import GC_HEADER, alloc, bytes_size, register_sizer
from cache.resp import string2ll

INTSET_HARD_LIMIT = 1 << 30  # setTypeAdd caps set-max-intset-entries here


class SetValue:
    """A Redis set; never stored empty (the key is deleted instead).

    Exactly one representation is live: `ints` (intset) or `index` plus
    `members` (hashtable); the unused fields are None.
    """

    __slots__ = ("ints", "index", "members")

    def __init__(self, intset: bool = True) -> None:
        self.ints: array | None = array("q") if intset else None
        self.index: dict[bytes, int] | None = None if intset else {}
        self.members: list[bytes] | None = None if intset else []

    @classmethod
    def for_member(cls, member: bytes) -> "SetValue":
        """setTypeCreate: an intset if the first member is an integer, else a hashtable."""
        return cls(intset=string2ll(member) is not None)

    @property
    def encoding(self) -> bytes:
        return b"intset" if self.ints is not None else b"hashtable"

    def __len__(self) -> int:
        return len(self.ints) if self.ints is not None else len(self.members)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[bytes]:
        if self.ints is not None:
            return (b"%d" % n for n in self.ints)
        return iter(self.members)

    def __contains__(self, member: bytes) -> bool:
        ints = self.ints
        if ints is None:
            return member in self.index
        n = string2ll(member)
        if n is None:
            return False
        i = bisect_left(ints, n)
        return i < len(ints) and ints[i] == n

    # -- updates ---------------------------------------------------------------
    def add(self, member: bytes, max_intset: int) -> bool:
        """setTypeAdd: False if already present; converts to hashtable as Redis does."""
        ints = self.ints
        if ints is not None:
            n = string2ll(member)
            if n is not None:
                i = bisect_left(ints, n)
                if i < len(ints) and ints[i] == n:
                    return False
                ints.insert(i, n)
                if len(ints) > min(max_intset, INTSET_HARD_LIMIT):
                    self.to_hashtable()
                return True
            self.to_hashtable()
        members = self.members
        size = len(members)
        if self.index.setdefault(member, size) != size:
            return False
        members.append(member)
        return True

    def remove(self, member: bytes) -> bool:
        ints = self.ints
        if ints is not None:
            n = string2ll(member)
            if n is None:
                return False
            i = bisect_left(ints, n)
            if i < len(ints) and ints[i] == n:
                del ints[i]
                return True
            return False
        pos = self.index.pop(member, None)
        if pos is None:
            return False
        members = self.members
        last = members.pop()
        if pos < len(members):
            members[pos] = last
            self.index[last] = pos
        return True

    def to_hashtable(self) -> None:
        """setTypeConvert: members keep the intset's (sorted) order."""
        if self.ints is None:
            return
        self.members = [b"%d" % n for n in self.ints]
        self.index = {member: pos for pos, member in enumerate(self.members)}
        self.ints = None

    def reencode_if_fits(self, max_intset: int) -> None:
        """The encoding a freshly built set of these members would get (SPOP's rebuild)."""
        if self.ints is not None or len(self) > min(max_intset, INTSET_HARD_LIMIT):
            return
        values = []
        for member in self.members:
            n = string2ll(member)
            if n is None:
                return
            values.append(n)
        values.sort()
        self.ints = array("q", values)
        self.index = self.members = None

    # -- random access ---------------------------------------------------------
    def random_member(self, rng: Any) -> bytes:
        """A uniformly random member of a non-empty set (from the loop's RNG)."""
        if self.ints is not None:
            return b"%d" % self.ints[rng.randbelow(len(self.ints))]
        return self.members[rng.randbelow(len(self.members))]

    def pop_random(self, rng: Any) -> bytes:
        member = self.random_member(rng)
        self.remove(member)
        return member

    # -- SSCAN -----------------------------------------------------------------
    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SSCAN step: (next cursor, members). See `scan_positions` for the guarantee."""
        if self.ints is not None:
            return 0, list(self)
        return scan_positions(self.members, cursor, count)

    def copy(self) -> "SetValue":
        """setTypeDup: an independent set with the same encoding (COPY)."""
        dup = SetValue.__new__(SetValue)
        if self.ints is not None:
            dup.ints = array("q", self.ints)
            dup.index = dup.members = None
        else:
            dup.ints = None
            dup.members = list(self.members)
            dup.index = dict(self.index)
        return dup


def scan_positions(items: list, cursor: int, count: int) -> tuple[int, list]:
    """Walk a swap-remove list from its end towards position 0, `count` items a call.

    The cursor is the number of positions not yet visited: positions below
    it are still to come, the rest were returned. Cursor 0 starts at the
    end, and the reply's cursor is 0 once position 0 has been returned.
    This order is what makes swap-remove safe: a removal moves the *last*
    item into the hole, and the last item is either already visited (so
    it can only move to an unvisited place and be returned twice, which
    SCAN allows) or it is unvisited and moves to a lower position, which
    is unvisited too. New items are appended above every unvisited position
    (returning them is not promised). So an item present for the whole
    iteration is returned at least once, however the collection changes.
    A cursor above the current size (the collection shrank) is clamped.
    """
    size = len(items)
    end = size if cursor == 0 or cursor > size else cursor
    start = max(end - count, 0)
    return start, items[start:end]


def sampled_bytes(items: list[bytes], samples: int) -> float:
    """The bytes objects of `items`, from `samples` evenly spaced ones (0: all of them)."""
    n = len(items)
    if n == 0:
        return 0
    picks = range(n) if samples == 0 or samples >= n else range(0, n, n // samples)
    return sum(bytes_size(items[i]) for i in picks) * n / len(picks)


def positions_size(index: dict, tables: list) -> int:
    """A hashtable's containers: the index dict and lists, and the position ints above 256."""
    containers = sum(alloc(sys.getsizeof(table) + GC_HEADER) for table in [index, *tables])
    return containers + alloc(28) * max(len(index) - 257, 0)


def _memory(value: SetValue, samples: int) -> int:
    """MEMORY USAGE / used_memory estimate; members counted once though held twice."""
    own = alloc(sys.getsizeof(value) + GC_HEADER)
    if value.ints is not None:
        return own + alloc(sys.getsizeof(value.ints))
    return own + positions_size(value.index, [value.members]) + int(
        sampled_bytes(value.members, samples))


register_type(SetValue, b"set", lambda value: value.encoding, SetValue.copy)
register_sizer(SetValue, _memory)
