"""Differential testing of collection commands against a real redis-server.

`Session` feeds a Harness and redis-server the same commands in RESP2 or
RESP3 and compares the replies: byte for byte, or with the order Redis
leaves to its hash table taken out (`canonical`), or by shape only. Scripts
(`run_script`) and hypothesis command sequences over a few colliding keys
(`SEQ_COMMANDS`, `run_sequence`) build on it; test_sets and test_hashes use
both. Random replies are checked for shape and membership, and an SPOP's
divergent outcome is rebuilt identically on both sides before going on.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import strategies as st

from tests.cache.harness import Harness, RedisOracle, parse_reply

ENCODING_SETTINGS = ("set-max-intset-entries", "hash-max-listpack-entries",
                     "hash-max-listpack-value")

# -- typed replies and how to compare them -------------------------------------------


def typed(data: bytes, pos: int = 0) -> tuple[tuple[str, object], int]:
    """One RESP value as ((kind, payload), next position), keeping set/map/array apart."""
    end = data.index(b"\r\n", pos)
    kind, rest, pos = data[pos:pos + 1], data[pos + 1:end], end + 2
    simple = {b"+": "status", b"-": "error", b":": "int", b",": "double", b"#": "bool",
              b"_": "null"}
    if kind in simple:
        return (simple[kind], rest), pos
    n = int(rest)
    if kind == b"$":
        if n < 0:
            return ("null", None), pos
        return ("bulk", data[pos:pos + n]), pos + n + 2
    if n < 0:
        return ("null", None), pos
    items = []
    for _ in range(2 * n if kind == b"%" else n):
        item, pos = typed(data, pos)
        items.append(item)
    if kind == b"%":
        return ("map", list(zip(items[::2], items[1::2]))), pos
    return ({b"*": "array", b"~": "set"}[kind], items), pos


def decode(data: bytes) -> tuple[str, object]:
    value, end = typed(data)
    assert end == len(data), data
    return value


def _sorted(items: list) -> list:
    return sorted(items, key=repr)


def _pairs(kind: str, payload: list) -> list:
    return payload if kind == "map" else [tuple(payload[i:i + 2]) for i in range(0, len(payload), 2)]


def canonical(raw: bytes, mode: str) -> object:
    """The reply with the order Redis does not define taken out.

    unordered: sort the elements; pairs: sort field/value pairs (flat array or
    map); scan / scanpairs: a SCAN reply's cursor dropped, its elements sorted.
    """
    kind, payload = decode(raw)
    if kind not in ("array", "set", "map"):
        return kind, payload
    if mode == "unordered":
        return kind, _sorted(payload)
    if mode == "pairs":
        return kind, _sorted(_pairs(kind, payload))
    inner_kind, inner = payload[1]
    if mode == "scan":
        return kind, inner_kind, _sorted(inner)
    return kind, inner_kind, _sorted(_pairs(inner_kind, inner))


def bulks(raw: bytes) -> list[bytes]:
    """The bulk strings of an array/set reply, nested arrays flattened."""
    out = []

    def walk(value):
        kind, payload = value
        if kind in ("array", "set"):
            for item in payload:
                walk(item)
        elif kind == "bulk":
            out.append(payload)
    walk(decode(raw))
    return out


# -- one harness and one redis-server ---------------------------------------------------


class Session:
    """A Harness and a real redis-server fed the same commands in one protocol."""

    def __init__(self, port: int, proto: int, seed: int = 1) -> None:
        self.harness = Harness(seed)
        self.oracle = RedisOracle(port)
        self.proto = proto
        self.oracle.call("FLUSHALL")
        self.defaults = {name: self.oracle.call("CONFIG", "GET", name)[1]
                         for name in ENCODING_SETTINGS}
        if proto == 3:
            self.oracle.raw("HELLO", "3")
            self.harness.run("HELLO", "3")

    def close(self) -> None:
        for name, value in self.defaults.items():
            self.oracle.call("CONFIG", "SET", name, value)
        self.oracle.call("FLUSHALL")
        self.oracle.close()

    def both(self, *args) -> tuple[bytes, bytes]:
        return self.harness.run_raw(*args, proto=self.proto), self.oracle.raw(*args)

    def check(self, *args, mode: str = "exact") -> bytes:
        ours, theirs = self.both(*args)
        if mode == "exact":
            assert ours == theirs, f"{args!r}: flowcache {ours!r} != redis {theirs!r}"
        elif mode == "shape":
            a, b = decode(ours), decode(theirs)
            assert a[0] == b[0], f"{args!r}: {ours!r} vs {theirs!r}"
            if a[0] == "error":
                assert ours == theirs, f"{args!r}: {ours!r} vs {theirs!r}"
            if a[0] in ("array", "set", "map"):
                assert len(a[1]) == len(b[1]), f"{args!r}: {ours!r} vs {theirs!r}"
        else:
            assert canonical(ours, mode) == canonical(theirs, mode), \
                f"{args!r}: flowcache {ours!r} != redis {theirs!r}"
        return ours

    def configure(self, **settings: int) -> None:
        for name, value in settings.items():
            name = name.replace("_", "-")
            self.harness.run("CONFIG", "SET", name, value)
            self.oracle.call("CONFIG", "SET", name, value)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def session(redis_server, request):
    s = Session(redis_server, request.param)
    yield s
    s.close()


_LONG = re.compile(r"<(.)\*(\d+)>")
MODES = ("unordered", "pairs", "scan", "scanpairs", "shape")


def run_script(session: Session, script: str) -> None:
    """One command a line, words split on spaces; `''` is an empty argument and
    `<x*65>` is 65 x's. A leading `unordered:` (or another of MODES) says how
    to compare; otherwise replies must be byte-identical."""
    for line in script.strip().splitlines():
        line = line.strip()
        mode = "exact"
        head, _, rest = line.partition(": ")
        if head in MODES:
            mode, line = head, rest
        args = []
        for word in line.split():
            long = _LONG.fullmatch(word)
            args.append(b"" if word == "''" else
                        long.group(1).encode() * int(long.group(2)) if long else word.encode())
        session.check(*args, mode=mode)


# -- whole SCAN iterations ------------------------------------------------------------


def full_scan(run, command: str, key: str, *options) -> tuple[list[bytes], int]:
    """All elements a complete SSCAN/HSCAN iteration returns, and how many calls it took."""
    seen: list[bytes] = []
    cursor = b"0"
    calls = 0
    while True:
        reply = run(command, key, cursor, *options)
        calls += 1
        cursor, batch = reply
        seen.extend(batch)
        if cursor == b"0":
            return seen, calls


def scan_with_churn(h: Harness, command: str, key: str, mutate) -> set:
    """Fields (HSCAN) or members (SSCAN) of one iteration, calling mutate(step) after each call."""
    seen = set()
    cursor = b"0"
    step = 0
    while True:
        cursor, batch = h.run(command, key, cursor, "COUNT", 7)
        seen.update(batch[::2] if command == "HSCAN" else batch)
        mutate(step)
        step += 1
        if cursor == b"0":
            return seen


# -- hypothesis command sequences over colliding keys -------------------------------------

KEYS = st.sampled_from(["a", "b", "c"])
SEQ_MEMBERS = st.sampled_from(["1", "2", "3", "-5", "10", "01", "x", "y", "", "longmember1"])
FIELDS = st.sampled_from(["f", "g", "1", "", "longfield1"])
VALUES = st.sampled_from(["1", "-2", "1.5", "x", "", "3e2", "123456789", "9223372036854775807"])
COUNTS = st.sampled_from(["0", "1", "2", "3", "5", "-1", "-3", "x", "-9223372036854775808"])


def _many(strategy, low=1, high=4):
    return st.lists(strategy, min_size=low, max_size=high)


SEQ_COMMANDS = st.one_of(
    st.builds(lambda c, k, ms: (c, k, *ms), st.sampled_from(["SADD", "SREM", "SMISMEMBER"]),
              KEYS, _many(SEQ_MEMBERS)),
    st.tuples(st.just("SISMEMBER"), KEYS, SEQ_MEMBERS),
    st.tuples(st.sampled_from(["SCARD", "SMEMBERS", "TYPE", "EXISTS", "DEL", "SPOP",
                               "SRANDMEMBER", "HLEN", "HKEYS", "HVALS", "HGETALL",
                               "HRANDFIELD"]), KEYS),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), KEYS),
    st.tuples(st.sampled_from(["SPOP", "SRANDMEMBER", "HRANDFIELD"]), KEYS, COUNTS),
    st.tuples(st.just("HRANDFIELD"), KEYS, COUNTS, st.just("WITHVALUES")),
    st.tuples(st.just("SMOVE"), KEYS, KEYS, SEQ_MEMBERS),
    st.builds(lambda c, ks: (c, *ks), st.sampled_from(["SINTER", "SUNION", "SDIFF"]),
              _many(KEYS, 1, 3)),
    st.builds(lambda c, d, ks: (c, d, *ks),
              st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), KEYS,
              _many(KEYS, 1, 3)),
    st.builds(lambda ks, lim: ("SINTERCARD", str(len(ks)), *ks, *lim), _many(KEYS, 1, 3),
              st.sampled_from([(), ("LIMIT", "1"), ("LIMIT", "0"), ("LIMIT", "-1")])),
    st.builds(lambda k, opts: ("SSCAN*", k, *opts), KEYS,
              st.sampled_from([(), ("COUNT", "2"), ("MATCH", "1*"), ("MATCH", "*o*", "COUNT", "1")])),
    st.builds(lambda k, fvs: ("HSET", k, *[x for fv in fvs for x in fv]), KEYS,
              _many(st.tuples(FIELDS, VALUES), 1, 3)),
    st.tuples(st.just("HSETNX"), KEYS, FIELDS, VALUES),
    st.builds(lambda c, k, fs: (c, k, *fs), st.sampled_from(["HDEL", "HMGET"]), KEYS,
              _many(FIELDS)),
    st.tuples(st.sampled_from(["HGET", "HEXISTS", "HSTRLEN"]), KEYS, FIELDS),
    st.tuples(st.just("HINCRBY"), KEYS, FIELDS, st.sampled_from(["1", "-3", "x", "100000"])),
    st.tuples(st.just("HINCRBYFLOAT"), KEYS, FIELDS,
              st.sampled_from(["0.1", "-2.5", "1e3", "inf", "x", "3"])),
    st.builds(lambda k, opts: ("HSCAN*", k, *opts), KEYS,
              st.sampled_from([(), ("COUNT", "2"), ("MATCH", "f*")])),
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("COPY"), KEYS, KEYS, st.just("REPLACE")),
)

UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS"}
RANDOM = {"SPOP", "SRANDMEMBER", "HRANDFIELD"}


def _contents(session: Session, key: str) -> tuple[str, set]:
    """The key's type and elements (members, or (field, value) pairs) on our side."""
    kind = session.harness.run("TYPE", key)
    if kind == b"set":
        return "set", set(session.harness.run("SMEMBERS", key))
    if kind == b"hash":
        return "hash", set(session.harness.run("HGETALL", key))
    return kind.decode(), set()


def _check_random(session: Session, args: tuple) -> None:
    kind, before = _contents(session, args[1])
    ours, theirs = session.both(*args)
    a, b = decode(ours), decode(theirs)
    assert a[0] == b[0], (args, ours, theirs)
    if a[0] == "error":
        assert ours == theirs, (args, ours, theirs)
        return
    if a[0] in ("array", "set"):
        assert len(a[1]) == len(b[1]), (args, ours, theirs)
    elements = {f for f, _ in before} if kind == "hash" else before
    values = {v for _, v in before} if kind == "hash" else set()
    assert set(bulks(ours)) <= elements | values
    if args[0] == "SPOP":  # state diverged: rebuild the key identically on both sides
        _, after = _contents(session, args[1])
        for side in (session.harness.run, session.oracle.call):
            side("DEL", args[1])
            if after:
                side("SADD", args[1], *sorted(after))


def _check_full_scan(session: Session, args: tuple) -> None:
    command = args[0].rstrip("*")
    first = session.both(command, args[1], "0", *args[2:])
    if decode(first[0])[0] == "error" or decode(first[1])[0] == "error":
        assert first[0] == first[1], (args, first)
        return
    ours, _ = full_scan(lambda *a: parse_reply(session.harness.run_raw(*a)), command, *args[1:2],
                        *args[2:])
    theirs, _ = full_scan(lambda *a: parse_reply(session.oracle.raw(*a)), command, *args[1:2],
                          *args[2:])
    if command == "HSCAN":
        ours, theirs = list(zip(ours[::2], ours[1::2])), list(zip(theirs[::2], theirs[1::2]))
    assert sorted(ours) == sorted(set(theirs)), args


def run_sequence(session: Session, commands: list[tuple]) -> None:
    session.oracle.call("FLUSHALL")
    session.harness.run("FLUSHALL")
    for args in commands:
        name = args[0]
        if name.endswith("*"):
            _check_full_scan(session, args)
        elif name in RANDOM and len(args) > 1:
            _check_random(session, args)
        elif name == "HGETALL":
            session.check(*args, mode="pairs")
        else:
            session.check(*args, mode="unordered" if name in UNORDERED else "exact")
    for key in ("a", "b", "c"):
        session.check("TYPE", key)
        session.check("OBJECT", "ENCODING", key)
