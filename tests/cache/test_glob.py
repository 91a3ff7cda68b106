"""cache.glob against a line-by-line port of Redis's stringmatchlen and a real server."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.glob import compile_pattern, stringmatch
from tests.cache.harness import RedisOracle, parse_reply


def _c_char(b: int) -> int:
    return b - 256 if b >= 128 else b


def _tolower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def reference_match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """util.c stringmatchlen_impl (7.0.15), transcribed; exponential, small inputs only."""
    p = pattern + b"\0"  # C strings are NUL-terminated and Redis reads the terminator
    s = string + b"\0"

    def impl(pi: int, plen: int, si: int, slen: int, skip: list[bool]) -> bool:
        while plen and slen:
            c = p[pi]
            if c == ord("*"):
                while plen and p[pi + 1] == ord("*"):
                    pi += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if impl(pi + 1, plen - 1, si, slen, skip):
                        return True
                    if skip[0]:
                        return False
                    si += 1
                    slen -= 1
                skip[0] = True
                return False
            elif c == ord("?"):
                si += 1
                slen -= 1
            elif c == ord("["):
                pi += 1
                plen -= 1
                negate = p[pi] == ord("^")
                if negate:
                    pi += 1
                    plen -= 1
                matched = False
                while True:
                    if p[pi] == ord("\\") and plen >= 2:
                        pi += 1
                        plen -= 1
                        if p[pi] == s[si]:
                            matched = True
                    elif p[pi] == ord("]"):
                        break
                    elif plen == 0:
                        pi -= 1
                        plen += 1
                        break
                    elif plen >= 3 and p[pi + 1] == ord("-"):
                        start, end, ch = _c_char(p[pi]), _c_char(p[pi + 2]), _c_char(s[si])
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, ch = _tolower(start), _tolower(end), _tolower(ch)
                        pi += 2
                        plen -= 2
                        if start <= ch <= end:
                            matched = True
                    elif not nocase:
                        if p[pi] == s[si]:
                            matched = True
                    elif _tolower(p[pi]) == _tolower(s[si]):
                        matched = True
                    pi += 1
                    plen -= 1
                if negate:
                    matched = not matched
                if not matched:
                    return False
                si += 1
                slen -= 1
            else:
                if c == ord("\\") and plen >= 2:
                    pi += 1
                    plen -= 1
                if nocase:
                    if _tolower(p[pi]) != _tolower(s[si]):
                        return False
                elif p[pi] != s[si]:
                    return False
                si += 1
                slen -= 1
            pi += 1
            plen -= 1
            if slen == 0:
                while p[pi] == ord("*"):
                    pi += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return impl(0, len(pattern), 0, len(string), [False])


TRICKY_PATTERNS = [
    b"", b"*", b"**", b"?", b"a*", b"*a", b"*a*", b"a?c", b"[abc]", b"[^abc]", b"[a-c]x",
    b"[c-a]", b"[z-a]*", b"[a-]", b"[-a]", b"[]", b"[]a]", b"[^]", b"[", b"[^", b"[abc",
    b"a[", b"\\", b"a\\", b"\\*", b"\\?x", b"[\\]]", b"[\\", b"[a\\-z]", b"*[", b"h[^e]llo",
    b"h*llo", b"*\\", b"[a-\\]", b"x[!a]", b"[\x80-\xff]", b"[a-\xff]", b"[\xff-a]", b"A*",
    b"[A-Z]*", b"[^-]", b"a**b", b"*?*", b"??", b"[ab-]",
]
TRICKY_KEYS = [
    b"", b"a", b"b", b"c", b"x", b"ax", b"abc", b"aXc", b"hello", b"hallo", b"hllo", b"heello",
    b"*", b"?", b"[", b"]", b"\\", b"-", b"^", b"a[", b"a\\", b"cx", b"z", b"\x80", b"\xff",
    b"\x7f", b"A", b"Z", b"ab", b"aab", b"ba", b"_", b"`", b"!a",
]


@pytest.mark.parametrize("pattern", TRICKY_PATTERNS)
def test_tricky_patterns_agree_with_the_reference(pattern):
    for key in TRICKY_KEYS:
        for nocase in (False, True):
            assert stringmatch(pattern, key, nocase) == reference_match(pattern, key, nocase), (
                pattern, key, nocase)


_ALPHABET = st.sampled_from(list(b"ab*?[]^-\\zA\xff"))


@settings(max_examples=400, deadline=None)
@given(pattern=st.lists(_ALPHABET, max_size=8).map(bytes),
       key=st.lists(st.sampled_from(list(b"abzA-]^\\[*?\xff")), max_size=7).map(bytes),
       nocase=st.booleans())
def test_random_patterns_agree_with_the_reference(pattern, key, nocase):
    assert stringmatch(pattern, key, nocase) == reference_match(pattern, key, nocase)


def test_empty_string_matches_only_the_empty_pattern():
    assert stringmatch(b"", b"")
    assert not stringmatch(b"*", b"")
    assert not stringmatch(b"", b"a")


def test_many_stars_against_a_long_key_stay_linear():
    """Redis's recursion is exponential here; the segment matcher answers at once."""
    pattern = b"*a" * 10 + b"*b"
    key = b"a" * 10_000
    assert not stringmatch(pattern, key)
    assert stringmatch(pattern, key + b"b")


def test_compiled_patterns_are_cached():
    assert compile_pattern(b"user:*") is compile_pattern(b"user:*")


@pytest.mark.redis
def test_keys_agree_with_a_real_server(redis_server):
    oracle = RedisOracle(redis_server)
    try:
        oracle.call("SELECT", "9")
        oracle.call("FLUSHDB")
        for key in TRICKY_KEYS:
            if key:
                oracle.call("SET", key, "1")
        for pattern in TRICKY_PATTERNS:
            theirs = parse_reply(oracle.raw("KEYS", pattern))
            expected = sorted(k for k in TRICKY_KEYS if k and stringmatch(pattern, k))
            if pattern == b"*":
                expected = sorted(k for k in TRICKY_KEYS if k)
            assert sorted(theirs) == expected, pattern
        oracle.call("FLUSHDB")
    finally:
        oracle.close()
