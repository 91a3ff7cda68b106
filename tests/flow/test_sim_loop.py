"""SimLoop: virtual time, determinism, deadlock reports, BUGGIFY, traces, the RNG."""

import json

import pytest

import flow


def workload(n_actors=20, rounds=30):
    """Actors that sleep random times and trace what they do."""

    @flow.actor
    def worker(i):
        loop = flow.current_loop()
        for r in range(rounds):
            yield flow.delay(loop.random.uniform(0, 0.01))
            if flow.buggify(0.5):
                yield flow.delay(0.1)
            flow.trace("Work", worker=i, round=r, value=loop.random.randint(0, 1000))

    @flow.actor
    def main():
        yield flow.wait_all([worker(i) for i in range(n_actors)])
        return flow.now()

    return main


def run_traced(seed, buggify=False):
    loop = flow.SimLoop(seed=seed, buggify=buggify)
    events = []
    loop.trace_sink = events.append
    end = loop.run(workload())
    return loop.digest(), events, end, loop


def test_same_seed_same_digest_and_trace_different_seed_differs():
    d1, t1, end1, _ = run_traced(7)
    d2, t2, end2, _ = run_traced(7)
    d3, t3, _, _ = run_traced(8)
    assert (d1, t1, end1) == (d2, t2, end2)
    assert d1 != d3 and t1 != t3
    assert len(t1) == 20 * 30


def test_virtual_time_jumps_a_day_of_sleepers():
    loop = flow.SimLoop(seed=1)

    @flow.actor
    def sleeper():
        for _ in range(24):
            yield flow.delay(3600)

    @flow.actor
    def main():
        yield flow.wait_all([sleeper() for _ in range(1000)])

    loop.run(main)
    assert loop.now() == 24 * 3600
    assert loop.wall_time() == loop.epoch + 24 * 3600


def test_deadlock_names_the_waiting_actors():
    loop = flow.SimLoop(seed=1)

    @flow.actor
    def stuck_forever():
        yield flow.Promise().future

    @flow.actor
    def main():
        yield stuck_forever()

    with pytest.raises(flow.Deadlock, match="stuck_forever"):
        loop.run(main)


def test_buggify_is_off_unless_enabled_and_reports_sites():
    assert run_traced(3)[3].buggify_report() == {}
    _, _, _, loop = run_traced(3, buggify=True)
    report = loop.buggify_report()
    (site, stats), = report.items()
    assert site.startswith("tests/flow/test_sim_loop.py:")
    assert stats["evaluated"] == 600
    assert stats["fired"] > 0 if stats["activated"] else stats["fired"] == 0


def test_buggify_activates_about_a_quarter_of_sites():
    activated = 0
    for seed in range(400):
        loop = flow.SimLoop(seed=seed, buggify=True)
        loop.make_current()
        flow.buggify()
        activated += next(iter(loop.buggify_report().values()))["activated"]
    assert 60 < activated < 140


def test_buggify_is_always_false_on_the_real_loop():
    loop = flow.RealLoop()

    @flow.actor
    def main():
        return [flow.buggify(1.0) for _ in range(100)]
        yield

    assert not any(loop.run(main))
    loop.close()


def test_trace_to_file_writes_json_lines(tmp_path):
    loop = flow.SimLoop(seed=5)
    close = loop.trace_to_file(str(tmp_path / "trace.jsonl"))
    loop.run(workload(n_actors=2, rounds=2))
    close()
    lines = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in lines] == ["Work"] * 4
    assert all(e["time"] <= 0.02 for e in lines)


def test_step_log_locates_the_first_divergence():
    a = flow.SimLoop(seed=9, record_steps=True)
    a.run(workload(3, 3))
    b = flow.SimLoop(seed=9, record_steps=True)
    b.run(workload(3, 3))
    assert a.step_log == b.step_log and a.digest() == b.digest()
    c = flow.SimLoop(seed=10, record_steps=True)
    c.run(workload(3, 3))
    first = next(i for i, (x, y) in enumerate(zip(a.step_log, c.step_log)) if x != y)
    assert first < len(a.step_log)


def test_rng_stream_is_pinned():
    """Golden values: a change here breaks every recorded seed."""
    rng = flow.DeterministicRandom(2024)
    assert rng.getrandbits(32) == 2019024262
    assert rng.randint(1, 6) == 2
    assert rng.choice("abcdef") == "f"
    assert rng.sample(range(10), 3) == [9, 5, 1]
    items = list(range(8))
    rng.shuffle(items)
    assert items == [0, 3, 4, 1, 2, 5, 7, 6]
    assert round(rng.random(), 12) == 0.415872265898


def test_rng_distributions_are_sane():
    rng = flow.DeterministicRandom(1)
    rolls = [rng.randint(1, 6) for _ in range(6000)]
    assert set(rolls) == {1, 2, 3, 4, 5, 6}
    assert all(800 < rolls.count(face) < 1200 for face in range(1, 7))
    assert all(0 <= rng.random() < 1 for _ in range(1000))
    with pytest.raises(ValueError):
        rng.sample([1, 2], 3)
