"""MONITOR: clients that see every command the server runs, as Redis 7.0 shows them.

Each executed command reaches every monitor as one status line

    +1700000000.123456 [0 127.0.0.1:5000] "SET" "k" "v"

(the time the command finished, the database it ended in, the sender's
address, each argument quoted by Redis's sdscatrepr), in RESP2 and RESP3
alike. Redis 7.0 feeds monitors from call(), after the command ran, so:
commands EXEC runs are shown, then EXEC; a command that blocks is shown
when it blocks; secrets are "(redacted)" (`cache.slowlog.redact`); commands
flagged admin (CONFIG SET, CLIENT LIST, SLOWLOG GET...) or skip_monitor are
never shown; commands refused before running (unknown, arity, NOAUTH,
queued in MULTI) are not shown. A monitor sees its own commands too, after
their replies.

A monitoring client is a replica to Redis: commands that read or write keys
are refused (`refusal`), others (PING, CLIENT ID, SUBSCRIBE...) run. RESET
or disconnection ends monitoring.

The dispatcher reaches this module through
`cache.commands.diagnostics.watched` (which calls `feed` while anyone
monitors) and `cache.dispatch.execute` (which calls `refusal` for a monitoring client).
"""

from __future__ import annotations

from typing import Any

from cache import errors
from cache.reply import Status
from cache.slowlog import redact
from cache.state import RESET_HOOKS

_ESCAPES = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
            ord("\t"): b"\\t", ord("\a"): b"\\a", ord("\b"): b"\\b"}
_REPR = [_ESCAPES.get(c, bytes([c]) if 0x20 <= c < 0x7f else b"\\x%02x" % c) for c in range(256)]
_PLAIN = bytes(c for c in range(0x20, 0x7f) if c not in _ESCAPES)


def monitors_of(state: Any) -> dict[int, Any]:
    """The server's monitors by client id, in the order they started (created on first use)."""
    monitors = state.__dict__.get("monitors")
    if monitors is None:
        monitors = state.monitors = {}
    return monitors


def start(client: Any) -> None:
    """Make `client` a monitor (the MONITOR command's effect)."""
    monitors_of(client.server)[client.id] = client
    client.monitoring = True
    client.server.watch_us = 0  # the dispatcher now shows every call to diagnostics.watched


def forget_client(client: Any) -> None:
    """Stop monitoring for `client` (RESET, disconnection). Idempotent."""
    monitors = client.server.__dict__.get("monitors")
    if monitors:
        monitors.pop(client.id, None)
    client.monitoring = False


def refusal(client: Any, spec: Any) -> bytes | None:
    """The error for a monitor running a command that touches keys (Redis: a replica may not)."""
    if not client.monitoring:
        return None
    flags = spec.flags
    if spec.is_write or "readonly" in flags or "may_replicate" in flags:
        return errors.REPLICA_KEYSPACE
    return None


def sdscatrepr(arg: bytes) -> bytes:
    """An argument quoted as Redis's sdscatrepr quotes it."""
    if not arg.translate(None, _PLAIN):
        return b'"' + arg + b'"'
    table = _REPR
    return b'"' + b"".join([table[c] for c in arg]) + b'"'


def format_line(now_us: int, db_index: int, addr: str, argv: list[bytes]) -> Status:
    seconds, micros = divmod(now_us, 1_000_000)
    head = b"%d.%06d [%d %s] " % (seconds, micros, db_index, addr.encode())
    return Status(head + b" ".join([sdscatrepr(arg) for arg in argv]))


def feed(client: Any, spec: Any, argv: list[bytes]) -> None:
    """Show a command that just ran to every monitor (replicationFeedMonitors)."""
    state = client.server
    monitors = state.__dict__.get("monitors")
    if not monitors:
        return
    flags = spec.flags
    if "admin" in flags or "skip_monitor" in flags:
        return
    line = format_line(state.now_us, client.db_index, client.addr, redact(argv))
    clients = state.clients
    for monitor in list(monitors.values()):
        if clients.get(monitor.id) is not monitor:  # its connection closed
            monitors.pop(monitor.id, None)
        elif monitor is client and client.executing:
            # Its own command: the reply is not written yet, and Redis sends it first.
            state.loop.call_soon(_send_later, (monitor, line))
        elif not monitor.close_after_reply:
            monitor.send_push(line)


def _send_later(pending: tuple[Any, Status]) -> None:
    monitor, line = pending
    if monitor.monitoring and not monitor.close_after_reply:
        monitor.send_push(line)


RESET_HOOKS.append(forget_client)
