"""The slow log: commands that ran longer than `slowlog-log-slower-than` microseconds.

Redis 7.0's rules, checked against redis-server:
- an entry is [id, unix time, duration us, argv, client address, client name],
  newest first; ids keep counting across SLOWLOG RESET;
- argv keeps at most 32 arguments (the last one becomes "... (N more
  arguments)") and 128 bytes of each ("... (N more bytes)");
- secrets never reach the log: `redact` replaces what AUTH, HELLO AUTH and
  CONFIG SET of a sensitive setting carry with "(redacted)" (MONITOR uses it too);
- the log is trimmed to `slowlog-max-len` after every command while logging
  is on (-1 turns it off, 0 logs everything);
- commands flagged skip_slowlog (EXEC) are not logged, the commands EXEC ran
  are; a command that blocked is logged when a key serves it, with the time
  it ran (not the time it waited), and not at all when it times out.

Entry point: `record(client, spec, argv, duration_us)`, after a command ran;
the dispatcher reaches it through `cache.commands.diagnostics.watched`,
the code that serves blocked clients calls it directly.
"""

from __future__ import annotations

from collections import deque
from typing import Any

MAX_ARGC = 32  # SLOWLOG_ENTRY_MAX_ARGC
MAX_STRING = 128  # SLOWLOG_ENTRY_MAX_STRING
REDACTED = b"(redacted)"

# Settings whose CONFIG SET value Redis 7.0 hides (its SENSITIVE_CONFIG flag).
SENSITIVE_SETTINGS = frozenset((b"requirepass", b"masterauth", b"masteruser",
                                b"tls-key-file-pass", b"tls-client-key-file-pass"))


class SlowLog:
    """One server's log, with its settings cached (updated by CONFIG SET)."""

    __slots__ = ("entries", "next_id", "slower_than", "max_len")

    def __init__(self, config: Any) -> None:
        self.entries: deque[list[Any]] = deque()  # newest first
        self.next_id = 0
        self.slower_than = config.get("slowlog-log-slower-than", 10000)
        self.max_len = config.get("slowlog-max-len", 128)
        config.on_change("slowlog-log-slower-than", self._set_slower_than)
        config.on_change("slowlog-max-len", self._set_max_len)

    def _set_slower_than(self, value: int) -> None:
        self.slower_than = value

    def _set_max_len(self, value: int) -> None:
        self.max_len = value

    def push_if_needed(self, client: Any, argv: list[bytes], duration_us: int) -> None:
        """Redis's slowlogPushEntryIfNeeded: log when slow enough, then trim (`record`
        has already dropped the call when the log is off)."""
        entries = self.entries
        if duration_us >= self.slower_than:
            entries.appendleft([
                self.next_id, int(client.server.loop.wall_time()), duration_us,
                loggable_argv(redact(argv)), client.addr.encode(), bytes(client.name),
            ])
            self.next_id += 1
        while len(entries) > self.max_len:
            entries.pop()


def slowlog_of(state: Any) -> SlowLog:
    """The server's slow log, created on first use."""
    log = state.__dict__.get("slowlog")
    if log is None:
        log = state.slowlog = SlowLog(state.config)
    return log


def record(client: Any, spec: Any, argv: list[bytes], duration_us: int) -> None:
    """Log a command that just ran, if it was slow enough. Cheap when it was not."""
    log = slowlog_of(client.server)
    if log.slower_than < 0 or (duration_us < log.slower_than and len(log.entries) <= log.max_len):
        return
    if "skip_slowlog" in spec.flags:
        return
    log.push_if_needed(client, argv, duration_us)


def loggable_argv(argv: list[bytes]) -> list[bytes]:
    """argv cut to 32 arguments and 128 bytes per argument, saying how much was left out."""
    argc = len(argv)
    kept = min(argc, MAX_ARGC)
    out = []
    for j in range(kept):
        if kept != argc and j == kept - 1:
            out.append(b"... (%d more arguments)" % (argc - kept + 1))
            break
        arg = argv[j]
        if len(arg) > MAX_STRING:
            arg = arg[:MAX_STRING] + b"... (%d more bytes)" % (len(arg) - MAX_STRING)
        out.append(bytes(arg))
    return out


def redact(argv: list[bytes]) -> list[bytes]:
    """argv as Redis shows it to the slow log and MONITOR, its secrets replaced.

    Redis redacts inside the handlers, as far as each one gets before an
    error: AUTH with at most 2 arguments; each `AUTH user pass` of HELLO
    met before a syntax error (after a valid protocol version); the value
    of every sensitive setting of a CONFIG SET with whole pairs.
    """
    name = argv[0].lower()
    if name == b"auth":
        if len(argv) <= 3:
            return [argv[0]] + [REDACTED] * (len(argv) - 1)
    elif name == b"hello":
        return _redact_hello(argv)
    elif name == b"config" and len(argv) >= 4 and len(argv) % 2 == 0 and argv[1].lower() == b"set":
        hidden = [i + 1 for i in range(2, len(argv), 2) if argv[i].lower() in SENSITIVE_SETTINGS]
        if hidden:
            argv = list(argv)
            for i in hidden:
                argv[i] = REDACTED
    return argv


def _redact_hello(argv: list[bytes]) -> list[bytes]:
    if len(argv) < 2:
        return argv
    version = argv[1]
    if version not in (b"2", b"3"):  # "02", "+3"... are refused too (string2ll)
        return argv
    out = list(argv)
    j = 2
    while j < len(argv):
        more = len(argv) - 1 - j
        option = argv[j].lower()
        if option == b"auth" and more >= 2:
            out[j + 1] = out[j + 2] = REDACTED
            j += 3
        elif option == b"setname" and more >= 1:
            j += 2
        else:
            break
    return out
