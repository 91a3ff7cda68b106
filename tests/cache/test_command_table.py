"""The command table is complete and agrees with redis-server about every command.

Handlers and specs must match one to one, every `args` string must parse,
and for every command both servers know, arity and key positions must be
Redis's, so arity and unknown-command errors come out byte for byte.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cache.commands
from cache.commands import argspec, introspection, table
from tests.cache.harness import Harness, RedisOracle

HIDDEN_FLAGS = {"may_replicate", "sentinel", "only_sentinel", "protected"}
GROUPS = {"generic", "string", "list", "set", "sorted-set", "hash", "pubsub", "transactions",
          "connection", "server", "scripting", "hyperloglog", "cluster", "sentinel", "geo",
          "stream", "bitmap"}
# Modules that may hold handlers (the table's own `dispatch` takes (client, argv) too).
COMMAND_MODULES = [importlib.import_module(f"cache.commands.{info.name}")
                   for info in pkgutil.iter_modules(cache.commands.__path__)
                   if info.name not in ("table", "argspec")]


def all_specs() -> list[table.CommandSpec]:
    return introspection.all_specs()


@pytest.fixture(scope="module")
def redis_info(redis_server):
    """name -> [arity, first, last, step] for every command and subcommand of redis-server."""
    oracle = RedisOracle(redis_server)
    found = {}

    def walk(entry):
        found[entry[0]] = entry[1], entry[3], entry[4], entry[5]
        for sub in entry[9]:
            walk(sub)

    for entry in oracle.call("COMMAND"):
        walk(entry)
    oracle.close()
    return found


def test_every_command_module_is_imported_by_the_package():
    registered = {spec.handler.__module__ for spec in all_specs() if spec.handler}
    handler_modules = {m.__name__ for m in COMMAND_MODULES if any(
        getattr(obj, "__module__", None) == m.__name__ and _looks_like_handler(obj)
        for obj in vars(m).values())}
    assert handler_modules <= registered


def _looks_like_handler(obj) -> bool:
    if not inspect.isfunction(obj) or obj.__name__.startswith("_"):
        return False
    return list(inspect.signature(obj).parameters)[:2] == ["client", "argv"]


def test_every_spec_has_a_handler_and_every_handler_a_spec():
    registered = set()
    for spec in all_specs():
        if spec.subcommands is not None:
            assert spec.subcommands, f"container {spec.name} has no subcommands"
        else:
            assert callable(spec.handler), spec.name
        if spec.handler is not None:
            registered.add(spec.handler)
    for module in COMMAND_MODULES:
        for obj in vars(module).values():
            if _looks_like_handler(obj) and obj.__module__ == module.__name__:
                assert obj in registered, f"{module.__name__}.{obj.__name__} is not in the table"


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: spec.name)
def test_spec_is_well_formed(spec):
    argspec.parse(spec.args)  # raises on a malformed args string
    assert spec.arity != 0
    assert spec.group in GROUPS
    assert spec.summary and spec.since.count(".") == 2
    assert not set(spec.flags) - set(introspection.FLAG_ORDER) - HIDDEN_FLAGS, spec.flags
    if spec.first_key:
        assert spec.first_key > 0 and spec.step > 0
        assert spec.last_key < 0 or spec.last_key >= spec.first_key
    if spec.parent is not None:
        assert spec.name.startswith(spec.parent.name + "|")


def test_arity_and_key_positions_match_redis(redis_info):
    ours_only = {"client|setinfo"}  # Redis 7.2, which redis-py 5 sends on connect
    mismatches = []
    for spec in all_specs():
        if spec.name in ours_only:
            continue
        theirs = redis_info.get(spec.name.encode())
        assert theirs is not None, f"{spec.name} is not a Redis 7.0 command"
        ours = spec.arity, spec.first_key, spec.last_key, spec.step
        if ours != tuple(theirs):
            mismatches.append((spec.name, ours, tuple(theirs)))
    assert not mismatches


def _wrong_arity_argv(spec: table.CommandSpec) -> list[str] | None:
    words = spec.name.split("|")
    if spec.arity > 0:
        return words + ["x"] * (spec.arity - len(words) + 1)
    if -spec.arity > len(words):
        return words + ["x"] * (-spec.arity - len(words) - 1)
    return None


@pytest.mark.parametrize("spec", [s for s in all_specs() if s.name != "client|setinfo"
                                  and _wrong_arity_argv(s) is not None],
                         ids=lambda spec: spec.name)
def test_arity_errors_match_redis(redis_server, spec):
    argv = _wrong_arity_argv(spec)
    oracle = RedisOracle(redis_server)
    try:
        ours = Harness().run_raw(*argv)
        assert ours == oracle.raw(*argv)
        # Redis rejects a malformed EXEC through execCommandAbort, even outside MULTI.
        prefix = b"-EXECABORT Transaction discarded because of: " if spec.name == "exec" else b"-ERR "
        assert ours.startswith(prefix + b"wrong number of arguments for '")
    finally:
        oracle.close()


@pytest.mark.parametrize("argv", [
    ["nosuch"], ["nosuch", "a", "b c"], ["NoSuch", "x" * 200], ["nosuch\r\n", "a\nb"],
    ["nosuch"] + ["abcdefghij"] * 20, ["client", "nosuch"], ["CONFIG", "Foo\nBar"],
    ["command", "nosuch", "x"], ["client"], ["config"],
])
def test_unknown_command_and_subcommand_errors_match_redis(redis_server, argv):
    oracle = RedisOracle(redis_server)
    try:
        assert Harness().run_raw(*argv) == oracle.raw(*argv)
    finally:
        oracle.close()
