"""INFO carries every field that `redis-cli --stat` and redis_exporter read (issue 7).

The field lists come from the tools' sources: redis-cli's `statMode`
(redis/redis:src/redis-cli.c) and redis_exporter's metric maps
(oliver006/redis_exporter:exporter/exporter.go, `metricMapGauges`,
`metricMapCounters` and the `instance_info` labels). Only fields that a real
redis-server 7.0 prints are required, in the section where it prints them and
with a value of the same kind, so the tools parse ours as they parse Redis's.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from cache import info
from support import free_port, start_flowcache, wait_for_port
from tests.cache.harness import Harness, RedisOracle

REDIS_CLI_STAT = (
    "used_memory connected_clients blocked_clients total_commands_processed "
    "total_connections_received rdb_bgsave_in_progress aof_rewrite_in_progress loading"
).split()

EXPORTER_GAUGES = (
    "uptime_in_seconds process_id connected_clients blocked_clients tracking_clients "
    "client_longest_output_list client_biggest_input_buf client_recent_max_output_buffer "
    "client_recent_max_input_buffer allocator_active allocator_allocated allocator_resident "
    "allocator_frag_ratio allocator_frag_bytes allocator_rss_ratio allocator_rss_bytes "
    "used_memory used_memory_rss used_memory_peak used_memory_lua used_memory_overhead "
    "used_memory_startup used_memory_dataset used_memory_scripts maxmemory "
    "maxmemory_reservation maxmemory_desired_reservation maxfragmentationmemory_reservation "
    "maxfragmentationmemory_desired_reservation mem_fragmentation_ratio "
    "mem_fragmentation_bytes mem_clients_slaves mem_clients_normal expired_stale_perc "
    "mem_not_counted_for_evict lazyfree_pending_objects active_defrag_running "
    "migrate_cached_sockets active_defrag_hits active_defrag_misses active_defrag_key_hits "
    "active_defrag_key_misses expired_time_cap_reached_count loading "
    "rdb_changes_since_last_save rdb_bgsave_in_progress rdb_last_save_time "
    "rdb_last_bgsave_status rdb_last_bgsave_time_sec rdb_current_bgsave_time_sec "
    "rdb_last_cow_size aof_enabled aof_rewrite_in_progress aof_rewrite_scheduled "
    "aof_last_rewrite_time_sec aof_current_rewrite_time_sec aof_last_cow_size "
    "aof_current_size aof_base_size aof_pending_rewrite aof_buffer_length "
    "aof_rewrite_buffer_length aof_pending_bio_fsync aof_delayed_fsync "
    "aof_last_bgrewrite_status aof_last_write_status module_fork_in_progress "
    "module_fork_last_cow_size pubsub_channels pubsub_patterns latest_fork_usec "
    "connected_slaves repl_backlog_size repl_backlog_active repl_backlog_first_byte_offset "
    "repl_backlog_histlen master_repl_offset second_repl_offset slave_expires_tracked_keys "
    "slave_priority sync_full sync_partial_ok sync_partial_err "
    "cluster_stats_messages_sent cluster_stats_messages_received"
).split()

EXPORTER_COUNTERS = (
    "total_connections_received total_commands_processed rejected_connections "
    "total_net_input_bytes total_net_output_bytes expired_keys evicted_keys keyspace_hits "
    "keyspace_misses used_cpu_sys used_cpu_user used_cpu_sys_children used_cpu_user_children"
).split()

EXPORTER_INSTANCE_LABELS = (
    "role redis_version redis_build_id redis_mode os maxmemory_policy tcp_port run_id "
    "process_id"
).split()

TOOL_FIELDS = list(dict.fromkeys(
    REDIS_CLI_STAT + EXPORTER_GAUGES + EXPORTER_COUNTERS + EXPORTER_INSTANCE_LABELS))


def parse_info(text: str) -> dict[str, tuple[str, str]]:
    """field -> (section, value)."""
    fields, section = {}, ""
    for line in text.splitlines():
        if line.startswith("# "):
            section = line[2:].strip().lower()
        elif ":" in line:
            name, value = line.split(":", 1)
            fields[name] = (section, value)
    return fields


def kind(value: str) -> str:
    if re.fullmatch(r"-?\d+", value):
        return "integer"
    if re.fullmatch(r"-?\d+\.\d+%?", value):
        return "float"
    return "string"


@pytest.fixture
def cpu_times():
    """A stand-in CPU clock, as flowcache serve installs a real one."""
    info.set_cpu_source(lambda: (0.25, 1.5, 0.0, 0.0))
    yield
    info.set_cpu_source(None)


def test_tool_fields_match_real_redis(redis_server, cpu_times):
    oracle = RedisOracle(redis_server)
    try:
        oracle.call("SET", "k", "v")
        real = parse_info(oracle.call("INFO", "everything").decode())
    finally:
        oracle.close()
    h = Harness()
    h.run("SET", "k", "v")
    ours = parse_info(h.run("INFO", "everything").decode())

    wanted = [name for name in TOOL_FIELDS if name in real]
    assert len(wanted) > 60  # the lists above really are Redis 7.0's fields
    problems = []
    for name in wanted:
        if name not in ours:
            problems.append(f"{name}: missing (redis: {real[name]})")
            continue
        real_section, real_value = real[name]
        our_section, our_value = ours[name]
        if our_section != real_section:
            problems.append(f"{name}: in # {our_section}, redis has it in # {real_section}")
        if kind(our_value) != kind(real_value):
            problems.append(f"{name}: {our_value!r} is not a {kind(real_value)} like {real_value!r}")
    assert problems == []
    assert ours["db0"][1].startswith("keys=1,expires=0,")


def test_cpu_section_reads_the_installed_source(cpu_times):
    body = Harness().run("INFO", "cpu").decode()
    assert body == ("# CPU\r\nused_cpu_sys:0.250000\r\nused_cpu_user:1.500000\r\n"
                    "used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n")


def test_redis_cli_stat_against_flowcache_serve():
    cli, stdbuf = shutil.which("redis-cli"), shutil.which("stdbuf")
    if cli is None or stdbuf is None:
        pytest.skip("redis-cli or stdbuf is not installed")
    port = free_port()
    server = start_flowcache(port)
    try:
        wait_for_port(port)
        subprocess.run([cli, "-p", str(port), "SET", "k", "v"], check=True,
                       capture_output=True, timeout=10)
        # Line-buffered, so what it printed survives the terminate below.
        stat = subprocess.Popen([stdbuf, "-oL", cli, "-p", str(port), "--stat", "-i", "0.1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = stat.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:
            stat.terminate()
            out, err = stat.communicate(timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "------- data ------ --------------------- load" in out
    # Each data line: keys, mem, clients, blocked, requests, connections.
    rows = re.findall(r"^(\d+)\s+\S+B?\s+(\d+)\s+(\d+)\s+\d+ \(\+\d+\)\s+\d+\s*$", out, re.M)
    assert len(rows) >= 3, out
    assert all(keys == "1" and clients == "1" and blocked == "0" for keys, clients, blocked in rows)
    assert "error" not in (out + err).lower(), out + err
