"""The list commands against a plain Python model: one `list` per key, Redis rules written naively."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cache.reply import NULL_ARRAY
from tests.cache.harness import Harness

KEYS = st.sampled_from([b"p", b"q", b"r"])
ELEMENTS = st.sampled_from([b"a", b"b", b"c", b"", b"\x00"])
INDEX = st.integers(-8, 8)


def take(items: list, count: int, left: bool) -> list:
    """Pop up to `count` from one end, in popping order."""
    return [items.pop(0) if left else items.pop() for _ in range(min(count, len(items)))]


def redis_slice(items: list, start: int, stop: int) -> list:
    """LRANGE's inclusive, clamped, negative-from-the-end range, spelled out."""
    n = len(items)
    if start < 0:
        start = max(n + start, 0)
    if stop < 0:
        stop = n + stop
    if stop < 0:
        return []
    return items[start:stop + 1]


class ListMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness()
        self.model: dict[bytes, list[bytes]] = {}

    def items(self, key: bytes) -> list[bytes]:
        return self.model.setdefault(key, [])

    @rule(key=KEYS, elements=st.lists(ELEMENTS, min_size=1, max_size=4), left=st.booleans(),
          only_existing=st.booleans())
    def push(self, key, elements, left, only_existing):
        name = ("L" if left else "R") + "PUSH" + ("X" if only_existing else "")
        items = self.items(key)
        if not (only_existing and not items):
            for element in elements:
                items.insert(0, element) if left else items.append(element)
        assert self.h.run(name, key, *elements) == len(items)

    @rule(key=KEYS, left=st.booleans(), count=st.none() | st.integers(0, 6))
    def pop(self, key, left, count):
        items = self.items(key)
        name = "LPOP" if left else "RPOP"
        if count is None:
            expected = (items.pop(0) if left else items.pop()) if items else None
            assert self.h.run(name, key) == expected
            return
        expected = take(items, count, left) if items else NULL_ARRAY
        assert self.h.run(name, key, count) == expected

    @rule(key=KEYS, start=INDEX, stop=INDEX)
    def lrange(self, key, start, stop):
        assert self.h.run("LRANGE", key, start, stop) == redis_slice(self.items(key), start, stop)

    @rule(key=KEYS, index=INDEX)
    def lindex(self, key, index):
        items = self.items(key)
        expected = items[index] if -len(items) <= index < len(items) else None
        assert self.h.run("LINDEX", key, index) == expected

    @rule(key=KEYS, index=INDEX, element=ELEMENTS)
    def lset(self, key, index, element):
        items = self.items(key)
        reply = self.h.run("LSET", key, index, element)
        if not items:
            assert reply == b"ERR no such key"
        elif -len(items) <= index < len(items):
            items[index] = element
            assert reply == b"OK"
        else:
            assert reply == b"ERR index out of range"

    @rule(key=KEYS, count=st.integers(-3, 3), element=ELEMENTS)
    def lrem(self, key, count, element):
        items = self.items(key)
        order = list(range(len(items))) if count >= 0 else list(range(len(items) - 1, -1, -1))
        hits = [i for i in order if items[i] == element][:abs(count) or None]
        for i in sorted(hits, reverse=True):
            del items[i]
        assert self.h.run("LREM", key, count, element) == len(hits)

    @rule(key=KEYS, start=INDEX, stop=INDEX)
    def ltrim(self, key, start, stop):
        items = self.items(key)
        items[:] = redis_slice(items, start, stop)
        assert self.h.run("LTRIM", key, start, stop) == b"OK"

    @rule(key=KEYS, after=st.booleans(), pivot=ELEMENTS, element=ELEMENTS)
    def linsert(self, key, after, pivot, element):
        items = self.items(key)
        if not items:
            expected = 0
        elif pivot not in items:
            expected = -1
        else:
            items.insert(items.index(pivot) + after, element)
            expected = len(items)
        assert self.h.run("LINSERT", key, "AFTER" if after else "BEFORE", pivot, element) == expected

    @rule(key=KEYS, element=ELEMENTS, rank=st.sampled_from([1, 2, 3, -1, -2, -3]),
          count=st.none() | st.integers(0, 3), maxlen=st.integers(0, 5))
    def lpos(self, key, element, rank, count, maxlen):
        items = self.items(key)
        scan = list(range(len(items))) if rank > 0 else list(range(len(items) - 1, -1, -1))
        if maxlen:
            scan = scan[:maxlen]
        hits = [i for i in scan if items[i] == element][abs(rank) - 1:]
        args = ["LPOS", key, element, "RANK", rank, "MAXLEN", maxlen]
        if count is None:
            assert self.h.run(*args) == (hits[0] if hits else None)
        else:
            assert self.h.run(*args, "COUNT", count) == hits[:count or None]

    @rule(source=KEYS, destination=KEYS, from_left=st.booleans(), to_left=st.booleans())
    def lmove(self, source, destination, from_left, to_left):
        src, dst = self.items(source), self.items(destination)
        expected = None
        if src:
            expected = src.pop(0) if from_left else src.pop()
            dst.insert(0, expected) if to_left else dst.append(expected)
        sides = ["LEFT" if from_left else "RIGHT", "LEFT" if to_left else "RIGHT"]
        assert self.h.run("LMOVE", source, destination, *sides) == expected

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3), left=st.booleans(), count=st.integers(1, 4))
    def lmpop(self, keys, left, count):
        expected = None
        for key in keys:
            items = self.items(key)
            if items:
                expected = [key, take(items, count, left)]
                break
        reply = self.h.run("LMPOP", len(keys), *keys, "LEFT" if left else "RIGHT", "COUNT", count)
        assert reply == (NULL_ARRAY if expected is None else expected)

    @invariant()
    def every_key_matches_the_model(self):
        for key, items in self.model.items():
            assert self.h.run("LRANGE", key, 0, -1) == items
            assert self.h.run("LLEN", key) == len(items)
            assert self.h.run("EXISTS", key) == (1 if items else 0), "empty lists are deleted"
            assert self.h.run("TYPE", key) == (b"list" if items else b"none")


ListMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_lists_match_a_python_model = ListMachine.TestCase
