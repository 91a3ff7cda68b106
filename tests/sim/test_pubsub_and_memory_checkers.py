"""The pub/sub and memory checkers on small hand-written histories."""

from __future__ import annotations

from sim.checkers.memory import check_memory
from sim.checkers.pubsub import check_pubsub
from sim.history import History


def publishes(history, *rows):
    """rows: (client, channel, payload, sent, replied, receivers)."""
    for client, channel, payload, sent, replied, receivers in rows:
        op = history.invoke(client, [b"PUBLISH", channel, payload], sent)
        if replied is not None:
            history.complete(op, receivers, replied)


def subscribed(history, time, subscriber, session, channel):
    history.event(time, "subscribed", subscriber=subscriber, session=session, channel=channel)


def received(history, time, subscriber, session, channel, payload):
    history.event(time, "received", subscriber=subscriber, session=session, channel=channel, payload=payload)


def base():
    history = History()
    publishes(history, (1, b"c", b"m1", 1.0, 1.1, 1), (1, b"c", b"m2", 2.0, 2.1, 1), (1, b"c", b"m3", 3.0, 3.1, 1))
    subscribed(history, 0.5, 9, 1, b"c")
    return history


def test_in_order_delivery_passes():
    history = base()
    for time, payload in ((1.05, b"m1"), (2.05, b"m2"), (3.05, b"m3")):
        received(history, time, 9, 1, b"c", payload)
    assert check_pubsub(history) == []


def test_a_duplicate_fails():
    history = base()
    received(history, 1.05, 9, 1, b"c", b"m1")
    received(history, 1.06, 9, 1, b"c", b"m1")
    [failure] = check_pubsub(history)
    assert "twice" in failure.message and failure.key == b"c"


def test_out_of_publish_order_fails():
    history = base()
    received(history, 2.05, 9, 1, b"c", b"m2")
    received(history, 2.06, 9, 1, b"c", b"m1")
    failures = check_pubsub(history)
    assert any("out of publish order" in f.message for f in failures)


def test_a_gap_while_subscribed_fails_but_not_across_sessions():
    history = base()
    received(history, 1.05, 9, 1, b"c", b"m1")
    received(history, 3.05, 9, 1, b"c", b"m3")
    [failure] = check_pubsub(history)
    assert "lost message" in failure.message and b"m2" in failure.ops[0].command

    history = base()
    received(history, 1.05, 9, 1, b"c", b"m1")
    subscribed(history, 2.5, 9, 2, b"c")  # a new connection after m2 was published
    received(history, 3.05, 9, 2, b"c", b"m3")
    assert check_pubsub(history) == []


def test_invented_and_premature_messages_fail():
    history = base()
    received(history, 0.9, 9, 1, b"c", b"m1")  # before PUBLISH m1 was sent at 1.0
    received(history, 1.5, 9, 1, b"c", b"zzz")
    messages = [f.message for f in check_pubsub(history)]
    assert any("before" in m for m in messages) and any("no PUBLISH sent" in m for m in messages)


def test_subscribers_must_agree_on_order_and_publish_counts_receivers():
    history = History()
    publishes(history, (1, b"c", b"a", 1.0, 1.2, 2), (2, b"c", b"b", 1.0, 1.2, 1))
    subscribed(history, 0.5, 8, 1, b"c")
    subscribed(history, 0.5, 9, 1, b"c")
    received(history, 1.1, 8, 1, b"c", b"a")
    received(history, 1.1, 8, 1, b"c", b"b")
    received(history, 1.1, 9, 1, b"c", b"b")
    received(history, 1.1, 9, 1, b"c", b"a")
    messages = [f.message for f in check_pubsub(history)]
    assert any("disagree on the order" in m for m in messages)
    assert any("replied 1 receivers, but 2" in m for m in messages)


def test_memory_over_the_limit_fails_with_slack():
    history = History()
    history.event(1.0, "memory", server="cache", used=900, maxmemory=1000)
    assert check_memory(history) == []
    history.event(2.0, "memory", server="cache", used=1050, maxmemory=1000)
    assert check_memory(history, slack=0.1) == []
    [failure] = check_memory(history)
    assert failure.checker == "memory" and "1050" in failure.message and failure.time == 2.0
    history.event(3.0, "memory", server="other", used=10 ** 9, maxmemory=0)  # no limit
    assert len(check_memory(history)) == 1
