"""Connection and server commands, in-process and against a real redis-server.

Replies that do not depend on server state are compared byte for byte with
redis-server in both protocols; the rest (client ids, INFO values, CLIENT
LIST lines) are compared field by field.
"""

from __future__ import annotations

import re

import pytest

from cache import info
from cache.config import Config
from cache.reply import Map, Status, Verbatim
from cache.state import RESET_HOOKS
from tests.cache.harness import Harness, RedisOracle


@pytest.fixture
def oracle(redis_server):
    conn = RedisOracle(redis_server)
    yield conn
    conn.close()


def same_as_redis(oracle: RedisOracle, *commands: tuple, proto: int = 2) -> None:
    h = Harness()
    if proto == 3:
        assert h.run("HELLO", "3")
        oracle.raw("HELLO", "3")
    for args in commands:
        assert h.run_raw(*args, proto=proto) == oracle.raw(*args), args


DETERMINISTIC = [
    ("PING",), ("PING", "hello"), ("PING", "a", "b"), ("ECHO", "x y\r\n"), ("ECHO",),
    ("ECHO", "a", "b"),
    ("SELECT", "16"), ("SELECT", "-1"), ("SELECT", "abc"), ("SELECT", "1.5"), ("SELECT", ""),
    ("SELECT", "99999999999"), ("SELECT", "-2147483649"), ("SELECT", "15"), ("SELECT", "0"),
    ("HELLO", "4"), ("HELLO", "1"), ("HELLO", "abc"), ("HELLO", "3.0"), ("HELLO", "3", "foo"),
    ("HELLO", "3", "auth", "default"), ("HELLO", "2", "setname"),
    ("HELLO", "3", "setname", "a b"), ("HELLO", "2", "AUTH", "bob", "pw"),
    ("AUTH", "pw"), ("AUTH", "a", "b", "c"), ("AUTH", "bob", "pw"), ("AUTH", "default", "pw"),
    ("RESET", "x"), ("DBSIZE", "x"), ("TIME", "x"),
    ("FLUSHDB", "foo"), ("FLUSHALL", "async", "sync"), ("FLUSHALL", "FOO"),
    ("WAIT", "0", "0"), ("WAIT", "a", "0"), ("WAIT", "0", "a"), ("WAIT", "0", "-1"),
    ("WAIT", "-1", "0"),
    ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME", "caf\xe9"), ("CLIENT", "GETNAME"),
    ("CLIENT", "SETNAME", "worker-1"), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", ""),
    ("CLIENT", "GETNAME"), ("CLIENT", "GETNAME", "x"), ("CLIENT", "ID", "x"),
    ("CLIENT", "INFO", "x"),
    ("CLIENT", "LIST", "TYPE", "foo"), ("CLIENT", "LIST", "TYPE", "pubsub"),
    ("CLIENT", "LIST", "ID", "abc"), ("CLIENT", "LIST", "ID"), ("CLIENT", "LIST", "foo"),
    ("CLIENT", "LIST", "ID", "987654", "987655"),
    ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ID", "abc"),
    ("CLIENT", "KILL", "ID", "0"), ("CLIENT", "KILL", "ID", "987654"),
    ("CLIENT", "KILL", "ADDR", "1.2.3.4:5"), ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
    ("CLIENT", "KILL", "foo", "bar"), ("CLIENT", "KILL", "USER", "bob"),
    ("CLIENT", "KILL", "ID", "1", "SKIPME", "maybe"), ("CLIENT", "KILL", "ID", "1", "TYPE"),
    ("CLIENT", "KILL", "TYPE", "foo"), ("CLIENT", "KILL", "ID", "987654", "TYPE", "master"),
    ("CLIENT", "NO-EVICT", "maybe"), ("CLIENT", "NO-EVICT", "ON"), ("CLIENT", "NO-EVICT", "off"),
    ("INFO", "nosuchsection"), ("INFO", "modules"), ("INFO", "cluster"),
    ("INFO", "cluster", "modules"), ("CONFIG", "RESETSTAT", "x"),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_deterministic_replies_match_redis(oracle, proto):
    same_as_redis(oracle, *DETERMINISTIC, proto=proto)


@pytest.mark.parametrize("proto", [2, 3])
def test_hello_matches_redis_apart_from_the_client_id(oracle, proto):
    h = Harness()
    ours, theirs = h.run_raw("HELLO", str(proto), proto=proto), oracle.raw("HELLO", str(proto))
    without_id = re.compile(rb"(\$2\r\nid\r\n):\d+")
    assert without_id.sub(rb"\1:N", ours) == without_id.sub(rb"\1:N", theirs)
    assert h.client.proto == proto
    assert dict(h.run("HELLO"))[b"id"] == h.client.id


def test_quit_replies_ok_and_closes_after_the_reply(oracle):
    h = Harness()
    assert h.run_raw("QUIT", "extra") == oracle.raw("QUIT", "extra") == b"+OK\r\n"
    assert h.client.close_after_reply


def test_reset_restores_a_fresh_connection_and_runs_hooks():
    h = Harness()
    seen = []
    RESET_HOOKS.append(seen.append)
    try:
        for args in (("SELECT", "5"), ("HELLO", "3"), ("CLIENT", "SETNAME", "n"),
                     ("CLIENT", "NO-EVICT", "on")):
            h.run(*args)
        assert h.run("RESET") == Status(b"RESET")
    finally:
        RESET_HOOKS.remove(seen.append)
    client = h.client
    assert (client.db_index, client.proto, client.name, client.no_evict) == (0, 2, b"", False)
    assert seen == [client]


# -- authentication -----------------------------------------------------------------------


def secured() -> Harness:
    return Harness(config=Config({"requirepass": "sekret"}))


def test_clients_start_unauthenticated_when_a_password_is_set():
    h = secured()
    assert not h.client.authenticated
    assert h.run_raw("AUTH", "wrong") == \
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert h.run_raw("HELLO", "3").startswith(b"-NOAUTH HELLO must be called")
    assert h.run_raw("AUTH", "sekret") == b"+OK\r\n" and h.client.authenticated


def test_hello_can_authenticate_and_name_in_one_step():
    h = secured()
    assert h.run_raw("HELLO", "3", "AUTH", "default", "wrong", "SETNAME", "x").startswith(
        b"-WRONGPASS")
    reply = dict(h.run("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "svc"))
    assert reply[b"proto"] == 3 and h.client.name == b"svc" and h.client.authenticated
    assert h.run_raw("AUTH", "someone", "sekret").startswith(b"-WRONGPASS")


def test_reset_deauthenticates_when_a_password_is_set():
    h = secured()
    h.run("AUTH", "default", "sekret")
    h.run("RESET")
    assert not h.client.authenticated


def test_password_set_at_runtime_applies_to_new_clients():
    h = Harness()
    assert h.run_raw("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
    assert h.client.authenticated  # already connected: stays in
    assert not h.new_client().authenticated


# -- CLIENT --------------------------------------------------------------------------------


def test_client_list_line_has_redis_fields_in_redis_order(oracle):
    their_line = oracle.call("CLIENT", "INFO").decode()
    h = Harness()
    h.run("CLIENT", "SETNAME", "me")
    h.run("SELECT", "2")
    our_line = bytes(h.run("CLIENT", "INFO")).decode()
    assert our_line.endswith("\n") and our_line.count("\n") == 1
    names = [field.split("=")[0] for field in our_line.split()]
    assert names == [field.split("=")[0] for field in their_line.split()]
    fields = dict(field.split("=", 1) for field in our_line.split())
    assert fields["id"] == str(h.client.id) and fields["name"] == "me"
    assert (fields["db"], fields["flags"], fields["cmd"]) == ("2", "N", "client|info")
    assert (fields["argv-mem"], fields["resp"], fields["user"]) == ("10", "2", "default")


def test_client_list_filters_by_type_and_id():
    h = Harness()
    other = h.new_client()
    other.sub = 1
    everyone = bytes(h.run("CLIENT", "LIST")).splitlines()
    assert [line.split()[0] for line in everyone] == [b"id=1", b"id=2"]
    assert b"flags=P" in everyone[1]
    assert bytes(h.run("CLIENT", "LIST", "TYPE", "pubsub")).startswith(b"id=2 ")
    assert bytes(h.run("CLIENT", "LIST", "TYPE", "NORMAL")).startswith(b"id=1 ")
    assert bytes(h.run("CLIENT", "LIST", "ID", "2", "99", "2")).count(b"id=2 ") == 2
    assert type(h.run("CLIENT", "LIST")) is Verbatim


def test_client_list_age_and_idle_follow_the_loop_clock():
    h = Harness()
    h.advance(5_000)
    fields = dict(f.split(b"=", 1) for f in bytes(h.run("CLIENT", "INFO")).split())
    assert (fields[b"age"], fields[b"idle"]) == (b"5", b"5")


def test_client_kill_by_id_addr_laddr_and_type():
    h = Harness()
    killed = []
    victims = [h.new_client() for _ in range(3)]
    for i, victim in enumerate(victims):
        victim.addr, victim.laddr = f"10.0.0.{i}:5000", "127.0.0.1:3000"
        victim.on_kill = lambda victim=victim: killed.append(victim.id)
    assert h.run("CLIENT", "KILL", "ID", str(victims[0].id)) == 1
    assert h.run("CLIENT", "KILL", "10.0.0.1:5000") == Status(b"OK")
    assert h.run("CLIENT", "KILL", "LADDR", "127.0.0.1:3000", "SKIPME", "yes") == 3
    assert killed == [victims[0].id, victims[1].id, victims[0].id, victims[1].id, victims[2].id]
    assert not h.client.close_after_reply
    assert h.run("CLIENT", "KILL", "TYPE", "normal", "USER", "default", "SKIPME", "no") == 4
    assert h.client.close_after_reply  # killed itself: closes once this reply is out


def test_client_setinfo_stores_library_and_rejects_spaces():
    h = Harness()
    assert h.run("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == Status(b"OK")
    assert h.run("CLIENT", "SETINFO", "lib-ver", "5.3.1") == Status(b"OK")
    assert (h.client.lib_name, h.client.lib_ver) == (b"redis-py", b"5.3.1")
    assert h.run_raw("CLIENT", "SETINFO", "lib-name", "a b") == \
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    assert h.run_raw("CLIENT", "SETINFO", "color", "x") == b"-ERR Unrecognized option 'color'\r\n"


def test_client_id_and_help():
    h = Harness()
    assert h.run("CLIENT", "ID") == h.client.id
    assert h.new_client().id == h.client.id + 1
    help_lines = h.run("CLIENT", "HELP")
    assert help_lines[0].startswith(b"CLIENT <subcommand>")
    assert b"SETINFO <option> <value>" in help_lines


# -- keyspace-wide and time -------------------------------------------------------------------


def test_dbsize_flushdb_and_flushall():
    h = Harness()
    h.run("SET", "a", "1")
    h.run("SET", "b", "2")
    h.run("SELECT", "1")
    h.run("SET", "c", "3")
    assert h.run("DBSIZE") == 1
    assert h.run("FLUSHDB", "SYNC") == Status(b"OK")
    assert h.run("DBSIZE") == 0
    h.run("SELECT", "0")
    assert h.run("DBSIZE") == 2
    assert h.run("FLUSHALL", "async") == Status(b"OK")
    assert h.run("DBSIZE") == 0
    assert h.server.dirty == 6  # SETs count too, as in Redis (6 for this sequence)


def test_time_reads_the_loop_wall_clock():
    h = Harness()
    seconds, micros = h.run("TIME")
    h.advance(1_500)
    later_seconds, later_micros = h.run("TIME")
    total = lambda s, us: int(s) * 1_000_000 + int(us)  # noqa: E731
    assert total(later_seconds, later_micros) - total(seconds, micros) == 1_500_000
    assert int(later_seconds) == h.server.now_us // 1_000_000


# -- INFO ------------------------------------------------------------------------------------------


def info_fields(text: bytes) -> dict[str, list[str]]:
    """Section title -> field names, in order."""
    sections: dict[str, list[str]] = {}
    for block in text.decode().split("\r\n\r\n"):
        lines = block.strip("\r\n").split("\r\n")
        sections[lines[0]] = [line.split(":")[0] for line in lines[1:] if line]
    return sections


@pytest.mark.parametrize("args", [(), ("everything",), ("all",), ("default",),
                                  ("SERVER", "keyspace"), ("server", "server")])
def test_info_sections_follow_redis_order_and_names(oracle, args):
    ours = info_fields(Harness().run("INFO", *args))
    theirs = info_fields(oracle.call("INFO", *args))
    assert list(ours) == list(theirs)
    for title, names in ours.items():
        extra = set(names) - set(theirs[title]) - {"flowcache_version", "used_memory_startup"}
        assert not extra, (title, extra)


def test_info_is_verbatim_text_and_reports_state():
    h = Harness()
    h.run("SET", "k", "v")
    h.run("SELECT", "3")
    h.run("SET", "k2", "v")
    h.advance(90_000)
    reply = h.run("INFO")
    assert type(reply) is Verbatim and reply.endswith(b"\r\n")
    assert h.run_raw("INFO", "server", proto=3).startswith(b"=")
    text = bytes(reply).decode()
    values = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
    assert values["redis_version"] == "7.0.15"
    assert values["uptime_in_seconds"] == "90"
    assert values["connected_clients"] == "1"
    assert values["maxmemory_policy"] == "noeviction"
    assert int(values["used_memory"]) == info.used_memory(h.server)
    assert values["db0"] == "keys=1,expires=0,avg_ttl=0"
    assert values["db3"] == "keys=1,expires=0,avg_ttl=0"
    assert "db1" not in values
    assert values["run_id"] == h.server.run_id and len(values["run_id"]) == 40


def test_info_errorstats_and_resetstat():
    h = Harness()
    h.server.stats.record_error(b"ERR syntax error")
    h.server.stats.record_error(b"WRONGTYPE Operation against a key")
    h.server.stats.record_error(b"ERR no such key")
    assert h.run("INFO", "errorstats") == \
        b"# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"
    h.server.stats.commandstats["get"] = [4, 10, 0, 1]
    assert b"cmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=0,failed_calls=1" \
        in h.run("INFO", "commandstats")
    assert h.run("CONFIG", "RESETSTAT") == Status(b"OK")
    assert h.run("INFO", "errorstats") == b"# Errorstats\r\n"
    assert h.server.stats.total_error_replies == 0


def test_info_extra_fields_hook():
    h = Harness()
    info.EXTRA_FIELDS["cpu"].append(lambda server: [("used_cpu_sys", "0.5")])
    try:
        assert h.run("INFO", "cpu") == b"# CPU\r\nused_cpu_sys:0.5\r\n"
    finally:
        info.EXTRA_FIELDS["cpu"].pop()


def test_human_bytes_matches_redis():
    assert [info.human_bytes(n) for n in (0, 200, 32768, 1237864, 25276510208)] == [
        "0B", "200B", "32.00K", "1.18M", "23.54G"]


def test_config_get_reply_is_a_map():
    assert type(Harness().run("CONFIG", "GET", "hz")) is Map


def _field_names(text: bytes) -> list[bytes]:
    return [line.split(b":", 1)[0] for line in text.split(b"\r\n") if b":" in line]


def test_info_stats_pubsub_counts_in_redis_order(oracle):
    h = Harness()
    subscriber = h.new_client()
    h.run("SUBSCRIBE", "a", "b", client=subscriber)
    h.run("PSUBSCRIBE", "p*", client=subscriber)
    h.run("SSUBSCRIBE", "s", client=subscriber)
    ours = bytes(h.run("INFO", "stats"))
    assert b"pubsub_channels:2\r\npubsub_patterns:1\r\npubsubshard_channels:1\r\n" in ours
    theirs = [name for name in _field_names(oracle.call("INFO", "stats"))
              if name in _field_names(ours)]
    assert _field_names(ours) == theirs  # the shared fields in Redis's order


def test_info_latencystats_and_resetstat_clears_histograms():
    h = Harness()
    h.run("SET", "k", "v")
    assert b"latency_percentiles_usec_set:p50=" in bytes(h.run("INFO", "latencystats"))
    assert b"# Latencystats" not in bytes(h.run("INFO"))  # not a default section
    h.server.memory.exceeded_total = 1234
    h.run("CONFIG", "RESETSTAT")
    lines = bytes(h.run("INFO", "latencystats")).split(b"\r\n")
    assert [line for line in lines if line.startswith(b"latency_")] == [
        line for line in lines if line.startswith(b"latency_percentiles_usec_config|resetstat")]
    assert b"total_eviction_exceeded_time:0\r\n" in bytes(h.run("INFO", "stats"))


@pytest.mark.parametrize("args", [("PING",), ("PING", "hello"), ("PING", "")])
def test_ping_in_resp2_subscribed_mode_matches_redis(oracle, args):
    h = Harness()
    assert h.run_raw("SUBSCRIBE", "chan") == oracle.raw("SUBSCRIBE", "chan")
    try:
        assert h.run_raw(*args) == oracle.raw(*args)
    finally:
        oracle.raw("UNSUBSCRIBE")
