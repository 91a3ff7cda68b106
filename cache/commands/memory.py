"""MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP, as Redis 7.0's memoryCommand.

The figures are flowcache's own estimates (cache.memory), the numbers
maxmemory is enforced against, not Redis's allocator's.
"""

from __future__ import annotations

from typing import Any

from cache import errors, eviction, info, memory
from cache.commands.introspection import help_reply
from cache.commands.strings import parse_ll
from cache.commands.table import command, container
from cache.errors import CommandError
from cache.reply import OK, Double, Map, Status, Verbatim

container("MEMORY", group="server", since="4.0.0",
          summary="A container for memory diagnostics commands",
          complexity="Depends on subcommand.")

_SHARDS_SPECIAL = "nondeterministic_output request_policy:all_shards response_policy:special"
EMPTY_INSTANCE = 5 * 1024 * 1024  # below this MEMORY DOCTOR declines to diagnose, as Redis

_DOCTOR_EMPTY = (
    b"Hi Sam, this instance is empty or is using very little memory, my issues detector "
    b"can't be used in these conditions. Please, leave for your mission on Earth and fill "
    b"it with some data. The new Sam and I will be back to our programming as soon as I "
    b"finished rebooting.\n")
_DOCTOR_FINE = (
    b"Hi Sam, I can't find any memory issue in your instance. I can only account for what "
    b"occurs on this base.\n")


# Declared in the order redis-server lists MEMORY's subcommands (COMMAND INFO/DOCS).
@command("MEMORY HELP", 2, "loading stale", group="server", since="4.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def memory_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply("MEMORY", [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ])


@command("MEMORY PURGE", 2, group="server", since="4.0.0",
         summary="Ask the allocator to release memory",
         complexity="Depends on how much memory is allocated, could be slow",
         tips="request_policy:all_shards response_policy:all_succeeded")
def memory_purge(client: Any, argv: list[bytes]) -> Any:
    return OK


@command("MEMORY DOCTOR", 2, group="server", since="4.0.0",
         summary="Outputs memory problems report", complexity="O(1)", tips=_SHARDS_SPECIAL)
def memory_doctor(client: Any, argv: list[bytes]) -> Any:
    used = eviction.used_memory(client.server)
    return Verbatim(_DOCTOR_EMPTY if used < EMPTY_INSTANCE else _DOCTOR_FINE)


@command("MEMORY USAGE", -3, "readonly", keys=(2, 2, 1), group="server", since="4.0.0",
         key_specs="RO",
         summary="Estimate the memory usage of a key",
         complexity="O(N) where N is the number of samples.", args="key [SAMPLES count:integer]")
def memory_usage(client: Any, argv: list[bytes]) -> Any:
    """Like Redis: options first, then the key as stored (no expiry check, no stats)."""
    samples = memory.DEFAULT_SAMPLES
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            samples = parse_ll(argv[i + 1])
            if samples < 0:
                raise CommandError(errors.SYNTAX)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    db = client.db
    key = argv[2]
    entry = db.data.get(key)
    if entry is None:
        return None
    has_ttl = db.get_expire(key) is not None
    return memory.usage(key, entry.value, has_ttl, samples)


@command("MEMORY STATS", 2, group="server", since="4.0.0",
         summary="Show memory usage details", complexity="O(1)", tips=_SHARDS_SPECIAL)
def memory_stats(client: Any, argv: list[bytes]) -> Any:
    """Redis's field names, in its order, for the parts flowcache has."""
    server = client.server
    used = eviction.used_memory(server)
    peak = eviction.peak_memory(server)
    startup = eviction.STARTUP_MEMORY
    overhead = min(info.memory_overhead(server), used)
    keys = sum(len(db) for db in server.dbs)
    dataset = used - overhead
    net = used - startup
    rss = memory.process_rss() or used
    fields: list[Any] = [
        b"peak.allocated", peak, b"total.allocated", used, b"startup.allocated", startup,
        b"replication.backlog", 0, b"clients.slaves", 0, b"clients.normal", 0,
        b"cluster.links", 0, b"aof.buffer", 0, b"lua.caches", 0, b"functions.caches", 0,
    ]
    for db in server.dbs:
        if len(db) or db.expires_count:
            fields += [b"db.%d" % db.index, Map([
                b"overhead.hashtable.main", len(db) * (memory.DICT_SLOT + memory.LIST_SLOT),
                b"overhead.hashtable.expires", db.expires_count * memory.PER_EXPIRE,
                b"overhead.hashtable.slot-to-keys", 0])]
    fields += [
        b"overhead.total", overhead, b"keys.count", keys,
        b"keys.bytes-per-key", net // keys if keys else 0,
        b"dataset.bytes", dataset,
        b"dataset.percentage", Double(dataset * 100 / net if net else 0.0),
        b"peak.percentage", Double(used * 100 / peak if peak else 0.0),
        b"fragmentation", Double(rss / used), b"fragmentation.bytes", rss - used,
    ]
    return Map(fields)


@command("MEMORY MALLOC-STATS", 2, group="server", since="4.0.0",
         summary="Show allocator internal stats",
         complexity="Depends on how much memory is allocated, could be slow",
         tips=_SHARDS_SPECIAL)
def memory_malloc_stats(client: Any, argv: list[bytes]) -> Any:
    return Verbatim(b"Stats not supported for the current allocator")
