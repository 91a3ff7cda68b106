"""COMMAND and its subcommands, generated from `table.COMMANDS` in Redis 7.0's shapes.

COMMAND INFO entries are `[name, arity, flags, first, last, step, acl
categories, tips, key specs, subcommands]`; COMMAND DOCS is a map of name to
a doc map. Both are read by real clients (redis-cli builds its hints from
COMMAND DOCS and aborts on a wrong shape), so every container type here is
the one redis-server uses: sets of status replies for flags, maps for docs.
"""

from __future__ import annotations

from typing import Any

from cache import errors
from cache.commands import argspec
from cache.commands.table import COMMANDS, CommandSpec, command, container
from cache.glob import stringmatch
from cache.reply import Map, Set, Status

# Command flags in the order Redis prints them; the ones Redis hides are absent.
FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
              "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
              "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi",
              "movablekeys", "allow_busy")
# ACL categories in Redis's bit order (the order COMMAND INFO lists them).
ACL_ORDER = ("keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
             "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
             "blocking", "dangerous", "connection", "transaction", "scripting")
# The category a command of each group belongs to when its spec names none.
GROUP_CATEGORY = {"string": "string", "list": "list", "hash": "hash", "set": "set",
                  "sorted_set": "sortedset", "generic": "keyspace", "bitmap": "bitmap",
                  "hyperloglog": "hyperloglog", "geo": "geo", "stream": "stream",
                  "pubsub": "pubsub", "scripting": "scripting", "transactions": "transaction",
                  "connection": "connection"}


def help_reply(container_name: str, lines: list[str]) -> list[Status]:
    """A HELP reply as Redis's addReplyHelp builds it (status lines, HELP appended)."""
    head = f"{container_name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Status(line.encode()) for line in [head, *lines, "HELP", "    Prints this help."]]


def acl_categories(spec: CommandSpec) -> list[str]:
    """Declared (or group-implied) categories plus those Redis derives from flags."""
    declared = {c.lstrip("@").lower() for c in spec.acl_categories}
    if not spec.acl_categories and spec.group in GROUP_CATEGORY and spec.subcommands is None:
        declared.add(GROUP_CATEGORY[spec.group])
    flags = spec.flags
    if "write" in flags:
        declared.add("write")
    if "readonly" in flags and "scripting" not in declared:
        declared.add("read")
    if "admin" in flags:
        declared.update(("admin", "dangerous"))
    if "pubsub" in flags:
        declared.add("pubsub")
    if "fast" in flags:
        declared.add("fast")
    if "blocking" in flags:
        declared.add("blocking")
    if "fast" not in declared:
        declared.add("slow")
    known = [c for c in ACL_ORDER if c in declared]
    return known + sorted(declared.difference(ACL_ORDER))


def _key_specs(spec: CommandSpec) -> Set:
    if spec.first_key <= 0:
        return Set()
    if "readonly" in spec.flags:
        flags = (b"RO", b"access")
    elif "write" in spec.flags:
        flags = (b"RW", b"update")
    else:
        flags = (b"RW",)
    lastkey = spec.last_key if spec.last_key < 0 else spec.last_key - spec.first_key
    return Set([Map([
        (b"flags", Set([Status(f) for f in flags])),
        (b"begin_search", Map([(b"type", b"index"),
                               (b"spec", Map([(b"index", spec.first_key)]))])),
        (b"find_keys", Map([(b"type", b"range"),
                            (b"spec", Map([(b"lastkey", lastkey), (b"keystep", spec.step),
                                           (b"limit", 0)]))])),
    ])])


def command_info(spec: CommandSpec) -> list[Any]:
    flags = [f for f in FLAG_ORDER if f in spec.flags]
    # Redis answers an empty *set* for a command without subcommands, an array otherwise.
    subcommands = ([command_info(sub) for sub in spec.subcommands.values()]
                   if spec.subcommands is not None else Set())
    return [
        spec.name.encode(), spec.arity, Set([Status(f.encode()) for f in flags]),
        spec.first_key, spec.last_key, spec.step,
        Set([Status(b"@" + c.encode()) for c in acl_categories(spec)]),
        Set([t.encode() for t in spec.tips]), _key_specs(spec), subcommands,
    ]


def command_docs(spec: CommandSpec) -> Map:
    """The doc map, fields in `addReplyCommandDocs` order."""
    docs: list[tuple[bytes, Any]] = [(b"summary", spec.summary.encode()),
                                     (b"since", spec.since.encode()),
                                     (b"group", spec.group.encode())]
    if spec.complexity:
        docs.append((b"complexity", spec.complexity.encode()))
    arguments = argspec.parse(spec.args)
    if arguments:
        docs.append((b"arguments", [arg.reply() for arg in arguments]))
    if spec.subcommands is not None:
        docs.append((b"subcommands", Map([(sub.name.encode(), command_docs(sub))
                                          for sub in spec.subcommands.values()])))
    return Map(docs)


def find(name: bytes) -> CommandSpec | None:
    """A command by its full name as COMMAND INFO/DOCS take it (`client|list`)."""
    head, bar, sub = name.lower().partition(b"|")
    spec = COMMANDS.get(head)
    if spec is None or not bar:
        return spec
    return (spec.subcommands or {}).get(sub)


def all_specs() -> list[CommandSpec]:
    """Every command then its subcommands, in declaration order (as COMMAND LIST)."""
    out = []
    for spec in COMMANDS.values():
        out.append(spec)
        out.extend((spec.subcommands or {}).values())
    return out


# -- handlers -------------------------------------------------------------------

_COMMAND = container("COMMAND", group="server", since="2.8.13",
                     summary="Get array of Redis command details",
                     complexity="O(N) where N is the total number of Redis commands",
                     flags="loading stale")


def command_all(client: Any, argv: list[bytes]) -> list[Any]:
    return [command_info(spec) for spec in COMMANDS.values()]


# COMMAND alone is a command too (arity -1); `table.lookup` needs to call this
# handler when a container is sent without a subcommand and has one.
_COMMAND.arity = -1
_COMMAND.handler = command_all
_COMMAND.acl_categories = ("connection",)
_COMMAND.tips = ("nondeterministic_output_order",)

_INTROSPECTION = dict(group="server", flags="loading stale", acl="connection")


@command("COMMAND COUNT", 2, since="2.8.13", summary="Get total number of Redis commands",
         complexity="O(1)", **_INTROSPECTION)
def command_count(client: Any, argv: list[bytes]) -> int:
    return len(COMMANDS)


@command("COMMAND INFO", -2, since="2.8.13",
         summary="Get array of specific Redis command details, or all when no argument is given.",
         complexity="O(N) where N is the number of commands to look up",
         args="[command-name...]", tips="nondeterministic_output_order", **_INTROSPECTION)
def command_info_(client: Any, argv: list[bytes]) -> list[Any]:
    if len(argv) == 2:
        return command_all(client, argv)
    found = (find(name) for name in argv[2:])
    return [None if spec is None else command_info(spec) for spec in found]


@command("COMMAND DOCS", -2, since="7.0.0",
         summary="Get array of specific Redis command documentation",
         complexity="O(N) where N is the number of commands to look up",
         args="[command-name...]", tips="nondeterministic_output_order", **_INTROSPECTION)
def command_docs_(client: Any, argv: list[bytes]) -> Map:
    specs = list(COMMANDS.values()) if len(argv) == 2 else [find(n) for n in argv[2:]]
    return Map([(spec.name.encode(), command_docs(spec)) for spec in specs if spec is not None])


@command("COMMAND LIST", -2, since="7.0.0", summary="Get an array of Redis command names",
         complexity="O(N) where N is the total number of Redis commands",
         args="[FILTERBY (filterby=MODULE module-name|ACLCAT category|PATTERN pattern)]",
         tips="nondeterministic_output_order", **_INTROSPECTION)
def command_list(client: Any, argv: list[bytes]) -> list[bytes]:
    specs = all_specs()
    if len(argv) == 2:
        return [spec.name.encode() for spec in specs]
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise errors.CommandError(errors.SYNTAX)
    kind, value = argv[3].lower(), argv[4]
    if kind == b"module":
        return []
    if kind == b"aclcat":
        category = value.decode("utf-8", "replace").lower()
        return [s.name.encode() for s in specs if category in acl_categories(s)]
    if kind == b"pattern":
        return [s.name.encode() for s in specs if stringmatch(value, s.name.encode(), nocase=True)]
    raise errors.CommandError(errors.SYNTAX)


@command("COMMAND GETKEYS", -4, since="2.8.13", summary="Extract keys given a full Redis command",
         complexity="O(N) where N is the number of arguments to the command",
         args="command arg...", **_INTROSPECTION)
def command_getkeys(client: Any, argv: list[bytes]) -> list[bytes]:
    target = argv[2:]
    spec = COMMANDS.get(target[0].lower())
    if spec is not None and spec.subcommands is not None and len(target) >= 2:
        spec = spec.subcommands.get(target[1].lower())
    if spec is None:
        raise errors.CommandError(errors.GETKEYS_INVALID_COMMAND)
    if spec.first_key <= 0:
        raise errors.CommandError(errors.GETKEYS_NO_KEY_ARGUMENTS)
    n = len(target)
    if (spec.arity > 0 and spec.arity != n) or n < -spec.arity:
        raise errors.CommandError(errors.GETKEYS_BAD_ARITY)
    keys = [target[i] for i in spec.key_positions(target)]
    if not keys:
        raise errors.CommandError(errors.GETKEYS_NO_KEYS_FOUND)
    return keys


@command("COMMAND HELP", 2, since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)",
         **_INTROSPECTION)
def command_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply("COMMAND", [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
    ])

