"""The simulator finds bugs: plant a realistic one in the server, a shipped scenario catches it.

Each bug is monkeypatched into the running server for one test (no hook in
the product code). The scenario is the shipped file with a shorter fault
phase; the test stops at the first failing seed, which must come within
200 seeds, and then checks that the same seed passes once the bug is gone.
"""

from __future__ import annotations

import pytest

from cache import blocking, keyspace, pubsub, resp
from cache.commands import table

MAX_SEEDS = 200
SHORT = {"duration": 4.0, "heal": 2.0}


def find_bug(sim, monkeypatch, scenario: str, plant, *checkers: str):
    """The first seed (of at most MAX_SEEDS) failing one of `checkers` with the bug; it passes without."""
    with monkeypatch.context() as patch:
        plant(patch)
        failed = sim.first_failure(scenario, range(1, MAX_SEEDS + 1), **SHORT)
    assert failed is not None, f"{scenario} did not catch the bug in {MAX_SEEDS} seeds"
    assert any(line.startswith(tuple(f"[{c}]" for c in checkers)) for line in failed.failures), failed.failures
    print(f"{scenario}: caught at seed {failed.seed}: {failed.failures[0].splitlines()[0]}")
    healthy = sim.run(scenario, failed.seed, **SHORT)
    assert healthy.passed, healthy.failures
    return failed


def test_a_parser_that_takes_a_cr_at_the_end_of_a_read_for_a_whole_line_end(sim, monkeypatch):
    """A header split between its \\r and its \\n: the parser assumes the \\n arrived and skips it."""

    def plant(patch):
        def find_header(self, buf, pos, too_big):
            return self._find_line(buf, pos, b"\r", too_big)  # forgets: the \n may still be on its way
        patch.setattr(resp.RespParser, "_find_header", find_header)

    failed = find_bug(sim, monkeypatch, "scenarios/basic.toml", plant, "linearizable")
    assert "no order of the operations" in "\n".join(failed.failures) or "never wrote" in "\n".join(failed.failures)


def test_keys_that_expire_when_the_clock_reaches_their_deadline_instead_of_passing_it(sim, monkeypatch):
    """`when <= now` instead of Redis's `when < now`: every key dies a millisecond early."""

    def early(original):
        def lookup(self, key, *args):
            self.server.now_ms += 1  # compare as if with <=
            try:
                return original(self, key, *args)
            finally:
                self.server.now_ms -= 1
        return lookup

    def plant(patch):
        for name in ("live_entry", "lookup_read", "lookup_notouch", "lookup_write", "is_expired"):
            if hasattr(keyspace.Database, name):
                patch.setattr(keyspace.Database, name, early(getattr(keyspace.Database, name)))

    # The ttl checker sees a key missing before its deadline; the linearizable one, an EXPIRE or
    # a read that no order explains because the key was already gone.
    find_bug(sim, monkeypatch, "scenarios/ttl.toml", plant, "ttl", "linearizable")


def test_a_blocked_client_woken_again_by_its_timeout_after_being_served(sim, monkeypatch):
    """Serving a BLPOP forgets to cancel its timer, and the timer trusts it is still waiting."""

    def plant(patch):
        forget = blocking.forget

        def forget_leaving_the_timer(waiting):
            waiting.timer = None  # dropped without cancel(): it still fires
            forget(waiting)

        patch.setattr(blocking, "forget", forget_leaving_the_timer)
        patch.setattr(blocking, "_timed_out", lambda waiting: blocking.unblock(waiting, waiting.timeout_reply))

    failed = find_bug(sim, monkeypatch, "scenarios/queues.toml", plant, "no_errors")
    assert "promise set twice" in "\n".join(failed.failures)


def test_mset_that_drops_its_last_pair(sim, monkeypatch):
    """An off-by-one in MSET's loop: the last key of the command is acknowledged but never written."""
    spec = table.COMMANDS[b"mset"]
    original = spec.handler

    def plant(patch):
        patch.setattr(spec, "handler", lambda client, argv: original(client, argv[:-2] if len(argv) > 3 else argv))

    failed = find_bug(sim, monkeypatch, "scenarios/basic.toml", plant, "linearizable")
    assert "MSET" in "\n".join(failed.failures)


def test_a_publish_that_skips_the_last_subscriber_of_a_channel(sim, monkeypatch):
    """An off-by-one over a channel's subscribers: the newest one misses every message."""
    deliver = pubsub.deliver

    def deliver_but_to_the_last(client, push, limits):
        listeners = pubsub.registry(client.server).channels.get(push[1], {})
        if listeners and next(reversed(listeners.values())) is client:
            return
        deliver(client, push, limits)

    def plant(patch):
        patch.setattr(pubsub, "deliver", deliver_but_to_the_last)

    failed = find_bug(sim, monkeypatch, "scenarios/pubsub.toml", plant, "pubsub")
    assert "a lost message" in "\n".join(failed.failures)


@pytest.mark.parametrize("scenario", ["scenarios/basic.toml", "scenarios/queues.toml"])
def test_the_scenarios_pass_without_a_planted_bug(sim, scenario):
    sim.check(scenario, seeds=[1, 2], **SHORT)
