"""Sorted-set commands over several keys, pops, ZRANDMEMBER and ZSCAN (Redis 7.0 t_zset.c).

ZUNION/ZINTER/ZDIFF (and their STORE forms, and ZINTERCARD) follow
zunionInterDiffGenericCommand: plain sets count as zsets with score 1, the
inputs of a union or intersection are visited smallest first (a stable sort,
as glibc's qsort is), so floating-point sums add up in Redis's order, and a
stored result is a listpack only if it fits the listpack limits.

The pops follow genericZpopCommand, whose reply shape depends on the
command and the protocol: flat in RESP2, [member, score] pairs in RESP3 when
a count was given, and [key, [[member, score]...]] for ZMPOP/BZMPOP.
"""

from __future__ import annotations

from typing import Any, Callable

from cache import blocking, errors
from cache.commands.lists import first_ready, parse_mpop
from cache.commands.sets import (SCAN_ARGS, SCAN_COMPLEXITY, parse_positive,
                                 parse_rand_options, scan_start, store_or_delete)
from cache.commands.strings import option_word, parse_ll
from cache.commands.table import command
from cache.commands.zsets import (after_removal, listpack_limits, parse_double, scored,
                                  zset_or_none)
from cache.datatypes.zsets import ZSet
from cache.errors import CommandError
from cache.keyspace import type_name
from cache.reply import NULL_ARRAY, Double
from cache.resp import format_double

UNION, INTER, DIFF = "union", "inter", "diff"


def _sum(total: float, value: float) -> float:
    total += value
    return 0.0 if total != total else total  # inf + -inf counts as 0, as in Redis


_AGGREGATES: dict[bytes, Callable[[float, float], float]] = {
    b"SUM": _sum,
    b"MIN": lambda total, value: value if value < total else total,
    b"MAX": lambda total, value: value if value > total else total,
}


class _Source:
    """One input of the set algebra: a zset, a plain set (scores 1) or a missing key."""

    __slots__ = ("value", "weight")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.weight = 1.0

    def __len__(self) -> int:
        return 0 if self.value is None else len(self.value)

    def entries(self) -> Any:
        if self.value is None:
            return ()
        if type(self.value) is ZSet:
            return iter(self.value)
        return ((1.0, member) for member in self.value)

    def score(self, member: bytes) -> float | None:
        if type(self.value) is ZSet:
            return self.value.score(member)
        return 1.0 if member in self.value else None


def _weighted(weight: float, score: float) -> float:
    value = weight * score
    return 0.0 if value != value else value


def _combine(op: str, sources: list[_Source], aggregate: Callable, limit: int = 0,
             count_only: bool = False) -> Any:
    """The result entries of the operation, or only their number (ZINTERCARD)."""
    if op == UNION:
        totals: dict[bytes, float] = {}
        for src in sources:
            for score, member in src.entries():
                value = _weighted(src.weight, score)
                total = totals.get(member)
                totals[member] = value if total is None else aggregate(total, value)
        return [(score, member) for member, score in totals.items()]
    if op == DIFF:
        first, others = sources[0], [src for src in sources[1:] if len(src)]
        return [(score, member) for score, member in first.entries()
                if not any(src.score(member) is not None for src in others)]
    out: list = []
    found = 0
    if not len(sources[0]):
        return 0 if count_only else out
    first = sources[0]
    for score, member in first.entries():
        total = _weighted(first.weight, score)
        for src in sources[1:]:
            other = score if src.value is first.value else src.score(member)
            if other is None:
                break
            total = aggregate(total, other * src.weight)
        else:
            found += 1
            if count_only:
                if limit and found >= limit:
                    break
            else:
                out.append((total, member))
    return found if count_only else out


def _zsetop(client: Any, argv: list[bytes], numkeys_at: int, op: str, name: str,
            dst: bytes | None = None, count_only: bool = False) -> Any:
    """zunionInterDiffGenericCommand."""
    setnum = parse_ll(argv[numkeys_at])
    if setnum < 1:
        raise CommandError(errors.zset_needs_a_key(name))
    if setnum > len(argv) - numkeys_at - 1:
        raise CommandError(errors.SYNTAX)
    db = client.db
    sources = []
    for key in argv[numkeys_at + 1:numkeys_at + 1 + setnum]:
        value = db.lookup_read(key)
        if value is not None and type(value) is not ZSet and type_name(value) != b"set":
            raise CommandError(errors.WRONGTYPE)
        sources.append(_Source(value))
    aggregate = _sum
    withscores = False
    limit = 0
    j = numkeys_at + 1 + setnum
    algebra = op != DIFF and not count_only
    while j < len(argv):
        remaining = len(argv) - j
        word = option_word(argv[j])
        if algebra and remaining >= setnum + 1 and word == b"WEIGHTS":
            for i, src in enumerate(sources):
                src.weight = parse_double(argv[j + 1 + i], errors.ZSET_WEIGHT_NOT_FLOAT)
            j += setnum + 1
        elif algebra and remaining >= 2 and word == b"AGGREGATE":
            aggregate = _AGGREGATES.get(option_word(argv[j + 1]))
            if aggregate is None:
                raise CommandError(errors.SYNTAX)
            j += 2
        elif dst is None and not count_only and word == b"WITHSCORES":
            withscores = True
            j += 1
        elif count_only and remaining >= 2 and word == b"LIMIT":
            limit = parse_positive(argv[j + 1], errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    if op != DIFF:
        sources.sort(key=len)
    result = _combine(op, sources, aggregate, limit, count_only)
    if count_only:
        return result
    if dst is None:
        return scored(client, sorted(result), withscores)
    entries_limit, value_limit = listpack_limits(client)
    fits = len(result) <= entries_limit and all(len(m) <= value_limit for _, m in result)
    result_zset = ZSet.from_entries(result, listpack=fits)
    return store_or_delete(client, dst, result_zset, "z", name.encode())


_STORE = dict(group="sorted-set", keys=(1, 1, 1), acl="@write @sortedset @slow")
_READ = dict(group="sorted-set", acl="@read @sortedset @slow")
_UNION_COMPLEXITY = ("O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted "
                     "sets, and M being the number of elements in the resulting sorted set.")
_INTER_COMPLEXITY = ("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, "
                     "K being the number of input sorted sets and M being the number of elements "
                     "in the resulting sorted set.")
_DIFF_COMPLEXITY = ("O(L + (N-K)log(N)) worst case where L is the total number of elements in "
                    "all the sets, N is the size of the first set, and K is the size of the "
                    "result set.")
_WEIGHTS = "[WEIGHTS weight:integer...] [AGGREGATE (SUM|MIN|MAX)]"


@command("ZUNIONSTORE", -4, "write denyoom movablekeys", since="2.0.0",
         key_specs=("OW update", "RO access|2|keynum 0 1 1"),
         summary="Add multiple sorted sets and store the resulting sorted set in a new key",
         complexity=_UNION_COMPLEXITY,
         args="destination:key numkeys:integer key... " + _WEIGHTS, **_STORE)
def zunionstore(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 2, UNION, "zunionstore", dst=argv[1])


@command("ZINTERSTORE", -4, "write denyoom movablekeys", since="2.0.0",
         key_specs=("OW update", "RO access|2|keynum 0 1 1"),
         summary="Intersect multiple sorted sets and store the resulting sorted set in a new key",
         complexity=_INTER_COMPLEXITY,
         args="destination:key numkeys:integer key... " + _WEIGHTS, **_STORE)
def zinterstore(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 2, INTER, "zinterstore", dst=argv[1])


@command("ZDIFFSTORE", -4, "write denyoom movablekeys", since="6.2.0",
         key_specs=("OW update", "RO access|2|keynum 0 1 1"),
         summary="Subtract multiple sorted sets and store the resulting sorted set in a new key",
         complexity=_DIFF_COMPLEXITY, args="destination:key numkeys:integer key...", **_STORE)
def zdiffstore(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 2, DIFF, "zdiffstore", dst=argv[1])


@command("ZUNION", -3, "readonly movablekeys", since="6.2.0", summary="Add multiple sorted sets",
         key_specs="RO access|1|keynum 0 1 1",
         complexity=_UNION_COMPLEXITY.replace("M log(M)", "M*log(M)"),
         args="numkeys:integer key... " + _WEIGHTS + " [WITHSCORES]", **_READ)
def zunion(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 1, UNION, "zunion")


@command("ZINTER", -3, "readonly movablekeys", since="6.2.0",
         key_specs="RO access|1|keynum 0 1 1",
         summary="Intersect multiple sorted sets", complexity=_INTER_COMPLEXITY,
         args="numkeys:integer key... " + _WEIGHTS + " [WITHSCORES]", **_READ)
def zinter(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 1, INTER, "zinter")


@command("ZDIFF", -3, "readonly movablekeys", since="6.2.0",
         key_specs="RO access|1|keynum 0 1 1",
         summary="Subtract multiple sorted sets",
         complexity=_DIFF_COMPLEXITY, args="numkeys:integer key... [WITHSCORES]", **_READ)
def zdiff(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 1, DIFF, "zdiff")


@command("ZINTERCARD", -3, "readonly movablekeys", since="7.0.0",
         key_specs="RO access|1|keynum 0 1 1",
         summary="Intersect multiple sorted sets and return the cardinality of the result",
         complexity="O(N*K) worst case with N being the smallest input sorted set, K being the "
                    "number of input sorted sets.",
         args="numkeys:integer key... [LIMIT limit:integer]", **_READ)
def zintercard(client: Any, argv: list[bytes]) -> Any:
    return _zsetop(client, argv, 1, INTER, "zintercard", count_only=True)


# -- pops --------------------------------------------------------------------------------


def zpop(client: Any, keys: list[bytes], highest: bool, count: int, emit_key: bool,
         nested: bool, nil_when_empty: bool) -> Any:
    """genericZpopCommand: pop from the first existing key; count -1 is a plain single pop."""
    db = client.db
    zset = None
    for key in keys:
        zset = zset_or_none(db.lookup_write(key))
        if zset is not None:
            break
    if zset is None:
        return NULL_ARRAY if nil_when_empty else []
    if count == 0:
        return []
    popped = zset.pop(1 if count == -1 else count, highest)
    after_removal(client, key, zset, len(popped), b"zpopmax" if highest else b"zpopmin")
    if nested:
        pairs = [[member, Double(score)] for score, member in popped]
        return [key, pairs] if emit_key else pairs
    flat: list = [key] if emit_key else []
    for score, member in popped:
        flat.append(member)
        flat.append(Double(score))
    return flat


def _zpop_command(client: Any, argv: list[bytes], highest: bool) -> Any:
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    count = -1
    if len(argv) == 3:
        count = parse_positive(argv[2], errors.POSITIVE_COUNT)
    nested = client.proto > 2 and count != -1
    return zpop(client, [argv[1]], highest, count, False, nested, False)


_POP_COMPLEXITY = ("O(log(N)*M) with N being the number of elements in the sorted set, and M "
                   "being the number of elements popped.")


@command("ZPOPMIN", -2, "write fast", keys=(1, 1, 1), group="sorted-set", since="5.0.0",
         key_specs="RW access delete",
         summary="Remove and return members with the lowest scores in a sorted set",
         complexity=_POP_COMPLEXITY, acl="@write @sortedset @fast", args="key [count:integer]")
def zpopmin(client: Any, argv: list[bytes]) -> Any:
    return _zpop_command(client, argv, False)


@command("ZPOPMAX", -2, "write fast", keys=(1, 1, 1), group="sorted-set", since="5.0.0",
         key_specs="RW access delete",
         summary="Remove and return members with the highest scores in a sorted set",
         complexity=_POP_COMPLEXITY, acl="@write @sortedset @fast", args="key [count:integer]")
def zpopmax(client: Any, argv: list[bytes]) -> Any:
    return _zpop_command(client, argv, True)


_MPOP_COMPLEXITY = ("O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                    "number of elements in the sorted set, and M being the number of elements "
                    "popped.")
_MPOP_ARGS = "numkeys:integer key... (where=MIN|MAX) [COUNT count:integer]"


@command("ZMPOP", -4, "write movablekeys", group="sorted-set", since="7.0.0",
         key_specs="RW access delete|1|keynum 0 1 1",
         summary="Remove and return members with scores in a sorted set",
         complexity=_MPOP_COMPLEXITY, acl="@write @sortedset @slow", args=_MPOP_ARGS)
def zmpop(client: Any, argv: list[bytes]) -> Any:
    keys, highest, count = parse_mpop(argv, 1, b"MAX", b"MIN")
    return zpop(client, keys, highest, count, True, True, True)


# -- blocking pops ---------------------------------------------------------------------------


def _serve_first(client: Any, keys: list[bytes], highest: bool, count: int, nested: bool,
                 waiting: bool) -> Any:
    """Pop from the first non-empty zset of `keys` with the key in the reply; None if none."""
    found = first_ready(client, keys, ZSet, waiting)
    if found is None:
        return None
    return zpop(client, [found[0]], highest, count, True, nested, True)


def _blocking_zpop(client: Any, keys: list[bytes], highest: bool, count: int, nested: bool,
                   timeout_ms: int | None) -> Any:
    """blockingGenericZpopCommand: pop now if a zset has members, else wait for one."""
    reply = _serve_first(client, keys, highest, count, nested, False)
    if reply is not None:
        return reply
    return blocking.block(client, keys, timeout_ms,
                          lambda: _serve_first(client, keys, highest, count, nested, True),
                          NULL_ARRAY)


_BLOCKING_POP = dict(keys=(1, -2, 1), group="sorted-set", since="5.0.0",
                     complexity="O(log(N)) with N being the number of elements in the sorted set.",
                     acl="@write @sortedset @fast @blocking", args="key... timeout:double")


@command("BZPOPMIN", -3, "write noscript blocking fast",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         key_specs="RW access delete",
         summary="Remove and return the member with the lowest score from one or more sorted "
                 "sets, or block until one is available", **_BLOCKING_POP)
def bzpopmin(client: Any, argv: list[bytes]) -> Any:
    timeout_ms = blocking.parse_timeout(argv[-1])
    return _blocking_zpop(client, argv[1:-1], False, -1, False, timeout_ms)


@command("BZPOPMAX", -3, "write noscript blocking fast",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         key_specs="RW access delete",
         summary="Remove and return the member with the highest score from one or more sorted "
                 "sets, or block until one is available", **_BLOCKING_POP)
def bzpopmax(client: Any, argv: list[bytes]) -> Any:
    timeout_ms = blocking.parse_timeout(argv[-1])
    return _blocking_zpop(client, argv[1:-1], True, -1, False, timeout_ms)


@command("BZMPOP", -5, "write blocking movablekeys", group="sorted-set", since="7.0.0",
         key_specs="RW access delete|2|keynum 0 1 1",
         summary="Remove and return members with scores in a sorted set or block until one is "
                 "available",
         complexity=_MPOP_COMPLEXITY, acl="@write @sortedset @slow @blocking",
         args="timeout:double " + _MPOP_ARGS)
def bzmpop(client: Any, argv: list[bytes]) -> Any:
    keys, highest, count = parse_mpop(argv, 2, b"MAX", b"MIN")
    timeout_ms = blocking.parse_timeout(argv[1])
    return _blocking_zpop(client, keys, highest, count, True, timeout_ms)


# -- ZRANDMEMBER ----------------------------------------------------------------------------


@command("ZRANDMEMBER", -2, "readonly", keys=(1, 1, 1), group="sorted-set", since="6.2.0",
         summary="Get one or multiple random elements from a sorted set",
         complexity="O(N) where N is the number of elements returned",
         acl="@read @sortedset @slow", tips="nondeterministic_output",
         args="key [options=(count:integer [WITHSCORES])]")
def zrandmember(client: Any, argv: list[bytes]) -> Any:
    if len(argv) >= 3:
        count, withscores = parse_rand_options(argv, b"WITHSCORES")
        return _random_members(client, argv[1], count, withscores)
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    if zset is None:
        return None
    return zset.entry(client.server.random.randbelow(len(zset)))[1]


def _random_members(client: Any, key: bytes, count: int, withscores: bool) -> Any:
    """zrandmemberWithCountCommand: negative counts may repeat, positive ones are distinct."""
    zset = zset_or_none(client.db.lookup_read(key))
    if zset is None or count == 0:
        return []
    rng = client.server.random
    size = len(zset)
    if count < 0 or count == 1:
        picks = [zset.entry(rng.randbelow(size)) for _ in range(abs(count))]
    elif count >= size:  # the whole set, as zuiNext walks it: from the highest down
        picks = zset.entries(0, size, reverse=True)
    else:
        picks = [zset.entry(i) for i in rng.sample(range(size), count)]
    return scored(client, picks, withscores)


# -- ZSCAN -----------------------------------------------------------------------------------


def listpack_score_text(score: float) -> bytes:
    """A score as a listpack stores it (d2string): integers within 2^62 without exponent."""
    if -4611686018427387904.0 <= score <= 4611686018427387904.0 and score == int(score):
        return b"%d" % int(score)
    return format_double(score)


@command("ZSCAN", -3, "readonly", keys=(1, 1, 1), group="sorted-set", since="2.8.0",
         summary="Incrementally iterate sorted sets elements and associated scores",
         complexity=SCAN_COMPLEXITY, acl="@read @sortedset @slow", tips="nondeterministic_output",
         args=SCAN_ARGS)
def zscan(client: Any, argv: list[bytes]) -> Any:
    started = scan_start(client, zset_or_none, argv)
    if started is None:
        return [b"0", []]
    cursor, zset, count, match = started
    if zset.listpack:  # Redis returns a whole listpack at once, COUNT ignored
        next_cursor, entries = 0, list(zset)
        text = listpack_score_text
    else:
        next_cursor, members = zset.scan(cursor, count)
        scores = zset.scores
        entries = [(scores[member], member) for member in members]
        text = format_double
    out = []
    for score, member in entries:
        if match is None or match(member):
            out.append(member)
            out.append(text(score))
    return [b"%d" % next_cursor, out]
