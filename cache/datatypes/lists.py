"""The list value: a deque of bytes, plus the index arithmetic Redis's t_list.c uses.

A `collections.deque` gives O(1) pushes and pops at both ends and costs
about one pointer per element, which is what a list of small items must
cost. `ListValue` subclasses it (without a `__dict__`) only so the keyspace
can tell lists apart from other values by their exact type.

Range and search helpers reproduce Redis's quirks exactly (negative
indices, clamping, LPOS's rank arithmetic in wrapping 64-bit integers), so
the handlers in `cache.commands.lists` stay thin.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Iterable

from cache.keyspace import register_type


class ListValue(deque):
    """A Redis list; never stored empty (the key is deleted instead)."""

    __slots__ = ()


def _encoding(value: ListValue) -> bytes:
    return b"quicklist"  # Redis 7.0 uses a quicklist for every list, however small


register_type(ListValue, b"list", _encoding, ListValue)


def normalize_range(start: int, stop: int, length: int) -> tuple[int, int] | None:
    """LRANGE's (first, last) inclusive indices within a list of `length`, or None if empty."""
    if start < 0:
        start += length
    if stop < 0:
        stop += length
    if start < 0:
        start = 0
    if start > stop or start >= length:
        return None
    return start, min(stop, length - 1)


def range_items(value: ListValue, first: int, last: int) -> list[bytes]:
    """Elements first..last (inclusive), walking from the nearer end as a quicklist does."""
    length = len(value)
    if first == 0 and last == length - 1:
        return list(value)
    if length - 1 - last < first:
        tail = list(islice(reversed(value), length - 1 - last, length - first))
        tail.reverse()
        return tail
    return list(islice(value, first, last + 1))


def trim(value: ListValue, start: int, stop: int) -> int:
    """LTRIM in place; returns how many elements were removed."""
    length = len(value)
    kept = normalize_range(start, stop, length)
    if kept is None:
        value.clear()
        return length
    first, last = kept
    for _ in range(first):
        value.popleft()
    for _ in range(length - 1 - last):
        value.pop()
    return length - len(value)


def pop_many(value: ListValue, count: int, from_head: bool) -> list[bytes]:
    """Up to `count` elements popped from one end, in the order they were popped."""
    pop = value.popleft if from_head else value.pop
    return [pop() for _ in range(min(count, len(value)))]


def remove(value: ListValue, element: bytes, count: int) -> int:
    """LREM in place: count > 0 from the head, < 0 from the tail, 0 all; returns removed."""
    limit = abs(count) if count else len(value)
    items: Iterable[bytes] = value if count >= 0 else reversed(value)
    kept = []
    removed = 0
    for item in items:
        if removed < limit and item == element:
            removed += 1
        else:
            kept.append(item)
    if removed:
        if count < 0:
            kept.reverse()
        value.clear()
        value.extend(kept)
    return removed


def insert(value: ListValue, pivot: bytes, element: bytes, after: bool) -> bool:
    """LINSERT next to the first `pivot`; False when the pivot is absent."""
    try:
        index = value.index(pivot)
    except ValueError:
        return False
    value.insert(index + 1 if after else index, element)
    return True


def _wrap64(n: int) -> int:
    """`n` as a C `long` would hold it after overflow."""
    return (n + 2**63) % 2**64 - 2**63


def positions(value: ListValue, element: bytes, rank: int, count: int | None,
              maxlen: int) -> list[int]:
    """LPOS: indices of matches; `count` None means the first match only.

    `rank` is the option as given (nonzero). Redis negates a negative rank
    in a C long, so -2**63 stays negative and then matches from the first
    hit; the COUNT limit check overflows the same way. Both are kept.
    """
    length = len(value)
    from_tail = rank < 0
    if from_tail:
        rank = _wrap64(-rank)
    items = reversed(value) if from_tail else iter(value)
    if maxlen:
        items = islice(items, maxlen)
    found = []
    matches = 0
    for index, item in enumerate(items):
        if item != element:
            continue
        matches += 1
        if matches < rank:
            continue
        found.append(length - index - 1 if from_tail else index)
        if count is None or (count and _wrap64(matches - rank + 1) >= count):
            break
    return found
