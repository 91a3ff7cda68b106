"""One contract, two networks: every test here runs on real loopback TCP and on the simulator."""

from __future__ import annotations

import hashlib
import random


import flow
import net
from net.base import HIGH_WATER


@flow.actor
def echo_connection(conn):
    """Echo until end of stream, then close; a reset just ends it."""
    try:
        while True:
            data = yield conn.read(65536)
            if not data:
                break
            conn.write(data)
            yield conn.drain()
    except net.NetworkError:
        pass
    conn.close()


@flow.actor
def echo_server(listener):
    handlers = []
    try:
        while True:
            conn = yield listener.accept()
            handlers.append(echo_connection(conn))
    except net.ConnectionClosed:
        return len(handlers)


@flow.actor
def read_exactly(conn, size):
    got = bytearray()
    while len(got) < size:
        data = yield conn.read(65536)
        if not data:
            break
        got += data
    return bytes(got)


@flow.actor
def read_to_end(conn):
    got = bytearray()
    while True:
        data = yield conn.read(65536)
        if not data:
            return bytes(got)
        got += data


def test_network_matches_the_loop(env):
    @flow.actor
    def main():
        yield flow.delay(0)
        return net.network()

    found = env.run(main)
    assert found is env.net
    assert isinstance(found, net.SimNetwork if env.kind == "sim" else net.RealNetwork)


def test_echo_round_trips(env):
    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        server = echo_server(listener)
        conn = yield network.connect("127.0.0.1", listener.address[1])
        replies = []
        for i in range(200):
            message = b"message %d " % i * (i % 7 + 1)
            conn.write(message)
            replies.append((yield read_exactly(conn, len(message))) == message)
        conn.shutdown_write()
        tail = yield conn.read()
        conn.close()
        listener.close()
        accepted = yield server
        return replies, tail, accepted

    replies, tail, accepted = env.run(main)
    assert all(replies) and len(replies) == 200
    assert tail == b""
    assert accepted == 1


def test_hundred_megabytes_arrive_intact(env):
    size = 100 * 1024 * 1024
    block = random.Random(5).randbytes(1 << 20)

    @flow.actor
    def sender(conn):
        digest = hashlib.sha256()
        for i in range(size >> 20):
            chunk = i.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            conn.write(chunk)
            yield conn.drain()
        conn.shutdown_write()
        return digest.hexdigest()

    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        conn = yield network.connect("127.0.0.1", listener.address[1])
        receiver = yield accepted
        sent = sender(conn)
        digest = hashlib.sha256()
        total = 0
        while True:
            data = yield receiver.read(1 << 20)
            if not data:
                break
            total += len(data)
            digest.update(data)
        receiver.close()
        conn.close()
        listener.close()
        return total, digest.hexdigest(), (yield sent)

    total, received, sent = env.run(main)
    assert total == size
    assert received == sent


def test_thousand_concurrent_connections_each_echo(env):
    @flow.actor
    def client(network, port, i):
        conn = yield network.connect("127.0.0.1", port)
        message = b"client %04d says hello " % i * 3
        conn.write(message)
        conn.shutdown_write()
        got = yield read_to_end(conn)
        conn.close()
        return got == message

    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        server = echo_server(listener)
        results = yield flow.wait_all([client(network, listener.address[1], i) for i in range(1000)])
        listener.close()
        accepted = yield server
        return results, accepted

    results, accepted = env.run(main)
    assert results == [True] * 1000
    assert accepted == 1000


def test_half_close_lets_the_other_side_finish(env):
    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        client = yield network.connect("127.0.0.1", listener.address[1])
        server = yield accepted
        client.write(b"question")
        client.shutdown_write()
        client.write(b"ignored after shutdown")
        asked = yield read_to_end(server)
        at_eof_again = yield server.read()
        server.write(b"answer to " + asked)
        server.close()
        answer = yield read_to_end(client)
        client.close()
        listener.close()
        return asked, at_eof_again, answer

    assert env.run(main) == (b"question", b"", b"answer to question")


def test_reset_mid_stream_reaches_the_reader(env):
    payload = bytes(range(256)) * 1024

    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        client = yield network.connect("127.0.0.1", listener.address[1])
        server = yield accepted
        server.write(payload)
        first = yield client.read(1000)  # the stream is flowing before the reset
        server.abort()
        got = bytearray(first)
        try:
            while True:
                data = yield client.read(65536)
                if not data:
                    return "eof", bytes(got)
                got += data
        except net.ConnectionReset:
            outcome = "reset"
        try:
            yield client.read()
            again = "no error"
        except net.ConnectionReset:
            again = "reset"
        client.close()
        listener.close()
        return outcome, again, bytes(got)

    outcome, again, got = env.run(main)
    assert (outcome, again) == ("reset", "reset")
    assert 0 < len(got) and payload.startswith(got)


def test_slow_reader_makes_drain_wait_and_bounds_pending_output(env):
    chunk = b"w" * 65536
    cap = 512 * 1024 * 1024

    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        writer = yield network.connect("127.0.0.1", listener.address[1])
        reader = yield accepted
        written, most_pending = 0, 0
        # Nobody reads: write until drain() says stop.
        while written < cap:
            writer.write(chunk)
            written += len(chunk)
            most_pending = max(most_pending, writer.pending_output())
            blocked = writer.drain()
            if not blocked.is_ready():
                break
            yield flow.delay(0)
        stopped_at = written
        drain_was_pending = not blocked.is_ready()
        # Now read everything: drain completes and every byte arrives.
        receiving = read_exactly(reader, written)
        yield blocked
        writer.shutdown_write()
        got = yield receiving
        writer.close()
        reader.close()
        listener.close()
        return drain_was_pending, stopped_at, most_pending, len(got)

    drain_was_pending, stopped_at, most_pending, received = env.run(main)
    assert drain_was_pending
    assert stopped_at < cap
    assert most_pending <= HIGH_WATER + len(chunk)
    assert received == stopped_at


def test_a_writer_blocked_on_a_peer_that_closes_gets_reset(env):
    chunk = b"u" * 65536

    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        writer = yield network.connect("127.0.0.1", listener.address[1])
        reader = yield accepted
        blocked = flow.ready()
        for _ in range(8192):
            writer.write(chunk)
            blocked = writer.drain()
            if not blocked.is_ready():
                break
            yield flow.delay(0)
        reader.close()  # with unread input: the writer must not wait forever
        try:
            yield blocked
            while True:
                writer.write(chunk)
                yield writer.drain()
                yield flow.delay(0.01)
        except net.ConnectionReset:
            outcome = "reset"
        writer.close()
        listener.close()
        return outcome

    assert env.run(main) == "reset"


def test_connect_to_a_closed_port_is_refused(env):
    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        port = listener.address[1]
        listener.close()
        try:
            yield network.connect("127.0.0.1", port)
        except net.ConnectionRefused:
            return "refused"
        return "connected"

    assert env.run(main) == "refused"


def test_listening_twice_on_a_port_is_address_in_use(env):
    @flow.actor
    def main():
        yield flow.delay(0)
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        try:
            network.listen("127.0.0.1", listener.address[1])
        except net.AddressInUse:
            return "in use"
        finally:
            listener.close()
        return "bound twice"

    assert env.run(main) == "in use"


def test_a_closed_connection_refuses_use_and_accept_fails_after_listener_close(env):
    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        client = yield network.connect("127.0.0.1", listener.address[1])
        server = yield accepted
        pending_read = server.read()
        server.close()
        outcomes = []
        for fut in (pending_read, server.read(), server.drain()):
            try:
                yield fut
                outcomes.append("ok")
            except net.ConnectionClosed:
                outcomes.append("closed")
        server.write(b"dropped silently")
        eof = yield client.read()
        waiting = listener.accept()
        listener.close()
        try:
            yield waiting
            outcomes.append("accepted")
        except net.ConnectionClosed:
            outcomes.append("listener closed")
        client.close()
        return outcomes, eof

    outcomes, eof = env.run(main)
    assert outcomes == ["closed", "closed", "closed", "listener closed"]
    assert eof == b""


def test_addresses_name_both_ends(env):
    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        client = yield network.connect("127.0.0.1", listener.address[1])
        server = yield accepted
        result = (listener.address, client.peer, client.local, server.local, server.peer)
        client.close()
        server.close()
        listener.close()
        return result

    address, client_peer, client_local, server_local, server_peer = env.run(main)
    assert client_peer[1] == address[1] == server_local[1]
    assert server_peer == client_local
    assert client_local[1] != address[1]


def test_read_honours_max_bytes_and_a_timed_out_read_loses_nothing(env):
    @flow.actor
    def main():
        network = net.network()
        listener = network.listen("127.0.0.1", 0)
        accepted = listener.accept()
        client = yield network.connect("127.0.0.1", listener.address[1])
        server = yield accepted
        try:
            yield flow.timeout(server.read(), 0.05)  # nothing sent yet: gives up
            timed_out = False
        except flow.TimedOut:
            timed_out = True
        message = bytes(range(256)) * 4
        client.write(message)
        pieces = []
        while sum(map(len, pieces)) < len(message):
            pieces.append((yield server.read(10)))
        client.close()
        server.close()
        listener.close()
        return timed_out, pieces, message

    timed_out, pieces, message = env.run(main)
    assert timed_out
    assert b"".join(pieces) == message
    assert max(map(len, pieces)) <= 10
