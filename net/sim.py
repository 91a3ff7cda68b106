"""SimNetwork: TCP-like byte streams in memory, with the faults of a real network.

Everything runs on the SimLoop's queue and every choice comes from
`loop.random`, so a seed replays a network history exactly.

Model. Each connection direction is a pipe: a queue of segments, each
with an arrival time drawn from the latency model (mostly 0.1-0.8 ms, a
rare tail up to 100 ms), never earlier than the segment before it, so
bytes arrive in order. One loop entry per pipe is armed at a time, for
its head segment; when it fires, every segment due is handed to the
reader at once (several writes in one read). Writes in one instant are
coalesced by a single pump, then cut at random byte boundaries (a frame
arrives in pieces). The receiver's window (in flight + unread) bounds
what a pump may send; the rest waits in the writer's pending output,
which is what `drain()` watches.

Faults are checked when a segment is due: a clog holds the pipe until
it lifts; a partition stalls it until heal (and resets it after
`stall_timeout`); a dropped segment costs retransmission timeouts, never
bytes or order. A killed host's connections reset and its listeners
vanish, so connects to it are refused until it listens again.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from flow import Future, actor, buggify, current_loop, delay, release, trace, wait_any
from flow.errors import ActorCancelled, FlowError
from flow.future import ERROR, PENDING, VALUE
from flow.sync import AsyncVar
from net.base import (
    AddressInUse,
    ConnectionClosed,
    ConnectionRefused,
    ConnectionReset,
    ConnectionTimedOut,
    Listener,
    Network,
    NetworkError,
)
from net.sim_stream import INF, READ_PRIORITY, SimConnection, pending_future, ready_future

_FIRST_EPHEMERAL = 40000
# Loopback unless a host has that name: "localhost" is the default host's name.
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_ANY_NAMES = ("0.0.0.0", "127.0.0.1", "localhost", "", "::", "::1")


class SimHost(Network):
    """One machine: its listeners, its connections, its counters. Implements Network."""

    __slots__ = ("net", "name", "alive", "_listeners", "_endpoints", "_next_port", "clog_until",
                 "bytes_sent", "bytes_received", "segments_sent", "segments_received", "drops", "resets",
                 "connects", "accepts", "refused")

    def __init__(self, net: "SimNetwork", name: str) -> None:
        self.net = net
        self.name = name
        self.alive = True
        self._listeners: dict[int, SimListener] = {}
        self._endpoints: dict[int, SimConnection] = {}
        self._next_port = _FIRST_EPHEMERAL
        self.clog_until = 0.0
        self.bytes_sent = self.bytes_received = 0
        self.segments_sent = self.segments_received = 0
        self.drops = self.resets = 0
        self.connects = self.accepts = self.refused = 0

    def listen(self, host: str = "0.0.0.0", port: int = 0) -> "SimListener":
        if host not in _ANY_NAMES and host != self.name:
            raise NetworkError(f"host {self.name} cannot bind {host!r}")
        if not self.alive:
            raise ConnectionClosed(f"host {self.name} is down")
        if port == 0:
            port = self._ephemeral_port()
        elif port in self._listeners:
            raise AddressInUse(f"{self.name}:{port} is already in use")
        listener = SimListener(self, port)
        self._listeners[port] = listener
        return listener

    def connect(self, host: str, port: int) -> Future:
        net = self.net
        dst = net._hosts.get(host)
        if dst is None:
            if host not in _LOOPBACK_NAMES:
                return Future.failed(ConnectionRefused(f"no host named {host!r}"))
            dst = self
        if not self.alive:
            return Future.failed(ConnectionRefused(f"host {self.name} is down"))
        self.connects += 1
        return net._connect(self, dst, port)

    def _ephemeral_port(self) -> int:
        port = self._next_port
        while port in self._listeners:
            port += 1
        self._next_port = port + 1 if port < 65535 else _FIRST_EPHEMERAL
        return port

    def connections(self) -> list["SimConnection"]:
        """This host's open connection ends, oldest first (for fault injection)."""
        return list(self._endpoints.values())

    def stats(self) -> dict[str, int]:
        return {
            "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
            "segments_sent": self.segments_sent, "segments_received": self.segments_received,
            "drops": self.drops, "resets": self.resets, "connects": self.connects,
            "accepts": self.accepts, "refused": self.refused,
            "connections": len(self._endpoints), "listeners": len(self._listeners),
        }

    def __repr__(self) -> str:
        return f"<SimHost {self.name}{'' if self.alive else ' (down)'}>"


class SimListener(Listener):
    __slots__ = ("host", "port", "address", "_queue", "_waiters", "_closed")

    def __init__(self, host: SimHost, port: int) -> None:
        self.host = host
        self.port = port
        self.address = (host.name, port)
        self._queue: deque[SimConnection] = deque()
        self._waiters: deque[Future] = deque()
        self._closed = False

    def accept(self) -> Future:
        if self._queue:
            return ready_future(self._queue.popleft())
        if self._closed:
            return Future.failed(ConnectionClosed("accept() on a closed listener"))
        fut = pending_future()
        self._waiters.append(fut)
        return fut

    def _offer(self, conn: "SimConnection") -> None:
        self.host.accepts += 1
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if waiter._state == PENDING:
                waiter._set(VALUE, conn)
                return
        self._queue.append(conn)

    def close(self) -> None:
        self._vanish(ConnectionClosed("listener closed"))

    def _vanish(self, error: BaseException) -> None:
        if self._closed:
            return
        self._closed = True
        if self.host._listeners.get(self.port) is self:
            del self.host._listeners[self.port]
        while self._queue:
            self._queue.popleft().abort()
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter._state == PENDING:
                waiter._set(ERROR, error)

    def __repr__(self) -> str:
        return f"<SimListener {self.address}>"


class SimNetwork(Network):
    """The simulated network of one SimLoop; also a Network itself, as host "localhost".

    latency: (low, high) seconds of the usual one-way delay; tail_probability
    of a delivery instead taking up to tail_max. fragment: cut writes at
    random byte boundaries. drop_rate: segments lost, each loss costing an
    rto that doubles, max_retransmits before the connection times out.
    window: bytes in flight plus unread per direction. connect_timeout and
    stall_timeout: how long a partition may hold a connect or a connection.
    Constructing one makes it the loop's network (loop.services["network"]).
    """

    DEFAULT_HOST = "localhost"

    def __init__(self, loop: Any = None, latency: tuple[float, float] = (0.0001, 0.0008),
                 tail_probability: float = 0.001, tail_max: float = 0.1, fragment: bool = True,
                 drop_rate: float = 0.0, window: int = 64 * 1024, connect_timeout: float = 5.0,
                 stall_timeout: float = 10.0, rto: float = 0.2, max_retransmits: int = 8,
                 buggify_reset_probability: float = 0.001) -> None:
        self.loop = loop if loop is not None else current_loop()
        if not self.loop.is_simulated:
            raise FlowError("SimNetwork needs a SimLoop")
        self.random = self.loop.random
        self.latency = (float(latency[0]), float(latency[1]))
        self.tail_probability = tail_probability
        self.tail_max = tail_max
        self.fragment = fragment
        self.fragment_probability = 0.5  # of a pump's chunk being cut, when fragment is on
        self.drop_rate = drop_rate
        self.window = window
        self.connect_timeout = connect_timeout
        self.stall_timeout = stall_timeout
        self.rto = rto
        self.max_retransmits = max_retransmits
        self.buggify_reset_probability = buggify_reset_probability
        self._hosts: dict[str, SimHost] = {}
        self._partitions: dict[tuple[str, str], int] = {}
        self._pair_clogs: dict[tuple[str, str], float] = {}
        self._clogged: dict[int, SimConnection] = {}  # pipes waiting for a clog to lift
        self._stalled: dict[int, SimConnection] = {}  # pipes waiting for a heal
        self._changed = AsyncVar(0)  # triggered when a path may have opened
        self._next_id = 0
        self._next_token = 0
        self.loop.services["network"] = self

    # -- hosts ------------------------------------------------------------
    def add_host(self, name: str) -> SimHost:
        if name in self._hosts:
            raise NetworkError(f"host {name!r} already exists")
        host = self._hosts[name] = SimHost(self, name)
        return host

    def host(self, name: str) -> SimHost:
        host = self._hosts.get(name)
        if host is None:
            raise NetworkError(f"no host named {name!r}")
        return host

    def hosts(self) -> list[SimHost]:
        return list(self._hosts.values())

    def _default(self) -> SimHost:
        host = self._hosts.get(self.DEFAULT_HOST)
        return host if host is not None else self.add_host(self.DEFAULT_HOST)

    def listen(self, host: str = "0.0.0.0", port: int = 0) -> SimListener:
        return self._default().listen(host, port)

    def connect(self, host: str, port: int) -> Future:
        return self._default().connect(host, port)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per host, in the order the hosts were added."""
        return {name: host.stats() for name, host in self._hosts.items()}

    def _host(self, host: SimHost | str) -> SimHost:
        return host if isinstance(host, SimHost) else self.host(host)

    # -- the latency model ------------------------------------------------
    def _latency(self) -> float:
        """One draw: its low tail_probability slice picks the tail, the rest the usual range."""
        r = self.random.random()
        tail = self.tail_probability
        low, high = self.latency
        if r < tail:
            return high + (self.tail_max - high) * (r / tail)
        return low + (high - low) * ((r - tail) / (1.0 - tail))

    def _blocked_until(self, src: SimHost, dst: SimHost) -> float:
        """When traffic src -> dst may flow: INF if partitioned, else the end of any clog."""
        if self._partitions and src is not dst:
            key = (src.name, dst.name) if src.name < dst.name else (dst.name, src.name)
            if key in self._partitions:
                return INF
        until = src.clog_until
        if dst.clog_until > until:
            until = dst.clog_until
        if self._pair_clogs:
            pair = self._pair_clogs.get((src.name, dst.name), 0.0)
            if pair > until:
                until = pair
        return until

    def _emit(self, ep: SimConnection, chunk: bytes) -> None:
        """Cut a chunk at random byte boundaries and push the pieces into ep's pipe."""
        size = len(chunk)
        ep.host.bytes_sent += size
        if self.fragment and size > 1:
            r = self.random.random()
            if r < self.fragment_probability:
                rnd = self.random.random
                span = size - 1
                pieces = 1 + int(3 * r / self.fragment_probability)  # 1 to 3 cuts
                cuts = sorted({1 + int(rnd() * span) for _ in range(pieces)})
                start = 0
                for cut in cuts:
                    self._push(ep, chunk[start:cut], cut - start)
                    start = cut
                    if ep._dead:
                        return
                self._push(ep, chunk[start:], size - start)
                return
        self._push(ep, chunk, size)

    def _push(self, ep: SimConnection, payload: Any, size: int) -> None:
        """Queue one segment (bytes, FIN or RST) behind the pipe's last, arming the pipe if idle."""
        loop = self.loop
        arrival = loop._now + self._latency()
        if self.drop_rate:
            rto = self.rto
            lost = 0
            while self.random.random() < self.drop_rate:
                lost += 1
                ep.host.drops += 1
                if lost > self.max_retransmits:
                    trace("NetRetransmitGaveUp", host=ep.host.name, local=list(ep.local), peer=list(ep.peer))
                    self._reset_pair(ep, ConnectionTimedOut("connection timed out (retransmissions failed)"))
                    return
                arrival += rto
                rto *= 2
        if loop.buggify_enabled and buggify(0.01):
            arrival += self.random.random() * self.tail_max
        if arrival < ep._last_arrival:
            arrival = ep._last_arrival
        ep._last_arrival = arrival
        ep._segs.append((arrival, payload))
        ep._in_flight += size
        ep.host.segments_sent += 1
        if not ep._armed:
            ep._armed = True
            loop.call_at(arrival, ep._deliver_cb, ep._gen, READ_PRIORITY)

    # -- connections ------------------------------------------------------
    def _connect(self, src: SimHost, dst: SimHost, port: int) -> Future:
        return _connect_actor(self, src, dst, port)

    def _travel(self, src: SimHost, dst: SimHost, deadline: float):
        """Wait for the path src -> dst to open (or time out), then one latency (a sub-generator)."""
        loop = self.loop
        while True:
            now = loop._now
            until = self._blocked_until(src, dst)
            if until <= now:
                break
            if now >= deadline:
                raise ConnectionTimedOut(f"connect {src.name} -> {dst.name} timed out")
            timer = delay((until if until < deadline else deadline) - now)
            yield wait_any([self._changed.on_change(), timer])
            release(timer)
        yield delay(self._latency())

    def _make_pair(self, src: SimHost, dst: SimHost, port: int) -> tuple[SimConnection, SimConnection]:
        client = SimConnection(self, src, src._ephemeral_port())
        server = SimConnection(self, dst, port)
        client.other, server.other = server, client
        client.peer, server.peer = server.local, client.local
        return client, server

    def _reset_one(self, ep: SimConnection, error: BaseException) -> None:
        """This end learns its connection is gone."""
        if ep._dead:
            return
        ep._dead = True
        ep.host.resets += 1
        ep.host._endpoints.pop(ep.id, None)
        ep._out.clear()
        ep._segs.clear()
        ep._in_flight = 0
        ep._gen += 1
        ep._armed = False
        if ep._error is None and not ep._closed:
            ep._error = error
        ep._wake_reader()
        ep._fail_drain(error)

    def _reset_pair(self, ep: SimConnection, error: BaseException) -> None:
        self._reset_one(ep, error)
        self._reset_one(ep.other, error)

    # -- faults -----------------------------------------------------------
    def kill_connection(self, conn: SimConnection) -> None:
        """Both ends see ConnectionReset at once (nothing happens to one already dead)."""
        if conn._dead:
            return
        trace("NetKillConnection", local=list(conn.local), peer=list(conn.peer))
        self._reset_pair(conn, ConnectionReset("connection killed"))

    def set_drop_rate(self, probability: float) -> None:
        trace("NetDropRate", probability=probability)
        self.drop_rate = probability

    def clog(self, host: SimHost | str, seconds: float) -> None:
        """Hold all traffic to and from `host` for `seconds`, then let it flow in order."""
        host = self._host(host)
        until = self.loop._now + seconds
        trace("NetClog", host=host.name, seconds=seconds)
        if until > host.clog_until:
            host.clog_until = until

    def unclog(self, host: SimHost | str) -> None:
        host = self._host(host)
        trace("NetUnclog", host=host.name)
        host.clog_until = 0.0
        self._path_opened()

    def clog_pair(self, src: SimHost | str, dst: SimHost | str, seconds: float) -> None:
        """Hold traffic from src to dst (one direction) for `seconds`."""
        src, dst = self._host(src), self._host(dst)
        key = (src.name, dst.name)
        until = self.loop._now + seconds
        trace("NetClogPair", src=src.name, dst=dst.name, seconds=seconds)
        if until > self._pair_clogs.get(key, 0.0):
            self._pair_clogs[key] = until

    def partition(self, a: SimHost | str, b: SimHost | str) -> None:
        """Stop traffic both ways; connections between them reset after stall_timeout unless healed."""
        a, b = self._host(a), self._host(b)
        if a is b:
            raise NetworkError("cannot partition a host from itself")
        key = (a.name, b.name) if a.name < b.name else (b.name, a.name)
        if key in self._partitions:
            return
        self._next_token += 1
        self._partitions[key] = self._next_token
        trace("NetPartition", a=a.name, b=b.name)
        self.loop.call_at(self.loop._now + self.stall_timeout, self._partition_expired, (key, self._next_token))

    def heal(self, a: SimHost | str, b: SimHost | str) -> None:
        a, b = self._host(a), self._host(b)
        key = (a.name, b.name) if a.name < b.name else (b.name, a.name)
        if self._partitions.pop(key, None) is None:
            return
        trace("NetHeal", a=a.name, b=b.name)
        self._path_opened()

    def heal_all(self) -> None:
        for a, b in list(self._partitions):
            self.heal(a, b)

    def is_partitioned(self, a: SimHost | str, b: SimHost | str) -> bool:
        a, b = self._host(a), self._host(b)
        return (min(a.name, b.name), max(a.name, b.name)) in self._partitions

    def _partition_expired(self, item: tuple[tuple[str, str], int]) -> None:
        key, token = item
        if self._partitions.get(key) != token:
            return
        a, b = self._hosts[key[0]], self._hosts[key[1]]
        victims = [ep for ep in a._endpoints.values() if ep.other.host is b]
        victims += [ep for ep in b._endpoints.values() if ep.other.host is a]
        trace("NetPartitionTimeout", a=key[0], b=key[1], connections=len(victims))
        for ep in victims:
            self._reset_pair(ep, ConnectionTimedOut(f"connection stalled by a partition for {self.stall_timeout}s"))

    def _path_opened(self) -> None:
        waiting = list(self._clogged.values()) + list(self._stalled.values())
        self._clogged.clear()
        self._stalled.clear()
        for ep in waiting:
            ep._rearm_now()
        self._changed.trigger()

    def swizzle(self, hosts: Iterable[SimHost | str], seconds: float) -> tuple[list[str], list[str]]:
        """Clog a random subset one by one, then unclog it in a different random order.

        Returns (clog order, unclog order). Clogs start within the first quarter
        of `seconds`; unclogs happen after `seconds`, a little apart.
        """
        names = [self._host(h).name for h in hosts]
        if not names:
            return [], []
        rng = self.random
        chosen = rng.sample(names, rng.randint(1, len(names)))
        order = list(chosen)
        rng.shuffle(order)
        if len(order) > 1 and order == chosen:
            order.reverse()
        trace("NetSwizzle", clog_order=chosen, unclog_order=order, seconds=seconds)
        now = self.loop._now
        step = seconds / (4 * len(chosen))
        for i, name in enumerate(chosen):
            self.loop.call_at(now + i * step, self._swizzle_clog, name)
        for i, name in enumerate(order):
            self.loop.call_at(now + seconds + i * step, self._swizzle_unclog, name)
        return chosen, order

    def _swizzle_clog(self, name: str) -> None:
        self._hosts[name].clog_until = INF
        trace("NetClog", host=name, seconds=-1)

    def _swizzle_unclog(self, name: str) -> None:
        self.unclog(name)

    def kill_host(self, host: SimHost | str) -> None:
        """Every connection of the host resets; its listeners vanish; connects to it are refused."""
        host = self._host(host)
        trace("NetKillHost", host=host.name, connections=len(host._endpoints), listeners=len(host._listeners))
        host.alive = False
        for ep in list(host._endpoints.values()):
            self._reset_pair(ep, ConnectionReset(f"host {host.name} was killed"))
        for listener in list(host._listeners.values()):
            listener._vanish(ConnectionClosed(f"host {host.name} was killed"))

    def restart_host(self, host: SimHost | str) -> None:
        """The host is back, with no listeners until its processes listen again."""
        host = self._host(host)
        trace("NetRestartHost", host=host.name)
        host.alive = True
        host.clog_until = 0.0
        self._path_opened()


@actor
def _connect_actor(net: SimNetwork, src: SimHost, dst: SimHost, port: int):
    """SYN to dst, then RST (refused) or SYN-ACK back; connect_timeout covers the whole exchange."""
    deadline = net.loop._now + net.connect_timeout
    yield from net._travel(src, dst, deadline)
    listener = dst._listeners.get(port) if dst.alive else None
    if listener is None or not src.alive:
        yield delay(net._latency())
        src.refused += 1
        raise ConnectionRefused(f"connection refused by {dst.name}:{port}")
    client, server = net._make_pair(src, dst, port)
    listener._offer(server)
    try:
        yield from net._travel(dst, src, deadline)
    except ConnectionTimedOut:
        net._reset_pair(client, ConnectionTimedOut("connect timed out"))
        raise
    except ActorCancelled:
        client.abort()
        raise
    return client
