"""Keyspace notifications (`notify-keyspace-events`), published as Redis 7.0 publishes them.

    notify(state, "$", b"set", key, db.index)

publishes `__keyspace@<db>__:<key>` -> event (class K) and
`__keyevent@<db>__:<event>` -> key (class E) through `cache.pubsub.publish`,
when the event's class is enabled. The enabled classes are kept as an int
on the ServerState (`notify_flags`: -1 until this module first reads the
setting, then refreshed by CONFIG SET), so with notifications off (the
default) a call is one attribute read and one AND, and the hottest
handlers skip even the call with `if server.notify_flags: notify(...)`.

Classes: g generic, $ string, l list, s set, h hash, z sorted set,
x expired, e evicted, t stream, m key miss, d module, n new key.

Who calls it. `expired` and `evicted` come from `cache.keyspace`'s
KEY_EVENT_HOOKS (installed below), as do `new` (n: a key created, before the
command's own event) and `keymiss` (m: a read lookup that found nothing)
once the keyspace reports them. Every other event is the command's: call
`notify` after the change, only when the key really changed (an SREM that
removed nothing notifies nothing), in the order of EVENTS below, with the
database the key is in (COPY ... DB n and MOVE notify in the target's db).

EVENTS lists, per command, the events in the order redis-server 7.0.15
emits them (checked by tests/cache/test_notify.py against the real server):
"""

from __future__ import annotations

from typing import Any

from cache import keyspace, pubsub

# Bit per class letter, as Redis's NOTIFY_* flags.
CLASS_BITS = {letter: 1 << i for i, letter in enumerate("KEg$lshzxetmdn")}
KEYSPACE = CLASS_BITS["K"]
KEYEVENT = CLASS_BITS["E"]
_SETTING = "notify-keyspace-events"

# (class, event) per command; "(del)" marks a `del` emitted only when the
# command emptied (and so removed) the key, "(new)" a `new` only when the
# key did not exist. Conditions in the comments.
EVENTS: dict[str, tuple[tuple[str, str], ...]] = {
    # strings: every write is one event on each key written
    "set": (("n", "new"), ("$", "set"), ("g", "expire")),  # expire: EX/PX/EXAT/PXAT given
    "setnx": (("n", "new"), ("$", "set")),  # only when it set
    "setex": (("n", "new"), ("$", "set"), ("g", "expire")),
    "psetex": (("n", "new"), ("$", "set"), ("g", "expire")),
    "getset": (("n", "new"), ("$", "set")),
    "mset": (("n", "new"), ("$", "set")),  # per key, in argument order: new set new set...
    "msetnx": (("n", "new"), ("$", "set")),  # per key, only when all were set
    "append": (("n", "new"), ("$", "append")),
    "setrange": (("n", "new"), ("$", "setrange")),  # nothing when the value is empty and
    # the key is missing or the value would not grow
    "incr": (("n", "new"), ("$", "incrby")),
    "decr": (("n", "new"), ("$", "incrby")),
    "incrby": (("n", "new"), ("$", "incrby")),
    "decrby": (("n", "new"), ("$", "incrby")),
    "incrbyfloat": (("n", "new"), ("$", "incrbyfloat")),
    "getdel": (("g", "del"),),  # only when the key existed
    "getex": (("g", "expire"),  # EX/PX/EXAT/PXAT in the future
              ("g", "del"),  # EXAT/PXAT in the past: the key is deleted instead
              ("g", "persist")),  # PERSIST, only when the key had a TTL
    # keys
    "del": (("g", "del"),),  # per removed key
    "unlink": (("g", "del"),),
    "rename": (("n", "new"), ("g", "rename_from"), ("g", "rename_to")),  # new: on the
    # destination, even when it existed (Redis deletes then adds it); nothing when key == newkey
    "renamenx": (("n", "new"), ("g", "rename_from"), ("g", "rename_to")),  # only when renamed
    "copy": (("n", "new"), ("g", "copy_to")),  # on the destination, in its db; only when copied
    "move": (("n", "new"), ("g", "move_from"), ("g", "move_to")),  # new and move_to in the
    # target db, move_from in the source db
    "expire": (("g", "expire"), ("g", "del")),  # del instead of expire when the time is past
    "pexpire": (("g", "expire"), ("g", "del")),
    "expireat": (("g", "expire"), ("g", "del")),
    "pexpireat": (("g", "expire"), ("g", "del")),
    "persist": (("g", "persist"),),  # only when a TTL was removed
    # lists
    "lpush": (("n", "new"), ("l", "lpush")),
    "rpush": (("n", "new"), ("l", "rpush")),
    "lpushx": (("l", "lpush"),),
    "rpushx": (("l", "rpush"),),
    "lpop": (("l", "lpop"), ("g", "(del)")),
    "rpop": (("l", "rpop"), ("g", "(del)")),
    "lmpop": (("l", "lpop|rpop"), ("g", "(del)")),
    "linsert": (("l", "linsert"),),
    "lset": (("l", "lset"),),
    "lrem": (("l", "lrem"), ("g", "(del)")),
    "ltrim": (("l", "ltrim"), ("g", "(del)")),
    # destination first: new, then the push, then the source's pop and del
    "rpoplpush": (("n", "new"), ("l", "lpush"), ("l", "rpop"), ("g", "(del)")),
    "lmove": (("n", "new"), ("l", "lpush|rpush"), ("l", "lpop|rpop"), ("g", "(del)")),
    # sets
    "sadd": (("n", "new"), ("s", "sadd")),
    "srem": (("s", "srem"), ("g", "(del)")),
    "smove": (("s", "srem"), ("g", "(del)"), ("n", "new"), ("s", "sadd")),  # source, then dest
    "spop": (("s", "spop"), ("g", "(del)")),
    # *store: the store event on a non-empty result, else `del` when the destination existed
    "sinterstore": (("n", "new"), ("s", "sinterstore"), ("g", "(del)")),
    "sunionstore": (("n", "new"), ("s", "sunionstore"), ("g", "(del)")),
    "sdiffstore": (("n", "new"), ("s", "sdiffstore"), ("g", "(del)")),
    # hashes
    "hset": (("n", "new"), ("h", "hset")),
    "hsetnx": (("n", "new"), ("h", "hset")),
    "hmset": (("n", "new"), ("h", "hset")),
    "hincrby": (("n", "new"), ("h", "hincrby")),
    "hincrbyfloat": (("n", "new"), ("h", "hincrbyfloat")),
    "hdel": (("h", "hdel"), ("g", "(del)")),
    # sorted sets
    "zadd": (("n", "new"), ("z", "zadd"), ("z", "zincr")),  # zincr: with INCR
    "zincrby": (("n", "new"), ("z", "zincr")),
    "zrem": (("z", "zrem"), ("g", "(del)")),
    "zremrangebyscore": (("z", "zremrangebyscore"), ("g", "(del)")),
    "zremrangebyrank": (("z", "zremrangebyrank"), ("g", "(del)")),
    "zremrangebylex": (("z", "zremrangebylex"), ("g", "(del)")),
    "zpopmin": (("z", "zpopmin"), ("g", "(del)")),
    "zpopmax": (("z", "zpopmax"), ("g", "(del)")),
    "zmpop": (("z", "zpopmin|zpopmax"), ("g", "(del)")),
    "zunionstore": (("n", "new"), ("z", "zunionstore"), ("g", "(del)")),
    "zinterstore": (("n", "new"), ("z", "zinterstore"), ("g", "(del)")),
    "zdiffstore": (("n", "new"), ("z", "zdiffstore"), ("g", "(del)")),
    "zrangestore": (("n", "new"), ("z", "zrangestore"), ("g", "(del)")),
    # the blocking forms emit what their non-blocking forms emit, when served
    # (blpop: lpop, brpoplpush: as rpoplpush, bzpopmin: zpopmin...)
    # no events: reads, FLUSHDB, FLUSHALL, SWAPDB, SELECT, RANDOMKEY, TOUCH, OBJECT
}

# Events the keyspace reports through KEY_EVENT_HOOKS, and their classes.
_KEYSPACE_EVENTS = {"expired": "x", "evicted": "e", "new": "n", "keymiss": "m"}


def flags_of(classes: Any) -> int:
    """The int form of the setting's value (a set of class letters)."""
    flags = 0
    for letter in classes or ():
        flags |= CLASS_BITS.get(letter, 0)
    return flags


def _install(state: Any) -> int:
    """Cache the enabled classes on the state and follow CONFIG SET from now on."""
    config = state.config

    def changed(value: Any) -> None:
        state.notify_flags = flags_of(value)

    config.on_change(_SETTING, changed)
    changed(config.get(_SETTING))
    return state.notify_flags


def notify(state: Any, type_flag: str, event: bytes, key: bytes, dbid: int) -> None:
    """Publish one keyspace event, if its class is enabled (Redis's notifyKeyspaceEvent)."""
    flags = state.notify_flags
    if flags < 0:
        flags = _install(state)
    if not flags & CLASS_BITS[type_flag]:
        return
    if flags & KEYSPACE:
        pubsub.publish(state, b"__keyspace@%d__:%b" % (dbid, key), event)
    if flags & KEYEVENT:
        pubsub.publish(state, b"__keyevent@%d__:%b" % (dbid, event), key)


def _keyspace_event(db: Any, event: str, key: bytes) -> None:
    """KEY_EVENT_HOOKS entry: removals and creations the keyspace itself makes."""
    if not db.server.notify_flags:  # off (the default): every new key passes here
        return
    letter = _KEYSPACE_EVENTS.get(event)
    if letter is not None:
        notify(db.server, letter, event.encode(), key, db.index)


keyspace.KEY_EVENT_HOOKS.append(_keyspace_event)
