"""The `random` workload: any command of any type, thrown at a small shared key space.

Keys are few and shared by every type, so WRONGTYPE, syntax and range
errors are a normal part of the load; what must never happen is a crash
of a handler (an uncaught actor error), a protocol error, a dropped
connection or a server that stops answering. Each generator below makes
arguments the way a test of that command would (small integers, floats,
members from a small pool, the odd bad argument); only the commands the
server's table declares are used, so new commands join as they are written.
Commands that would change what other workloads' checkers assume (FLUSHALL,
SWAPDB, SELECT, MOVE, CLIENT KILL, CONFIG SET...) are left out.
"""

from __future__ import annotations

from typing import Any, Callable

import flow
from cache.commands import table
from sim.workloads import STARTERS, WorkloadContext, paced_client

Gen = Callable[["Args"], tuple]


class Args:
    """Argument makers on the workload's RNG."""

    def __init__(self, ctx: WorkloadContext, client: int) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.client = client

    def key(self) -> bytes:
        return self.ctx.key()

    def keys(self, lo: int = 1, hi: int = 3) -> list[bytes]:
        return [self.key() for _ in range(self.rng.randint(lo, hi))]

    def int(self, lo: int = -5, hi: int = 20) -> bytes:
        if self.rng.random() < 0.02:
            return self.rng.choice((b"x", b"9223372036854775807", b"-9223372036854775808", b"1.5", b""))
        return b"%d" % self.rng.randint(lo, hi)

    def float(self) -> bytes:
        if self.rng.random() < 0.02:
            return self.rng.choice((b"inf", b"-inf", b"nan", b"1e400", b"abc"))
        return b"%.3g" % self.rng.uniform(-10.0, 10.0)

    def member(self) -> bytes:
        return b"m%d" % self.rng.randint(0, 9)

    def members(self, lo: int = 1, hi: int = 4) -> list[bytes]:
        return [self.member() for _ in range(self.rng.randint(lo, hi))]

    def value(self) -> bytes:
        if self.rng.random() < 0.3:
            return self.int()
        return self.ctx.value(self.client)

    def index(self) -> bytes:
        return b"%d" % self.rng.randint(-6, 6)

    def one(self, *words: bytes) -> bytes:
        return self.rng.choice(words)

    def maybe(self, probability: float, *args: bytes) -> list[bytes]:
        return list(args) if self.rng.random() < probability else []

    def ms(self) -> bytes:
        return b"%d" % self.rng.randint(1, 3000)

    def score_range(self) -> list[bytes]:
        return [self.one(b"-inf", b"0", b"(1", b"2"), self.one(b"+inf", b"5", b"(10", b"3")]

    def lex_range(self) -> list[bytes]:
        return [self.one(b"-", b"[m2", b"(m3"), self.one(b"+", b"[m7", b"(m5")]


G: dict[str, Gen] = {
    # strings
    "get": lambda a: (b"GET", a.key()),
    "set": lambda a: (b"SET", a.key(), a.value(), *a.maybe(0.3, a.one(b"NX", b"XX", b"GET", b"KEEPTTL")),
                      *a.maybe(0.2, a.one(b"PX", b"EX"), a.int(1, 3))),
    "append": lambda a: (b"APPEND", a.key(), a.value()),
    "incr": lambda a: (b"INCR", a.key()),
    "decrby": lambda a: (b"DECRBY", a.key(), a.int()),
    "incrbyfloat": lambda a: (b"INCRBYFLOAT", a.key(), a.float()),
    "getrange": lambda a: (b"GETRANGE", a.key(), a.index(), a.index()),
    "setrange": lambda a: (b"SETRANGE", a.key(), a.int(0, 20), a.value()),
    "strlen": lambda a: (b"STRLEN", a.key()),
    "mset": lambda a: (b"MSET", a.key(), a.value(), a.key(), a.value()),
    "mget": lambda a: (b"MGET", *a.keys()),
    "getex": lambda a: (b"GETEX", a.key(), *a.maybe(0.5, b"PX", a.ms())),
    "getdel": lambda a: (b"GETDEL", a.key()),
    "setnx": lambda a: (b"SETNX", a.key(), a.value()),
    # keys
    "del": lambda a: (b"DEL", *a.keys()),
    "exists": lambda a: (b"EXISTS", *a.keys()),
    "pexpire": lambda a: (b"PEXPIRE", a.key(), a.ms(), *a.maybe(0.2, a.one(b"NX", b"XX", b"GT", b"LT"))),
    "ttl": lambda a: (b"TTL", a.key()),
    "persist": lambda a: (b"PERSIST", a.key()),
    "type": lambda a: (b"TYPE", a.key()),
    "rename": lambda a: (b"RENAME", a.key(), a.key()),
    "copy": lambda a: (b"COPY", a.key(), a.key(), *a.maybe(0.5, b"REPLACE")),
    "touch": lambda a: (b"TOUCH", *a.keys()),
    "object": lambda a: (b"OBJECT", b"ENCODING", a.key()),
    "scan": lambda a: (b"SCAN", b"0", b"MATCH", b"random:*", b"COUNT", a.int(1, 20)),
    "randomkey": lambda a: (b"RANDOMKEY",),
    "dbsize": lambda a: (b"DBSIZE",),
    "ping": lambda a: (b"PING",),
    "echo": lambda a: (b"ECHO", a.value()),
    # lists
    "lpush": lambda a: (b"LPUSH", a.key(), *a.members()),
    "rpush": lambda a: (b"RPUSH", a.key(), *a.members()),
    "lpop": lambda a: (b"LPOP", a.key(), *a.maybe(0.3, a.int(0, 3))),
    "rpop": lambda a: (b"RPOP", a.key()),
    "lrange": lambda a: (b"LRANGE", a.key(), a.index(), a.index()),
    "lindex": lambda a: (b"LINDEX", a.key(), a.index()),
    "lset": lambda a: (b"LSET", a.key(), a.index(), a.member()),
    "lrem": lambda a: (b"LREM", a.key(), a.int(-2, 2), a.member()),
    "ltrim": lambda a: (b"LTRIM", a.key(), a.index(), a.index()),
    "linsert": lambda a: (b"LINSERT", a.key(), a.one(b"BEFORE", b"AFTER"), a.member(), a.member()),
    "llen": lambda a: (b"LLEN", a.key()),
    "lpos": lambda a: (b"LPOS", a.key(), a.member(), *a.maybe(0.3, b"RANK", a.one(b"1", b"-1", b"2"))),
    "lmove": lambda a: (b"LMOVE", a.key(), a.key(), a.one(b"LEFT", b"RIGHT"), a.one(b"LEFT", b"RIGHT")),
    "rpoplpush": lambda a: (b"RPOPLPUSH", a.key(), a.key()),
    "lmpop": lambda a: (b"LMPOP", b"2", a.key(), a.key(), a.one(b"LEFT", b"RIGHT")),
    "blpop": lambda a: (b"BLPOP", a.key(), a.one(b"0.01", b"0.05")),
    "brpop": lambda a: (b"BRPOP", a.key(), a.key(), a.one(b"0.01", b"0.05")),
    "blmove": lambda a: (b"BLMOVE", a.key(), a.key(), b"LEFT", b"RIGHT", b"0.02"),
    # hashes
    "hset": lambda a: (b"HSET", a.key(), a.member(), a.value(), *a.maybe(0.3, a.member(), a.value())),
    "hget": lambda a: (b"HGET", a.key(), a.member()),
    "hdel": lambda a: (b"HDEL", a.key(), *a.members()),
    "hgetall": lambda a: (b"HGETALL", a.key()),
    "hincrby": lambda a: (b"HINCRBY", a.key(), a.member(), a.int()),
    "hincrbyfloat": lambda a: (b"HINCRBYFLOAT", a.key(), a.member(), a.float()),
    "hlen": lambda a: (b"HLEN", a.key()),
    "hkeys": lambda a: (b"HKEYS", a.key()),
    "hvals": lambda a: (b"HVALS", a.key()),
    "hexists": lambda a: (b"HEXISTS", a.key(), a.member()),
    "hsetnx": lambda a: (b"HSETNX", a.key(), a.member(), a.value()),
    "hmget": lambda a: (b"HMGET", a.key(), *a.members()),
    "hrandfield": lambda a: (b"HRANDFIELD", a.key(), *a.maybe(0.5, a.int(-3, 3), *a.maybe(0.5, b"WITHVALUES"))),
    "hscan": lambda a: (b"HSCAN", a.key(), b"0"),
    "hstrlen": lambda a: (b"HSTRLEN", a.key(), a.member()),
    # sets
    "sadd": lambda a: (b"SADD", a.key(), *a.members()),
    "srem": lambda a: (b"SREM", a.key(), *a.members()),
    "smembers": lambda a: (b"SMEMBERS", a.key()),
    "sismember": lambda a: (b"SISMEMBER", a.key(), a.member()),
    "smismember": lambda a: (b"SMISMEMBER", a.key(), *a.members()),
    "scard": lambda a: (b"SCARD", a.key()),
    "spop": lambda a: (b"SPOP", a.key(), *a.maybe(0.4, a.int(0, 3))),
    "srandmember": lambda a: (b"SRANDMEMBER", a.key(), *a.maybe(0.5, a.int(-3, 3))),
    "sinter": lambda a: (b"SINTER", *a.keys()),
    "sunion": lambda a: (b"SUNION", *a.keys()),
    "sdiff": lambda a: (b"SDIFF", *a.keys()),
    "sinterstore": lambda a: (b"SINTERSTORE", a.key(), *a.keys()),
    "sunionstore": lambda a: (b"SUNIONSTORE", a.key(), *a.keys()),
    "sintercard": lambda a: (b"SINTERCARD", b"2", a.key(), a.key()),
    "smove": lambda a: (b"SMOVE", a.key(), a.key(), a.member()),
    "sscan": lambda a: (b"SSCAN", a.key(), b"0"),
    # sorted sets
    "zadd": lambda a: (b"ZADD", a.key(), *a.maybe(0.2, a.one(b"NX", b"XX", b"GT", b"LT", b"CH")),
                       a.float(), a.member(), *a.maybe(0.4, a.float(), a.member())),
    "zrem": lambda a: (b"ZREM", a.key(), *a.members()),
    "zscore": lambda a: (b"ZSCORE", a.key(), a.member()),
    "zmscore": lambda a: (b"ZMSCORE", a.key(), *a.members()),
    "zincrby": lambda a: (b"ZINCRBY", a.key(), a.float(), a.member()),
    "zcard": lambda a: (b"ZCARD", a.key()),
    "zcount": lambda a: (b"ZCOUNT", a.key(), *a.score_range()),
    "zrank": lambda a: (b"ZRANK", a.key(), a.member()),
    "zrevrank": lambda a: (b"ZREVRANK", a.key(), a.member()),
    "zrange": lambda a: (b"ZRANGE", a.key(), a.index(), a.index(), *a.maybe(0.3, b"WITHSCORES")),
    "zrangebyscore": lambda a: (b"ZRANGEBYSCORE", a.key(), *a.score_range(),
                                *a.maybe(0.3, b"LIMIT", a.int(0, 2), a.int(-1, 3))),
    "zrevrangebyscore": lambda a: (b"ZREVRANGEBYSCORE", a.key(), *reversed(a.score_range())),
    "zrangebylex": lambda a: (b"ZRANGEBYLEX", a.key(), *a.lex_range()),
    "zlexcount": lambda a: (b"ZLEXCOUNT", a.key(), *a.lex_range()),
    "zremrangebyrank": lambda a: (b"ZREMRANGEBYRANK", a.key(), a.index(), a.index()),
    "zremrangebyscore": lambda a: (b"ZREMRANGEBYSCORE", a.key(), *a.score_range()),
    "zpopmin": lambda a: (b"ZPOPMIN", a.key(), *a.maybe(0.4, a.int(0, 3))),
    "zpopmax": lambda a: (b"ZPOPMAX", a.key()),
    "zmpop": lambda a: (b"ZMPOP", b"1", a.key(), a.one(b"MIN", b"MAX")),
    "zrandmember": lambda a: (b"ZRANDMEMBER", a.key(), *a.maybe(0.5, a.int(-3, 3))),
    "zunionstore": lambda a: (b"ZUNIONSTORE", a.key(), b"2", a.key(), a.key(),
                              *a.maybe(0.3, b"AGGREGATE", a.one(b"SUM", b"MIN", b"MAX"))),
    "zinterstore": lambda a: (b"ZINTERSTORE", a.key(), b"2", a.key(), a.key()),
    "zunion": lambda a: (b"ZUNION", b"2", a.key(), a.key(), *a.maybe(0.5, b"WITHSCORES")),
    "zdiff": lambda a: (b"ZDIFF", b"2", a.key(), a.key()),
    "zrangestore": lambda a: (b"ZRANGESTORE", a.key(), a.key(), a.index(), a.index()),
    "zscan": lambda a: (b"ZSCAN", a.key(), b"0"),
}


def available() -> list[tuple[str, Gen]]:
    """The generators whose command the server declares, in a fixed order."""
    return [(name, gen) for name, gen in G.items() if name.encode() in table.COMMANDS]


@flow.actor
def random_client(ctx: WorkloadContext, client: int, host: Any, gens: list, stop: flow.AsyncVar):
    args = Args(ctx, client)
    yield from paced_client(ctx, client, host, stop,
                            lambda: ([ctx.rng.choice(gens)[1](args)], 0.0), ctx.spec["rate"])


def start(ctx: WorkloadContext, stop: flow.AsyncVar) -> list[flow.Future]:
    gens = available()
    actors = []
    for client in range(ctx.spec["clients"]):
        host = ctx.runner.add_client_host(f"client-{ctx.index}-{client}")
        actors.append(random_client(ctx, client, host, gens, stop))
    return actors


STARTERS["random"] = start
