"""Scenario files: TOML describing a simulated world, validated strictly.

A scenario names the servers, the client workloads, the faults and the
checkers of one simulation. Every key is declared below with its type and
default; an unknown key or a bad value is a `ScenarioError` that names the
file, the table and the key, because a typo in a fault schedule that is
silently ignored is a test that silently tests nothing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable


class ScenarioError(Exception):
    """The scenario file is wrong; the message says where."""


WORKLOAD_KINDS = ("kv", "counter", "queue", "ttl", "pubsub", "random")
FAULT_KINDS = ("partition", "clog", "drop", "reset", "kill", "restart", "swizzle", "clock_skew")
CHECK_KINDS = ("linearizable", "no_errors", "ttl", "queue", "liveness", "memory", "pubsub")


def _number(lo: float | None = None, hi: float | None = None) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {value!r}")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise ValueError(f"expected a number in [{lo}, {hi}], got {value!r}")
        return float(value)
    return check


def _integer(lo: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        if lo is not None and value < lo:
            raise ValueError(f"expected an integer >= {lo}, got {value!r}")
        return value
    return check


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}; got {value!r}")
        return value
    return check


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _range(lo: float = 0.0) -> Callable[[Any], tuple[float, float]]:
    def check(value: Any) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError(f"expected [min, max], got {value!r}")
        a, b = (_number(lo)(v) for v in value)
        if a > b:
            raise ValueError(f"min {a} is above max {b}")
        return a, b
    return check


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected a list of host names, got {value!r}")
    return list(value)


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table, got {value!r}")
    return dict(value)


# table -> key -> (validator, default); a default of REQUIRED must be given.
# Workload keys: `keys` is how many keys (queues, channels) it uses; `ttl` the range of
# TTLs (seconds) of the ttl workload; `timeout` how long a client waits for a reply before
# it gives up on the connection; `server` which [[server]] it talks to (default: the first);
# `pipeline` commands sent at once. Fault keys: `duration` (not for reset/restart, which are
# instants), `hosts` (default: one server drawn from the seed; drop is network-wide),
# `rate` the drop probability, `skew` the largest clock jump in seconds. Check keys: `bound`
# the liveness bound in seconds, `slack` the memory check's allowance as a fraction of
# maxmemory, `allowed` error-reply prefixes no_errors accepts.
REQUIRED = object()
SCHEMA: dict[str, dict[str, tuple[Callable[[Any], Any], Any]]] = {
    "simulation": {
        "name": (_string, REQUIRED),
        "seed": (_integer(0), 1),
        "duration": (_number(0.0), 60.0),
        "heal": (_number(0.0), 10.0),
        "buggify": (_choice("on", "off", "random"), "random"),
        "description": (_string, ""),
    },
    "network": {
        "latency": (_range(), (0.0001, 0.0008)),
        "drop_rate": (_number(0.0, 0.5), 0.0),
        "fragment": (_bool, True),
    },
    "server": {
        "name": (_string, "cache"),
        "port": (_integer(1), 3000),
        "config": (_table, {}),
    },
    "workload": {
        "kind": (_choice(*WORKLOAD_KINDS), REQUIRED),
        "clients": (_integer(1), 4),
        "keys": (_integer(1), 16),
        "rate": (_number(0.001), 100.0),
        "value_size": (_range(1), (1.0, 100.0)),
        "key_distribution": (_choice("uniform", "zipf"), "uniform"),
        "ttl": (_range(0.001), (0.05, 2.0)),
        "timeout": (_number(0.0), 1.0),
        "server": (_string, ""),
        "pipeline": (_integer(1), 1),
    },
    "fault": {
        "kind": (_choice(*FAULT_KINDS), REQUIRED),
        "at": (_number(0.0), None),
        "count": (_integer(1), None),
        "duration": (_number(0.0), 5.0),
        "hosts": (_strings, []),
        "rate": (_number(0.0, 0.5), 0.05),
        "skew": (_number(), 0.5),
    },
    "check": {
        "kind": (_choice(*CHECK_KINDS), REQUIRED),
        "bound": (_number(0.0), 5.0),
        "slack": (_number(0.0), 0.0),
        "allowed": (_strings, []),
    },
}
ARRAYS = {"server", "workload", "fault", "check"}


@dataclass
class Scenario:
    path: str
    simulation: dict[str, Any]
    network: dict[str, Any]
    servers: list[dict[str, Any]] = field(default_factory=list)
    workloads: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.simulation["name"]


def _validate(path: str, table: str, raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: [{where}] must be a table")
    schema = SCHEMA[table]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise ScenarioError(f"{path}: [{where}] unknown key '{key}' (known: {known})")
        try:
            out[key] = schema[key][0](value)
        except ValueError as exc:
            raise ScenarioError(f"{path}: [{where}] bad value for '{key}': {exc}") from None
    for key, (_validator, default) in schema.items():
        if key not in out:
            if default is REQUIRED:
                raise ScenarioError(f"{path}: [{where}] missing required key '{key}'")
            out[key] = default
    return out


def _server_config(server: dict[str, Any]) -> Any:
    from cache.config import Config

    config = Config(dict(server["config"]))
    config.set("port", server["port"])
    return config


def _client_hosts(workloads: list[dict[str, Any]]) -> set[str]:
    """The names the runner gives client hosts (only looked up, never iterated)."""
    names = set()
    for w, workload in enumerate(workloads):
        names.update(f"client-{w}-{c}" for c in range(workload["clients"]))
        names.add(f"client-{w}-final")
    return names


def load(path: str) -> Scenario:
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse(raw, path)


def parse(raw: dict[str, Any], path: str = "<scenario>") -> Scenario:
    for top in raw:
        if top not in SCHEMA:
            raise ScenarioError(f"{path}: unknown table [{top}] (known: {', '.join(sorted(SCHEMA))})")
    for top in ARRAYS:
        if top in raw and not isinstance(raw[top], list):
            raise ScenarioError(f"{path}: [{top}] must be an array of tables: write [[{top}]]")
    scenario = Scenario(
        path=path,
        simulation=_validate(path, "simulation", raw.get("simulation", {}), "simulation"),
        network=_validate(path, "network", raw.get("network", {}), "network"),
        servers=[_validate(path, "server", t, f"server #{i + 1}") for i, t in enumerate(raw.get("server", []))],
        workloads=[_validate(path, "workload", t, f"workload #{i + 1}") for i, t in enumerate(raw.get("workload", []))],
        faults=[_validate(path, "fault", t, f"fault #{i + 1}") for i, t in enumerate(raw.get("fault", []))],
        checks=[_validate(path, "check", t, f"check #{i + 1}") for i, t in enumerate(raw.get("check", []))],
    )
    if not scenario.servers:
        scenario.servers.append(_validate(path, "server", {}, "server #1"))
    names = [s["name"] for s in scenario.servers]
    if len(set(names)) != len(names):
        raise ScenarioError(f"{path}: [[server]] names must be unique, got {names}")
    for i, server in enumerate(scenario.servers):
        try:
            _server_config(server)
        except ValueError as exc:  # cache.config.ConfigError
            raise ScenarioError(f"{path}: [server #{i + 1}] bad value in 'config': {exc}") from None
    clients = _client_hosts(scenario.workloads)
    for i, fault in enumerate(scenario.faults):
        where = f"fault #{i + 1}"
        if (fault["at"] is None) == (fault["count"] is None):
            raise ScenarioError(f"{path}: [{where}] needs exactly one of 'at' or 'count'")
        for host in fault["hosts"]:
            if host not in names and host not in clients:
                raise ScenarioError(f"{path}: [{where}] unknown host '{host}' in 'hosts' (servers: "
                                    f"{', '.join(names)}; clients are named client-W-C, workload W, client C)")
        if fault["kind"] in ("kill", "restart", "clock_skew") and any(host not in names for host in fault["hosts"]):
            raise ScenarioError(f"{path}: [{where}] a {fault['kind']} fault needs server hosts, got {fault['hosts']}")
    for i, workload in enumerate(scenario.workloads):
        if workload["server"] and workload["server"] not in names:
            raise ScenarioError(f"{path}: [workload #{i + 1}] unknown server '{workload['server']}'")
    return scenario
