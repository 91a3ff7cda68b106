"""Parse a command's `args` string into Redis 7.0 COMMAND DOCS argument maps.

The syntax is described in `cache.commands.table`; in short:

    key:key value [condition=NX|XX] [GET] [EX seconds:integer|PX ms:integer]
    [ID client-id:integer...]   token once, several values  -> optional, multiple
    [GET pattern]...            token before every value    -> + multiple_token
    LIMIT (offset:integer count:integer)   a token introducing a block

Rules, matching how Redis's own command JSON files are shaped:
  * an uppercase word is a pure token; followed by an argument or a ( )
    group it becomes that argument's `token` instead;
  * a group holding one element is that element (plus the group's flags);
    several elements make a `block`, alternatives make a `oneof`;
  * unnamed groups are named after their token, else after their children
    joined with '_' (Redis's `normal_master_replica_pubsub` style);
  * `@6.2.0` right after an argument, group or token is the version that
    added it: `[GET]@6.2.0`, `[flush-type=ASYNC@4.0.0|SYNC@6.2.0]`.
COMMAND DOCS is redis-cli's source of hints: it aborts on a half-right
shape, so flags are status replies in a set and every map has `type`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cache.reply import Map, Set, Status

TYPES = ("key", "string", "integer", "double", "pattern", "unix-time")

_LEXEME = re.compile(r"""\s*(?:
    (?P<dots>\.\.\.)
  | (?P<since>@[0-9]+\.[0-9]+\.[0-9]+)
  | (?P<punct>[\[\]()|])
  | (?P<label>[a-z][a-z0-9_-]*)=
  | (?P<word>[^\s\[\]()|.=@]+)
)""", re.VERBOSE)
_TOKEN_WORD = re.compile(r"[A-Z][A-Z0-9_-]*")
_NAME_WORD = re.compile(r"[a-z][a-z0-9_-]*(?::[a-z-]+)?")


@dataclass(slots=True)
class Arg:
    """One COMMAND DOCS argument."""

    name: str
    type: str
    token: str | None = None
    optional: bool = False
    multiple: bool = False
    multiple_token: bool = False
    since: str = ""  # the version that added this argument (COMMAND DOCS `since`)
    arguments: list["Arg"] = field(default_factory=list)

    def reply(self, key_specs: "KeySpecCounter | None" = None) -> Map:
        """The argument as Redis 7.0 replies it (field order as in `addReplyCommandArgList`).

        Key arguments take the command's key specs in order (LMOVE: source 0,
        destination 1); `key_specs` counts them across one command's arguments.
        """
        if key_specs is None:
            key_specs = KeySpecCounter(1)
        fields: list[tuple[bytes, object]] = [(b"name", self.name.encode()),
                                              (b"type", self.type.encode())]
        if self.type == "key":
            fields.append((b"key_spec_index", key_specs.next()))
        if self.token is not None:
            fields.append((b"token", self.token.encode()))
        if self.since:
            fields.append((b"since", self.since.encode()))
        flags = [Status(flag) for flag, on in ((b"optional", self.optional),
                                               (b"multiple", self.multiple),
                                               (b"multiple_token", self.multiple_token)) if on]
        if flags:
            fields.append((b"flags", Set(flags)))
        if self.type in ("oneof", "block"):
            fields.append((b"arguments", [arg.reply(key_specs) for arg in self.arguments]))
        return Map(fields)


class KeySpecCounter:
    """Hands out key spec indices to key arguments, staying on the last spec."""

    def __init__(self, spec_count: int) -> None:
        self.last = max(spec_count - 1, 0)
        self.index = 0

    def next(self) -> int:
        index = min(self.index, self.last)
        self.index += 1
        return index


class ArgSyntaxError(ValueError):
    """An `args` string that does not follow the table's syntax."""


def parse(text: str) -> list[Arg]:
    """The top-level arguments described by `text` (empty for a command without any)."""
    lexemes = _lex(text)
    parser = _Parser(lexemes, text)
    alternatives = parser.alternatives()
    if parser.pos != len(lexemes):
        raise ArgSyntaxError(f"unexpected {lexemes[parser.pos][1]!r} in {text!r}")
    if len(alternatives) > 1:
        raise ArgSyntaxError(f"'|' outside a group in {text!r}")
    return alternatives[0] if alternatives else []


def _lex(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _LEXEME.match(text, pos)
        if match is None or match.end() == pos:
            raise ArgSyntaxError(f"cannot read {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, lexemes: list[tuple[str, str]], text: str) -> None:
        self.lexemes = lexemes
        self.text = text
        self.pos = 0
        self._named = False  # whether the last element() was a group with `name=`

    def peek(self) -> tuple[str, str] | None:
        return self.lexemes[self.pos] if self.pos < len(self.lexemes) else None

    def alternatives(self) -> list[list[Arg]]:
        """Sequences separated by '|', up to a closing bracket or the end."""
        result = [self.sequence()]
        while self.peek() == ("punct", "|"):
            self.pos += 1
            result.append(self.sequence())
        return [seq for seq in result if seq]

    def sequence(self) -> list[Arg]:
        items: list[Arg] = []
        pending_token: str | None = None
        token_since = ""
        while (lexeme := self.peek()) is not None and lexeme[1] not in ("|", "]", ")"):
            kind, value = lexeme
            if kind == "word" and _TOKEN_WORD.fullmatch(value):
                self.pos += 1
                if pending_token is not None:
                    items.append(_pure_token(pending_token, token_since))
                pending_token, token_since = value, self._take_since()
                continue
            arg, optional_group = self.element()
            if pending_token is not None:
                if optional_group:
                    items.append(_pure_token(pending_token, token_since))
                else:
                    arg.token = pending_token
                    arg.since = arg.since or token_since
                    if arg.type in ("oneof", "block") and not self._named:
                        arg.name = pending_token.lower()
                pending_token = None
            items.append(arg)
        if pending_token is not None:
            items.append(_pure_token(pending_token, token_since))
        return items

    def element(self) -> tuple[Arg, bool]:
        """One argument or group; returns it and whether it was a [ ] group."""
        kind, value = self.lexemes[self.pos]
        self.pos += 1
        self._named = False
        if kind == "word":
            if not _NAME_WORD.fullmatch(value):
                raise ArgSyntaxError(f"bad argument {value!r} in {self.text!r}")
            name, _, type_ = value.partition(":")
            type_ = type_ or ("key" if name == "key" else "string")
            if type_ not in TYPES:
                raise ArgSyntaxError(f"unknown type {type_!r} in {self.text!r}")
            arg = Arg(name, type_)
            arg.multiple = self._take_dots()
            arg.since = self._take_since()
            return arg, False
        if value not in ("[", "("):
            raise ArgSyntaxError(f"unexpected {value!r} in {self.text!r}")
        label = None
        if (nxt := self.peek()) is not None and nxt[0] == "label":
            label = nxt[1]
            self.pos += 1
        alternatives = self.alternatives()
        closing = "]" if value == "[" else ")"
        if self.peek() != ("punct", closing):
            raise ArgSyntaxError(f"missing {closing!r} in {self.text!r}")
        self.pos += 1
        arg = _group(alternatives, label, self.text)
        if value == "[":
            arg.optional = True
        if self._take_dots():
            if arg.token is not None and arg.type not in ("oneof", "block"):
                arg.multiple_token = True
            arg.multiple = True
        arg.since = self._take_since() or arg.since
        self._named = label is not None
        return arg, value == "["

    def _take_since(self) -> str:
        if (lexeme := self.peek()) is not None and lexeme[0] == "since":
            self.pos += 1
            return lexeme[1][1:]
        return ""

    def _take_dots(self) -> bool:
        if self.peek() == ("dots", "..."):
            self.pos += 1
            return True
        return False


def _pure_token(token: str, since: str = "") -> Arg:
    return Arg(token.lower(), "pure-token", token=token, since=since)


def _group(alternatives: list[list[Arg]], label: str | None, text: str) -> Arg:
    if not alternatives:
        raise ArgSyntaxError(f"empty group in {text!r}")
    if len(alternatives) == 1 and len(alternatives[0]) == 1:
        arg = alternatives[0][0]
        if label is not None:
            arg.name = label
        return arg
    if len(alternatives) == 1:
        children = alternatives[0]
        return Arg(label or "_".join(c.name for c in children), "block", arguments=children)
    options = [seq[0] if len(seq) == 1 else Arg("_".join(c.name for c in seq), "block",
                                                 arguments=seq)
               for seq in alternatives]
    return Arg(label or "_".join(o.name for o in options), "oneof", arguments=options)
