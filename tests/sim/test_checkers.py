"""The checkers must catch each kind of anomaly and never raise a false alarm.

Hand-written histories pin the verdicts and messages; random histories made
by running a reference Redis at chosen linearization points must always pass,
and the same histories with one reply corrupted must fail.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cache.reply import Error, Status
from sim.checkers import (Failure, check_linearizable, check_liveness, check_no_errors, check_queue,
                          check_ttl)
from sim.history import History

OK = Status(b"OK")
NOT_INTEGER = Error(b"ERR value is not an integer or out of range")


def history(*rows, events=()):
    """Rows are (client, command, sent, replied or None, reply); events are (time, kind, detail)."""
    made = History()
    for client, command, sent, replied, reply in rows:
        op = made.invoke(client, command.split() if isinstance(command, str) else command, sent)
        if replied is not None:
            made.complete(op, reply, replied)
    for at, kind, detail in events:
        made.event(at, kind, **detail)
    return made


def indexes(failure: Failure):
    return [op.index for op in failure.ops]


# ---------------------------------------------------------------- linearizability

def test_sequential_register_passes():
    result = check_linearizable(history(
        (1, "SET k v1", 0.0, 1.0, OK),
        (2, "GET k", 2.0, 3.0, b"v1"),
        (1, "DEL k", 4.0, 5.0, 1),
        (2, "GET k", 6.0, 7.0, None),
    ))
    assert result == [] and result.unknown == [] and result.stats["keys"] == 1


def test_stale_read_fails_with_the_overwrite_as_witness():
    result = check_linearizable(history(
        (1, "SET k v3", 0.0, 1.0, OK),
        (2, "SET k v4", 12.0, 12.1, OK),
        (3, "GET k", 12.3, 12.301, b"v3"),
        (4, "GET k", 13.0, 13.5, b"v4"),
    ))
    [failure] = result
    assert failure.checker == "linearizable" and failure.key == b"k"
    assert indexes(failure) == [0, 1, 2]
    assert failure.message == ("GET k at t=12.301 returned b'v3' but the write of b'v3' (last: SET k v3 completed "
                               "at t=1.000) was overwritten by SET k v4 completed at t=12.100")


def test_read_concurrent_with_a_write_may_see_either_value():
    for seen in (b"v1", b"v2"):
        assert check_linearizable(history(
            (1, "SET k v1", 0.0, 1.0, OK),
            (1, "SET k v2", 2.0, 5.0, OK),
            (2, "GET k", 3.0, 4.0, seen),
        )) == []


def test_reads_must_not_go_back_in_time_during_a_slow_write():
    result = check_linearizable(history(
        (1, "SET k v1", 0.0, 1.0, OK),
        (1, "SET k v2", 2.0, 9.0, OK),
        (2, "GET k", 3.0, 4.0, b"v2"),
        (3, "GET k", 5.0, 6.0, b"v1"),
    ))
    [failure] = result
    assert indexes(failure)[-1] == 3


def test_lost_write_fails():
    [failure] = check_linearizable(history(
        (1, "SET k v", 0.0, 1.0, OK),
        (2, "GET k", 2.0, 3.0, None),
    ))
    assert indexes(failure) == [0, 1]
    assert "lost write" in failure.message and "returned nil" in failure.message


def test_value_nobody_wrote_fails():
    [failure] = check_linearizable(history((1, "SET k a", 0.0, 1.0, OK), (2, "GET k", 2.0, 3.0, b"zzz")))
    assert indexes(failure) == [1]
    assert failure.message == "GET k at t=3.000 returned b'zzz', a value no operation ever wrote to b'k'"


def test_incr_lost_update_fails():
    [failure] = check_linearizable(history(
        (1, "INCR c", 0.0, 1.0, 1),
        (2, "INCR c", 2.0, 3.0, 1),
    ))
    assert indexes(failure) == [0, 1]
    assert "one of the two increments was lost" in failure.message


def test_concurrent_increments_may_finish_in_any_order():
    assert check_linearizable(history(
        (1, "INCR c", 0.0, 5.0, 2),
        (2, "INCR c", 1.0, 4.0, 1),
        (3, "INCRBY c 10", 6.0, 7.0, 12),
        (3, "DECR c", 8.0, 9.0, 11),
    )) == []


def test_incr_on_a_non_integer_is_an_error_that_changes_nothing():
    assert check_linearizable(history(
        (1, "SET c abc", 0.0, 1.0, OK),
        (1, "INCR c", 2.0, 3.0, NOT_INTEGER),
        (1, "GET c", 4.0, 5.0, b"abc"),
    )) == []
    assert len(check_linearizable(history((1, "SET c abc", 0.0, 1.0, OK), (1, "INCR c", 2.0, 3.0, 1)))) == 1
    assert len(check_linearizable(history((1, "SET c 5", 0.0, 1.0, OK), (1, "INCR c", 2.0, 3.0, NOT_INTEGER)))) == 1


def test_incomplete_write_explains_an_otherwise_impossible_read():
    rows = [
        (1, "SET k v1", 0.0, 1.0, OK),
        (2, "SET k v2", 1.5, None, None),  # timed out: may or may not have happened
        (3, "GET k", 5.0, 6.0, b"v2"),
    ]
    assert check_linearizable(history(*rows)) == []
    assert check_linearizable(history(*rows[:2], (3, "GET k", 5.0, 6.0, b"v1"))) == []
    result = check_linearizable(history(*rows, (3, "GET k", 7.0, 8.0, b"v1")))
    assert len(result) == 1 and indexes(result[0])[-1] == 3


def test_max_delay_bounds_when_a_lost_op_can_take_effect():
    rows = [(1, "SET k v1", 0.0, 1.0, OK), (2, "SET k v2", 1.5, None, None), (3, "GET k", 5.0, 6.0, b"v1"),
            (3, "GET k", 7.0, 8.0, b"v2")]
    assert check_linearizable(history(*rows)) == []
    [failure] = check_linearizable(history(*rows), max_delay=1.0)
    assert indexes(failure)[-1] == 3


def test_restart_makes_losing_the_data_legal_only_after_the_kill():
    rows = [(1, "SET k v", 0.0, 1.0, OK), (2, "GET k", 4.0, 5.0, None)]
    outage = [(2.0, "kill", {}), (3.0, "restart", {})]
    assert check_linearizable(history(*rows, events=outage)) == []
    assert len(check_linearizable(history(*rows))) == 1
    before_the_kill = check_linearizable(history(rows[0], (2, "GET k", 1.2, 1.8, None), events=outage))
    assert len(before_the_kill) == 1


def test_restart_event_alone_marks_the_loss_at_restart():
    rows = [(1, "SET k v", 0.0, 1.0, OK), (2, "GET k", 4.0, 5.0, None)]
    assert check_linearizable(history(*rows, events=[(3.0, "restart", {})])) == []


def test_eviction_may_drop_a_key_at_its_time():
    rows = [(1, "SET k v", 0.0, 1.0, OK)]
    evicted = [(2.0, "evict", {"key": b"k"})]
    assert check_linearizable(history(*rows, (2, "GET k", 3.0, 4.0, None), events=evicted)) == []
    assert check_linearizable(history(*rows, (2, "GET k", 3.0, 4.0, b"v"), events=evicted)) == []
    assert len(check_linearizable(history(*rows, (2, "GET k", 1.2, 1.5, None), events=evicted))) == 1
    other_key = [(2.0, "evict", {"key": b"other"})]
    assert len(check_linearizable(history(*rows, (2, "GET k", 3.0, 4.0, None), events=other_key))) == 1


def test_mset_and_mget_are_projected_onto_each_key():
    rows = [(1, "MSET a 1 b 2", 0.0, 1.0, OK)]
    assert check_linearizable(history(*rows, (2, "MGET a b", 2.0, 3.0, [b"1", b"2"]))) == []
    [failure] = check_linearizable(history(*rows, (2, "MGET a b", 2.0, 3.0, [b"1", None])))
    assert failure.key == b"b" and indexes(failure) == [0, 1]


def test_multi_key_del_count_constrains_each_key():
    rows = [(1, "SET a 1", 0.0, 1.0, OK)]
    assert check_linearizable(history(*rows, (1, "DEL a b", 2.0, 3.0, 1), (1, "GET a", 4.0, 5.0, None))) == []
    [failure] = check_linearizable(history(*rows, (1, "DEL a b", 2.0, 3.0, 2)))
    assert failure.key == b"b"
    assert check_linearizable(history(*rows, (1, "EXISTS a a b", 2.0, 3.0, 2))) == []
    # 1 = a absent (it would count twice) and b present: impossible for both keys.
    assert [f.key for f in check_linearizable(history(*rows, (1, "EXISTS a a b", 2.0, 3.0, 1)))] == [b"a", b"b"]


def test_set_options_follow_redis():
    assert check_linearizable(history(
        (1, "SET k a NX", 0.0, 1.0, OK),
        (1, "SET k b NX", 2.0, 3.0, None),
        (1, "SET k c XX GET", 4.0, 5.0, b"a"),
        (1, "SET k d NX GET", 6.0, 7.0, b"c"),
        (1, "GETSET k e", 8.0, 9.0, b"c"),
        (1, "GETDEL k", 10.0, 11.0, b"e"),
        (1, "SET k f XX", 12.0, 13.0, None),
        (1, "SETNX k g", 14.0, 15.0, 1),
        (1, "APPEND k hh", 16.0, 17.0, 3),
        (1, "STRLEN k", 18.0, 19.0, 3),
        (1, "GET k", 20.0, 21.0, b"ghh"),
    )) == []
    assert len(check_linearizable(history((1, "SET k a", 0.0, 1.0, OK), (1, "SET k b NX", 2.0, 3.0, OK)))) == 1


def test_refused_commands_have_no_effect_but_wrongtype_on_a_string_fails():
    assert check_linearizable(history(
        (1, "SET k v", 0.0, 1.0, Error(b"OOM command not allowed when used memory > 'maxmemory'.")),
        (1, "SET k v PX 0", 2.0, 3.0, Error(b"ERR invalid expire time in 'set' command")),
        (1, "GET k", 4.0, 5.0, None),
    )) == []
    wrongtype = Error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
    assert len(check_linearizable(history((1, "SET k v", 0.0, 1.0, OK), (1, "GET k", 2.0, 3.0, wrongtype)))) == 1


def test_a_key_with_a_ttl_may_vanish_after_its_deadline_but_not_before():
    write = (1, "SET k v PX 100", 0.0, 0.001, OK)
    assert check_linearizable(history(write, (2, "GET k", 0.2, 0.21, None))) == []
    assert len(check_linearizable(history(write, (2, "GET k", 0.05, 0.06, None)))) == 1
    back_from_the_dead = check_linearizable(history(write, (2, "GET k", 0.2, 0.21, None),
                                                    (2, "GET k", 0.3, 0.31, b"v")))
    assert len(back_from_the_dead) == 1
    persisted = history(write, (1, "PERSIST k", 0.01, 0.02, 1), (2, "GET k", 0.2, 0.21, None))
    assert len(check_linearizable(persisted)) == 1


def test_exhausted_search_is_unknown_not_a_failure():
    rows = [(client, f"SET k v{client}", 0.0, 10.0, OK) for client in range(6)]
    result = check_linearizable(history(*rows, (9, "GET k", 11.0, 12.0, b"v3")), max_search_steps=2)
    assert result == [] and len(result.unknown) == 1
    assert result.unknown[0].key == b"k" and "gave up" in result.unknown[0].reason


def test_keys_of_other_types_are_skipped_and_mixed_keys_reported_unknown():
    result = check_linearizable(history(
        (1, "RPUSH q a", 0.0, 1.0, 1),
        (1, "DEL q", 2.0, 3.0, 1),
        (1, "SET k v", 0.0, 1.0, OK),
        (1, "SETRANGE k 0 x", 2.0, 3.0, 1),
    ))
    assert result == [] and list(result.stats["skipped"]) == [b"q"]
    assert [u.key for u in result.unknown] == [b"k"]


# ---------------------------------------------------------------- TTL

def test_late_read_fails():
    [failure] = check_ttl(history(
        (1, "SET k v PX 500", 12.0, 12.001, OK),
        (2, "GET k", 13.0, 13.001, b"v"),
    ))
    assert failure.checker == "ttl" and indexes(failure) == [0, 1]
    assert "so it had expired by t=12.50" in failure.message


def test_read_just_before_the_deadline_or_with_skew_passes():
    write = (1, "SET k v PX 500", 12.0, 12.001, OK)
    assert check_ttl(history(write, (2, "GET k", 12.45, 12.6, b"v"))) == []
    assert check_ttl(history(write, (2, "GET k", 13.0, 13.001, b"v")), skew=0.3) == []


def test_ttl_changes_are_followed_conservatively():
    write = (1, "SET k v PX 500", 12.0, 12.001, OK)
    late = (2, "GET k", 13.0, 13.001, b"v")
    assert check_ttl(history(write, (1, "PEXPIRE k 5000", 12.2, 12.3, 1), late)) == []
    assert check_ttl(history(write, (1, "PERSIST k", 12.2, None, None), late)) == []
    assert check_ttl(history(write, (1, "SET k v", 12.9, None, None), late)) == []
    shortened = check_ttl(history((1, "SET k v", 0.0, 0.001, OK), (1, "PEXPIRE k 100", 1.0, 1.001, 1),
                                  (2, "GET k", 5.0, 5.001, b"v")))
    assert len(shortened) == 1 and indexes(shortened[0]) == [0, 1, 2]


def test_early_expiry_fails():
    [failure] = check_ttl(history(
        (1, "SET k v PX 10000", 0.0, 0.001, OK),
        (2, "GET k", 1.0, 1.001, None),
    ))
    assert indexes(failure) == [0, 1] and "expired early" in failure.message


def test_nil_read_is_fine_when_something_could_explain_it():
    write = (1, "SET k v PX 10000", 0.0, 0.001, OK)
    read = (2, "GET k", 1.0, 1.001, None)
    assert check_ttl(history(write, read, events=[(0.5, "evict", {"key": b"k"})])) == []
    assert check_ttl(history(write, read, events=[(0.5, "kill", {}), (0.6, "restart", {})])) == []
    assert check_ttl(history(write, (3, "DEL k", 0.9, 1.2, 1), read)) == []
    assert check_ttl(history(write, (3, "FLUSHALL", 0.5, None, None), read)) == []
    assert check_ttl(history((1, "SET k v PX 100", 0.0, 0.001, OK), read)) == []


# ---------------------------------------------------------------- queues

def test_queue_that_delivers_everything_once_passes():
    result = check_queue(history(
        (1, "RPUSH q a", 0.0, 1.0, 1),
        (1, "RPUSH q b c", 2.0, 3.0, 3),
        (2, "LPOP q", 4.0, 5.0, b"a"),
        (2, "BLPOP q 1", 6.0, 7.0, [b"q", b"b"]),
        (2, "LRANGE q 0 -1", 8.0, 9.0, [b"c"]),
    ))
    assert result == [] and result.unknown == []


def test_item_popped_twice_fails():
    [failure] = check_queue(history(
        (1, "RPUSH q a", 0.0, 1.0, 1),
        (2, "LPOP q", 2.0, 3.0, b"a"),
        (3, "BLPOP q 0", 2.0, 4.0, [b"q", b"a"]),
    ))
    assert indexes(failure) == [0, 1, 2] and "popped 2 times" in failure.message


def test_item_never_pushed_fails():
    [failure] = check_queue(history((1, "RPUSH q a", 0.0, 1.0, 1), (2, "RPOP q", 2.0, 3.0, b"z")))
    assert indexes(failure) == [1] and "never pushed" in failure.message


def test_lost_push_fails_unless_a_restart_or_a_lost_reply_explains_it():
    rows = [(1, "RPUSH q a", 0.0, 1.0, 1), (1, "RPUSH q b", 1.5, 1.6, 2), (2, "LPOP q", 2.0, 3.0, b"a"),
            (2, "LPOP q", 4.0, 5.0, None)]
    [failure] = check_queue(history(*rows))
    assert indexes(failure) == [1, 3] and "lost push" in failure.message and "b'b'" in failure.message
    assert check_queue(history(*rows, events=[(3.2, "kill", {}), (3.5, "restart", {})]), killed=True) == []
    assert check_queue(history(*rows, (3, "BLPOP q 0", 3.0, None, None))) == []
    result = check_queue(history(*rows), killed=True)
    assert result == [] and "killed" in result.unknown[0].reason


def test_restart_before_the_push_does_not_excuse_its_loss():
    rows = [(1, "RPUSH q a", 5.0, 6.0, 1), (2, "LRANGE q 0 -1", 7.0, 8.0, [])]
    assert len(check_queue(history(*rows, events=[(1.0, "kill", {}), (2.0, "restart", {})]))) == 1


def test_popped_item_still_in_the_queue_later_fails():
    [failure] = check_queue(history(
        (1, "RPUSH q a", 0.0, 1.0, 1),
        (2, "LPOP q", 2.0, 3.0, b"a"),
        (2, "LRANGE q 0 -1", 4.0, 5.0, [b"a"]),
    ))
    assert "still in it" in failure.message


def test_fifo_order_is_checked_only_with_a_single_consumer():
    rows = [(1, "RPUSH q a", 0.0, 1.0, 1), (1, "RPUSH q b", 2.0, 3.0, 2)]
    [failure] = check_queue(history(*rows, (2, "LPOP q", 4.0, 5.0, b"b"), (2, "LPOP q", 6.0, 7.0, b"a")))
    assert "not FIFO" in failure.message and indexes(failure) == [0, 1, 2, 3]
    two_consumers = history(*rows, (2, "LPOP q", 4.0, 5.0, b"b"), (3, "LPOP q", 6.0, 7.0, b"a"))
    assert check_queue(two_consumers) == []
    lifo = history((1, "LPUSH q a", 0.0, 1.0, 1), (1, "LPUSH q b", 2.0, 3.0, 2),
                   (2, "LPOP q", 4.0, 5.0, b"b"), (2, "LPOP q", 6.0, 7.0, b"a"))
    assert check_queue(lifo) == []


def test_queue_without_a_final_observation_is_unknown():
    result = check_queue(history((1, "RPUSH q a", 0.0, 1.0, 1)))
    assert result == [] and "final" in result.unknown[0].reason


def test_lmove_pops_from_the_source_and_pushes_to_the_destination():
    assert check_queue(history(
        (1, "RPUSH q a", 0.0, 1.0, 1),
        (2, "LMOVE q work LEFT RIGHT", 2.0, 3.0, b"a"),
        (2, "LPOP work", 4.0, 5.0, b"a"),
        (2, "LPOP q", 6.0, 7.0, None),
        (2, "LPOP work", 6.0, 7.0, None),
    )) == []


# ---------------------------------------------------------------- errors and liveness

def test_unexpected_errors_fail_once_per_distinct_message():
    result = check_no_errors(history(
        (1, "SET k v PX 0", 0.0, 1.0, Error(b"ERR invalid expire time in 'set' command")),
        (2, "SET k v PX 0", 2.0, 3.0, Error(b"ERR invalid expire time in 'set' command")),
        (3, "GET k", 4.0, 5.0, Error(b"LOADING Redis is loading the dataset in memory")),
        (3, "GET k", 6.0, 7.0, b"v"),
    ), allowed=("LOADING",))
    [failure] = result
    assert indexes(failure) == [0] and "2 replies like it" in failure.message


def test_liveness_after_heal():
    healthy = history((1, "GET k", 10.5, 11.0, None), (1, "GET k", 11.0, 11.5, None), (2, "GET k", 9.0, 10.2, b"v"),
                      (1, "GET k", 20.0, 20.1, None))
    assert check_liveness(healthy, heal_time=10.0, bound=2.0) == []
    stuck = history((1, "GET k", 10.5, None, None), (1, "GET k", 11.5, None, None), (1, "GET k", 15.0, None, None),
                    (2, "GET k", 10.5, 10.6, None), (2, "GET k", 20.0, 20.1, None))
    [failure] = check_liveness(stuck, heal_time=10.0, bound=2.0)
    assert failure.checker == "liveness" and indexes(failure) == [0, 1] and "client 1" in failure.message
    late = history((1, "GET k", 10.5, 10.6, None), (1, "GET k", 14.0, None, None), (1, "BLPOP q 0", 15.0, None, None),
                   (2, "GET k", 20.0, 20.1, None))
    [failure] = check_liveness(late, heal_time=10.0, bound=2.0)
    assert indexes(failure) == [1]
    assert check_liveness(late, heal_time=10.0, bound=2.0, end_time=15.0) == []


# ---------------------------------------------------------------- random correct histories

class Reference:
    """Redis 7.0 string semantics, applied at the instants the test chooses."""

    def __init__(self) -> None:
        self.data: dict[bytes, list] = {}

    def live(self, key, now):
        entry = self.data.get(key)
        if entry is not None and entry[1] is not None and now > entry[1]:
            del self.data[key]
            return None
        return entry

    def run(self, command, now):
        name, args = command[0], command[1:]
        if name == b"GET":
            entry = self.live(args[0], now)
            return None if entry is None else entry[0]
        if name == b"SET":
            entry = self.live(args[0], now)
            old = None if entry is None else entry[0]
            reply = old if b"GET" in args else OK
            if (b"NX" in args and entry is not None) or (b"XX" in args and entry is None):
                return old if b"GET" in args else None
            ttl = int(args[args.index(b"PX") + 1]) / 1000 if b"PX" in args else None
            if b"KEEPTTL" in args and entry is not None:
                self.data[args[0]] = [args[1], entry[1]]
            else:
                self.data[args[0]] = [args[1], None if ttl is None else now + ttl]
            return reply
        if name == b"SETNX":
            return 0 if self.run((b"SET", args[0], args[1], b"NX"), now) is None else 1
        if name == b"GETDEL":
            old = self.run((b"GET", args[0]), now)
            self.data.pop(args[0], None)
            return old
        if name == b"STRLEN":
            old = self.run((b"GET", args[0]), now)
            return 0 if old is None else len(old)
        if name == b"DEL":
            gone = [key for key in dict.fromkeys(args) if self.live(key, now) is not None]
            for key in gone:
                del self.data[key]
            return len(gone)
        if name == b"INCR":
            entry = self.live(args[0], now)
            text = b"0" if entry is None else entry[0]
            if not text.lstrip(b"-").isdigit():
                return NOT_INTEGER
            self.data[args[0]] = [str(int(text) + 1).encode(), None if entry is None else entry[1]]
            return int(text) + 1
        if name == b"APPEND":
            entry = self.live(args[0], now)
            value = (b"" if entry is None else entry[0]) + args[1]
            self.data[args[0]] = [value, None if entry is None else entry[1]]
            return len(value)
        if name == b"MSET":
            for i in range(0, len(args), 2):
                self.data[args[i]] = [args[i + 1], None]
            return OK
        if name == b"MGET":
            return [self.run((b"GET", key), now) for key in args]
        if name == b"GETSET":
            old = self.run((b"GET", args[0]), now)
            self.data[args[0]] = [args[1], None]
            return old
        if name == b"EXISTS":
            return sum(self.live(key, now) is not None for key in args)
        if name == b"PEXPIRE":
            entry = self.live(args[0], now)
            if entry is None:
                return 0
            entry[1] = now + int(args[1]) / 1000
            return 1
        if name == b"PTTL":
            entry = self.live(args[0], now)
            if entry is None:
                return -2
            return -1 if entry[1] is None else int((entry[1] - now) * 1000)
        if name == b"PERSIST":
            entry = self.live(args[0], now)
            if entry is None or entry[1] is None:
                return 0
            entry[1] = None
            return 1
        raise AssertionError(name)


VALUE = b"$value"  # stands for the op's own value until `with_value` writes it in


@functools.lru_cache(maxsize=None)
def commands(keys, ttl, register):
    """One strategy per shape, built once: building it per op made hypothesis spend its time labelling."""
    key = st.sampled_from(keys)
    value = VALUE
    if register:
        return st.one_of(st.tuples(st.just(b"GET"), key), st.tuples(st.just(b"SET"), key, st.just(value)))
    choices = [
        st.tuples(st.just(b"GET"), key),
        st.tuples(st.just(b"SET"), key, st.just(value)),
        st.tuples(st.just(b"SET"), key, st.just(value), st.just(b"NX")),
        st.tuples(st.just(b"DEL"), key),
        st.tuples(st.just(b"DEL"), key, key),
        st.tuples(st.just(b"INCR"), key),
        st.tuples(st.just(b"APPEND"), key, st.just(b"x")),
        st.tuples(st.just(b"MSET"), key, st.just(value + b"a"), key, st.just(value + b"b")),
        st.tuples(st.just(b"MGET"), key, key),
        st.tuples(st.just(b"GETSET"), key, st.just(value)),
        st.tuples(st.just(b"EXISTS"), key, key),
        st.tuples(st.just(b"SETNX"), key, st.just(value)),
        st.tuples(st.just(b"GETDEL"), key),
        st.tuples(st.just(b"STRLEN"), key),
        st.tuples(st.just(b"SET"), key, st.just(value), st.sampled_from([b"XX", b"NX"]), st.just(b"GET")),
    ]
    if ttl:
        choices += [
            st.tuples(st.just(b"SET"), key, st.just(value), st.just(b"PX"), st.sampled_from([b"5", b"20", b"60"])),
            st.tuples(st.just(b"PEXPIRE"), key, st.sampled_from([b"5", b"40"])),
            st.tuples(st.just(b"PERSIST"), key),
            st.tuples(st.just(b"PTTL"), key),
            st.tuples(st.just(b"SET"), key, st.just(value), st.just(b"KEEPTTL")),
            st.tuples(st.just(b"GET"), key),
        ]
    return st.one_of(choices)


def with_value(command, serial):
    """The command with VALUE replaced by this op's unique value (v<serial>, v<serial>a...)."""
    value = b"v%d" % serial
    return tuple(value + arg[len(VALUE):] if arg.startswith(VALUE) else arg for arg in command)


@st.composite
def correct_histories(draw, max_ops=25, ttl=False, faults=False, register=False):
    """Ops on 1-4 clients with random intervals; replies from a reference run at a point inside each."""
    clients = draw(st.integers(1, 4))
    keys = [b"a", b"b"][:draw(st.integers(1, 2))]
    clock = [0.0] * clients
    plans = []
    for serial in range(draw(st.integers(1, max_ops))):
        client = draw(st.integers(0, clients - 1))
        sent = clock[client] + draw(st.sampled_from([0.0, 0.001, 0.01, 0.03]))
        replied = sent + draw(st.sampled_from([0.0005, 0.004, 0.02, 0.05]))
        clock[client] = replied
        point = sent + draw(st.floats(0.0, 1.0)) * (replied - sent)
        lost = draw(st.integers(0, 7)) == 0
        applied = draw(st.booleans()) if lost else True
        command = with_value(draw(commands(tuple(keys), ttl, register)), serial)
        plans.append([serial, client, command, sent, replied, point, lost, applied])
    events = []
    timeline = []
    if faults and draw(st.booleans()):
        killed = draw(st.floats(0.0, max(clock)))
        restarted = killed + draw(st.sampled_from([0.0, 0.005, 0.03]))
        events += [(killed, "kill", {}), (restarted, "restart", {})]
        timeline.append((killed, 0, "clear", None))
        for plan in plans:
            if plan[3] <= restarted and plan[4] >= killed:
                plan[6] = True  # the connection broke: no reply
                plan[7] = plan[7] and plan[5] < killed
    if faults and draw(st.booleans()):
        evicted_at = draw(st.floats(0.0, max(clock)))
        evicted = draw(st.sampled_from(keys))
        events.append((evicted_at, "evict", {"key": evicted}))
        timeline.append((evicted_at, 0, "evict", evicted))
    for plan in plans:
        if plan[7]:
            timeline.append((plan[5], 1, "op", plan))
    reference = Reference()
    replies = {}
    for when, _, what, subject in sorted(timeline, key=lambda entry: (entry[0], entry[1], id(entry[3]))):
        if what == "clear":
            reference.data.clear()
        elif what == "evict":
            reference.data.pop(subject, None)
        else:
            replies[subject[0]] = reference.run(subject[2], when)
    made = History()
    for serial, client, command, sent, replied, point, lost, applied in sorted(plans, key=lambda p: p[3]):
        op = made.invoke(client, command, sent)
        if not lost:
            made.complete(op, replies[serial], replied)
    for when, kind, detail in events:
        made.event(when, kind, **detail)
    return made


# FLOWCACHE_CHECKER_EXAMPLES=5000 hunts harder for false alarms.
EXAMPLES = int(os.environ.get("FLOWCACHE_CHECKER_EXAMPLES", "50"))
RANDOM = settings(max_examples=EXAMPLES, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@RANDOM
@given(correct_histories())
def test_random_correct_histories_pass(made):
    result = check_linearizable(made)
    assert result == [], result.report()
    assert result.unknown == []
    # Lost ops took effect, if at all, no later than 0.05s after being sent.
    assert check_linearizable(made, max_delay=0.06) == []


@RANDOM
@given(correct_histories(ttl=True, faults=True))
def test_random_correct_histories_with_ttls_and_faults_pass_every_checker(made):
    for result in (check_linearizable(made), check_ttl(made)):
        assert result == [], result.report()


@RANDOM
@given(correct_histories(faults=True), st.data())
def test_a_value_nobody_wrote_always_fails(made, data):
    reads = [op for op in made.ops if op.name == b"GET" and op.complete is not None]
    assume(reads)
    data.draw(st.sampled_from(reads)).reply = b"never-written"
    assert len(check_linearizable(made)) == 1


@RANDOM
@given(correct_histories(faults=True), st.sampled_from([b"a", b"b"]))
def test_an_overwritten_value_read_after_the_overwrite_fails(made, key):
    """Append SET old; SET new; GET -> old, strictly after each other and everything else."""
    start = made.end_time() + 1.0
    for offset, command, reply in ((0, (b"SET", key, b"old"), OK), (1, (b"SET", key, b"new"), OK),
                                   (2, (b"GET", key), b"old")):
        op = made.invoke(9, command, start + offset)
        made.complete(op, reply, start + offset + 0.5)
    result = check_linearizable(made)
    assert len(result) == 1 and result[0].key == key
    assert result[0].ops[-1].index == len(made.ops) - 1


@RANDOM
@given(correct_histories(register=True), st.data())
def test_an_older_value_after_a_completed_overwrite_fails(made, data):
    """Mutate a read to return a value that an unconditional SET, finished before it, had replaced."""
    ops = made.ops
    candidates = []
    for read in ops:
        if read.name != b"GET" or read.complete is None:
            continue
        key = read.command[1]
        plain_sets = [op for op in ops if op.command[:2] == (b"SET", key) and len(op.command) == 3
                      and op.complete is not None]
        for old in plain_sets:
            for new in plain_sets:
                if new.invoke > old.complete and new.complete < read.invoke:
                    candidates.append((read, old.command[2]))
    assume(candidates)
    read, stale = data.draw(st.sampled_from(candidates))
    read.reply = stale
    assert len(check_linearizable(made)) == 1


@st.composite
def correct_queue_histories(draw):
    """Producers push unique items, consumers pop, a drain reads what is left; replies may be lost."""
    clients = draw(st.integers(2, 5))
    clock = [0.0] * clients
    plans = []
    for serial in range(draw(st.integers(1, 30))):
        client = draw(st.integers(0, clients - 1))
        sent = clock[client] + draw(st.sampled_from([0.0, 0.001, 0.01]))
        replied = sent + draw(st.sampled_from([0.0005, 0.004, 0.02]))
        clock[client] = replied
        command = draw(st.sampled_from([
            (b"RPUSH", b"q", b"i%d" % serial), (b"RPUSH", b"q", b"i%da" % serial, b"i%db" % serial),
            (b"LPOP", b"q"), (b"BLPOP", b"q", b"0.1"), (b"LPOP", b"q", b"2")]))
        lost = draw(st.integers(0, 6)) == 0
        plans.append([client, command, sent, replied, sent + draw(st.floats(0, 1)) * (replied - sent), lost,
                      draw(st.booleans()) if lost else True])
    killed = draw(st.booleans())
    kill_at = draw(st.floats(0.0, max(clock))) if killed else None
    end = max(clock) + 1.0
    plans.append([clients, (b"LRANGE", b"q", b"0", b"-1"), end, end + 0.001, end, False, True])
    if killed:
        for plan in plans:
            if plan[2] <= kill_at <= plan[3]:
                plan[5], plan[6] = True, plan[6] and plan[4] < kill_at
    queue = []
    replies = {}
    cleared = not killed
    for plan in sorted(plans, key=lambda p: p[4]):
        if not cleared and plan[4] >= kill_at:
            queue.clear()
            cleared = True
        if not plan[6]:
            continue
        name, args = plan[1][0], plan[1][1:]
        if name == b"RPUSH":
            queue.extend(args[1:])
            replies[id(plan)] = len(queue)
        elif name == b"LRANGE":
            replies[id(plan)] = list(queue)
        elif name == b"BLPOP":
            replies[id(plan)] = [b"q", queue.pop(0)] if queue else None
        elif len(args) == 2:
            taken, queue[:] = queue[:2], queue[2:]
            replies[id(plan)] = taken or None
        else:
            replies[id(plan)] = queue.pop(0) if queue else None
    made = History()
    for plan in sorted(plans, key=lambda p: p[2]):
        op = made.invoke(plan[0], plan[1], plan[2])
        if not plan[5]:
            made.complete(op, replies[id(plan)], plan[3])
    if killed:
        made.event(kill_at, "kill")
        made.event(kill_at, "restart")
    return made


@RANDOM
@given(correct_queue_histories())
def test_random_correct_queue_histories_pass(made):
    result = check_queue(made)
    assert result == [], result.report()


@RANDOM
@given(correct_queue_histories(), st.data())
def test_a_second_delivery_of_a_popped_item_fails(made, data):
    popped = [op for op in made.ops if op.name == b"LPOP" and op.complete is not None and isinstance(op.reply, bytes)]
    empty = [op for op in made.ops if op.name == b"LPOP" and op.complete is not None and op.reply is None]
    assume(popped and empty)
    data.draw(st.sampled_from(empty)).reply = data.draw(st.sampled_from(popped)).reply
    assert any("popped 2 times" in failure.message for failure in check_queue(made))


# ---------------------------------------------------------------- scale

def generate_register_history(ops=10_000, keys=16, clients=8, seed=7, lost_every=50):
    """A correct history from a reference run, like a busy simulated workload."""
    import random  # the test generates its own data; sim/ code never draws randomness itself

    rng = random.Random(seed)
    names = [b"k%d" % i for i in range(keys)]
    clock = [0.0] * clients
    plans = []
    for serial in range(ops):
        client = serial % clients
        sent = clock[client] + rng.uniform(0, 0.002)
        replied = sent + rng.uniform(0.0001, 0.004)
        clock[client] = replied
        key, other = rng.choice(names), rng.choice(names)
        command = rng.choice([(b"GET", key), (b"SET", key, b"v%d" % serial), (b"DEL", key), (b"INCR", key),
                              (b"MSET", key, b"m%d" % serial, other, b"n%d" % serial), (b"MGET", key, other)])
        plans.append((rng.uniform(sent, replied), serial, client, command, sent, replied))
    reference = Reference()
    replies = {serial: reference.run(command, point) for point, serial, _, command, _, _ in sorted(plans)}
    made = History()
    for point, serial, client, command, sent, replied in sorted(plans, key=lambda p: p[4]):
        op = made.invoke(client, command, sent)
        if serial % lost_every:
            made.complete(op, replies[serial], replied)
    return made


def test_reports_do_not_depend_on_the_hash_seed():
    """Seed replay needs the same report in every process (bytes hashing is salted)."""
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from test_checkers import generate_register_history\n"
        "from sim.checkers import check_linearizable\n"
        "made = generate_register_history(ops=1500, keys=4, lost_every=10)\n"
        "made.ops[1200].reply = b'never-written'\n"
        "result = check_linearizable(made)\n"
        "print(result.report(), result.stats['steps'])\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script, here, root], env=env, capture_output=True, text=True,
                              check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_ten_thousand_ops_over_sixteen_keys_check_quickly():
    made = generate_register_history()
    started = time.perf_counter()
    result = check_linearizable(made)
    elapsed = time.perf_counter() - started
    print(f"\ncheck_linearizable: {len(made.ops)} ops, 16 keys, 8 clients, 2% without reply: "
          f"{elapsed:.2f}s, {result.stats['steps']} search steps")
    assert result == [] and result.unknown == []
    read = next(op for op in made.ops[5000:] if op.name == b"GET" and op.complete is not None)
    read.reply = b"never-written"
    [failure] = check_linearizable(made)
    assert failure.ops == [read]
