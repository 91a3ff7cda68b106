"""Settings: Redis's value parsing, CONFIG GET/SET semantics, TOML loading.

The differential tests send the same CONFIG commands to flowcache and to a
real redis-server and require identical reply bytes; successful sets on the
shared oracle are undone in `finally`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cache.config import BY_NAME, SETTINGS, Config, ConfigError, InvalidValue, parse_memory
from tests.cache.harness import Harness, RedisOracle

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "flowcache.toml"
# Settings whose flowcache default equals the oracle's (which runs with save '' and
# loglevel warning).
SAME_DEFAULT = [s.name for s in SETTINGS if s.name not in ("port", "bind", "loglevel")]


@pytest.fixture
def oracle(redis_server):
    conn = RedisOracle(redis_server)
    yield conn
    conn.close()


def both(h: Harness, oracle: RedisOracle, *args, proto: int = 2) -> tuple[bytes, bytes]:
    return h.run_raw(*args, proto=proto), oracle.raw(*args)


# -- value parsing --------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    (b"0", 0), (b"100", 100), (b"5B", 5), (b"1k", 1000), (b"1KB", 1024), (b"100mb", 104857600),
    (b"2m", 2_000_000), (b"1gb", 1 << 30), (b"3G", 3_000_000_000),
    (b"", 0), (b"kb", 0),  # no digits: strtoull gives 0, as redis-server accepts
    (b"99999999999999999999", 2**64 - 1),  # saturates
    (b"99999999999999999999gb", (2**64 - 1) * 2**30 % 2**64),  # then wraps
])
def test_memory_sizes_parse_like_memtoull(text, value):
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", [b"-1", b"+5", b"1.5gb", b"1 kb", b"10tb", b"0x10"])
def test_memory_sizes_redis_refuses(text):
    with pytest.raises(InvalidValue, match="argument must be a memory value"):
        parse_memory(text)


def test_defaults_match_the_table():
    config = Config()
    assert config["port"] == 3000
    assert config["bind"] == "127.0.0.1"
    assert config["databases"] == 16
    assert config["maxmemory"] == 0
    assert config["proto-max-bulk-len"] == 512 * 1024 * 1024
    assert config["protected-mode"] is True
    assert config["appendonly"] is False
    assert config["notify-keyspace-events"] == frozenset()
    assert config.text("save") == ""


def test_hz_is_clamped_after_the_range_check():
    config = Config()
    assert config.runtime_set([(b"hz", b"0")]) is None
    assert config["hz"] == 1
    assert config.runtime_set([(b"hz", b"1000")]) is None
    assert config["hz"] == 500


def test_keyspace_events_are_stored_as_classes_and_shown_as_redis_does():
    config = Config()
    assert config.runtime_set([(b"notify-keyspace-events", b"AnK")]) is None
    assert "n" in config["notify-keyspace-events"]
    assert config.text("notify-keyspace-events") == "AK"  # Redis hides n next to A
    assert config.runtime_set([(b"notify-keyspace-events", b"mKE")]) is None
    assert config.text("notify-keyspace-events") == "KEm"


def test_persistence_settings_accept_only_off():
    config = Config()
    assert config.runtime_set([(b"save", b"")]) is None
    assert config.runtime_set([(b"appendonly", b"NO")]) is None
    assert b"only 'no' is accepted" in config.runtime_set([(b"appendonly", b"yes")])
    assert b"Invalid save parameters" in config.runtime_set([(b"save", b"3600")])
    assert b"only '' is accepted" in config.runtime_set([(b"save", b"3600 1")])


# -- CONFIG SET semantics ---------------------------------------------------------------


def test_config_set_is_atomic():
    config = Config()
    error = config.runtime_set([(b"maxmemory", b"1gb"), (b"hz", b"abc")])
    assert error.startswith(b"ERR CONFIG SET failed (possibly related to argument 'hz')")
    assert config["maxmemory"] == 0


def test_on_change_runs_after_commit_with_the_new_value():
    config = Config()
    seen = []
    config.on_change("hz", lambda value: seen.append(("hz", value, config["maxmemory"])))
    assert config.runtime_set([(b"hz", b"50"), (b"maxmemory", b"1mb")]) is None
    assert seen == [("hz", 50, 1 << 20)]
    config.runtime_set([(b"hz", b"60"), (b"hz", b"70")])  # refused: duplicate
    config.runtime_set([(b"maxmemory", b"2mb")])
    assert len(seen) == 1
    with pytest.raises(KeyError):
        config.on_change("no-such-setting", print)


def test_config_get_echoes_exact_names_and_deduplicates():
    config = Config()
    assert config.matching([b"MAXMEMORY", b"maxmemory", b"maxmem*"]) == [
        (b"MAXMEMORY", b"0"), (b"maxmemory-policy", b"noeviction"),
        (b"maxmemory-samples", b"5"), (b"maxmemory-eviction-tenacity", b"10")]
    assert config.matching([b"[hp][oz]*"]) == [(b"port", b"3000"), (b"hz", b"10")]
    assert config.matching([b"nosuch"]) == []


# -- TOML ---------------------------------------------------------------------------------


def test_toml_values_use_redis_syntax(tmp_path):
    path = tmp_path / "cache.toml"
    path.write_text('maxmemory = "100mb"\n"maxmemory-policy" = "allkeys-lru"\n'
                    'appendonly = false\nprotected-mode = "no"\nhz = 50\ndatabases = 4\n')
    config = Config.from_toml(str(path))
    assert config["maxmemory"] == 104857600
    assert config["maxmemory-policy"] == "allkeys-lru"
    assert config["protected-mode"] is False
    assert (config["hz"], config["databases"]) == (50, 4)  # immutable settings load fine
    assert config.source == str(path)


@pytest.mark.parametrize("body, expected", [
    ('maxmemroy = "1gb"\n', "unknown setting 'maxmemroy'"),
    ('maxmemory = "lots"\n', "'maxmemory': argument must be a memory value"),
    ("hz = -1\n", "'hz': argument must be between 0 and 2147483647 inclusive"),
    ('loglevel = "loud"\n', "'loglevel': argument(s) must be one of the following"),
    ("maxmemory = [1]\n", "'maxmemory': expected a string, integer or boolean"),
    ("port = \n", "not valid TOML"),
])
def test_toml_errors_name_the_file_and_the_setting(tmp_path, body, expected):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        Config.from_toml(str(path))
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_shipped_config_loads_to_the_defaults_and_documents_every_setting():
    loaded = Config.from_toml(str(SHIPPED))
    defaults = Config()
    text = SHIPPED.read_text()
    for setting in SETTINGS:
        assert loaded[setting.name] == defaults[setting.name], setting.name
        assert re.search(rf"^(# )?{re.escape(setting.name)} = ", text, re.M), setting.name
    commented_out = {m.group(1): m.group(2) for m in
                     re.finditer(r"^# ([a-z-]+) = (.*)$", text, re.M)}
    for name, value in commented_out.items():  # uncommenting a line keeps the default
        config = Config({name: __import__("tomllib").loads(f"v = {value}")["v"]})
        assert config[name] == defaults[name], name


# -- against redis-server ---------------------------------------------------------------------


@pytest.mark.parametrize("proto", [2, 3])
def test_config_get_of_shared_defaults_matches_redis(oracle, proto):
    h = Harness()
    if proto == 3:
        h.run("HELLO", "3")
        oracle.raw("HELLO", "3")
    for name in SAME_DEFAULT:
        ours, theirs = both(h, oracle, "CONFIG", "GET", name, proto=proto)
        assert ours == theirs, name
    ours, theirs = both(h, oracle, "CONFIG", "GET", "MAXMEMORY", "maxmemory", "nosuch", proto=proto)
    assert ours == theirs


@pytest.mark.parametrize("args", [
    ("CONFIG", "SET", "nosuch", "1"),
    ("CONFIG", "SET", "databases", "3"),
    ("CONFIG", "SET", "databases", "16", "nosuch", "1"),
    ("CONFIG", "SET", "nosuch", "1", "databases", "3"),
    ("CONFIG", "SET", "maxmemory", "abc"),
    ("CONFIG", "SET", "maxmemory", "-1"),
    ("CONFIG", "SET", "maxmemory", "1.5gb"),
    ("CONFIG", "SET", "maxmemory", "1gb", "maxmemory", "2gb"),
    ("CONFIG", "SET", "hz", "10", "HZ", "11"),
    ("CONFIG", "SET", "maxmemory", "1gb", "hz", "abc"),
    ("CONFIG", "SET", "HZ", "abc"),
    ("CONFIG", "SET", "hz", "-5"),
    ("CONFIG", "SET", "hz", "+5"),
    ("CONFIG", "SET", "hz", "007"),
    ("CONFIG", "SET", "hz", ""),
    ("CONFIG", "SET", "timeout", "9999999999"),
    ("CONFIG", "SET", "maxclients", "0"),
    ("CONFIG", "SET", "maxclients", "-5"),
    ("CONFIG", "SET", "proto-max-bulk-len", "10"),
    ("CONFIG", "SET", "proto-max-bulk-len", "99999999999999999999"),
    ("CONFIG", "SET", "client-query-buffer-limit", "1"),
    ("CONFIG", "SET", "active-expire-effort", "11"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-5"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-0"),
    ("CONFIG", "SET", "maxmemory-eviction-tenacity", "101"),
    ("CONFIG", "SET", "maxmemory-policy", "foo"),
    ("CONFIG", "SET", "loglevel", "loud"),
    ("CONFIG", "SET", "protected-mode", "maybe"),
    ("CONFIG", "SET", "notify-keyspace-events", "Q"),
    ("CONFIG", "SET", "save", "abc"),
    ("CONFIG", "SET", "save", "3600 -1"),
    ("CONFIG", "SET", "hz", "10", "maxmemory"),
    ("CONFIG", "SET", "maxmemory"),
    ("CONFIG", "GET"),
    ("CONFIG",),
    ("CONFIG", "NOSUCH"),
])
def test_config_errors_match_redis(oracle, args):
    ours, theirs = both(Harness(), oracle, *args)
    assert ours == theirs
    assert ours.startswith(b"-")


@pytest.mark.parametrize("name, values, restore", [
    ("maxmemory", ["100MB", "1k", "5B", "99999999999999999999gb", "18446744073709551615k"], "0"),
    ("hz", ["0", "1000", "42"], "10"),
    ("notify-keyspace-events", ["AnK", "KnA", "mKE", "g$xE", "dtexzhsl$gE", "nK"], ""),
    ("maxmemory-policy", ["ALLKEYS-LRU", "volatile-ttl"], "noeviction"),
    ("protected-mode", ["NO", "yes"], "yes"),
])
def test_config_set_then_get_matches_redis(oracle, name, values, restore):
    h = Harness()
    try:
        for value in values:
            assert both(h, oracle, "CONFIG", "SET", name, value) == (b"+OK\r\n", b"+OK\r\n")
            ours, theirs = both(h, oracle, "CONFIG", "GET", name)
            assert ours == theirs, value
    finally:
        oracle.raw("CONFIG", "SET", name, restore)


def test_every_setting_exists_in_redis_with_the_same_spelling(oracle):
    redis_names = set(oracle.call("CONFIG", "GET", "*")[::2])
    assert {s.name.encode() for s in SETTINGS} <= redis_names
    assert set(BY_NAME) == {s.name for s in SETTINGS}


def test_startup_set_allows_immutable_settings_and_names_bad_values():
    config = Config()
    config.set("port", "7000")
    config.set("appendonly", False)
    assert (config["port"], config.get("appendonly"), config.get("nosuch", 1)) == (7000, False, 1)
    with pytest.raises(ConfigError, match="bad value 'x' for 'port': argument couldn't be parsed"):
        config.set("port", "x")


# -- rename-command ---------------------------------------------------------------------

RENAMES = {"FLUSHALL": "", "CONFIG": "cfg-7f3a"}


def renamed_toml(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "renamed.toml"
    path.write_text('hz = 10\n\n[rename-command]\nFLUSHALL = ""\nCONFIG = "cfg-7f3a"\n' + extra)
    return path


@pytest.fixture(scope="module")
def renamed_oracle():
    from tests.support import redis_server_for_tests

    args = ("--rename-command", "FLUSHALL", "", "--rename-command", "CONFIG", "cfg-7f3a")
    with redis_server_for_tests(*args) as port:
        conn = RedisOracle(port)
        yield conn
        conn.close()


def test_rename_command_loads_from_toml(tmp_path):
    config = Config.from_toml(str(renamed_toml(tmp_path)))
    assert config.renames == RENAMES
    table = config.command_table
    assert b"flushall" not in table and b"config" not in table
    assert table[b"cfg-7f3a"].name == "config"
    # Another server in the same process keeps the declared names.
    assert b"config" in Config().command_table


@pytest.mark.parametrize("extra, reason", [
    ('NOSUCHCMD = "x"\n', "No such command in rename-command"),
    ('GET = "set"\n', "Target command name already exists"),
])
def test_rename_command_refuses_bad_names(tmp_path, extra, reason):
    with pytest.raises(ConfigError, match=reason):
        Config.from_toml(str(renamed_toml(tmp_path, extra)))


def test_renamed_lookup_matches_redis(tmp_path, renamed_oracle):
    """The lookup errors a server with renames gives, as redis-server gives them."""
    from cache.commands.table import lookup
    from cache.resp import encode

    table = Config.from_toml(str(renamed_toml(tmp_path))).command_table
    for argv in ([b"FLUSHALL"], [b"CONFIG", b"GET", b"hz"], [b"cfg-7f3a", b"foo"],
                 [b"Cfg-7f3a", b"get"]):
        found = lookup(argv, table)
        assert not hasattr(found, "handler")  # an error reply
        assert encode(found, 2) == renamed_oracle.raw(*argv), argv
    assert lookup([b"cfg-7f3a", b"get", b"hz"], table).name == "config|get"


@pytest.mark.parametrize("args", [
    ("COMMAND", "INFO", "config", "flushall", "cfg-7f3a|get"),
    ("COMMAND", "COUNT"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "flush*"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "cfg*"),
    ("COMMAND", "GETKEYS", "flushall"),
    ("COMMAND", "GETKEYS", "config", "get", "x"),
])
def test_renamed_introspection_matches_redis(tmp_path, renamed_oracle, args):
    h = Harness(config=Config.from_toml(str(renamed_toml(tmp_path))))
    mine, theirs = h.run_raw(*args), renamed_oracle.raw(*args)
    if args[1] == "COUNT":  # the same number of commands fewer than undisturbed
        plain = Harness().run_raw(*args)
        assert int(plain[1:-2]) - int(mine[1:-2]) == 1
    else:
        assert mine == theirs


def test_renamed_commands_dispatch(tmp_path):
    h = Harness(config=Config.from_toml(str(renamed_toml(tmp_path))))
    assert h.run_raw("CONFIG", "GET", "hz").startswith(b"-ERR unknown command 'CONFIG'")
    assert h.run_raw("cfg-7f3a", "GET", "hz") == b"*2\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    assert h.run_raw("FLUSHALL").startswith(b"-ERR unknown command 'FLUSHALL'")
    assert h.run_raw("cfg-7f3a", "HELP").startswith(b"*11\r\n+CFG-7F3A <subcommand> ")


# -- CONFIG REWRITE ---------------------------------------------------------------------


def test_config_rewrite_without_file_matches_redis(oracle):
    h = Harness()
    assert h.run_raw("CONFIG", "REWRITE") == oracle.raw("CONFIG", "REWRITE")


def test_config_help_matches_redis(oracle):
    assert Harness().run_raw("CONFIG", "HELP") == oracle.raw("CONFIG", "HELP")


def test_config_rewrite_updates_in_place_and_appends(tmp_path):
    path = tmp_path / "flowcache.toml"
    original = '# ports\nport = 3000\nhz = 10  # old\n\n[rename-command]\nKEYS = ""\n'
    path.write_text(original)
    h = Harness(config=Config.from_toml(str(path)))
    assert h.run_raw("CONFIG", "SET", "hz", "20", "maxmemory", "1mb",
                     "notify-keyspace-events", "KEA") == b"+OK\r\n"
    assert h.run_raw("CONFIG", "REWRITE") == b"+OK\r\n"
    text = path.read_text()
    assert text.startswith("# ports\nport = 3000\nhz = 20\n")  # comments and order kept
    assert "# Generated by CONFIG REWRITE\nmaxmemory = 1048576\n" in text
    assert text.endswith('[rename-command]\nKEYS = ""\n')  # tables stay last
    reloaded = Config.from_toml(str(path))
    for name in ("hz", "maxmemory", "notify-keyspace-events"):
        assert reloaded.text(name) == h.server.config.text(name)
    assert reloaded.renames == {"KEYS": ""}
    assert h.run_raw("CONFIG", "REWRITE") == b"+OK\r\n"
    assert path.read_text() == text  # a second rewrite changes nothing


def test_config_rewrite_leaves_defaults_out(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    h = Harness(config=Config.from_toml(str(path)))
    assert h.run_raw("CONFIG", "REWRITE") == b"+OK\r\n"
    assert path.read_text() == "\n"
    h.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    h.run("CONFIG", "REWRITE")
    assert path.read_text() == '# Generated by CONFIG REWRITE\nmaxmemory-policy = "allkeys-lru"\n'


def test_config_rewrite_reports_write_failure(tmp_path):
    path = tmp_path / "gone" / "flowcache.toml"
    config = Config(source=str(path))
    reply = Harness(config=config).run_raw("CONFIG", "REWRITE")
    assert reply == b"-ERR Rewriting config file: No such file or directory\r\n"
