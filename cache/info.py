"""The INFO text: Redis 7.0's sections and field names, filled from ServerState.

Sections come out in Redis's fixed order whatever order they were asked in;
`default`, `all` and `everything` select groups of them and unknown names
select nothing. Fields flowcache has no counterpart for are left out rather
than faked, except constants that state a fact (`aof_enabled:0`).

Other modules add fields with `EXTRA_FIELDS[section].append(fn)`, where
`fn(server)` returns `[(name, value), ...]` (pub/sub counts, CPU usage).
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from cache import eviction, latency, memory, pubsub
from cache.state import FLOWCACHE_VERSION, REDIS_VERSION

TITLES = {"server": "Server", "clients": "Clients", "memory": "Memory",
          "persistence": "Persistence", "stats": "Stats", "replication": "Replication",
          "cpu": "CPU", "modules": "Modules", "commandstats": "Commandstats",
          "errorstats": "Errorstats", "latencystats": "Latencystats", "cluster": "Cluster",
          "keyspace": "Keyspace"}
SECTION_ORDER = tuple(TITLES)
DEFAULT_SECTIONS = frozenset(SECTION_ORDER) - {"commandstats", "latencystats"}
ALL_SECTIONS = frozenset(SECTION_ORDER)

Fields = list[tuple[str, Any]]
CpuTimes = tuple[float, float, float, float]  # sys, user, children sys, children user (s)

# Facts about the build, fixed for the life of the process (the host's: `set_os_name`).
BUILD_ID = int(hashlib.sha1(FLOWCACHE_VERSION.encode()).hexdigest()[:16], 16)
_os_name = "unknown"
_cpu_source: Callable[[], CpuTimes] | None = None


def set_os_name(name: str) -> None:
    """The host's `uname` for `os:`; set by the real server only, so the
    simulator's INFO does not depend on the machine it replays on."""
    global _os_name
    _os_name = name


def set_cpu_source(source: Callable[[], CpuTimes] | None) -> None:
    """Process CPU times for `# CPU`; the real server installs one, the simulator none
    (CPU time would make INFO differ between replays of one seed)."""
    global _cpu_source
    _cpu_source = source


EXTRA_FIELDS: dict[str, list[Callable[[Any], Fields]]] = {name: [] for name in SECTION_ORDER}


def selected_sections(args: list[bytes]) -> list[str]:
    """Which sections `INFO args...` prints, in output order."""
    if not args:
        return [s for s in SECTION_ORDER if s in DEFAULT_SECTIONS]
    wanted: set[str] = set()
    for arg in args:
        name = arg.decode("latin-1").lower()
        if name == "default":
            wanted |= DEFAULT_SECTIONS
        elif name in ("all", "everything"):
            wanted |= ALL_SECTIONS
        else:
            wanted.add(name)
    return [s for s in SECTION_ORDER if s in wanted]


def render(server: Any, args: list[bytes]) -> bytes:
    """The whole INFO reply body for `INFO args...`."""
    parts = []
    for section in selected_sections(args):
        fields = _SECTIONS[section](server) + [
            field for extra in EXTRA_FIELDS[section] for field in extra(server)]
        lines = "".join(f"{name}:{value}\r\n" for name, value in fields)
        parts.append(f"# {TITLES[section]}\r\n{lines}")
    return "\r\n".join(parts).encode()


def used_memory(server: Any) -> int:
    """The estimate maxmemory is enforced against (cache.eviction, cache.memory)."""
    return eviction.used_memory(server)


def human_bytes(n: int) -> str:
    """Redis's bytesToHuman: 1.18M, 32.00K, 200B."""
    for unit, size in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20),
                       ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n}B"


def _server(server: Any) -> Fields:
    uptime = (server.now_ms - server.start_time_ms) // 1000
    config = server.config
    return [
        ("redis_version", REDIS_VERSION), ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0), ("redis_build_id", f"{BUILD_ID:x}"),
        ("redis_mode", "standalone"), ("os", _os_name), ("arch_bits", 64),
        ("multiplexing_api", "flow"), ("process_id", server.process_id),
        ("run_id", server.run_id), ("tcp_port", server.tcp_port),
        ("server_time_usec", server.now_us), ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400), ("hz", config["hz"]),
        ("configured_hz", config["hz"]), ("lru_clock", server.lru_clock & eviction.LRU_CLOCK_MAX),
        ("config_file", config.source), ("flowcache_version", FLOWCACHE_VERSION),
    ]


def _clients(server: Any) -> Fields:
    clients = server.clients.values()
    return [
        ("connected_clients", len(server.clients)), ("cluster_connections", 0),
        ("maxclients", server.config["maxclients"]),
        # Query and reply buffers are not tracked per client: nothing is held over.
        ("client_recent_max_input_buffer", 0), ("client_recent_max_output_buffer", 0),
        ("blocked_clients", sum(1 for c in clients if c.blocked)),
        ("tracking_clients", 0),
    ]


def memory_overhead(server: Any) -> int:
    """used_memory_overhead: the baseline plus the per-key and per-TTL bookkeeping."""
    keys = sum(len(db) for db in server.dbs)
    expires = sum(db.expires_count for db in server.dbs)
    return eviction.STARTUP_MEMORY + keys * memory.PER_KEY + expires * memory.PER_EXPIRE


def _memory(server: Any) -> Fields:
    used = used_memory(server)
    peak = eviction.peak_memory(server)
    rss = memory.process_rss() or used
    overhead = min(memory_overhead(server), used)
    startup = eviction.STARTUP_MEMORY
    dataset = used - overhead
    net = used - startup
    maxmemory = server.config["maxmemory"]
    return [
        ("used_memory", used), ("used_memory_human", human_bytes(used)),
        ("used_memory_rss", rss), ("used_memory_rss_human", human_bytes(rss)),
        ("used_memory_peak", peak), ("used_memory_peak_human", human_bytes(peak)),
        ("used_memory_peak_perc", f"{used * 100 / peak:.2f}%"),
        ("used_memory_overhead", overhead), ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", f"{dataset * 100 / net if net else 0:.2f}%"),
        # The "allocator" is the used_memory estimate itself: no internal fragmentation.
        ("allocator_allocated", used), ("allocator_active", used), ("allocator_resident", rss),
        ("used_memory_lua", 0), ("used_memory_lua_human", "0B"),
        ("used_memory_scripts", 0), ("used_memory_scripts_human", "0B"),
        ("maxmemory", maxmemory), ("maxmemory_human", human_bytes(maxmemory)),
        ("maxmemory_policy", server.config["maxmemory-policy"]),
        ("allocator_frag_ratio", "1.00"), ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", f"{rss / used:.2f}"), ("allocator_rss_bytes", rss - used),
        ("mem_fragmentation_ratio", f"{rss / used:.2f}"),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0), ("mem_replication_backlog", 0),
        ("mem_clients_slaves", 0), ("mem_clients_normal", 0), ("mem_aof_buffer", 0),
        ("mem_allocator", "pymalloc"), ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0), ("lazyfreed_objects", 0),
    ]


def _persistence(server: Any) -> Fields:
    return [
        ("loading", 0), ("async_loading", 0),
        ("rdb_changes_since_last_save", server.dirty), ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", server.start_time_ms // 1000),
        # No persistence and no forks: what Redis reports before its first save/rewrite.
        ("rdb_last_bgsave_status", "ok"), ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1), ("rdb_saves", 0), ("rdb_last_cow_size", 0),
        ("aof_enabled", 0), ("aof_rewrite_in_progress", 0), ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1), ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"), ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0), ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _stats(server: Any) -> Fields:
    s = server.stats
    exceeded = eviction.exceeded_times(server)
    channels, patterns, shard_channels = pubsub.counts(server)
    return [
        ("total_connections_received", s.total_connections_received),
        ("total_commands_processed", s.total_commands_processed),
        ("instantaneous_ops_per_sec", 0),
        ("total_net_input_bytes", s.total_net_input_bytes),
        ("total_net_output_bytes", s.total_net_output_bytes),
        ("rejected_connections", s.rejected_connections),
        ("sync_full", 0), ("sync_partial_ok", 0), ("sync_partial_err", 0),  # no replicas
        ("expired_keys", s.expired_keys),
        ("expired_stale_perc", f"{s.expired_stale_perc:.2f}"),
        ("expired_time_cap_reached_count", s.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", s.expire_cycle_cpu_milliseconds),
        ("evicted_keys", s.evicted_keys), ("evicted_clients", 0),
        ("total_eviction_exceeded_time", exceeded[0]),
        ("current_eviction_exceeded_time", exceeded[1]),
        ("keyspace_hits", s.keyspace_hits), ("keyspace_misses", s.keyspace_misses),
        ("pubsub_channels", channels), ("pubsub_patterns", patterns),
        ("pubsubshard_channels", shard_channels),
        # No forks, MIGRATE, replicas or active defrag: their counters stay at zero.
        ("latest_fork_usec", 0), ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0), ("active_defrag_hits", 0),
        ("active_defrag_misses", 0), ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_error_replies", s.total_error_replies),
    ]


def _replication(server: Any) -> Fields:
    return [
        ("role", "master"), ("connected_slaves", 0), ("master_failover_state", "no-failover"),
        ("master_replid", server.run_id), ("master_replid2", "0" * 40),
        ("master_repl_offset", 0), ("second_repl_offset", -1), ("repl_backlog_active", 0),
        ("repl_backlog_size", 1048576), ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def _commandstats(server: Any) -> Fields:
    fields = []
    for name, (calls, usec, rejected, failed) in server.stats.commandstats.items():
        if not (calls or rejected or failed):  # made for a command queued in MULTI, say
            continue
        per_call = usec / calls if calls else 0.0
        fields.append((f"cmdstat_{name}", f"calls={calls},usec={usec},usec_per_call="
                                          f"{per_call:.2f},rejected_calls={rejected},"
                                          f"failed_calls={failed}"))
    return fields


def _errorstats(server: Any) -> Fields:
    return [(f"errorstat_{code.decode('latin-1')}", f"count={count}")
            for code, count in server.stats.errorstats.items()]


def _keyspace(server: Any) -> Fields:
    return [(f"db{db.index}", f"keys={len(db)},expires={db.expires_count},avg_ttl={db.avg_ttl}")
            for db in server.dbs if len(db)]


def _latencystats(server: Any) -> Fields:
    return [tuple(line.split(":", 1)) for line in latency.info_latencystats(server)]


def _cpu(server: Any) -> Fields:
    if _cpu_source is None:
        return []
    names = ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children")
    return [(name, f"{seconds:.6f}") for name, seconds in zip(names, _cpu_source())]


def _nothing(server: Any) -> Fields:
    return []


_SECTIONS: dict[str, Callable[[Any], Fields]] = {
    "server": _server, "clients": _clients, "memory": _memory, "persistence": _persistence,
    "stats": _stats, "replication": _replication, "cpu": _cpu, "modules": _nothing,
    "commandstats": _commandstats, "errorstats": _errorstats, "latencystats": _latencystats,
    "cluster": lambda server: [("cluster_enabled", 0)], "keyspace": _keyspace,
}
