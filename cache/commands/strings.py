"""String commands: GET/SET and friends, counters, ranges (Redis 7.0 t_string.c).

A string value is `bytes`, or a `bytearray` once it has been grown in place
by APPEND or SETRANGE (Redis's `raw` encoding), so repeated appends stay
amortised O(1). Replies always carry `bytes`.

The SET family shares `set_generic` (Redis's setGenericCommand) and one
option parser; INCRBYFLOAT reproduces x86 `long double` arithmetic and
`%.17Lf` formatting exactly, with rationals.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from cache import errors
from cache.commands.table import command
from cache.errors import CommandError
from cache.notify import notify
from cache.reply import OK, Map
from cache.resp import string2ll

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024


# -- argument helpers (shared with cache.commands.keys) -------------------------


def parse_ll(arg: bytes, message: bytes = errors.NOT_INTEGER) -> int:
    """A 64-bit integer argument, parsed as strictly as Redis's string2ll."""
    value = string2ll(arg)
    if value is None:
        raise CommandError(message)
    return value


def parse_int(arg: bytes, message: bytes | None = None) -> int:
    """A 32-bit integer argument (getIntFromObjectOrReply); `message` replaces both errors."""
    value = string2ll(arg)
    if value is None:
        raise CommandError(message or errors.NOT_INTEGER)
    if not INT_MIN <= value <= INT_MAX:
        raise CommandError(message or errors.value_out_of_range(INT_MIN, INT_MAX))
    return value


def option_word(arg: bytes) -> bytes:
    """An option as Redis's strcasecmp sees it: uppercased, cut at the first NUL."""
    if b"\0" in arg:
        arg = arg.split(b"\0", 1)[0]
    return arg.upper()


def string_value(value: Any) -> bytes | bytearray | None:
    """`value` if it is a string (or None); WRONGTYPE otherwise."""
    if value is None or type(value) is bytes or type(value) is bytearray:
        return value
    raise CommandError(errors.WRONGTYPE)


def check_string_length(client: Any, size: int, append: int) -> None:
    if size + append > client.server.config.get("proto-max-bulk-len", DEFAULT_MAX_BULK_LEN):
        raise CommandError(errors.STRING_TOO_LONG)


def _get_generic(db: Any, key: bytes) -> bytes | None:
    """getGenericCommand: read the key, WRONGTYPE for other types."""
    value = db.lookup_read(key)
    if value is None or type(value) is bytes:
        return value
    if type(value) is bytearray:
        return bytes(value)
    raise CommandError(errors.WRONGTYPE)


# -- SET and its options -------------------------------------------------------

NX, XX, GET, KEEPTTL, PERSIST, EX, PX, EXAT, PXAT = (1 << i for i in range(9))
_ANY_EXPIRE = EX | PX | EXAT | PXAT
# option word -> (its flag, flags it cannot be combined with, whether a value follows)
_SET_OPTIONS = {
    b"NX": (NX, XX, False),
    b"XX": (XX, NX, False),
    b"GET": (GET, 0, False),
    b"KEEPTTL": (KEEPTTL, PERSIST | _ANY_EXPIRE, False),
}
_GETEX_OPTIONS = {
    b"PERSIST": (PERSIST, _ANY_EXPIRE | KEEPTTL, False),
}
_EXPIRE_OPTIONS = {
    b"EX": (EX, KEEPTTL | PERSIST | EXAT | PX | PXAT, True),
    b"PX": (PX, KEEPTTL | PERSIST | EX | EXAT | PXAT, True),
    b"EXAT": (EXAT, KEEPTTL | PERSIST | EX | PX | PXAT, True),
    b"PXAT": (PXAT, KEEPTTL | PERSIST | EX | EXAT | PX, True),
}
_SET_OPTIONS.update(_EXPIRE_OPTIONS)
_GETEX_OPTIONS.update(_EXPIRE_OPTIONS)


def parse_extended_options(argv: list[bytes], start: int, table: dict) -> tuple[int, bytes | None]:
    """parseExtendedStringArgumentsOrReply: (flags, expire argument or None)."""
    flags = 0
    expire = None
    i = start
    n = len(argv)
    while i < n:
        spec = table.get(option_word(argv[i]))
        if spec is None or flags & spec[1] or (spec[2] and i + 1 >= n):
            raise CommandError(errors.SYNTAX)
        flags |= spec[0]
        if spec[2]:
            i += 1
            expire = argv[i]
        i += 1
    return flags, expire


def expire_milliseconds(client: Any, arg: bytes, flags: int, cmd: str) -> int:
    """getExpireMillisecondsOrReply: the absolute Unix ms an EX/PX/EXAT/PXAT asks for."""
    ms = parse_ll(arg)
    seconds = flags & (EX | EXAT)
    if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
        raise CommandError(errors.invalid_expire(cmd))
    if seconds:
        ms *= 1000
    if flags & (EX | PX):
        ms += client.server.now_ms
    if ms > LLONG_MAX:
        raise CommandError(errors.invalid_expire(cmd))
    return ms


def set_generic(client: Any, flags: int, key: bytes, value: bytes, expire: bytes | None,
                cmd: str, ok_reply: Any = OK, abort_reply: Any = None) -> Any:
    """setGenericCommand: SET, SETNX, SETEX and PSETEX all end here."""
    db = client.db
    when = None if expire is None else expire_milliseconds(client, expire, flags, cmd)
    old = _get_generic(db, key) if flags & GET else None
    if flags & (NX | XX):
        found = db.live_entry(key) is not None
        if (flags & NX and found) or (flags & XX and not found):
            return old if flags & GET else abort_reply
    db.set_key(key, value, keep_ttl=bool(flags & KEEPTTL))
    server = client.server
    notify(server, "$", b"set", key, db.index)
    if when is not None:
        db.set_expire(key, when)
        notify(server, "g", b"expire", key, db.index)
    server.dirty += 1
    return old if flags & GET else ok_reply


@command("GET", 2, "readonly fast", keys=(1, 1, 1), group="string", since="1.0.0",
         summary="Get the value of a key", complexity="O(1)", acl="@read @string @fast",
         args="key")
def get(client: Any, argv: list[bytes]) -> Any:
    value = client.db.lookup_read(argv[1])
    if value is None or type(value) is bytes:
        return value
    if type(value) is bytearray:
        return bytes(value)
    raise CommandError(errors.WRONGTYPE)


@command("SET", -3, "write denyoom", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="RW access update variable_flags|1|range 0 1 0"
                   "|RW and ACCESS due to the optional `GET` argument",
         summary="Set the string value of a key", complexity="O(1)", acl="@write @string @slow",
         args="key value [condition=NX|XX]@2.6.12 [GET]@6.2.0 [expiration=EX seconds:integer@2.6.12"
              "|PX milliseconds:integer@2.6.12|EXAT unix-time-seconds:unix-time@6.2.0"
              "|PXAT unix-time-milliseconds:unix-time@6.2.0|KEEPTTL@6.0.0]",
         history=(("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
                  ("6.0.0", "Added the `KEEPTTL` option."),
                  ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
                  ("7.0.0", "Allowed the `NX` and `GET` options to be used together.")))
def set_(client: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        db = client.db
        db.set_key(argv[1], argv[2])
        server = client.server
        if server.notify_flags:
            notify(server, "$", b"set", argv[1], db.index)
        server.dirty += 1
        return OK
    flags, expire = parse_extended_options(argv, 3, _SET_OPTIONS)
    return set_generic(client, flags, argv[1], argv[2], expire, "set")


@command("SETNX", 3, "write denyoom fast", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="OW insert",
         summary="Set the value of a key, only if the key does not exist", complexity="O(1)",
         acl="@write @string @fast", args="key value")
def setnx(client: Any, argv: list[bytes]) -> Any:
    return set_generic(client, NX, argv[1], argv[2], None, "setnx", 1, 0)


@command("SETEX", 4, "write denyoom", keys=(1, 1, 1), group="string", since="2.0.0",
         key_specs="OW update",
         summary="Set the value and expiration of a key", complexity="O(1)",
         acl="@write @string @slow", args="key seconds:integer value")
def setex(client: Any, argv: list[bytes]) -> Any:
    return set_generic(client, EX, argv[1], argv[3], argv[2], "setex")


@command("PSETEX", 4, "write denyoom", keys=(1, 1, 1), group="string", since="2.6.0",
         key_specs="OW update",
         summary="Set the value and expiration in milliseconds of a key", complexity="O(1)",
         acl="@write @string @slow", args="key milliseconds:integer value")
def psetex(client: Any, argv: list[bytes]) -> Any:
    return set_generic(client, PX, argv[1], argv[3], argv[2], "psetex")


@command("GETSET", 3, "write denyoom fast", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="RW access update", deprecated="6.2.0 `SET` with the `!GET` argument",
         summary="Set the string value of a key and return its old value", complexity="O(1)",
         acl="@write @string @fast", args="key value")
def getset(client: Any, argv: list[bytes]) -> Any:
    old = _get_generic(client.db, argv[1])
    client.db.set_key(argv[1], argv[2])
    notify(client.server, "$", b"set", argv[1], client.db.index)
    client.server.dirty += 1
    return old


@command("GETDEL", 2, "write fast", keys=(1, 1, 1), group="string", since="6.2.0",
         key_specs="RW access delete",
         summary="Get the value of a key and delete the key", complexity="O(1)",
         acl="@write @string @fast", args="key")
def getdel(client: Any, argv: list[bytes]) -> Any:
    old = _get_generic(client.db, argv[1])
    if old is not None:
        client.db.delete(argv[1])
        notify(client.server, "g", b"del", argv[1], client.db.index)
        client.server.dirty += 1
    return old


@command("GETEX", -2, "write fast", keys=(1, 1, 1), group="string", since="6.2.0",
         key_specs="RW access update|1|range 0 1 0"
                   "|RW and UPDATE because it changes the TTL",
         summary="Get the value of a key and optionally set its expiration", complexity="O(1)",
         acl="@write @string @fast",
         args="key [expiration=EX seconds:integer|PX milliseconds:integer"
              "|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|PERSIST]")
def getex(client: Any, argv: list[bytes]) -> Any:
    flags, expire = parse_extended_options(argv, 2, _GETEX_OPTIONS)
    db = client.db
    key = argv[1]
    value = _get_generic(db, key)
    if value is None:
        return None
    if expire is not None:
        when = expire_milliseconds(client, expire, flags, "getex")
        if flags & (EXAT | PXAT) and when <= client.server.now_ms:
            db.delete(key)
            notify(client.server, "g", b"del", key, db.index)
        else:
            db.set_expire(key, when)
            notify(client.server, "g", b"expire", key, db.index)
        client.server.dirty += 1
    elif flags & PERSIST and db.persist(key):
        notify(client.server, "g", b"persist", key, db.index)
        client.server.dirty += 1
    return value


# -- multi-key -----------------------------------------------------------------


@command("MGET", -2, "readonly fast", keys=(1, -1, 1), group="string", since="1.0.0",
         summary="Get the values of all the given keys",
         complexity="O(N) where N is the number of keys to retrieve.",
         acl="@read @string @fast", tips="request_policy:multi_shard", args="key...")
def mget(client: Any, argv: list[bytes]) -> Any:
    lookup = client.db.lookup_read
    out = []
    for key in argv[1:]:
        value = lookup(key)
        if type(value) is bytes:
            out.append(value)
        elif type(value) is bytearray:
            out.append(bytes(value))
        else:
            out.append(None)
    return out


@command("MSET", -3, "write denyoom", keys=(1, -1, 2), group="string", since="1.0.1",
         key_specs="OW update",
         summary="Set multiple keys to multiple values",
         complexity="O(N) where N is the number of keys to set.", acl="@write @string @slow",
         tips="request_policy:multi_shard response_policy:all_succeeded",
         args="(key_value=key value)...")
def mset(client: Any, argv: list[bytes]) -> Any:
    if not len(argv) & 1:
        raise CommandError(errors.wrong_arity("mset"))
    server = client.server
    if not server.notify_flags:  # 0: off (-1, not read yet, takes the per-key path once)
        client.db.set_many(argv, 1)
    else:  # notifications interleave `new` and `set` per key, as Redis sends them
        db = client.db
        for i in range(1, len(argv), 2):
            db.set_key(argv[i], argv[i + 1])
            notify(server, "$", b"set", argv[i], db.index)
    server.dirty += len(argv) >> 1
    return OK


@command("MSETNX", -3, "write denyoom", keys=(1, -1, 2), group="string", since="1.0.1",
         key_specs="OW insert",
         summary="Set multiple keys to multiple values, only if none of the keys exist",
         complexity="O(N) where N is the number of keys to set.", acl="@write @string @slow",
         tips="request_policy:multi_shard response_policy:agg_min",
         args="(key_value=key value)...")
def msetnx(client: Any, argv: list[bytes]) -> Any:
    if not len(argv) & 1:
        raise CommandError(errors.wrong_arity("msetnx"))
    db = client.db
    for i in range(1, len(argv), 2):
        if db.lookup_write(argv[i]) is not None:
            return 0
    mset(client, argv)  # its arity check passes: the same as this one
    return 1


# -- in-place edits ------------------------------------------------------------


@command("APPEND", 3, "write denyoom fast", keys=(1, 1, 1), group="string", since="2.0.0",
         key_specs="RW insert",
         summary="Append a value to a key",
         complexity="O(1). The amortized time complexity is O(1) assuming the appended value "
                    "is small and the already present value is of any size, since the dynamic "
                    "string library used by Redis will double the free space available on "
                    "every reallocation.",
         acl="@write @string @fast", args="key value")
def append(client: Any, argv: list[bytes]) -> Any:
    db = client.db
    key, suffix = argv[1], argv[2]
    entry = db.entry_for_write(key)
    if entry is None:
        db.add(key, suffix)
        notify(client.server, "$", b"append", key, db.index)
        client.server.dirty += 1
        return len(suffix)
    check_string_length(client, len(string_value(entry.value)), len(suffix))
    value = db.editable_string(key, entry)
    value += suffix
    db.on_key_modified(key)
    notify(client.server, "$", b"append", key, db.index)
    client.server.dirty += 1
    return len(value)


@command("STRLEN", 2, "readonly fast", keys=(1, 1, 1), group="string", since="2.2.0",
         key_specs="RO",
         summary="Get the length of the value stored in a key", complexity="O(1)",
         acl="@read @string @fast", args="key")
def strlen(client: Any, argv: list[bytes]) -> Any:
    value = string_value(client.db.lookup_read(argv[1]))
    return 0 if value is None else len(value)


_RANGE_COMPLEXITY = (
    "O(N) where N is the length of the returned string. The complexity is ultimately "
    "determined by the returned length, but because creating a substring from an existing "
    "string is very cheap, it can be considered O(1) for small strings."
)


@command("GETRANGE", 4, "readonly", keys=(1, 1, 1), group="string", since="2.4.0",
         summary="Get a substring of the string stored at a key", complexity=_RANGE_COMPLEXITY,
         acl="@read @string @slow", args="key start:integer end:integer")
def getrange(client: Any, argv: list[bytes]) -> Any:
    start = parse_ll(argv[2])
    end = parse_ll(argv[3])
    value = string_value(client.db.lookup_read(argv[1]))
    if value is None:
        return b""
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(size + start, 0)
    if end < 0:
        end = max(size + end, 0)
    end = min(end, size - 1)
    if start > end or size == 0:
        return b""
    return bytes(value[start:end + 1])


@command("SUBSTR", 4, "readonly", keys=(1, 1, 1), group="string", since="1.0.0",
         deprecated="2.0.0 `GETRANGE`",
         summary="Get a substring of the string stored at a key", complexity=_RANGE_COMPLEXITY,
         acl="@read @string @slow", args="key start:integer end:integer")
def substr(client: Any, argv: list[bytes]) -> Any:
    return getrange(client, argv)


_LCS_ARGS = "key1:key key2:key [LEN] [IDX] [MINMATCHLEN len:integer] [WITHMATCHLEN]"


@command("LCS", -3, "readonly", keys=(1, 2, 1), group="string", since="7.0.0",
         key_specs="RO access",
         summary="Find longest common substring",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
         acl="@read @string @slow", args=_LCS_ARGS)
def lcs(client: Any, argv: list[bytes]) -> Any:
    first = client.db.lookup_read(argv[1])
    second = client.db.lookup_read(argv[2])
    for value in (first, second):
        if value is not None and type(value) is not bytes and type(value) is not bytearray:
            raise CommandError(errors.LCS_WRONGTYPE)  # checked before the options, as Redis does
    a, b = bytes(first or b""), bytes(second or b"")
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    j = 3
    while j < len(argv):
        opt = option_word(argv[j])
        if opt == b"IDX":
            want_idx = True
        elif opt == b"LEN":
            want_len = True
        elif opt == b"WITHMATCHLEN":
            with_match_len = True
        elif opt == b"MINMATCHLEN" and j + 1 < len(argv):
            min_match_len = max(parse_ll(argv[j + 1]), 0)
            j += 1
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    if want_idx and want_len:
        raise CommandError(errors.LCS_LEN_AND_IDX)
    if len(a) >= 0xFFFFFFFE or len(b) >= 0xFFFFFFFE:
        raise CommandError(errors.LCS_TOO_LONG)
    limit = client.server.config.get("proto-max-bulk-len", DEFAULT_MAX_BULK_LEN)
    if (len(a) + 1) * (len(b) + 1) * 4 > limit:  # Redis's uint32_t DP table size
        raise CommandError(errors.LCS_TABLE_TOO_BIG)
    table = _LcsTable(a, b)
    if want_len:
        return table.length(len(a), len(b))
    return _lcs_walk(table, a, b, want_idx, min_match_len, with_match_len)


class _LcsTable:
    """Redis's LCS(i, j) table, stored as one bit-parallel row per prefix of `a`
    (Hyyrö's algorithm): row i has a zero bit at j where LCS(i, j+1) = LCS(i, j) + 1.
    Same values as Redis's O(N*M) table, but in bits and computed word-wide."""

    def __init__(self, a: bytes, b: bytes) -> None:
        full = (1 << len(b)) - 1
        positions: dict[int, int] = {}
        for index, byte in enumerate(b):
            positions[byte] = positions.get(byte, 0) | (1 << index)
        row = full
        self.rows = [row]
        for byte in a:
            matched = row & positions.get(byte, 0)
            row = ((row + matched) | (row - matched)) & full
            self.rows.append(row)

    def length(self, i: int, j: int) -> int:
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()


def _lcs_walk(table: _LcsTable, a: bytes, b: bytes, want_idx: bool, min_match_len: int,
              with_match_len: bool) -> Any:
    """lcsCommand's backward walk from (len(a), len(b)): the LCS string and, for IDX,
    the matched ranges in Redis's order (last match first) and tie-breaking."""
    total = table.length(len(a), len(b))
    result = bytearray(total)
    idx = total
    matches: list[list] = []
    unset = len(a)  # Redis's "no range open" marker
    a_start, a_end, b_start, b_end = unset, 0, 0, 0
    i, j = len(a), len(b)
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if table.length(i - 1, j) > table.length(i, j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != unset:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if want_idx and (min_match_len == 0 or match_len >= min_match_len):
                match = [[a_start, a_end], [b_start, b_end]]
                if with_match_len:
                    match.append(match_len)
                matches.append(match)
            a_start = unset
    if want_idx:
        return Map([(b"matches", matches), (b"len", total)])
    return bytes(result)


@command("SETRANGE", 4, "write denyoom", keys=(1, 1, 1), group="string", since="2.2.0",
         summary="Overwrite part of a string at key starting at the specified offset",
         complexity="O(1), not counting the time taken to copy the new string in place. "
                    "Usually, this string is very small so the amortized complexity is O(1). "
                    "Otherwise, complexity is O(M) with M being the length of the value argument.",
         acl="@write @string @slow", args="key offset:integer value")
def setrange(client: Any, argv: list[bytes]) -> Any:
    offset = parse_ll(argv[2])
    if offset < 0:
        raise CommandError(errors.OFFSET_OUT_OF_RANGE)
    db = client.db
    key, patch = argv[1], argv[3]
    entry = db.entry_for_write(key)
    if entry is None:
        if not patch:
            return 0
        check_string_length(client, offset, len(patch))
        value = bytearray(offset)
        value += patch
        db.add(key, value)
        notify(client.server, "$", b"setrange", key, db.index)
        client.server.dirty += 1
        return len(value)
    value = string_value(entry.value)
    if not patch:
        return len(value)
    check_string_length(client, offset, len(patch))
    value = db.editable_string(key, entry)
    if len(value) < offset:
        value.extend(bytes(offset - len(value)))
    value[offset:offset + len(patch)] = patch
    db.on_key_modified(key)
    notify(client.server, "$", b"setrange", key, db.index)
    client.server.dirty += 1
    return len(value)


# -- counters ------------------------------------------------------------------


def _incr_decr(client: Any, key: bytes, delta: int) -> int:
    db = client.db
    entry = db.entry_for_write(key)
    if entry is None:
        current = 0
    else:
        value = entry.value
        if value.__class__ is bytes and 0 < len(value) < 19 and value.isdigit() and value[0] != 48:
            current = int(value)  # string2ll's commonest case, without the call
        else:
            current = string2ll(value if value.__class__ is bytes else string_value(value))
            if current is None:
                raise CommandError(errors.NOT_INTEGER)
    result = current + delta
    if not LLONG_MIN <= result <= LLONG_MAX:
        raise CommandError(errors.OVERFLOW)
    if entry is None:
        db.add(key, b"%d" % result)
    else:
        db.replace_value(key, entry, b"%d" % result)
    server = client.server
    if server.notify_flags:
        notify(server, "$", b"incrby", key, db.index)
    server.dirty += 1
    return result


@command("INCR", 2, "write denyoom fast", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="RW access update",
         summary="Increment the integer value of a key by one", complexity="O(1)",
         acl="@write @string @fast", args="key")
def incr(client: Any, argv: list[bytes]) -> Any:
    return _incr_decr(client, argv[1], 1)


@command("DECR", 2, "write denyoom fast", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="RW access update",
         summary="Decrement the integer value of a key by one", complexity="O(1)",
         acl="@write @string @fast", args="key")
def decr(client: Any, argv: list[bytes]) -> Any:
    return _incr_decr(client, argv[1], -1)


@command("INCRBY", 3, "write denyoom fast", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="RW access update",
         summary="Increment the integer value of a key by the given amount", complexity="O(1)",
         acl="@write @string @fast", args="key increment:integer")
def incrby(client: Any, argv: list[bytes]) -> Any:
    return _incr_decr(client, argv[1], parse_ll(argv[2]))


@command("DECRBY", 3, "write denyoom fast", keys=(1, 1, 1), group="string", since="1.0.0",
         key_specs="RW access update",
         summary="Decrement the integer value of a key by the given number", complexity="O(1)",
         acl="@write @string @fast", args="key decrement:integer")
def decrby(client: Any, argv: list[bytes]) -> Any:
    delta = parse_ll(argv[2])
    if delta == LLONG_MIN:
        raise CommandError(errors.DECREMENT_OVERFLOW)
    return _incr_decr(client, argv[1], -delta)


@command("INCRBYFLOAT", 3, "write denyoom fast", keys=(1, 1, 1), group="string", since="2.6.0",
         key_specs="RW access update",
         summary="Increment the float value of a key by the given amount", complexity="O(1)",
         acl="@write @string @fast", args="key increment:double")
def incrbyfloat(client: Any, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    entry = db.entry_for_write(key)
    current: Any = 0
    if entry is not None:
        current = parse_long_double(string_value(entry.value))
        if current is None:
            raise CommandError(errors.NOT_FLOAT)
    increment = parse_long_double(argv[2])
    if increment is None:
        raise CommandError(errors.NOT_FLOAT)
    if type(current) is float or type(increment) is float:  # an infinity
        raise CommandError(errors.NAN_OR_INF)
    total = round_long_double(current + increment)
    if type(total) is float:
        raise CommandError(errors.NAN_OR_INF)
    text = format_long_double(total)
    if entry is None:
        db.add(key, text)
    else:
        db.replace_value(key, entry, text)
    notify(client.server, "$", b"incrbyfloat", key, db.index)
    client.server.dirty += 1
    return text


# -- x86 80-bit long double, exactly -------------------------------------------
# A finite long double is kept as an exact Fraction; an infinity as a float.

LD_MANT_BITS = 64
LD_MIN_EXP = -16382  # exponent of the smallest normal number
LD_MAX_EXP = 16383  # exponent of the largest finite number
MAX_LONG_DOUBLE_CHARS = 5 * 1024
_INF = float("inf")

_DEC_FLOAT = re.compile(rb"([+-]?)(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?")
_HEX_FLOAT = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?"
)
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_C_SPACE = b" \t\n\v\f\r"


def round_long_double(value: Fraction | int) -> Fraction | float:
    """Round an exact value to the nearest long double (ties to even); ±inf on overflow."""
    if value == 0:
        return Fraction(0)
    value = Fraction(value)
    negative = value < 0
    num, den = abs(value.numerator), value.denominator
    exp = num.bit_length() - den.bit_length()  # 2**exp <= |value| < 2**(exp+1), maybe off by one
    if (num << max(-exp, 0)) < (den << max(exp, 0)):
        exp -= 1
    quantum = max(exp, LD_MIN_EXP) - (LD_MANT_BITS - 1)
    if quantum >= 0:
        mant, rest = divmod(num, den << quantum)
        half = (den << quantum)
    else:
        mant, rest = divmod(num << -quantum, den)
        half = den
    if 2 * rest > half or (2 * rest == half and mant & 1):
        mant += 1
    if mant.bit_length() + quantum > LD_MAX_EXP + 1:
        return -_INF if negative else _INF
    result = Fraction(mant << quantum) if quantum >= 0 else Fraction(mant, 1 << -quantum)
    return -result if negative else result


def parse_long_double(text: bytes | bytearray) -> Fraction | float | None:
    """Redis's string2ld (strtold over every byte, no NaN, no overflow); None if invalid."""
    if not text or len(text) >= MAX_LONG_DOUBLE_CHARS or text[0] in _C_SPACE:
        return None
    m = _DEC_FLOAT.fullmatch(text)
    if m is not None:
        sign, whole, frac, only_frac, exponent = m.groups()
        digits = (whole or b"") + (frac or b"") + (only_frac or b"")
        exp10 = int(exponent or 0) - len(frac or only_frac or b"")
        exact = _scaled(_decimal_int(digits), 10, exp10)
    else:
        m = _HEX_FLOAT.fullmatch(text)
        if m is not None:
            sign, whole, frac, only_frac, exponent = m.groups()
            digits = (whole or b"") + (frac or b"") + (only_frac or b"")
            exp2 = int(exponent or 0) - 4 * len(frac or only_frac or b"")
            exact = _scaled(int(digits, 16), 2, exp2)
        else:
            m = _INFINITY.fullmatch(text)
            if m is None:
                return None
            return -_INF if m.group(1) == b"-" else _INF
    if exact is None:
        return None
    value = round_long_double(exact)
    if type(value) is float or (value == 0 and exact != 0):  # ERANGE: overflow or underflow
        return None
    return -value if sign == b"-" else value


def _scaled(mantissa: int, base: int, exp: int) -> Fraction | None:
    """mantissa * base**exp exactly, or None when far outside the long double range."""
    if mantissa == 0:
        return Fraction(0)
    bits = mantissa.bit_length() + exp * math.log2(base)
    if bits > LD_MAX_EXP + 16:
        return None  # overflows to HUGE_VAL
    if bits < LD_MIN_EXP - LD_MANT_BITS - 16:
        return None  # underflows to zero
    if exp >= 0:
        return Fraction(mantissa * base**exp)
    return Fraction(mantissa, base**-exp)


def format_long_double(value: Fraction) -> bytes:
    """ld2string's LD_STR_HUMAN: "%.17Lf" with trailing zeros (and dot) removed."""
    scaled = value * 10**17
    whole, rest = divmod(scaled.numerator, scaled.denominator)  # floor, also for negatives
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and whole & 1):
        whole += 1
    digits = _int_digits(abs(whole)).rjust(18, b"0")
    text = (b"-" if value < 0 else b"") + digits[:-17] + b"." + digits[-17:]
    text = text.rstrip(b"0").rstrip(b".")
    if text == b"-0":
        text = b"0"
    if len(text) + 1 > MAX_LONG_DOUBLE_CHARS:
        return b""  # ld2string's "no room": Redis stores an empty string
    return text


_CHUNK = 4000  # below CPython's int <-> str digit limit (4300)


def _decimal_int(digits: bytes) -> int:
    """int(digits) for any length (CPython refuses more than 4300 digits at once)."""
    digits = digits.lstrip(b"0") or b"0"
    value = 0
    for i in range(0, len(digits), _CHUNK):
        chunk = digits[i:i + _CHUNK]
        value = value * 10**len(chunk) + int(chunk)
    return value


def _int_digits(n: int) -> bytes:
    """The decimal digits of n >= 0 for any size."""
    if n < 10**_CHUNK:
        return b"%d" % n
    high, low = divmod(n, 10**_CHUNK)
    return _int_digits(high) + (b"%d" % low).rjust(_CHUNK, b"0")
