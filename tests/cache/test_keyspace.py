"""The Database data model: lazy expiry, slot compaction, SCAN's guarantee, active expiry."""

from __future__ import annotations

import gc
import sys
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from cache import keyspace
from cache.keyspace import (
    LOOP_COST_US,
    Database,
    ExpireCycle,
    active_expire_cycle,
    copy_value,
    object_encoding,
    type_name,
)
from cache.memory import ENTRY_SIZE, alloc
from tests.cache.harness import Harness


def fresh_db(seed: int = 1) -> tuple[Harness, Database]:
    h = Harness(seed)
    return h, h.server.dbs[0]


def full_scan(db: Database, count: int = 10, between=None) -> list[bytes]:
    """Every key one complete SCAN iteration returns; `between(step)` runs after each call."""
    seen: list[bytes] = []
    cursor = 0
    step = 0
    while True:
        cursor, keys = db.scan(cursor, count)
        seen.extend(keys)
        step += 1
        if between is not None:
            between(step)
        if cursor == 0:
            return seen


def test_lazy_expiry_removes_the_key_and_counts_it():
    h, db = fresh_db()
    db.set_key(b"k", b"v")
    db.set_expire(b"k", h.now_ms + 100)
    assert db.lookup_read(b"k") == b"v"
    h.advance(100)
    assert db.lookup_read(b"k") == b"v", "a key expires strictly after its expire time"
    h.advance(1)
    assert db.lookup_read(b"k") is None
    assert len(db) == 0
    assert h.server.stats.expired_keys == 1
    assert (h.server.stats.keyspace_hits, h.server.stats.keyspace_misses) == (2, 1)


def test_write_lookups_count_no_hits_or_misses():
    h, db = fresh_db()
    db.set_key(b"k", b"v")
    db.lookup_write(b"k")
    db.lookup_write(b"missing")
    assert (h.server.stats.keyspace_hits, h.server.stats.keyspace_misses) == (0, 0)


def test_set_key_drops_the_ttl_unless_asked_to_keep_it():
    h, db = fresh_db()
    db.set_key(b"k", b"1")
    db.set_expire(b"k", h.now_ms + 1000)
    db.set_key(b"k", b"2", keep_ttl=True)
    assert db.get_expire(b"k") == h.now_ms + 1000
    db.set_key(b"k", b"3")
    assert db.get_expire(b"k") is None


def test_setting_an_expired_key_with_keepttl_starts_a_fresh_key():
    h, db = fresh_db()
    db.set_key(b"k", b"1")
    db.set_expire(b"k", h.now_ms + 10)
    h.advance(11)
    db.set_key(b"k", b"2", keep_ttl=True)
    assert db.get_expire(b"k") is None
    assert db.lookup_read(b"k") == b"2"
    assert h.server.stats.expired_keys == 1


def _mutate_everything(h: Harness, db: Database) -> None:
    db.set_key(b"a", b"1")  # new key
    db.set_key(b"a", b"22")  # overwrite (the short path)
    db.set_expire(b"a", h.now_ms + 5)
    db.persist(b"a")
    db.add(b"b", b"2")
    db.replace_value(b"b", db.entry_for_write(b"b"), b"3")
    db.set_many([b"MSET", b"a", b"x", b"c", b"y"])
    db.delete(b"b")
    db.set_expire(b"a", h.now_ms + 5)
    h.advance(6)
    db.lookup_read(b"a")  # lazy expiry


EVERY_MUTATION = [b"a", b"a", b"a", b"a", b"b", b"b", b"a", b"c", b"b", b"a", b"a"]


def test_every_mutation_reaches_the_key_modified_hooks(monkeypatch):
    h, db = fresh_db()
    seen: list[bytes] = []
    monkeypatch.setattr(keyspace, "KEY_MODIFIED_HOOKS",
                        [*keyspace.KEY_MODIFIED_HOOKS, lambda db, key: seen.append(key)])
    _mutate_everything(h, db)
    assert seen == EVERY_MUTATION


def test_watch_hooks_run_only_while_someone_watches(monkeypatch):
    h, db = fresh_db()
    seen: list[bytes] = []
    monkeypatch.setattr(keyspace, "WATCH_HOOKS", [lambda db, key: seen.append(key)])
    db.set_key(b"a", b"0")
    assert seen == []
    keyspace.set_watching(h.server, "test", True)
    keyspace.set_watching(h.server, "other", True)
    db.flush()
    _mutate_everything(h, db)
    assert seen == EVERY_MUTATION
    keyspace.set_watching(h.server, "test", False)
    db.set_key(b"a", b"1")
    assert seen[-1:] == [b"a"]  # "other" still watches
    keyspace.set_watching(h.server, "other", False)
    db.set_key(b"a", b"2")
    db.set_many([b"MSET", b"a", b"3"])
    assert len(seen) == len(EVERY_MUTATION) + 1
    other = Harness().server
    keyspace.set_watching(other, "test", True)  # another server's watchers do not count
    db.set_key(b"a", b"4")
    assert len(seen) == len(EVERY_MUTATION) + 1


def test_dead_slots_are_compacted_and_live_order_is_kept():
    h, db = fresh_db()
    for i in range(1000):
        db.set_key(b"k%d" % i, b"v")
    for i in range(0, 1000, 3):
        db.delete(b"k%d" % i)
    for i in range(1, 1000, 3):
        db.delete(b"k%d" % i)
    assert db.epoch >= 1, "deleting two thirds must have triggered a compaction"
    assert len(db.slots) < 1000
    live = [key for key in db.slots if key in db.data]
    assert live == [b"k%d" % i for i in range(2, 1000, 3)] == list(db.data)
    assert_slots_cover_the_keys(db)


def assert_slots_cover_the_keys(db: Database) -> None:
    """One slot per key ever added since the last compaction: live iff in `data`, the
    others `dead` and listed in `gone`."""
    assert len(db.slots) == len(set(db.slots)), "a key holds two slots"
    assert len(db.slots) == len(db.data) + db.dead
    assert set(db.data) <= set(db.slots)
    assert set(db.gone) == set(db.slots) - set(db.data)


def test_a_key_added_again_takes_its_dead_slot_back():
    h, db = fresh_db()
    for i in range(10):
        db.set_key(b"k%d" % i, b"v")
    db.delete(b"k3")
    db.set_expire(b"k5", h.now_ms + 1)
    h.advance(2)
    assert db.live_entry(b"k5") is None
    assert db.dead == 2
    db.set_key(bytes(bytearray(b"k3")), b"again")  # an equal key, another object
    db.add(b"k5", b"again")
    assert db.dead == 0 and db.slots == [b"k%d" % i for i in range(10)]
    assert_slots_cover_the_keys(db)
    assert sorted(db.keys(b"*")) == sorted(db.data)  # once each
    assert sorted(full_scan(db)) == sorted(db.data)
    db._compact()
    assert db.slots == [b"k%d" % i for i in range(10)] and db.dead == 0


def test_a_key_that_churns_does_not_crowd_out_the_others():
    """A queue emptied and refilled is deleted and re-created again and again; SCAN
    and RANDOMKEY must still see it as one key among others, as Redis does."""
    h = Harness()
    h.run("SET", "stable", "1")
    for _ in range(60):
        h.run("SET", "churn", "1")
        h.run("DEL", "churn")
    h.run("SET", "churn", "1")
    assert h.server.dbs[0].slots == [b"stable", b"churn"]
    assert sorted(h.run("SCAN", "0", "COUNT", "1000")[1]) == [b"churn", b"stable"]
    drawn = [h.run("RANDOMKEY") for _ in range(400)]
    assert 120 < drawn.count(b"stable") < 280  # Redis drew 198 of 400


def test_compaction_keeps_the_slots_covering_the_keys_under_churn():
    h, db = fresh_db()
    for i in range(300):
        db.set_key(b"k%d" % i, b"v")
    for round_ in range(5):
        for i in range(round_, 300, 2):
            db.delete(b"k%d" % i)
        for i in range(round_, 300, 4):
            db.set_key(b"k%d" % i, b"w")
        assert_slots_cover_the_keys(db)
    assert db.epoch >= 1


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["del", "add", "scan"]), st.integers(0, 299)),
                    min_size=1, max_size=400),
       count=st.integers(1, 25))
def test_scan_returns_every_key_present_for_the_whole_iteration(ops, count):
    """Redis's SCAN guarantee, across deletions, insertions and compactions."""
    h, db = fresh_db()
    for i in range(300):
        db.set_key(b"k%d" % i, b"v")
    survivors = {b"k%d" % i for i in range(300)}
    pending = list(ops)

    def churn(step):
        while pending:
            op, n = pending.pop(0)
            key = b"k%d" % n
            if op == "scan":
                return
            if op == "del":
                db.delete(key)
                survivors.discard(key)
            else:
                db.set_key(b"new%d-%d" % (n, step), b"v")
                db.set_key(key, b"v")

    seen = set(full_scan(db, count, churn))
    assert survivors <= seen
    assert_slots_cover_the_keys(db)


def test_scan_cursor_from_before_a_compaction_misses_nothing():
    h, db = fresh_db()
    for i in range(400):
        db.set_key(b"k%03d" % i, b"v")
    cursor, first = db.scan(0, 200)
    for i in range(0, 300):
        db.delete(b"k%03d" % i)
    assert db.epoch >= 1
    rest = []
    while cursor:
        cursor, keys = db.scan(cursor, 50)
        rest.extend(keys)
    assert {b"k%03d" % i for i in range(300, 400)} <= set(first) | set(rest)


def test_flush_invalidates_old_cursors_to_a_fresh_start():
    h, db = fresh_db()
    for i in range(100):
        db.set_key(b"k%d" % i, b"v")
    cursor, _ = db.scan(0, 50)
    db.flush()
    db.set_key(b"after", b"v")
    assert db.scan(cursor, 50) == (0, [b"after"])


def test_random_key_skips_dead_slots_and_removes_expired_keys():
    h, db = fresh_db()
    for i in range(10):
        db.set_key(b"k%d" % i, b"v")
        if i != 7:
            db.set_expire(b"k%d" % i, h.now_ms + 1)
    h.advance(2)
    assert [db.random_key() for _ in range(5)] == [b"k7"] * 5
    assert h.server.stats.expired_keys == 9 - (len(db) - 1)
    db.delete(b"k7")
    assert db.random_key() is None


def test_random_key_is_deterministic_per_seed():
    picks = []
    for _ in range(2):
        h, db = fresh_db(seed=42)
        for i in range(50):
            db.set_key(b"k%d" % i, b"v")
        picks.append([db.random_key() for _ in range(20)])
    assert picks[0] == picks[1]
    assert len(set(picks[0])) > 1


def test_active_expiry_removes_most_expired_keys_and_keeps_live_ones():
    h, db = fresh_db()
    for i in range(1000):
        db.set_key(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, h.now_ms + (10 if i % 10 else 10_000))
    for i in range(1000, 1100):
        db.set_key(b"k%d" % i, b"v")  # no TTL: never sampled
    h.advance(11)
    sampled, expired = ExpireCycle(h.server).run()
    assert expired > 500
    assert h.server.stats.expired_keys == expired
    assert all(key in db.data for key in (b"k%d" % i for i in range(0, 1000, 10)))
    assert len(db.data) >= 200
    assert db.avg_ttl > 0


def test_active_expiry_respects_its_budget():
    h, db = fresh_db()
    for i in range(5000):
        db.set_key(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, h.now_ms + 1)
    h.advance(2)
    cycle = ExpireCycle(h.server)
    sampled, expired = cycle.run(max_loops=3)
    assert (sampled, expired) == (60, 60)
    assert cycle.timelimit_exit
    assert h.server.stats.expired_time_cap_reached_count == 1
    calls = []
    cycle.run(deadline_reached=lambda: calls.append(1) or True)
    assert calls == [1], "the deadline is asked once every 16 loops"


def test_active_expiry_samples_only_volatile_keys():
    h, db = fresh_db()
    for i in range(100):
        db.set_key(b"plain%d" % i, b"v")
    db.set_key(b"ttl", b"v")
    db.set_expire(b"ttl", h.now_ms + 1)
    h.advance(2)
    assert ExpireCycle(h.server).run() == (1, 1)


def test_volatile_list_is_rebuilt_when_mostly_stale():
    h, db = fresh_db()
    for i in range(300):
        db.set_key(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, h.now_ms + 1000)
    for i in range(250):
        db.persist(b"k%d" % i)
    assert len(db.volatile) < 300
    assert set(db.expires) <= set(db.volatile)


def test_swap_contents_keeps_database_identity():
    h = Harness()
    a, b = h.server.dbs[0], h.server.dbs[1]
    a.set_key(b"x", b"1")
    a.set_expire(b"x", h.now_ms + 1000)
    a.swap_contents(b)
    assert (a.index, b.index) == (0, 1)
    assert a.lookup_read(b"x") is None
    assert b.lookup_read(b"x") == b"1" and b.get_expire(b"x") == h.now_ms + 1000


def test_value_type_registry_covers_strings():
    assert type_name(None) == b"none"
    assert type_name(b"x") == type_name(bytearray(b"x")) == b"string"
    assert [object_encoding(v) for v in (b"12", b"x" * 44, b"x" * 45, bytearray(b"1"))] == [
        b"int", b"embstr", b"raw", b"raw"]
    grown = bytearray(b"ab")
    assert copy_value(grown) == grown and copy_value(grown) is not grown


def _allocated(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes the allocator hands out for the traced blocks (pymalloc rounds up to 16)."""
    return sum(alloc(trace.size) for trace in snapshot.traces)


def test_small_keys_cost_only_their_documented_parts():
    """`key:NNNNNNN` -> 3-byte value: the Entry, the key and value objects and the key's
    share of the `data` dict and `slots` list, and nothing else per key.

    That is 48 + 48 + 48 + ~50 B, what cache.memory's model counts (~195 B at
    a mean dict load; bench/memory_bench.py runs the million against Redis).
    """
    h, db = fresh_db()
    n = 50_000
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(n):
        db.set_key(b"key:%07d" % i, b"%03d" % (i % 1000))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    per_key = (_allocated(after) - _allocated(before)) / n
    key, entry = next(iter(db.data.items()))
    fixed = sys.getsizeof(entry) + alloc(sys.getsizeof(key)) + alloc(sys.getsizeof(entry.value))
    shares = (sys.getsizeof(db.data) + sys.getsizeof(db.slots)) / n
    assert sys.getsizeof(entry) <= ENTRY_SIZE  # GC header included
    assert not db.sized, "a bytes value's estimate is computed, never stored"
    assert per_key <= fixed + shares + 0.5, f"{per_key:.1f} B/key, expected {fixed} + {shares:.1f}"
    assert abs(db.mem.used / n - per_key) < 0.1 * per_key  # the accounting's model agrees


def test_cron_entry_point_turns_hz_into_a_loop_budget():
    h, db = fresh_db()
    for i in range(100_000):
        db.set_key(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, h.now_ms + 1)
    h.advance(2)
    sampled, expired = active_expire_cycle(h.server, hz=10)
    budget_loops = 25 * 1_000_000 // 10 // 100 // LOOP_COST_US
    assert expired == sampled == budget_loops * 20
    assert h.server.stats.expired_time_cap_reached_count == 1
    h2, db2 = fresh_db()
    for i in range(1000):
        db2.set_key(b"k%d" % i, b"v")
        db2.set_expire(b"k%d" % i, h2.now_ms + 1)
    h2.advance(2)
    assert active_expire_cycle(h2.server, hz=500) == (16 * 20, 16 * 20), "at least 16 loops"
