"""Run a scenario's [[check]] tables over the history of one run.

Each check kind maps to a checker of `sim.checkers` with the tolerances the
run itself dictates: the clock skew the faults actually applied, the
instant the heal phase began, whether a server was ever killed, and the
error replies each workload provokes on purpose.
"""

from __future__ import annotations

from typing import Any

from sim.checkers import (check_linearizable, check_liveness, check_no_errors, check_queue, check_ttl)
from sim.checkers.base import Failure, Result, is_error
from sim.checkers.memory import check_memory
from sim.checkers.pubsub import check_pubsub
from sim.history import History
from sim.workloads import EXPECTED_ERRORS, server_of

# The random workload throws every command at every key: error replies are its
# normal, and only these betray a broken server or protocol.
RANDOM_FORBIDDEN = ("ERR Protocol error", "ERR unknown command", "ERR unknown subcommand")
_RANDOM_FORBIDDEN_BYTES = tuple(prefix.encode() for prefix in RANDOM_FORBIDDEN)


def run_checks(scenario: Any, history: History, *, heal_time: float, end_time: float,
               skews: dict[str, float], killed: set[str]) -> list[Result]:
    """One Result per [[check]] (in file order); an empty Result is a pass.

    The models (linearizable, ttl, queue) check each server's keys apart,
    with that server's own clock skew and restarts: keys on different
    servers have nothing to do with each other.
    """
    per_server = _split_by_server(scenario, _without_random(scenario, history))
    results = []
    for spec in scenario.checks:
        kind = spec["kind"]
        if kind == "linearizable":
            result = _merged(check_linearizable(part, skew=skews.get(name, 0.0)) for name, part in per_server)
        elif kind == "ttl":
            result = _merged(check_ttl(part, skew=skews.get(name, 0.0)) for name, part in per_server)
        elif kind == "queue":
            result = _merged(check_queue(part, killed=name in killed, queues=_queue_keys(scenario, name))
                             for name, part in per_server)
        elif kind == "no_errors":
            result = _no_errors(scenario, history, spec["allowed"])
        elif kind == "liveness":
            result = check_liveness(history, heal_time, spec["bound"], end_time=end_time)
        elif kind == "memory":
            result = check_memory(history, spec["slack"])
        elif kind == "pubsub":
            result = check_pubsub(history)
        else:  # pragma: no cover - the scenario schema refuses other kinds
            raise ValueError(f"unknown check kind {kind!r}")
        results.append(result)
    return results


def _merged(results) -> Result:
    failures, unknown, stats = [], [], {}
    for result in results:
        failures.extend(result)
        unknown.extend(result.unknown)
        for key, value in result.stats.items():
            if isinstance(value, (int, float)) and isinstance(stats.get(key, 0), (int, float)):
                stats[key] = stats.get(key, 0) + value
    return Result(failures, unknown, stats)


def _split_by_server(scenario: Any, history: History) -> list[tuple[str, History]]:
    """(server, its ops and events) for each server; one server: the history itself."""
    names = [server["name"] for server in scenario.servers]
    if len(names) == 1:
        return [(names[0], history)]
    owner = {}
    for index, workload in enumerate(scenario.workloads):
        for client in range(workload["clients"] + 1):  # + the queue workload's final reader
            owner[index * 1000 + client] = server_of(scenario, workload)
    parts = []
    for name in names:
        part = History()
        part.ops = [op for op in history.ops if owner.get(op.client) == name]
        part.events = [event for event in history.events if event.detail.get("server", name) == name]
        parts.append((name, part))
    return parts


def _random_clients(scenario: Any) -> set[int]:
    """History client numbers of the random workload's clients (looked up, never iterated)."""
    clients = set()
    for index, workload in enumerate(scenario.workloads):
        if workload["kind"] == "random":
            clients.update(index * 1000 + client for client in range(workload["clients"]))
    return clients


def _without_random(scenario: Any, history: History) -> History:
    """The history the models check: the random workload's ops touch only its own keys and
    use commands no model follows, so they are left out (they are checked for errors only)."""
    random_clients = _random_clients(scenario)
    if not random_clients:
        return history
    return _with_ops(history, [op for op in history.ops if op.client not in random_clients])


def _with_ops(history: History, ops: list) -> History:
    """The same events with only `ops` (a filtered view for one checker)."""
    kept = History()
    kept.events = history.events
    kept.ops = ops
    return kept


def _queue_keys(scenario: Any, server: str) -> list[bytes]:
    """The lists the queue workloads use on `server`."""
    keys: dict[bytes, None] = {}
    for workload in scenario.workloads:
        if workload["kind"] == "queue" and server_of(scenario, workload) == server:
            keys.update(dict.fromkeys(b"queue:%d" % k for k in range(workload["keys"])))
    return list(keys)


def _no_errors(scenario: Any, history: History, allowed: list[str]) -> Result:
    random_clients = _random_clients(scenario)
    prefixes = list(allowed)
    for workload in scenario.workloads:
        prefixes.extend(EXPECTED_ERRORS.get(workload["kind"], ()))
    if not random_clients:
        return check_no_errors(history, allowed=prefixes)
    # Error replies to the random workload count only when they betray the protocol.
    kept = [op for op in history.ops
            if op.client not in random_clients
            or (op.complete is not None and is_error(op.reply) and bytes(op.reply).startswith(_RANDOM_FORBIDDEN_BYTES))]
    return check_no_errors(_with_ops(history, kept), allowed=prefixes)


def actor_error_failure(time: float, actor_name: str, error: BaseException) -> Failure:
    """An uncaught error in any actor (server, network, workload): always a failure."""
    import traceback

    tb = getattr(error, "__traceback__", None)
    frames = traceback.extract_tb(tb)[-3:] if tb is not None else []
    where = "; ".join(f"{'/'.join(frame.filename.split('/')[-2:])}:{frame.lineno} in {frame.name}"
                      for frame in frames)
    message = f"actor {actor_name} failed and no one waited for it: {error!r}"
    if where:
        message += f" (at {where})"
    return Failure("no_errors", time, None, message)
