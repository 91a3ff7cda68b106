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
from cache.commands.table import COMMANDS, CommandSpec, command, container, keys_from_specs
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
                  "sorted-set": "sortedset", "generic": "keyspace", "bitmap": "bitmap",
                  "hyperloglog": "hyperloglog", "geo": "geo", "stream": "stream",
                  "pubsub": "pubsub", "scripting": "scripting", "transactions": "transaction",
                  "connection": "connection"}


def help_reply(container_name: str, lines: list[str]) -> list[Status]:
    """A HELP reply as Redis's addReplyHelp builds it (status lines, HELP appended).

    Redis heads it with the command name as sent, uppercased (a renamed CONFIG
    shows its new name): pass `sent_name(argv)`.
    """
    head = f"{container_name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Status(line.encode("latin-1")) for line in [head, *lines, "HELP",
                                                         "    Prints this help."]]


def sent_name(argv: list[bytes]) -> str:
    return argv[0].upper().decode("latin-1")


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


def _search_map(kind: str, spec: Map) -> Map:
    return Map([(b"type", kind.encode()), (b"spec", spec)])


def _begin_search(begin: tuple) -> Map:
    if begin[0] == "index":
        return _search_map("index", Map([(b"index", begin[1])]))
    if begin[0] == "keyword":
        return _search_map("keyword", Map([(b"keyword", begin[1].encode()),
                                           (b"startfrom", begin[2])]))
    return _search_map("unknown", Map([]))


def _find_keys(find: tuple) -> Map:
    if find[0] == "range":
        return _search_map("range", Map([(b"lastkey", find[1]), (b"keystep", find[2]),
                                         (b"limit", find[3])]))
    if find[0] == "keynum":
        return _search_map("keynum", Map([(b"keynumidx", find[1]), (b"firstkey", find[2]),
                                          (b"keystep", find[3])]))
    return _search_map("unknown", Map([]))


def _key_specs(spec: CommandSpec) -> Set:
    """addReplyCommandKeySpecs: notes (if any), flags, begin_search, find_keys."""
    out = []
    for key_spec in spec.key_specs:
        fields: list[tuple[bytes, Any]] = (
            [(b"notes", key_spec.notes.encode())] if key_spec.notes else [])
        fields += [(b"flags", Set([Status(f.encode()) for f in key_spec.flags])),
                   (b"begin_search", _begin_search(key_spec.begin)),
                   (b"find_keys", _find_keys(key_spec.find))]
        out.append(Map(fields))
    return Set(out)


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
    if spec.deprecated:
        since, _, replaced_by = spec.deprecated.partition(" ")
        docs += [(b"doc_flags", Set([Status(b"deprecated")])),
                 (b"deprecated_since", since.encode()), (b"replaced_by", replaced_by.encode())]
    if spec.history:
        docs.append((b"history", Set([[version.encode(), change.encode()]
                                      for version, change in spec.history])))
    arguments = argspec.parse(spec.args)
    if arguments:
        key_specs = argspec.KeySpecCounter(len(spec.key_specs))
        docs.append((b"arguments", [arg.reply(key_specs) for arg in arguments]))
    if spec.subcommands is not None:
        docs.append((b"subcommands", Map([(sub.name.encode(), command_docs(sub))
                                          for sub in spec.subcommands.values()])))
    return Map(docs)


def find(name: bytes, table: dict[bytes, CommandSpec] | None = None) -> CommandSpec | None:
    """A command by its full name as COMMAND INFO/DOCS take it (`client|list`)."""
    head, bar, sub = name.lower().partition(b"|")
    spec = (COMMANDS if table is None else table).get(head)
    if spec is None or not bar:
        return spec
    return (spec.subcommands or {}).get(sub)


def all_specs(table: dict[bytes, CommandSpec] | None = None) -> list[CommandSpec]:
    """Every command then its subcommands, in declaration order (as COMMAND LIST)."""
    out = []
    for spec in (COMMANDS if table is None else table).values():
        out.append(spec)
        out.extend((spec.subcommands or {}).values())
    return out


# -- handlers -------------------------------------------------------------------

_COMMAND = container("COMMAND", group="server", since="2.8.13",
                     summary="Get array of Redis command details",
                     complexity="O(N) where N is the total number of Redis commands",
                     flags="loading stale")


def names(client: Any) -> dict[bytes, CommandSpec]:
    """The commands this client's server answers to (rename-command applied)."""
    return COMMANDS if client is None else client.server.config.command_table


def command_all(client: Any, argv: list[bytes]) -> list[Any]:
    return [command_info(spec) for spec in names(client).values()]


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
    return len(names(client))


@command("COMMAND INFO", -2, since="2.8.13",
         summary="Get array of specific Redis command details, or all when no argument is given.",
         complexity="O(N) where N is the number of commands to look up",
         args="[command-name...]", tips="nondeterministic_output_order", **_INTROSPECTION,
         history=(("7.0.0", "Allowed to be called with no argument to get info on all commands."),))
def command_info_(client: Any, argv: list[bytes]) -> list[Any]:
    if len(argv) == 2:
        return command_all(client, argv)
    found = (find(name, names(client)) for name in argv[2:])
    return [None if spec is None else command_info(spec) for spec in found]


@command("COMMAND DOCS", -2, since="7.0.0",
         summary="Get array of specific Redis command documentation",
         complexity="O(N) where N is the number of commands to look up",
         args="[command-name...]", tips="nondeterministic_output_order", **_INTROSPECTION)
def command_docs_(client: Any, argv: list[bytes]) -> Map:
    table = names(client)
    specs = list(table.values()) if len(argv) == 2 else [find(n, table) for n in argv[2:]]
    return Map([(spec.name.encode(), command_docs(spec)) for spec in specs if spec is not None])


@command("COMMAND LIST", -2, since="7.0.0", summary="Get an array of Redis command names",
         complexity="O(N) where N is the total number of Redis commands",
         args="[FILTERBY (filterby=MODULE module-name|ACLCAT category|PATTERN pattern:pattern)]",
         tips="nondeterministic_output_order", **_INTROSPECTION)
def command_list(client: Any, argv: list[bytes]) -> list[bytes]:
    specs = all_specs(names(client))
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
         **_INTROSPECTION)  # Redis 7.0 documents no arguments for it
def command_getkeys(client: Any, argv: list[bytes]) -> list[bytes]:
    target = argv[2:]
    spec = names(client).get(target[0].lower())
    if spec is not None and spec.subcommands is not None and len(target) >= 2:
        spec = spec.subcommands.get(target[1].lower())
    if spec is None:
        raise errors.CommandError(errors.GETKEYS_INVALID_COMMAND)
    if all("not_key" in key_spec.flags for key_spec in spec.key_specs):
        raise errors.CommandError(errors.GETKEYS_NO_KEY_ARGUMENTS)
    n = len(target)
    if (spec.arity > 0 and spec.arity != n) or n < -spec.arity:
        raise errors.CommandError(errors.GETKEYS_BAD_ARITY)
    positions = keys_from_specs(spec.key_specs, target)
    if not positions:
        if "no_mandatory_keys" in spec.flags:
            return []
        raise errors.CommandError(errors.GETKEYS_NO_KEYS_FOUND)
    return [target[i] for i in positions]


@command("COMMAND HELP", 2, since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)",
         **_INTROSPECTION)
def command_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply(sent_name(argv), [
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

