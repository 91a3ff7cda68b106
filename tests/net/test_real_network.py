"""RealNetwork specifics the conformance suite cannot see: when writes reach the socket."""

import flow
import net


def test_connections_served_in_one_turn_send_their_writes_together():
    """Redis's beforeSleep: writes wait for the end of the loop's turn, then go out at once."""
    loop = flow.RealLoop()
    network = net.RealNetwork(loop)
    pending_after_write = []

    @flow.actor
    def main():
        listener = network.listen("127.0.0.1", 0)
        clients, servers = [], []
        for _ in range(3):
            clients.append((yield network.connect(*listener.address)))
            servers.append((yield listener.accept()))
        for i, conn in enumerate(servers):
            conn.write(b"reply %d" % i)
            pending_after_write.append(conn.pending_output())
        replies = []
        for client in clients:
            replies.append((yield flow.timeout(client.read(100), 5)))
        assert [conn.pending_output() for conn in servers] == [0, 0, 0]
        for conn in clients + servers:
            conn.close()
        listener.close()
        return replies

    try:
        assert loop.run(main) == [b"reply 0", b"reply 1", b"reply 2"]
    finally:
        network.close()
        loop.close()
    assert pending_after_write == [7, 7, 7]  # queued, not yet sent, when write() returned


def test_a_write_made_by_an_actor_a_flush_woke_is_sent_without_waiting():
    """Sending a drained connection's output wakes its writer inside the loop's
    before-poll phase; what that actor writes elsewhere must go out at once too."""
    import socket

    loop = flow.RealLoop()
    network = net.RealNetwork(loop)

    @flow.actor
    def server_side(conn_a, conn_b):
        conn_a._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        conn_a.high_water = 1000
        conn_a.write(b"x" * 200_000)  # fits the socket: sent by the flush, which ends the drain
        yield conn_a.drain()
        conn_b.write(b"PUSH")  # as a PUBLISH reaching a subscriber on another connection
        yield conn_a.read(10)

    @flow.actor
    def main():
        listener = network.listen("127.0.0.1", 0)
        client_a = yield network.connect(*listener.address)
        client_a._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        server_a = yield listener.accept()
        client_b = yield network.connect(*listener.address)
        server_b = yield listener.accept()
        server_side(server_a, server_b)
        return (yield flow.timeout(client_b.read(10), 3))  # before the fix: timed out

    try:
        assert loop.run(main) == b"PUSH"
    finally:
        network.close()
        loop.close()


def test_empty_writes_queue_nothing():
    loop = flow.RealLoop()
    network = net.RealNetwork(loop)

    @flow.actor
    def main():
        listener = network.listen("127.0.0.1", 0)
        client = yield network.connect(*listener.address)
        server = yield listener.accept()
        for _ in range(100):
            server.write(b"")
        server.write(b"x")
        assert server.pending_output() == 1 and len(loop._before_poll) == 1
        return (yield flow.timeout(client.read(10), 3))

    try:
        assert loop.run(main) == b"x"
    finally:
        network.close()
        loop.close()
