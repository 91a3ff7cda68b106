"""Server-wide and per-client state shared by command handlers.

`ServerState` is the whole cache: databases, configuration, statistics and
connected clients. It takes time and randomness from the flow loop it was
created on (never from `time` or `random`), so the same code replays
exactly in simulation. `Client` is what a handler receives as its first
argument.
"""

from __future__ import annotations

from typing import Any

import flow


class Stats:
    """Counters reported by INFO (stats section)."""

    __slots__ = (
        "total_connections_received", "total_commands_processed", "rejected_connections",
        "expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses",
        "total_net_input_bytes", "total_net_output_bytes", "total_error_replies",
        "expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


class ServerState:
    """Everything the command handlers of one server share."""

    def __init__(self, config: Any = None, loop: Any = None) -> None:
        from cache.keyspace import Database  # local: keyspace imports state for typing only

        self.loop = loop if loop is not None else flow.current_loop()
        self.config = config
        self.random = self.loop.random
        self.stats = Stats()
        self.now_ms = 0  # refreshed before every command by `refresh_clock`
        self.lru_clock = 0  # seconds, shared int object for every key touched this second
        self.refresh_clock()
        self.start_time_ms = self.now_ms
        self.dbs = [Database(self, index) for index in range(16)]
        self.clients: dict[int, Client] = {}
        self.next_client_id = 1

    def refresh_clock(self) -> None:
        """Cache the loop's wall clock once per command, as Redis caches mstime."""
        ms = int(self.loop.wall_time() * 1000)
        self.now_ms = ms
        seconds = ms // 1000
        if seconds != self.lru_clock:
            self.lru_clock = seconds


class Client:
    """One connected client: its protocol, selected database, name and flags."""

    def __init__(self, server: ServerState, addr: str = "", laddr: str = "") -> None:
        self.server = server
        self.id = server.next_client_id
        server.next_client_id += 1
        self.addr = addr
        self.laddr = laddr
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.proto = 2
        self.db_index = 0
        self.db = server.dbs[0]
        self.created_ms = server.now_ms
        self.last_interaction_ms = server.now_ms
        self.last_command = b"NULL"
        self.close_after_reply = False  # QUIT, protocol errors, CLIENT KILL
        self.authenticated = True

    def select(self, index: int) -> None:
        self.db_index = index
        self.db = self.server.dbs[index]

    def kill(self) -> None:
        """Close this client's connection after its pending replies (CLIENT KILL)."""
        self.close_after_reply = True
        hook = getattr(self, "on_kill", None)
        if hook is not None:
            hook()
