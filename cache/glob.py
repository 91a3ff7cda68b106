"""Redis glob patterns (util.c stringmatchlen), matched in linear-ish time.

Redis matches `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\\x` escapes by
recursion, which is exponential on patterns like `*a*a*a*b`. Here a pattern
is first cut into tokens exactly as Redis walks it (an unterminated `[`
takes the rest of the pattern, `[a-]` is the range `a`..`]`, ranges compare
*signed* chars, a trailing `\\` is a literal), then matched segment by
segment: every token but `*` consumes one byte, so the pieces between stars
have a fixed length and the leftmost match of each is always the right one.

One Redis quirk is kept on purpose: an empty string matches only an empty
pattern (`*` does not match ``; KEYS and SCAN special-case the pattern `*`).
"""

from __future__ import annotations

import re
from functools import lru_cache

_STAR = None  # token for `*`; every other token is a 256-entry table of bools


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _lower(c: int) -> int:
    """C tolower() in the C locale, on a (possibly negative) char value."""
    return c + 32 if 65 <= c <= 90 else c


def _literal(byte: int, nocase: bool) -> bytes:
    if nocase:
        low = _lower(byte)
        return bytes(_lower(c) == low for c in range(256))
    table = bytearray(256)
    table[byte] = 1
    return bytes(table)


_ANY = bytes([1]) * 256


def tokenize(pattern: bytes, nocase: bool = False) -> list[bytes | None]:
    """The pattern as Redis reads it: `_STAR` or a byte -> matches table per position."""
    tokens: list[bytes | None] = []
    n = len(pattern)
    i = 0
    while i < n:
        c = pattern[i]
        if c == 42:  # *
            if not tokens or tokens[-1] is not _STAR:
                tokens.append(_STAR)
        elif c == 63:  # ?
            tokens.append(_ANY)
        elif c == 91:  # [
            i, table = _bracket(pattern, i + 1, nocase)
            tokens.append(table)
        else:
            if c == 92 and n - i >= 2:  # \x escapes x; a trailing \ is itself
                i += 1
            tokens.append(_literal(pattern[i], nocase))
        i += 1
    return tokens


def _bracket(pattern: bytes, i: int, nocase: bool) -> tuple[int, bytes]:
    """Parse a [...] class starting after `[`; returns (index of its last byte, table)."""
    n = len(pattern)
    negate = i < n and pattern[i] == 94  # ^
    if negate:
        i += 1
    table = bytearray(256)
    while True:
        if i < n and pattern[i] == 92 and n - i >= 2:  # \x: x itself, case-sensitive
            i += 1
            table[pattern[i]] = 1
        elif i < n and pattern[i] == 93:  # ]
            break
        elif i >= n:  # unterminated: the class ends with the pattern
            i -= 1
            break
        elif n - i >= 3 and pattern[i + 1] == 45:  # a-z, on signed chars
            start, end = _signed(pattern[i]), _signed(pattern[i + 2])
            if start > end:
                start, end = end, start
            if nocase:
                start, end = _lower(start), _lower(end)
            for byte in range(256):
                c = _signed(byte)
                if nocase:
                    c = _lower(c)
                if start <= c <= end:
                    table[byte] = 1
            i += 2
        else:
            literal = _literal(pattern[i], nocase)
            for byte in range(256):
                if literal[byte]:
                    table[byte] = 1
        i += 1
    if negate:
        table = bytearray(1 - bit for bit in table)
    return i, bytes(table)


def _segment_regex(tokens: list[bytes]) -> re.Pattern[bytes]:
    parts = []
    for table in tokens:
        allowed = [byte for byte in range(256) if table[byte]]
        if len(allowed) == 256:
            parts.append(b".")
        elif not allowed:
            parts.append(b"(?!)")
        else:
            parts.append(b"[" + b"".join(b"\\x%02x" % byte for byte in allowed) + b"]")
    return re.compile(b"".join(parts), re.DOTALL)


class _Segment:
    """A run of one-byte tokens between stars: a literal or a fixed-width regex."""

    __slots__ = ("size", "literal", "regex")

    def __init__(self, tokens: list[bytes]) -> None:
        self.size = len(tokens)
        literal = bytearray()
        for table in tokens:
            if sum(table) != 1:
                break
            literal.append(table.index(1))
        if len(literal) == len(tokens):
            self.literal: bytes | None = bytes(literal)
            self.regex = None
        else:
            self.literal = None
            self.regex = _segment_regex(tokens)

    def at(self, s: bytes, pos: int) -> bool:
        if self.literal is not None:
            return s.startswith(self.literal, pos)
        return self.regex.match(s, pos) is not None  # type: ignore[union-attr]

    def find(self, s: bytes, pos: int, end: int) -> int:
        """Start of the leftmost match within s[pos:end], or -1."""
        if self.literal is not None:
            return s.find(self.literal, pos, end)
        found = self.regex.search(s, pos, end)  # type: ignore[union-attr]
        return -1 if found is None else found.start()


class Matcher:
    """A compiled pattern; `match(s)` answers exactly as Redis's stringmatchlen."""

    __slots__ = ("pattern", "empty", "has_star", "head", "middle", "tail", "min_len")

    def __init__(self, pattern: bytes, nocase: bool = False) -> None:
        self.pattern = pattern
        self.empty = not pattern
        tokens = tokenize(pattern, nocase)
        self.has_star = _STAR in tokens
        runs: list[list[bytes]] = [[]]
        for token in tokens:
            if token is _STAR:
                runs.append([])
            else:
                runs[-1].append(token)
        segments = [_Segment(run) for run in runs]
        self.head = segments[0]
        self.tail = segments[-1] if self.has_star else None
        self.middle = [seg for seg in segments[1:-1] if seg.size]
        self.min_len = sum(seg.size for seg in segments)

    def match(self, s: bytes) -> bool:
        n = len(s)
        if n == 0:
            return self.empty
        head = self.head
        if not self.has_star:
            return n == head.size and head.at(s, 0)
        if n < self.min_len or not head.at(s, 0):
            return False
        tail = self.tail
        end = n - tail.size  # type: ignore[union-attr]
        if not tail.at(s, end):  # type: ignore[union-attr]
            return False
        pos = head.size
        for seg in self.middle:
            found = seg.find(s, pos, end)
            if found < 0:
                return False
            pos = found + seg.size
        return True


@lru_cache(maxsize=512)
def compile_pattern(pattern: bytes, nocase: bool = False) -> Matcher:
    return Matcher(bytes(pattern), nocase)


def stringmatch(pattern: bytes, s: bytes, nocase: bool = False) -> bool:
    """Does `s` match the Redis glob `pattern`?"""
    return compile_pattern(pattern, nocase).match(s)
