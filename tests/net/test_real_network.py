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
