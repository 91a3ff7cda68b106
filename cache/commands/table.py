"""The declarative command table; `cache.dispatch` runs commands from it.

Every command is declared once, next to its handler:

    @command("SET", arity=-3, flags="write denyoom", keys=(1, 1, 1),
             group="string", since="1.0.0",
             summary="Sets the string value of a key...",
             args="key:key value [NX|XX] [GET] [EX seconds:integer|PX ...]")
    def set_(client, argv): ...

`COMMAND`, `COMMAND INFO`, `COMMAND DOCS`, arity checks and unknown-command
errors are all generated from this table; nothing else lists commands.
Subcommands are declared as "CLIENT SETNAME" after `container("CLIENT", ...)`.

Argument syntax (`args`), parsed by `cache.commands.argspec` for COMMAND DOCS:
    name[:type]      an argument; type is one of key string integer double
                     pattern unix-time (default: key when the name is `key`,
                     string otherwise)
    TOKEN            an uppercase word alone is a pure-token argument
    TOKEN name:type  an argument introduced by a token (`EX seconds:integer`)
    [ ... ]          optional;  a|b|c  one of (inside [ ] or ( ));
    ( ... )          a block;   x...   multiple (suffix on any element)
    group=           a name for a [ ]/( ) group: `[condition=NX|XX]`
Key specs (`key_specs`, Redis 7.0's COMMAND INFO key specs; COMMAND GETKEYS
follows them): one string per spec, `flags|begin|find|notes`, trailing parts
optional:
    flags    RO RW OW RM access update insert delete not_key incomplete variable_flags
    begin    `N` (index N) | `keyword WORD STARTFROM` | `unknown`
    find     `range LASTKEY STEP LIMIT` | `keynum IDX FIRSTKEY STEP` | `unknown`
             (default after a begin: the one key there, `range 0 1 0`)
Without `key_specs` there is one spec from `keys=(first, last, step)` and the
command flags; a spec of flags alone takes begin and find from `keys` too:
    key_specs="RW insert"                                (LPUSH)
    key_specs=("RW access delete|1", "RW insert|2")      (LMOVE)
    key_specs=("OW update|1", "RO access|2|keynum 0 1 1") (ZUNIONSTORE)
COMMAND DOCS extras: `history=(("6.2.0", "Added the `GET` option."),)` and
`deprecated="6.2.0 `LMOVE` with the `RIGHT` and `LEFT` arguments"` (the
version it was deprecated in, then what replaces it).
Handlers receive the client (`cache.state.Client`) and the full argv
(list of bytes, argv[0] the command name as sent) and return a reply value
(see `cache.reply`) or raise `cache.errors.CommandError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from cache import errors
from cache.reply import Error
from cache.resp import string2ll

Handler = Callable[[Any, list], Any]

KEY_FLAG_ORDER = ("RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                  "incomplete", "variable_flags")


@dataclass(frozen=True, slots=True)
class KeySpec:
    flags: tuple[str, ...]
    begin: tuple  # ("index", pos) | ("keyword", word, startfrom) | ("unknown",)
    find: tuple  # ("range", lastkey, step, limit) | ("keynum", idx, firstkey, step) | ("unknown",)
    notes: str = ""


def _key_spec(text: str, keys: tuple[int, int, int]) -> KeySpec:
    flags, _, rest = text.partition("|")
    begin_text, _, rest = rest.partition("|")
    find_text, _, notes = rest.partition("|")
    words = flags.split()
    unknown = set(words) - set(KEY_FLAG_ORDER)
    if unknown:
        raise ValueError(f"unknown key spec flags {sorted(unknown)}")
    first, last, step = keys
    begin: tuple = ("index", first)
    if begin_text.strip():
        head, *args = begin_text.split()
        begin = (("index", int(head)) if head.isdigit() else
                 ("keyword", args[0], int(args[1])) if head == "keyword" else ("unknown",))
    find: tuple = ("range", last if last < 0 else last - first, step, 0)
    if begin_text.strip():
        find = ("range", 0, 1, 0)  # a key of its own (LMOVE's destination)
    if find_text.strip():
        head, *args = find_text.split()
        find = (head, *map(int, args)) if head in ("range", "keynum") else ("unknown",)
    return KeySpec(tuple(f for f in KEY_FLAG_ORDER if f in words), begin, find, notes)


def key_specs_of(declared: str | tuple[str, ...] | None, flags: tuple[str, ...],
                 keys: tuple[int, int, int]) -> tuple[KeySpec, ...]:
    """The declared key specs, or the one `keys=` and the command flags imply."""
    if declared is None:
        if keys[0] <= 0:
            return ()
        implied = ("RO access" if "readonly" in flags else
                   "RW update" if "write" in flags else "RW")
        return (_key_spec(implied, keys),)
    if isinstance(declared, str):
        declared = (declared,)
    return tuple(_key_spec(text, keys) for text in declared)


def keys_from_specs(specs: tuple[KeySpec, ...], argv: list[bytes]) -> list[int] | None:
    """Redis's getKeysUsingKeySpecs: argv indices of keys, None for an invalid spec."""
    argc = len(argv)
    found: list[int] = []
    for spec in specs:
        if "not_key" in spec.flags:
            continue
        if spec.begin[0] == "index":
            first = spec.begin[1]
        elif spec.begin[0] == "keyword":
            word, startfrom = spec.begin[1].lower().encode(), spec.begin[2]
            indices = (range(startfrom, argc) if startfrom > 0
                       else range(argc + startfrom, 0, -1))
            first = next((i + 1 for i in indices if 1 <= i < argc and argv[i].lower() == word), 0)
            if not first:
                continue
        else:
            return None
        if spec.find[0] == "range":
            _, lastkey, step, limit = spec.find
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif spec.find[0] == "keynum":
            _, index, firstkey, step = spec.find
            if index >= argc - first:
                continue
            numkeys = string2ll(argv[first + index])
            if numkeys is None or numkeys < 0:
                return None
            first += firstkey
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        found.extend(range(first, last + 1, step))
        if "incomplete" in spec.flags:
            return None
    return found



@dataclass(slots=True, eq=False)
class CommandSpec:
    name: str  # full lowercase name: "get", "client|setname"
    arity: int  # Redis convention: N exact, -N at least N (argv[0] counts)
    flags: tuple[str, ...]
    first_key: int
    last_key: int
    step: int
    group: str
    since: str
    summary: str
    args: str = ""
    complexity: str = ""
    acl_categories: tuple[str, ...] = ()
    tips: tuple[str, ...] = ()
    key_specs: tuple[KeySpec, ...] = ()
    history: tuple[tuple[str, str], ...] = ()  # COMMAND DOCS: (version, what changed)
    deprecated: str = ""  # "SINCE replacement text": COMMAND DOCS deprecated_since, replaced_by
    handler: Handler | None = None
    parent: "CommandSpec | None" = None
    subcommands: dict[bytes, "CommandSpec"] | None = None
    # hot-path caches, filled by _finish()
    is_write: bool = field(default=False)
    deny_oom: bool = field(default=False)
    no_auth: bool = field(default=False)
    no_multi: bool = field(default=False)
    runs_in_multi: bool = field(default=False)  # executed, not queued, inside MULTI
    multi_control: bool = field(default=False)  # never refused for OOM inside MULTI

    @property
    def display_name(self) -> str:
        """The name as Redis shows it in COMMAND replies (subcommands by their own word)."""
        return self.name

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indices of argv that are keys, from (first_key, last_key, step)."""
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, max(self.step, 1)))


COMMANDS: dict[bytes, CommandSpec] = {}


# Redis's processCommand runs these at once inside MULTI instead of queueing them,
# and never refuses the last four there for being out of memory.
_RUN_IN_MULTI = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))
_MULTI_CONTROL = frozenset(("exec", "discard", "quit", "reset"))


def _finish(spec: CommandSpec) -> CommandSpec:
    spec.is_write = "write" in spec.flags
    spec.deny_oom = "denyoom" in spec.flags
    spec.no_auth = "no_auth" in spec.flags
    spec.no_multi = "no_multi" in spec.flags
    spec.runs_in_multi = spec.name in _RUN_IN_MULTI
    spec.multi_control = spec.name in _MULTI_CONTROL
    return spec


def container(
    name: str, *, group: str, since: str, summary: str, complexity: str = "", flags: str = ""
) -> CommandSpec:
    """Declare a command that only holds subcommands (CLIENT, CONFIG, OBJECT...)."""
    spec = _finish(
        CommandSpec(
            name=name.lower(), arity=-2, flags=tuple(flags.split()), first_key=0, last_key=0,
            step=0, group=group, since=since, summary=summary, complexity=complexity,
            subcommands={},
        )
    )
    COMMANDS[name.lower().encode()] = spec
    return spec


def command(
    name: str,
    arity: int,
    flags: str = "",
    *,
    keys: tuple[int, int, int] = (0, 0, 0),
    group: str,
    since: str,
    summary: str,
    args: str = "",
    complexity: str = "",
    acl: str = "",
    tips: str = "",
    key_specs: str | tuple[str, ...] | None = None,
    history: tuple[tuple[str, str], ...] = (),
    deprecated: str = "",
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of `name`."""

    def register(handler: Handler) -> Handler:
        words = name.lower().split()
        spec = _finish(
            CommandSpec(
                name="|".join(words), arity=arity, flags=tuple(flags.split()),
                first_key=keys[0], last_key=keys[1], step=keys[2], group=group, since=since,
                summary=summary, args=args, complexity=complexity,
                acl_categories=tuple(acl.split()), tips=tuple(tips.split()), handler=handler,
                key_specs=key_specs_of(key_specs, tuple(flags.split()), keys),
                history=history, deprecated=deprecated,
            )
        )
        if len(words) == 1:
            if words[0].encode() in COMMANDS:
                raise ValueError(f"command {name} declared twice")
            COMMANDS[words[0].encode()] = spec
        else:
            parent = COMMANDS[words[0].encode()]
            assert parent.subcommands is not None, f"{words[0]} is not a container"
            if words[1].encode() in parent.subcommands:
                raise ValueError(f"command {name} declared twice")
            spec.parent = parent
            parent.subcommands[words[1].encode()] = spec
        return handler

    return register


def lookup(argv: list[bytes], commands: dict[bytes, CommandSpec] | None = None
           ) -> CommandSpec | Error:
    """The spec that argv names, or the error Redis gives for it (unknown, arity).

    `commands` is the server's own name table (`Config.command_table`, with
    rename-command applied); the declared table when omitted.
    """
    spec = find(argv, commands)
    if spec.__class__ is Error:
        return spec
    arity = spec.arity  # type: ignore[union-attr]
    n = len(argv)
    if (arity > 0 and n != arity) or n < -arity:
        return Error(errors.wrong_arity(spec.name))  # type: ignore[union-attr]
    return spec


def find(argv: list[bytes], commands: dict[bytes, CommandSpec] | None = None
         ) -> CommandSpec | Error:
    """The spec that argv names (arity unchecked), or the unknown command/subcommand error."""
    spec = (COMMANDS if commands is None else commands).get(argv[0].lower())
    if spec is None:
        return Error(errors.unknown_command(argv))
    if spec.subcommands is not None:
        if len(argv) < 2:
            # A container with a handler of its own (bare COMMAND) runs when sent alone.
            return spec if spec.handler is not None else Error(errors.wrong_arity(spec.name))
        sub = spec.subcommands.get(argv[1].lower())
        if sub is None:
            # Redis names the container as it was sent (a renamed CONFIG: "Try CFG HELP.").
            return Error(errors.unknown_subcommand(argv[1], argv[0].decode("latin-1")))
        spec = sub
    return spec


def renamed(renames: dict[str, str]) -> dict[bytes, CommandSpec]:
    """The name table after redis.conf's `rename-command OLD NEW` lines ("" disables OLD).

    The spec keeps its own name (COMMAND INFO, errors and INFO commandstats
    show `config`), only the name clients send changes. Raises ValueError
    with Redis's reason for an unknown command or a taken name.
    """
    table = dict(COMMANDS)
    for old, new in renames.items():
        spec = table.pop(old.lower().encode("utf-8", "surrogateescape"), None)
        if spec is None:
            raise ValueError("No such command in rename-command")
        if new:
            target = new.lower().encode("utf-8", "surrogateescape")
            if target in table:
                raise ValueError("Target command name already exists")
            table[target] = spec
    return table
