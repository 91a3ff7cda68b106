"""SLOWLOG, LATENCY and MONITOR against a real redis-server.

Commands run through the real dispatcher, which reports each call to
`cache.commands.diagnostics`; on the simulated clock a command takes no
time, so tests that need slow calls report them to the entry points directly.
"""

from __future__ import annotations

import re
import socket
import time
from types import SimpleNamespace

import pytest

import flow
import net
from cache import dispatch, errors, latency, monitor, slowlog
from cache.blocking import Blocked
from cache.commands.clients import REPLY_SKIP
from cache.commands.diagnostics import watched
from cache.commands.table import COMMANDS
from cache.config import Config
from cache.reply import Status
from cache.server import CacheServer
from net import SimNetwork
from support import redis_server_for_tests
from tests.cache.harness import Harness, RedisOracle, parse_reply

@pytest.fixture(scope="module")
def redis_port():
    """A private redis-server (DEBUG SLEEP allowed; its settings are ours to change)."""
    with redis_server_for_tests("--enable-debug-command", "yes") as port:
        yield port


@pytest.fixture
def oracle(redis_port):
    conn = RedisOracle(redis_port)
    conn.call("FLUSHALL")
    conn.call("CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128",
              "latency-monitor-threshold", "0")
    conn.call("SLOWLOG", "RESET")
    conn.call("LATENCY", "RESET")
    yield conn
    conn.close()


def typed(data: bytes):
    """(RESP type, value) of a complete reply, keeping types (to compare shapes)."""
    from tests.cache.test_introspection import decode

    return decode(data)


def shape(value) -> object:
    kind, payload = value
    if kind in ("array", "set", "push"):
        return kind, [shape(v) for v in payload]
    if kind == "map":
        return kind, [(shape(k), shape(v)) for k, v in payload]
    return kind


# -- the command table --------------------------------------------------------------


@pytest.mark.parametrize("name", ["slowlog", "latency", "monitor"])
def test_command_info_equals_redis(oracle, name):
    theirs = oracle.call("COMMAND", "INFO", name)[0]
    ours = Harness().run("COMMAND", "INFO", name)[0]
    assert [ours[0], ours[1], list(ours[2]), *ours[3:6], list(ours[6]), list(ours[7])] == \
        [theirs[0], theirs[1], theirs[2], *theirs[3:6], theirs[6], theirs[7]]
    their_subs = {sub[0]: sub for sub in theirs[9]}
    assert sorted(sub[0] for sub in ours[9]) == sorted(their_subs)
    for sub in ours[9]:
        assert [sub[1], list(sub[2]), list(sub[6]), list(sub[7])] == \
            [their_subs[sub[0]][i] for i in (1, 2, 6, 7)], sub[0]


def _docs(flat: list) -> dict:
    """A COMMAND DOCS entry (RESP2, flat) as a dict, without the optional history."""
    doc = dict(zip(flat[::2], flat[1::2]))
    doc.pop(b"history", None)
    if b"subcommands" in doc:
        subs = doc[b"subcommands"]
        doc[b"subcommands"] = {name: _docs(sub) for name, sub in zip(subs[::2], subs[1::2])}
    return doc


@pytest.mark.parametrize("name", ["slowlog", "latency", "monitor"])
def test_command_docs_equal_redis_but_history(oracle, name):
    ours = parse_reply(Harness().run_raw("COMMAND", "DOCS", name))
    theirs = oracle.call("COMMAND", "DOCS", name)
    assert _docs(ours[1]) == _docs(theirs[1])


# -- SLOWLOG ------------------------------------------------------------------------

SLOWLOG_REPLIES = [
    ("SLOWLOG", "HELP"), ("SLOWLOG", "GET", "x"), ("SLOWLOG", "GET", "-2"),
    ("SLOWLOG", "GET", "01"), ("SLOWLOG", "GET", "+1"), ("SLOWLOG", "GET", "9223372036854775808"),
    ("SLOWLOG", "GET", "0"),
    ("slowlog", "get", "1", "2"), ("SLOWLOG", "Get", "1", "2"), ("SLOWLOG", "LEN", "x"),
    ("SLOWLOG", "foo"), ("SLOWLOG",), ("SLOWLOG", "RESET"), ("SLOWLOG", "LEN"),
    ("SLOWLOG", "GET"),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_slowlog_replies_match_redis(oracle, proto):
    h = Harness()
    if proto == 3:
        h.run("HELLO", "3")
        oracle.raw("HELLO", "3")
    for args in SLOWLOG_REPLIES:
        assert h.run_raw(*args, proto=proto) == oracle.raw(*args), args


def _log_slowly(h: Harness, oracle: RedisOracle) -> None:
    for side in (h.run, oracle.call):
        side("CONFIG", "SET", "slowlog-log-slower-than", "0")
        side("SLOWLOG", "RESET")


def _entries(reply) -> list:
    """(argv, client name) of each SLOWLOG GET entry, newest first."""
    return [(entry[3], entry[5]) for entry in reply]


def test_slowlog_and_latency_settings_take_effect_at_once_like_redis(oracle):
    """The dispatcher skips diagnostics below a bound it caches: every change must show."""
    h = Harness()
    script = [
        ("SET", "a", "1"), ("CONFIG", "SET", "slowlog-log-slower-than", "0"), ("GET", "a"),
        ("INCR", "n"), ("SET", "b", "2"), ("CONFIG", "SET", "slowlog-max-len", "2"),
        ("SLOWLOG", "LEN"), ("CONFIG", "SET", "slowlog-log-slower-than", "-1"), ("GET", "a"),
        ("SLOWLOG", "LEN"), ("CONFIG", "SET", "slowlog-log-slower-than", "0"),
        ("CONFIG", "SET", "slowlog-max-len", "1"), ("SLOWLOG", "LEN"),
        ("CONFIG", "SET", "slowlog-max-len", "128"), ("CONFIG", "SET", "slowlog-log-slower-than", "10000"),
        ("SLOWLOG", "RESET"), ("GET", "a"), ("SLOWLOG", "LEN"),
    ]
    oracle.call("SLOWLOG", "RESET")
    for args in script:
        assert h.run(*args) == oracle.call(*args), args
    assert _entries(h.run("SLOWLOG", "GET", "-1")) == _entries(oracle.call("SLOWLOG", "GET", "-1"))
    oracle.call("CONFIG", "SET", "slowlog-max-len", "128")


def test_monitor_sees_commands_from_its_start_and_not_after_it_ends():
    h = Harness()
    h.run("SET", "a", "1")  # the fast path is warm for SET
    watcher = h.new_client()
    h.run("MONITOR", client=watcher)
    h.run("SET", "a", "2")
    h.run("RESET", client=watcher)
    h.run("SET", "a", "3")
    fed = [push for push in watcher.pushes if b'"SET"' in bytes(push)]
    assert len(fed) == 1 and b'"2"' in bytes(fed[0])


def test_slowlog_entry_shape_and_truncation_match_redis(oracle):
    h = Harness()
    h.client.addr = "127.0.0.1:5000"
    _log_slowly(h, oracle)
    args = ["RPUSH", "list", "x" * 300] + [f"e{i}" for i in range(40)]
    for side in (h.run, oracle.call):
        side("CLIENT", "SETNAME", "probe")
        side(*args)
    ours = typed(h.run_raw("SLOWLOG", "GET", "1"))
    theirs = typed(oracle.raw("SLOWLOG", "GET", "1"))
    assert shape(ours) == shape(theirs)
    ours_entry, their_entry = ours[1][0][1], theirs[1][0][1]
    assert ours_entry[3] == their_entry[3]  # argv: 32 kept, the long one cut at 128 bytes
    assert ours_entry[5] == their_entry[5] == ("bulk", b"probe")
    assert re.fullmatch(rb"127\.0\.0\.1:\d+", their_entry[4][1])
    assert ours_entry[4] == ("bulk", b"127.0.0.1:5000")
    argv = [arg for _, arg in ours_entry[3][1]]
    assert len(argv) == 32 and argv[-1] == b"... (12 more arguments)"  # 43 - 32 + 1
    assert argv[2] == b"x" * 128 + b"... (172 more bytes)"


REDACTED_COMMANDS = [
    ("AUTH", "pw"), ("AUTH", "a", "b"), ("AUTH", "a", "b", "c"),
    ("HELLO", "2", "AUTH", "default", "pw"), ("HELLO", "4", "AUTH", "a", "b"),
    ("HELLO", "2", "AUTH", "a"), ("HELLO", "02", "AUTH", "a", "b"),
    ("HELLO", "2", "SETNAME", "x", "AUTH", "default", "y"),
    ("HELLO", "2", "FOO", "x", "AUTH", "default", "y"),
    ("HELLO", "2", "auth", "default", "y", "AUTH", "default", "z"),
    ("CONFIG", "SET", "nosuch", "x", "requirepass", "y"),
    ("config", "set", "REQUIREPASS", "y", "maxmemory", "foo"),
    ("CONFIG", "SET", "maxmemory", "foo", "requirepass", "y"),
    ("CONFIG", "SET", "requirepass", "y", "requirepass", "z"),
    ("CONFIG", "SET", "requirepass", "y", "maxmemory"),
]


def test_slowlog_redacts_secrets_like_redis(oracle):
    h = Harness()
    _log_slowly(h, oracle)
    for args in REDACTED_COMMANDS:
        h.run(*args)
        oracle.call(*args)
    ours = _entries(h.run("SLOWLOG", "GET", "-1"))
    theirs = _entries(oracle.call("SLOWLOG", "GET", "-1"))
    assert ours == theirs
    assert [b"AUTH", b"(redacted)"] in [argv for argv, _ in ours]


def test_slowlog_logs_the_commands_exec_ran_but_not_exec(oracle):
    h = Harness()
    _log_slowly(h, oracle)
    script = [("MULTI",), ("SET", "a", "b"), ("INCR", "n"), ("EXEC",), ("GET",), ("NOSUCH",),
              ("GET", "a", "b")]
    for args in script:
        h.run(*args)
        oracle.call(*args)
    ours = _entries(h.run("SLOWLOG", "GET", "-1"))
    assert ours == _entries(oracle.call("SLOWLOG", "GET", "-1"))
    assert [argv[0] for argv, _ in ours] == [b"INCR", b"SET", b"MULTI", b"SLOWLOG"]


def test_slowlog_trims_only_while_logging_like_redis(oracle):
    h = Harness()
    _log_slowly(h, oracle)
    script = [("SET", "k", str(i)) for i in range(5)] + [
        ("CONFIG", "SET", "slowlog-max-len", "2"), ("SLOWLOG", "LEN"),
        ("CONFIG", "SET", "slowlog-log-slower-than", "-1"),
        ("CONFIG", "SET", "slowlog-max-len", "1"),
        ("SLOWLOG", "LEN"), ("SLOWLOG", "GET"),
        ("CONFIG", "SET", "slowlog-log-slower-than", "100000000"), ("SLOWLOG", "LEN"),
        ("SLOWLOG", "RESET"), ("SLOWLOG", "LEN"),
    ]
    for args in script:
        ours, theirs = h.run(*args), oracle.call(*args)
        if args[:2] == ("SLOWLOG", "GET"):
            assert _entries(ours) == _entries(theirs)
        elif args[0] == "SLOWLOG":
            assert ours == theirs, args


def test_slowlog_threshold_ids_and_order():
    h = Harness()
    spec = COMMANDS[b"get"]
    h.run("CONFIG", "SET", "slowlog-log-slower-than", "1000")
    for duration in (999, 1000, 5000):
        slowlog.record(h.client, spec, [b"GET", b"%d" % duration], duration)
    entries = h.run("SLOWLOG", "GET")
    assert [(e[0], e[2], e[3]) for e in entries] == [(1, 5000, [b"GET", b"5000"]),
                                                      (0, 1000, [b"GET", b"1000"])]
    assert entries[0][1] == h.server.now_ms // 1000
    h.run("SLOWLOG", "RESET")
    slowlog.record(h.client, spec, [b"GET", b"x"], 2000)
    assert h.run("SLOWLOG", "GET")[0][0] == 2  # ids go on after RESET
    slowlog.record(h.client, COMMANDS[b"exec"], [b"EXEC"], 10**6)  # skip_slowlog
    assert h.run("SLOWLOG", "LEN") == 1


def test_a_blocked_call_is_shown_to_monitors_but_not_logged_until_served():
    h = Harness()
    watcher = h.new_client()
    h.run("MONITOR", client=watcher)
    h.run("CONFIG", "SET", "slowlog-log-slower-than", "0")
    h.run("SLOWLOG", "RESET")
    assert isinstance(h.run("BLPOP", "list", "0"), Blocked)
    assert [_monitor_tail(b"+" + line)[1] for line in h.pushes(watcher)][-1] == \
        b'"BLPOP" "list" "0"'
    assert [entry[3][0] for entry in h.run("SLOWLOG", "GET")] == [b"SLOWLOG"]


def test_a_served_blocked_call_is_logged_after_the_write_that_served_it(oracle, redis_port):
    h = Harness()
    _log_slowly(h, oracle)
    blocker = socket.create_connection(("127.0.0.1", redis_port), timeout=10)
    try:
        blocker.sendall(RedisOracle.encode_command(("BLPOP", "list", "0")))
        waiting = h.new_client()
        assert isinstance(h.run("BLPOP", "list", "0", client=waiting), Blocked)
        while oracle.call("INFO", "clients").find(b"blocked_clients:1") < 0:
            time.sleep(0.01)
        for side in (h.run, oracle.call):
            side("RPUSH", "list", "a")
        assert blocker.recv(100) == b"*2\r\n$4\r\nlist\r\n$1\r\na\r\n"
    finally:
        blocker.close()
    ours = _entries(h.run("SLOWLOG", "GET", "2"))
    assert ours == _entries(oracle.call("SLOWLOG", "GET", "2"))  # (it polled INFO before)
    assert [argv[0] for argv, _ in ours] == [b"BLPOP", b"RPUSH"]


def test_a_timed_out_blocked_call_is_not_logged():
    h = Harness()
    h.run("CONFIG", "SET", "slowlog-log-slower-than", "0")
    h.run("SLOWLOG", "RESET")
    waiting = h.run("BLPOP", "list", "0.01")
    h.advance(50)
    assert waiting.done() and waiting.result() is not None
    assert [entry[3][0] for entry in h.run("SLOWLOG", "GET")] == [b"SLOWLOG"]


def test_a_reply_is_encoded_within_its_commands_time(monkeypatch):
    """Redis builds a reply inside call(), so a reply slow to encode makes a slow
    command, on the checked path too (here a command's first call, before the
    batched path knows it)."""
    h = Harness()
    h.run("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    h.run("RPUSH", "l", "a", "b")
    h.run("SLOWLOG", "RESET")
    encode_into = dispatch.encode_into

    def slow_encode_into(parts, reply, proto):
        h.loop.offset_ms += 20  # this reply takes 20 ms to encode
        encode_into(parts, reply, proto)

    monkeypatch.setattr(dispatch, "encode_into", slow_encode_into)
    lrange = [b"LRANGE", b"l", b"0", b"-1"]
    assert dispatch.execute_encoded(h.client, lrange) == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    monkeypatch.undo()
    [entry] = h.run("SLOWLOG", "GET")
    assert entry[3] == lrange and entry[2] >= 19_990  # 20 ms, but for float rounding


def test_slowlog_get_count_defaults_to_ten_and_minus_one_is_all():
    h = Harness()  # commands take no time on the simulated clock: only these are slow
    h.run("CONFIG", "SET", "slowlog-log-slower-than", "1")
    for i in range(15):
        slowlog.record(h.client, COMMANDS[b"get"], [b"GET", b"%d" % i], 1)
    assert len(h.run("SLOWLOG", "GET")) == 10
    assert len(h.run("SLOWLOG", "GET", "-1")) == 15
    assert [e[3][1] for e in h.run("SLOWLOG", "GET", "3")] == [b"14", b"13", b"12"]


# -- LATENCY ------------------------------------------------------------------------

LATENCY_REPLIES = [
    ("LATENCY", "HELP"), ("LATENCY", "LATEST"), ("LATENCY", "HISTORY", "command"),
    ("LATENCY", "GRAPH", "command"), ("LATENCY", "GRAPH", "a\r\nb"), ("LATENCY", "DOCTOR"),
    ("LATENCY", "RESET"), ("LATENCY", "RESET", "a", "b"), ("LATENCY", "HISTOGRAM", "nosuch"),
    ("LATENCY", "HISTOGRAM", "get|x", "config|get|x"), ("LATENCY", "foo"), ("LATENCY", "HISTORY"),
    ("LATENCY", "GRAPH"), ("LATENCY", "LATEST", "x"), ("LATENCY",),
    ("CONFIG", "SET", "latency-monitor-threshold", "5"), ("LATENCY", "DOCTOR"),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_latency_replies_match_redis(oracle, proto):
    h = Harness()
    if proto == 3:
        h.run("HELLO", "3")
        oracle.raw("HELLO", "3")
    for args in LATENCY_REPLIES:
        theirs = oracle.raw(*args)
        if args == ("LATENCY", "DOCTOR") and b"huge pages" in theirs:
            pytest.skip("this machine's redis-server reports transparent huge pages")
        assert h.run_raw(*args, proto=proto) == theirs, args


def test_latency_samples_keep_the_worst_of_each_second():
    h = Harness()
    h.run("CONFIG", "SET", "latency-monitor-threshold", "10")
    set_spec, get_spec = COMMANDS[b"set"], COMMANDS[b"get"]
    watched(h.client, set_spec, [b"X"], 5_000)  # below the threshold
    assert h.run("LATENCY", "LATEST") == []
    start = h.server.now_ms // 1000
    watched(h.client, set_spec, [b"X"], 20_000)
    watched(h.client, set_spec, [b"X"], 30_999)  # same second: it replaces the sample
    h.advance(1000)
    watched(h.client, set_spec, [b"X"], 15_000)
    watched(h.client, get_spec, [b"X"], 12_000)  # GET is fast
    assert h.run("LATENCY", "LATEST") == [[b"command", start + 1, 15, 30],
                                          [b"fast-command", start + 1, 12, 12]]
    assert h.run("LATENCY", "HISTORY", "command") == [[start, 30], [start + 1, 15]]
    assert h.run("LATENCY", "HISTORY", "COMMAND") == []  # names are case-sensitive here
    assert h.run("LATENCY", "RESET", "COMMAND", "command") == 1  # and not here
    assert h.run("LATENCY", "RESET") == 1


def test_latency_keeps_160_samples():
    h = Harness()
    h.run("CONFIG", "SET", "latency-monitor-threshold", "1")
    for i in range(200):
        latency.record(h.server, "expire-cycle", i + 1)
        h.advance(1000)
    history = h.run("LATENCY", "HISTORY", "expire-cycle")
    assert len(history) == latency.TS_LEN
    assert [ms for _, ms in history] == list(range(41, 201))
    assert h.run("LATENCY", "LATEST")[0][2:] == [200, 200]


def _samples_from(oracle: RedisOracle, count: int) -> None:
    """`count` command spikes in distinct seconds on the real server."""
    oracle.call("CONFIG", "SET", "latency-monitor-threshold", "1")
    for i in range(count):
        if i:
            second = int(oracle.call("TIME")[0])
            while int(oracle.call("TIME")[0]) == second:
                time.sleep(0.01)
        oracle.call("DEBUG", "SLEEP", "0.00%d" % (2 + 2 * i))


def _copy_samples(h: Harness, oracle: RedisOracle) -> int:
    """Load the real server's latency events into the harness; returns the server's time."""
    monitor_ = latency.monitor_of(h.server)
    latest = oracle.call("LATENCY", "LATEST")
    if len(latest) != 1:
        pytest.skip("the real server saw more than one kind of spike (its order is hash order)")
    for name, _, _, worst in latest:
        series = monitor_.events[name.decode()] = latency.TimeSeries()
        for when, ms in oracle.call("LATENCY", "HISTORY", name):
            series.add(when, ms)
        series.max = worst
    return int(oracle.call("TIME")[0])


def test_latency_graph_and_doctor_render_like_redis(oracle):
    _samples_from(oracle, 3)
    h = Harness()
    h.run("CONFIG", "SET", "latency-monitor-threshold", "1", "slowlog-log-slower-than", "10000")
    now = _copy_samples(h, oracle)
    theirs = {"graph": oracle.raw("LATENCY", "GRAPH", "command"),
              "doctor": oracle.raw("LATENCY", "DOCTOR")}
    if b"huge pages" in theirs["doctor"]:
        pytest.skip("this machine's redis-server reports transparent huge pages")
    renderings = []
    for seconds in (now - 1, now):  # the server's clock may have ticked meanwhile
        h.loop.offset_ms += seconds * 1000 - h.now_ms  # the harness clock set to the server's
        renderings.append({"graph": h.run_raw("LATENCY", "GRAPH", "command"),
                           "doctor": h.run_raw("LATENCY", "DOCTOR")})
    assert theirs in renderings


def test_latency_graph_wraps_at_80_columns():
    series = latency.TimeSeries()
    for i in range(100):
        series.add(1000 + i, 1 + i % 7)
    text = latency.graph("expire-cycle", series, 1100).decode()
    lines = text.split("\n")
    assert lines[0] == "expire-cycle - high 7 ms, low 1 ms (all time high 7 ms)"
    assert lines[1] == "-" * 80
    assert len(lines[2]) == 80 and "" in lines[3:]  # a blank line separates the two blocks
    assert any(len(line) == 20 for line in lines[3:])


def test_latency_histogram_and_percentiles_match_redis(oracle):
    """Redis's hdr buckets for the same durations (taken from its slow log)."""
    oracle.call("CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "1000")
    oracle.call("CONFIG", "RESETSTAT")  # drops the histograms of earlier tests
    oracle.call("SLOWLOG", "RESET")
    script = [("DEBUG", "SLEEP", s) for s in ("0", "0.001", "0.003", "0.0005", "0.02")]
    script += [("ECHO", "x" * n) for n in (1, 10, 10000, 100000)]
    for args in script:
        oracle.call(*args)
    h = Harness()
    durations: dict[bytes, list[int]] = {}
    for entry in oracle.call("SLOWLOG", "GET", "-1"):
        durations.setdefault(entry[3][0].lower(), []).append(entry[2])
    specs = {b"echo": COMMANDS[b"echo"], b"debug": SimpleNamespace(name="debug", flags=())}
    for name, spec in specs.items():
        for us in reversed(durations[name]):
            latency.monitor_of(h.server).histogram(spec.name).record_us(us)
    assert h.run_raw("LATENCY", "HISTOGRAM", "echo") == oracle.raw("LATENCY", "HISTOGRAM", "echo")
    debug = latency.monitor_of(h.server).histograms["debug"]  # flowcache has no DEBUG command
    assert oracle.call("LATENCY", "HISTOGRAM", "debug") == [
        b"debug", [b"calls", debug.total, b"histogram_usec", debug.cdf_usec()]]
    info = oracle.call("INFO", "latencystats").decode().split("\r\n")
    lines = [line for line in latency.info_latencystats(h.server)
             if line.startswith(("latency_percentiles_usec_echo:", "latency_percentiles_usec_debug:"))]
    assert len(lines) == 2 and all(line in info for line in lines), lines


def test_latency_histogram_lists_subcommands_and_blocked_calls_count_when_served():
    h = Harness()
    latency.monitor_of(h.server).histogram("config|get").record_us(3)  # what a call counts
    watched(h.client, COMMANDS[b"blpop"], [b"BLPOP"], 5, True)  # a call that blocked: not yet
    assert [name for name, _ in h.run("LATENCY", "HISTOGRAM", "CONFIG", "blpop")] == [b"config|get"]
    latency.record_unblocked(h.server, COMMANDS[b"blpop"], 5, 2000)
    reply = dict(h.run("LATENCY", "HISTOGRAM", "blpop"))
    assert dict(reply[b"blpop"])[b"calls"] == 1
    assert dict(dict(reply[b"blpop"])[b"histogram_usec"]) == {2113: 1}  # 2005 us


def test_histogram_buckets_follow_hdr():
    assert [latency.highest_equivalent(v) for v in (1, 255, 256, 1024, 4096, 10**6)] == \
        [1, 255, 257, 1031, 4127, 10**6 + 4095 - (10**6 % 4096)]
    histogram = latency.Histogram()
    for us in (0, 1, 1, 2000, 5000, 10**7):
        histogram.record_us(us)
    assert histogram.total == 6
    assert histogram.cdf_usec() == [1, 3, 2113, 4, 8454, 5, 1082130, 6]


# -- MONITOR ------------------------------------------------------------------------


class RedisMonitor:
    """A socket that sent MONITOR to the real server; collects its lines."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(RedisOracle.encode_command(("MONITOR",)))
        self.buf = b""
        assert self._read_until(1)[0] == b"+OK"

    def _read_until(self, count: int) -> list[bytes]:
        while self.buf.count(b"\r\n") < count:
            self.buf += self.sock.recv(65536)
        lines = self.buf.split(b"\r\n")
        self.buf = b"\r\n".join(lines[count:])
        return lines[:count]

    def lines_until(self, marker: bytes) -> list[bytes]:
        """Lines up to (not including) the one that shows `marker`."""
        out = []
        while True:
            line = self._read_until(1)[0]
            if marker in line:
                return out
            out.append(line)

    def close(self) -> None:
        self.sock.close()


MONITOR_LINE = re.compile(rb"\+(\d+)\.(\d{6}) \[(\d+) ([^\]]*)\] (.*)", re.S)

MONITOR_SCRIPT = [
    ("SET", "k", "v"), ("SELECT", "2"), ("SET", "a\x00b\n\"\\\x7f\xff \x01\r\t\x07\x08", "1"),
    ("SELECT", "0"), ("MULTI",), ("INCR", "n"), ("GET", "k"), ("EXEC",), ("AUTH", "pw"),
    ("HELLO", "2", "AUTH", "default", "pw"), ("CONFIG", "GET", "maxmemory"), ("CONFIG", "HELP"),
    ("NOSUCH", "x"), ("GET",), ("CLIENT", "LIST"), ("CLIENT", "ID"), ("SLOWLOG", "LEN"),
    ("LATENCY", "HELP"), ("ECHO", bytes(range(256))), ("SET", "12345", "-5"), ("PING",),
]


def _monitor_tail(line: bytes) -> tuple[bytes, bytes]:
    """(db, arguments) of a MONITOR line: what does not depend on time and address."""
    match = MONITOR_LINE.fullmatch(line)
    assert match, line
    return match.group(3), match.group(5)


def test_monitor_lines_match_redis(oracle, redis_port):
    watcher = RedisMonitor(redis_port)
    h = Harness()
    h.client.addr = "127.0.0.1:5000"
    spy = h.new_client()
    h.run("MONITOR", client=spy)
    try:
        for args in MONITOR_SCRIPT:
            oracle.call(*args)
            h.run(*args)
        oracle.call("ECHO", "end-of-script")
        theirs = [_monitor_tail(line) for line in watcher.lines_until(b"end-of-script")]
    finally:
        watcher.close()
    ours = h.pushes(spy)
    assert all(type(line) is Status for line in ours)
    assert [_monitor_tail(b"+" + line) for line in ours] == theirs
    first = MONITOR_LINE.fullmatch(b"+" + ours[0])
    assert first.group(4) == b"127.0.0.1:5000"
    seconds, micros = divmod(h.server.now_us, 1_000_000)
    assert int(first.group(1)) == seconds


def test_a_monitor_may_not_touch_keys_like_redis(oracle, redis_port):
    theirs = RedisOracle(redis_port)
    try:
        h = Harness()
        assert h.run_raw("MONITOR") == theirs.raw("MONITOR") == b"+OK\r\n"
        for args in [("GET", "k"), ("SET", "k", "v"), ("DEL", "k"), ("GET",), ("NOSUCH",)]:
            assert h.run_raw(*args) == theirs.raw(*args), args
        assert h.run_raw("GET", "k") == b"-" + errors.REPLICA_KEYSPACE + b"\r\n"
        assert h.run_raw("PING") == theirs.raw("PING") == b"+PONG\r\n"
        assert theirs.read_raw().endswith(b'"PING"\r\n')  # its own PING, after the reply
        assert h.pushes()[-1].endswith(b'"PING"')
        assert h.run_raw("RESET") == theirs.raw("RESET") == b"+RESET\r\n"
        assert h.run_raw("GET", "k") == theirs.raw("GET", "k") == b"$-1\r\n"  # not a monitor now
    finally:
        theirs.close()


def test_monitor_inside_exec_is_refused_like_redis(oracle):
    h = Harness()
    for args in [("MULTI",), ("MONITOR",), ("EXEC",)]:
        assert h.run_raw(*args) == oracle.raw(*args), args


def test_monitor_twice_sends_no_second_reply():
    h = Harness()
    assert h.run("MONITOR") == Status(b"OK")
    assert h.client.reply_mode == 0
    h.run("MONITOR")
    assert h.client.reply_mode == REPLY_SKIP  # the connection drops this reply


def test_monitor_feed_skips_admin_commands_and_closed_monitors():
    h = Harness()
    watcher = h.new_client()
    h.run("MONITOR", client=watcher)
    h.run("CONFIG", "SET", "hz", "10")
    h.run("SLOWLOG", "GET")
    h.run("ECHO", "x")
    assert [_monitor_tail(b"+" + line)[1] for line in h.pushes(watcher)] == [b'"ECHO" "x"']
    h.server.remove_client(watcher)  # its connection closed
    h.run("ECHO", "y")
    assert h.pushes(watcher) == [] and watcher.id not in h.server.monitors


def test_sdscatrepr_quotes_like_redis():
    assert monitor.sdscatrepr(b'a"b\\c\n\r\t\x07\x08\x00\x7f\xff ~') == \
        b'"a\\"b\\\\c\\n\\r\\t\\a\\b\\x00\\x7f\\xff ~"'


# -- MONITOR over a connection: reply order, the ignored second MONITOR, RESP3 --------


class _Reader:
    """Reads a simulated connection until what a test waits for has arrived."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.buf = b""

    @flow.actor
    def until(self, done):
        while not done(self.buf):
            data = yield self.conn.read(65536)
            assert data, "connection closed"
            self.buf += data
        out, self.buf = self.buf, b""
        return out


def _lines(count: int):
    return lambda buf: buf.count(b"\r\n") >= count


@flow.actor
def _monitor_session():
    network = net.network()
    server = CacheServer(Config(), network)
    server.start("127.0.0.1", 0)
    host, port = server.address
    encode = RedisOracle.encode_command
    try:
        readers = []
        for _ in range(3):
            readers.append(_Reader((yield network.connect(host, port))))
        watcher, resp3, other = readers
        watcher.conn.write(encode(("MONITOR",)) * 2 + encode(("PING",)))
        first = yield watcher.until(_lines(3))
        resp3.conn.write(encode(("HELLO", "3")) + encode(("MONITOR",)))
        yield resp3.until(lambda buf: buf.endswith(b"+OK\r\n"))
        other.conn.write(encode(("SET", "k", "v")))
        yield other.until(_lines(1))
        second = yield watcher.until(lambda buf: b'"SET"' in buf and buf.endswith(b"\r\n"))
        third = yield resp3.until(_lines(1))
        for reader in (watcher, resp3, other):
            reader.conn.close()
        return first, second, third
    finally:
        server.stop()


def test_monitor_over_a_connection():
    loop = flow.SimLoop(seed=3)
    SimNetwork(loop, latency=(0.0005, 0.002))
    first, second, third = loop.run(_monitor_session)
    lines = first.split(b"\r\n")
    assert lines[:2] == [b"+OK", b"+PONG"]  # no reply to the second MONITOR
    assert MONITOR_LINE.fullmatch(lines[2]).group(5) == b'"PING"'  # its own, after the reply
    assert MONITOR_LINE.fullmatch(second.split(b"\r\n")[0]).group(5) == b'"HELLO" "3"'
    for received in (second.split(b"\r\n")[1] + b"\r\n", third):  # RESP2 and RESP3 alike
        assert MONITOR_LINE.fullmatch(received[:-2]).group(5) == b'"SET" "k" "v"'
