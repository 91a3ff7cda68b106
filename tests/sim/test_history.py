"""The history record the checkers read: indexes, replies, events, the JSON report."""

from __future__ import annotations

import json

from cache.reply import NULL_ARRAY, Error, Status
from sim.history import History, Op, show, show_reply


def test_invoke_and_complete_record_ops_in_order():
    history = History()
    first = history.invoke(3, ["SET", "k", b"v1", "PX", 500], 1.0)
    second = history.invoke(4, (b"GET", b"k"), 1.5)
    history.complete(first, Status(b"OK"), 1.25)
    assert [op.index for op in history.ops] == [0, 1]
    assert first.command == (b"SET", b"k", b"v1", b"PX", b"500")
    assert (first.complete, first.reply) == (1.25, Status(b"OK"))
    assert second.complete is None and second.reply is None
    assert history.end_time() == 1.5


def test_events_keep_kind_time_and_detail():
    history = History()
    history.event(2.0, "kill")
    history.event(3.0, "restart")
    history.event(4.0, "evict", key=b"k")
    assert [(e.time, e.kind) for e in history.events] == [(2.0, "kill"), (3.0, "restart"), (4.0, "evict")]
    assert history.events[2].detail == {"key": b"k"}


def test_ops_describe_themselves_for_failure_messages():
    history = History()
    op = history.invoke(2, [b"GET", b"k\xff"], 12.3)
    assert op.text == "GET k\\xff"
    assert op.describe() == "GET k\\xff (client 2, sent t=12.300, no reply)"
    history.complete(op, b"v3", 12.301)
    assert op.describe().endswith("replied t=12.301: b'v3')")


def test_ops_are_hashable_by_identity():
    a = Op(1, (b"GET", b"k"), 0.0)
    b = Op(1, (b"GET", b"k"), 0.0)
    assert a != b and len({a, b}) == 2


def test_show_renders_replies_readably():
    assert show(None) == "nil" and show(NULL_ARRAY) == "nil"
    assert show(b"v1") == "b'v1'"
    assert show_reply(Status(b"OK")) == "OK"
    assert show_reply(Error(b"ERR syntax error")) == "error 'ERR syntax error'"
    assert show_reply([b"a", None, 3]) == "[b'a', nil, 3]"


def test_to_json_writes_one_safe_line_per_op_and_event_in_time_order(tmp_path):
    history = History()
    get = history.invoke(1, [b"GET", b"\x00\xffk"], 2.0)
    put = history.invoke(2, [b"SET", b"k", b"v"], 1.0)
    history.complete(put, Status(b"OK"), 1.5)
    history.complete(get, b"\xfe", 2.5)
    history.invoke(3, [b"INCR", b"k"], 3.0)
    failed = history.invoke(4, [b"INCR", b"k"], 3.1)
    history.complete(failed, Error(b"ERR value is not an integer or out of range"), 3.2)
    history.event(1.2, "evict", key=b"k")
    path = tmp_path / "history.jsonl"
    history.to_json(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["type"] for row in rows] == ["op", "event", "op", "op", "op"]
    assert rows[0] == {"type": "op", "index": 1, "client": 2, "input": ["SET", "k", "v"], "call": 1.0,
                       "return": 1.5, "output": {"status": "OK"}}
    assert rows[1]["detail"] == {"key": "k"}
    assert rows[2]["input"] == ["GET", "\\x00\\xffk"] and rows[2]["output"] == "\\xfe"
    assert rows[3]["return"] is None and rows[3]["output"] is None
    assert rows[4]["output"] == {"error": "ERR value is not an integer or out of range"}
