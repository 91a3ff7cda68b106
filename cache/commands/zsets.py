"""Sorted-set commands (Redis 7.0 t_zset.c), over `cache.datatypes.zsets.ZSet`.

This module holds the argument parsers every zset command shares (scores as
C's strtod reads them, score and lex ranges) and the single-key commands:
ZADD/ZINCRBY, lookups, counts and the ZRANGE family, which like Redis's
zrangeGenericCommand is one parser for ZRANGE, ZRANGESTORE and the six
older range commands. Multi-key algebra, pops (blocking too), ZRANDMEMBER
and ZSCAN are in `cache.commands.zset_ops`.

Order of checks follows t_zset.c: options, then range arguments, then the
key lookup and its type, so the same error wins as in Redis.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cache import errors
from cache.commands.lists import announce_removal
from cache.commands.sets import remove_each, store_or_delete
from cache.commands.strings import option_word, parse_ll
from cache.commands.table import command
from cache.datatypes.zsets import MINUS, PLUS, LexRange, ScoreRange, ZSet
from cache.errors import CommandError
from cache.notify import notify
from cache.reply import Double

_INF = math.inf
_C_SPACE = b" \t\n\v\f\r"
_STRTOD = re.compile(rb"""([+-]?)(?:
      0[xX](?P<hex>[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP](?P<hexp>[+-]?[0-9]+))?
    | (?P<dec>[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE](?P<exp>[+-]?[0-9]+))?
    | (?P<inf>inf(?:inity)?)
    | (?P<nan>nan(?:\([0-9A-Za-z_]*\))?)
)""", re.VERBOSE | re.IGNORECASE)

ACL_WRITE_FAST = "@write @sortedset @fast"


# -- argument parsing -------------------------------------------------------------


def strtod(text: bytes) -> tuple[float, bool] | None:
    """C strtod over the whole of `text`: (value, ERANGE to 0 or HUGE_VAL), or None."""
    m = _STRTOD.fullmatch(text)
    if m is None:
        return None
    negative = m.group(1) == b"-"
    if m.group("nan") is not None:
        return math.nan, False
    if m.group("inf") is not None:
        return (-_INF if negative else _INF), False
    if m.group("hex") is not None:
        digits = m.group("hex")
        try:
            value = float.fromhex("0x%sp%s" % (digits.decode(), (m.group("hexp") or b"0").decode()))
        except OverflowError:
            value = _INF
    else:
        digits = m.group("dec")
        value = float(digits + (b"e" + m.group("exp") if m.group("exp") else b""))
    out_of_range = value == _INF or (value == 0 and digits.strip(b"0.") != b"")
    return (-value if negative else value), out_of_range


def parse_double(arg: bytes, message: bytes = errors.NOT_FLOAT) -> float:
    """getDoubleFromObject: all bytes a number, no leading space, no NaN, no overflow."""
    parsed = None if not arg or arg[0] in _C_SPACE else strtod(arg)
    if parsed is None or parsed[1] or parsed[0] != parsed[0]:
        raise CommandError(message)
    return parsed[0]


def _range_bound(arg: bytes) -> tuple[float, bool]:
    """One end of a score range as zslParseRange reads it: `(` for open, then strtod."""
    text = arg.split(b"\0", 1)[0]
    exclusive = text[:1] == b"("
    if exclusive:
        text = text[1:]
    if not text:
        return 0.0, exclusive  # strtod converts nothing and stops on the terminator
    parsed = strtod(text.lstrip(_C_SPACE)) if text.strip(_C_SPACE) else None
    if parsed is None or parsed[0] != parsed[0]:
        raise CommandError(errors.ZSET_MIN_MAX_NOT_FLOAT)
    return parsed[0], exclusive


def parse_score_range(low: bytes, high: bytes) -> ScoreRange:
    return ScoreRange(*_range_bound(low), *_range_bound(high))


def _lex_bound(arg: bytes) -> tuple[object, bool]:
    head = arg[:1]
    if head in (b"+", b"-"):
        if arg[1:2] not in (b"", b"\0"):
            raise CommandError(errors.ZSET_MIN_MAX_NOT_LEX)
        return (PLUS if head == b"+" else MINUS), True
    if head == b"(" or head == b"[":
        return arg[1:], head == b"("
    raise CommandError(errors.ZSET_MIN_MAX_NOT_LEX)


def parse_lex_range(low: bytes, high: bytes) -> LexRange:
    return LexRange(*_lex_bound(low), *_lex_bound(high))


# -- values and replies -------------------------------------------------------------


def zset_or_none(value: Any) -> ZSet | None:
    """checkType for sorted sets: the value, None for a missing key, WRONGTYPE otherwise."""
    if value is None or type(value) is ZSet:
        return value
    raise CommandError(errors.WRONGTYPE)


def listpack_limits(client: Any) -> tuple[int, int]:
    server = client.server
    return (server.config.get("zset-max-listpack-entries", 128),
            server.config.get("zset-max-listpack-value", 64))


def scored(client: Any, entries: list[tuple[float, bytes]], withscores: bool) -> list:
    """Members, or members with scores: flat in RESP2, [member, double] pairs in RESP3."""
    if not withscores:
        return [member for _, member in entries]
    if client.proto >= 3:
        return [[member, Double(score)] for score, member in entries]
    out: list = []
    for score, member in entries:
        out.append(member)
        out.append(Double(score))
    return out


def after_removal(client: Any, key: bytes, zset: ZSet, removed: int, event: bytes) -> None:
    """Bookkeeping once members were removed: an emptied zset is deleted (event, then del)."""
    if not removed:
        return
    client.server.dirty += removed
    announce_removal(client, key, zset, "z", event)


# -- ZADD / ZINCRBY -----------------------------------------------------------------

_NX, _XX, _GT, _LT, _INCR, _CH = (1 << i for i in range(6))
_ZADD_FLAGS = {b"NX": _NX, b"XX": _XX, b"GT": _GT, b"LT": _LT, b"INCR": _INCR, b"CH": _CH}
ADDED, UPDATED, NOP = 1, 2, 4


def zset_add(zset: ZSet, score: float, member: bytes, flags: int,
             limits: tuple[int, int]) -> tuple[int, float]:
    """zsetAdd: (ADDED | UPDATED | NOP | 0, the member's score afterwards)."""
    current = zset.score(member)
    if current is not None:
        if flags & _NX:
            return NOP, current
        if flags & _INCR:
            score += current
            if score != score:
                raise CommandError(errors.ZSET_SCORE_NAN)
        if (flags & _LT and score >= current) or (flags & _GT and score <= current):
            return NOP, current
        if score != current:
            zset.update(member, score)
            return UPDATED, score
        return 0, score
    if flags & _XX:
        return NOP, score
    zset.insert(member, score, *limits)
    return ADDED, score


def _zadd_generic(client: Any, argv: list[bytes], flags: int) -> Any:
    """zaddGenericCommand, which ZINCRBY also runs (with INCR set)."""
    start = 2
    while start < len(argv):
        flag = _ZADD_FLAGS.get(option_word(argv[start]))
        if flag is None:
            break
        flags |= flag
        start += 1
    pairs = len(argv) - start
    if pairs % 2 or not pairs:
        raise CommandError(errors.SYNTAX)
    if flags & _NX and flags & _XX:
        raise CommandError(errors.ZADD_NX_AND_XX)
    if flags & _NX and flags & (_GT | _LT) or flags & _GT and flags & _LT:
        raise CommandError(errors.ZADD_GT_LT_NX)
    if flags & _INCR and pairs > 2:
        raise CommandError(errors.ZADD_INCR_SINGLE_PAIR)
    scores = [parse_double(argv[i]) for i in range(start, len(argv), 2)]
    key = argv[1]
    db = client.db
    zset = zset_or_none(db.lookup_write(key))
    created = zset is None
    added = updated = processed = 0
    score = 0.0
    if not (created and flags & _XX):
        if created:
            zset = ZSet()
        limits = listpack_limits(client)
        for j, score in enumerate(scores):
            outcome, score = zset_add(zset, score, argv[start + 2 * j + 1], flags, limits)
            added += outcome == ADDED
            updated += outcome == UPDATED
            processed += not outcome & NOP
        if created:
            db.add(key, zset)
        elif added or updated:
            db.on_key_modified(key)
        if added or updated:
            notify(client.server, "z", b"zincr" if flags & _INCR else b"zadd", key, db.index)
        client.server.dirty += added + updated
    if flags & _INCR:
        return Double(score) if processed else None
    return added + updated if flags & _CH else added


@command("ZADD", -4, "write denyoom fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         history=(("2.4.0", "Accepts multiple elements."),
                  ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
                  ("6.2.0", "Added the `GT` and `LT` options.")),
         summary="Add one or more members to a sorted set, or update its score if it already "
                 "exists",
         complexity="O(log(N)) for each item added, where N is the number of elements in the "
                    "sorted set.",
         acl=ACL_WRITE_FAST,
         args="key [condition=NX|XX] [comparison=GT|LT] [change=CH] [increment=INCR] "
              "(score_member=score:double member)...")
def zadd(client: Any, argv: list[bytes]) -> Any:
    return _zadd_generic(client, argv, 0)


@command("ZINCRBY", 4, "write denyoom fast", keys=(1, 1, 1), group="sorted-set",
         key_specs="RW access update",
         since="1.2.0", summary="Increment the score of a member in a sorted set",
         complexity="O(log(N)) where N is the number of elements in the sorted set.",
         acl=ACL_WRITE_FAST, args="key increment:integer member")
def zincrby(client: Any, argv: list[bytes]) -> Any:
    return _zadd_generic(client, argv, _INCR)


# -- single-member commands -------------------------------------------------------------


@command("ZREM", -3, "write fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         history=(("2.4.0", "Accepts multiple elements."),),
         key_specs="RW delete",
         summary="Remove one or more members from a sorted set",
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M "
                    "the number of elements to be removed.",
         acl=ACL_WRITE_FAST, args="key member...")
def zrem(client: Any, argv: list[bytes]) -> Any:
    key = argv[1]
    zset = zset_or_none(client.db.lookup_write(key))
    if zset is None:
        return 0
    return remove_each(client, key, zset, argv[2:], zset.remove, "z", b"zrem")


@command("ZCARD", 2, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         key_specs="RO",
         summary="Get the number of members in a sorted set", complexity="O(1)",
         acl="@read @sortedset @fast", args="key")
def zcard(client: Any, argv: list[bytes]) -> Any:
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    return 0 if zset is None else len(zset)


@command("ZSCORE", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Get the score associated with the given member in a sorted set",
         complexity="O(1)", acl="@read @sortedset @fast", args="key member")
def zscore(client: Any, argv: list[bytes]) -> Any:
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    score = None if zset is None else zset.score(argv[2])
    return None if score is None else Double(score)


@command("ZMSCORE", -3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="6.2.0",
         summary="Get the score associated with the given members in a sorted set",
         complexity="O(N) where N is the number of members being requested.",
         acl="@read @sortedset @fast", args="key member...")
def zmscore(client: Any, argv: list[bytes]) -> Any:
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    out: list = []
    for member in argv[2:]:
        score = None if zset is None else zset.score(member)
        out.append(None if score is None else Double(score))
    return out


def _rank(client: Any, argv: list[bytes], reverse: bool) -> Any:
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    rank = None if zset is None else zset.rank(argv[2])
    if rank is None:
        return None
    return len(zset) - 1 - rank if reverse else rank


@command("ZRANK", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Determine the index of a member in a sorted set", complexity="O(log(N))",
         acl="@read @sortedset @fast", args="key member")
def zrank(client: Any, argv: list[bytes]) -> Any:
    return _rank(client, argv, False)


@command("ZREVRANK", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Determine the index of a member in a sorted set, with scores ordered from "
                 "high to low",
         complexity="O(log(N))", acl="@read @sortedset @fast", args="key member")
def zrevrank(client: Any, argv: list[bytes]) -> Any:
    return _rank(client, argv, True)


# -- counts ------------------------------------------------------------------------------


@command("ZCOUNT", 4, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Count the members in a sorted set with scores within the given values",
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         acl="@read @sortedset @fast", args="key min:double max:double")
def zcount(client: Any, argv: list[bytes]) -> Any:
    spec = parse_score_range(argv[2], argv[3])
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    if zset is None:
        return 0
    start, stop = zset.score_span(spec)
    return stop - start


@command("ZLEXCOUNT", 4, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.8.9",
         summary="Count the number of members in a sorted set between a given lexicographical "
                 "range",
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         acl="@read @sortedset @fast", args="key min max")
def zlexcount(client: Any, argv: list[bytes]) -> Any:
    spec = parse_lex_range(argv[2], argv[3])
    zset = zset_or_none(client.db.lookup_read(argv[1]))
    if zset is None:
        return 0
    start, stop = zset.lex_span(spec)
    return stop - start


# -- the ZRANGE family -----------------------------------------------------------------

RANK, SCORE, LEX = "rank", "score", "lex"


def rank_span(length: int, start: int, end: int) -> tuple[int, int]:
    """Redis's index sanitising: negative from the end, clamped; an empty span as (0, 0)."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return 0, 0
    return start, min(end, length - 1) + 1


def _limited(span: tuple[int, int], offset: int, limit: int, reverse: bool) -> tuple[int, int]:
    """The part of a score/lex span that LIMIT offset count keeps (Redis skips, then counts)."""
    start, stop = span
    if offset < 0:
        return 0, 0
    if reverse:
        stop -= offset
        if limit >= 0:
            start = max(start, stop - limit)
    else:
        start += offset
        if limit >= 0:
            stop = min(stop, start + limit)
    return (start, stop) if start < stop else (0, 0)


def _zrange_generic(client: Any, argv: list[bytes], src: int, dst: bytes | None,
                   rangetype: str | None = None, reverse: bool | None = None) -> Any:
    """zrangeGenericCommand: argv[src] is the source key, min and max follow it."""
    withscores = False
    offset, limit = 0, -1
    j = src + 3
    while j < len(argv):
        word = option_word(argv[j])
        if dst is None and word == b"WITHSCORES":
            withscores = True
        elif word == b"LIMIT" and len(argv) - j - 1 >= 2:
            offset = parse_ll(argv[j + 1])
            limit = parse_ll(argv[j + 2])
            j += 2
        elif reverse is None and word == b"REV":
            reverse = True
        elif rangetype is None and word == b"BYLEX":
            rangetype = LEX
        elif rangetype is None and word == b"BYSCORE":
            rangetype = SCORE
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or RANK
    if limit != -1 and rangetype == RANK:
        raise CommandError(errors.ZRANGE_LIMIT_NEEDS_BY)
    if withscores and rangetype == LEX:
        raise CommandError(errors.ZRANGE_WITHSCORES_BYLEX)
    low, high = argv[src + 1], argv[src + 2]
    if reverse and rangetype != RANK:
        low, high = high, low
    if rangetype == RANK:
        first, last = parse_ll(low), parse_ll(high)
    elif rangetype == SCORE:
        score_spec = parse_score_range(low, high)
    else:
        lex_spec = parse_lex_range(low, high)
    zset = zset_or_none(client.db.lookup_read(argv[src]))
    if zset is None:
        return [] if dst is None else store_or_delete(client, dst, ZSet(), "z", b"zrangestore")
    if rangetype == RANK:
        start, stop = rank_span(len(zset), first, last)
        if reverse:
            start, stop = len(zset) - stop, len(zset) - start
    elif rangetype == SCORE:
        start, stop = _limited(zset.score_span(score_spec), offset, limit, reverse)
    else:
        span = zset.lex_span_reverse(lex_spec) if reverse else zset.lex_span(lex_spec)
        start, stop = _limited(span, offset, limit, reverse)
    entries = zset.entries(start, stop, reverse)
    if dst is None:
        return scored(client, entries, withscores)
    entries_limit, value_limit = listpack_limits(client)
    # zrangeResultBeginStore: a rank range longer than the listpack limit starts as a skiplist
    result = ZSet(listpack=not (rangetype == RANK and len(entries) > entries_limit))
    for score, member in entries:
        result.insert(member, score, entries_limit, value_limit)
    return store_or_delete(client, dst, result, "z", b"zrangestore")


_RANGE_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M "
                     "the number of elements returned.")
_BY_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M the "
                  "number of elements being returned. If M is constant (e.g. always asking for "
                  "the first 10 elements with LIMIT), you can consider it O(log(N)).")
_READ_SLOW = dict(group="sorted-set", keys=(1, 1, 1), acl="@read @sortedset @slow")
_LIMIT = "[LIMIT (offset_count=offset:integer count:integer)]"


@command("ZRANGE", -4, "readonly", since="1.2.0",
         history=(("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),),
         summary="Return a range of members in a sorted set",
         complexity=_RANGE_COMPLEXITY,
         args="key start stop [sortby=BYSCORE|BYLEX] [REV] " + _LIMIT + " [WITHSCORES]",
         **_READ_SLOW)
def zrange(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 1, None)


@command("ZRANGESTORE", -5, "write denyoom", keys=(1, 2, 1), group="sorted-set", since="6.2.0",
         key_specs=("OW update|1", "RO access|2"),
         summary="Store a range of members from sorted set into another key",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
                    "number of elements stored into the destination key.",
         acl="@write @sortedset @slow",
         args="dst:key src:key min max [sortby=BYSCORE|BYLEX] [REV] " + _LIMIT)
def zrangestore(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 2, argv[1])


@command("ZRANGEBYSCORE", -4, "readonly", since="1.0.5",
         deprecated="6.2.0 `ZRANGE` with the `BYSCORE` argument",
         history=(("2.0.0", "Added the `WITHSCORES` modifier."),),
         summary="Return a range of members in a sorted set, by score",
         complexity=_BY_COMPLEXITY,
         args="key min:double max:double [WITHSCORES]@2.0.0 " + _LIMIT, **_READ_SLOW)
def zrangebyscore(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 1, None, SCORE, False)


@command("ZREVRANGEBYSCORE", -4, "readonly", since="2.2.0",
         deprecated="6.2.0 `ZRANGE` with the `REV` and `BYSCORE` arguments",
         history=(("2.1.6", "`min` and `max` can be exclusive."),),
         summary="Return a range of members in a sorted set, by score, with scores ordered from "
                 "high to low",
         complexity=_BY_COMPLEXITY,
         args="key max:double min:double [WITHSCORES] " + _LIMIT, **_READ_SLOW)
def zrevrangebyscore(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 1, None, SCORE, True)


@command("ZRANGEBYLEX", -4, "readonly", since="2.8.9",
         deprecated="6.2.0 `ZRANGE` with the `BYLEX` argument",
         summary="Return a range of members in a sorted set, by lexicographical range",
         complexity=_BY_COMPLEXITY, args="key min max " + _LIMIT, **_READ_SLOW)
def zrangebylex(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 1, None, LEX, False)


@command("ZREVRANGEBYLEX", -4, "readonly", since="2.8.9",
         deprecated="6.2.0 `ZRANGE` with the `REV` and `BYLEX` arguments",
         summary="Return a range of members in a sorted set, by lexicographical range, ordered "
                 "from higher to lower strings.",
         complexity=_BY_COMPLEXITY, args="key max min " + _LIMIT, **_READ_SLOW)
def zrevrangebylex(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 1, None, LEX, True)


@command("ZREVRANGE", -4, "readonly", since="1.2.0",
         deprecated="6.2.0 `ZRANGE` with the `REV` argument",
         summary="Return a range of members in a sorted set, by index, with scores ordered from "
                 "high to low",
         complexity=_RANGE_COMPLEXITY,
         args="key start:integer stop:integer [WITHSCORES]", **_READ_SLOW)
def zrevrange(client: Any, argv: list[bytes]) -> Any:
    return _zrange_generic(client, argv, 1, None, RANK, True)


# -- ZREMRANGEBY* ----------------------------------------------------------------------


_ZREMRANGE_EVENTS = {RANK: b"zremrangebyrank", SCORE: b"zremrangebyscore",
                     LEX: b"zremrangebylex"}


def _zremrange(client: Any, argv: list[bytes], rangetype: str) -> Any:
    if rangetype == RANK:
        first, last = parse_ll(argv[2]), parse_ll(argv[3])
    elif rangetype == SCORE:
        score_spec = parse_score_range(argv[2], argv[3])
    else:
        lex_spec = parse_lex_range(argv[2], argv[3])
    key = argv[1]
    zset = zset_or_none(client.db.lookup_write(key))
    if zset is None:
        return 0
    if rangetype == RANK:
        start, stop = rank_span(len(zset), first, last)
    elif rangetype == SCORE:
        start, stop = zset.score_span(score_spec)
    else:
        start, stop = zset.lex_span(lex_spec)
    removed = len(zset.remove_span(start, stop))
    after_removal(client, key, zset, removed, _ZREMRANGE_EVENTS[rangetype])
    return removed


_REMOVED_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M "
                       "the number of elements removed by the operation.")
_WRITE_SLOW = dict(group="sorted-set", keys=(1, 1, 1), acl="@write @sortedset @slow",
                   complexity=_REMOVED_COMPLEXITY)


@command("ZREMRANGEBYRANK", 4, "write", since="2.0.0",
         key_specs="RW delete",
         summary="Remove all members in a sorted set within the given indexes",
         args="key start:integer stop:integer", **_WRITE_SLOW)
def zremrangebyrank(client: Any, argv: list[bytes]) -> Any:
    return _zremrange(client, argv, RANK)


@command("ZREMRANGEBYSCORE", 4, "write", since="1.2.0",
         key_specs="RW delete",
         summary="Remove all members in a sorted set within the given scores",
         args="key min:double max:double", **_WRITE_SLOW)
def zremrangebyscore(client: Any, argv: list[bytes]) -> Any:
    return _zremrange(client, argv, SCORE)


@command("ZREMRANGEBYLEX", 4, "write", since="2.8.9",
         key_specs="RW delete",
         summary="Remove all members in a sorted set between the given lexicographical range",
         args="key min max", **_WRITE_SLOW)
def zremrangebylex(client: Any, argv: list[bytes]) -> Any:
    return _zremrange(client, argv, LEX)


from cache.commands import zset_ops  # noqa: E402,F401  (registers the remaining commands)
