"""SUBSCRIBE, PUBLISH, PUBSUB and friends, over the registry in `cache.pubsub`.

A (un)subscribe command answers once per channel. The handler returns the
last confirmation as its reply and sends the earlier ones with
`client.send_push`, which keeps them in order with the command's reply.
Confirmations are `Push` values: arrays in RESP2, push messages in RESP3,
as Redis 7.0 sends them.
"""

from __future__ import annotations

from typing import Any

from cache import errors, pubsub
from cache.commands.introspection import help_reply
from cache.commands.table import command, container
from cache.errors import CommandError
from cache.glob import compile_pattern
from cache.pubsub import CHANNEL, PATTERN, SHARD
from cache.reply import Push

_FLAGS = "pubsub noscript loading stale"
_DOC = dict(group="pubsub")


def _answer(client: Any, confirmations: list[Push]) -> Push:
    for push in confirmations[:-1]:
        client.send_push(push)
    return confirmations[-1]


def _subscribe(client: Any, kind: int, verb: bytes, names: list[bytes]) -> Push:
    confirmations = []
    for name in names:
        pubsub.subscribe(client, kind, name)
        confirmations.append(Push([verb, name, pubsub.subscription_count(client, kind)]))
    return _answer(client, confirmations)


def _unsubscribe(client: Any, kind: int, verb: bytes, names: list[bytes]) -> Push:
    """Named subscriptions, or all of them; with none at all, one confirmation naming nil."""
    if not names:
        names = pubsub.subscribed(client, kind)
        if not names:
            return Push([verb, None, pubsub.subscription_count(client, kind)])
    confirmations = []
    for name in names:
        pubsub.unsubscribe(client, kind, name)
        confirmations.append(Push([verb, name, pubsub.subscription_count(client, kind)]))
    return _answer(client, confirmations)


@command("SUBSCRIBE", -2, _FLAGS, since="2.0.0", args="channel...", **_DOC,
         summary="Listen for messages published to the given channels",
         complexity="O(N) where N is the number of channels to subscribe to.")
def subscribe(client: Any, argv: list[bytes]) -> Push:
    return _subscribe(client, CHANNEL, b"subscribe", argv[1:])


@command("UNSUBSCRIBE", -1, _FLAGS, since="2.0.0", args="[channel...]", **_DOC,
         summary="Stop listening for messages posted to the given channels",
         complexity="O(N) where N is the number of clients already subscribed to a channel.")
def unsubscribe(client: Any, argv: list[bytes]) -> Push:
    return _unsubscribe(client, CHANNEL, b"unsubscribe", argv[1:])


@command("PSUBSCRIBE", -2, _FLAGS, since="2.0.0", args="(pattern:pattern)...", **_DOC,
         summary="Listen for messages published to channels matching the given patterns",
         complexity="O(N) where N is the number of patterns the client is already subscribed to.")
def psubscribe(client: Any, argv: list[bytes]) -> Push:
    return _subscribe(client, PATTERN, b"psubscribe", argv[1:])


@command("PUNSUBSCRIBE", -1, _FLAGS, since="2.0.0", args="[pattern:pattern...]", **_DOC,
         summary="Stop listening for messages posted to channels matching the given patterns",
         complexity="O(N+M) where N is the number of patterns the client is already subscribed "
                    "and M is the number of total patterns subscribed in the system "
                    "(by any client).")
def punsubscribe(client: Any, argv: list[bytes]) -> Push:
    return _unsubscribe(client, PATTERN, b"punsubscribe", argv[1:])


@command("SSUBSCRIBE", -2, _FLAGS, keys=(1, -1, 1), since="7.0.0", args="shardchannel...",
         key_specs="not_key",
         **_DOC,
         summary="Listen for messages published to the given shard channels",
         complexity="O(N) where N is the number of shard channels to subscribe to.")
def ssubscribe(client: Any, argv: list[bytes]) -> Push:
    return _subscribe(client, SHARD, b"ssubscribe", argv[1:])


@command("SUNSUBSCRIBE", -1, _FLAGS, keys=(1, -1, 1), since="7.0.0", args="[shardchannel...]",
         key_specs="not_key",
         **_DOC, summary="Stop listening for messages posted to the given shard channels",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.")
def sunsubscribe(client: Any, argv: list[bytes]) -> Push:
    return _unsubscribe(client, SHARD, b"sunsubscribe", argv[1:])


@command("PUBLISH", 3, "pubsub loading stale fast", since="2.0.0", args="channel message",
         **_DOC, summary="Post a message to a channel",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving channel "
                    "and M is the total number of subscribed patterns (by any client).")
def publish(client: Any, argv: list[bytes]) -> int:
    return pubsub.publish(client.server, argv[1], argv[2])


@command("SPUBLISH", 3, "pubsub loading stale fast", keys=(1, 1, 1), since="7.0.0",
         key_specs="not_key",
         args="shardchannel message", **_DOC, summary="Post a message to a shard channel",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard "
                    "channel.")
def spublish(client: Any, argv: list[bytes]) -> int:
    return pubsub.spublish(client.server, argv[1], argv[2])


# -- PUBSUB introspection --------------------------------------------------------------

container("PUBSUB", group="pubsub", since="2.8.0", summary="A container for Pub/Sub commands",
          complexity="Depends on subcommand.")

_INTROSPECT = "pubsub loading stale"


def _active(client: Any, argv: list[bytes], kind: int) -> list[bytes]:
    """CHANNELS / SHARDCHANNELS: active names, those matching the optional pattern."""
    if len(argv) > 3:
        raise CommandError(errors.subcommand_syntax(argv[1], argv[0]))
    names = pubsub.registry(client.server).by_kind[kind]
    if len(argv) == 2:
        return list(names)
    match = compile_pattern(argv[2]).match
    return [name for name in names if match(name)]


def _numsub(client: Any, argv: list[bytes], kind: int) -> list[Any]:
    names = pubsub.registry(client.server).by_kind[kind]
    reply: list[Any] = []
    for name in argv[2:]:
        reply += (name, len(names.get(name, ())))
    return reply


@command("PUBSUB NUMPAT", 2, _INTROSPECT, since="2.8.0", **_DOC, complexity="O(1)",
         summary="Get the count of unique patterns pattern subscriptions")
def pubsub_numpat(client: Any, argv: list[bytes]) -> int:
    return len(pubsub.registry(client.server).patterns)


@command("PUBSUB CHANNELS", -2, _INTROSPECT, since="2.8.0", args="[pattern:pattern]", **_DOC,
         summary="List active channels",
         complexity="O(N) where N is the number of active channels, and assuming constant time "
                    "pattern matching (relatively short channels and patterns)")
def pubsub_channels(client: Any, argv: list[bytes]) -> list[bytes]:
    return _active(client, argv, CHANNEL)


@command("PUBSUB NUMSUB", -2, _INTROSPECT, since="2.8.0", args="[channel...]", **_DOC,
         summary="Get the count of subscribers for channels",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels")
def pubsub_numsub(client: Any, argv: list[bytes]) -> list[Any]:
    return _numsub(client, argv, CHANNEL)


@command("PUBSUB SHARDNUMSUB", -2, _INTROSPECT, since="7.0.0", args="[shardchannel...]", **_DOC,
         summary="Get the count of subscribers for shard channels",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                    "shard channels")
def pubsub_shardnumsub(client: Any, argv: list[bytes]) -> list[Any]:
    return _numsub(client, argv, SHARD)


@command("PUBSUB SHARDCHANNELS", -2, _INTROSPECT, since="7.0.0", args="[pattern:pattern]",
         **_DOC, summary="List active shard channels",
         complexity="O(N) where N is the number of active shard channels, and assuming constant "
                    "time pattern matching (relatively short shard channels).")
def pubsub_shardchannels(client: Any, argv: list[bytes]) -> list[bytes]:
    return _active(client, argv, SHARD)


@command("PUBSUB HELP", 2, "loading stale", since="6.2.0", acl="slow", **_DOC, complexity="O(1)",
         summary="Show helpful text about the different subcommands")
def pubsub_help(client: Any, argv: list[bytes]) -> list:
    return help_reply("PUBSUB", [
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
    ])
