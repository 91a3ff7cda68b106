"""Who may connect, and how long and how much a client may cost: Redis's limits on clients.

Decisions only, no I/O: the connection code asks and acts. `admission_refusal`
is acceptCommonHandler's `maxclients` check followed by clientAcceptHandler's
protected mode; `over_output_limit` is checkClientOutputBufferLimits for the
normal class (pub/sub subscribers keep theirs in `cache.pubsub`);
`idle_clients` is clientsCronHandleTimeout.
"""

from __future__ import annotations

from typing import Any

from cache import errors
from cache.config import parse_memory

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")  # "localhost": the simulator's default host
NO_LIMITS = (0, 0, 0)

_parsed: dict[str, dict[str, tuple[int, int, int]]] = {}  # setting text -> class -> limits


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def binds_loopback_only(bind: str) -> bool:
    """Whether every address of a `bind` setting is loopback ("-" marks an optional one)."""
    addresses = [a.lstrip("-") for a in str(bind).split()]
    return bool(addresses) and all(is_loopback(a) for a in addresses)


def admission_refusal(state: Any, peer_host: str) -> bytes | None:
    """The error a new connection gets before it is closed, or None to serve it.

    Protected mode refuses non-loopback peers while the default user has no
    password. Redis 7.0 asks no more; flowcache also lets a loopback-only
    `bind` switch it off, which changes nothing on a real network (no other
    peer can reach such a listener) and lets simulated hosts, which are
    never loopback, reach a server configured as `flowcache serve` runs.
    """
    if len(state.clients) >= int(state.config.get("maxclients", 10000)):
        return errors.MAX_CLIENTS_REACHED
    if (state.config.get("protected-mode", True) and not state.config.get("requirepass", "")
            and not binds_loopback_only(state.config.get("bind", "127.0.0.1"))
            and not is_loopback(peer_host)):
        return errors.PROTECTED_MODE_DENIED
    return None


def output_limits(state: Any, kind: str = "normal") -> tuple[int, int, int]:
    """(hard bytes, soft bytes, soft seconds) of a `client-output-buffer-limit` class; 0 is none."""
    setting = state.config.get("client-output-buffer-limit", "")
    if not isinstance(setting, str):
        return NO_LIMITS
    classes = _parsed.get(setting)
    if classes is None:
        words = setting.split()
        classes = {}
        for i in range(0, len(words) - 3, 4):
            hard, soft = (parse_memory(w.encode()) for w in words[i + 1:i + 3])
            classes[words[i].lower()] = (hard, soft, int(words[i + 3]))
        if len(_parsed) > 16:
            _parsed.clear()
        _parsed[setting] = classes
    return classes.get(kind, NO_LIMITS)


def over_output_limit(client: Any, used: int, limits: tuple[int, int, int]) -> bool:
    """checkClientOutputBufferLimits: over the hard limit, or over the soft one for too long."""
    hard, soft, soft_seconds = limits
    if hard and used >= hard:
        return True
    if not (soft and used >= soft):
        client.soft_limit_since_s = None
        return False
    now_s = client.server.now_ms // 1000
    if client.soft_limit_since_s is None:
        client.soft_limit_since_s = now_s
        return False
    return now_s - client.soft_limit_since_s > soft_seconds


def idle_clients(state: Any) -> list[Any]:
    """Clients idle longer than `timeout` seconds; blocked, subscribed and MONITOR ones never are."""
    timeout = int(state.config.get("timeout", 0))
    if timeout <= 0:
        return []
    oldest_allowed = state.now_ms - timeout * 1000
    return [client for client in state.clients.values()
            if client.last_interaction_ms < oldest_allowed and not client.blocked
            and not (client.sub or client.psub or client.ssub) and not client.monitoring]
