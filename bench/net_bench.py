"""The real network against asyncio doing the same work, in one run, on loopback.

Each side runs an echo server and its client in one process, on one loop:
  throughput  one connection echoes large messages (MB/s of payload echoed);
  ping-pong   one connection, small message, one in flight (µs per round trip);
  50 clients  fifty connections each ping-ponging small messages (round trips/s),
              the shape of the cache server's redis-benchmark target.
asyncio appears twice: streams (the same read/write/drain style as net/)
and protocols (its fastest plain form).
Usage: python bench/net_bench.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flow  # noqa: E402
import net  # noqa: E402

BIG = 1 << 20
SMALL = b"*1\r\n$4\r\nPING\r\n"  # 14 bytes, a redis PING


# -- flow --------------------------------------------------------------------
@flow.actor
def flow_echo(conn):
    try:
        while True:
            data = yield conn.read(262144)
            if not data:
                break
            conn.write(data)
            if conn.pending_output() > net.HIGH_WATER:
                yield conn.drain()
    except net.NetworkError:
        pass
    conn.close()


@flow.actor
def flow_server(listener):
    try:
        while True:
            flow_echo((yield listener.accept()))
    except net.ConnectionClosed:
        pass


@flow.actor
def flow_read_exactly(conn, size):
    left = size
    while left:
        data = yield conn.read(262144)
        if not data:
            raise RuntimeError("early end of stream")
        left -= len(data)


@flow.actor
def flow_throughput(network, port, messages):
    conn = yield network.connect("127.0.0.1", port)
    payload = b"t" * BIG
    reading = flow_read_exactly(conn, messages * BIG)
    start = time.perf_counter()
    for _ in range(messages):
        conn.write(payload)
        yield conn.drain()
    yield reading
    elapsed = time.perf_counter() - start
    conn.close()
    return messages * BIG / elapsed / 1e6


@flow.actor
def flow_pingpong(network, port, rounds):
    conn = yield network.connect("127.0.0.1", port)
    size = len(SMALL)
    start = time.perf_counter()
    for _ in range(rounds):
        conn.write(SMALL)
        got = yield conn.read()
        if len(got) != size:
            yield flow_read_exactly(conn, size - len(got))
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def run_flow(kind: str, n: int) -> float:
    loop = flow.RealLoop()

    @flow.actor
    def main():
        network = net.RealNetwork(loop)
        listener = network.listen("127.0.0.1", 0)
        server = flow_server(listener)
        port = listener.address[1]
        if kind == "throughput":
            result = yield flow_throughput(network, port, n)
        elif kind == "pingpong":
            result = (yield flow_pingpong(network, port, n)) / n * 1e6
        else:
            start = time.perf_counter()
            yield flow.wait_all([flow_pingpong(network, port, n // 50) for _ in range(50)])
            result = (n // 50) * 50 / (time.perf_counter() - start)
        listener.close()
        yield server
        network.close()
        return result

    try:
        return loop.run(main)
    finally:
        loop.close()


# -- asyncio streams ----------------------------------------------------------
_stream_handlers: list = []


async def streams_echo(reader, writer):
    _stream_handlers.append(asyncio.current_task())
    while True:
        data = await reader.read(262144)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def streams_read_exactly(reader, size):
    left = size
    while left:
        data = await reader.read(262144)
        if not data:
            raise RuntimeError("early end of stream")
        left -= len(data)


async def streams_main(kind: str, n: int) -> float:
    server = await asyncio.start_server(streams_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def pingpong(rounds):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        for _ in range(rounds):
            writer.write(SMALL)
            got = await reader.read(65536)
            if len(got) != len(SMALL):
                await streams_read_exactly(reader, len(SMALL) - len(got))
        elapsed = time.perf_counter() - start
        writer.close()
        await writer.wait_closed()
        return elapsed

    if kind == "throughput":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = b"t" * BIG
        reading = asyncio.ensure_future(streams_read_exactly(reader, n * BIG))
        start = time.perf_counter()
        for _ in range(n):
            writer.write(payload)
            await writer.drain()
        await reading
        result = n * BIG / (time.perf_counter() - start) / 1e6
        writer.close()
        await writer.wait_closed()
    elif kind == "pingpong":
        result = await pingpong(n) / n * 1e6
    else:
        start = time.perf_counter()
        await asyncio.gather(*[pingpong(n // 50) for _ in range(50)])
        result = (n // 50) * 50 / (time.perf_counter() - start)
    await asyncio.gather(*_stream_handlers)  # every handler saw its end of stream
    _stream_handlers.clear()
    server.close()
    await server.wait_closed()
    return result


# -- asyncio protocols ----------------------------------------------------------
class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class CountingClient(asyncio.Protocol):
    """Ping-pong (resend on each full reply) or count bytes until `expect` arrived."""

    def __init__(self, done, expect, rounds=0):
        self.done, self.expect, self.rounds, self.got = done, expect, rounds, 0

    def connection_made(self, transport):
        self.transport = transport
        if self.rounds:
            transport.write(SMALL)

    def data_received(self, data):
        self.got += len(data)
        if self.rounds:
            if self.got == len(SMALL):
                self.got = 0
                self.rounds -= 1
                if self.rounds:
                    self.transport.write(SMALL)
                else:
                    self.done.set_result(None)
        elif self.got >= self.expect:
            self.done.set_result(None)


async def protocol_main(kind: str, n: int) -> float:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoProtocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def pingpong(rounds):
        done = loop.create_future()
        transport, _ = await loop.create_connection(lambda: CountingClient(done, 0, rounds), "127.0.0.1", port)
        start = time.perf_counter()
        await done
        elapsed = time.perf_counter() - start
        transport.close()
        return elapsed

    if kind == "throughput":
        done = loop.create_future()
        transport, _ = await loop.create_connection(lambda: CountingClient(done, n * BIG), "127.0.0.1", port)
        payload = b"t" * BIG
        start = time.perf_counter()
        for _ in range(n):
            transport.write(payload)
            while transport.get_write_buffer_size() > net.HIGH_WATER:
                await asyncio.sleep(0)
        await done
        result = n * BIG / (time.perf_counter() - start) / 1e6
        transport.close()
    elif kind == "pingpong":
        result = await pingpong(n) / n * 1e6
    else:
        start = time.perf_counter()
        await asyncio.gather(*[pingpong(n // 50) for _ in range(50)])
        result = (n // 50) * 50 / (time.perf_counter() - start)
    server.close()
    await server.wait_closed()
    return result


def best(fn, kind, n, repeat, lower_is_better):
    results = [fn(kind, n) for _ in range(repeat)]
    return min(results) if lower_is_better else max(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = {"throughput": max(8, int(1024 * args.scale)), "pingpong": max(1000, int(50_000 * args.scale)),
             "clients": max(1000, int(200_000 * args.scale))}
    rows = [
        ("echo throughput, 1 MiB messages", "MB/s", "throughput", False),
        ("ping-pong round trip, 14 B", "µs", "pingpong", True),
        ("50 clients ping-pong", "req/s", "clients", False),
    ]
    impls = [
        ("flow net", run_flow),
        ("asyncio streams", lambda k, n: asyncio.run(streams_main(k, n))),
        ("asyncio protocol", lambda k, n: asyncio.run(protocol_main(k, n))),
    ]
    print(f"{'benchmark':34} {'unit':>6} " + " ".join(f"{name:>17}" for name, _ in impls)
          + f" {'flow/streams':>13} {'flow/protocol':>14}")
    for title, unit, kind, lower in rows:
        values = [best(fn, kind, sizes[kind], args.repeat, lower) for _, fn in impls]
        # Ratios are "how many times better flow is" (>1 means flow wins).
        ratios = [(v / values[0]) if lower else (values[0] / v) for v in values[1:]]
        print(f"{title:34} {unit:>6} " + " ".join(f"{v:17,.1f}" for v in values)
              + f" {ratios[0]:13.2f} {ratios[1]:14.2f}")


if __name__ == "__main__":
    main()
