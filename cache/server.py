"""The cache server, written once as actors, for whichever loop runs it.

A listener actor accepts connections; one actor per connection reads,
parses every complete command in its buffer (`RespParser.next_batch`),
executes them in order (`cache.dispatch.run_batch` for the common ones,
`cache.dispatch.execute` for the rest) and writes the whole batch of
replies with one write (pipelining), waiting on `drain()` when the client reads slower than
it asks, between reads and inside a long batch too (every CHECK_EVERY
replies or after a big one), so a client that pipelines large replies and
never reads holds about OUTPUT_HIGH_WATER of memory, not the whole batch.
New connections are first admitted (`cache.limits`: maxclients, protected
mode) and the normal class's output buffer limits are applied at the same
checkpoints. A command that blocks (BLPOP...) answers a `blocking.Blocked`: the
actor writes what it has, waits for the real reply while only buffering
new input, then goes on with the pipelined commands. Pushes to a client
(pub/sub) go through `Client.send_push`, which joins the current batch so
replies and pushes keep their order. Command handlers are plain functions;
actors are only for what waits. A cron actor runs `hz` times a second:
idle-client timeout, active expiry, eviction down to maxmemory.

This module never asks which loop or network it runs on: the network is
passed in, time and randomness come from the loop through `ServerState`.
"""

from __future__ import annotations

import logging
from typing import Any

import flow
from cache import blocking, limits, monitor, pubsub, resp
from cache.blocking import Blocked
from cache.commands import transactions
from cache.commands.clients import REPLY_ON, REPLY_SKIP, REPLY_SKIP_NEXT
from cache.dispatch import BIG_REPLY, execute, run_batch
from cache.errors import ProtocolError
from cache.limits import NO_LIMITS
from cache.reply import Error
from cache.state import Client, ServerState
from net import NetworkError

__all__ = ["CacheServer", "execute", "serve_connection"]

log = logging.getLogger("flowcache")

READ_SIZE = 64 * 1024
OUTPUT_HIGH_WATER = 1 << 20  # wait for the client to read past this much queued output
CHECK_EVERY = 64  # replies between looks at a batch's size (a power of two)


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
        """Cancel the background actors, stop accepting and close every connection.

        The actors go first: closing the listener under a waiting accept_loop
        would fail it, with no one left to see the failure.
        """
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        if self.listener is not None:
            self.listener.close()
        for conn_actor in list(self.connections.values()):
            conn_actor.cancel()
        self.connections.clear()


@flow.actor
def accept_loop(server: CacheServer):
    state = server.state
    while True:
        conn = yield server.listener.accept()
        refused = limits.admission_refusal(state, _host(conn.peer))
        if refused is not None:  # maxclients, protected mode: said, then closed, as Redis does
            state.stats.rejected_connections += 1
            conn.write(b"-" + refused + b"\r\n")
            conn.close()
            continue
        state.refresh_clock()  # the new client's idle time counts from now
        client = Client(state, _addr(conn.peer), _addr(conn.local))
        state.stats.total_connections_received += 1
        actor = serve_connection(server, client, conn)
        if not actor.is_ready():
            server.connections[client.id] = actor


def _host(address: Any) -> str:
    try:
        return str(address[0])
    except (TypeError, IndexError):
        return str(address)


def _addr(address: Any) -> str:
    try:
        host, port = address[0], address[1]
    except (TypeError, IndexError):
        return str(address)
    return f"{host}:{port}"


@flow.actor
def serve_connection(server: CacheServer, client: Client, conn: Any):
    state = server.state
    client.on_kill = lambda: _kill_soon(state, client, conn)
    closed_by_us = []  # an idle client is closed cleanly (FIN), not reset

    def close_idle() -> None:
        closed_by_us.append(True)
        conn.close()

    client.on_idle_timeout = close_idle
    client.writer = conn.write
    client.output_pending = conn.pending_output
    parser = resp.RespParser(max_bulk_len=state.config.get("proto-max-bulk-len", 512 * 1024 * 1024),
                             authenticated=client.authenticated)
    next_batch = parser.next_batch
    encode_into = resp.encode_into
    stats = state.stats
    out = client.batch
    pending_read = None  # a read started while the client was blocked
    config_get = state.config.get
    seen_setting: Any = _CLOSED  # the client-output-buffer-limit text normal_limits comes from
    normal_limits = NO_LIMITS
    try:
        while True:
            if pending_read is None:
                data = yield conn.read(READ_SIZE)
            else:
                data, pending_read = (yield pending_read), None
            if not data:
                break
            stats.total_net_input_bytes += len(data)
            if parser.feed(data) > config_get("client-query-buffer-limit"):
                log.warning("Closing client that reached max query buffer length: id=%d addr=%s "
                            "(qbuf initial bytes: %r)", client.id, client.addr, data[:64])
                break
            client.executing = True
            replies = 0
            if client.sub or client.psub or client.ssub:
                obuf_limits = NO_LIMITS  # a subscriber's limits are the pubsub class's
            else:
                setting = config_get("client-output-buffer-limit")
                if setting is not seen_setting:  # parsed again only after a CONFIG SET
                    seen_setting, normal_limits = setting, _normal_limits(state)
                obuf_limits = normal_limits
                if obuf_limits is NO_LIMITS and client.soft_limit_since_s is not None:
                    client.soft_limit_since_s = None  # what over_output_limit does with no soft limit
            while True:
                try:
                    batch = next_batch()
                except ProtocolError as exc:
                    encode_into(out, Error(exc.message), client.proto)
                    stats.record_error(exc.message)
                    client.close_after_reply = True
                    break
                if not batch:
                    break
                done, count = 0, len(batch)
                while done < count:
                    ran = run_batch(client, batch, done, out)
                    if ran:  # it stops every BATCH_MAX commands and after a big reply
                        done += ran
                        if done == count:
                            break  # the output is looked at after the batch
                    else:  # a command that needs every check: the general path
                        argv = batch[done]
                        done += 1
                        reply = execute(client, argv, encode=True)
                        if not client.authenticated and parser.authenticated:
                            # RESET with a password: what was read ahead meets the stricter limits
                            parser.authenticated = False
                            parser.push_back(batch[done:])
                            count = done
                        mode = client.reply_mode
                        if reply.__class__ is Blocked:
                            _flush(client, conn, out)
                            client.executing = False
                            reply, pending_read = yield from _wait_unblocked(client, conn, parser, reply)
                            if reply is _CLOSED:
                                return
                            client.executing = True
                        if mode:  # CLIENT REPLY OFF or SKIP: this reply is not sent
                            if mode == REPLY_SKIP_NEXT:
                                client.reply_mode = REPLY_SKIP
                            elif mode == REPLY_SKIP:
                                client.reply_mode = REPLY_ON
                            continue
                        encode_into(out, reply, client.proto)
                        if client.close_after_reply:
                            break
                        replies += 1
                        if replies & (CHECK_EVERY - 1) and (reply.__class__ is not bytes or len(reply) < BIG_REPLY):
                            continue
                    used = client.pending_output()
                    if obuf_limits is not NO_LIMITS and limits.over_output_limit(client, used, obuf_limits):
                        _close_over_limit(client, conn, out)
                        return
                    if used > OUTPUT_HIGH_WATER:
                        yield from _wait_for_reader(client, conn, out)
                        if client.close_after_reply:
                            break
                if client.close_after_reply:
                    break
                parser.authenticated = client.authenticated  # AUTH, HELLO AUTH: limits lifted
                if parser.drained:
                    break  # the whole read was this batch: no need to ask for another
            client.executing = False
            client.last_interaction_ms = state.now_ms
            if obuf_limits is not NO_LIMITS and limits.over_output_limit(
                    client, client.pending_output(), obuf_limits):
                _close_over_limit(client, conn, out)
                return
            _flush(client, conn, out)
            if client.close_after_reply:
                break
            if conn.pending_output() > OUTPUT_HIGH_WATER:
                yield conn.drain()
        conn.close()
    except NetworkError:  # reset, timed out, or closed under us (ConnectionClosed is one)
        if not closed_by_us:
            conn.abort()
    except flow.ActorCancelled:
        conn.abort()
        raise
    finally:
        client.executing = False
        client.writer = None
        client.output_pending = None
        client.on_idle_timeout = None
        _forget_client(state, client)
        server.connections.pop(client.id, None)


_CLOSED = object()


def _normal_limits(state: ServerState) -> tuple[int, int, int]:
    """The normal class's output limits; `NO_LIMITS` itself when there are none.

    Redis's default is "normal 0 0 0": returning the NO_LIMITS object then
    lets the connection skip every check.
    """
    found = limits.output_limits(state)
    return found if found[0] or found[1] else NO_LIMITS


def _wait_for_reader(client: Client, conn: Any, out: list[bytes]):
    """Mid-batch back-pressure: write what is built and wait for the client to read it.

    Without it one read of pipelined GETs could build a reply of any size.
    Pushes sent meanwhile are written at once (`executing` is off), after
    the replies already written and before the rest of the batch.
    """
    _flush(client, conn, out)
    client.executing = False
    yield conn.drain()
    client.executing = True


def _wait_unblocked(client: Client, conn: Any, parser: Any, waiting: Blocked):
    """Wait for a blocked command's reply; input that arrives meanwhile is only buffered.

    Returns (reply, pending read) or (_CLOSED, None) when the client went away.
    """
    stats = client.server.stats
    read = conn.read(READ_SIZE)
    while True:
        which, value = yield flow.wait_any([waiting.future, read])
        if which == 0:
            # Woken inside the command that served us: let it finish serving every
            # waiter before this client runs its next command (Redis does the same).
            yield flow.yield_now()
            return value, read
        if not value:  # the client closed: Redis frees it, and its wait, at once
            blocking.forget(waiting)
            conn.close()
            return _CLOSED, None
        stats.total_net_input_bytes += len(value)
        parser.feed(value)
        read = conn.read(READ_SIZE)


def _close_over_limit(client: Client, conn: Any, out: list[bytes]) -> None:
    """Over its output buffer limit: dropped with its output, as Redis frees it (the rest never wait)."""
    log.warning("Client id=%d addr=%s closed for overcoming of output buffer limits.", client.id, client.addr)
    out.clear()
    client.executing = False
    conn.abort()


def _flush(client: Client, conn: Any, out: list[bytes]) -> None:
    if out:
        payload = out[0] if len(out) == 1 else b"".join(out)  # -P 1: one reply, no join
        out.clear()
        client.server.stats.total_net_output_bytes += len(payload)
        conn.write(payload)


def _forget_client(state: ServerState, client: Client) -> None:
    """A connection ended: drop every trace of its client (waits, WATCHes, subscriptions,
    MONITOR)."""
    state.clients.pop(client.id, None)
    if client.waiting is not None:
        blocking.forget(client.waiting)
    transactions.forget_client(client)
    pubsub.forget_client(client)
    monitor.forget_client(client)


def _kill_soon(state: ServerState, client: Client, conn: Any) -> None:
    """CLIENT KILL: reset the connection once the current command batch is written.

    A client that kills itself is instead closed cleanly after its reply
    (close_after_reply), and by then it is gone from `state.clients`.
    """

    def abort(_arg: Any) -> None:
        if state.clients.get(client.id) is client:
            conn.abort()

    flow.current_loop().call_soon(abort)


@flow.actor
def cron(server: CacheServer):
    """Redis's serverCron, as much of it as flowcache needs.

    At `hz`: close idle clients (`timeout`), run the active expiry cycle
    (a latency event when it is slow) and evict down to `maxmemory`, so
    memory goes back under the limit even when no command arrives.
    """
    from cache import eviction, keyspace, latency

    state = server.state
    wall_time = state.loop.wall_time
    while True:
        hz = max(1, min(500, int(state.config.get("hz", 10))))
        yield flow.delay(1.0 / hz)
        state.refresh_clock()
        for client in limits.idle_clients(state):
            log.info("Closing idle client id=%d addr=%s", client.id, client.addr)
            if client.on_idle_timeout is not None:
                client.on_idle_timeout()
        started = wall_time()
        keyspace.active_expire_cycle(state, hz)
        latency.record(state, "expire-cycle", int((wall_time() - started) * 1000))
        if state.memory.maxmemory:
            eviction.free_memory_if_needed(state)
