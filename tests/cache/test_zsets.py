"""Sorted sets: scripts compared byte for byte with redis-server in RESP2 and RESP3,
random-command differentials, and unit tests of what Redis leaves to chance (ZSCAN
order under mutation, ZRANDMEMBER) in virtual time.

Script lines are split on spaces; `''` is an empty argument and `\\xNN` escapes
(`\\x20` for a space, `\\x00` for NUL) are decoded in every word.
"""

from __future__ import annotations

import codecs

import pytest

from tests.cache.harness import Harness, RedisOracle, parse_reply

LISTPACK_DEFAULTS = {"zset-max-listpack-entries": "128", "zset-max-listpack-value": "64"}


def words(line: str) -> list[bytes]:
    return [b"" if w == "''" else codecs.escape_decode(w.encode())[0] for w in line.split()]


class Pair:
    """A harness and a redis-server connection speaking the same protocol, replies compared."""

    def __init__(self, port: int, proto: int, seed: int = 1) -> None:
        self.proto = proto
        self.harness = Harness(seed)
        self.oracle = RedisOracle(port)
        self.oracle.call("FLUSHALL")
        for name, value in LISTPACK_DEFAULTS.items():
            self.config(name, value)
        if proto == 3:
            self.oracle.raw("HELLO", "3")
            self.harness.run("HELLO", "3")

    def config(self, name: str, value: str) -> None:
        assert self.harness.run("CONFIG", "SET", name, value) == b"OK"
        assert self.oracle.call("CONFIG", "SET", name, value) == b"OK"

    def both(self, *args) -> tuple[bytes, bytes]:
        return self.harness.run_raw(*args, proto=self.proto), self.oracle.raw(*args)

    def check(self, *args) -> bytes:
        ours, theirs = self.both(*args)
        assert ours == theirs, \
            f"{args!r} (RESP{self.proto}): flowcache {ours!r} != redis {theirs!r}"
        return ours

    def script(self, text: str) -> None:
        for line in text.strip().splitlines():
            if line.strip() and not line.strip().startswith("#"):
                self.check(*words(line))

    def close(self) -> None:
        for name, value in LISTPACK_DEFAULTS.items():
            self.oracle.call("CONFIG", "SET", name, value)
        self.oracle.call("FLUSHALL")
        self.oracle.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, redis_server):
    p = Pair(redis_server, request.param)
    yield p
    p.close()


SCRIPTS = {
    "zadd_options": """
        ZADD k 1 a 2 b
        ZADD k NX XX 1 a
        ZADD k GT LT 1 a
        ZADD k NX GT 1 a
        ZADD k NX LT 1 a
        ZADD k nx xx gt 1 a
        ZADD k INCR 1 a 2 b
        ZADD k INCR NX XX 1 a 2 b
        ZADD k 1 a 2
        ZADD k CH 1
        ZADD k ch
        ZADD k 1 a ch 2
        ZADD k nan a
        ZADD k -nan a
        ZADD k 1.5x a
        ZADD k \\x201 a
        ZADD k 1\\x20 a
        ZADD k 1\\x00 a
        ZADD k '' a
        ZADD k 1e400 a
        ZADD k -1e400 a
        ZADD k 1e-400 a
        ZADD k 0x ha
        ZADD k 1e hb
        ZADD k . hc
        ZADD k 0x10 h1 0X1P3 h2 -0x.8 h3 0x1.8p1 h4 .5 h5 5. h6 +7 h7 1.e2 h8
        ZADD k 4e-320 tiny inf i -inf ni +inf pi INFINITY ii -Infinity nii
        ZRANGE k 0 -1 WITHSCORES
        ZADD k XX GT 3 a
        ZADD k XX LT 3 a
        ZADD k XX LT CH 0.5 a
        ZADD k CH 0.5 a 7 b 8 new
        ZADD k XX 1 nothere
        ZADD k NX 100 a 100 brandnew
        ZRANGE k 0 -1 WITHSCORES
        ZADD nokey XX 1 a
        EXISTS nokey
        ZADD nokey XX INCR 1 a
        ZADD nokey GT 1 a
        ZADD nokey2 LT INCR 5 a
        ZADD k INCR 1 a
        ZADD k INCR inf i
        ZADD k INCR -inf i
        ZADD k INCR -inf ni
        ZADD k NX INCR 5 a
        ZADD k XX INCR 5 nothere
        ZADD k GT INCR -5 a
        ZADD k LT INCR -5 a
        ZADD k GT INCR 0 a
        ZADD k INCR 0 a
        ZSCORE k a
        ZINCRBY k 1 a
        ZINCRBY k abc a
        ZINCRBY k nan a
        ZINCRBY k NX a
        ZINCRBY k inf i
        ZINCRBY k -inf i
        ZINCRBY k 0.1 f
        ZINCRBY k 0.2 f
        ZINCRBY k -0.30000000000000004 f
        ZSCORE k f
        ZINCRBY newkey 2.5 m
        ZSCORE newkey m
        SET str v
        ZADD str 1 a
        ZINCRBY str 1 a
        ZADD str XX 1 a
    """,
    "scores_format": """
        ZADD k 0.1 a 0.3333333333333333 b 1e-7 c 9007199254740993 d 1.7976931348623157e308 e
        ZADD k 123456789012345678 f -1.5e-7 g 4611686018427387904 h 4611686018427387905 i
        ZADD k 2.2250738585072014e-308 j 5e-324 k1 100 l -100.25 m 1e21 n 1e15 o
        ZRANGE k 0 -1 WITHSCORES
        ZMSCORE k a b c d e f g h i j k1 l m n o nope
        ZSCAN k 0
    """,
    "negative_zero": """
        ZADD lp -0 m
        ZSCORE lp m
        ZADD lp 0 m
        ZINCRBY lp -0 m
        ZINCRBY lp2 -0 m
        ZSCORE lp2 m
        ZRANGE lp 0 -1 WITHSCORES
        ZSCAN lp 0
        ZUNION 1 lp WEIGHTS -1 WITHSCORES
        ZUNIONSTORE dst 1 lp WEIGHTS -1
        ZSCORE dst m
        CONFIG SET zset-max-listpack-entries 0
        ZADD sl -0 m -0.0 m2 0 m3
        OBJECT ENCODING sl
        ZRANGE sl 0 -1 WITHSCORES
        ZSCORE sl m
        ZADD sl 0 m
        ZSCORE sl m
        ZRANGEBYSCORE sl -0 0 WITHSCORES
        ZRANGEBYSCORE sl (-0 0
        ZCOUNT sl 0 0
    """,
    "lookups": """
        ZADD k 1 a 2 b 3 c 3 d
        ZCARD k
        ZCARD nokey
        ZSCORE k a
        ZSCORE k nope
        ZSCORE nokey a
        ZMSCORE k a nope d
        ZMSCORE nokey a b
        ZRANK k a
        ZRANK k d
        ZRANK k nope
        ZRANK nokey a
        ZREVRANK k a
        ZREVRANK k d
        ZREVRANK k nope
        SET str v
        ZCARD str
        ZSCORE str a
        ZMSCORE str a
        ZRANK str a
        ZREVRANK str a
        ZREM k nope
        ZREM k a nope a
        ZREM k b c d
        EXISTS k
        ZREM k a
        ZREM str a
        ZREM nokey a
    """,
    "counts": """
        ZADD k -inf ninf 1 a 2 b 3 c 3 d 4 e inf pinf
        ZCOUNT k -inf +inf
        ZCOUNT k (1 3
        ZCOUNT k 1 (3
        ZCOUNT k (1 (1
        ZCOUNT k 3 1
        ZCOUNT k (-inf (inf
        ZCOUNT k inf inf
        ZCOUNT k (inf inf
        ZCOUNT k -inf -inf
        ZCOUNT k '' (
        ZCOUNT k \\x201 \\x20(2
        ZCOUNT k (\\x202 +inf
        ZCOUNT k ( (
        ZCOUNT k (\\x20 5
        ZCOUNT k 1\\x00junk 3
        ZCOUNT k 1e400 1e401
        ZCOUNT k -1e400 0
        ZCOUNT k 0x1 0x3
        ZCOUNT k nan 1
        ZCOUNT k 1 (nan
        ZCOUNT k a b
        ZCOUNT k 1 2x
        ZCOUNT nokey a 1
        ZCOUNT nokey 0 1
        ZADD lex 0 a 0 b 0 c 0 d 0 e
        ZLEXCOUNT lex - +
        ZLEXCOUNT lex [b [d
        ZLEXCOUNT lex (b (d
        ZLEXCOUNT lex (b [d
        ZLEXCOUNT lex [d [b
        ZLEXCOUNT lex [b (b
        ZLEXCOUNT lex + -
        ZLEXCOUNT lex - -
        ZLEXCOUNT lex + +
        ZLEXCOUNT lex [ +
        ZLEXCOUNT lex ( +
        ZLEXCOUNT lex [bb [zz
        ZLEXCOUNT lex a +
        ZLEXCOUNT lex [a +x
        ZLEXCOUNT lex [a +\\x00x
        ZLEXCOUNT lex -\\x00 [c
        ZLEXCOUNT lex '' +
        ZLEXCOUNT nokey a b
        ZLEXCOUNT nokey - +
        SET str v
        ZCOUNT str 0 1
        ZLEXCOUNT str - +
        ZCOUNT str x 1
    """,
    "zrange_rank": """
        ZADD k 1 a 2 b 3 c 4 d 5 e
        ZRANGE k 0 -1
        ZRANGE k 0 -1 WITHSCORES
        ZRANGE k 1 3 withscores
        ZRANGE k -2 -1
        ZRANGE k -100 100
        ZRANGE k 3 1
        ZRANGE k 5 10
        ZRANGE k -1 -100
        ZRANGE k 0 0 REV
        ZRANGE k 0 1 REV WITHSCORES
        ZRANGE k -2 -1 REV
        ZRANGE k a 1
        ZRANGE k 0 b
        ZRANGE k 0 9223372036854775808
        ZRANGE k 0 -1 LIMIT 0 1
        ZRANGE k 0 -1 LIMIT 0 -1
        ZRANGE k 0 -1 LIMIT 3 -1
        ZRANGE k 0 -1 LIMIT x 1
        ZRANGE k 0 -1 LIMIT 0
        ZRANGE k 0 -1 REV REV
        ZRANGE k 0 -1 BYSCORE BYLEX
        ZRANGE k 0 -1 BYLEX BYLEX
        ZRANGE k 0 -1 FOO
        ZRANGE k 0 -1 FOO LIMIT x 1
        ZRANGE k 0 -1 WITHSCORES WITHSCORES
        ZRANGE k 0 -1 WITHSCORES\\x00x
        ZREVRANGE k 0 -1
        ZREVRANGE k 0 1 WITHSCORES
        ZREVRANGE k 0 -1 REV
        ZREVRANGE k 0 -1 BYSCORE
        ZREVRANGE k 0 -1 LIMIT 0 1
        ZRANGE nokey 0 -1
        ZRANGE nokey a b
        ZRANGE nokey 0 -1 BYLEX
        SET str v
        ZRANGE str 0 -1
        ZRANGE str a b
        ZREVRANGE str 0 -1
    """,
    "zrange_byscore": """
        ZADD k -inf ninf 1 a 2 b 2 bb 3 c 4 d 5 e inf pinf
        ZRANGE k -inf +inf BYSCORE
        ZRANGE k -inf +inf BYSCORE WITHSCORES
        ZRANGE k (1 3 BYSCORE
        ZRANGE k (1 (3 BYSCORE LIMIT 0 1
        ZRANGE k 1 5 BYSCORE LIMIT 2 2
        ZRANGE k 1 5 BYSCORE LIMIT 2 -1
        ZRANGE k 1 5 BYSCORE LIMIT 2 -5
        ZRANGE k 1 5 BYSCORE LIMIT -1 2
        ZRANGE k 1 5 BYSCORE LIMIT 0 0
        ZRANGE k 1 5 BYSCORE LIMIT 100 2
        ZRANGE k 1 5 BYSCORE LIMIT 1 2 LIMIT 0 1
        ZRANGE k 5 1 BYSCORE REV
        ZRANGE k 5 1 BYSCORE REV WITHSCORES LIMIT 1 3
        ZRANGE k 1 5 BYSCORE REV
        ZRANGE k (5 (1 BYSCORE REV
        ZRANGE k +inf -inf BYSCORE REV LIMIT 0 2
        ZRANGE k +inf -inf BYSCORE REV LIMIT 7 5
        ZRANGE k +inf -inf BYSCORE REV LIMIT -1 5
        ZRANGE k 2 2 BYSCORE
        ZRANGE k (2 2 BYSCORE
        ZRANGE k x 2 BYSCORE
        ZRANGE k 2 x BYSCORE REV
        ZRANGEBYSCORE k -inf +inf
        ZRANGEBYSCORE k 1 3 WITHSCORES
        ZRANGEBYSCORE k 1 3 WITHSCORES LIMIT 1 1
        ZRANGEBYSCORE k 1 3 LIMIT 1
        ZRANGEBYSCORE k 1 3 REV
        ZRANGEBYSCORE k 1 3 BYSCORE
        ZRANGEBYSCORE k 1 3 BYLEX
        ZRANGEBYSCORE k a 3
        ZREVRANGEBYSCORE k 3 1
        ZREVRANGEBYSCORE k 3 1 WITHSCORES LIMIT 1 5
        ZREVRANGEBYSCORE k 1 3
        ZREVRANGEBYSCORE k +inf -inf LIMIT 0 3
        ZREVRANGEBYSCORE k (3 (1
        ZRANGEBYSCORE nokey 0 1
        ZRANGEBYSCORE nokey x 1
        SET str v
        ZRANGEBYSCORE str 0 1
        ZRANGEBYSCORE str x 1
    """,
    "zrange_bylex": """
        ZADD k 0 a 0 b 0 c 0 d 0 e 0 ee 0 f
        ZRANGE k - + BYLEX
        ZRANGE k [b [e BYLEX
        ZRANGE k (b (e BYLEX
        ZRANGE k [e [b BYLEX
        ZRANGE k - + BYLEX LIMIT 1 2
        ZRANGE k - + BYLEX LIMIT 1 -1
        ZRANGE k - + BYLEX LIMIT -1 2
        ZRANGE k + - BYLEX REV
        ZRANGE k [e [b BYLEX REV
        ZRANGE k (e (b BYLEX REV LIMIT 1 1
        ZRANGE k - + BYLEX WITHSCORES
        ZRANGE k a + BYLEX
        ZRANGE k [a x BYLEX
        ZRANGE k + - BYLEX
        ZRANGE k - - BYLEX
        ZRANGE k [e + BYLEX
        ZRANGE k [ee [ee BYLEX
        ZRANGE k (ee [ee BYLEX
        ZRANGE k [e\\x00 + BYLEX
        ZRANGEBYLEX k - +
        ZRANGEBYLEX k [c +
        ZRANGEBYLEX k [c + LIMIT 1 1
        ZRANGEBYLEX k - + WITHSCORES
        ZRANGEBYLEX k a b
        ZRANGEBYLEX k - + REV
        ZREVRANGEBYLEX k + -
        ZREVRANGEBYLEX k [e (a LIMIT 1 2
        ZREVRANGEBYLEX k - +
        ZADD mixed 1 b 2 a 3 d 4 c 5 e
        ZRANGE mixed [a [c BYLEX
        ZRANGE mixed [b [d BYLEX
        ZRANGE mixed [c [a BYLEX REV
        ZRANGE mixed [d [a BYLEX REV
        ZRANGE mixed + [b BYLEX REV
        ZRANGE mixed [a + BYLEX REV
        ZRANGE mixed - [a BYLEX
        ZLEXCOUNT mixed [a [c
        ZLEXCOUNT mixed [b [d
        ZREMRANGEBYLEX mixed [b [c
        ZRANGE mixed 0 -1
        ZRANGEBYLEX nokey - +
        SET str v
        ZRANGEBYLEX str - +
        ZRANGEBYLEX str a b
    """,
    "zrangestore": """
        ZADD src 1 a 2 b 3 c 4 d
        ZRANGESTORE dst src 0 -1
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst src 1 2 REV
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst src (1 3 BYSCORE LIMIT 0 1
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst src + - BYLEX REV
        ZRANGESTORE dst src 0 -1 WITHSCORES
        ZRANGESTORE dst src 0 -1 LIMIT 0 1
        ZRANGESTORE dst src 5 10
        EXISTS dst
        SET dst v EX 100
        ZRANGESTORE dst src 0 0
        TTL dst
        TYPE dst
        ZRANGESTORE dst nokey 0 -1
        EXISTS dst
        ZRANGESTORE dst src 0 -1
        SET str v
        ZRANGESTORE dst str 0 -1
        ZRANGESTORE str src 0 0
        TYPE str
        ZRANGESTORE src src 1 -1
        ZRANGE src 0 -1 WITHSCORES
        ZRANGESTORE dst src a b
        ZRANGESTORE dst nokey a b
    """,
    "zremrange": """
        ZADD k 1 a 2 b 3 c 4 d 5 e 6 f
        ZREMRANGEBYRANK k 0 0
        ZREMRANGEBYRANK k -1 -1
        ZREMRANGEBYRANK k 10 20
        ZREMRANGEBYRANK k 3 1
        ZREMRANGEBYRANK k a 1
        ZREMRANGEBYRANK k 0 b
        ZRANGE k 0 -1
        ZREMRANGEBYSCORE k (2 (4
        ZREMRANGEBYSCORE k 10 20
        ZREMRANGEBYSCORE k x 1
        ZRANGE k 0 -1
        ZREMRANGEBYSCORE k -inf +inf
        EXISTS k
        ZADD l 0 a 0 b 0 c 0 d
        ZREMRANGEBYLEX l [b (d
        ZREMRANGEBYLEX l a b
        ZREMRANGEBYLEX l + -
        ZRANGE l 0 -1
        ZREMRANGEBYLEX l - +
        EXISTS l
        ZREMRANGEBYRANK nokey 0 -1
        ZREMRANGEBYSCORE nokey 0 1
        ZREMRANGEBYLEX nokey - +
        ZREMRANGEBYRANK nokey x 1
        ZREMRANGEBYLEX nokey x +
        SET str v
        ZREMRANGEBYRANK str 0 -1
        ZREMRANGEBYSCORE str 0 1
        ZREMRANGEBYLEX str - +
        ZREMRANGEBYSCORE str x 1
    """,
    "pops": """
        ZADD k 1 a 2 b 3 c 4 d 5 e 6 f
        ZPOPMIN k
        ZPOPMAX k
        ZPOPMIN k 2
        ZPOPMAX k 1
        ZPOPMIN k 0
        ZPOPMIN k -1
        ZPOPMIN k a
        ZPOPMIN k 1 2
        ZPOPMAX k 100
        EXISTS k
        ZPOPMIN nokey
        ZPOPMIN nokey 0
        ZPOPMAX nokey 3
        SET str v
        ZPOPMIN str
        ZPOPMIN str 0
        ZPOPMAX str -1
        ZADD k 1 a 2 b 3 c
        ZMPOP 1 k MIN
        ZMPOP 1 k max COUNT 5
        EXISTS k
        ZADD k 1 a 2 b 3 c
        ZMPOP 3 nokey nokey2 k MAX COUNT 2
        ZMPOP 1 nokey MIN
        ZMPOP 2 nokey str MIN
        ZMPOP 2 str k MIN
        ZMPOP 0 k MIN
        ZMPOP -1 k MIN
        ZMPOP x k MIN
        ZMPOP 2 k MIN
        ZMPOP 1 k FOO
        ZMPOP 1 k MIN COUNT 0
        ZMPOP 1 k MIN COUNT -1
        ZMPOP 1 k MIN COUNT x
        ZMPOP 1 k MIN COUNT 1 COUNT 1
        ZMPOP 1 k MIN COUNT
        ZMPOP 1 k MIN FOO
        ZMPOP 1 k MIN\\x00x
        ZMPOP 1 k MIN
    """,
    "algebra": """
        ZADD a 1 x 2 y 3 z
        ZADD b 10 y 20 z 30 w
        ZADD c 0.1 x 0.2 y 0.3 z 0.4 w
        SADD s x q
        SET str v
        ZUNION 2 a b
        ZUNION 2 a b WITHSCORES
        ZUNION 3 a b c WITHSCORES
        ZUNION 3 c b a WITHSCORES
        ZUNION 2 a s WITHSCORES
        ZUNION 2 a nokey WITHSCORES
        ZUNION 2 a b WEIGHTS 2 0.5 WITHSCORES
        ZUNION 2 a b WEIGHTS 2 inf AGGREGATE max WITHSCORES
        ZUNION 2 a b WEIGHTS inf -inf WITHSCORES
        ZUNION 2 a b WEIGHTS 0 inf AGGREGATE MIN WITHSCORES
        ZUNION 2 a b AGGREGATE min WITHSCORES
        ZUNION 2 a b AGGREGATE max WITHSCORES
        ZUNION 2 a b AGGREGATE foo
        ZUNION 2 a b AGGREGATE
        ZUNION 2 a b WEIGHTS 1
        ZUNION 2 a b WEIGHTS 1 WITHSCORES
        ZUNION 2 a b WEIGHTS 1 nan
        ZUNION 2 a b WEIGHTS 1 x
        ZUNION 2 a b WITHSCORES WITHSCORES
        ZUNION 2 a b FOO
        ZUNION 0 a
        ZUNION -1 a
        ZUNION x a
        ZUNION 3 a b
        ZUNION 2 a str
        ZUNION 2 str a WEIGHTS x
        ZUNION 1 nokey
        ZINTER 2 a b WITHSCORES
        ZINTER 2 a b WEIGHTS 1 -1 AGGREGATE min WITHSCORES
        ZINTER 2 a a WITHSCORES
        ZINTER 3 a b c WITHSCORES
        ZINTER 2 a s WITHSCORES
        ZINTER 2 s a WITHSCORES
        ZINTER 2 a nokey
        ZINTER 2 a b WEIGHTS inf 0 WITHSCORES
        ZINTER 2 a b WEIGHTS inf 0 AGGREGATE max WITHSCORES
        ZINTER 2 a b WEIGHTS inf -inf WITHSCORES
        ZINTER 2 a str
        ZDIFF 2 a b WITHSCORES
        ZDIFF 2 b a WITHSCORES
        ZDIFF 3 c a b
        ZDIFF 2 a s WITHSCORES
        ZDIFF 2 s a WITHSCORES
        ZDIFF 1 nokey
        ZDIFF 2 a b WEIGHTS 1 1
        ZDIFF 2 a b AGGREGATE sum
        ZDIFF 0 a
        ZDIFF 2 str a
        ZUNIONSTORE d 2 a b
        ZRANGE d 0 -1 WITHSCORES
        OBJECT ENCODING d
        ZUNIONSTORE d 0 a
        ZUNIONSTORE d 2 a b WITHSCORES
        ZUNIONSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX
        ZRANGE d 0 -1 WITHSCORES
        ZINTERSTORE d 2 a nokey
        EXISTS d
        ZINTERSTORE d 2 a b AGGREGATE min
        ZRANGE d 0 -1 WITHSCORES
        ZDIFFSTORE d 1 a
        ZDIFFSTORE d 2 a a
        EXISTS d
        ZDIFFSTORE d 2 a str
        ZUNIONSTORE a 2 a b
        ZRANGE a 0 -1 WITHSCORES
        ZUNIONSTORE str 1 b
        TYPE str
        ZINTERCARD 2 a b
        ZINTERCARD 2 a b LIMIT 1
        ZINTERCARD 2 a b LIMIT 0
        ZINTERCARD 2 a b LIMIT -1
        ZINTERCARD 2 a b LIMIT x
        ZINTERCARD 2 a b LIMIT
        ZINTERCARD 0 a
        ZINTERCARD 2 a b WITHSCORES
        ZINTERCARD 2 a b WEIGHTS 1 1
        ZINTERCARD 2 a s
        ZINTERCARD 2 a nokey
        ZINTERCARD 2 a str
    """,
    "float_sums": """
        ZADD a 0.1 m
        ZADD b 0.2 m
        ZADD c 0.3 m
        ZADD d 1e16 m
        ZADD e 1 m 1 n
        ZADD f -1e16 m 1 n 2 o
        ZUNION 3 a b c WITHSCORES
        ZUNION 3 c a b WITHSCORES
        ZUNION 4 d e f a WITHSCORES
        ZUNION 4 a f e d WITHSCORES
        ZINTER 4 d e f a WITHSCORES
        ZINTER 4 f e a d WITHSCORES
    """,
    "zrandmember_deterministic": """
        ZADD k 1 a 2 b 3 c
        ZRANDMEMBER k 3
        ZRANDMEMBER k 5 WITHSCORES
        ZRANDMEMBER k 0
        ZRANDMEMBER k 0 WITHSCORES
        ZRANDMEMBER k 1 withscore
        ZRANDMEMBER k 1 WITHSCORES x
        ZRANDMEMBER k x
        ZRANDMEMBER k -9223372036854775808
        ZRANDMEMBER k 9223372036854775807 WITHSCORES
        ZRANDMEMBER k -4611686018427387904 WITHSCORES
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 5
        ZRANDMEMBER nokey -5 WITHSCORES
        ZRANDMEMBER nokey x
        SET str v
        ZRANDMEMBER str
        ZRANDMEMBER str 1
        ZRANDMEMBER str x
    """,
    "zscan": """
        ZADD k 1 a 2 b 3 c 123456789012345678 big 4611686018427387904 e62 4611686018427387905 e62b
        ZADD k -4611686018427387904 ne62 -4611686018427387906 ne62b 0.5 half inf i -inf ni
        ZSCAN k 0
        ZSCAN k 0 COUNT 1
        ZSCAN k 17 COUNT 1
        ZSCAN k 0 MATCH b*
        ZSCAN k 0 MATCH * COUNT 2
        ZSCAN k 0 COUNT 0
        ZSCAN k 0 COUNT -1
        ZSCAN k 0 COUNT x
        ZSCAN k 0 MATCH
        ZSCAN k 0 TYPE zset
        ZSCAN k 0 FOO bar
        ZSCAN k abc
        ZSCAN k -1
        ZSCAN k 18446744073709551616
        ZSCAN nokey 0
        ZSCAN nokey abc
        ZSCAN nokey 0 COUNT 0
        SET str v
        ZSCAN str 0
        ZSCAN str 0 COUNT 0
        ZSCAN str abc
    """,
    "encodings": """
        ZADD k 1 a
        OBJECT ENCODING k
        TYPE k
        CONFIG SET zset-max-listpack-entries 3
        CONFIG SET zset-max-listpack-value 4
        ZADD k 2 b 3 c
        OBJECT ENCODING k
        ZADD k 4 d
        OBJECT ENCODING k
        ZREM k a b c
        OBJECT ENCODING k
        ZADD v 1 abcd
        OBJECT ENCODING v
        ZADD v 1 abcde
        OBJECT ENCODING v
        ZADD w 1 abcdefgh
        OBJECT ENCODING w
        ZADD x 1 a 2 b 3 c 4 d
        OBJECT ENCODING x
        ZINCRBY y 1 abcdefg
        OBJECT ENCODING y
        ZUNIONSTORE d 1 x
        OBJECT ENCODING d
        ZPOPMIN x
        ZUNIONSTORE d 1 x
        OBJECT ENCODING d
        ZUNIONSTORE d 1 w
        OBJECT ENCODING d
        ZRANGESTORE r x 0 -1
        OBJECT ENCODING r
        ZADD x 5 e
        ZRANGESTORE r x 0 -1
        OBJECT ENCODING r
        ZRANGESTORE r x -inf +inf BYSCORE
        OBJECT ENCODING r
        ZRANGESTORE r w 0 -1
        OBJECT ENCODING r
        COPY x xc
        OBJECT ENCODING xc
        COPY k kc
        OBJECT ENCODING kc
        ZADD kc 9 new
        ZRANGE k 0 -1
        ZRANGE kc 0 -1
        CONFIG SET zset-max-listpack-entries 0
        ZADD z 1 a
        OBJECT ENCODING z
        ZUNIONSTORE d 1 z
        OBJECT ENCODING d
    """,
}


@pytest.mark.redis
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(pair, name):
    pair.script(SCRIPTS[name])


@pytest.mark.redis
def test_skiplist_zscan_returns_what_redis_returns(pair):
    """Redis walks its hash table and flowcache its hash order: same pairs, own order."""
    pair.config("zset-max-listpack-entries", "4")
    for i in range(300):
        pair.check("ZADD", "k", i % 7 - 3.5 if i % 5 else -0.0, f"m{i}")
    pair.check("OBJECT", "ENCODING", "k")
    for options in ((), ("COUNT", "7"), ("MATCH", "m1*", "COUNT", "50")):
        ours = _full_zscan(pair.harness.run_raw, pair.proto, *options)
        theirs = _full_zscan(lambda *a, proto: pair.oracle.raw(*a), pair.proto, *options)
        assert len(ours) == len(set(ours)), "no churn, so no duplicates"
        assert sorted(ours) == sorted(set(theirs))


def _full_zscan(run, proto, *options) -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[bytes, bytes]] = []
    cursor = b"0"
    while True:
        cursor, flat = parse_reply(run("ZSCAN", "k", cursor, *options, proto=proto))
        pairs.extend(zip(flat[::2], flat[1::2]))
        if cursor == b"0":
            return pairs


def _members(pair: Pair, key: str) -> set[bytes]:
    return set(pair.harness.run("ZRANGE", key, 0, -1))


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("ZRANDMEMBER", "k"), ("ZRANDMEMBER", "k", "1"), ("ZRANDMEMBER", "k", "4"),
    ("ZRANDMEMBER", "k", "4", "WITHSCORES"), ("ZRANDMEMBER", "k", "-20"),
    ("ZRANDMEMBER", "k", "-20", "WITHSCORES"), ("ZRANDMEMBER", "k", "9"),
    ("ZRANDMEMBER", "k", "1", "WITHSCORES"),
])
@pytest.mark.parametrize("encoding", ["listpack", "skiplist"])
def test_zrandmember_has_redis_shape_and_draws_members(pair, args, encoding):
    if encoding == "skiplist":
        pair.config("zset-max-listpack-entries", "2")
    for i in range(10):
        pair.check("ZADD", "k", i / 4, f"m{i}")
    pair.check("OBJECT", "ENCODING", "k")
    ours, theirs = (parse_reply(reply) for reply in pair.both(*args))
    assert type(ours) is type(theirs)
    if isinstance(ours, bytes):
        assert ours in _members(pair, "k")
        return
    assert len(ours) == len(theirs)
    withscores = args[-1] == "WITHSCORES"
    if withscores and pair.proto == 3:
        assert all(len(item) == 2 for item in ours + theirs)
        drawn = [item[0] for item in ours]
        scores = {item[0]: item[1] for item in ours}
    elif withscores:
        drawn = ours[::2]
        scores = {m: float(s) for m, s in zip(ours[::2], ours[1::2])}
    else:
        drawn, scores = ours, {}
    assert set(drawn) <= _members(pair, "k")
    for member, score in scores.items():
        assert score == float(pair.harness.run("ZSCORE", "k", member))
    count = int(args[2]) if len(args) > 2 else 1
    if count > 0:
        assert len(set(drawn)) == len(drawn) == min(count, 10)


def test_zrandmember_draws_from_the_loop_rng_and_replays_per_seed():
    draws = []
    for _ in range(2):
        h = Harness(seed=11)
        h.run("ZADD", "k", *[x for i in range(50) for x in (i, f"m{i}")])
        draws.append([h.run("ZRANDMEMBER", "k", n) for n in (-30, 7, 30, 49)]
                     + [h.run("ZRANDMEMBER", "k") for _ in range(20)])
    assert draws[0] == draws[1]
    negative, seven, thirty, almost_all = draws[0][:4]
    assert len(negative) == 30 and len(set(negative)) < 30, "negative counts repeat members"
    assert len(set(seven)) == 7 and len(set(thirty)) == 30 and len(set(almost_all)) == 49
    assert len(set(draws[0][4:])) > 5


# -- blocking pops ------------------------------------------------------------------------


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def bdiff(request, redis_server):
    from tests.cache.test_lists import BlockingDiff
    d = BlockingDiff(redis_server, request.param)
    yield d
    d.close()


@pytest.mark.redis
def test_blocking_pops_answer_at_once_when_a_zset_has_members(bdiff):
    bdiff.call(2, "ZADD", "k", "1", "a", "2", "b", "3", "c", "4", "d")
    bdiff.call(0, "BZPOPMIN", "nokey", "k", "0")
    bdiff.call(0, "BZPOPMAX", "k", "0")
    bdiff.call(0, "BZMPOP", "0", "2", "nokey", "k", "MIN", "COUNT", "5")
    bdiff.call(0, "EXISTS", "k")
    bdiff.call(2, "SET", "str", "v")
    for args in (("BZPOPMIN", "str", "0"), ("BZPOPMAX", "nokey", "str", "0"),
                 ("BZMPOP", "0", "2", "nokey", "str", "MAX"), ("BZPOPMIN", "k", "x"),
                 ("BZPOPMIN", "k", "-1"), ("BZMPOP", "x", "1", "k", "MIN"),
                 ("BZMPOP", "-1", "1", "k", "MIN"), ("BZMPOP", "0", "0", "k", "MIN"),
                 ("BZMPOP", "x", "0", "k", "MIN"), ("BZMPOP", "0", "1", "k", "FOO"),
                 ("BZMPOP", "0", "1", "k", "MIN", "COUNT", "0"),
                 ("BZMPOP", "0", "1", "k", "MIN", "COUNT", "1", "x"),
                 ("BZMPOP", "0", "2", "k", "MIN"), ("BZPOPMIN", "k", "1e400")):
        bdiff.call(0, *args)


@pytest.mark.redis
def test_blocked_zset_pops_are_served_oldest_first(bdiff):
    bdiff.block(0, "BZPOPMIN", "k", "0")
    bdiff.block(1, "BZPOPMAX", "other", "k", "0")
    bdiff.call(2, "ZADD", "k", "1", "a", "2", "b", "3", "c")
    bdiff.reply(0)
    bdiff.reply(1)
    assert bdiff.waiting() == []
    bdiff.call(2, "ZRANGE", "k", "0", "-1", "WITHSCORES")


@pytest.mark.redis
def test_a_zset_pop_blocked_on_several_keys_takes_the_key_that_was_written(bdiff):
    bdiff.block(0, "BZPOPMIN", "k1", "k2", "k3", "0")
    bdiff.call(2, "ZADD", "k3", "inf", "x")
    bdiff.reply(0)
    bdiff.block(1, "BZMPOP", "0", "2", "k1", "k2", "MAX", "COUNT", "2")
    bdiff.call(2, "ZADD", "k2", "1", "a", "2", "b", "3", "c")
    bdiff.reply(1)
    bdiff.call(2, "ZRANGE", "k2", "0", "-1", "WITHSCORES")
    bdiff.block(0, "BZMPOP", "0", "1", "k4", "MIN", "COUNT", "9")
    bdiff.call(2, "ZINCRBY", "k4", "1.5", "new")
    bdiff.reply(0)
    bdiff.call(2, "EXISTS", "k4")


@pytest.mark.redis
def test_a_zset_key_of_another_type_leaves_the_client_blocked(bdiff):
    bdiff.block(0, "BZPOPMIN", "k", "0")
    bdiff.call(2, "SET", "k", "string")
    assert bdiff.waiting() == [0]
    bdiff.call(2, "DEL", "k")
    bdiff.call(2, "ZADD", "k", "5", "v")
    bdiff.reply(0)
    bdiff.call(2, "EXISTS", "k")


@pytest.mark.redis
def test_writes_in_exec_wake_zset_waiters_in_the_order_keys_became_ready(bdiff):
    bdiff.block(0, "BZPOPMIN", "a", "b", "0")
    bdiff.block(1, "BZMPOP", "0", "2", "b", "a", "MAX")
    for args in (("MULTI",), ("ZADD", "b", "1", "x"), ("ZADD", "a", "2", "y"), ("EXEC",)):
        bdiff.call(2, *args)
    bdiff.reply(0)
    bdiff.reply(1)


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ("BZPOPMIN", "nokey", "0.05"), ("BZPOPMAX", "n1", "n2", "0.05"),
    ("BZMPOP", "0.05", "1", "n", "MIN"), ("BZMPOP", "0.05", "2", "n", "m", "MAX", "COUNT", "3"),
])
def test_zset_pop_timeouts_answer_a_null_array(bdiff, args):
    bdiff.block(0, *args)
    bdiff.time_out(0, 0.05)
    bdiff.call(0, "EXISTS", "n")


@pytest.mark.redis
def test_blocking_zset_pops_inside_multi_answer_at_once(bdiff):
    for args in (("MULTI",), ("BZPOPMIN", "n", "0"), ("BZPOPMAX", "n", "0"),
                 ("BZMPOP", "0", "1", "n", "MIN"), ("ZADD", "n", "1", "a"),
                 ("BZPOPMAX", "n", "0"), ("EXEC",)):
        bdiff.call(0, *args)


def _redis_stats(oracle: RedisOracle) -> tuple[int, int]:
    info = parse_reply(oracle.raw("INFO", "stats")).decode()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])


@pytest.mark.redis
def test_hits_and_misses_are_counted_like_redis(redis_server):
    """Read commands count keyspace hits and misses, write commands do not (as in t_zset.c)."""
    pair = Pair(redis_server, 2)
    try:
        pair.check("ZADD", "z", "1", "a", "2", "b")
        pair.check("SADD", "s", "a")
        stats = pair.harness.server.stats
        for line in """
            ZADD z 3 c
            ZINCRBY z 1 a
            ZREM z nope
            ZCARD z
            ZCARD nokey
            ZSCORE z a
            ZMSCORE nokey a
            ZRANK z a
            ZREVRANK nokey a
            ZCOUNT z 0 10
            ZLEXCOUNT nokey - +
            ZRANGE z 0 -1
            ZRANGEBYSCORE nokey 0 1
            ZRANGESTORE d z 0 -1
            ZRANGESTORE d nokey 0 -1
            ZREMRANGEBYRANK nokey 0 1
            ZUNION 3 z s nokey
            ZINTERSTORE d 2 z s
            ZDIFF 2 z nokey
            ZINTERCARD 2 z s
            ZRANDMEMBER z 10
            ZRANDMEMBER nokey 3
            ZSCAN z 0
            ZSCAN nokey 0
            ZPOPMIN nokey
            ZMPOP 2 nokey z MIN
            BZPOPMAX z 0
        """.strip().splitlines():
            before_ours = (stats.keyspace_hits, stats.keyspace_misses)
            before_theirs = _redis_stats(pair.oracle)
            pair.check(*words(line))
            after_theirs = _redis_stats(pair.oracle)
            ours = (stats.keyspace_hits - before_ours[0], stats.keyspace_misses - before_ours[1])
            assert ours == (after_theirs[0] - before_theirs[0],
                            after_theirs[1] - before_theirs[1]), line
    finally:
        pair.close()
