"""Server-wide and per-client state shared by command handlers.

`ServerState` is the whole cache: databases, configuration, statistics and
connected clients. It takes time and randomness from the flow loop it was
created on (never from `time` or `random`), so the same code replays
exactly in simulation. `Client` is what a handler receives as its first
argument.

Lifecycle contract with the connection code: creating a `Client` registers
it in `server.clients` (CLIENT LIST/KILL see it); the connection actor's
`cache.server._forget_client` drops it, with its waits, WATCHes and
subscriptions, when its connection closes. CLIENT KILL
calls `client.kill()`, which marks it `close_after_reply` and calls its
`on_kill` hook (set by the connection actor) so an idle connection closes too.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import flow
from cache.config import Config
from cache.resp import encode_into

FLOWCACHE_VERSION = "0.1.0"
REDIS_VERSION = "7.0.15"


class Stats:
    """Counters reported by INFO (stats section), reset by CONFIG RESETSTAT."""

    COUNTERS = (
        "total_connections_received", "rejected_connections",
        "expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses",
        "total_net_input_bytes", "total_net_output_bytes", "total_error_replies",
        "expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds",
    )
    __slots__ = COUNTERS + ("errorstats", "commandstats", "error_mark", "routes", "command_routes")

    def __init__(self) -> None:
        self.errorstats: dict[bytes, int] = {}  # error code (ERR, WRONGTYPE...) -> count
        # full command name -> [calls, usec, rejected_calls, failed_calls]
        self.commandstats: dict[str, list[int]] = {}
        self.error_mark = 0  # total_error_replies when the running command started
        # cache.dispatch.Route by command name as sent, and by full name: they hold
        # the commandstats entries, so a reset zeroes those in place.
        self.routes: dict[bytes, Any] = {}
        self.command_routes: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        for name in self.COUNTERS:
            setattr(self, name, 0)
        self.errorstats.clear()
        for counts in self.commandstats.values():  # INFO shows only those not all zero
            counts[:] = (0, 0, 0, 0)
        self.error_mark = 0

    @property
    def total_commands_processed(self) -> int:
        """Every call counts once in its command's `calls` (blocked ones when they are made)."""
        return sum(counts[0] for counts in self.commandstats.values())

    def record_error(self, message: bytes) -> None:
        """Count an error reply under its code, as INFO errorstats shows it.

        The code is the first word when a space comes within Redis's 32-byte
        search (counting the '-'), else ERR. Redis keeps codes in a radix
        tree, so INFO lists them sorted: the dict is kept sorted too.
        """
        self.total_error_replies += 1
        space = message.find(b" ", 0, 31)
        code = message[:space] if space >= 0 else b"ERR"
        errorstats = self.errorstats
        count = errorstats.get(code)
        if count is not None:
            errorstats[code] = count + 1
            return
        errorstats[code] = 1
        ordered = sorted(errorstats.items())
        errorstats.clear()
        errorstats.update(ordered)

    def command_failed(self, name: str) -> None:
        """A command's error reply came later (a blocked command unblocked with an error)."""
        entry = self.commandstats.get(name)
        if entry is None:
            entry = self.commandstats[name] = [0, 0, 0, 0]
        entry[3] += 1


def _wall_times_of(ms: int) -> tuple[float, float]:
    """[start, end): wall times t, in seconds, that all have int(t * 1000) == ms.

    ms / 1000 and (ms + 1) / 1000 are rounded, so each end is stepped inwards
    by a float until it holds (t * 1000 is monotonic in t)."""
    start = ms / 1000
    while int(start * 1000) < ms:
        start = math.nextafter(start, math.inf)
    end = (ms + 1) / 1000
    while int(math.nextafter(end, -math.inf) * 1000) > ms:
        end = math.nextafter(end, -math.inf)
    return start, end


class ServerState:
    """Everything the command handlers of one server share."""

    def __init__(self, config: Config | None = None, loop: Any = None) -> None:
        from cache.eviction import memory_state
        from cache.keyspace import Database  # local: keyspace imports state for typing only

        self.loop = loop if loop is not None else flow.current_loop()
        self.wall_time = self.loop.wall_time  # bound once: read twice per command
        self.config = config if config is not None else Config()
        self.commands = self.config.command_table  # names with rename-command applied
        self.random = self.loop.random
        self.stats = Stats()
        self.now_ms = 0  # refreshed before every command by `refresh_clock`
        self.lru_clock = 0  # seconds, shared int object for every key touched this second
        self.ms_from = self.ms_until = 0.0  # the wall times that are now_ms (refresh_clock)
        self.refresh_clock()
        self.start_time_ms = self.now_ms
        self.run_id = "%040x" % self.random.getrandbits(160)
        self.dbs = [Database(self, index) for index in range(self.config["databases"])]
        self.memory = memory_state(self)  # used memory and maxmemory, kept by the keyspace
        self.clients: dict[int, Client] = {}
        self.next_client_id = 1
        self.tcp_port = self.config["port"]  # the port actually bound, set by the listener
        self.process_id = 0  # set by the process entry point (INFO process_id)
        self.dirty = 0  # changes since start (INFO rdb_changes_since_last_save)
        # Calls at least this long (us) go to diagnostics.watched; 0 has the next call
        # go there, which recomputes it (cache.dispatch).
        self.watch_us = 0
        self.routes = self.stats.routes  # cache.dispatch.Route by command name as sent
        self.notify_flags = -1  # keyspace notification classes on (cache.notify; -1: not read yet)
        # (db index, key) -> {client id: cache.blocking.Blocked}, oldest waiter first
        self.blocked_on: dict[tuple[int, bytes], dict[int, Any]] = {}
        # keys written since the last dispatch that someone blocks on (an ordered set)
        self.ready_keys: dict[tuple[int, bytes], None] = {}
        # (db index, key) -> {client id: cache.commands.transactions.Watch}
        self.watched_keys: dict[tuple[int, bytes], dict[int, Any]] = {}

    def refresh_clock(self, wall_time: float | None = None) -> None:
        """Cache the loop's wall clock once per command, as Redis caches mstime.

        `ms_from` and `ms_until` bound the wall times (in seconds) that fall in
        `now_ms`, so the batched path refreshes only when a millisecond passes."""
        now = self.loop.wall_time() if wall_time is None else wall_time
        ms = int(now * 1000)
        self.now_ms = ms
        if not self.ms_from <= now < self.ms_until:  # another millisecond: its exact bounds
            self.ms_from, self.ms_until = _wall_times_of(ms)
        seconds = ms // 1000
        if seconds != self.lru_clock:
            self.lru_clock = seconds

    @property
    def now_us(self) -> int:
        """The loop's wall clock in microseconds, read now (TIME, INFO server_time_usec)."""
        return int(self.loop.wall_time() * 1_000_000)

    def remove_client(self, client: "Client") -> None:
        """Forget a client whose connection has closed."""
        self.clients.pop(client.id, None)


# Called with the client on RESET, so other modules can drop their per-client
# state (MULTI queue, WATCHed keys, subscriptions) without this module knowing it.
RESET_HOOKS: list[Callable[["Client"], None]] = []


class Client:
    """One connected client: its protocol, selected database, name and flags.

    The counters shown by CLIENT LIST (`sub`, `psub`, `ssub`, `multi`) and the
    flags (`blocked`, `dirty_cas`, `no_evict`) are kept up to date by the
    modules that own those features.
    """

    def __init__(self, server: ServerState, addr: str = "", laddr: str = "", fd: int = -1) -> None:
        self.server = server
        self.id = server.next_client_id
        server.next_client_id += 1
        self.addr = addr
        self.laddr = laddr
        self.fd = fd
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.proto = 2
        self.db_index = 0
        self.db = server.dbs[0]
        self.created_ms = server.now_ms
        self.last_interaction_ms = server.now_ms
        self.last_command = "NULL"  # full name of the last command run, as CLIENT LIST shows
        self.close_after_reply = False  # QUIT, protocol errors, CLIENT KILL
        self.authenticated = not server.config["requirepass"]
        self.on_kill: Callable[[], None] | None = None  # set by the connection actor
        self.on_idle_timeout: Callable[[], None] | None = None  # closes it cleanly (the cron's `timeout`)
        self.soft_limit_since_s: int | None = None  # when its output went over the soft limit
        self.sub = 0  # channels subscribed
        self.psub = 0  # patterns subscribed
        self.ssub = 0  # shard channels subscribed
        self.multi = -1  # commands queued in MULTI, -1 outside a transaction
        self.blocked = False
        self.waiting: Any = None  # the cache.blocking.Blocked while `blocked`
        self.dirty_cas = False  # a WATCHed key changed: EXEC will fail
        self.dirty_exec = False  # a command was refused while queueing: EXEC will fail
        self.queued: list[tuple[Any, list[bytes]]] = []  # MULTI: (spec, argv) to run at EXEC
        self.queued_denyoom = False  # MULTI: a queued command is flagged denyoom
        self.watching: dict[tuple[int, bytes], Any] = {}  # WATCHed (db index, key) -> Watch
        self.reply_mode = 0  # CLIENT REPLY (cache.commands.clients.REPLY_*), read by the connection
        self.no_evict = False
        self.monitoring = False  # a MONITOR client (cache.monitor keeps it)
        # Output: replies of the batch being executed, written by the connection in one
        # write; `send_push` appends to it too, so pushes keep their order with replies.
        self.batch: list[bytes] = []
        self.executing = False  # the connection is running this client's batch
        self.writer: Callable[[bytes], None] | None = None  # the connection's write
        self.output_pending: Callable[[], int] | None = None  # the connection's queued bytes
        self.pushes: list[Any] = []  # pushes to a client without a connection (tests)
        server.clients[self.id] = self

    def send_push(self, value: Any) -> None:
        """Send an out-of-band reply (pub/sub message) now, in order with the command replies.

        While this client's own batch runs the push joins the batch (it is
        written with the replies around it); otherwise it is written at once.
        A client without a connection (harness tests) keeps it in `pushes`.
        """
        writer = self.writer
        if writer is None:
            self.pushes.append(value)
            return
        batch = self.batch
        encode_into(batch, value, self.proto)
        if not self.executing:
            payload = b"".join(batch)
            batch.clear()
            self.server.stats.total_net_output_bytes += len(payload)
            writer(payload)

    def pending_output(self) -> int:
        """Bytes written to this client and not yet sent (output buffer limits)."""
        queued = self.output_pending() if self.output_pending is not None else 0
        return queued + sum(map(len, self.batch))

    def select(self, index: int) -> None:
        self.db_index = index
        self.db = self.server.dbs[index]

    def kill(self) -> None:
        """Close this client's connection after its pending replies (CLIENT KILL)."""
        self.close_after_reply = True
        hook = self.on_kill
        if hook is not None:
            hook()

    def reset(self) -> None:
        """RESET: back to a fresh connection's state (the id and address stay)."""
        self.select(0)
        self.proto = 2
        self.name = b""
        self.no_evict = False
        self.reply_mode = 0
        self.authenticated = not self.server.config["requirepass"]
        for hook in RESET_HOOKS:
            hook(self)
