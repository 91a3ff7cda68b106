"""MULTI EXEC DISCARD WATCH UNWATCH, with Redis 7.0's semantics.

Queueing happens in the dispatcher (`cache.dispatch.execute`): inside MULTI
every command but EXEC DISCARD MULTI WATCH QUIT RESET is checked (unknown,
arity, NOAUTH, OOM...) and appended to `client.queued`; a refused one sets
`client.dirty_exec`, so EXEC answers EXECABORT.

WATCH records, per client and key, whether the key existed and whether it
was already expired (Redis's `watchedKey.expired`). Any write, expiry or
eviction of the key marks its watchers `dirty_cas`; FLUSHDB and SWAPDB mark
the watchers of keys that existed before or exist after, as Redis's
touchAllWatchedKeysInDb does. EXEC then answers a null array.
"""

from __future__ import annotations

from typing import Any

from cache import errors, keyspace
from cache.commands.table import command
from cache.errors import CommandError
from cache.reply import NULL_ARRAY, OK
from cache.state import RESET_HOOKS

_TX = dict(group="transactions", acl="transaction")
_FAST = "noscript loading stale fast allow_busy"


class Watch:
    """One client's WATCH on one key."""

    __slots__ = ("client", "present", "expired")

    def __init__(self, client: Any, present: bool, expired: bool) -> None:
        self.client = client
        self.present = present  # the key was in the database (expired or not)
        self.expired = expired  # ...but already past its TTL when watched


@command("MULTI", 1, _FAST, since="1.2.0", summary="Mark the start of a transaction block",
         complexity="O(1)", **_TX)
def multi(client: Any, argv: list[bytes]) -> Any:
    if client.multi >= 0:
        raise CommandError(errors.MULTI_NESTED)
    client.multi = 0
    client.queued = []
    client.queued_denyoom = False
    client.dirty_exec = False
    return OK


@command("EXEC", 1, "noscript loading stale skip_slowlog", since="1.2.0",
         summary="Execute all commands issued after MULTI",
         complexity="Depends on commands in the transaction", **_TX)
def exec_(client: Any, argv: list[bytes]) -> Any:
    from cache.dispatch import call  # the dispatcher imports every command module

    if client.multi < 0:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    if watched_key_expired(client):
        client.dirty_cas = True
    if client.dirty_exec:
        discard_transaction(client)
        raise CommandError(errors.EXECABORT)
    if client.dirty_cas:
        discard_transaction(client)
        return NULL_ARRAY
    unwatch_all(client)
    replies = []
    try:
        for spec, queued_argv in client.queued:
            replies.append(call(client, spec, queued_argv))
    finally:
        discard_transaction(client)
    return replies


@command("DISCARD", 1, _FAST, since="2.0.0", summary="Discard all commands issued after MULTI",
         complexity="O(N), when N is the number of queued commands", **_TX)
def discard(client: Any, argv: list[bytes]) -> Any:
    if client.multi < 0:
        raise CommandError(errors.DISCARD_WITHOUT_MULTI)
    discard_transaction(client)
    return OK


@command("WATCH", -2, _FAST, keys=(1, -1, 1), since="2.2.0",
         key_specs="RO",
         summary="Watch the given keys to determine execution of the MULTI/EXEC block",
         complexity="O(1) for every key.", args="key...", **_TX)
def watch(client: Any, argv: list[bytes]) -> Any:
    if client.multi >= 0:
        raise CommandError(errors.WATCH_IN_MULTI)
    if client.dirty_cas:  # nothing to watch for: EXEC will fail anyway (Redis does the same)
        return OK
    db = client.db
    registry = client.server.watched_keys
    for key in argv[1:]:
        slot = (client.db_index, key)
        if slot in client.watching:
            continue
        record = Watch(client, key in db.data, db.is_expired(key))
        client.watching[slot] = record
        watchers = registry.get(slot)
        if watchers is None:
            watchers = registry[slot] = {}
        watchers[client.id] = record
    if registry:
        keyspace.set_watching(client.server, "transactions", True)
    return OK


@command("UNWATCH", 1, _FAST, since="2.2.0", summary="Forget about all watched keys",
         complexity="O(1)", **_TX)
def unwatch(client: Any, argv: list[bytes]) -> Any:
    unwatch_all(client)
    client.dirty_cas = False
    return OK


def discard_transaction(client: Any) -> None:
    """End MULTI (EXEC, DISCARD, RESET, an aborted EXEC) and drop every WATCH."""
    client.multi = -1
    client.queued = []
    client.queued_denyoom = False
    client.dirty_exec = False
    client.dirty_cas = False
    unwatch_all(client)


def unwatch_all(client: Any) -> None:
    if not client.watching:
        return
    registry = client.server.watched_keys
    for slot in client.watching:
        watchers = registry.get(slot)
        if watchers is not None:
            watchers.pop(client.id, None)
            if not watchers:
                del registry[slot]
    if not registry:
        keyspace.set_watching(client.server, "transactions", False)
    client.watching = {}


def watched_key_expired(client: Any) -> bool:
    """A key that was live when watched has passed its TTL since (EXEC refuses then)."""
    dbs = client.server.dbs
    for (index, key), record in client.watching.items():
        if not record.expired and dbs[index].is_expired(key):
            return True
    return False


def _touch(watchers: dict[int, Watch], present_now: bool) -> None:
    for record in list(watchers.values()):
        if record.expired:
            if not present_now:
                # An already expired key was deleted: logically no change (Redis 7.0).
                record.expired = False
                record.present = False
                continue
        _dirty(record.client)


def _dirty(client: Any) -> None:
    client.dirty_cas = True
    unwatch_all(client)  # no point watching further, as Redis's touchWatchedKey


def _key_modified(db: Any, key: bytes) -> None:
    watched = db.server.watched_keys
    if watched:
        watchers = watched.get((db.index, key))
        if watchers:
            _touch(watchers, key in db.data)


def _db_replaced(db: Any) -> None:
    """FLUSHDB/FLUSHALL (the database is now empty) or SWAPDB (it holds the other's keys)."""
    watched = db.server.watched_keys
    if not watched:
        return
    index = db.index
    for (slot_index, key), watchers in list(watched.items()):
        if slot_index != index:
            continue
        in_new = key in db.data
        for record in list(watchers.values()):
            if not (record.present or in_new):
                continue
            if record.expired:
                if not in_new:
                    record.expired = record.present = False
                    continue
                if db.is_expired(key):
                    continue
            elif not record.present and db.is_expired(key):
                record.expired = record.present = True  # replaced by an already expired key
                continue
            _dirty(record.client)


def forget_client(client: Any) -> None:
    """RESET or a closed connection: no transaction, no watched keys."""
    discard_transaction(client)


keyspace.WATCH_HOOKS.append(_key_modified)
keyspace.FLUSHED_HOOKS.append(_db_replaced)
RESET_HOOKS.append(forget_client)
