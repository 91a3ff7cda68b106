"""The simulated network's faults, each judged by what an observer on the connection sees."""

from __future__ import annotations

import pytest

import flow
import net

PORT = 6379


def make_sim(seed=1, hosts=("a", "b"), **options):
    loop = flow.SimLoop(seed=seed)
    network = net.SimNetwork(loop, **options)
    return loop, network, [network.add_host(name) for name in hosts]


@flow.actor
def connected(client_host, server_host, port=PORT):
    """(listener, client end, server end) of a connection from client_host to server_host."""
    listener = server_host.listen("0.0.0.0", port)
    accepted = listener.accept()
    client = yield client_host.connect(server_host.name, port)
    server = yield accepted
    return listener, client, server


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
def timed_reads(conn, size):
    """Every read as (virtual time, bytes), until `size` bytes arrived."""
    reads, total = [], 0
    while total < size:
        data = yield conn.read(65536)
        if not data:
            break
        reads.append((flow.now(), data))
        total += len(data)
    return reads


@flow.actor
def outcome_of(fut):
    """'ok', or the name of the network error the future failed with."""
    try:
        yield fut
        return "ok"
    except net.NetworkError as exc:
        return type(exc).__name__


def frames(count, width=16):
    return [b"%0*d" % (width, i) for i in range(count)]


@flow.actor
def send_spaced(conn, messages, gap):
    """One write per instant, `gap` apart; returns the send time of each message."""
    times = []
    for message in messages:
        times.append(flow.now())
        conn.write(message)
        yield flow.delay(gap)
    return times


# -- latency, ordering, fragmentation --------------------------------------

def test_latency_stays_in_range_when_there_is_no_tail():
    loop, network, (a, b) = make_sim(latency=(0.001, 0.002), tail_probability=0.0, fragment=False)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        delays = []
        for i in range(200):
            sent = flow.now()
            client.write(b"%d" % i)
            yield server.read()
            delays.append(flow.now() - sent)
            yield flow.delay(0.01)
        return delays

    delays = loop.run(main)
    assert all(0.001 <= d <= 0.002 for d in delays)
    assert max(delays) - min(delays) > 0.0005  # drawn, not constant


def test_tail_latency_reorders_nothing_and_stays_bounded():
    loop, network, (a, b) = make_sim(tail_probability=0.2, tail_max=0.1)
    messages = frames(500)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        sending = send_spaced(client, messages, 0.0002)
        reads = yield timed_reads(server, sum(map(len, messages)))
        return (yield sending), reads

    sent_at, reads = loop.run(main)
    stream = b"".join(data for _, data in reads)
    assert stream == b"".join(messages)
    delays = arrival_delays(sent_at, reads, len(messages[0]))
    assert max(delays) > 0.0008  # the tail happened
    assert max(delays) <= 0.1 + 1e-9


def test_fragmentation_splits_frames_and_coalesces_writes():
    loop, network, (a, b) = make_sim(fragment=True)
    spaced = frames(300, 20)
    burst = frames(50, 20)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        sending = send_spaced(client, spaced, 0.01)
        split_reads = yield timed_reads(server, 20 * 300)
        yield sending
        for message in burst:  # one instant: coalesced into one stream
            client.write(message)
        burst_reads = yield timed_reads(server, 20 * 50)
        return [d for _, d in split_reads], [d for _, d in burst_reads]

    split_reads, burst_reads = loop.run(main)
    assert b"".join(split_reads) == b"".join(spaced)
    assert b"".join(burst_reads) == b"".join(burst)
    assert any(len(d) < 20 for d in split_reads)  # a frame seen in pieces
    assert any(len(d) > 20 for d in burst_reads)  # several writes in one read


def test_without_fragmentation_spaced_writes_arrive_whole():
    loop, network, (a, b) = make_sim(fragment=False)
    spaced = frames(100, 20)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        sending = send_spaced(client, spaced, 0.01)
        reads = yield timed_reads(server, 20 * 100)
        yield sending
        return [d for _, d in reads]

    assert loop.run(main) == spaced


def arrival_delays(sent_at, reads, width):
    """Per message: when its last byte arrived minus when it was sent."""
    arrived, offset = [], 0
    for when, data in reads:
        offset += len(data)
        arrived += [when] * (offset // width - len(arrived))
    return [got - sent for got, sent in zip(arrived, sent_at)]


def test_drops_cost_retransmission_time_but_no_bytes():
    loop, network, (a, b) = make_sim(seed=3, tail_probability=0.0)
    messages = frames(200)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        network.set_drop_rate(0.3)
        sending = send_spaced(client, messages, 0.001)
        reads = yield timed_reads(server, 16 * 200)
        return (yield sending), reads

    sent_at, reads = loop.run(main)
    assert b"".join(d for _, d in reads) == b"".join(messages)
    assert network.host("a").drops > 0
    delays = arrival_delays(sent_at, reads, 16)
    assert max(delays) >= 0.2  # a retransmission timeout was paid (no tail: else < 1 ms)
    assert min(delays) < 0.001


# -- clogs and swizzle -------------------------------------------------------

def test_clog_delays_delivery_by_at_least_the_clog_and_keeps_order():
    loop, network, (a, b) = make_sim()
    messages = frames(20)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        network.clog("a", 2.0)
        clogged_at = flow.now()
        sending = send_spaced(client, messages, 0.01)
        reads = yield timed_reads(server, 16 * 20)
        yield sending
        return clogged_at, reads

    clogged_at, reads = loop.run(main)
    assert b"".join(d for _, d in reads) == b"".join(messages)
    assert reads[0][0] >= clogged_at + 2.0


def test_clog_pair_holds_one_direction_only():
    loop, network, (a, b) = make_sim()

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        network.clog_pair("a", "b", 2.0)
        start = flow.now()
        client.write(b"a to b")
        server.write(b"b to a")
        back = yield read_exactly(client, 6)
        back_at = flow.now() - start
        forth = yield read_exactly(server, 6)
        forth_at = flow.now() - start
        return back, back_at, forth, forth_at

    back, back_at, forth, forth_at = loop.run(main)
    assert (back, forth) == (b"b to a", b"a to b")
    assert back_at < 0.2
    assert forth_at >= 2.0 - 1e-9


def test_swizzle_unclogs_in_a_different_order_than_it_clogs():
    """Chosen hosts' traffic is held until they are unclogged; the others flow at once."""
    for seed in range(1, 40):
        loop, network, hosts = make_sim(seed=seed, hosts=("hub", "h1", "h2", "h3", "h4"), tail_probability=0.0)
        hub, spokes = hosts[0], hosts[1:]

        @flow.actor
        def main():
            pairs = []
            listener = hub.listen("0.0.0.0", PORT)
            for spoke in spokes:
                accepted = listener.accept()
                client = yield spoke.connect("hub", PORT)
                pairs.append((spoke.name, client, (yield accepted)))
            start = flow.now()
            clog_order, unclog_order = network.swizzle([s.name for s in spokes], 2.0)
            yield flow.delay(1.0)  # every chosen host is clogged by now
            for name, client, _ in pairs:
                client.write(name.encode())
            arrivals = []

            @flow.actor
            def arrival(name, server):
                yield read_exactly(server, len(name))
                arrivals.append((flow.now() - start, name))

            yield flow.wait_all([arrival(name, server) for name, _, server in pairs])
            return clog_order, unclog_order, sorted(arrivals)

        clog_order, unclog_order, arrivals = loop.run(main)
        if len(clog_order) < 2:
            continue
        assert sorted(clog_order) == sorted(unclog_order) and clog_order != unclog_order
        late = [name for when, name in arrivals if when >= 2.0 - 1e-9]
        early = [name for when, name in arrivals if when < 1.1]
        assert late == unclog_order  # held until unclogged, released in unclog order
        assert sorted(early + late) == sorted(s.name for s in spokes)
        return
    pytest.fail("no seed swizzled two hosts or more")


# -- partitions ----------------------------------------------------------------

def test_partition_makes_new_connects_time_out():
    loop, network, (a, b) = make_sim(connect_timeout=5.0)

    @flow.actor
    def main():
        b.listen("0.0.0.0", PORT)
        network.partition("a", "b")
        start = flow.now()
        result = yield outcome_of(a.connect("b", PORT))
        return result, flow.now() - start

    result, elapsed = loop.run(main)
    assert result == "ConnectionTimedOut"
    assert 5.0 - 1e-9 <= elapsed < 5.1


def test_partition_stalls_established_connections_then_resets_them():
    loop, network, (a, b) = make_sim(stall_timeout=10.0)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        network.partition("a", "b")
        start = flow.now()
        client.write(b"into the void")
        server_sees = yield outcome_of(server.read())
        server_at = flow.now() - start
        client_sees = yield outcome_of(client.read())
        return server_sees, server_at, client_sees

    server_sees, server_at, client_sees = loop.run(main)
    assert server_sees == client_sees == "ConnectionTimedOut"
    assert 10.0 - 1e-9 <= server_at < 10.1


def test_heal_before_the_timeout_lets_stalled_bytes_through_in_order():
    loop, network, (a, b) = make_sim(stall_timeout=10.0)
    messages = frames(30)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        network.partition("a", "b")
        start = flow.now()
        sending = send_spaced(client, messages, 0.01)
        yield flow.delay(3.0)
        network.heal("a", "b")
        reads = yield timed_reads(server, 16 * 30)
        yield sending
        yield flow.delay(20.0)  # past the stall timeout: the healed connection survives
        server.write(b"still here")
        return start, reads, (yield client.read())

    start, reads, later = loop.run(main)
    assert b"".join(d for _, d in reads) == b"".join(messages)
    assert reads[0][0] >= start + 3.0
    assert later == b"still here"


def test_connect_waits_out_a_short_partition():
    loop, network, (a, b) = make_sim()

    @flow.actor
    def healer():
        yield flow.delay(2.0)
        network.heal("a", "b")

    @flow.actor
    def main():
        listener = b.listen("0.0.0.0", PORT)
        network.partition("a", "b")
        healing = healer()
        conn = yield a.connect("b", PORT)
        yield healing
        accepted = yield listener.accept()
        return flow.now(), conn.peer, accepted.peer == conn.local

    connected_at, peer, matched = loop.run(main)
    assert connected_at >= 2.0
    assert peer == ("b", PORT) and matched


# -- resets and dead hosts ------------------------------------------------------

def test_kill_connection_resets_both_ends():
    loop, network, (a, b) = make_sim()

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        reading = outcome_of(server.read())
        yield flow.delay(0.1)
        network.kill_connection(client)
        return (yield reading), (yield outcome_of(client.read())), (yield outcome_of(client.drain()))

    assert loop.run(main) == ("ConnectionReset", "ConnectionReset", "ConnectionReset")


def test_abort_resets_the_peer_and_writing_to_a_closed_peer_resets_the_writer():
    loop, network, (a, b) = make_sim()

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        server.abort()
        aborted = yield outcome_of(client.read())
        listener, client2, server2 = yield connected(a, b, PORT + 1)
        server2.close()
        yield flow.delay(0.1)
        client2.write(b"anyone there?")  # the closed end answers with a reset
        yield flow.delay(0.1)
        return aborted, (yield outcome_of(client2.drain()))

    assert loop.run(main) == ("ConnectionReset", "ConnectionReset")


def test_kill_host_resets_refuses_until_restarted_and_listening_again():
    loop, network, (a, b) = make_sim()

    @flow.actor
    def main():
        listener, client, server = yield connected(a, b)
        pending_accept = outcome_of(listener.accept())
        client_read = outcome_of(client.read())
        network.kill_host("b")
        seen = {
            "client read": (yield client_read),
            "server read": (yield outcome_of(server.read())),
            "accept": (yield pending_accept),
            "connect while dead": (yield outcome_of(a.connect("b", PORT))),
        }
        network.restart_host("b")
        seen["connect before listen"] = yield outcome_of(a.connect("b", PORT))
        b.listen("0.0.0.0", PORT)
        seen["connect after listen"] = yield outcome_of(a.connect("b", PORT))
        return seen

    assert loop.run(main) == {
        "client read": "ConnectionReset",
        "server read": "ConnectionReset",
        "accept": "ConnectionClosed",
        "connect while dead": "ConnectionRefused",
        "connect before listen": "ConnectionRefused",
        "connect after listen": "ok",
    }
    assert network.host("a").resets == 1 and network.host("b").resets == 1


def echo_workload(network, a, b, messages):
    """A client sends messages one by one and reads each echo; returns what it saw."""

    @flow.actor
    def echo(conn):
        try:
            while True:
                data = yield conn.read()
                if not data:
                    break
                conn.write(data)
        except net.NetworkError:
            pass

    @flow.actor
    def main():
        listener = b.listen("0.0.0.0", PORT)
        accepted = listener.accept()
        client = yield a.connect("b", PORT)
        echoing = echo((yield accepted))
        got = bytearray()
        sent = b""
        try:
            for message in messages:
                client.write(message)
                sent += message
                while len(got) < len(sent):
                    data = yield client.read()
                    if not data:
                        break
                    got += data
            outcome = "ok"
        except net.ConnectionReset:
            outcome = "reset"
        client.close()
        yield echoing
        return outcome, bytes(got), sent, flow.now()

    return main


def test_buggify_resets_connections_in_the_send_path():
    outcomes = []
    for seed in range(30):
        loop = flow.SimLoop(seed=seed, buggify=True)
        network = net.SimNetwork(loop)
        a, b = network.add_host("a"), network.add_host("b")
        outcome, got, sent, _ = loop.run(echo_workload(network, a, b, frames(1500)))
        assert sent.startswith(got)
        outcomes.append(outcome)
    assert "reset" in outcomes and "ok" in outcomes

    loop = flow.SimLoop(seed=0, buggify=False)
    network = net.SimNetwork(loop)
    a, b = network.add_host("a"), network.add_host("b")
    assert loop.run(echo_workload(network, a, b, frames(1500)))[0] == "ok"


# -- back-pressure, statistics, traces, replay -------------------------------

def test_window_bounds_what_is_in_flight_when_the_reader_sleeps():
    loop, network, (a, b) = make_sim(window=64 * 1024)
    payload = b"z" * (300 * 1024)

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        client.write(payload)
        yield flow.delay(1.0)
        stuck = client.pending_output()
        got = yield read_exactly(server, len(payload))
        return stuck, got, client.pending_output()

    stuck, got, after = loop.run(main)
    assert stuck == len(payload) - 64 * 1024
    assert got == payload and after == 0


def test_stats_count_traffic_per_host_and_faults_are_traced():
    loop, network, (a, b) = make_sim()
    events = []
    loop.trace_sink = events.append

    @flow.actor
    def main():
        _, client, server = yield connected(a, b)
        network.clog("b", 0.5)
        client.write(b"x" * 1000)
        yield read_exactly(server, 1000)
        network.partition("a", "b")
        network.heal("a", "b")
        network.kill_connection(client)
        network.kill_host("b")
        network.restart_host("b")

    loop.run(main)
    stats = network.stats()
    assert list(stats) == ["a", "b"]
    assert stats["a"]["bytes_sent"] == stats["b"]["bytes_received"] == 1000
    assert stats["a"]["segments_sent"] >= 1 and stats["a"]["resets"] == 1
    assert stats["a"]["connects"] == 1 and stats["b"]["accepts"] == 1
    kinds = [e["kind"] for e in events]
    for kind in ("NetClog", "NetPartition", "NetHeal", "NetKillConnection", "NetKillHost", "NetRestartHost"):
        assert kind in kinds


def chaos_run(seed):
    loop = flow.SimLoop(seed=seed)
    network = net.SimNetwork(loop, tail_probability=0.05, drop_rate=0.05)
    a, b = network.add_host("a"), network.add_host("b")
    network.clog_pair("a", "b", 0.3)
    result = loop.run(echo_workload(network, a, b, frames(300)))
    return result, loop.digest(), network.stats()


def test_the_same_seed_replays_exactly_and_another_seed_differs():
    first, second, other = chaos_run(11), chaos_run(11), chaos_run(12)
    assert first == second
    assert first[0][0] == "ok" and first[0][1] == first[0][2]
    assert first[1] != other[1]
    assert first[0][3] != other[0][3]  # the run took a different virtual time


def test_the_default_host_serves_code_written_against_network():
    loop = flow.SimLoop(seed=2)

    @flow.actor
    def main():
        network = net.network()
        assert isinstance(network, net.SimNetwork)
        listener = network.listen("127.0.0.1", 7000)
        app = network.add_host("app")
        accepted = listener.accept()
        conn = yield app.connect(network.DEFAULT_HOST, 7000)
        server = yield accepted
        refused = yield outcome_of(app.connect("127.0.0.1", 7000))  # loopback on "app": nothing listens
        return conn.peer, server.peer[0], listener.address, refused

    assert loop.run(main) == (("localhost", 7000), "app", ("localhost", 7000), "ConnectionRefused")
