"""flowcache's settings: one declarative table, parsed the way Redis 7.0 parses them.

Every setting is a `Setting` row: its Redis name, kind, default, whether
CONFIG SET may change it, and a line of documentation. Values are parsed
from text exactly as redis-server parses `CONFIG SET` arguments (so
`maxmemory 100mb`, `appendonly YES`, `hz 1000` clamps to 500), and the error
texts are Redis's. The same parser loads `config/flowcache.toml`, where a bad
key or value is a `ConfigError` naming the file and the setting.

    config = Config.from_toml("config/flowcache.toml")
    config["maxmemory"]                  # 104857600
    config.on_change("hz", server.set_hz)  # called after a CONFIG SET commits

The file's `[rename-command]` table (redis.conf's `rename-command`) gives
the server its own name table, `config.command_table`, so two servers in
one process can rename differently. CONFIG REWRITE writes the settings back
into the file they came from (`rewrite_file`, the one place cache/ writes
a file).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from cache import errors
from cache.glob import stringmatch

INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1
LLONG_MAX = 2**63 - 1
ULLONG_MAX = 2**64 - 1
MB = 1024 * 1024

_INTEGER = re.compile(rb"-?[1-9][0-9]*|0")  # Redis's string2ll: no '+', no leading zeros
_MEMORY = re.compile(rb"([0-9]*)(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)
_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000**2, b"mb": 1024**2,
          b"g": 1000**3, b"gb": 1024**3}

# notify-keyspace-events classes, in the order Redis prints them.
EVENT_CLASSES = "g$lshzxetdnKEm"
_ALL_EVENTS = "g$lshzxetd"


class ConfigError(ValueError):
    """A setting could not be loaded; the message names the setting (and file)."""


class InvalidValue(ValueError):
    """A value Redis would refuse; `str(exc)` is Redis's reason text."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: str  # int | memory | bool | enum | string | save | events
    default: str  # as it would be written in a config file
    mutable: bool
    doc: str
    low: int = 0
    high: int = 0
    unsigned: bool = False  # range checked on the value seen as a C unsigned (maxclients...)
    clamp: tuple[int, int] | None = None  # applied after the range check (hz)
    choices: tuple[str, ...] = ()
    only: str | None = None  # the one value flowcache accepts (persistence is off)


SETTINGS: tuple[Setting, ...] = (
    Setting("port", "int", "3000", False, "TCP port to listen on.", 0, 65535),
    Setting("bind", "string", "127.0.0.1", False, "Interface address to listen on."),
    Setting("databases", "int", "16", False, "Number of logical databases (SELECT 0..N-1).",
            1, INT_MAX),
    Setting("hz", "int", "10", True,
            "Background tasks per second (expiry, timeouts); clamped to 1..500.",
            0, INT_MAX, clamp=(1, 500)),
    Setting("loglevel", "enum", "notice", True, "Server log verbosity.",
            choices=("debug", "verbose", "notice", "warning")),
    Setting("timeout", "int", "0", True, "Close a client idle this many seconds (0: never).",
            0, INT_MAX),
    Setting("tcp-keepalive", "int", "300", True, "TCP keepalive period in seconds (0: off).",
            0, INT_MAX),
    Setting("maxclients", "int", "10000", True, "Maximum number of connected clients.",
            1, UINT_MAX, unsigned=True),
    Setting("requirepass", "string", "", True, "Password of the default user (empty: none)."),
    Setting("protected-mode", "bool", "yes", True,
            "Without a password, accept only loopback clients."),
    Setting("maxmemory", "memory", "0", True, "Memory limit for data (0: no limit).",
            0, ULLONG_MAX, unsigned=True),
    Setting("maxmemory-policy", "enum", "noeviction", True, "What to evict at maxmemory.",
            choices=("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                     "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")),
    Setting("maxmemory-samples", "int", "5", True, "Keys sampled per eviction round.",
            1, INT_MAX),
    Setting("maxmemory-eviction-tenacity", "int", "10", True,
            "How hard one eviction round tries before giving up.", 0, 100),
    Setting("lfu-log-factor", "int", "10", True, "LFU counter logarithm factor.", 0, INT_MAX),
    Setting("lfu-decay-time", "int", "1", True, "Minutes per LFU counter decay step.",
            0, INT_MAX),
    Setting("active-expire-effort", "int", "1", True,
            "Active expiry effort: more CPU to reclaim expired keys sooner.", 1, 10),
    Setting("proto-max-bulk-len", "memory", "512mb", True, "Largest accepted bulk string.",
            MB, LLONG_MAX),
    Setting("client-query-buffer-limit", "memory", "1gb", True,
            "Largest query buffer of one client.", MB, LLONG_MAX),
    Setting("slowlog-log-slower-than", "int", "10000", True,
            "Log commands slower than this many microseconds (-1: off).", -1, LLONG_MAX),
    Setting("slowlog-max-len", "int", "128", True, "Entries kept in the slow log.",
            0, LLONG_MAX),
    Setting("latency-monitor-threshold", "int", "0", True,
            "Latency monitor threshold in milliseconds (0: off).", 0, LLONG_MAX),
    Setting("notify-keyspace-events", "events", "", True,
            "Keyspace notification classes (K E g $ l s h z x e t d n m A)."),
    Setting("hash-max-listpack-entries", "int", "512", True,
            "Hashes with at most this many fields are reported as listpack.", 0, LLONG_MAX),
    Setting("hash-max-listpack-value", "int", "64", True,
            "Hashes whose fields and values are at most this long are reported as listpack.",
            0, LLONG_MAX),
    Setting("set-max-intset-entries", "int", "512", True,
            "Sets of at most this many integers are reported as intset.", 0, LLONG_MAX),
    Setting("zset-max-listpack-entries", "int", "128", True,
            "Sorted sets with at most this many members are reported as listpack.",
            0, LLONG_MAX),
    Setting("zset-max-listpack-value", "int", "64", True,
            "Sorted sets whose members are at most this long are reported as listpack.",
            0, LLONG_MAX),
    Setting("list-max-listpack-size", "int", "-2", True,
            "Quicklist node size: entries if positive, -1..-5 for 4kb..64kb.",
            -(2**31), INT_MAX),
    Setting("list-compress-depth", "int", "0", True,
            "Quicklist nodes left uncompressed at each end (flowcache compresses none).",
            0, INT_MAX),
    Setting("save", "save", "", True, "Snapshot schedule; flowcache keeps no snapshots.",
            only=""),
    Setting("appendonly", "bool", "no", True, "Append-only file; flowcache keeps none.",
            only="no"),
    Setting("client-output-buffer-limit", "obuf",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", True,
            "Per client class: hard limit, soft limit, soft seconds (pubsub clients are "
            "closed past them). A partial value updates only the classes it names."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


# -- parsing, one function per kind; each raises InvalidValue(Redis's reason) --


def _range_checked(setting: Setting, value: int) -> int:
    seen = value & ULLONG_MAX if setting.unsigned else value
    if not setting.low <= seen <= setting.high:
        raise InvalidValue(
            f"argument must be between {setting.low} and {setting.high} inclusive")
    if setting.clamp is not None:
        seen = min(max(seen, setting.clamp[0]), setting.clamp[1])
    return seen


def _parse_int(setting: Setting, raw: bytes) -> int:
    if not _INTEGER.fullmatch(raw) or not -2**63 <= int(raw) <= LLONG_MAX:
        raise InvalidValue("argument couldn't be parsed into an integer")
    return _range_checked(setting, int(raw))


def parse_memory(raw: bytes) -> int:
    """Redis's memtoull: digits then an optional unit (k=1000, kb=1024...), 64-bit wrapped."""
    match = _MEMORY.fullmatch(raw)
    if match is None:
        raise InvalidValue("argument must be a memory value")
    digits, unit = match.groups()
    number = min(int(digits), ULLONG_MAX) if digits else 0  # strtoull saturates
    return (number * _UNITS[(unit or b"").lower()]) & ULLONG_MAX


def _parse_memory(setting: Setting, raw: bytes) -> int:
    value = parse_memory(raw)
    if not setting.unsigned and value > LLONG_MAX:
        value -= 2**64  # stored in a signed long long, as redis-server does
    return _range_checked(setting, value)


def _parse_bool(setting: Setting, raw: bytes) -> bool:
    word = raw.lower()
    if word not in (b"yes", b"no"):
        raise InvalidValue("argument must be 'yes' or 'no'")
    return word == b"yes"


def _parse_enum(setting: Setting, raw: bytes) -> str:
    word = _text(raw).lower()
    if word not in setting.choices:
        raise InvalidValue(
            "argument(s) must be one of the following: " + ", ".join(setting.choices))
    return word


def _parse_save(setting: Setting, raw: bytes) -> str:
    fields = raw.split()
    valid = len(fields) % 2 == 0 and all(
        re.fullmatch(rb"-?[0-9]+", f) and int(f) >= (1 if i % 2 == 0 else 0)
        for i, f in enumerate(fields))
    if not valid:
        raise InvalidValue("Invalid save parameters")
    return " ".join(_text(f) for f in fields)


def _parse_events(setting: Setting, raw: bytes) -> frozenset[str]:
    """The enabled classes ('A' expanded); stored as a set, shown as Redis shows it."""
    classes: set[str] = set()
    for char in _text(raw):
        if char == "A":
            classes.update(_ALL_EVENTS)
        elif char in EVENT_CLASSES:
            classes.add(char)
        else:
            raise InvalidValue("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return frozenset(classes)


def _format_events(classes: frozenset[str]) -> str:
    if classes >= set(_ALL_EVENTS):
        head = "A"  # Redis drops 'n' next to 'A' when printing
    else:
        head = "".join(c for c in "g$lshzxetdn" if c in classes)
    return head + "".join(c for c in "KEm" if c in classes)


def _parse_string(setting: Setting, raw: bytes) -> str:
    return _text(raw)


_OBUF_CLASSES = {b"normal": "normal", b"slave": "slave", b"replica": "slave", b"pubsub": "pubsub"}


def _parse_obuf(setting: Setting, raw: bytes) -> dict[str, tuple[int, int, int]]:
    """updateClientOutputBufferLimit: the classes given, each (hard, soft, soft seconds)."""
    words = raw.split()
    if len(words) % 4:
        raise InvalidValue("Wrong number of arguments in buffer limit configuration.")
    limits: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(words), 4):
        kind = _OBUF_CLASSES.get(words[i].lower())
        if kind is None:
            raise InvalidValue("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
        except InvalidValue:
            hard = -1
        seconds = words[i + 3]
        if hard < 0 or not re.fullmatch(rb"[+-]?[0-9]+", seconds) or int(seconds) < 0:
            raise InvalidValue(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[kind] = (hard, soft, int(seconds))
    return limits


def _merge_obuf(current: str, update: dict[str, tuple[int, int, int]]) -> str:
    """The full setting text after a (partial) update, classes in Redis's order."""
    words = current.split()
    limits = {words[i]: tuple(words[i + 1:i + 4]) for i in range(0, len(words), 4)}
    limits.update({kind: tuple(str(n) for n in values) for kind, values in update.items()})
    return " ".join(f"{kind} {' '.join(limits[kind])}" for kind in ("normal", "slave", "pubsub"))


_PARSERS: dict[str, Callable[[Setting, bytes], Any]] = {
    "int": _parse_int, "memory": _parse_memory, "bool": _parse_bool, "enum": _parse_enum,
    "string": _parse_string, "save": _parse_save, "events": _parse_events, "obuf": _parse_obuf,
}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def parse_value(setting: Setting, raw: bytes) -> Any:
    """The stored value for `raw`, or InvalidValue with Redis's reason."""
    value = _PARSERS[setting.kind](setting, raw)
    if setting.only is not None and format_value(setting, value) != setting.only:
        raise InvalidValue(f"flowcache does not persist data; only '{setting.only}' is accepted")
    return value


def format_value(setting: Setting, value: Any) -> str:
    """The value as CONFIG GET shows it."""
    if setting.kind == "bool":
        return "yes" if value else "no"
    if setting.kind == "events":
        return _format_events(value)
    return str(value)


def _default_text(setting: Setting) -> str:
    parse_value(setting, setting.default.encode())  # the default must parse
    return setting.default


def _toml_text(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"yes" if value else b"no"
    if isinstance(value, (int, str)):
        return str(value).encode("utf-8", "surrogateescape")
    raise InvalidValue(f"expected a string, integer or boolean, got {type(value).__name__}")


# -- the live configuration ----------------------------------------------------


class Config:
    """Current setting values, CONFIG GET/SET semantics, and change subscribers."""

    def __init__(self, overrides: dict[str, Any] | None = None, source: str = "",
                 renames: dict[str, str] | None = None) -> None:
        self.source = source  # the file the values came from, for error messages and INFO
        self.renames = dict(renames or {})  # rename-command: OLD -> NEW ("" disables)
        self._command_table: dict[bytes, Any] | None = None
        self._values: dict[str, Any] = {
            s.name: _default_text(s) if s.kind == "obuf" else parse_value(s, s.default.encode())
            for s in SETTINGS}
        self._listeners: dict[str, list[Callable[[Any], None]]] = {}
        # dict.get itself, not a method: the server reads settings on every request.
        self.get = self._values.get  # type: ignore[method-assign]
        for name, value in (overrides or {}).items():
            self.set(name, value)

    @classmethod
    def from_toml(cls, path: str) -> "Config":
        """Load a TOML file whose keys are Redis setting names."""
        with open(path, "rb") as handle:
            try:
                data = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        renames = data.pop("rename-command", {})
        if not isinstance(renames, dict) or not all(
                isinstance(new, str) for new in renames.values()):
            raise ConfigError(f"{path}: [rename-command] maps command names to strings")
        config = cls(data, source=str(path), renames=renames)
        config.command_table  # an unknown or taken name fails at load, as in redis-server
        return config

    @property
    def command_table(self) -> dict[bytes, Any]:
        """The names this server answers to: the declared table with renames applied."""
        table = self._command_table
        if table is None:
            import cache.commands  # noqa: F401  (every command registered)
            from cache.commands.table import COMMANDS, renamed

            if not self.renames:
                table = COMMANDS  # shared, so commands registered later still resolve
            else:
                try:
                    table = renamed(self.renames)
                except ValueError as exc:
                    raise ConfigError(f"{self.source}: rename-command: {exc}") from None
            self._command_table = table
        return table

    def set(self, name: str, value: Any) -> None:
        """Set a value at startup (immutable settings too) from TOML or command-line text."""
        where = f"{self.source}: " if self.source else ""
        setting = BY_NAME.get(name)
        if setting is None:
            raise ConfigError(f"{where}unknown setting '{name}'")
        try:
            self._values[name] = self._merged(setting, parse_value(setting, _toml_text(value)))
        except InvalidValue as exc:
            raise ConfigError(f"{where}bad value {value!r} for '{name}': {exc}") from None

    def _merged(self, setting: Setting, value: Any) -> Any:
        """A partial client-output-buffer-limit updates the classes it names only."""
        if setting.kind == "obuf":
            return _merge_obuf(self._values[setting.name], value)
        return value

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:  # shadowed per instance by dict.get
        return self._values.get(name, default)

    def text(self, name: str) -> str:
        return format_value(BY_NAME[name], self._values[name])

    def on_change(self, name: str, callback: Callable[[Any], None]) -> None:
        """Call `callback(new_value)` after each CONFIG SET that includes `name`."""
        if name not in BY_NAME:
            raise KeyError(name)
        self._listeners.setdefault(name, []).append(callback)

    def matching(self, patterns: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
        """CONFIG GET: (name, value) pairs; exact names echo as given, no duplicates."""
        found: dict[str, bytes] = {}
        for pattern in patterns:
            lowered = _text(pattern).lower()
            if not re.search(r"[\[*?]", lowered):
                if lowered in BY_NAME and lowered not in found:
                    found[lowered] = pattern
                continue
            for setting in SETTINGS:
                name = setting.name.encode()
                if setting.name not in found and stringmatch(pattern, name, nocase=True):
                    found[setting.name] = name
        return [(shown, self.text(name).encode("utf-8", "surrogateescape"))
                for name, shown in found.items()]

    def runtime_set(self, argv_pairs: list[tuple[bytes, bytes]]) -> bytes | None:
        """CONFIG SET: validate every pair, then commit all or none.

        Returns None on success or Redis's error reply for the first problem.
        """
        chosen: list[tuple[Setting, bytes]] = []
        unknown: bytes | None = None
        refused: tuple[bytes, str] | None = None
        for name, raw in argv_pairs:
            if unknown is not None or refused is not None:
                break  # Redis reports the first problem only
            setting = BY_NAME.get(_text(name).lower())
            if setting is None:
                unknown = name
                continue
            if not setting.mutable:
                refused = (name, "can't set immutable config")
            elif any(s is setting for s, _ in chosen):
                refused = (name, "duplicate parameter")
            chosen.append((setting, raw))
        if unknown is not None:
            return errors.config_set_unknown(unknown)
        if refused is not None:
            return errors.config_set_failed(*refused)
        parsed = []
        for setting, raw in chosen:
            try:
                parsed.append((setting, parse_value(setting, raw)))
            except InvalidValue as exc:
                return errors.config_set_failed(setting.name.encode(), str(exc))
        parsed = [(setting, self._merged(setting, value)) for setting, value in parsed]
        for setting, value in parsed:
            self._values[setting.name] = value
        for setting, value in parsed:
            for callback in self._listeners.get(setting.name, ()):
                callback(value)
        return None



# -- CONFIG REWRITE ------------------------------------------------------------

_TOP_LEVEL_KEY = re.compile(r'\s*"?([A-Za-z0-9_-]+)"?\s*=')
_TABLE_HEADER = re.compile(r"\s*\[")
REWRITE_MARK = "# Generated by CONFIG REWRITE"


def _toml_literal(setting: Setting, value: Any) -> str:
    if setting.kind in ("int", "memory"):
        return str(value)
    return json.dumps(format_value(setting, value), ensure_ascii=False)


def rewritten_toml(config: Config, old_text: str) -> str:
    """redis.conf's rewriteConfig for TOML: settings already in the file are updated in
    place (comments and tables kept); other non-default ones are appended before the
    first table, after a "# Generated by CONFIG REWRITE" line."""
    lines = old_text.splitlines()
    seen: set[str] = set()
    first_table = len(lines)
    for number, line in enumerate(lines):
        if _TABLE_HEADER.match(line):
            first_table = number
            break
        match = _TOP_LEVEL_KEY.match(line)
        if match and match.group(1) in BY_NAME:
            setting = BY_NAME[match.group(1)]
            seen.add(setting.name)
            lines[number] = f"{setting.name} = {_toml_literal(setting, config[setting.name])}"
    added = [f"{s.name} = {_toml_literal(s, config[s.name])}" for s in SETTINGS
             if s.name not in seen and config.text(s.name) != _default_shown(s)]
    if added:
        head, tail = lines[:first_table], lines[first_table:]
        while head and not head[-1].strip():
            head.pop()
        block = ([""] if head else []) + ([] if REWRITE_MARK in lines else [REWRITE_MARK])
        lines = head + block + added + ([""] + tail if tail else [])
    return "\n".join(lines) + "\n"


def _default_shown(setting: Setting) -> str:
    if setting.kind == "obuf":
        return setting.default
    return format_value(setting, parse_value(setting, setting.default.encode()))


def rewrite_file(config: Config) -> None:
    """CONFIG REWRITE's one file write: replace the file atomically, as Redis does."""
    try:
        with open(config.source, encoding="utf-8", errors="surrogateescape") as handle:
            old_text = handle.read()
    except FileNotFoundError:
        old_text = ""  # Redis writes a fresh file when the old one is gone
    text = rewritten_toml(config, old_text)
    temporary = f"{config.source}.rewrite-tmp"
    with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)
    os.replace(temporary, config.source)
