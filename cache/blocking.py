"""Clients waiting for keys: BLPOP, BLMOVE, BZPOPMIN and the like.

A handler that finds nothing to serve calls `block(...)` and returns its
value, a `Blocked`. The connection actor sees that reply, writes what it
has batched and waits on `Blocked.future` before running the client's next
pipelined command. Meanwhile the client is registered, in arrival order,
under every (db index, key) it waits on:

    reply = try_pop()
    if reply is not None:
        return reply
    return blocking.block(client, keys, timeout_ms, try_pop, NULL_ARRAY)

Every write reaches `_key_modified` (a `keyspace.WATCH_HOOKS`
hook), which marks a waited-for key ready. After each command (after a
whole EXEC) the dispatcher calls `serve_ready_keys`: each ready key's
waiters, oldest first, get their `retry()`, during which `serving_key()`
names the ready key (Redis pops from that key, not the client's first);
a reply unblocks the client with it, None leaves it waiting. Retries that write keys (BLMOVE's
push) make more keys ready, so serving repeats until nothing is ready.
A timer gives `timeout_reply`; CLIENT UNBLOCK and disconnection end the
wait early. Blocking inside MULTI/EXEC never waits: it answers at once.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Callable

import flow
from cache import errors, keyspace, latency, slowlog
from cache.errors import CommandError
from cache.reply import Error

_LLONG_MAX = 2**63 - 1
_MAX_LONG_DOUBLE_CHARS = 5 * 1024
# What strtold reads: decimal or hex floats, inf/infinity, nan (which Redis refuses).
_DECIMAL = re.compile(rb"([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_LONG_DOUBLE_BITS = 64  # x87 extended precision significand
_LONG_DOUBLE_MAX_EXP = 16384  # values at or above 2**16384 overflow (ERANGE)
_LONG_DOUBLE_MIN_EXP = -16445  # below the smallest denormal strtold returns 0 with ERANGE


def parse_timeout(arg: bytes) -> int | None:
    """A blocking command's timeout in seconds, as milliseconds; None blocks forever.

    Redis reads it with strtold (so `0x10`, `1e3` and `.5` are fine), takes
    the ceiling of the milliseconds and, on x86, turns anything past a long
    long into LLONG_MIN, which is why `1e20` answers "timeout is negative".
    """
    if arg.isdigit() and len(arg) < 15:  # the usual case: whole seconds
        return int(arg) * 1000 or None
    text = arg.split(b"\0", 1)[0]  # Redis copies into a C string
    value = _strtold(text) if 0 < len(arg) < _MAX_LONG_DOUBLE_CHARS else None
    if value is None:
        raise CommandError(errors.TIMEOUT_NOT_FLOAT)
    if value == "inf" or value == "-inf":
        raise CommandError(errors.WAIT_TIMEOUT_NEGATIVE)
    millis = _round_long_double(value * 1000)
    ceiling = -((-millis.numerator) // millis.denominator)
    if ceiling > _LLONG_MAX or ceiling < -_LLONG_MAX - 1 or ceiling < 0:
        raise CommandError(errors.WAIT_TIMEOUT_NEGATIVE)
    return ceiling or None


def _strtold(text: bytes) -> Fraction | str | None:
    """The exact long double strtold would give, "inf"/"-inf", or None where Redis refuses."""
    match = _DECIMAL.fullmatch(text)
    if match is not None:
        sign, digits, exponent = match.groups()
        value = _scaled(Fraction(digits.decode()), 10, exponent)
    else:
        match = _HEX.fullmatch(text)
        if match is not None:
            sign, digits, exponent = match.groups()
            whole, _, frac = digits.decode().partition(".")
            value = _scaled(Fraction(int((whole + frac) or "0", 16), 16 ** len(frac)), 2, exponent)
        else:
            match = _INFINITY.fullmatch(text)
            if match is None:
                return None  # nan, spaces, trailing bytes, empty
            return "-inf" if match.group(1) == b"-" else "inf"
    if value is None:
        return None
    if value:
        magnitude = abs(value)
        exponent2 = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
        if exponent2 >= _LONG_DOUBLE_MAX_EXP or exponent2 < _LONG_DOUBLE_MIN_EXP:
            return None  # ERANGE: overflow to HUGE_VALL or underflow to zero
        value = _round_long_double(value)
    return -value if sign == b"-" else value


def _scaled(value: Fraction, base: int, exponent: bytes | None) -> Fraction | None:
    """value * base**exponent; None (ERANGE) for an exponent no long double reaches."""
    if exponent is None:
        return value
    shift = int(exponent)
    if abs(shift) > 100_000:
        return None if value else Fraction(0)
    return value * Fraction(base) ** shift


def _round_long_double(value: Fraction) -> Fraction:
    """`value` rounded to a 64-bit significand, half to even."""
    if not value:
        return value
    negative = value < 0
    magnitude = -value if negative else value
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    scale = Fraction(2) ** (_LONG_DOUBLE_BITS - 1 - exponent)
    rounded = round(magnitude * scale) / scale
    return -rounded if negative else rounded


class Blocked:
    """The reply of a command that waits: the connection waits on `future` for the real one."""

    __slots__ = ("client", "command", "slots", "retry", "timeout_reply", "promise", "timer",
                 "spec", "argv", "call_us")

    def __init__(self, client: Any, slots: list[tuple[int, bytes]], retry: Callable[[], Any],
                 timeout_reply: Any) -> None:
        self.client = client
        self.command = client.last_command  # for INFO commandstats when it ends in an error
        self.slots = slots
        self.retry = retry
        self.timeout_reply = timeout_reply
        self.promise = flow.Promise()
        self.timer: flow.Future | None = None
        self.spec: Any = None  # the call that blocked, set by the dispatcher (slow log)
        self.argv: list[bytes] = []
        self.call_us = 0

    @property
    def future(self) -> flow.Future:
        return self.promise.future

    def done(self) -> bool:
        return self.promise.is_set()

    def result(self) -> Any:
        """The final reply (tests); raises if the client still waits."""
        return self.promise.future.get()

    def __repr__(self) -> str:
        state = "done" if self.done() else "waiting"
        return f"<Blocked client={self.client.id} on {self.slots!r} {state}>"


def block(client: Any, keys: list[bytes], timeout_ms: int | None, retry: Callable[[], Any],
          timeout_reply: Any) -> Any:
    """Make `client` wait for `keys`; returns the reply value the handler should return."""
    if client.multi >= 0:  # inside EXEC: Redis answers as if the timeout had passed
        return timeout_reply
    server = client.server
    index = client.db_index
    slots = list(dict.fromkeys((index, key) for key in keys))
    waiting = Blocked(client, slots, retry, timeout_reply)
    registry = server.blocked_on
    for slot in slots:
        waiters = registry.get(slot)
        if waiters is None:
            waiters = registry[slot] = {}
        waiters[client.id] = waiting
    keyspace.set_watching(server, "blocking", True)
    client.blocked = True
    client.waiting = waiting
    if timeout_ms is not None:
        timer = waiting.timer = server.loop.delay(timeout_ms / 1000.0)
        timer.add_callback(lambda _fut: _timed_out(waiting))
    return waiting


def _timed_out(waiting: Blocked) -> None:
    if waiting.timer is not None and not waiting.timer.is_error() and not waiting.done():
        waiting.timer = None
        unblock(waiting, waiting.timeout_reply)


def unblock(waiting: Blocked, reply: Any) -> None:
    """End the wait with `reply` (served, timed out, CLIENT UNBLOCK)."""
    forget(waiting)
    if reply.__class__ is Error:
        stats = waiting.client.server.stats
        stats.record_error(reply)
        stats.command_failed(waiting.command)
    waiting.promise.send(reply)


def forget(waiting: Blocked) -> None:
    """Remove every trace of the wait without answering (the client disconnected)."""
    client = waiting.client
    registry = client.server.blocked_on
    for slot in waiting.slots:
        waiters = registry.get(slot)
        if waiters is not None and waiters.get(client.id) is waiting:
            del waiters[client.id]
            if not waiters:
                del registry[slot]
    if not registry:
        keyspace.set_watching(client.server, "blocking", False)
    timer = waiting.timer
    if timer is not None:
        waiting.timer = None
        timer.cancel()
    if client.waiting is waiting:
        client.waiting = None
        client.blocked = False


def _key_modified(db: Any, key: bytes) -> None:
    """A write touched a key: if someone waits for it, serve them after this command."""
    blocked_on = db.server.blocked_on
    if blocked_on:
        slot = (db.index, key)
        if slot in blocked_on:
            db.server.ready_keys[slot] = None


def _db_replaced(db: Any) -> None:
    """SWAPDB gave a database new contents: every key waited on there may now be served."""
    server = db.server
    for slot in server.blocked_on:
        if slot[0] == db.index:
            server.ready_keys[slot] = None


keyspace.WATCH_HOOKS.append(_key_modified)
keyspace.FLUSHED_HOOKS.append(_db_replaced)


_serving: list[bytes] = []  # the key being served, while a retry runs


def serving_key() -> bytes | None:
    """The ready key a retry is called for (None outside serving, e.g. the first try).

    Redis serves each ready key's waiters from that key, so a client waiting
    on `a b` gets b's element when b is the key that became ready; a retry
    should try this key only when it is given.
    """
    return _serving[-1] if _serving else None


def serve_ready_keys(server: Any) -> None:
    """Give every ready key's waiters, oldest first, a retry; repeat while keys get ready."""
    while server.ready_keys:
        ready = server.ready_keys
        server.ready_keys = {}
        for slot in ready:
            waiters = server.blocked_on.get(slot)
            if not waiters:
                continue
            key = slot[1]
            data = server.dbs[slot[0]].data
            for waiting in list(waiters.values()):
                if key not in data:
                    break  # popped empty: the rest keep waiting
                if waiting.done():
                    continue
                _serving.append(key)
                started = server.wall_time()
                try:
                    reply = _retry(waiting)
                finally:
                    _serving.pop()
                if reply is not None:
                    unblock(waiting, reply)
                    _served(waiting, int((server.wall_time() - started) * 1_000_000))


def _served(waiting: Blocked, serve_us: int) -> None:
    """updateStatsOnUnblock: the call's time (again, as Redis adds it) and the serving's."""
    spec = waiting.spec
    if spec is None:  # blocked outside the dispatcher (unit tests)
        return
    client = waiting.client
    state = client.server
    entry = state.stats.commandstats.get(spec.name)
    if entry is not None:
        entry[1] += waiting.call_us + serve_us
    slowlog.record(client, spec, waiting.argv, waiting.call_us + serve_us)
    latency.record_unblocked(state, spec, waiting.call_us, serve_us)


def _retry(waiting: Blocked) -> Any:
    try:
        return waiting.retry()
    except CommandError as exc:
        return Error(exc.message)


def unblock_client(client: Any, as_error: bool) -> bool:
    """CLIENT UNBLOCK: end `client`'s wait with its timeout reply or an UNBLOCKED error."""
    waiting = client.waiting
    if waiting is None or waiting.done():
        return False
    unblock(waiting, Error(errors.UNBLOCKED) if as_error else waiting.timeout_reply)
    return True
