"""Futures, promises and actors: eager start, trampolining, errors, cancellation."""

import gc

import pytest

import flow
from flow import ActorCancelled, Future, Promise


def test_actor_starts_eagerly_and_ready_waits_do_not_yield(loop):
    log = []

    @flow.actor
    def body():
        log.append("start")
        value = yield Future.ready(5)
        log.append(value)
        return value * 2

    def main():
        fut = body()
        # Already done before the loop ran a single step.
        assert log == ["start", 5]
        assert fut.is_ready() and fut.get() == 10
        return fut

    assert loop.run(main) == 10


def test_yield_gives_value_or_raises_error_at_the_yield(loop):
    @flow.actor
    def body(p):
        try:
            yield p.future
        except KeyError as exc:
            return f"caught {exc.args[0]}"

    @flow.actor
    def main():
        p = Promise()
        fut = body(p)
        assert not fut.is_ready()
        yield flow.delay(0.01)
        p.send_error(KeyError("k"))
        return (yield fut)

    assert loop.run(main) == "caught k"


def test_yielding_a_non_future_is_a_type_error_naming_actor_and_object(sim):
    @flow.actor
    def confused():
        yield 42

    fut = confused()
    with pytest.raises(TypeError, match=r"confused.*42"):
        fut.get()


def test_non_generator_cannot_be_an_actor():
    with pytest.raises(TypeError):
        flow.actor(lambda: 1)


def test_trampoline_waits_many_ready_futures_without_recursion(sim):
    ready = Future.ready(1)

    @flow.actor
    def many():
        total = 0
        for _ in range(200_000):
            total += yield ready
        return total

    assert sim.run(many) == 200_000


def test_long_chain_of_actors_finishing_each_other_does_not_overflow(loop):
    promise = Promise()

    @flow.actor
    def link(inner):
        return (yield inner) + 1

    @flow.actor
    def main():
        top = promise.future
        for _ in range(5000):  # each waits on the one before: a 5000-deep wake-up chain
            top = link(top)
        yield flow.delay(0.001)
        promise.send(0)
        return (yield top)

    assert loop.run(main) == 5000


def test_cancel_runs_finally_and_waiters_get_actor_cancelled(loop):
    log = []

    @flow.actor
    def sleeper():
        try:
            yield flow.delay(1000)
        finally:
            log.append("finally")

    @flow.actor
    def waiter(target):
        try:
            yield target
        except ActorCancelled:
            return "waiter saw cancel"

    @flow.actor
    def main():
        s = sleeper()
        w = waiter(s)
        yield flow.delay(0.001)
        s.cancel()
        assert s.is_cancelled()
        return (yield w)

    assert loop.run(main) == "waiter saw cancel"
    assert log == ["finally"]


def test_cancel_propagates_to_an_actor_no_one_else_waits_for(sim):
    log = []

    @flow.actor
    def child(tag):
        try:
            yield flow.delay(100)
        except ActorCancelled:
            log.append(f"{tag} cancelled")
            raise

    @flow.actor
    def parent(target):
        yield target

    @flow.actor
    def main():
        lonely = child("lonely")
        p1 = parent(lonely)
        shared = child("shared")
        p2 = parent(shared)
        p3 = parent(shared)  # a second waiter keeps `shared` alive
        yield flow.delay(1)
        p1.cancel()
        p2.cancel()
        assert lonely.is_cancelled()
        assert not shared.is_ready()
        yield p3
        return shared.get()

    sim.run(main)
    assert log == ["lonely cancelled"]


def test_actor_that_waits_again_after_cancel_is_reported(sim):
    @flow.actor
    def stubborn():
        try:
            yield flow.delay(10)
        except ActorCancelled:
            yield flow.delay(10)

    @flow.actor
    def main():
        s = stubborn()
        yield flow.delay(1)
        s.cancel()
        return s.is_cancelled()

    with pytest.raises(flow.UnhandledActorError, match="caught ActorCancelled"):
        sim.run(main)


def test_unwaited_actor_error_fails_a_simulation(sim):
    @flow.actor
    def doomed():
        yield flow.delay(1)
        raise ValueError("nobody listens")

    @flow.actor
    def main():
        doomed()
        yield flow.delay(5)
        return "finished"

    with pytest.raises(flow.UnhandledActorError, match="nobody listens") as info:
        sim.run(main)
    assert info.value.actor_name.endswith("doomed")
    assert sim.now() == 1.0  # the run stopped at the failure, not at the end


def test_unwaited_actor_error_goes_to_the_real_loops_error_hook():
    loop = flow.RealLoop()
    seen = []
    loop.error_hook = lambda name, error: seen.append((name, error))

    @flow.actor
    def doomed():
        yield flow.delay(0.001)
        raise ValueError("logged")

    @flow.actor
    def main():
        doomed()
        yield flow.delay(0.05)

    loop.run(main)
    loop.close()
    assert len(seen) == 1 and isinstance(seen[0][1], ValueError)


def test_waited_error_is_not_reported(sim):
    @flow.actor
    def doomed():
        yield flow.delay(1)
        raise ValueError("handled")

    @flow.actor
    def main():
        try:
            yield doomed()
        except ValueError:
            return "handled"

    assert sim.run(main) == "handled"


def test_promise_rules():
    p = Promise()
    p.send(1)
    with pytest.raises(flow.FlowError):
        p.send(2)
    q = Promise()
    q.future.cancel()
    q.send(3)  # ignored: nobody wants it any more
    assert q.future.is_cancelled()
    r = Promise()
    r.break_promise()
    with pytest.raises(flow.BrokenPromise):
        r.future.get()
    with pytest.raises(flow.FlowError):
        Promise().future.get()


def test_no_behaviour_depends_on_garbage_collection(sim):
    """Dropping every reference to a waiting actor changes nothing (no __del__ magic)."""
    log = []

    @flow.actor
    def orphan():
        yield flow.delay(1)
        log.append("still ran")

    @flow.actor
    def main():
        orphan()
        gc.collect()
        yield flow.delay(2)

    sim.run(main)
    assert log == ["still ran"]


def test_an_actor_cancelled_inside_its_own_step_stops_at_its_next_wait(loop):
    log = []
    me = []

    def stop_the_caller():  # code the actor calls, holding a reference to it
        me[0].cancel()
        log.append("cancel asked")

    @flow.actor
    def worker():
        yield flow.delay(0.001)
        try:
            stop_the_caller()
            log.append("step goes on")
            yield flow.delay(1000)
            log.append("never")
        finally:
            log.append("finally")

    @flow.actor
    def main():
        me.append(worker())
        try:
            yield me[0]
        except ActorCancelled:
            return "cancelled"

    assert loop.run(main) == "cancelled"
    assert log == ["cancel asked", "step goes on", "finally"]
