"""Pub/sub: who listens to which channel, pattern and shard channel, and delivery.

The server-wide registry (channel -> subscribers) and each client's own
subscriptions are kept in step here, in insertion-ordered dicts, so the
order of deliveries is a function of the command history alone: a
channel's subscribers in subscription order, then every matching pattern
in the order it was first subscribed, each pattern's subscribers in
subscription order. (Redis walks its pattern dict in hash order; any fixed
order is as correct, and this one replays.)

`publish` is the entry point for every producer (PUBLISH, keyspace
notifications). The connection code must call `forget_client` when a
connection closes; RESET is handled through `cache.state.RESET_HOOKS`.

A subscriber that stops reading is closed as Redis's
`client-output-buffer-limit pubsub 32mb 8mb 60` closes it: at once above the
hard limit, or after 60 s spent above the soft limit.
"""

from __future__ import annotations

from typing import Any

from cache import errors
from cache.glob import compile_pattern
from cache.limits import output_limits as class_output_limits
from cache.limits import over_output_limit
from cache.reply import Push
from cache.state import RESET_HOOKS

CHANNEL, PATTERN, SHARD = 0, 1, 2

# RESP2 subscribed mode accepts only these (Redis 7.0 processCommand).
_ALLOWED_WHILE_SUBSCRIBED = frozenset((
    "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
    "punsubscribe", "quit", "reset",
))


class Registry:
    """Server-wide subscriber lists, one dict per kind: name -> {client id: client}."""

    __slots__ = ("by_kind", "matchers")

    def __init__(self) -> None:
        self.by_kind: tuple[dict[bytes, dict[int, Any]], ...] = ({}, {}, {})
        self.matchers: dict[bytes, Any] = {}  # pattern -> compiled matcher, while subscribed

    @property
    def channels(self) -> dict[bytes, dict[int, Any]]:
        return self.by_kind[CHANNEL]

    @property
    def patterns(self) -> dict[bytes, dict[int, Any]]:
        return self.by_kind[PATTERN]

    @property
    def shard_channels(self) -> dict[bytes, dict[int, Any]]:
        return self.by_kind[SHARD]


class Subscriptions:
    """One client's subscriptions, in the order it made them."""

    __slots__ = ("by_kind",)

    def __init__(self) -> None:
        self.by_kind: tuple[dict[bytes, None], ...] = ({}, {}, {})


def registry(state: Any) -> Registry:
    """The registry of a ServerState, created on first use."""
    reg = getattr(state, "pubsub", None)
    if reg is None:
        reg = state.pubsub = Registry()
    return reg


def subscriptions(client: Any) -> Subscriptions:
    subs = getattr(client, "pubsub", None)
    if subs is None:
        subs = client.pubsub = Subscriptions()
    return subs


def in_subscribed_mode(client: Any) -> bool:
    """Redis's CLIENT_PUBSUB flag: any subscription of any kind."""
    return bool(client.sub or client.psub or client.ssub)


def check_context(client: Any, fullname: str) -> bytes | None:
    """The error a RESP2 client in subscribed mode gets for a command it may not run there.

    The dispatcher calls this after the arity and authentication checks, as
    Redis does; `fullname` is the spec name (`pubsub|channels`).
    """
    if client.proto != 2 or fullname in _ALLOWED_WHILE_SUBSCRIBED or not in_subscribed_mode(client):
        return None
    return errors.pubsub_context(fullname)


def subscription_count(client: Any, kind: int) -> int:
    """The count that (un)subscribe confirmations carry: shard channels count apart."""
    return client.ssub if kind == SHARD else client.sub + client.psub


def subscribe(client: Any, kind: int, name: bytes) -> bool:
    """Add one subscription; False when the client already had it."""
    own = subscriptions(client).by_kind[kind]
    if name in own:
        return False
    own[name] = None
    reg = registry(client.server)
    listeners = reg.by_kind[kind].get(name)
    if listeners is None:
        listeners = reg.by_kind[kind][name] = {}
        if kind == PATTERN:
            reg.matchers[name] = compile_pattern(name).match
    listeners[client.id] = client
    _recount(client)
    return True


def unsubscribe(client: Any, kind: int, name: bytes) -> bool:
    """Drop one subscription; False when the client did not have it."""
    subs = getattr(client, "pubsub", None)
    if subs is None or name not in subs.by_kind[kind]:
        return False
    del subs.by_kind[kind][name]
    reg = registry(client.server)
    listeners = reg.by_kind[kind][name]
    del listeners[client.id]
    if not listeners:
        del reg.by_kind[kind][name]
        if kind == PATTERN:
            del reg.matchers[name]
    _recount(client)
    return True


def subscribed(client: Any, kind: int) -> list[bytes]:
    """What the client is subscribed to, in subscription order."""
    subs = getattr(client, "pubsub", None)
    return [] if subs is None else list(subs.by_kind[kind])


def forget_client(client: Any) -> None:
    """Drop every subscription of a client silently (disconnect, RESET). Idempotent."""
    subs = getattr(client, "pubsub", None)
    if subs is None:
        return
    for kind in (CHANNEL, PATTERN, SHARD):
        for name in list(subs.by_kind[kind]):
            unsubscribe(client, kind, name)
    client.soft_limit_since_s = None


def _recount(client: Any) -> None:
    own = client.pubsub.by_kind
    client.sub, client.psub, client.ssub = len(own[CHANNEL]), len(own[PATTERN]), len(own[SHARD])


def publish(state: Any, channel: bytes, message: bytes) -> int:
    """Deliver to channel and pattern subscribers; the number of deliveries (PUBLISH's reply)."""
    reg = registry(state)
    limits = output_limits(state)
    receivers = 0
    listeners = reg.channels.get(channel)
    if listeners:
        push = Push([b"message", channel, message])
        receivers += len(listeners)
        for client in list(listeners.values()):
            deliver(client, push, limits)
    if reg.matchers:
        for pattern, match in list(reg.matchers.items()):
            if not match(channel):
                continue
            listeners = reg.patterns.get(pattern)
            if not listeners:  # a delivery above closed its last subscriber
                continue
            push = Push([b"pmessage", pattern, channel, message])
            receivers += len(listeners)
            for client in list(listeners.values()):
                deliver(client, push, limits)
    return receivers


def spublish(state: Any, channel: bytes, message: bytes) -> int:
    """Deliver to shard channel subscribers (no patterns for shard channels)."""
    listeners = registry(state).shard_channels.get(channel)
    if not listeners:
        return 0
    limits = output_limits(state)
    push = Push([b"smessage", channel, message])
    receivers = len(listeners)
    for client in list(listeners.values()):
        deliver(client, push, limits)
    return receivers


def deliver(client: Any, push: Push, limits: tuple[int, int, int]) -> None:
    """Queue a message for a subscriber; close it if it reads too slowly."""
    if client.close_after_reply:
        return  # being closed: Redis adds no more output to a close-asap client
    client.send_push(push)
    if over_output_limit(client, client.pending_output(), limits):
        forget_client(client)
        client.kill()


def output_limits(state: Any) -> tuple[int, int, int]:
    """(hard bytes, soft bytes, soft seconds) of the pubsub class (Redis's default: 32mb 8mb 60)."""
    return class_output_limits(state, "pubsub")


def counts(state: Any) -> tuple[int, int, int]:
    """INFO's pubsub_channels, pubsub_patterns and pubsubshard_channels."""
    reg = registry(state)
    return len(reg.channels), len(reg.patterns), len(reg.shard_channels)


RESET_HOOKS.append(forget_client)
