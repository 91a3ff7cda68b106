"""Hash commands (Redis 7.0 t_hash.c), over `cache.datatypes.hashes.HashValue`.

As in t_hash.c: writes look the key up without touching hit/miss stats and
create the hash on demand; long arguments convert a listpack to a
hashtable before anything is set (hashTypeTryConversion), and every set
checks lengths and entry counts again (hashTypeSet, which is what converts
for HINCRBY*). HINCRBYFLOAT shares INCRBYFLOAT's exact long double
arithmetic. HRANDFIELD draws from the loop's RNG with Redis's strategies.
"""

from __future__ import annotations

from typing import Any

from cache import errors
from cache.commands.sets import (
    SCAN_ARGS,
    SCAN_COMPLEXITY,
    parse_rand_options,
    remove_each,
    sample_distinct,
    scan_start,
)
from cache.commands.strings import (
    LLONG_MAX,
    LLONG_MIN,
    format_long_double,
    parse_ll,
    parse_long_double,
    round_long_double,
)
from cache.commands.table import command
from cache.datatypes.hashes import HashValue
from cache.errors import CommandError
from cache.notify import notify
from cache.reply import OK, Map
from cache.resp import string2ll


def hash_or_none(value: Any) -> HashValue | None:
    """checkType for hashes: the value, None for a missing key, WRONGTYPE otherwise."""
    if value is None or type(value) is HashValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _limits(client: Any) -> tuple[int, int]:
    server = client.server
    return (server.config.get("hash-max-listpack-entries", 512),
            server.config.get("hash-max-listpack-value", 64))


class _HashWrite:
    """hashTypeLookupWriteOrCreate, and the matching `done` once the hash changed."""

    __slots__ = ("client", "key", "value", "created", "max_entries", "max_value")

    def __init__(self, client: Any, key: bytes) -> None:
        self.client = client
        self.key = key
        value = hash_or_none(client.db.lookup_write(key))
        self.created = value is None
        self.value = HashValue() if value is None else value
        self.max_entries, self.max_value = _limits(client)

    def set(self, field: bytes, value: bytes) -> bool:
        return self.value.set(field, value, self.max_entries, self.max_value)

    def done(self, dirty: int, event: bytes) -> None:
        db = self.client.db
        if self.created:
            db.add(self.key, self.value)
        else:
            db.on_key_modified(self.key)
        notify(self.client.server, "h", event, self.key, db.index)
        self.client.server.dirty += dirty


# -- setting fields -----------------------------------------------------------------

_HSET_ARGS = "key (field_value=field value)..."


def _hset_generic(client: Any, argv: list[bytes], name: str) -> int:
    if len(argv) % 2:
        raise CommandError(errors.wrong_arity(name))
    write = _HashWrite(client, argv[1])
    write.value.convert_for(argv[2:], write.max_value)
    created = 0
    for i in range(2, len(argv), 2):
        if write.set(argv[i], argv[i + 1]):
            created += 1
    write.done((len(argv) - 2) // 2, b"hset")
    return created


@command("HSET", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         history=(("4.0.0", "Accepts multiple `field` and `value` arguments."),),
         summary="Set the string value of a hash field",
         complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs "
                    "when the command is called with multiple field/value pairs.",
         args=_HSET_ARGS)
def hset(client: Any, argv: list[bytes]) -> Any:
    return _hset_generic(client, argv, "hset")


@command("HMSET", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         deprecated="4.0.0 `HSET` with multiple field-value pairs",
         summary="Set multiple hash fields to multiple values",
         complexity="O(N) where N is the number of fields being set.", args=_HSET_ARGS)
def hmset(client: Any, argv: list[bytes]) -> Any:
    _hset_generic(client, argv, "hmset")
    return OK


@command("HSETNX", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         key_specs="RW insert",
         summary="Set the value of a hash field, only if the field does not exist",
         complexity="O(1)", args="key field value")
def hsetnx(client: Any, argv: list[bytes]) -> Any:
    write = _HashWrite(client, argv[1])
    if argv[2] in write.value:
        return 0
    write.value.convert_for(argv[2:4], write.max_value)
    write.set(argv[2], argv[3])
    write.done(1, b"hset")
    return 1


@command("HINCRBY", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         key_specs="RW access update",
         summary="Increment the integer value of a hash field by the given number",
         complexity="O(1)", args="key field increment:integer")
def hincrby(client: Any, argv: list[bytes]) -> Any:
    increment = parse_ll(argv[3])
    write = _HashWrite(client, argv[1])
    current = write.value.get(argv[2])
    old = 0
    if current is not None:
        old = string2ll(current)
        if old is None:
            raise CommandError(errors.HASH_VALUE_NOT_INTEGER)
    total = old + increment
    if not LLONG_MIN <= total <= LLONG_MAX:
        raise CommandError(errors.OVERFLOW)
    write.set(argv[2], b"%d" % total)
    write.done(1, b"hincrby")
    return total


@command("HINCRBYFLOAT", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.6.0",
         key_specs="RW access update",
         summary="Increment the float value of a hash field by the given amount",
         complexity="O(1)", args="key field increment:double")
def hincrbyfloat(client: Any, argv: list[bytes]) -> Any:
    increment = parse_long_double(argv[3])
    if increment is None:
        raise CommandError(errors.NOT_FLOAT)
    if type(increment) is float:  # an infinity (string2ld refuses NaN)
        raise CommandError(errors.VALUE_NAN_OR_INF)
    write = _HashWrite(client, argv[1])
    current: Any = write.value.get(argv[2])
    if current is not None:
        current = parse_long_double(current)
        if current is None:
            raise CommandError(errors.HASH_VALUE_NOT_FLOAT)
        if type(current) is float:  # inf + finite stays infinite
            raise CommandError(errors.NAN_OR_INF)
    total = round_long_double((current or 0) + increment)
    if type(total) is float:
        raise CommandError(errors.NAN_OR_INF)
    text = format_long_double(total)
    write.set(argv[2], text)
    write.done(1, b"hincrbyfloat")
    return text


# -- reading fields ---------------------------------------------------------------


@command("HGET", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get the value of a hash field", complexity="O(1)", args="key field")
def hget(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    return None if value is None else value.get(argv[2])


@command("HMGET", -3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get the values of all the given hash fields",
         complexity="O(N) where N is the number of fields being requested.",
         args="key field...")
def hmget(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    if value is None:
        return [None] * (len(argv) - 2)
    return [value.get(field) for field in argv[2:]]


@command("HDEL", -3, "write fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         history=(("2.4.0", "Accepts multiple `field` arguments."),),
         key_specs="RW delete",
         summary="Delete one or more hash fields",
         complexity="O(N) where N is the number of fields to be removed.",
         args="key field...")
def hdel(client: Any, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    value = hash_or_none(db.lookup_write(key))
    if value is None:
        return 0
    return remove_each(client, key, value, argv[2:], value.delete, "h", b"hdel")


@command("HLEN", 2, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         key_specs="RO",
         summary="Get the number of fields in a hash", complexity="O(1)", args="key")
def hlen(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    return 0 if value is None else len(value)


@command("HSTRLEN", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="3.2.0",
         key_specs="RO",
         summary="Get the length of the value of a hash field", complexity="O(1)",
         args="key field")
def hstrlen(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    found = None if value is None else value.get(argv[2])
    return 0 if found is None else len(found)


@command("HEXISTS", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         key_specs="RO",
         summary="Determine if a hash field exists", complexity="O(1)", args="key field")
def hexists(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    return 1 if value is not None and argv[2] in value else 0


_WHOLE_HASH = "O(N) where N is the size of the hash."


@command("HKEYS", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get all the fields in a hash", complexity=_WHOLE_HASH,
         tips="nondeterministic_output_order", args="key")
def hkeys(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    return [] if value is None else value.field_list()


@command("HVALS", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get all the values in a hash", complexity=_WHOLE_HASH,
         tips="nondeterministic_output_order", args="key")
def hvals(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    return [] if value is None else value.value_list()


@command("HGETALL", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Get all the fields and values in a hash", complexity=_WHOLE_HASH,
         tips="nondeterministic_output_order", args="key")
def hgetall(client: Any, argv: list[bytes]) -> Any:
    value = hash_or_none(client.db.lookup_read(argv[1]))
    return Map() if value is None else Map(value.items())


# -- HRANDFIELD and HSCAN -----------------------------------------------------------

@command("HRANDFIELD", -2, "readonly", keys=(1, 1, 1), group="hash", since="6.2.0",
         summary="Get one or multiple random fields from a hash",
         complexity="O(N) where N is the number of fields returned",
         tips="nondeterministic_output", args="key [options=count:integer [WITHVALUES]]")
def hrandfield(client: Any, argv: list[bytes]) -> Any:
    if len(argv) >= 3:
        count, with_values = parse_rand_options(argv, b"WITHVALUES")
        return _hrandfield_with_count(client, argv[1], count, with_values)
    value = hash_or_none(client.db.lookup_read(argv[1]))
    if value is None:
        return None
    return value.random_item(client.server.random)[0]


def _hrandfield_with_count(client: Any, key: bytes, count: int, with_values: bool) -> list:
    value = hash_or_none(client.db.lookup_read(key))
    if value is None or count == 0:
        return []
    rng = client.server.random
    if value.encoding == b"listpack":  # list it once rather than walk it for every draw
        items = value.item_list()
        everything = items.copy

        def pick(rng: Any) -> tuple[bytes, bytes]:
            return items[rng.randbelow(len(items))]
    else:
        everything, pick = value.item_list, value.random_item
    if count < 0 or count == 1:  # CASE 1: repeats allowed
        pairs = [pick(rng) for _ in range(abs(count))]
    else:
        pairs = sample_distinct(len(value), count, rng, everything, pick)
    if not with_values:
        return [field for field, _ in pairs]
    if client.proto >= 3:
        return [list(pair) for pair in pairs]
    return [part for pair in pairs for part in pair]


@command("HSCAN", -3, "readonly", keys=(1, 1, 1), group="hash", since="2.8.0",
         summary="Incrementally iterate hash fields and associated values",
         complexity=SCAN_COMPLEXITY, tips="nondeterministic_output", args=SCAN_ARGS)
def hscan(client: Any, argv: list[bytes]) -> Any:
    started = scan_start(client, hash_or_none, argv)
    if started is None:
        return [b"0", []]
    cursor, value, count, match = started
    next_cursor, pairs = value.scan(cursor, count)
    return [b"%d" % next_cursor,
            [part for field, val in pairs if match is None or match(field) for part in (field, val)]]
