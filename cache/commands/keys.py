"""Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, MOVE, TTLs, OBJECT.

Each handler follows Redis 7.0's db.c / expire.c / object.c, including which
lookups count keyspace hits and misses (read lookups do, write lookups do
not) and which refresh the key's access time (`*_notouch` ones do not).
"""

from __future__ import annotations

import re
from typing import Any

from cache import errors
from cache.commands.strings import LLONG_MAX, LLONG_MIN, option_word, parse_int, parse_ll
from cache.commands.table import command, container
from cache.errors import CommandError
from cache.glob import compile_pattern
from cache.keyspace import (
    SHARED_INTEGERS,
    SHARED_REFCOUNT,
    copy_value,
    object_encoding,
    type_name,
)
from cache.notify import notify
from cache.reply import OK, Status
from cache.resp import string2ll

ULONG_MAX = 2**64 - 1
_KEYS_LIST = "key..."


def _delete_keys(client: Any, argv: list[bytes]) -> int:
    db = client.db
    delete = db.delete
    server = client.server
    deleted = 0
    for key in argv[1:]:
        if delete(key):
            deleted += 1
            notify(server, "g", b"del", key, db.index)
    server.dirty += deleted
    return deleted


@command("DEL", -2, "write", keys=(1, -1, 1), group="generic", since="1.0.0",
         key_specs="RM delete",
         summary="Delete a key",
         complexity="O(N) where N is the number of keys that will be removed. When a key to "
                    "remove holds a value other than a string, the individual complexity for "
                    "this key is O(M) where M is the number of elements in the list, set, "
                    "sorted set or hash. Removing a single key that holds a string value is O(1).",
         acl="@keyspace @write @slow",
         tips="request_policy:multi_shard response_policy:agg_sum", args=_KEYS_LIST)
def del_(client: Any, argv: list[bytes]) -> Any:
    return _delete_keys(client, argv)


@command("UNLINK", -2, "write fast", keys=(1, -1, 1), group="generic", since="4.0.0",
         key_specs="RM delete",
         summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, "
                 "but non blocking.",
         complexity="O(1) for each key removed regardless of its size. Then the command does "
                    "O(N) work in a different thread in order to reclaim memory, where N is the "
                    "number of allocations the deleted objects where composed of.",
         acl="@keyspace @write @fast",
         tips="request_policy:multi_shard response_policy:agg_sum", args=_KEYS_LIST)
def unlink(client: Any, argv: list[bytes]) -> Any:
    return _delete_keys(client, argv)


@command("EXISTS", -2, "readonly fast", keys=(1, -1, 1), group="generic", since="1.0.0",
         history=(("3.0.3", "Accepts multiple `key` arguments."),),
         key_specs="RO",
         summary="Determine if a key exists",
         complexity="O(N) where N is the number of keys to check.",
         acl="@keyspace @read @fast",
         tips="request_policy:multi_shard response_policy:agg_sum", args=_KEYS_LIST)
def exists(client: Any, argv: list[bytes]) -> Any:
    lookup = client.db.lookup_notouch
    return sum(1 for key in argv[1:] if lookup(key) is not None)


@command("TOUCH", -2, "readonly fast", keys=(1, -1, 1), group="generic", since="3.2.1",
         key_specs="RO",
         summary="Alters the last access time of a key(s). Returns the number of existing keys "
                 "specified.",
         complexity="O(N) where N is the number of keys that will be touched.",
         acl="@keyspace @read @fast",
         tips="request_policy:multi_shard response_policy:agg_sum", args=_KEYS_LIST)
def touch(client: Any, argv: list[bytes]) -> Any:
    lookup = client.db.lookup_read
    return sum(1 for key in argv[1:] if lookup(key) is not None)


@command("TYPE", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="1.0.0",
         key_specs="RO",
         summary="Determine the type stored at key", complexity="O(1)",
         acl="@keyspace @read @fast", args="key")
def type_(client: Any, argv: list[bytes]) -> Any:
    return Status(type_name(client.db.lookup_notouch(argv[1])))


@command("KEYS", 2, "readonly", group="generic", since="1.0.0",
         summary="Find all keys matching the given pattern",
         complexity="O(N) with N being the number of keys in the database, under the assumption "
                    "that the key names in the database and the given pattern have limited length.",
         acl="@keyspace @read @slow @dangerous",
         tips="request_policy:all_shards nondeterministic_output_order", args="pattern:pattern")
def keys(client: Any, argv: list[bytes]) -> Any:
    return client.db.keys(argv[1])


# -- SCAN ----------------------------------------------------------------------

_CURSOR = re.compile(rb"([+-]?)(\d+)")
_C_SPACE = b" \t\n\v\f\r"


def parse_cursor(arg: bytes) -> int:
    """A SCAN cursor as strtoul reads it: sign allowed, wraps negatives, 64-bit."""
    if arg and arg[0] in _C_SPACE:
        raise CommandError(errors.INVALID_CURSOR)
    text = arg.split(b"\0", 1)[0]
    if not text:
        return 0
    m = _CURSOR.fullmatch(text)
    if m is None:
        raise CommandError(errors.INVALID_CURSOR)
    value = int(m.group(2)) if len(m.group(2)) < 30 else ULONG_MAX + 1
    if value > ULONG_MAX:
        raise CommandError(errors.INVALID_CURSOR)
    return (-value) & ULONG_MAX if m.group(1) == b"-" else value


def scan_options(argv: list[bytes], start: int) -> tuple[int, bytes | None, bytes | None]:
    """SCAN's COUNT / MATCH / TYPE options: (count, pattern or None for all, type or None)."""
    count = 10
    pattern = None
    type_filter = None
    i = start
    n = len(argv)
    while i < n:
        word = option_word(argv[i])
        if n - i < 2 or word not in (b"COUNT", b"MATCH", b"TYPE"):
            raise CommandError(errors.SYNTAX)
        value = argv[i + 1]
        if word == b"COUNT":
            count = parse_ll(value)
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif word == b"MATCH":
            pattern = None if value == b"*" else value
        else:
            type_filter = value
        i += 2
    return count, pattern, type_filter


@command("SCAN", -2, "readonly", group="generic", since="2.8.0",
         history=(("6.0.0", "Added the `TYPE` subcommand."),),
         summary="Incrementally iterate the keys space",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection.",
         acl="@keyspace @read @slow", tips="nondeterministic_output request_policy:special",
         args="cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type]@6.0.0")
def scan(client: Any, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[1])
    count, pattern, type_filter = scan_options(argv, 2)
    db = client.db
    next_cursor, found = db.scan(cursor, count)
    match = None if pattern is None else compile_pattern(pattern).match
    wanted_type = None if type_filter is None else option_word(type_filter)
    out = []
    for key in found:
        if match is not None and not match(key):
            continue
        if wanted_type is not None and type_name(db.lookup_notouch(key)).upper() != wanted_type:
            continue
        if db.expire_if_needed(key):
            continue
        out.append(key)
    return [b"%d" % next_cursor, out]


# -- renaming and moving -------------------------------------------------------


def _rename(client: Any, argv: list[bytes], nx: bool) -> Any:
    db = client.db
    key, newkey = argv[1], argv[2]
    entry = db.entry_for_write(key)
    if entry is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if key == newkey:
        return 0 if nx else OK
    expire = db.get_expire(key)
    if db.live_entry(newkey) is not None:
        if nx:
            return 0
        db.delete(newkey)
    db.add(newkey, entry.value, entry.lru)
    if expire is not None:
        db.set_expire(newkey, expire)
    db.delete(key)
    server = client.server
    notify(server, "g", b"rename_from", key, db.index)
    notify(server, "g", b"rename_to", newkey, db.index)
    server.dirty += 1
    return 1 if nx else OK


@command("RENAME", 3, "write", keys=(1, 2, 1), group="generic", since="1.0.0",
         key_specs=("RW access delete|1", "OW update|2"),
         summary="Rename a key", complexity="O(1)", acl="@keyspace @write @slow",
         args="key newkey:key")
def rename(client: Any, argv: list[bytes]) -> Any:
    return _rename(client, argv, nx=False)


@command("RENAMENX", 3, "write fast", keys=(1, 2, 1), group="generic", since="1.0.0",
         history=(("3.2.0", "The command no longer returns an error when source and "
                            "destination names are the same."),),
         key_specs=("RW access delete|1", "OW insert|2"),
         summary="Rename a key, only if the new key does not exist", complexity="O(1)",
         acl="@keyspace @write @fast", args="key newkey:key")
def renamenx(client: Any, argv: list[bytes]) -> Any:
    return _rename(client, argv, nx=True)


@command("RANDOMKEY", 1, "readonly", group="generic", since="1.0.0",
         summary="Return a random key from the keyspace", complexity="O(1)",
         acl="@keyspace @read @slow", tips="request_policy:all_shards nondeterministic_output")
def randomkey(client: Any, argv: list[bytes]) -> Any:
    return client.db.random_key()


def _db_index(client: Any, index: int) -> Any:
    dbs = client.server.dbs
    if not 0 <= index < len(dbs):
        raise CommandError(errors.DB_OUT_OF_RANGE)
    return dbs[index]


@command("COPY", -3, "write denyoom", keys=(1, 2, 1), group="generic", since="6.2.0",
         key_specs=("RO access|1", "OW update|2"),
         summary="Copy a key",
         complexity="O(N) worst case for collections, where N is the number of nested items. "
                    "O(1) for string values.",
         acl="@keyspace @write @slow",
         args="source:key destination:key [DB destination-db:integer] [REPLACE]")
def copy(client: Any, argv: list[bytes]) -> Any:
    src = dst = client.db
    replace = False
    i = 3
    while i < len(argv):
        word = option_word(argv[i])
        if word == b"REPLACE":
            replace = True
        elif word == b"DB" and i + 1 < len(argv):
            dst = _db_index(client, parse_int(argv[i + 1]))
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise CommandError(errors.SAME_OBJECT)
    value = src.lookup_read(key)
    if value is None:
        return 0
    expire = src.get_expire(key)
    if dst.lookup_write(newkey) is not None:
        if not replace:
            return 0
        dst.delete(newkey)
    dst.add(newkey, copy_value(value))
    if expire is not None:
        dst.set_expire(newkey, expire)
    notify(client.server, "g", b"copy_to", newkey, dst.index)
    client.server.dirty += 1
    return 1


@command("MOVE", 3, "write fast", keys=(1, 1, 1), group="generic", since="1.0.0",
         key_specs="RW access update",
         summary="Move a key to another database", complexity="O(1)",
         acl="@keyspace @write @fast", args="key db:integer")
def move(client: Any, argv: list[bytes]) -> Any:
    src = client.db
    dst = _db_index(client, parse_int(argv[2]))
    if src is dst:
        raise CommandError(errors.SAME_OBJECT)
    key = argv[1]
    entry = src.entry_for_write(key)
    if entry is None:
        return 0
    expire = src.get_expire(key)
    if dst.lookup_write(key) is not None:
        return 0
    dst.add(key, entry.value, entry.lru)
    if expire is not None:
        dst.set_expire(key, expire)
    src.delete(key)
    server = client.server
    notify(server, "g", b"move_from", key, src.index)
    notify(server, "g", b"move_to", key, dst.index)
    server.dirty += 1
    return 1


@command("SWAPDB", 3, "write fast", group="server", since="4.0.0",
         summary="Swaps two Redis databases",
         complexity="O(N) where N is the count of clients watching or blocking on keys from "
                    "both databases.",
         acl="@keyspace @write @fast @dangerous", args="index1:integer index2:integer")
def swapdb(client: Any, argv: list[bytes]) -> Any:
    first = parse_int(argv[1], errors.INVALID_FIRST_DB)
    second = parse_int(argv[2], errors.INVALID_SECOND_DB)
    dbs = client.server.dbs
    if not (0 <= first < len(dbs) and 0 <= second < len(dbs)):
        raise CommandError(errors.DB_OUT_OF_RANGE)
    if first != second:
        dbs[first].swap_contents(dbs[second])
    client.server.dirty += 1
    return OK


# -- expiry ----------------------------------------------------------------------

_EXPIRE_FLAGS = {b"NX": 1, b"XX": 2, b"GT": 4, b"LT": 8}


def _expire_flags(argv: list[bytes]) -> int:
    """parseExtendedExpireArgumentsOrReply: NX XX GT LT, and which cannot be combined."""
    flags = 0
    for arg in argv[3:]:
        flag = _EXPIRE_FLAGS.get(option_word(arg))
        if flag is None:
            raise CommandError(errors.unsupported_option(arg))
        flags |= flag
    if flags & 1 and flags & 14:
        raise CommandError(errors.EXPIRE_NX_AND_OTHERS)
    if flags & 4 and flags & 8:
        raise CommandError(errors.EXPIRE_GT_AND_LT)
    return flags


def _expire_generic(client: Any, argv: list[bytes], basetime: int, seconds: bool,
                    cmd: str) -> int:
    flags = _expire_flags(argv)
    when = parse_ll(argv[2])
    if seconds:
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):  # C division truncates
            raise CommandError(errors.invalid_expire(cmd))
        when *= 1000
    if when > LLONG_MAX - basetime:
        raise CommandError(errors.invalid_expire(cmd))
    when += basetime
    db = client.db
    key = argv[1]
    if db.lookup_write(key) is None:
        return 0
    if flags:
        current = db.get_expire(key)
        if flags & 1 and current is not None:
            return 0
        if flags & 2 and current is None:
            return 0
        if flags & 4 and (current is None or when <= current):
            return 0
        if flags & 8 and current is not None and when >= current:
            return 0
    if when <= client.server.now_ms:
        db.delete(key)
        notify(client.server, "g", b"del", key, db.index)
    else:
        db.set_expire(key, when)
        notify(client.server, "g", b"expire", key, db.index)
    client.server.dirty += 1
    return 1


_EXPIRE_ARGS = "[condition=NX|XX|GT|LT]"


@command("EXPIRE", -3, "write fast", keys=(1, 1, 1), group="generic", since="1.0.0",
         history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
         summary="Set a key's time to live in seconds", complexity="O(1)",
         acl="@keyspace @write @fast", args="key seconds:integer " + _EXPIRE_ARGS)
def expire(client: Any, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, client.server.now_ms, True, "expire")


@command("PEXPIRE", -3, "write fast", keys=(1, 1, 1), group="generic", since="2.6.0",
         history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
         summary="Set a key's time to live in milliseconds", complexity="O(1)",
         acl="@keyspace @write @fast", args="key milliseconds:integer " + _EXPIRE_ARGS)
def pexpire(client: Any, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, client.server.now_ms, False, "pexpire")


@command("EXPIREAT", -3, "write fast", keys=(1, 1, 1), group="generic", since="1.2.0",
         history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
         summary="Set the expiration for a key as a UNIX timestamp", complexity="O(1)",
         acl="@keyspace @write @fast", args="key unix-time-seconds:unix-time " + _EXPIRE_ARGS)
def expireat(client: Any, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, 0, True, "expireat")


@command("PEXPIREAT", -3, "write fast", keys=(1, 1, 1), group="generic", since="2.6.0",
         history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds",
         complexity="O(1)", acl="@keyspace @write @fast",
         args="key unix-time-milliseconds:unix-time " + _EXPIRE_ARGS)
def pexpireat(client: Any, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, 0, False, "pexpireat")


def _ttl(client: Any, key: bytes, ms: bool) -> int:
    db = client.db
    if db.lookup_notouch(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    ttl = max(when - client.server.now_ms, 0)
    return ttl if ms else (ttl + 500) // 1000


@command("TTL", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="1.0.0",
         history=(("2.8.0", "Added the -2 reply."),),
         summary="Get the time to live for a key in seconds", complexity="O(1)",
         acl="@keyspace @read @fast", tips="nondeterministic_output", args="key")
def ttl(client: Any, argv: list[bytes]) -> Any:
    return _ttl(client, argv[1], ms=False)


@command("PTTL", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="2.6.0",
         history=(("2.8.0", "Added the -2 reply."),),
         summary="Get the time to live for a key in milliseconds", complexity="O(1)",
         acl="@keyspace @read @fast", tips="nondeterministic_output", args="key")
def pttl(client: Any, argv: list[bytes]) -> Any:
    return _ttl(client, argv[1], ms=True)


def _expire_time(client: Any, key: bytes, ms: bool) -> int:
    db = client.db
    if db.lookup_notouch(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    return when if ms else when // 1000


@command("EXPIRETIME", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="7.0.0",
         summary="Get the expiration Unix timestamp for a key", complexity="O(1)",
         acl="@keyspace @read @fast", args="key")
def expiretime(client: Any, argv: list[bytes]) -> Any:
    return _expire_time(client, argv[1], ms=False)


@command("PEXPIRETIME", 2, "readonly fast", keys=(1, 1, 1), group="generic", since="7.0.0",
         summary="Get the expiration Unix timestamp for a key in milliseconds",
         complexity="O(1)", acl="@keyspace @read @fast", args="key")
def pexpiretime(client: Any, argv: list[bytes]) -> Any:
    return _expire_time(client, argv[1], ms=True)


@command("PERSIST", 2, "write fast", keys=(1, 1, 1), group="generic", since="2.2.0",
         summary="Remove the expiration from a key", complexity="O(1)",
         acl="@keyspace @write @fast", args="key")
def persist(client: Any, argv: list[bytes]) -> Any:
    db = client.db
    if db.lookup_write(argv[1]) is None or not db.persist(argv[1]):
        return 0
    notify(client.server, "g", b"persist", argv[1], db.index)
    client.server.dirty += 1
    return 1


# -- OBJECT ----------------------------------------------------------------------

container("OBJECT", group="generic", since="2.2.3",
          summary="A container for object introspection commands",
          complexity="Depends on subcommand.")


def _object_entry(client: Any, key: bytes) -> Any:
    """objectCommandLookup: counts a hit or miss, leaves the access time alone."""
    db = client.db
    entry = db.live_entry(key)
    stats = client.server.stats
    if entry is None:
        stats.keyspace_misses += 1
    else:
        stats.keyspace_hits += 1
    return entry


def _lfu_policy(client: Any) -> bool:
    return "lfu" in str(client.server.config.get("maxmemory-policy", "noeviction"))


_OBJECT_KEY = dict(keys=(2, 2, 1), group="generic", acl="@keyspace @read @slow",
                   tips="nondeterministic_output", args="key")


# Declared in the order redis-server lists OBJECT's subcommands (COMMAND INFO/DOCS).
@command("OBJECT REFCOUNT", 3, "readonly", since="2.2.3",
         key_specs="RO",
         summary="Get the number of references to the value of the key", complexity="O(1)",
         **_OBJECT_KEY)
def object_refcount(client: Any, argv: list[bytes]) -> Any:
    entry = _object_entry(client, argv[2])
    if entry is None:
        return None
    value = entry.value
    if type(value) is bytes and len(value) <= 20:
        number = string2ll(value)
        if number is not None and 0 <= number < SHARED_INTEGERS:
            return SHARED_REFCOUNT
    return 1


@command("OBJECT FREQ", 3, "readonly", since="4.0.0",
         key_specs="RO",
         summary="Get the logarithmic access frequency counter of a Redis object",
         complexity="O(1)", **_OBJECT_KEY)
def object_freq(client: Any, argv: list[bytes]) -> Any:
    entry = _object_entry(client, argv[2])
    if entry is None:
        return None
    if not _lfu_policy(client):
        raise CommandError(errors.LFU_NOT_SELECTED)
    from cache.eviction import lfu_frequency

    return lfu_frequency(client.server, entry.lru)


@command("OBJECT IDLETIME", 3, "readonly", since="2.2.3",
         key_specs="RO",
         summary="Get the time since a Redis object was last accessed", complexity="O(1)",
         **_OBJECT_KEY)
def object_idletime(client: Any, argv: list[bytes]) -> Any:
    entry = _object_entry(client, argv[2])
    if entry is None:
        return None
    if _lfu_policy(client):
        raise CommandError(errors.LFU_SELECTED)
    from cache.eviction import idle_seconds

    return idle_seconds(client.server.lru_clock, entry.lru)


_OBJECT_HELP = [
    b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"ENCODING <key>",
    b"    Return the kind of internal representation used in order to store the value",
    b"    associated with a <key>.",
    b"FREQ <key>",
    b"    Return the access frequency index of the <key>. The returned integer is",
    b"    proportional to the logarithm of the recent access frequency of the key.",
    b"IDLETIME <key>",
    b"    Return the idle time of the <key>, that is the approximated number of",
    b"    seconds elapsed since the last access to the key.",
    b"REFCOUNT <key>",
    b"    Return the number of references of the value associated with the specified",
    b"    <key>.",
    b"HELP",
    b"    Prints this help.",
]


@command("OBJECT HELP", 2, "loading stale", group="generic", since="6.2.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)",
         acl="@keyspace @slow")
def object_help(client: Any, argv: list[bytes]) -> Any:
    return [Status(line) for line in _OBJECT_HELP]


@command("OBJECT ENCODING", 3, "readonly", since="2.2.3",
         key_specs="RO",
         summary="Inspect the internal encoding of a Redis object", complexity="O(1)",
         **_OBJECT_KEY)
def object_encoding_(client: Any, argv: list[bytes]) -> Any:
    entry = _object_entry(client, argv[2])
    return None if entry is None else object_encoding(entry.value)
