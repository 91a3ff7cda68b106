"""LCS compared byte for byte with redis-server 7.0, in RESP2 and RESP3: the walk
order of its matches and its tie-breaking are part of the reply, so only the real
server can say what is right."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cache.harness import Differential


class LcsDiff(Differential):
    """A Differential speaking one protocol on both sides."""

    def __init__(self, port: int, proto: int) -> None:
        super().__init__(port)
        self.proto = proto
        if proto == 3:
            self.oracle.raw("HELLO", "3")
            self.harness.run("HELLO", "3")

    def check(self, *args) -> bytes:
        ours, theirs = self.harness.run_raw(*args, proto=self.proto), self.oracle.raw(*args)
        assert ours == theirs, f"{args!r}: flowcache {ours!r} != redis {theirs!r}"
        return ours


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def diff(request, redis_server):
    d = LcsDiff(redis_server, request.param)
    yield d
    d.oracle.call("CONFIG", "SET", "proto-max-bulk-len", "536870912")
    d.oracle.call("FLUSHALL")
    d.close()


def run_script(diff: LcsDiff, script: str) -> None:
    for line in script.strip().splitlines():
        diff.check(*[b"" if word == "''" else word.encode() for word in line.split()])


SCRIPTS = {
    "plain_len_idx": """
        MSET a ohmytext b mynewtext
        LCS a b
        LCS a b LEN
        LCS a b IDX
        LCS a b idx withmatchlen
        LCS a b IDX MINMATCHLEN 4
        LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS a b IDX MINMATCHLEN -3 WITHMATCHLEN
        LCS a b MINMATCHLEN 2
        LCS a b WITHMATCHLEN
        LCS a b LEN WITHMATCHLEN MINMATCHLEN 1
        LCS b a IDX WITHMATCHLEN
        LCS a a IDX WITHMATCHLEN
    """,
    "errors": """
        SET a abc
        RPUSH l x
        LCS a b LEN IDX
        LCS a b IDX LEN
        LCS a b IDX IDX LEN LEN
        LCS a b MINMATCHLEN
        LCS a b MINMATCHLEN x
        LCS a b MINMATCHLEN 99999999999999999999
        LCS a b FOO
        LCS a b LEN FOO
        LCS a l
        LCS l a
        LCS l nokey FOO
        LCS l a LEN IDX
        LCS a
    """,
    "missing_and_empty": """
        LCS nokey1 nokey2
        LCS nokey1 nokey2 LEN
        LCS nokey1 nokey2 IDX WITHMATCHLEN
        SET a hello
        SET e ''
        LCS a nokey IDX
        LCS nokey a LEN
        LCS a e
        LCS e a IDX
    """,
    "numbers_and_binary": """
        SET n 12345
        SET m 2345
        LCS n m IDX WITHMATCHLEN
        INCR n
        LCS n m
        SET x a\0b\0c
        SET y \0\0
        LCS x y IDX
    """,
    "table_limit": """
        SETRANGE big 1000 x
        SETRANGE other 200 y
        CONFIG SET proto-max-bulk-len 1mb
        LCS big big LEN
        LCS big other IDX
        LCS big nokey
        CONFIG SET proto-max-bulk-len 536870912
        LCS big big LEN
    """,
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_lcs_script_matches_redis(diff, name):
    run_script(diff, SCRIPTS[name])


def test_lcs_long_strings_match_redis(diff):
    """Long strings with many ties, where the backward walk's choices show."""
    a = (b"abcab" * 300)[:1400]
    b = (b"bacbca" * 250)[:1300]
    diff.check("MSET", "a", a, "b", b)
    diff.check("LCS", "a", "b")
    diff.check("LCS", "a", "b", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN")
    rng = random.Random(7)
    diff.check("MSET", "a", bytes(rng.choice(b"abcd") for _ in range(3000)),
               "b", bytes(rng.choice(b"abcd") for _ in range(3007)))
    diff.check("LCS", "a", "b", "LEN")
    diff.check("LCS", "a", "b", "IDX", "WITHMATCHLEN")


def test_lcs_checks_both_keys_hit_stats(diff):
    diff.check("SET", "a", "x")
    diff.check("LCS", "a", "nokey")
    ours = diff.harness.run("INFO", "stats")
    hits = [line for line in ours.split(b"\r\n") if line.startswith(b"keyspace_")]
    assert hits == [b"keyspace_hits:1", b"keyspace_misses:1"]


SHORT = st.binary(max_size=9).map(lambda raw: bytes(b"abc"[byte % 3] for byte in raw))
OPTIONS = st.lists(st.sampled_from([["LEN"], ["IDX"], ["WITHMATCHLEN"], ["MINMATCHLEN", "0"],
                                    ["MINMATCHLEN", "1"], ["MINMATCHLEN", "2"]]),
                   max_size=3)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=SHORT, second=SHORT, options=OPTIONS)
def test_lcs_short_strings_match_redis(diff, first, second, options):
    diff.check("MSET", "a", first, "b", second)
    diff.check("LCS", "a", "b", *[word for option in options for word in option])
