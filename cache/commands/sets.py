"""Set commands (Redis 7.0 t_set.c), over `cache.datatypes.sets.SetValue`.

Handlers follow t_set.c step by step where it shows: which lookups count
keyspace hits (read lookups) and which do not (write lookups), the order
of argument, type and existence checks, the dirty counter, the random
strategies of SPOP/SRANDMEMBER with a count, and how SINTER/SUNION/SDIFF
build their result set (so a stored result gets Redis's encoding). Every
random choice draws from the loop's RNG (`client.server.random`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from cache import errors
from cache.commands.keys import parse_cursor
from cache.commands.lists import announce_removal
from cache.commands.strings import LLONG_MAX, option_word, parse_ll
from cache.commands.table import command
from cache.datatypes.sets import SetValue
from cache.errors import CommandError
from cache.glob import compile_pattern
from cache.notify import notify
from cache.reply import Set

SPOP_MOVE_STRATEGY_MUL = 5
SRANDMEMBER_SUB_STRATEGY_MUL = 3


def set_or_none(value: Any) -> SetValue | None:
    """checkType for sets: the value, None for a missing key, WRONGTYPE otherwise."""
    if value is None or type(value) is SetValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def max_intset(client: Any) -> int:
    return client.server.config.get("set-max-intset-entries", 512)


def parse_range_count(arg: bytes) -> int:
    """getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): the count of the RAND commands."""
    count = parse_ll(arg)
    if count < -LLONG_MAX:
        raise CommandError(errors.value_out_of_range(-LLONG_MAX, LLONG_MAX))
    return count


def parse_rand_options(argv: list[bytes], pairs_word: bytes) -> tuple[int, bool]:
    """HRANDFIELD's and ZRANDMEMBER's `count [WITHVALUES|WITHSCORES]`, checked in their order;
    with pairs the count is capped at LONG_MAX/2, since the reply is twice as long."""
    count = parse_range_count(argv[2])
    if len(argv) > 4 or (len(argv) == 4 and option_word(argv[3]) != pairs_word):
        raise CommandError(errors.SYNTAX)
    with_pairs = len(argv) == 4
    if with_pairs and not -(LLONG_MAX // 2) <= count <= LLONG_MAX // 2:
        raise CommandError(errors.VALUE_OUT_OF_RANGE)
    return count, with_pairs


def parse_positive(arg: bytes, message: bytes) -> int:
    """getPositiveLongFromObjectOrReply: one message for junk and for negatives."""
    value = parse_ll(arg, message)
    if value < 0:
        raise CommandError(message)
    return value


# -- SSCAN / HSCAN options ------------------------------------------------------


def collection_scan_options(argv: list[bytes], start: int) -> tuple[int, Callable | None]:
    """scanGenericCommand's options for a key: COUNT and MATCH (TYPE is SCAN's only)."""
    count = 10
    match = None
    i = start
    n = len(argv)
    while i < n:
        word = option_word(argv[i])
        if word == b"COUNT" and n - i >= 2:
            count = parse_ll(argv[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif word == b"MATCH" and n - i >= 2:
            pattern = argv[i + 1]
            match = None if pattern == b"*" else compile_pattern(pattern).match
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    return count, match


def scan_start(client: Any, checked: Callable[[Any], Any],
               argv: list[bytes]) -> tuple[int, Any, int, Callable | None] | None:
    """SSCAN/HSCAN/ZSCAN up to the walk: cursor, then key and type, then options (Redis's
    order, which decides the error); None for a missing key."""
    cursor = parse_cursor(argv[2])
    value = checked(client.db.lookup_read(argv[1]))
    if value is None:
        return None
    count, match = collection_scan_options(argv, 3)
    return cursor, value, count, match


SCAN_ARGS = "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]"
SCAN_COMPLEXITY = (
    "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
    "the cursor to return back to 0. N is the number of elements inside the collection.."
)


# -- single-set commands ----------------------------------------------------------


@command("SADD", -3, "write denyoom fast", keys=(1, 1, 1), group="set", since="1.0.0",
         history=(("2.4.0", "Accepts multiple `member` arguments."),),
         key_specs="RW insert",
         summary="Add one or more members to a set",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
                    "is called with multiple arguments.",
         args="key member...")
def sadd(client: Any, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    value = set_or_none(db.lookup_write(key))
    created = value is None
    if created:
        value = SetValue.for_member(argv[2])
    limit = max_intset(client)
    added = 0
    for member in argv[2:]:
        if value.add(member, limit):
            added += 1
    if created:
        db.add(key, value)
    elif added:
        db.on_key_modified(key)
    else:
        return 0
    notify(client.server, "s", b"sadd", key, db.index)
    client.server.dirty += added
    return added


def remove_members(client: Any, key: bytes, value: SetValue, members: Iterable[bytes]) -> int:
    """Remove members, deleting the key as soon as the set is empty (as SREM does)."""
    return remove_each(client, key, value, members, value.remove, "s", b"srem")


def store_or_delete(client: Any, dst_key: bytes, result: Any, event_class: str,
                    event: bytes) -> int:
    """The STORE commands' ending: setKey for a non-empty result, else delete dst."""
    db = client.db
    if result:
        db.set_key(dst_key, result)
        notify(client.server, event_class, event, dst_key, db.index)
        client.server.dirty += 1
        return len(result)
    if db.delete(dst_key):
        notify(client.server, "g", b"del", dst_key, db.index)
        client.server.dirty += 1
    return 0


def remove_each(client: Any, key: bytes, value: Any, items: Iterable[bytes],
                remove: Callable[[bytes], bool], event_class: str, event: bytes) -> int:
    """SREM's, HDEL's and ZREM's shared loop: the key goes as soon as the collection is empty, and
    the type event precedes the `del` event."""
    removed = 0
    for item in items:
        if remove(item):
            removed += 1
            if not value:
                break
    if removed:
        announce_removal(client, key, value, event_class, event)
    client.server.dirty += removed
    return removed


@command("SREM", -3, "write fast", keys=(1, 1, 1), group="set", since="1.0.0",
         history=(("2.4.0", "Accepts multiple `member` arguments."),),
         key_specs="RW delete",
         summary="Remove one or more members from a set",
         complexity="O(N) where N is the number of members to be removed.",
         args="key member...")
def srem(client: Any, argv: list[bytes]) -> Any:
    value = set_or_none(client.db.lookup_write(argv[1]))
    if value is None:
        return 0
    return remove_members(client, argv[1], value, argv[2:])


@command("SMOVE", 4, "write fast", keys=(1, 2, 1), group="set", since="1.0.0",
         key_specs=("RW access delete|1", "RW insert|2"),
         summary="Move a member from one set to another", complexity="O(1)",
         args="source:key destination:key member")
def smove(client: Any, argv: list[bytes]) -> Any:
    db = client.db
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src = db.lookup_write(src_key)
    dst = db.lookup_write(dst_key)
    if src is None:
        return 0
    set_or_none(src)
    set_or_none(dst)
    if src is dst:
        return 1 if member in src else 0
    if not src.remove(member):
        return 0
    announce_removal(client, src_key, src, "s", b"srem")
    server = client.server
    server.dirty += 1
    if dst is None:
        dst = SetValue.for_member(member)
        dst.add(member, max_intset(client))
        db.add(dst_key, dst)
    elif dst.add(member, max_intset(client)):
        db.on_key_modified(dst_key)
    else:
        return 1
    server.dirty += 1
    notify(server, "s", b"sadd", dst_key, db.index)
    return 1


@command("SISMEMBER", 3, "readonly fast", keys=(1, 1, 1), group="set", since="1.0.0",
         key_specs="RO",
         summary="Determine if a given value is a member of a set", complexity="O(1)",
         args="key member")
def sismember(client: Any, argv: list[bytes]) -> Any:
    value = set_or_none(client.db.lookup_read(argv[1]))
    return 1 if value is not None and argv[2] in value else 0


@command("SMISMEMBER", -3, "readonly fast", keys=(1, 1, 1), group="set", since="6.2.0",
         summary="Returns the membership associated with the given elements for a set",
         complexity="O(N) where N is the number of elements being checked for membership",
         args="key member...")
def smismember(client: Any, argv: list[bytes]) -> Any:
    value = set_or_none(client.db.lookup_read(argv[1]))
    if value is None:
        return [0] * (len(argv) - 2)
    return [1 if member in value else 0 for member in argv[2:]]


@command("SCARD", 2, "readonly fast", keys=(1, 1, 1), group="set", since="1.0.0",
         key_specs="RO",
         summary="Get the number of members in a set", complexity="O(1)", args="key")
def scard(client: Any, argv: list[bytes]) -> Any:
    value = set_or_none(client.db.lookup_read(argv[1]))
    return 0 if value is None else len(value)


@command("SMEMBERS", 2, "readonly", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Get all the members in a set",
         complexity="O(N) where N is the set cardinality.",
         tips="nondeterministic_output_order", args="key")
def smembers(client: Any, argv: list[bytes]) -> Any:
    value = set_or_none(client.db.lookup_read(argv[1]))
    return Set() if value is None else Set(value)


# -- random members ----------------------------------------------------------------


@command("SPOP", -2, "write fast", keys=(1, 1, 1), group="set", since="1.0.0",
         history=(("3.2.0", "Added the `count` argument."),),
         key_specs="RW access delete",
         summary="Remove and return one or multiple random members from a set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of "
                    "the passed count.",
         tips="nondeterministic_output", args="key [count:integer]@3.2.0")
def spop(client: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _spop_with_count(client, argv[1], parse_positive(argv[2], errors.POSITIVE_COUNT))
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    db = client.db
    key = argv[1]
    value = set_or_none(db.lookup_write(key))
    if value is None:
        return None
    member = value.pop_random(client.server.random)
    announce_removal(client, key, value, "s", b"spop")
    client.server.dirty += 1
    return member


def _spop_with_count(client: Any, key: bytes, count: int) -> Set:
    db = client.db
    value = set_or_none(db.lookup_write(key))
    if value is None or count == 0:
        return Set()
    size = len(value)
    client.server.dirty += min(count, size)
    if count >= size:  # CASE 1: the whole set, which Redis reads through SUNION (a hit)
        db.lookup_read(key)
        popped = Set(value)
        db.delete(key)
        notify(client.server, "s", b"spop", key, db.index)
        notify(client.server, "g", b"del", key, db.index)
        return popped
    rng = client.server.random
    remaining = size - count
    if remaining * SPOP_MOVE_STRATEGY_MUL > count:  # CASE 2: pop one by one
        popped = Set(value.pop_random(rng) for _ in range(count))
    else:  # CASE 3: draw the few members that stay, return all the others
        keep: dict[bytes, None] = {}
        while len(keep) < remaining:
            keep[value.random_member(rng)] = None
        popped = Set(member for member in value if member not in keep)
        for member in popped:
            value.remove(member)
        # Redis stores the kept members as a new set, which may be an intset again;
        # converting in place keeps an SSCAN in progress valid.
        value.reencode_if_fits(max_intset(client))
    db.on_key_modified(key)
    notify(client.server, "s", b"spop", key, db.index)
    return popped


@command("SRANDMEMBER", -2, "readonly", keys=(1, 1, 1), group="set", since="1.0.0",
         history=(("2.6.0", "Added the optional `count` argument."),),
         summary="Get one or multiple random members from a set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute "
                    "value of the passed count.",
         tips="nondeterministic_output", args="key [count:integer]@2.6.0")
def srandmember(client: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _srandmember_with_count(client, argv[1], parse_range_count(argv[2]))
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    value = set_or_none(client.db.lookup_read(argv[1]))
    if value is None:
        return None
    return value.random_member(client.server.random)


def _srandmember_with_count(client: Any, key: bytes, count: int) -> list[bytes]:
    value = set_or_none(client.db.lookup_read(key))
    if value is None or count == 0:
        return []
    rng = client.server.random
    if count < 0 or count == 1:  # CASE 1: repeats allowed
        return [value.random_member(rng) for _ in range(abs(count))]
    return sample_distinct(len(value), count, rng, lambda: list(value), value.random_member)


def sample_distinct(size: int, count: int, rng: Any, everything: Callable[[], list],
                    pick: Callable[[Any], Any]) -> list:
    """SRANDMEMBER's and HRANDFIELD's cases 2-4: `count` distinct elements.

    `everything()` lists the whole collection in iteration order and
    `pick(rng)` draws one element; each case uses Redis's strategy, so the
    cost is Redis's too.
    """
    if count >= size:  # CASE 2: everything, in iteration order
        return everything()
    if count * SRANDMEMBER_SUB_STRATEGY_MUL > size:  # CASE 3: drop random ones from a copy
        chosen = everything()
        while len(chosen) > count:
            i = rng.randbelow(len(chosen))
            chosen[i] = chosen[-1]
            chosen.pop()
        return chosen
    found: dict[Any, None] = {}  # CASE 4: draw until enough distinct ones
    while len(found) < count:
        found[pick(rng)] = None
    return list(found)


# -- SINTER / SUNION / SDIFF -------------------------------------------------------


def _lookup_sets(client: Any, keys: list[bytes]) -> list[SetValue | None]:
    """Every source set (None when missing); the first wrong type is an error."""
    lookup = client.db.lookup_read
    return [set_or_none(lookup(key)) for key in keys]


def sinter_generic(client: Any, keys: list[bytes], dst_key: bytes | None = None,
                   cardinality_only: bool = False, limit: int = 0) -> Any:
    sets = _lookup_sets(client, keys)
    if any(value is None for value in sets):
        if dst_key is not None:
            return store_or_delete(client, dst_key, SetValue(), "s", b"sinterstore")
        return 0 if cardinality_only else Set()
    sets.sort(key=len)
    smallest, others = sets[0], sets[1:]
    result = SetValue() if dst_key is not None else None
    limit_intset = max_intset(client)
    found: list[bytes] = []
    cardinality = 0
    for member in smallest:
        if all(other is smallest or member in other for other in others):
            cardinality += 1
            if cardinality_only:
                if limit and cardinality >= limit:
                    break
            elif result is not None:
                result.add(member, limit_intset)
            else:
                found.append(member)
    if cardinality_only:
        return cardinality
    if result is not None:
        return store_or_delete(client, dst_key, result, "s", b"sinterstore")
    return Set(found)


UNION, DIFF = 0, 1


def sunion_diff_generic(client: Any, keys: list[bytes], op: int,
                        dst_key: bytes | None = None) -> Any:
    sets = _lookup_sets(client, keys)
    limit = max_intset(client)
    result = SetValue()  # createIntsetObject, then filled as Redis fills it
    first = sets[0]
    if op == UNION:
        for value in sets:
            if value is not None:
                for member in value:
                    result.add(member, limit)
    elif first is not None:
        present = [value for value in sets if value is not None]
        one_work = len(first) * len(present) // 2
        two_work = sum(len(value) for value in present)
        if one_work <= two_work:  # algorithm 1: test each member of the first set
            others = sorted((value for value in sets[1:] if value is not None), key=len,
                            reverse=True)
            for member in first:
                if not any(other is first or member in other for other in others):
                    result.add(member, limit)
        else:  # algorithm 2: add the first set, remove every other one
            for j, value in enumerate(sets):
                if value is None:
                    continue
                for member in value:
                    if j == 0:
                        result.add(member, limit)
                    else:
                        result.remove(member)
                if not result:
                    break
    if dst_key is not None:
        event = b"sunionstore" if op == UNION else b"sdiffstore"
        return store_or_delete(client, dst_key, result, "s", event)
    return Set(result)


@command("SINTER", -2, "readonly", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Intersect multiple sets",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         tips="nondeterministic_output_order", args="key...")
def sinter(client: Any, argv: list[bytes]) -> Any:
    return sinter_generic(client, argv[1:])


@command("SINTERSTORE", -3, "write denyoom", keys=(1, -1, 1), group="set", since="1.0.0",
         key_specs=("RW update|1", "RO access|2|range -1 1 0"),
         summary="Intersect multiple sets and store the resulting set in a key",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         args="destination:key key...")
def sinterstore(client: Any, argv: list[bytes]) -> Any:
    return sinter_generic(client, argv[2:], dst_key=argv[1])


@command("SINTERCARD", -3, "readonly movablekeys", group="set", since="7.0.0",
         key_specs="RO access|1|keynum 0 1 1",
         summary="Intersect multiple sets and return the cardinality of the result",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         args="numkeys:integer key... [LIMIT limit:integer]")
def sintercard(client: Any, argv: list[bytes]) -> Any:
    numkeys = parse_ll(argv[1], errors.NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_NOT_POSITIVE)
    if numkeys > len(argv) - 2:
        raise CommandError(errors.NUMKEYS_OVER_ARGS)
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if option_word(argv[i]) == b"LIMIT" and i + 1 < len(argv):
            limit = parse_positive(argv[i + 1], errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return sinter_generic(client, argv[2:2 + numkeys], cardinality_only=True, limit=limit)


@command("SUNION", -2, "readonly", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Add multiple sets",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips="nondeterministic_output_order", args="key...")
def sunion(client: Any, argv: list[bytes]) -> Any:
    return sunion_diff_generic(client, argv[1:], UNION)


@command("SUNIONSTORE", -3, "write denyoom", keys=(1, -1, 1), group="set", since="1.0.0",
         key_specs=("OW update|1", "RO access|2|range -1 1 0"),
         summary="Add multiple sets and store the resulting set in a key",
         complexity="O(N) where N is the total number of elements in all given sets.",
         args="destination:key key...")
def sunionstore(client: Any, argv: list[bytes]) -> Any:
    return sunion_diff_generic(client, argv[2:], UNION, dst_key=argv[1])


@command("SDIFF", -2, "readonly", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Subtract multiple sets",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips="nondeterministic_output_order", args="key...")
def sdiff(client: Any, argv: list[bytes]) -> Any:
    return sunion_diff_generic(client, argv[1:], DIFF)


@command("SDIFFSTORE", -3, "write denyoom", keys=(1, -1, 1), group="set", since="1.0.0",
         key_specs=("OW update|1", "RO access|2|range -1 1 0"),
         summary="Subtract multiple sets and store the resulting set in a key",
         complexity="O(N) where N is the total number of elements in all given sets.",
         args="destination:key key...")
def sdiffstore(client: Any, argv: list[bytes]) -> Any:
    return sunion_diff_generic(client, argv[2:], DIFF, dst_key=argv[1])


@command("SSCAN", -3, "readonly", keys=(1, 1, 1), group="set", since="2.8.0",
         summary="Incrementally iterate Set elements", complexity=SCAN_COMPLEXITY,
         tips="nondeterministic_output", args=SCAN_ARGS)
def sscan(client: Any, argv: list[bytes]) -> Any:
    started = scan_start(client, set_or_none, argv)
    if started is None:
        return [b"0", []]
    cursor, value, count, match = started
    next_cursor, members = value.scan(cursor, count)
    if match is not None:
        members = [member for member in members if match(member)]
    return [b"%d" % next_cursor, members]
