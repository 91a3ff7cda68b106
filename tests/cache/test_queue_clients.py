"""A work queue driven by real redis-py clients, against flowcache and redis-server alike.

Producers RPUSH while consumers block in BLPOP (or BLMOVE + LREM, the reliable-queue
pattern of RQ-like libraries), each on its own connection, RESP3 and RESP2 mixed. The
point is what a queue user relies on: no item lost, none delivered twice, and FIFO per
producer as seen by each consumer (the interleaving across consumers is not observable).
"""

from __future__ import annotations

import collections
import itertools
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from support import free_port, redis_server_for_tests, start_flowcache, wait_for_port

PRODUCERS = 3
ITEMS_PER_PRODUCER = 2_000
TOTAL = PRODUCERS * ITEMS_PER_PRODUCER
CONSUMER_PROTOCOLS = (3, 3, 3, 2)  # one RESP2 consumer among RESP3 ones
BLOCK_TIMEOUT_S = 1
STOP = "stop"  # pushed once per consumer only after every item was consumed
DRAIN_DEADLINE_S = 30  # a safety net against a hung run, not a timing assertion

_key_counter = itertools.count()


@pytest.fixture(scope="module", params=["flowcache", "redis-server"])
def server_port(request):
    if request.param == "redis-server":
        with redis_server_for_tests() as port:
            yield port
        return
    port = free_port()
    proc = start_flowcache(port)
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a hung server must not hang the suite
            proc.kill()
            proc.wait(timeout=10)


def _client(port: int, protocol: int = 3) -> redis.Redis:
    return redis.Redis(port=port, protocol=protocol, decode_responses=True, socket_timeout=15)


def _item(producer: int, seq: int) -> str:
    return f"p{producer}:{seq:05d}"


def _parse(item: str) -> tuple[int, int]:
    producer, seq = item[1:].split(":")
    return int(producer), int(seq)


class QueueRun:
    """Shared bookkeeping so the main thread knows when to release the consumers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.consumed = 0
        self.all_consumed = threading.Event()
        self.give_up = threading.Event()

    def count_one(self) -> None:
        with self.lock:
            self.consumed += 1
            if self.consumed >= TOTAL:
                self.all_consumed.set()


def _produce(port: int, queue: str, producer: int) -> None:
    client = _client(port)
    try:
        for seq in range(ITEMS_PER_PRODUCER):
            client.rpush(queue, _item(producer, seq))
    finally:
        client.close()


def _consume_blpop(port: int, protocol: int, queue: str, run: QueueRun) -> list[str]:
    client = _client(port, protocol)
    received: list[str] = []
    try:
        while True:
            popped = client.blpop([queue], timeout=BLOCK_TIMEOUT_S)
            if popped is None:
                if run.give_up.is_set():
                    return received
                continue
            key, item = popped
            assert key == queue
            if item == STOP:
                return received
            received.append(item)
            run.count_one()
    finally:
        client.close()


def _consume_reliably(port: int, protocol: int, queue: str, processing: str, run: QueueRun) -> list[str]:
    """BLMOVE into a processing list, then acknowledge with LREM once 'done'."""
    client = _client(port, protocol)
    received: list[str] = []
    try:
        while True:
            item = client.blmove(queue, processing, BLOCK_TIMEOUT_S, "LEFT", "RIGHT")
            if item is None:
                if run.give_up.is_set():
                    return received
                continue
            assert client.lrem(processing, 1, item) == 1, f"{item!r} vanished from {processing}"
            if item == STOP:
                return received
            received.append(item)
            run.count_one()
    finally:
        client.close()


def _run_queue(port: int, queue: str, consume) -> list[list[str]]:
    """Producers and consumers concurrently; returns what each consumer received, in order."""
    run = QueueRun()
    with ThreadPoolExecutor(max_workers=PRODUCERS + len(CONSUMER_PROTOCOLS)) as pool:
        consumers = [pool.submit(consume, port, protocol, queue, run) for protocol in CONSUMER_PROTOCOLS]
        producers = [pool.submit(_produce, port, queue, p) for p in range(PRODUCERS)]
        for producer in producers:
            producer.result()
        if not run.all_consumed.wait(DRAIN_DEADLINE_S):
            run.give_up.set()  # let consumers leave on their next timeout; asserts below report the loss
        else:
            with _client(port) as releaser:
                releaser.rpush(queue, *([STOP] * len(CONSUMER_PROTOCOLS)))
        return [consumer.result() for consumer in consumers]


def _assert_exactly_once_fifo_per_producer(per_consumer: list[list[str]]) -> None:
    everything = [item for received in per_consumer for item in received]
    counts = collections.Counter(everything)
    duplicated = sorted(item for item, n in counts.items() if n > 1)
    expected = {_item(p, s) for p in range(PRODUCERS) for s in range(ITEMS_PER_PRODUCER)}
    lost = sorted(expected - counts.keys())
    unexpected = sorted(counts.keys() - expected)
    assert not duplicated, f"{len(duplicated)} duplicated, e.g. {duplicated[:5]}"
    assert not lost, f"{len(lost)} lost, e.g. {lost[:5]}"
    assert not unexpected, f"unexpected items {unexpected[:5]}"
    assert len(everything) == TOTAL
    for consumer, received in enumerate(per_consumer):
        by_producer: dict[int, list[int]] = collections.defaultdict(list)
        for item in received:
            producer, seq = _parse(item)
            by_producer[producer].append(seq)
        for producer, seqs in by_producer.items():
            out_of_order = [(a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]
            assert not out_of_order, (
                f"consumer {consumer} got producer {producer}'s items out of push order: {out_of_order[:5]}")


def test_blpop_queue_delivers_each_item_once_in_order(server_port):
    queue = f"queue-test:blpop:{next(_key_counter)}"
    per_consumer = _run_queue(server_port, queue, _consume_blpop)
    _assert_exactly_once_fifo_per_producer(per_consumer)
    with _client(server_port) as client:
        assert client.exists(queue) == 0


def test_blmove_reliable_queue_acknowledges_everything(server_port):
    queue = f"queue-test:blmove:{next(_key_counter)}"
    processing = f"{queue}:processing"

    def consume(port, protocol, queue_key, run):
        return _consume_reliably(port, protocol, queue_key, processing, run)

    per_consumer = _run_queue(server_port, queue, consume)
    _assert_exactly_once_fifo_per_producer(per_consumer)
    with _client(server_port) as client:
        assert client.llen(processing) == 0, client.lrange(processing, 0, 20)
        assert client.exists(queue, processing) == 0
