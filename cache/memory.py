"""What a key costs in memory: the estimates behind used_memory and MEMORY USAGE.

The model is CPython's own layout (3.11, 64-bit): objects up to 512 bytes
come from pymalloc in 16-byte size classes, larger ones from malloc with a
16-byte header; GC-tracked objects carry a 16-byte header in front.

    one key    = PER_KEY                 the Entry (2 slots + GC header: 48 B), its
                                         share of the `data` dict table (entries at
                                         2/3 load plus the index: ~42 B amortised)
                                         and of the `slots` list (~9 B)
               + alloc(33 + len(key))    the key's bytes object
               + the value:
                   bytes      alloc(33 + len)   (0 when len <= 1: shared singletons)
                   bytearray  64 + alloc(its buffer, `__alloc__()`)
                   other      `object_size`: the container's own tables from
                              sys.getsizeof (O(1) for builtins) plus len x the
                              mean deep size of up to `samples` elements
    one TTL    = PER_EXPIRE              its `expires` slot, the int, a `volatile` slot

Strings are sized exactly, in O(1), on every write. A collection's estimate
is kept in a `Sized` memo (in the keyspace's `sized`): after each write it
is scaled by the new length and only re-sampled when the length has doubled
or halved since the last sample, or after max(16, len/8) writes, so each write costs
O(1) amortised and elements that grow in place are caught up with. Python
sets iterate in hash order, which differs between processes, so they are
summed whole (same amortised rate) instead of sampled: estimates replay.

Data types can give an exact or cheaper estimate with `register_sizer`.
Checked against tracemalloc and RSS by bench/memory_bench.py.
"""

from __future__ import annotations

import sys
from collections import deque
from itertools import islice
from typing import Any, Callable

GC_HEADER = 16
SMALL_OBJECT_LIMIT = 512  # pymalloc serves requests up to this size
ENTRY_SIZE = 48  # Entry: 16 B header + 2 slots + 16 B GC header
DICT_SLOT = 42  # amortised share of a dict's entry table and index per key
LIST_SLOT = 9  # a pointer in an over-allocated list
PER_KEY = ENTRY_SIZE + DICT_SLOT + LIST_SLOT
PER_EXPIRE = DICT_SLOT + 32 + LIST_SLOT  # expires slot + the int + a volatile slot
BYTES_HEADER = 33  # sizeof(PyBytesObject) with an empty string
BYTEARRAY_OBJECT = 64  # the bytearray object itself (56 B, rounded)
DEFAULT_SAMPLES = 5  # OBJ_COMPUTE_SIZE_DEF_SAMPLES
_NESTED_SAMPLES = 3  # elements sampled inside a sampled element
_MAX_DEPTH = 4


def alloc(n: int) -> int:
    """Bytes the allocator really hands out for a request of `n` bytes."""
    if n <= SMALL_OBJECT_LIMIT:
        return (n + 15) & -16
    return (n + 16 + 15) & -16


def bytes_size(value: bytes) -> int:
    n = len(value)
    return alloc(BYTES_HEADER + n) if n > 1 else 0


def string_size(value: bytes | bytearray) -> int:
    if value.__class__ is bytes:
        return bytes_size(value)
    capacity = value.__alloc__()
    return BYTEARRAY_OBJECT + (alloc(capacity) if capacity else 0)


def key_size(key: bytes) -> int:
    """PER_KEY plus the key's bytes object: everything of a key but its value."""
    return PER_KEY + alloc(BYTES_HEADER + len(key))


# -- deep, sampled estimates of arbitrary values ----------------------------------

Sizer = Callable[[Any, int], int]
_SIZERS: dict[type, Sizer] = {}


def register_sizer(pytype: type, sizer: Sizer) -> None:
    """Use `sizer(value, samples)` (bytes, O(samples)) for values of `pytype`.

    `samples` 0 asks for an exact count (MEMORY USAGE ... SAMPLES 0).
    """
    _SIZERS[pytype] = sizer


def object_size(value: Any, samples: int = DEFAULT_SAMPLES) -> int:
    """Estimated bytes held by `value`; elements of containers are sampled."""
    return int(_deep(value, samples, 0))


def _deep(obj: Any, samples: int, depth: int) -> float:
    cls = obj.__class__
    if cls is bytes:
        return bytes_size(obj)
    if cls is bytearray:
        return string_size(obj)
    if cls is int:
        return 0 if -5 <= obj <= 256 else alloc(sys.getsizeof(obj))
    if cls is float:
        return 32
    if obj is None or cls is bool:
        return 0
    sizer = _SIZERS.get(cls)
    if sizer is not None:
        return sizer(obj, samples)
    if cls is str:
        return alloc(sys.getsizeof(obj))
    if callable(obj) or depth >= _MAX_DEPTH:  # bound methods, key functions: shallow
        return alloc(sys.getsizeof(obj) + GC_HEADER)
    nested = samples if samples == 0 else min(samples, _NESTED_SAMPLES)
    size = alloc(sys.getsizeof(obj) + GC_HEADER)
    if isinstance(obj, (list, tuple, deque, dict, set, frozenset)):
        size += _elements(obj, samples, nested, depth)
    attrs = getattr(obj, "__dict__", None)
    if attrs is not None:
        size += alloc(sys.getsizeof(attrs)) + sum(
            _deep(v, nested, depth + 1) for v in attrs.values())
    for name in _slot_names(cls):
        member = getattr(obj, name, None)
        if member is not None:
            size += _deep(member, nested, depth + 1)
    return size


def _elements(obj: Any, samples: int, nested: int, depth: int) -> float:
    n = len(obj)
    if n == 0:
        return 0
    if isinstance(obj, dict):
        items = obj.items() if samples == 0 else islice(obj.items(), samples)
        total = count = 0
        for k, v in items:
            total += _deep(k, nested, depth + 1) + _deep(v, nested, depth + 1)
            count += 1
        return total * n / count
    if isinstance(obj, (set, frozenset)):
        # Hash order differs between processes: sum all so the estimate replays.
        return sum(_deep(e, nested, depth + 1) for e in obj)
    return _sampled_sequence(obj, samples, nested, depth)


def _sampled_sequence(obj: Any, samples: int, nested: int, depth: int) -> float:
    """Evenly spaced elements of an indexable sequence (ends included)."""
    n = len(obj)
    if n == 0:
        return 0
    if samples == 0 or samples >= n:
        picks = range(n)
    elif samples == 1:
        picks = range(1)
    else:
        picks = sorted({i * (n - 1) // (samples - 1) for i in range(samples)})
    total = sum(_deep(obj[i], nested, depth + 1) for i in picks)
    return total * n / len(picks)


_SLOT_NAMES: dict[type, tuple[str, ...]] = {}


def _slot_names(cls: type) -> tuple[str, ...]:
    names = _SLOT_NAMES.get(cls)
    if names is None:
        found: list[str] = []
        for klass in cls.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            if isinstance(slots, str):
                slots = (slots,)
            found.extend(s for s in slots if s not in ("__dict__", "__weakref__"))
        names = _SLOT_NAMES[cls] = tuple(dict.fromkeys(found))
    return names


# -- per-key memo for values that change in place --------------------------------


class Sized:
    """A collection's last estimate and when to take the next one."""

    __slots__ = ("total", "value_size", "length", "countdown")

    def __init__(self) -> None:
        self.total = 0
        self.value_size = 0
        self.length = -1
        self.countdown = 0


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 1


def value_estimate(key: bytes, value: Any, memo: Sized) -> int:
    """The key's new total with a non-string value, re-sampling when due (see module doc)."""
    n = _length(value)
    last = memo.length
    countdown = memo.countdown - 1
    if countdown <= 0 or n > 2 * last + 8 or 2 * n < last:
        memo.value_size = object_size(value)
        memo.length = last = n
        countdown = max(16, n >> 3)
        if isinstance(value, (set, frozenset)):
            countdown = max(16, n)  # summed whole: keep it amortised O(1)
        size = memo.value_size
    else:
        size = memo.value_size * n // last if last > 0 else memo.value_size
    memo.countdown = countdown
    memo.total = total = key_size(key) + size
    return total


def usage(key: bytes, value: Any, has_ttl: bool, samples: int) -> int:
    """MEMORY USAGE: a fresh estimate of one key, `samples` 0 meaning every element."""
    if value.__class__ in (bytes, bytearray):
        size = string_size(value)
    else:
        size = object_size(value, samples)
    return key_size(key) + size + (PER_EXPIRE if has_ttl else 0)


# -- the process's resident memory (INFO used_memory_rss) --------------------------

_rss_source: Callable[[], int] | None = None


def set_rss_source(source: Callable[[], int] | None) -> None:
    """Install how to read the process's RSS (the process entry point: flowcache.cli reads /proc).

    Left unset (tests, the simulator: several servers share a process and
    replies must replay), INFO reports used_memory as the RSS.
    """
    global _rss_source
    _rss_source = source


def process_rss() -> int:
    return _rss_source() if _rss_source is not None else 0
