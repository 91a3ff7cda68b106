"""Server-wide and per-client state shared by command handlers.

`ServerState` is the whole cache: databases, configuration, statistics and
connected clients. It takes time and randomness from the flow loop it was
created on (never from `time` or `random`), so the same code replays
exactly in simulation. `Client` is what a handler receives as its first
argument.

Lifecycle contract with the connection code: creating a `Client` registers
it in `server.clients` (CLIENT LIST/KILL see it); call
`server.remove_client(client)` when its connection closes. CLIENT KILL
calls `client.kill()`, which marks it `close_after_reply` and calls its
`on_kill` hook (set by the connection actor) so an idle connection closes too.
"""

from __future__ import annotations

from typing import Any, Callable

import flow
from cache.config import Config

FLOWCACHE_VERSION = "0.1.0"
REDIS_VERSION = "7.0.15"


class Stats:
    """Counters reported by INFO (stats section), reset by CONFIG RESETSTAT."""

    COUNTERS = (
        "total_connections_received", "total_commands_processed", "rejected_connections",
        "expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses",
        "total_net_input_bytes", "total_net_output_bytes", "total_error_replies",
        "expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds",
    )
    __slots__ = COUNTERS + ("errorstats", "commandstats")

    def __init__(self) -> None:
        self.errorstats: dict[bytes, int] = {}  # error code (ERR, WRONGTYPE...) -> count
        # full command name -> [calls, usec, rejected_calls, failed_calls]
        self.commandstats: dict[str, list[int]] = {}
        self.reset()

    def reset(self) -> None:
        for name in self.COUNTERS:
            setattr(self, name, 0)
        self.errorstats.clear()
        self.commandstats.clear()

    def record_error(self, message: bytes) -> None:
        """Count an error reply under its code, as INFO errorstats shows it."""
        self.total_error_replies += 1
        code = message.split(b" ", 1)[0]
        self.errorstats[code] = self.errorstats.get(code, 0) + 1


class ServerState:
    """Everything the command handlers of one server share."""

    def __init__(self, config: Config | None = None, loop: Any = None) -> None:
        from cache.keyspace import Database  # local: keyspace imports state for typing only

        self.loop = loop if loop is not None else flow.current_loop()
        self.config = config if config is not None else Config()
        self.random = self.loop.random
        self.stats = Stats()
        self.now_ms = 0  # refreshed before every command by `refresh_clock`
        self.lru_clock = 0  # seconds, shared int object for every key touched this second
        self.refresh_clock()
        self.start_time_ms = self.now_ms
        self.run_id = "%040x" % self.random.getrandbits(160)
        self.dbs = [Database(self, index) for index in range(self.config["databases"])]
        self.clients: dict[int, Client] = {}
        self.next_client_id = 1
        self.tcp_port = self.config["port"]  # the port actually bound, set by the listener
        self.process_id = 0  # set by the process entry point (INFO process_id)
        self.dirty = 0  # changes since start (INFO rdb_changes_since_last_save)
        self.used_memory_peak = 0  # highest estimate INFO has reported

    def refresh_clock(self) -> None:
        """Cache the loop's wall clock once per command, as Redis caches mstime."""
        ms = int(self.loop.wall_time() * 1000)
        self.now_ms = ms
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
        self.last_command = b"NULL"  # full name of the last command run, as CLIENT LIST shows
        self.close_after_reply = False  # QUIT, protocol errors, CLIENT KILL
        self.authenticated = not server.config["requirepass"]
        self.on_kill: Callable[[], None] | None = None  # set by the connection actor
        self.sub = 0  # channels subscribed
        self.psub = 0  # patterns subscribed
        self.ssub = 0  # shard channels subscribed
        self.multi = -1  # commands queued in MULTI, -1 outside a transaction
        self.blocked = False
        self.dirty_cas = False
        self.no_evict = False
        server.clients[self.id] = self

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
        self.authenticated = not self.server.config["requirepass"]
        for hook in RESET_HOOKS:
            hook(self)
