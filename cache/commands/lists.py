"""List commands (Redis 7.0 t_list.c), including the blocking pops and moves.

Values are `cache.datatypes.lists.ListValue` deques, mutated in place; every
write ends in `db.on_key_modified` (or `db.delete` when the list empties,
since Redis never keeps an empty list). Argument checks run in the order
Redis runs them, which decides which error wins: e.g. LRANGE parses its
indices before looking at the key, LINDEX looks at the key first.

Blocking commands try once like their non-blocking twins; if nothing can be
served they hand `cache.blocking.block` a retry closure that is called each
time one of the keys is written and serves itself, as Redis's
serveClientsBlockedOnListKey does.
"""

from __future__ import annotations

from typing import Any

from cache import blocking, errors
from cache.commands.strings import option_word, parse_ll
from cache.commands.table import command
from cache.datatypes.lists import (
    ListValue,
    insert,
    normalize_range,
    pop_many,
    positions,
    range_items,
    remove,
    trim,
)
from cache.errors import CommandError
from cache.notify import notify
from cache.reply import NULL_ARRAY, OK, Error
from cache.resp import string2ll


# -- helpers ---------------------------------------------------------------------


def _as_list(value: Any) -> ListValue | None:
    if value is None or type(value) is ListValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _read(client: Any, key: bytes) -> ListValue | None:
    """lookupKeyRead + checkType: counts a hit or miss."""
    return _as_list(client.db.lookup_read(key))


def _write(client: Any, key: bytes) -> ListValue | None:
    """lookupKeyWrite + checkType."""
    return _as_list(client.db.lookup_write(key))


def announce_removal(client: Any, key: bytes, value: Any, event_class: str,
                     event: bytes) -> None:
    """After items left a collection in place: Redis never keeps an empty one, so it is
    deleted, and the type event precedes the `del` event."""
    db = client.db
    server = client.server
    if value:
        db.on_key_modified(key)
        notify(server, event_class, event, key, db.index)
    else:
        db.delete(key)
        notify(server, event_class, event, key, db.index)
        notify(server, "g", b"del", key, db.index)


def _ranged_long(arg: bytes, low: int, message: bytes) -> int:
    """getRangeLongFromObjectOrReply(low, LONG_MAX) with a custom message for every failure."""
    value = string2ll(arg)
    if value is None or value < low:
        raise CommandError(message)
    return value


def _from_head(arg: bytes) -> bool:
    """getListPositionFromObjectOrReply: LEFT is the head, RIGHT the tail."""
    word = option_word(arg)
    if word == b"LEFT":
        return True
    if word == b"RIGHT":
        return False
    raise CommandError(errors.SYNTAX)


def _pop_one(client: Any, key: bytes, value: ListValue, from_head: bool) -> bytes:
    item = value.popleft() if from_head else value.pop()
    announce_removal(client, key, value, "l", b"lpop" if from_head else b"rpop")
    client.server.dirty += 1
    return item


def _pop_count(client: Any, key: bytes, value: ListValue, from_head: bool, count: int) -> list:
    items = pop_many(value, count, from_head)
    announce_removal(client, key, value, "l", b"lpop" if from_head else b"rpop")
    client.server.dirty += len(items)
    return items


# -- pushes ----------------------------------------------------------------------

_PUSH_COMPLEXITY = ("O(1) for each element added, so O(N) to add N elements when the command "
                    "is called with multiple arguments.")


def _push(client: Any, argv: list[bytes], head: bool, only_existing: bool) -> int:
    """pushGenericCommand: LPUSH, RPUSH, LPUSHX, RPUSHX."""
    key, elements = argv[1], argv[2:]
    value = _write(client, key)
    db = client.db
    if value is None:
        if only_existing:
            return 0
        value = ListValue()
        value.extendleft(elements) if head else value.extend(elements)
        db.add(key, value)
    else:
        value.extendleft(elements) if head else value.extend(elements)
        db.on_key_modified(key)
    notify(client.server, "l", b"lpush" if head else b"rpush", key, db.index)
    client.server.dirty += len(elements)
    return len(value)


@command("LPUSH", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="1.0.0",
         history=(("2.4.0", "Accepts multiple `element` arguments."),),
         key_specs="RW insert",
         summary="Prepend one or multiple elements to a list", complexity=_PUSH_COMPLEXITY,
         acl="@write @list @fast", args="key element...")
def lpush(client: Any, argv: list[bytes]) -> Any:
    return _push(client, argv, True, False)


@command("RPUSH", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="1.0.0",
         history=(("2.4.0", "Accepts multiple `element` arguments."),),
         key_specs="RW insert",
         summary="Append one or multiple elements to a list", complexity=_PUSH_COMPLEXITY,
         acl="@write @list @fast", args="key element...")
def rpush(client: Any, argv: list[bytes]) -> Any:
    return _push(client, argv, False, False)


@command("LPUSHX", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="2.2.0",
         history=(("4.0.0", "Accepts multiple `element` arguments."),),
         key_specs="RW insert",
         summary="Prepend an element to a list, only if the list exists",
         complexity=_PUSH_COMPLEXITY, acl="@write @list @fast", args="key element...")
def lpushx(client: Any, argv: list[bytes]) -> Any:
    return _push(client, argv, True, True)


@command("RPUSHX", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="2.2.0",
         history=(("4.0.0", "Accepts multiple `element` arguments."),),
         key_specs="RW insert",
         summary="Append an element to a list, only if the list exists",
         complexity=_PUSH_COMPLEXITY, acl="@write @list @fast", args="key element...")
def rpushx(client: Any, argv: list[bytes]) -> Any:
    return _push(client, argv, False, True)


# -- pops ------------------------------------------------------------------------


def _pop(client: Any, argv: list[bytes], from_head: bool) -> Any:
    """popGenericCommand: one element as a bulk string, or COUNT of them as an array."""
    if len(argv) > 3:
        raise CommandError(errors.wrong_arity("lpop" if from_head else "rpop"))
    has_count = len(argv) == 3
    count = _ranged_long(argv[2], 0, errors.POSITIVE_COUNT) if has_count else 0
    key = argv[1]
    value = _write(client, key)
    if value is None:
        return NULL_ARRAY if has_count else None
    if not has_count:
        return _pop_one(client, key, value, from_head)
    if count == 0:
        return []
    return _pop_count(client, key, value, from_head, count)


@command("LPOP", -2, "write fast", keys=(1, 1, 1), group="list", since="1.0.0",
         history=(("6.2.0", "Added the `count` argument."),),
         key_specs="RW access delete",
         summary="Remove and get the first elements in a list",
         complexity="O(N) where N is the number of elements returned",
         acl="@write @list @fast", args="key [count:integer]@6.2.0")
def lpop(client: Any, argv: list[bytes]) -> Any:
    return _pop(client, argv, True)


@command("RPOP", -2, "write fast", keys=(1, 1, 1), group="list", since="1.0.0",
         history=(("6.2.0", "Added the `count` argument."),),
         key_specs="RW access delete",
         summary="Remove and get the last elements in a list",
         complexity="O(N) where N is the number of elements returned",
         acl="@write @list @fast", args="key [count:integer]@6.2.0")
def rpop(client: Any, argv: list[bytes]) -> Any:
    return _pop(client, argv, False)


# -- reads -----------------------------------------------------------------------


@command("LLEN", 2, "readonly fast", keys=(1, 1, 1), group="list", since="1.0.0",
         key_specs="RO",
         summary="Get the length of a list", complexity="O(1)", acl="@read @list @fast",
         args="key")
def llen(client: Any, argv: list[bytes]) -> Any:
    value = _read(client, argv[1])
    return 0 if value is None else len(value)


@command("LRANGE", 4, "readonly", keys=(1, 1, 1), group="list", since="1.0.0",
         summary="Get a range of elements from a list",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, "
                    "from nearest end (HEAD or TAIL) for large lists; and N is the number of "
                    "elements in the specified range.",
         acl="@read @list @slow", args="key start:integer stop:integer")
def lrange(client: Any, argv: list[bytes]) -> Any:
    start, stop = parse_ll(argv[2]), parse_ll(argv[3])
    value = _read(client, argv[1])
    if value is None:
        return []
    span = normalize_range(start, stop, len(value))
    return [] if span is None else range_items(value, *span)


@command("LINDEX", 3, "readonly", keys=(1, 1, 1), group="list", since="1.0.0",
         summary="Get an element from a list by its index",
         complexity="O(N) where N is the number of elements to traverse to get to the element "
                    "at index. This makes asking for the first or the last element of the list "
                    "O(1).",
         acl="@read @list @slow", args="key index:integer")
def lindex(client: Any, argv: list[bytes]) -> Any:
    value = _read(client, argv[1])
    if value is None:
        return None
    index = parse_ll(argv[2])
    try:
        return value[index]
    except IndexError:
        return None


@command("LPOS", -3, "readonly", keys=(1, 1, 1), group="list", since="6.0.6",
         summary="Return the index of matching elements on a list",
         complexity="O(N) where N is the number of elements in the list, for the average case. "
                    "When searching for elements near the head or the tail of the list, or when "
                    "the MAXLEN option is provided, the command may run in constant time.",
         acl="@read @list @slow",
         args="key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]")
def lpos(client: Any, argv: list[bytes]) -> Any:
    rank, count, maxlen = 1, None, 0
    i, n = 3, len(argv)
    while i < n:
        word = option_word(argv[i])
        if i + 1 >= n or word not in (b"RANK", b"COUNT", b"MAXLEN"):
            raise CommandError(errors.SYNTAX)
        i += 1
        if word == b"RANK":
            rank = parse_ll(argv[i])
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif word == b"COUNT":
            count = _ranged_long(argv[i], 0, errors.LPOS_COUNT_NEGATIVE)
        else:
            maxlen = _ranged_long(argv[i], 0, errors.LPOS_MAXLEN_NEGATIVE)
        i += 1
    value = _read(client, argv[1])
    if value is None:
        return None if count is None else []
    found = positions(value, argv[2], rank, count, maxlen)
    if count is not None:
        return found
    return found[0] if found else None


# -- in-place edits --------------------------------------------------------------


@command("LSET", 4, "write denyoom", keys=(1, 1, 1), group="list", since="1.0.0",
         summary="Set the value of an element in a list by its index",
         complexity="O(N) where N is the length of the list. Setting either the first or the "
                    "last element of the list is O(1).",
         acl="@write @list @slow", args="key index:integer element")
def lset(client: Any, argv: list[bytes]) -> Any:
    key = argv[1]
    value = _write(client, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    index = parse_ll(argv[2])
    try:
        value[index] = argv[3]
    except IndexError:
        raise CommandError(errors.INDEX_OUT_OF_RANGE) from None
    client.db.on_key_modified(key)
    notify(client.server, "l", b"lset", key, client.db.index)
    client.server.dirty += 1
    return OK


@command("LREM", 4, "write", keys=(1, 1, 1), group="list", since="1.0.0",
         key_specs="RW delete",
         summary="Remove elements from a list",
         complexity="O(N+M) where N is the length of the list and M is the number of elements "
                    "removed.",
         acl="@write @list @slow", args="key count:integer element")
def lrem(client: Any, argv: list[bytes]) -> Any:
    count = parse_ll(argv[2])
    key = argv[1]
    value = _write(client, key)
    if value is None:
        return 0
    removed = remove(value, argv[3], count)
    if removed:
        announce_removal(client, key, value, "l", b"lrem")
        client.server.dirty += removed
    return removed


@command("LTRIM", 4, "write", keys=(1, 1, 1), group="list", since="1.0.0",
         key_specs="RW delete",
         summary="Trim a list to the specified range",
         complexity="O(N) where N is the number of elements to be removed by the operation.",
         acl="@write @list @slow", args="key start:integer stop:integer")
def ltrim(client: Any, argv: list[bytes]) -> Any:
    start, stop = parse_ll(argv[2]), parse_ll(argv[3])
    key = argv[1]
    value = _write(client, key)
    if value is None:
        return OK
    # Redis signals the key even when nothing was trimmed (a WATCH sees it).
    client.server.dirty += trim(value, start, stop)
    announce_removal(client, key, value, "l", b"ltrim")
    return OK


@command("LINSERT", 5, "write denyoom", keys=(1, 1, 1), group="list", since="2.2.0",
         key_specs="RW insert",
         summary="Insert an element before or after another element in a list",
         complexity="O(N) where N is the number of elements to traverse before seeing the value "
                    "pivot. This means that inserting somewhere on the left end on the list "
                    "(head) can be considered O(1) and inserting somewhere on the right end "
                    "(tail) is O(N).",
         acl="@write @list @slow", args="key (where=BEFORE|AFTER) pivot element")
def linsert(client: Any, argv: list[bytes]) -> Any:
    word = option_word(argv[2])
    if word not in (b"BEFORE", b"AFTER"):
        raise CommandError(errors.SYNTAX)
    key = argv[1]
    value = _write(client, key)
    if value is None:
        return 0
    if not insert(value, argv[3], argv[4], word == b"AFTER"):
        return -1
    client.db.on_key_modified(key)
    notify(client.server, "l", b"linsert", key, client.db.index)
    client.server.dirty += 1
    return len(value)


# -- moves -----------------------------------------------------------------------


def _move(client: Any, source: bytes, destination: bytes, from_head: bool, to_head: bool) -> Any:
    """lmoveGenericCommand: the moved element, or None when the source does not exist."""
    src = _write(client, source)
    if src is None:
        return None
    dst = _write(client, destination)
    return _move_from(client, source, src, destination, dst, from_head, to_head)


def _move_from(client: Any, source: bytes, src: ListValue, destination: bytes,
               dst: ListValue | None, from_head: bool, to_head: bool) -> bytes:
    db = client.db
    item = src.popleft() if from_head else src.pop()
    if dst is None:
        db.add(destination, ListValue((item,)))
    else:  # may be `src` itself: a rotation
        dst.appendleft(item) if to_head else dst.append(item)
        db.on_key_modified(destination)
    notify(client.server, "l", b"lpush" if to_head else b"rpush", destination, db.index)
    announce_removal(client, source, src, "l", b"lpop" if from_head else b"rpop")
    client.server.dirty += 1
    return item


_MOVE_ARGS = "source:key destination:key (wherefrom=LEFT|RIGHT) (whereto=LEFT|RIGHT)"


@command("LMOVE", 5, "write denyoom", keys=(1, 2, 1), group="list", since="6.2.0",
         key_specs=("RW access delete|1", "RW insert|2"),
         summary="Pop an element from a list, push it to another list and return it",
         complexity="O(1)", acl="@write @list @slow", args=_MOVE_ARGS)
def lmove(client: Any, argv: list[bytes]) -> Any:
    from_head, to_head = _from_head(argv[3]), _from_head(argv[4])
    return _move(client, argv[1], argv[2], from_head, to_head)


@command("RPOPLPUSH", 3, "write denyoom", keys=(1, 2, 1), group="list", since="1.2.0",
         deprecated="6.2.0 `LMOVE` with the `RIGHT` and `LEFT` arguments",
         key_specs=("RW access delete|1", "RW insert|2"),
         summary="Remove the last element in a list, prepend it to another list and return it",
         complexity="O(1)", acl="@write @list @slow", args="source:key destination:key")
def rpoplpush(client: Any, argv: list[bytes]) -> Any:
    return _move(client, argv[1], argv[2], False, True)


# -- multi-key pops --------------------------------------------------------------


def parse_mpop(argv: list[bytes], numkeys_at: int, yes_word: bytes,
               no_word: bytes) -> tuple[list[bytes], bool, int]:
    """LMPOP's and ZMPOP's shared parsing: (keys, where == yes_word, count); one copy keeps
    their error order identical."""
    numkeys = _ranged_long(argv[numkeys_at], 1, errors.NUMKEYS_NOT_POSITIVE)
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(argv):
        raise CommandError(errors.SYNTAX)
    where = option_word(argv[where_at])
    if where not in (yes_word, no_word):
        raise CommandError(errors.SYNTAX)
    count = None
    i = where_at + 1
    while i < len(argv):
        if count is not None or option_word(argv[i]) != b"COUNT" or i + 1 >= len(argv):
            raise CommandError(errors.SYNTAX)
        count = _ranged_long(argv[i + 1], 1, errors.MPOP_COUNT_NOT_POSITIVE)
        i += 2
    return argv[numkeys_at + 1:where_at], where == yes_word, 1 if count is None else count


def first_ready(client: Any, keys: list[bytes], value_type: type, waiting: bool) -> Any:
    """The first non-empty collection of `keys` as (key, value), or None; shared by the list
    and zset blocking pops. A woken client tries only the key that became ready (Redis
    serves each ready key in turn) and skips a key of another type (Redis 7.0 leaves it
    blocked) where a first attempt answers WRONGTYPE."""
    if waiting:
        ready = blocking.serving_key()
        if ready is not None:
            keys = [ready]
    lookup = client.db.lookup_write
    for key in keys:
        value = lookup(key)
        if value is None:
            continue
        if type(value) is not value_type:
            if waiting:
                continue
            raise CommandError(errors.WRONGTYPE)
        if len(value):
            return key, value
    return None


def _serve_first(client: Any, keys: list[bytes], from_head: bool, count: int | None,
                 waiting: bool) -> Any:
    """Pop from the first non-empty list of `keys`: [key, element], or [key, elements] with
    a count; None when all are empty."""
    found = first_ready(client, keys, ListValue, waiting)
    if found is None:
        return None
    key, value = found
    if count is None:
        return [key, _pop_one(client, key, value, from_head)]
    return [key, _pop_count(client, key, value, from_head, count)]


_MPOP_COMPLEXITY = ("O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.")


@command("LMPOP", -4, "write movablekeys", group="list", since="7.0.0",
         key_specs="RW access delete|1|keynum 0 1 1",
         summary="Pop elements from a list", complexity=_MPOP_COMPLEXITY,
         acl="@write @list @slow",
         args="numkeys:integer key... (where=LEFT|RIGHT) [COUNT count:integer]")
def lmpop(client: Any, argv: list[bytes]) -> Any:
    keys, from_head, count = parse_mpop(argv, 1, b"LEFT", b"RIGHT")
    reply = _serve_first(client, keys, from_head, count, False)
    return NULL_ARRAY if reply is None else reply


# -- blocking --------------------------------------------------------------------


def _blocking_pop(client: Any, keys: list[bytes], from_head: bool, count: int | None,
                  timeout_ms: int | None) -> Any:
    reply = _serve_first(client, keys, from_head, count, False)
    if reply is not None:
        return reply
    return blocking.block(client, keys, timeout_ms,
                          lambda: _serve_first(client, keys, from_head, count, True), NULL_ARRAY)


_BPOP_COMPLEXITY = "O(N) where N is the number of provided keys."


@command("BLPOP", -3, "write noscript blocking", keys=(1, -2, 1), group="list", since="2.0.0",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         key_specs="RW access delete",
         summary="Remove and get the first element in a list, or block until one is available",
         complexity=_BPOP_COMPLEXITY, acl="@write @list @slow @blocking",
         args="key... timeout:double")
def blpop(client: Any, argv: list[bytes]) -> Any:
    timeout_ms = blocking.parse_timeout(argv[-1])
    return _blocking_pop(client, argv[1:-1], True, None, timeout_ms)


@command("BRPOP", -3, "write noscript blocking", keys=(1, -2, 1), group="list", since="2.0.0",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         key_specs="RW access delete",
         summary="Remove and get the last element in a list, or block until one is available",
         complexity=_BPOP_COMPLEXITY, acl="@write @list @slow @blocking",
         args="key... timeout:double")
def brpop(client: Any, argv: list[bytes]) -> Any:
    timeout_ms = blocking.parse_timeout(argv[-1])
    return _blocking_pop(client, argv[1:-1], False, None, timeout_ms)


@command("BLMPOP", -5, "write blocking movablekeys", group="list", since="7.0.0",
         key_specs="RW access delete|2|keynum 0 1 1",
         summary="Pop elements from a list, or block until one is available",
         complexity=_MPOP_COMPLEXITY, acl="@write @list @slow @blocking",
         args="timeout:double numkeys:integer key... (where=LEFT|RIGHT) [COUNT count:integer]")
def blmpop(client: Any, argv: list[bytes]) -> Any:
    keys, from_head, count = parse_mpop(argv, 2, b"LEFT", b"RIGHT")
    timeout_ms = blocking.parse_timeout(argv[1])
    return _blocking_pop(client, keys, from_head, count, timeout_ms)


def _try_move(client: Any, source: bytes, destination: bytes, from_head: bool,
              to_head: bool) -> Any:
    """A woken BLMOVE: the element, None to keep waiting, or WRONGTYPE for the destination
    (the client is then unblocked with the error and the element stays put)."""
    src = client.db.lookup_write(source)
    if type(src) is not ListValue:
        return None
    dst = client.db.lookup_write(destination)
    if dst is not None and type(dst) is not ListValue:
        return Error(errors.WRONGTYPE)
    return _move_from(client, source, src, destination, dst, from_head, to_head)


def _blocking_move(client: Any, source: bytes, destination: bytes, from_head: bool,
                   to_head: bool, timeout_ms: int | None) -> Any:
    """blmoveGenericCommand: move now if the source exists, else wait for it."""
    if _write(client, source) is not None:
        return _move(client, source, destination, from_head, to_head)
    if client.multi >= 0:  # in EXEC Redis answers a null bulk, though a timeout is a null array
        return None
    return blocking.block(client, [source], timeout_ms,
                          lambda: _try_move(client, source, destination, from_head, to_head),
                          NULL_ARRAY)


@command("BLMOVE", 6, "write denyoom noscript blocking", keys=(1, 2, 1), group="list",
         key_specs=("RW access delete|1", "RW insert|2"),
         since="6.2.0",
         summary="Pop an element from a list, push it to another list and return it; "
                 "or block until one is available",
         complexity="O(1)", acl="@write @list @slow @blocking",
         args=_MOVE_ARGS + " timeout:double")
def blmove(client: Any, argv: list[bytes]) -> Any:
    from_head, to_head = _from_head(argv[3]), _from_head(argv[4])
    timeout_ms = blocking.parse_timeout(argv[5])
    return _blocking_move(client, argv[1], argv[2], from_head, to_head, timeout_ms)


@command("BRPOPLPUSH", 4, "write denyoom noscript blocking", keys=(1, 2, 1), group="list",
         deprecated="6.2.0 `BLMOVE` with the `RIGHT` and `LEFT` arguments",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         key_specs=("RW access delete|1", "RW insert|2"),
         since="2.2.0",
         summary="Pop an element from a list, push it to another list and return it; "
                 "or block until one is available",
         complexity="O(1)", acl="@write @list @slow @blocking",
         args="source:key destination:key timeout:double")
def brpoplpush(client: Any, argv: list[bytes]) -> Any:
    timeout_ms = blocking.parse_timeout(argv[3])
    return _blocking_move(client, argv[1], argv[2], False, True, timeout_ms)
