"""Run seeds of a scenario: one world per seed, then the checkers over its history.

`run_seed` builds the world on a fresh SimLoop (servers, workloads, the
fault schedule), runs the fault phase for `duration` virtual seconds, lifts
every fault, runs `heal` more seconds, stops the clients and checks the
history. Everything inside the loop is deterministic: the seed alone
decides it, so `RunResult.digest` is the same in any process. This file
alone may read the wall clock (to report speed) and start processes (for
`--jobs` and for running a seed again in a fresh interpreter to prove
determinism).
"""

from __future__ import annotations

import copy
import concurrent.futures
import multiprocessing
import os
import time
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator

import flow
from sim import scenario as scenario_module
from sim.checks import actor_error_failure, run_checks
from sim.faults import Injector, plan
from sim.scenario import Scenario
from sim.workloads import start_workload
from sim.world import EvictionObserver, World, watch_memory

BUGGIFY_ON_PROBABILITY = 0.75  # of "random" seeds, as FoundationDB's harness turns it on for most runs
STOP_GRACE = 10.0  # virtual seconds the clients get to finish after the heal phase
_BUGGIFY_SALT = 0xB0661F1ED


@dataclass
class RunOptions:
    """What a command line or a test may change about a run (behaviour-changing ones are in `flags`)."""

    buggify: str | None = None  # "on" | "off" | "random": overrides [simulation] buggify
    duration: float | None = None  # overrides [simulation] duration
    heal: float | None = None  # overrides [simulation] heal
    trace: str | None = None  # write the loop's trace events as JSON lines
    history: str | None = None  # write the history as JSON lines
    record_steps: bool = False  # keep (step, time, digest) of every step, to locate divergence

    def flags(self) -> list[str]:
        """The command-line flags that change what a seed does (for repro lines)."""
        out = []
        if self.buggify is not None:
            out += ["--buggify", self.buggify]
        if self.duration is not None:
            out += ["--duration", f"{self.duration:g}"]
        if self.heal is not None:
            out += ["--heal", f"{self.heal:g}"]
        return out


@dataclass
class RunResult:
    scenario: str
    path: str
    seed: int
    buggify: bool
    passed: bool
    digest: str
    virtual_seconds: float
    wall_seconds: float
    events: int
    operations: int
    failures: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    buggify_sites: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    knobs: dict[str, Any] = field(default_factory=dict)
    check_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunResult":
        return cls(**data)

    def repro(self, options: RunOptions | None = None) -> str:
        """The command that runs this seed again, the same way."""
        flags = (options or RunOptions()).flags()
        return " ".join(["flowcache", "sim", self.path, "--seed", str(self.seed), *flags])


def wall_clock() -> float:
    """Seconds on a monotonic wall clock (the CLI's progress display reads it through here)."""
    return time.perf_counter()


def buggify_for(mode: str, seed: int) -> bool:
    """Buggify for this seed: "on", "off", or "random" decided by the seed alone."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return flow.DeterministicRandom(seed ^ _BUGGIFY_SALT).random() < BUGGIFY_ON_PROBABILITY


def prepared(scenario: Scenario, options: RunOptions) -> Scenario:
    """The scenario with the options' overrides applied (a copy when anything changes)."""
    if options.duration is None and options.heal is None:
        return scenario
    changed = copy.deepcopy(scenario)
    if options.duration is not None:
        changed.simulation["duration"] = float(options.duration)
    if options.heal is not None:
        changed.simulation["heal"] = float(options.heal)
    return changed


def run_seed(scenario: Scenario | str, seed: int, options: RunOptions | None = None) -> RunResult:
    """Simulate one seed of the scenario and check what happened."""
    options = options or RunOptions()
    if isinstance(scenario, str):
        scenario = scenario_module.load(scenario)
    scenario = prepared(scenario, options)
    sim = scenario.simulation
    buggify = buggify_for(options.buggify or sim["buggify"], seed)
    started = time.perf_counter()
    loop = flow.SimLoop(seed=seed, buggify=buggify, record_steps=options.record_steps)
    actor_errors: list[tuple[float, str, BaseException]] = []
    loop.error_hook = lambda name, error: actor_errors.append((loop.now(), name, error))
    close_trace = loop.trace_to_file(options.trace) if options.trace else None
    try:
        state, crash = _run_world(scenario, loop, actor_errors)
    finally:
        if close_trace is not None:
            close_trace()
    simulated = time.perf_counter()
    failures, unknown = [], []
    world: World | None = state.get("world")
    if crash is not None:
        failures.append(f"[no_errors] t={loop.now():.3f}: the simulation crashed: {crash!r}")
    failures.extend(_actor_failures(actor_errors))
    if world is not None:
        if options.history:
            world.history.to_json(options.history)
        if crash is None:
            try:
                results = run_checks(scenario, world.history, heal_time=sim["duration"],
                                     end_time=sim["duration"] + sim["heal"],
                                     skews={name: server.max_skew for name, server in world.servers.items()},
                                     killed={name for name, server in world.servers.items() if server.generation > 1})
            except Exception as exc:  # noqa: BLE001 - a checker's own bug fails this seed, not the batch
                results = []
                failures.append(f"[checks] the checkers crashed on this history: {exc!r}")
            for result in results:
                failures.extend(str(failure) for failure in result)
                unknown.extend(str(item) for item in result.unknown)
    finished = time.perf_counter()
    return RunResult(
        scenario=scenario.name, path=scenario.path, seed=seed, buggify=buggify, passed=not failures,
        digest=f"{loop.digest():016x}", virtual_seconds=round(loop.now(), 6),
        wall_seconds=round(finished - started, 4), events=loop.steps,
        operations=len(world.history.ops) if world is not None else 0, failures=failures, unknown=unknown,
        buggify_sites={site: row["fired"] for site, row in loop.buggify_report().items() if row["fired"]},
        faults=list(state.get("faults", [])), knobs=dict(world.knobs) if world is not None else {},
        check_seconds=round(finished - simulated, 4),
    )


def _actor_failures(actor_errors: list[tuple[float, str, BaseException]]) -> list[str]:
    """One line per distinct uncaught error (the first time it happened, and how often)."""
    first: dict[str, list] = {}
    seen = set()
    for when, name, error in actor_errors:
        if id(error) in seen:
            continue
        seen.add(id(error))
        first.setdefault(f"{name}: {error!r}", [when, name, error, 0])[3] += 1
    out = []
    for when, name, error, count in first.values():
        line = str(actor_error_failure(when, name, error))
        out.append(line + (f" ({count} times)" if count > 1 else ""))
    return out


def _run_world(scenario: Scenario, loop: Any, actor_errors: list) -> tuple[dict[str, Any], Exception | None]:
    """Run the simulation on `loop`: what it built (world, observer, faults) and its crash, if any."""
    state: dict[str, Any] = {}
    crash = None
    try:
        loop.run(lambda: _simulate(scenario, loop, state, actor_errors))
    except Exception as exc:  # noqa: BLE001 - a crash of the simulation is a failed seed, with its reason
        crash = exc
    finally:
        if "observer" in state:
            state["observer"].__exit__()
    return state, crash


@flow.actor
def _simulate(scenario: Scenario, loop: Any, state: dict, actor_errors: list):
    duration = scenario.simulation["duration"]
    world = World(scenario, loop)
    state["world"] = world
    state["observer"] = EvictionObserver(world).__enter__()
    world.start_servers()
    stop = flow.AsyncVar(False)
    clients: list[flow.Future] = []
    for index, spec in enumerate(scenario.workloads):
        clients.extend(start_workload(world, spec, index, stop))
    if any(check["kind"] == "memory" for check in scenario.checks):
        clients.append(watch_memory(world, stop))
    injector = Injector(world, duration)
    state["faults"] = injector.applied
    injector.start(plan(world, duration))
    yield flow.delay(duration)
    injector.lift_all()
    world.history.event(flow.now(), "heal")
    flow.trace("SimHeal")
    yield flow.delay(scenario.simulation["heal"])
    stop.set(True)
    flow.trace("SimStop")
    deadline = flow.now() + STOP_GRACE
    for client in clients:
        try:
            yield flow.timeout(client, max(0.0, deadline - flow.now()))
        except flow.TimedOut:
            client.cancel()
        except flow.ActorCancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - a client's error is the run's failure
            actor_errors.append((flow.now(), getattr(client, "name", "workload client"), exc))
    return world


# -- many seeds ---------------------------------------------------------------------


def _worker(path: str, seed: int, options: dict[str, Any], determinism: bool) -> dict[str, Any]:
    """One seed in a pool process (the scenario is loaded from its file there)."""
    opts = RunOptions(**options)
    if determinism:
        result, divergence = check_determinism(path, seed, opts)
        data = result.to_json()
        data["divergence"] = divergence
        return data
    return run_seed(path, seed, opts).to_json()


def run_many(path: str, seeds: Iterable[int], options: RunOptions, jobs: int = 1,
             determinism: bool = False) -> Iterator[tuple[RunResult, str | None]]:
    """(result, divergence or None) for each seed, in completion order; `jobs` processes at once."""
    seeds = list(seeds)
    raw = asdict(options)
    if jobs <= 1 or len(seeds) <= 1:
        for seed in seeds:
            data = _worker(path, seed, _per_seed(raw, seed, len(seeds)), determinism)
            yield _unpack(data)
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending = [pool.submit(_worker, path, seed, _per_seed(raw, seed, len(seeds)), determinism)
                   for seed in seeds]
        try:
            for done in concurrent.futures.as_completed(pending):
                yield _unpack(done.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _per_seed(raw: dict[str, Any], seed: int, count: int) -> dict[str, Any]:
    """Output paths get the seed in them when several seeds run."""
    out = dict(raw)
    for key in ("trace", "history"):
        if out.get(key) and count > 1:
            out[key] = seed_path(out[key], seed)
    return out


def seed_path(path: str, seed: int) -> str:
    """`trace.jsonl` -> `trace-17.jsonl`; a `{seed}` in the path is replaced instead."""
    if "{seed}" in path:
        return path.replace("{seed}", str(seed))
    root, ext = os.path.splitext(path)
    return f"{root}-{seed}{ext}"


def _unpack(data: dict[str, Any]) -> tuple[RunResult, str | None]:
    divergence = data.pop("divergence", None)
    return RunResult.from_json(data), divergence


# -- determinism -------------------------------------------------------------------


def check_determinism(path: str, seed: int, options: RunOptions) -> tuple[RunResult, str | None]:
    """Run the seed here and again in a fresh interpreter with another hash seed; compare.

    Returns this run's result and None, or a sentence naming the first step
    at which the two runs diverged.
    """
    first = run_seed(path, seed, options)
    quiet = RunOptions(buggify=options.buggify, duration=options.duration, heal=options.heal)
    second = _in_fresh_process(_digest_of, path, seed, asdict(quiet), False)
    if (first.digest, first.events) == (second["digest"], second["events"]):
        return first, None
    here = _digest_of(path, seed, asdict(quiet), True)
    there = _in_fresh_process(_digest_of, path, seed, asdict(quiet), True)
    return first, describe_divergence(here, there)


def _digest_of(path: str, seed: int, options: dict[str, Any], steps: bool) -> dict[str, Any]:
    opts = RunOptions(**options)
    opts.record_steps = steps
    scenario = prepared(scenario_module.load(path), opts)
    sim = scenario.simulation
    loop = flow.SimLoop(seed=seed, buggify=buggify_for(opts.buggify or sim["buggify"], seed), record_steps=steps)
    loop.error_hook = lambda name, error: None
    state, _crash = _run_world(scenario, loop, [])  # a crash is compared like any other ending
    out: dict[str, Any] = {"digest": f"{loop.digest():016x}", "events": loop.steps, "pid": os.getpid()}
    if steps and loop.step_log is not None:
        out["times"] = array("d", (t for _, t, _ in loop.step_log)).tobytes()
        out["digests"] = array("Q", (d for _, _, d in loop.step_log)).tobytes()
        history = state["world"].history if "world" in state else None
        out["ops"] = [(op.invoke, op.describe()) for op in history.ops] if history is not None else []
    return out


def describe_divergence(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Where two step logs part ways, with the last operation each run had sent by then."""
    if "digests" not in a or "digests" not in b:
        return f"final digests differ: {a['digest']} ({a['events']} steps) vs {b['digest']} ({b['events']} steps)"
    da, db = array("Q"), array("Q")
    da.frombytes(a["digests"])
    db.frombytes(b["digests"])
    ta = array("d")
    ta.frombytes(a["times"])
    step = next((i for i, (x, y) in enumerate(zip(da, db)) if x != y), min(len(da), len(db)))
    if step >= len(da) and len(da) == len(db):
        return (f"final digests differ ({a['digest']} vs {b['digest']}) but the recorded steps agree: "
                f"the difference is in a random draw after the last step")
    when = ta[min(step, len(ta) - 1)] if len(ta) else 0.0
    lines = [f"runs diverged at step {step + 1} (t={when:.6f}): digest {_hex(da, step)} vs {_hex(db, step)} "
             f"(this process vs a fresh one); {len(da)} vs {len(db)} steps in all"]
    for label, run in (("this process", a), ("fresh process", b)):
        before = [text for t, text in run.get("ops", []) if t <= when]
        if before:
            lines.append(f"  last op sent by then in {label}: {before[-1]}")
    return "\n".join(lines)


def _hex(digests: array, step: int) -> str:
    return f"{digests[step]:016x}" if step < len(digests) else "(ended)"


def _in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """Call fn(*args) in a newly spawned interpreter whose string hashing differs from ours."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    previous = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = str(1 + (hash("flowcache determinism") % 4_000_000_000))
    try:
        process = context.Process(target=_child, args=(sender, fn, args))
        process.start()
    finally:
        if previous is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = previous
    sender.close()
    try:
        ok, value = receiver.recv()
    except EOFError:
        ok, value = False, f"the determinism run (pid {process.pid}) died without an answer"
    process.join()
    if not ok:
        raise RuntimeError(value)
    return value


def _child(sender: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        sender.send((True, fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        sender.send((False, repr(exc)))
    finally:
        sender.close()
