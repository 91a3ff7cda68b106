"""The sorted-set value: a member -> score dict plus a SortedList of (score, member).

Redis keeps a hash table and a skiplist; here the dict answers ZSCORE in
O(1) and the SortedList answers ranks and ranges in O(log n). Tuples order
by score, then by member bytes, which is Redis's (score, memcmp) order.

Encodings are emulated, not built: a zset is `listpack` until it grows past
`zset-max-listpack-entries` members or receives a member longer than
`zset-max-listpack-value` bytes, then `skiplist` for good (Redis never
converts back, except when a STORE command builds a fresh result). The
flag also decides what Redis's listpack would do to a score: it stores
doubles as text where -0 reads back as 0, so a listpack zset keeps 0.0.

ZSCAN over a skiplist zset walks members in the order of a stable 64-bit
hash (blake2b) and the cursor is the next hash to visit. A cursor over
(score, member) order, or over positions, would lose members: a rescored
member can jump behind the cursor, a deletion shifts positions. Hash order
does not depend on scores, insertions or deletions, so every member present
for the whole iteration is returned (exactly once, unless the client
restarts), and the cursor means the same thing after any change, even to
a COPY. Members sharing a hash are always returned in the same call. The
hash index is built on the first ZSCAN and kept up to date afterwards.
(A listpack zset is returned whole with cursor 0, as Redis does.)
"""

from __future__ import annotations

import math
from hashlib import blake2b
from typing import Iterator

from sortedcontainers import SortedList

from cache.keyspace import register_type
from cache.memory import BYTES_HEADER, DICT_SLOT, LIST_SLOT, alloc, register_sizer

_INF = math.inf
LISTPACK = b"listpack"
SKIPLIST = b"skiplist"


def scan_hash(member: bytes) -> int:
    """A member's place in ZSCAN order: a process-independent hash, never 0."""
    return int.from_bytes(blake2b(member, digest_size=8).digest(), "big") or 1


class ScoreRange:
    """A ZRANGEBYSCORE interval (`_ex`: open end); `ZSet.score_span` finds its positions."""

    __slots__ = ("low", "low_ex", "high", "high_ex")

    def __init__(self, low: float, low_ex: bool, high: float, high_ex: bool) -> None:
        self.low, self.low_ex, self.high, self.high_ex = low, low_ex, high, high_ex


# Lex range bounds: the strings `-` and `+` are sentinels compared before any member.
MINUS = object()
PLUS = object()


class LexRange:
    """A ZRANGEBYLEX interval with Redis's sdscmplex semantics for `-` and `+`."""

    __slots__ = ("low", "low_ex", "high", "high_ex")

    def __init__(self, low: object, low_ex: bool, high: object, high_ex: bool) -> None:
        self.low, self.low_ex, self.high, self.high_ex = low, low_ex, high, high_ex

    @staticmethod
    def _cmp(a: object, b: object) -> int:
        if a is b:
            return 0
        if a is MINUS or b is PLUS:
            return -1
        if a is PLUS or b is MINUS:
            return 1
        return (a > b) - (a < b)  # type: ignore[operator]

    def is_empty(self) -> bool:
        cmp = self._cmp(self.low, self.high)
        return cmp > 0 or (cmp == 0 and (self.low_ex or self.high_ex))

    def gte_min(self, member: bytes) -> bool:
        cmp = self._cmp(member, self.low)
        return cmp > 0 if self.low_ex else cmp >= 0

    def lte_max(self, member: bytes) -> bool:
        cmp = self._cmp(member, self.high)
        return cmp < 0 if self.high_ex else cmp <= 0


class ZSet:
    """One sorted set. Callers keep it non-empty in the keyspace (empty ones are deleted)."""

    __slots__ = ("scores", "order", "listpack", "scan_index")

    def __init__(self, listpack: bool = True) -> None:
        self.scores: dict[bytes, float] = {}
        self.order = SortedList()
        self.listpack = listpack
        self.scan_index: SortedList | None = None

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        return iter(self.order)

    def encoding(self) -> bytes:
        return LISTPACK if self.listpack else SKIPLIST

    @classmethod
    def from_entries(cls, entries: list[tuple[float, bytes]], listpack: bool) -> "ZSet":
        """A zset of distinct (score, member) entries in any order (STORE results)."""
        zset = cls(listpack)
        if listpack:
            entries = [(0.0 if score == 0 else score, member) for score, member in entries]
        zset.scores = {member: score for score, member in entries}
        zset.order = SortedList(entries)
        return zset

    def copy(self) -> "ZSet":
        """An independent duplicate (COPY), same encoding; the scan index is rebuilt lazily."""
        dup = ZSet(self.listpack)
        dup.scores = dict(self.scores)
        dup.order = self.order.copy()
        return dup

    # -- members -------------------------------------------------------------
    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def insert(self, member: bytes, score: float, max_entries: int, max_value: int) -> None:
        """Add a member that is not present, converting to skiplist as zsetAdd does."""
        if self.listpack and (len(self.scores) + 1 > max_entries or len(member) > max_value):
            self.listpack = False
        if self.listpack and score == 0:
            score = 0.0
        self.scores[member] = score
        self.order.add((score, member))
        if self.scan_index is not None:
            self.scan_index.add((scan_hash(member), member))

    def update(self, member: bytes, score: float) -> None:
        """Give a present member a new score."""
        if self.listpack and score == 0:
            score = 0.0
        old = self.scores[member]
        self.order.remove((old, member))
        self.order.add((score, member))
        self.scores[member] = score

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        if self.scan_index is not None:
            self.scan_index.remove((scan_hash(member), member))
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.order.bisect_left((score, member))

    # -- ranges (positions in ascending order, as half-open spans) -------------
    def entry(self, index: int) -> tuple[float, bytes]:
        return self.order[index]

    def entries(self, start: int, stop: int, reverse: bool = False) -> list[tuple[float, bytes]]:
        """Entries at positions [start, stop), ascending or (reverse) descending."""
        if start >= stop:
            return []
        return list(self.order.islice(start, stop, reverse=reverse))

    def score_span(self, spec: ScoreRange) -> tuple[int, int]:
        order = self.order
        if spec.low_ex:
            start = len(order) if spec.low == _INF else order.bisect_left(
                (math.nextafter(spec.low, _INF),))
        else:
            start = order.bisect_left((spec.low,))
        if spec.high_ex:
            stop = order.bisect_left((spec.high,))
        else:
            stop = len(order) if spec.high == _INF else order.bisect_left(
                (math.nextafter(spec.high, _INF),))
        return start, max(start, stop)

    def _uniform_score(self) -> float | None:
        """The score every member shares, if they all share one (lex ranges are then sorted)."""
        first, last = self.order[0][0], self.order[-1][0]
        return first if first == last else None

    def lex_span(self, spec: LexRange) -> tuple[int, int]:
        """Positions a forward lex walk covers: from the first member >= min while <= max.

        With mixed scores members are not sorted, and Redis's answer is what
        a walk over its listpack gives; that walk is reproduced here.
        """
        order = self.order
        if not order or spec.is_empty():
            return 0, 0
        score = self._uniform_score()
        if score is not None:
            start = self._lex_bisect(score, spec.low, spec.low_ex, low=True)
            stop = self._lex_bisect(score, spec.high, spec.high_ex, low=False)
            return start, max(start, stop)
        if not spec.gte_min(order[-1][1]) or not spec.lte_max(order[0][1]):
            return 0, 0
        n = len(order)
        start = next((i for i in range(n) if spec.gte_min(order[i][1])), n)
        if start == n or not spec.lte_max(order[start][1]):
            return 0, 0
        stop = next((i for i in range(start + 1, n) if not spec.lte_max(order[i][1])), n)
        return start, stop

    def lex_span_reverse(self, spec: LexRange) -> tuple[int, int]:
        """Like `lex_span` for a backward walk: from the last member <= max while >= min."""
        order = self.order
        if not order or spec.is_empty():
            return 0, 0
        if self._uniform_score() is not None:
            return self.lex_span(spec)
        if not spec.gte_min(order[-1][1]) or not spec.lte_max(order[0][1]):
            return 0, 0
        last = next((i for i in range(len(order) - 1, -1, -1) if spec.lte_max(order[i][1])), -1)
        if last < 0 or not spec.gte_min(order[last][1]):
            return 0, 0
        first = next((i for i in range(last - 1, -1, -1) if not spec.gte_min(order[i][1])), -1)
        return first + 1, last + 1

    def _lex_bisect(self, score: float, bound: object, exclusive: bool, low: bool) -> int:
        if bound is MINUS:
            return 0 if low else -1
        if bound is PLUS:
            return len(self.order) + 1 if low else len(self.order)
        key = (score, bound)
        after = exclusive if low else not exclusive
        return self.order.bisect_right(key) if after else self.order.bisect_left(key)

    def remove_span(self, start: int, stop: int) -> list[tuple[float, bytes]]:
        """Delete positions [start, stop); returns what was removed, ascending."""
        if start >= stop:
            return []
        order = self.order
        if stop - start <= 8:  # SortedList.pop is far cheaper than a slice deletion
            removed = [order.pop(start) for _ in range(stop - start)]
        else:
            removed = list(order.islice(start, stop))
            del order[start:stop]
        scores = self.scores
        index = self.scan_index
        for _, member in removed:
            del scores[member]
            if index is not None:
                index.remove((scan_hash(member), member))
        return removed

    def pop(self, count: int, highest: bool) -> list[tuple[float, bytes]]:
        """Remove up to `count` lowest (or highest) entries, in pop order."""
        n = len(self.order)
        count = min(count, n)
        if highest:
            removed = self.remove_span(n - count, n)
            removed.reverse()
            return removed
        return self.remove_span(0, count)

    # -- ZSCAN -----------------------------------------------------------------
    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """Members whose scan hash is >= cursor, about `count` of them, and the next cursor."""
        index = self.scan_index
        if index is None:
            index = self.scan_index = SortedList((scan_hash(m), m) for m in self.scores)
        start = index.bisect_left((cursor,))
        stop = min(start + count, len(index))
        while 0 < stop < len(index) and index[stop][0] == index[stop - 1][0]:
            stop += 1
        members = [member for _, member in index.islice(start, stop)]
        return (index[stop][0] if stop < len(index) else 0), members


# Per member: a dict slot, the float, the (score, member) tuple and its list slot;
# the scan index adds a (hash, member) tuple, the hash int and a slot. Checked with
# tracemalloc (about 115-140 and 100 bytes a member).
_MEMBER_OVERHEAD = DICT_SLOT + 24 + alloc(56) + LIST_SLOT
_INDEX_OVERHEAD = alloc(56) + 28 + LIST_SLOT
_ZSET_OVERHEAD = 64 + 64 + 232 + 240  # ZSet, SortedList and its lists, empty dict


def estimate_size(zset: ZSet, samples: int) -> int:
    """Bytes held by a zset, member strings sampled evenly (0 samples: all of them)."""
    n = len(zset)
    size = _ZSET_OVERHEAD + n * _MEMBER_OVERHEAD
    if n:
        step = 1 if samples == 0 or samples >= n else max(n // samples, 1)
        picked = [zset.order[i][1] for i in range(0, n, step)]
        size += sum(alloc(BYTES_HEADER + len(m)) for m in picked) * n // len(picked)
    if zset.scan_index is not None:
        size += n * _INDEX_OVERHEAD
    return size


register_type(ZSet, b"zset", ZSet.encoding, ZSet.copy)
register_sizer(ZSet, estimate_size)
