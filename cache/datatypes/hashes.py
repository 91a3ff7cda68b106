"""The hash value, in Redis 7.0's two encodings, with a deterministic order.

    listpack   one insertion-ordered dict field -> value. A Python dict keeps
               exactly a listpack's order: new fields go to the end, an update
               keeps the field's place, a delete closes the gap. So HGETALL,
               HKEYS, HSCAN... of small hashes are byte-identical to Redis.
    hashtable  `index` (dict field -> position) plus parallel `fields` and
               `values` lists with swap-remove, so a uniform random field
               (HRANDFIELD) is O(1) and HSCAN can use the cursor of
               `cache.datatypes.sets.scan_positions`.

A hash becomes a hashtable once it has more than `hash-max-listpack-entries`
fields or a field or value longer than `hash-max-listpack-value`, and, as
in Redis, never goes back.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any, Iterator

from cache.datatypes.sets import positions_size, sampled_bytes, scan_positions
from cache.keyspace import register_type
from cache.memory import GC_HEADER, alloc, bytes_size, register_sizer


class HashValue:
    """A Redis hash; never stored empty (the key is deleted instead).

    Exactly one representation is live: `pairs` (listpack) or `index`,
    `fields` and `values` (hashtable); the unused fields are None.
    """

    __slots__ = ("pairs", "index", "fields", "values")

    def __init__(self) -> None:
        self.pairs: dict[bytes, bytes] | None = {}
        self.index: dict[bytes, int] | None = None
        self.fields: list[bytes] | None = None
        self.values: list[bytes] | None = None

    @property
    def encoding(self) -> bytes:
        return b"listpack" if self.pairs is not None else b"hashtable"

    def __len__(self) -> int:
        return len(self.pairs) if self.pairs is not None else len(self.fields)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, field: bytes) -> bool:
        return field in (self.pairs if self.pairs is not None else self.index)

    def get(self, field: bytes) -> bytes | None:
        pairs = self.pairs
        if pairs is not None:
            return pairs.get(field)
        pos = self.index.get(field)
        return None if pos is None else self.values[pos]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        if self.pairs is not None:
            return iter(self.pairs.items())
        return zip(self.fields, self.values)

    def field_list(self) -> list[bytes]:
        return list(self.pairs) if self.pairs is not None else list(self.fields)

    def value_list(self) -> list[bytes]:
        return list(self.pairs.values()) if self.pairs is not None else list(self.values)

    # -- updates ---------------------------------------------------------------
    def convert_for(self, args: list[bytes], max_value: int) -> None:
        """hashTypeTryConversion: go to hashtable first if any argument is too long."""
        if self.pairs is not None and any(len(arg) > max_value for arg in args):
            self.to_hashtable()

    def set(self, field: bytes, value: bytes, max_entries: int, max_value: int) -> bool:
        """hashTypeSet; True when the field is new."""
        pairs = self.pairs
        if pairs is not None:
            if len(field) > max_value or len(value) > max_value:
                self.to_hashtable()
            else:
                created = field not in pairs
                pairs[field] = value
                if len(pairs) > max_entries:
                    self.to_hashtable()
                return created
        values = self.values
        size = len(values)
        pos = self.index.setdefault(field, size)
        if pos != size:
            values[pos] = value
            return False
        self.fields.append(field)
        values.append(value)
        return True

    def delete(self, field: bytes) -> bool:
        pairs = self.pairs
        if pairs is not None:
            return pairs.pop(field, None) is not None
        pos = self.index.pop(field, None)
        if pos is None:
            return False
        fields, values = self.fields, self.values
        last_field, last_value = fields.pop(), values.pop()
        if pos < len(fields):
            fields[pos] = last_field
            values[pos] = last_value
            self.index[last_field] = pos
        return True

    def to_hashtable(self) -> None:
        """hashTypeConvert: fields keep the listpack's order."""
        pairs = self.pairs
        if pairs is None:
            return
        self.fields = list(pairs)
        self.values = list(pairs.values())
        self.index = {field: pos for pos, field in enumerate(self.fields)}
        self.pairs = None

    # -- random access ---------------------------------------------------------
    def item_at(self, pos: int) -> tuple[bytes, bytes]:
        """The pos-th pair in iteration order: O(1) for a hashtable, O(n) for a listpack."""
        if self.pairs is not None:
            return next(islice(self.pairs.items(), pos, None))
        return self.fields[pos], self.values[pos]

    def random_item(self, rng: Any) -> tuple[bytes, bytes]:
        return self.item_at(rng.randbelow(len(self)))

    def item_list(self) -> list[tuple[bytes, bytes]]:
        return list(self.items())

    # -- HSCAN -----------------------------------------------------------------
    def scan(self, cursor: int, count: int) -> tuple[int, list[tuple[bytes, bytes]]]:
        """One HSCAN step; a listpack is returned whole with cursor 0, as Redis does."""
        if self.pairs is not None:
            return 0, list(self.pairs.items())
        start, fields = scan_positions(self.fields, cursor, count)
        return start, list(zip(fields, self.values[start:start + len(fields)]))

    def copy(self) -> "HashValue":
        """hashTypeDup: an independent hash with the same encoding (COPY)."""
        dup = HashValue.__new__(HashValue)
        if self.pairs is not None:
            dup.pairs = dict(self.pairs)
            dup.index = dup.fields = dup.values = None
        else:
            dup.pairs = None
            dup.index = dict(self.index)
            dup.fields = list(self.fields)
            dup.values = list(self.values)
        return dup


def _memory(value: HashValue, samples: int) -> int:
    """MEMORY USAGE / used_memory estimate; fields counted once though held twice."""
    own = alloc(sys.getsizeof(value) + GC_HEADER)
    pairs = value.pairs
    if pairs is not None:
        n = len(pairs)
        picked = list(pairs.items() if samples == 0 else islice(pairs.items(), samples))
        mean = sum(bytes_size(f) + bytes_size(v) for f, v in picked) / max(len(picked), 1)
        return own + alloc(sys.getsizeof(pairs) + GC_HEADER) + int(mean * n)
    return own + positions_size(value.index, [value.fields, value.values]) + int(
        sampled_bytes(value.fields, samples) + sampled_bytes(value.values, samples))


register_type(HashValue, b"hash", lambda value: value.encoding, HashValue.copy)
register_sizer(HashValue, _memory)
