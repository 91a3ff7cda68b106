"""Used memory stays under `maxmemory` plus slack, as sampled during the run."""

from __future__ import annotations

from sim.history import History

from .base import Failure, Result, at


def check_memory(history: History, slack: float = 0.0) -> Result:
    """One failure per server whose sampled used_memory exceeded maxmemory * (1 + slack).

    The samples are "memory" events ({server, used, maxmemory}); a server
    without a limit (maxmemory 0) is never over it.
    """
    worst: dict[str, object] = {}
    for event in history.events:
        if event.kind != "memory":
            continue
        limit = int(event.detail.get("maxmemory", 0))
        used = int(event.detail.get("used", 0))
        if limit and used > limit * (1.0 + slack):
            name = str(event.detail.get("server", "?"))
            previous = worst.get(name)
            if previous is None or used > previous.detail["used"]:
                worst[name] = event
    failures = []
    for name, event in worst.items():
        used, limit = event.detail["used"], event.detail["maxmemory"]
        failures.append(Failure("memory", event.time, None,
                                f"server {name} used {used} bytes at {at(event.time)}, over maxmemory {limit}"
                                + (f" plus {slack:.0%} slack" if slack else "")))
    samples = sum(1 for event in history.events if event.kind == "memory")
    return Result(failures, stats={"samples": samples})
