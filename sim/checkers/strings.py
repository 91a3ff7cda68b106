"""Redis string semantics for one key, and how commands project onto keys.

A model state is `(value, may_expire_from)`: the bytes (None when the key is
absent) and the earliest virtual time at which a TTL could have removed it
(None without a TTL). Expiry is approximate but sound: from that instant on
the key *may* read as nil, never *must*; `check_ttl` handles late reads.

`project(op, slack)` turns a recorded `Op` into per-key `KeyOp`s (MSET k1 v1
k2 v2 becomes a SET on each key; MGET a GET on each; DEL k1 k2 an existence
check-and-delete whose per-key outcomes are those the total allows).
"""

from __future__ import annotations

from functools import lru_cache

from cache.reply import NULL_ARRAY, Error, Status

from .base import INF

ABSENT = (None, None)
NOT_AN_INTEGER = ("err", b"ERR value is not an integer or out of range")
OVERFLOW = ("err", b"ERR increment or decrement would overflow")
WRONGTYPE_PREFIX = b"WRONGTYPE"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UNKNOWN_REPLY = object()


class KeyOp:
    """One op's effect on one key; `ret` is INF for ops without a reply."""

    __slots__ = ("kind", "step", "arg", "reply", "known", "optional", "inv", "ret", "op")

    def __init__(self, kind, step, arg, reply, op, *, inv=None, ret=None, optional=False):
        self.kind = kind
        self.step = step
        self.arg = arg
        self.reply = reply
        self.known = reply is not UNKNOWN_REPLY
        self.optional = optional
        self.op = op
        self.inv = op.invoke if inv is None else inv
        self.ret = (INF if op is None or op.complete is None else op.complete) if ret is None else ret

    def __repr__(self) -> str:
        return f"KeyOp({self.kind}, {self.arg!r}, reply={self.reply!r}, [{self.inv}, {self.ret}])"


class Unsupported:
    """Marks keys this model cannot follow (a list command on them, say)."""

    __slots__ = ("keys", "reason")

    def __init__(self, keys, reason: str) -> None:
        self.keys = keys
        self.reason = reason


FLUSH = object()  # FLUSHALL/FLUSHDB: projected onto every key by the caller


# ---------------------------------------------------------------- model steps
# Each takes a concrete state and the KeyOp and returns the possible next
# states: an empty tuple means the recorded reply is impossible from there.

def step_get(state, k):
    if k.known and k.reply != state[0]:
        return ()
    return (state,)


def step_strlen(state, k):
    if k.known and k.reply != (0 if state[0] is None else len(state[0])):
        return ()
    return (state,)


def step_exists(state, k):
    if k.known and (state[0] is not None) not in k.reply:
        return ()
    return (state,)


def step_ttl(state, k):
    if k.known:
        value, deadline = state
        if value is None:
            expected = k.reply == -2
        elif deadline is None:
            expected = k.reply == -1
        else:
            expected = isinstance(k.reply, int) and k.reply >= 0
        if not expected:
            return ()
    return (state,)


def step_set(state, k):
    value, cond, get, ttl = k.arg
    exists = state[0] is not None
    applies = cond is None or (cond == b"NX") != exists
    if k.known:
        if get:
            expected = state[0]
        else:
            expected = b"OK" if applies else None
        if k.reply != expected:
            return ()
    if not applies:
        return (state,)
    if ttl is KEEP:
        return ((value, state[1] if exists else None),)
    return ((value, ttl),)


def step_setnx(state, k):
    exists = state[0] is not None
    if k.known and k.reply != (0 if exists else 1):
        return ()
    return (state,) if exists else ((k.arg, None),)


def step_delete(state, k):
    if k.known and (state[0] is not None) not in k.reply:
        return ()
    return (ABSENT,)


def step_getdel(state, k):
    if k.known and k.reply != state[0]:
        return ()
    return (ABSENT,)


def step_getset(state, k):
    if k.known and k.reply != state[0]:
        return ()
    return ((k.arg, None),)


def step_incrby(state, k):
    value = state[0]
    current = 0 if value is None else parse_int(value)
    if current is None:
        outcome, new_state = NOT_AN_INTEGER, state
    else:
        total = current + k.arg
        if total < INT64_MIN or total > INT64_MAX:
            outcome, new_state = OVERFLOW, state
        else:
            outcome, new_state = total, (str(total).encode(), state[1])
    if k.known and k.reply != outcome:
        return ()
    return (new_state,)


def step_append(state, k):
    value = (state[0] or b"") + k.arg
    if k.known and k.reply != len(value):
        return ()
    return ((value, state[1]),)


def step_expire(state, k):
    cond, deadline = k.arg  # deadline: a float, or DELETE for a time already past
    value, current = state
    if value is None:
        return () if k.known and k.reply != 0 else (state,)
    if cond is None or (cond == b"NX" and current is None) or (cond == b"XX" and current is not None) \
            or (cond == b"LT" and current is None):
        outcomes = (1,)
    elif cond in (b"GT", b"LT") and current is not None:
        outcomes = (0, 1)  # depends on the exact deadlines, which the model does not know
    else:
        outcomes = (0,)
    applied = ABSENT if deadline is DELETE else (value, deadline)
    result = []
    for outcome in outcomes:
        if not k.known or k.reply == outcome:
            result.append(applied if outcome else state)
    return tuple(result)


def step_persist(state, k):
    applies = state[0] is not None and state[1] is not None
    if k.known and k.reply != (1 if applies else 0):
        return ()
    return ((state[0], None),) if applies else (state,)


def step_getex(state, k):
    if k.known and k.reply != state[0]:
        return ()
    if state[0] is None or k.arg is KEEP:
        return (state,)
    if k.arg is DELETE:
        return (ABSENT,)
    return ((state[0], k.arg),)


def step_reset(state, k):
    return (ABSENT,)


KEEP = object()    # SET ... KEEPTTL, GETEX without options
DELETE = object()  # an expiry already in the past
READ_KINDS = frozenset({"get", "strlen", "exists", "ttl"})


@lru_cache(maxsize=65536)
def parse_int(data: bytes):
    """Redis string2ll: optional '-', no '+', no spaces, no leading zeros, int64."""
    if not data or len(data) > 20:
        return None
    digits = data[1:] if data[:1] == b"-" else data
    if not digits.isdigit() or not digits.isascii() or (digits[:1] == b"0" and (len(digits) > 1 or data[:1] == b"-")):
        return None
    number = int(data)
    return number if INT64_MIN <= number <= INT64_MAX else None


# ---------------------------------------------------------------- projection

def normalize(reply):
    """Plain comparable values: errors become ("err", text) so they never equal bytes."""
    if isinstance(reply, Error):
        return ("err", bytes(reply))
    if reply is None or reply is NULL_ARRAY:
        return None
    if isinstance(reply, (Status, bytes, bytearray)):
        return bytes(reply)
    if isinstance(reply, (list, tuple)):
        return [normalize(item) for item in reply]
    return reply


def project(op, slack: float):
    """Per-key effects of `op`: a list of (key, KeyOp), FLUSH, or an Unsupported."""
    name = op.name
    args = op.command[1:]
    parser = PARSERS.get(name)
    if parser is None:
        if name in KEYLESS or not args:
            return []
        keys = args[:2] if name in TWO_KEY_COMMANDS else args[:1]
        return Unsupported(keys, f"{name.decode(errors='replace')} is not a string command this model knows")
    reply = UNKNOWN_REPLY if op.complete is None else normalize(op.reply)
    if isinstance(reply, bytes) and reply == b"QUEUED" and isinstance(op.reply, Status):
        return Unsupported(_keys_guess(name, args), "commands inside MULTI/EXEC are not modelled")
    projections = parser(op, args, reply, slack)
    if isinstance(projections, Unsupported):
        return projections
    if projections is None:  # arguments the model does not understand
        if isinstance(reply, tuple):
            return []  # the server refused them too: no effect on any key
        return Unsupported(_keys_guess(name, args), f"cannot parse {op.text}")
    if isinstance(reply, tuple) and projections is not FLUSH:
        keep = reply[1].startswith(WRONGTYPE_PREFIX) or (
            reply in (NOT_AN_INTEGER, OVERFLOW) and all(k.kind == "incrby" for _, k in projections))
        if not keep:
            return []  # refused before touching the key (OOM, syntax, READONLY...)
    return projections


def _keys_guess(name, args):
    if name in (b"MSET", b"MSETNX"):
        return args[0::2]
    if name in (b"DEL", b"UNLINK", b"EXISTS", b"MGET"):
        return args
    return args[:1]


def _single(kind, step):
    """Parser for `CMD key` with a reply compared as-is."""
    def parse(op, args, reply, slack):
        if len(args) != 1:
            return None
        return [(args[0], KeyOp(kind, step, None, reply, op))]
    return parse


def _deadline(op, unit: bytes, amount: int, slack: float):
    """Earliest virtual time a TTL given as `unit amount` can fire."""
    if unit in (b"EXAT", b"PXAT"):
        return -INF  # an absolute Unix time: no mapping to virtual time, so "any time"
    seconds = amount if unit == b"EX" else amount / 1000.0
    if amount <= 0:
        return DELETE
    return op.invoke + seconds - slack


def parse_set(op, args, reply, slack):
    if len(args) < 2:
        return None
    key, value = args[0], args[1]
    cond = None
    get = False
    ttl = None
    keepttl = False
    i = 2
    while i < len(args):
        word = args[i].upper()
        if word in (b"NX", b"XX"):
            if cond is not None and cond != word:
                return None
            cond = word
        elif word == b"GET":
            get = True
        elif word == b"KEEPTTL":
            if ttl is not None:
                return None
            keepttl = True
        elif word in (b"EX", b"PX", b"EXAT", b"PXAT"):
            if ttl is not None or keepttl or i + 1 >= len(args):
                return None
            amount = parse_int(args[i + 1])
            if amount is None or amount <= 0:
                return None
            ttl = _deadline(op, word, amount, slack)
            i += 1
        else:
            return None
        i += 1
    return [(key, KeyOp("set", step_set, (value, cond, get, KEEP if keepttl else ttl), reply, op))]


def parse_setnx(op, args, reply, slack):
    if len(args) != 2:
        return None
    return [(args[0], KeyOp("setnx", step_setnx, args[1], reply, op))]


def parse_setex(op, args, reply, slack):
    if len(args) != 3:
        return None
    amount = parse_int(args[1])
    if amount is None or amount <= 0:
        return None
    unit = b"PX" if op.name == b"PSETEX" else b"EX"
    ttl = _deadline(op, unit, amount, slack)
    return [(args[0], KeyOp("set", step_set, (args[2], None, False, ttl), reply, op))]


def parse_getset(op, args, reply, slack):
    if len(args) != 2:
        return None
    return [(args[0], KeyOp("getset", step_getset, args[1], reply, op))]


def parse_mset(op, args, reply, slack):
    if not args or len(args) % 2:
        return None
    last = {}
    for i in range(0, len(args), 2):
        last[args[i]] = args[i + 1]
    return [(key, KeyOp("set", step_set, (value, None, False, None), UNKNOWN_REPLY, op))
            for key, value in last.items()]


def parse_msetnx(op, args, reply, slack):
    if not args or len(args) % 2:
        return None
    last = {}
    for i in range(0, len(args), 2):
        last[args[i]] = args[i + 1]
    if reply == 0:
        return []  # nothing was set; which key existed is unknown, so nothing is learnt per key
    optional = reply is UNKNOWN_REPLY  # another key may have made it fail as a whole
    per_key = UNKNOWN_REPLY if optional else 1
    return [(key, KeyOp("setnx", step_setnx, value, per_key, op, optional=optional))
            for key, value in last.items()]


def parse_mget(op, args, reply, slack):
    if not args:
        return None
    if reply is not UNKNOWN_REPLY and not isinstance(reply, tuple):
        if not isinstance(reply, list) or len(reply) != len(args):
            return [(key, KeyOp("get", step_get, None, ("malformed", repr(reply)), op)) for key in args[:1]]
        return [(key, KeyOp("get", step_get, None, value, op)) for key, value in zip(args, reply)]
    return [(key, KeyOp("get", step_get, None, reply, op)) for key in args]


def _existence_split(keys: list[bytes], weights: list[int], total):
    """Per key, which existence outcomes are compatible with the summed reply."""
    if total is UNKNOWN_REPLY or isinstance(total, tuple):
        return [(key, total) for key in keys]
    if not isinstance(total, int):
        return [(key, frozenset()) for key in keys]
    result = []
    for position, key in enumerate(keys):
        sums = {0}
        for other, weight in enumerate(weights):
            if other != position:
                sums |= {s + weight for s in sums}
        allowed = frozenset(flag for flag in (False, True) if total - (weights[position] if flag else 0) in sums)
        result.append((key, allowed))
    return result


def parse_del(op, args, reply, slack):
    if not args:
        return None
    keys = list(dict.fromkeys(args))
    return [(key, KeyOp("delete", step_delete, None, allowed, op))
            for key, allowed in _existence_split(keys, [1] * len(keys), reply)]


def parse_exists(op, args, reply, slack):
    if not args:
        return None
    counts: dict[bytes, int] = {}
    for key in args:
        counts[key] = counts.get(key, 0) + 1
    keys = list(counts)
    return [(key, KeyOp("exists", step_exists, None, allowed, op))
            for key, allowed in _existence_split(keys, [counts[key] for key in keys], reply)]


def parse_type(op, args, reply, slack):
    if len(args) != 1:
        return None
    if reply is UNKNOWN_REPLY or isinstance(reply, tuple):
        allowed = reply
    elif reply == b"string":
        allowed = frozenset({True})
    elif reply == b"none":
        allowed = frozenset({False})
    else:
        return Unsupported([args[0]], f"TYPE says {reply!r}: not a string key")
    return [(args[0], KeyOp("exists", step_exists, None, allowed, op))]


def parse_incr(op, args, reply, slack):
    name = op.name
    if name in (b"INCR", b"DECR"):
        if len(args) != 1:
            return None
        delta = 1 if name == b"INCR" else -1
    else:
        if len(args) != 2:
            return None
        delta = parse_int(args[1])
        if delta is None:
            return None
        if name == b"DECRBY":
            if delta == INT64_MIN:
                return None  # "ERR decrement would overflow", whatever the value
            delta = -delta
    return [(args[0], KeyOp("incrby", step_incrby, delta, reply, op))]


def parse_append(op, args, reply, slack):
    if len(args) != 2:
        return None
    return [(args[0], KeyOp("append", step_append, args[1], reply, op))]


def parse_expire(op, args, reply, slack):
    if len(args) not in (2, 3):
        return None
    amount = parse_int(args[1])
    if amount is None:
        return None
    cond = args[2].upper() if len(args) == 3 else None
    if cond not in (None, b"NX", b"XX", b"GT", b"LT"):
        return None
    unit = {b"EXPIRE": b"EX", b"PEXPIRE": b"PX", b"EXPIREAT": b"EXAT", b"PEXPIREAT": b"PXAT"}[op.name]
    deadline = _deadline(op, unit, amount, slack)
    return [(args[0], KeyOp("expire", step_expire, (cond, deadline), reply, op))]


def parse_getex(op, args, reply, slack):
    if not args:
        return None
    rest = [word.upper() for word in args[1:]]
    if not rest:
        effect = KEEP
    elif rest == [b"PERSIST"]:
        effect = None
    elif len(rest) == 2 and rest[0] in (b"EX", b"PX", b"EXAT", b"PXAT"):
        amount = parse_int(args[2])
        if amount is None or amount <= 0:
            return None
        effect = _deadline(op, rest[0], amount, slack)
    else:
        return None
    return [(args[0], KeyOp("getex", step_getex, effect, reply, op))]


def parse_flush(op, args, reply, slack):
    if len(args) > 1:
        return None
    if isinstance(reply, tuple):
        return []
    return FLUSH


PARSERS = {
    b"GET": _single("get", step_get),
    b"STRLEN": _single("strlen", step_strlen),
    b"TTL": _single("ttl", step_ttl),
    b"PTTL": _single("ttl", step_ttl),
    b"GETDEL": _single("getdel", step_getdel),
    b"PERSIST": _single("persist", step_persist),
    b"SET": parse_set,
    b"SETNX": parse_setnx,
    b"SETEX": parse_setex,
    b"PSETEX": parse_setex,
    b"GETSET": parse_getset,
    b"MSET": parse_mset,
    b"MSETNX": parse_msetnx,
    b"MGET": parse_mget,
    b"DEL": parse_del,
    b"UNLINK": parse_del,
    b"EXISTS": parse_exists,
    b"TYPE": parse_type,
    b"INCR": parse_incr,
    b"DECR": parse_incr,
    b"INCRBY": parse_incr,
    b"DECRBY": parse_incr,
    b"APPEND": parse_append,
    b"EXPIRE": parse_expire,
    b"PEXPIRE": parse_expire,
    b"EXPIREAT": parse_expire,
    b"PEXPIREAT": parse_expire,
    b"GETEX": parse_getex,
    b"FLUSHALL": parse_flush,
    b"FLUSHDB": parse_flush,
}

# Commands that touch no key (their argument, if any, is not a key).
KEYLESS = frozenset({
    b"PING", b"ECHO", b"INFO", b"CONFIG", b"CLIENT", b"DBSIZE", b"TIME", b"COMMAND", b"HELLO", b"AUTH",
    b"DEBUG", b"SAVE", b"BGSAVE", b"BGREWRITEAOF", b"LASTSAVE", b"SHUTDOWN", b"QUIT", b"RESET", b"MEMORY",
    b"SLOWLOG", b"LATENCY", b"MONITOR", b"ROLE", b"READONLY", b"READWRITE", b"WAIT", b"SCAN", b"KEYS",
    b"RANDOMKEY", b"MULTI", b"DISCARD", b"UNWATCH", b"PUBLISH", b"SUBSCRIBE", b"UNSUBSCRIBE", b"PSUBSCRIBE",
    b"PUNSUBSCRIBE", b"PUBSUB", b"SELECT", b"LOLWUT", b"ACL", b"MODULE", b"SCRIPT", b"FUNCTION",
})
TWO_KEY_COMMANDS = frozenset({b"RENAME", b"RENAMENX", b"COPY", b"LMOVE", b"BLMOVE", b"RPOPLPUSH",
                              b"BRPOPLPUSH", b"SMOVE", b"LCS"})


# ---------------------------------------------------------------- shared views

def project_all(history, slack: float):
    """Every op projected: ({key: [KeyOp]}, {key: why not modelled}, [FLUSHALL ops])."""
    per_key: dict[bytes, list[KeyOp]] = {}
    unsupported: dict[bytes, str] = {}
    flushes = []
    for op in history.ops:
        projected = project(op, slack)
        if projected is FLUSH:
            flushes.append(op)
        elif isinstance(projected, Unsupported):
            for key in projected.keys:
                unsupported.setdefault(key, projected.reason)
        else:
            for key, kop in projected:
                per_key.setdefault(key, []).append(kop)
    return per_key, unsupported, flushes


def read_value(kop):
    """The value a value-returning op saw, or UNKNOWN_REPLY if it does not return one."""
    if not kop.known or isinstance(kop.reply, tuple):
        return UNKNOWN_REPLY
    if kop.kind in ("get", "getdel", "getset", "getex") or (kop.kind == "set" and kop.arg[2]):
        return kop.reply
    return UNKNOWN_REPLY


def written_value(kop):
    if kop.kind == "set":
        return kop.arg[0]
    if kop.kind in ("setnx", "getset"):
        return kop.arg
    if kop.kind == "incrby" and kop.known and isinstance(kop.reply, int):
        return str(kop.reply).encode()
    return None


def certainly_changes(kop) -> bool:
    """Did this op surely replace the value (whatever the state was)?"""
    if kop.ret == INF:
        return False
    if kop.kind == "set":
        return kop.arg[1] is None or (kop.known and kop.reply == b"OK" and not kop.arg[2])
    if kop.kind in ("getset", "getdel", "flush"):
        return True
    if kop.kind == "setnx":
        return kop.known and kop.reply == 1
    if kop.kind == "delete":
        return kop.known and kop.reply == frozenset({True})
    if kop.kind in ("incrby", "append"):
        return kop.known and not isinstance(kop.reply, tuple)
    return False
