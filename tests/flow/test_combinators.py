"""delay, yield_now, wait_all, wait_any, timeout, PromiseStream, AsyncVar."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flow
from flow import Future, Promise


def test_delays_complete_in_time_order_and_ties_in_call_order(loop):
    order = []

    @flow.actor
    def sleeper(tag, seconds):
        yield flow.delay(seconds)
        order.append(tag)

    @flow.actor
    def main():
        yield flow.wait_all([sleeper("c", 0.03), sleeper("a", 0.01), sleeper("b", 0.02), sleeper("a2", 0.01)])

    loop.run(main)
    assert order == ["a", "a2", "b", "c"]


def test_yield_now_lets_ready_work_run_first(loop):
    order = []

    @flow.actor
    def polite():
        order.append("polite starts")
        yield flow.yield_now()
        order.append("polite resumes")

    @flow.actor
    def eager():
        yield flow.delay(0)
        order.append("eager ran")

    @flow.actor
    def main():
        yield flow.wait_all([eager(), polite()])

    loop.run(main)
    # delay(0) has a higher priority than a yield at the same instant.
    assert order == ["polite starts", "eager ran", "polite resumes"]


def test_wait_all_values_and_fail_fast(sim):
    @flow.actor
    def value_after(v, t):
        yield flow.delay(t)
        return v

    @flow.actor
    def fail_after(t):
        yield flow.delay(t)
        raise RuntimeError("boom")

    @flow.actor
    def main():
        values = yield flow.wait_all([value_after(1, 3), value_after(2, 1), Future.ready(3)])
        assert values == [1, 2, 3]
        start = flow.now()
        slow = value_after(9, 100)
        try:
            yield flow.wait_all([slow, fail_after(1)])
        except RuntimeError:
            return flow.now() - start, slow.is_ready()

    assert sim.run(main) == (1.0, False)
    assert sim.run(lambda: flow.wait_all([])) == []


def test_wait_any_first_ready_wins_and_first_listed_breaks_ties(sim):
    @flow.actor
    def main():
        a, b = Promise(), Promise()
        both = flow.wait_any([a.future, b.future])
        b.send("b")
        a.send("a")
        first = yield both
        tie = yield flow.wait_any([Future.ready("x"), Future.ready("y")])
        timed = yield flow.wait_any([flow.delay(2), flow.delay(1)])
        return first, tie, timed[0]

    assert sim.run(main) == ((1, "b"), (0, "x"), 1)


def test_timeout_raises_timed_out_and_cancels_the_abandoned_work(loop):
    log = []

    @flow.actor
    def slow():
        try:
            yield flow.delay(10)
        except flow.ActorCancelled:
            log.append("slow cancelled")
            raise

    @flow.actor
    def quick():
        yield flow.delay(0.001)
        return "quick"

    @flow.actor
    def main():
        with pytest.raises(flow.TimedOut):
            yield flow.timeout(slow(), 0.01)
        return (yield flow.timeout(quick(), 5))

    assert loop.run(main) == "quick"
    assert log == ["slow cancelled"]


def test_cancelling_a_combinator_cancels_unwatched_inputs(sim):
    @flow.actor
    def main():
        inner = flow.delay(100)
        guarded = flow.timeout(inner, 50)
        yield flow.delay(1)
        guarded.cancel()
        return inner.is_cancelled(), guarded.is_cancelled()

    assert sim.run(main) == (True, True)


def test_promise_stream_delivers_in_order_then_end_of_stream(loop):
    stream = flow.PromiseStream()

    @flow.actor
    def producer():
        for i in range(5):
            stream.send(i)
            yield flow.delay(0.001)
        stream.close()

    @flow.actor
    def consumer():
        got = []
        while True:
            try:
                got.append((yield stream.next()))
            except flow.EndOfStream:
                return got

    @flow.actor
    def main():
        producer()
        return (yield consumer())

    assert loop.run(main) == [0, 1, 2, 3, 4]


def test_promise_stream_error_comes_after_values_and_cancelled_next_loses_nothing(sim):
    stream = flow.PromiseStream()

    @flow.actor
    def main():
        pending = stream.next()
        pending.cancel()
        stream.send("kept")
        stream.send_error(KeyError("broken"))
        first = yield stream.next()
        try:
            yield stream.next()
        except KeyError:
            return first

    assert sim.run(main) == "kept"


def test_async_var_fires_only_on_change(sim):
    var = flow.AsyncVar(1)

    @flow.actor
    def main():
        change = var.on_change()
        var.set(1)
        assert not change.is_ready()
        var.set(2)
        assert change.is_ready() and var.get() == 2
        later = var.on_change()
        var.set_unconditional(2)
        return later.is_ready()
        yield

    assert sim.run(main) is True


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=40))
def test_sleepers_wake_in_time_then_creation_order(delays):
    """A model of the queue: sorted by (time, creation index)."""
    loop = flow.SimLoop(seed=0)
    woke = []

    @flow.actor
    def sleeper(index, ms):
        yield flow.delay(ms / 1000)
        woke.append(index)

    @flow.actor
    def main():
        yield flow.wait_all([sleeper(i, d) for i, d in enumerate(delays)])

    loop.run(main)
    assert woke == sorted(range(len(delays)), key=lambda i: (delays[i], i))
    assert loop.now() == max(delays) / 1000
