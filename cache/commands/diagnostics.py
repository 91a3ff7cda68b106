"""The operator's view: SLOWLOG, LATENCY and MONITOR (state in cache.slowlog,
cache.latency and cache.monitor; importing this also turns on keyspace
notifications for expired and evicted keys, through cache.notify).

The dispatcher reports calls here, as Redis's call() does after running a
command (only those that can matter, see `rearm`):

    watched(client, spec, argv, duration_us, blocked)  # after a handler ran
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from cache import errors, latency, monitor, notify, slowlog  # noqa: F401  (notify: its hooks)
from cache.commands.clients import REPLY_ON, REPLY_SKIP
from cache.commands.introspection import all_specs, help_reply
from cache.commands.table import COMMANDS, CommandSpec, command, container
from cache.errors import CommandError
from cache.reply import OK, Map, Status, Verbatim
from cache.resp import string2ll

_LONG_MAX = 2**63 - 1


def watched(client: Any, spec: CommandSpec, argv: list[bytes], duration_us: int,
            blocked: bool = False) -> None:
    """Latency sample, slow log, MONITOR feed, in Redis 7.0's call() order.

    The dispatcher calls this only for a call that ran at least
    `state.watch_us` (and for every call that blocked), having counted its
    histogram itself; then `watch_us` is recomputed. A call that blocked
    enters the slow log and its histogram when a key serves it
    (`cache.slowlog.record` and `cache.latency.record_unblocked` then).
    """
    state = client.server
    latency.record(state, "fast-command" if "fast" in spec.flags else "command", duration_us // 1000)
    if not blocked:
        slowlog.record(client, spec, argv, duration_us)
    if state.__dict__.get("monitors"):
        monitor.feed(client, spec, argv)
    rearm(state)


_WATCH_SETTINGS = ("slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold")
_NEVER_US = 1 << 62


def rearm(state: Any) -> None:
    """Set `state.watch_us`: the least run time for which `watched` has anything to do.

    Anything that lowers it (a CONFIG SET of the settings above, MONITOR)
    sets it to 0 instead, which sends the next call here.
    """
    if "watch_listening" not in state.__dict__:
        state.watch_listening = True

        def recheck(_value: Any) -> None:
            state.watch_us = 0

        for name in _WATCH_SETTINGS:
            state.config.on_change(name, recheck)
    log = slowlog.slowlog_of(state)
    bound = _NEVER_US
    if state.__dict__.get("monitors"):
        bound = 0
    if log.slower_than >= 0:
        bound = min(bound, log.slower_than if len(log.entries) <= log.max_len else 0)
    threshold = latency.monitor_of(state).threshold
    if threshold:
        bound = min(bound, threshold * 1000)
    state.watch_us = bound


_ADMIN = "admin loading stale"
_LATENCY_ADMIN = "admin noscript loading stale"
_LATENCY_TIPS = "nondeterministic_output request_policy:all_nodes response_policy:special"

# -- SLOWLOG ------------------------------------------------------------------------

container("SLOWLOG", group="server", since="2.2.12", summary="A container for slow log commands",
          complexity="Depends on subcommand.")


@command("SLOWLOG GET", -2, _ADMIN, group="server", since="2.2.12",
         summary="Get the slow log's entries", args="[count:integer]",
         complexity="O(N) where N is the number of entries returned",
         tips="request_policy:all_nodes nondeterministic_output")
def slowlog_get(client: Any, argv: list[bytes]) -> list[list[Any]]:
    if len(argv) > 3:
        raise CommandError(errors.subcommand_syntax(argv[1], argv[0]))
    log = slowlog.slowlog_of(client.server)
    count = 10
    if len(argv) == 3:
        count = string2ll(argv[2])
        if count is None or not -1 <= count <= _LONG_MAX:
            raise CommandError(errors.SLOWLOG_COUNT)
        if count == -1:
            count = len(log.entries)
    return [list(entry) for entry in islice(log.entries, count)]


@command("SLOWLOG LEN", 2, _ADMIN, group="server", since="2.2.12",
         summary="Get the slow log's length", complexity="O(1)",
         tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output")
def slowlog_len(client: Any, argv: list[bytes]) -> int:
    return len(slowlog.slowlog_of(client.server).entries)


@command("SLOWLOG RESET", 2, _ADMIN, group="server", since="2.2.12",
         summary="Clear all entries from the slow log",
         complexity="O(N) where N is the number of entries in the slowlog",
         tips="request_policy:all_nodes response_policy:all_succeeded")
def slowlog_reset(client: Any, argv: list[bytes]) -> Status:
    slowlog.slowlog_of(client.server).entries.clear()
    return OK


@command("SLOWLOG HELP", 2, "loading stale", group="server", since="6.2.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def slowlog_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply("SLOWLOG", [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ])


# -- LATENCY ------------------------------------------------------------------------

container("LATENCY", group="server", since="2.8.13",
          summary="A container for latency diagnostics commands",
          complexity="Depends on subcommand.")


def _event_name(raw: bytes) -> str:
    """Redis keeps event names as C strings: a name ends at its first NUL."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


@command("LATENCY LATEST", 2, _LATENCY_ADMIN, group="server", since="2.8.13",
         summary="Return the latest latency samples for all events.", complexity="O(1)",
         tips=_LATENCY_TIPS)
def latency_latest(client: Any, argv: list[bytes]) -> list[list[Any]]:
    events = latency.monitor_of(client.server).events
    return [[name.encode("utf-8", "surrogateescape"), *series.latest(), series.max]
            for name, series in events.items()]


@command("LATENCY HISTORY", 3, _LATENCY_ADMIN, group="server", since="2.8.13",
         summary="Return timestamp-latency samples for the event.", complexity="O(1)",
         args="event", tips=_LATENCY_TIPS)
def latency_history(client: Any, argv: list[bytes]) -> list[list[int]]:
    series = latency.monitor_of(client.server).events.get(_event_name(argv[2]))
    return [] if series is None else [[when, ms] for when, ms in series.samples()]


@command("LATENCY GRAPH", 3, _LATENCY_ADMIN, group="server", since="2.8.13",
         summary="Return a latency graph for the event.", complexity="O(1)", args="event",
         tips=_LATENCY_TIPS)
def latency_graph(client: Any, argv: list[bytes]) -> Verbatim:
    name = _event_name(argv[2])
    series = latency.monitor_of(client.server).events.get(name)
    if series is None:
        raise CommandError(errors.latency_no_samples(argv[2]))
    return Verbatim(latency.graph(name, series, client.server.now_ms // 1000))


@command("LATENCY DOCTOR", 2, _LATENCY_ADMIN, group="server", since="2.8.13",
         summary="Return a human readable latency analysis report.", complexity="O(1)",
         tips=_LATENCY_TIPS)
def latency_doctor(client: Any, argv: list[bytes]) -> Verbatim:
    return Verbatim(latency.doctor(client.server))


@command("LATENCY RESET", -2, _LATENCY_ADMIN, group="server", since="2.8.13",
         summary="Reset latency data for one or more events.", complexity="O(1)",
         args="[event...]", tips="request_policy:all_nodes response_policy:all_succeeded")
def latency_reset(client: Any, argv: list[bytes]) -> int:
    monitor_ = latency.monitor_of(client.server)
    if len(argv) == 2:
        return monitor_.reset(None)
    return sum(monitor_.reset(_event_name(raw)) for raw in argv[2:])


@command("LATENCY HISTOGRAM", -2, _LATENCY_ADMIN, group="server", since="7.0.0",
         summary="Return the cumulative distribution of latencies of a subset of commands or "
                 "all.",
         complexity="O(N) where N is the number of commands with latency information being "
                    "retrieved.", args="[command...]", tips=_LATENCY_TIPS)
def latency_histogram(client: Any, argv: list[bytes]) -> Map:
    histograms = {name: histogram for name, histogram in
                  latency.monitor_of(client.server).histograms.items() if histogram.total}
    if len(argv) == 2:
        names = [spec.name for spec in all_specs() if spec.name in histograms]
    else:
        names = []
        for raw in argv[2:]:
            spec = _spec_named(raw)
            if spec is not None:
                names += [s.name for s in (spec, *(spec.subcommands or {}).values())
                          if s.name in histograms]
    return Map([(name.encode(), latency.histogram_reply(histograms[name])) for name in names])


def _spec_named(raw: bytes) -> CommandSpec | None:
    """Redis's lookupCommandBySds: "get" or "config|get", any case."""
    words = raw.lower().split(b"|")
    spec = COMMANDS.get(words[0])
    if spec is None or len(words) == 1:
        return spec
    if len(words) > 2 or spec.subcommands is None:
        return None
    return spec.subcommands.get(words[1])


@command("LATENCY HELP", 2, "loading stale", group="server", since="2.8.13",
         summary="Show helpful text about the different subcommands.", complexity="O(1)")
def latency_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply("LATENCY", [
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for "
        "the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ])


# -- MONITOR ------------------------------------------------------------------------


@command("MONITOR", 1, "admin noscript loading stale", group="server", since="1.0.0",
         summary="Listen for all requests received by the server in real time")
def monitor_(client: Any, argv: list[bytes]) -> Status:
    if client.multi >= 0:  # Redis's CLIENT_DENY_BLOCKING: inside EXEC
        raise CommandError(errors.MONITOR_DENY_BLOCKING)
    if client.monitoring:
        # Redis ignores it without a reply: have the connection drop this one.
        if client.reply_mode == REPLY_ON:
            client.reply_mode = REPLY_SKIP
        return OK
    monitor.start(client)
    return OK
