"""The cache server, written once as actors, for whichever loop runs it.

A listener actor accepts connections; one actor per connection reads,
parses every complete command in its buffer, executes them in order and
writes the whole batch of replies with one write (pipelining), waiting on
`drain()` when the client reads slower than it asks. Command handlers are
plain functions; actors are only for what waits. A cron actor runs the
active expiry cycle `hz` times a second.

This module never asks which loop or network it runs on: the network is
passed in, time and randomness come from the loop through `ServerState`.
"""

from __future__ import annotations

import logging
from typing import Any

import flow
from cache import resp
from cache.commands import table
from cache.errors import ProtocolError
from cache.reply import Error
from cache.state import Client, ServerState
from net import NetworkError

log = logging.getLogger("flowcache")

READ_SIZE = 64 * 1024
OUTPUT_HIGH_WATER = 1 << 20  # wait for the client to read past this much queued output


class CacheServer:
    """One flowcache instance: its state, its listener and its connections."""

    def __init__(self, config: Any, network: Any) -> None:
        self.config = config
        self.network = network
        self.state = ServerState(config)
        self.listener: Any = None
        self.connections: dict[int, flow.Future] = {}  # client id -> connection actor
        self.tasks: list[flow.Future] = []

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.address

    def start(self, host: str, port: int) -> None:
        """Listen and start the background actors; returns at once."""
        self.listener = self.network.listen(host, port)
        self.state.tcp_port = self.listener.address[1]
        self.tasks.append(accept_loop(self))
        self.tasks.append(cron(self))

    def stop(self) -> None:
        """Stop accepting, cancel the background actors and close every connection."""
        if self.listener is not None:
            self.listener.close()
        for task in self.tasks:
            task.cancel()
        for conn_actor in list(self.connections.values()):
            conn_actor.cancel()
        self.connections.clear()


@flow.actor
def accept_loop(server: CacheServer):
    while True:
        conn = yield server.listener.accept()
        client = Client(server.state, _addr(conn.peer), _addr(conn.local))
        server.state.stats.total_connections_received += 1
        actor = serve_connection(server, client, conn)
        if not actor.is_ready():
            server.connections[client.id] = actor


def _addr(address: Any) -> str:
    try:
        host, port = address[0], address[1]
    except (TypeError, IndexError):
        return str(address)
    return f"{host}:{port}"


def execute(client: Client, argv: list[bytes]) -> Any:
    """Run one command for `client` and return its reply value."""
    state = client.server
    state.refresh_clock()
    spec = table.lookup(argv)
    state.stats.total_commands_processed += 1
    if spec.__class__ is Error:
        state.stats.total_error_replies += 1
        return spec
    reply = table.call(spec, client, argv)  # type: ignore[arg-type]
    if reply.__class__ is Error:
        state.stats.total_error_replies += 1
    client.last_command = spec.name  # type: ignore[union-attr]
    return reply


@flow.actor
def serve_connection(server: CacheServer, client: Client, conn: Any):
    state = server.state
    state.clients[client.id] = client
    client.on_kill = lambda: _kill_soon(state, client, conn)
    parser = resp.RespParser(max_bulk_len=_setting(state, "proto-max-bulk-len", 512 * 1024 * 1024))
    next_command = parser.next_command
    encode_into = resp.encode_into
    try:
        while True:
            data = yield conn.read(READ_SIZE)
            if not data:
                break
            state.stats.total_net_input_bytes += len(data)
            parser.feed(data)
            out: list[bytes] = []
            while True:
                try:
                    argv = next_command()
                except ProtocolError as exc:
                    encode_into(out, Error(exc.message), client.proto)
                    client.close_after_reply = True
                    break
                if argv is None:
                    break
                encode_into(out, execute(client, argv), client.proto)
                if client.close_after_reply:
                    break
            if out:
                payload = b"".join(out)
                state.stats.total_net_output_bytes += len(payload)
                conn.write(payload)
            if client.close_after_reply:
                break
            if conn.pending_output() > OUTPUT_HIGH_WATER:
                yield conn.drain()
        conn.close()
    except NetworkError:  # reset, timed out, or closed under us (ConnectionClosed is one)
        conn.abort()
    except flow.ActorCancelled:
        conn.abort()
        raise
    finally:
        state.clients.pop(client.id, None)
        server.connections.pop(client.id, None)


def _kill_soon(state: ServerState, client: Client, conn: Any) -> None:
    """CLIENT KILL: reset the connection once the current command batch is written.

    A client that kills itself is instead closed cleanly after its reply
    (close_after_reply), and by then it is gone from `state.clients`.
    """

    def abort(_arg: Any) -> None:
        if state.clients.get(client.id) is client:
            conn.abort()

    flow.current_loop().call_soon(abort)


def _setting(state: ServerState, name: str, default: Any) -> Any:
    """A config value; servers built without a config (unit tests) use Redis's default."""
    return default if state.config is None else state.config.get(name, default)


@flow.actor
def cron(server: CacheServer):
    """Redis's serverCron, as much of it as flowcache needs: active expiry at `hz`."""
    from cache import keyspace

    state = server.state
    while True:
        hz = max(1, min(500, int(_setting(state, "hz", 10))))
        yield flow.delay(1.0 / hz)
        state.refresh_clock()
        keyspace.active_expire_cycle(state, hz)
