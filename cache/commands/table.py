"""The declarative command table and the dispatcher that reads it.

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
Handlers receive the client (`cache.state.Client`) and the full argv
(list of bytes, argv[0] the command name as sent) and return a reply value
(see `cache.reply`) or raise `cache.errors.CommandError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from cache import errors
from cache.reply import Error

Handler = Callable[[Any, list], Any]


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
    handler: Handler | None = None
    parent: "CommandSpec | None" = None
    subcommands: dict[bytes, "CommandSpec"] | None = None
    # hot-path caches, filled by _finish()
    is_write: bool = field(default=False)
    deny_oom: bool = field(default=False)

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


def _finish(spec: CommandSpec) -> CommandSpec:
    spec.is_write = "write" in spec.flags
    spec.deny_oom = "denyoom" in spec.flags
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


def lookup(argv: list[bytes]) -> CommandSpec | Error:
    """The spec that argv names, or the error Redis gives for it (unknown, arity)."""
    spec = COMMANDS.get(argv[0].lower())
    if spec is None:
        return Error(errors.unknown_command(argv))
    if spec.subcommands is not None:
        if len(argv) < 2:
            # A container with a handler of its own (bare COMMAND) runs when sent alone.
            return spec if spec.handler is not None else Error(errors.wrong_arity(spec.name))
        sub = spec.subcommands.get(argv[1].lower())
        if sub is None:
            return Error(errors.unknown_subcommand(argv[1], spec.name))
        spec = sub
    arity = spec.arity
    n = len(argv)
    if (arity > 0 and n != arity) or n < -arity:
        return Error(errors.wrong_arity(spec.name))
    return spec


def call(spec: CommandSpec, client: Any, argv: list[bytes]) -> Any:
    """Run a looked-up command; a CommandError becomes an error reply."""
    try:
        return spec.handler(client, argv)  # type: ignore[misc]
    except errors.CommandError as exc:
        return Error(exc.message)


def dispatch(client: Any, argv: list[bytes]) -> Any:
    spec = lookup(argv)
    if type(spec) is Error:
        return spec
    return call(spec, client, argv)  # type: ignore[arg-type]
