"""Connection and server commands: PING ECHO HELLO AUTH SELECT QUIT RESET,
DBSIZE FLUSHDB FLUSHALL TIME WAIT INFO and CONFIG. CLIENT is in `clients`.

Authentication has one user, `default`, whose password is `requirepass`
(none when empty, in which case any password is accepted for it, as Redis
does for a `nopass` user).
"""

from __future__ import annotations

from typing import Any

from cache import errors, info, latency
from cache.config import rewrite_file
from cache.commands import clients  # noqa: F401  (registers CLIENT)
from cache.commands.clients import validate_name
from cache.commands.strings import option_word
from cache.commands.introspection import help_reply, sent_name
from cache.commands.table import command, container
from cache.errors import CommandError
from cache.reply import OK, PONG, Map, Status, Verbatim
from cache.resp import string2ll
from cache.state import REDIS_VERSION

_INT_MAX = 2**31 - 1
_FAST_CONNECTION = dict(group="connection", acl="connection", complexity="O(1)")
_NO_AUTH = "noscript loading stale fast no_auth allow_busy"


def _int_arg(raw: bytes, message: bytes = errors.NOT_INTEGER) -> int:
    value = string2ll(raw)
    if value is None:
        raise CommandError(message)
    return value


def check_password(client: Any, username: bytes, password: bytes) -> bool:
    """Authenticate `client` as `username`; False (and no change) if refused."""
    requirepass = client.server.config["requirepass"]
    if username != b"default":
        return False
    if requirepass and password != requirepass.encode("utf-8", "surrogateescape"):
        return False
    client.authenticated = True
    return True


@command("PING", -1, "fast", since="1.0.0", summary="Ping the server", args="[message]",
         tips="request_policy:all_shards response_policy:all_succeeded", **_FAST_CONNECTION)
def ping(client: Any, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise CommandError(errors.wrong_arity("ping"))
    if client.proto == 2 and (client.sub or client.psub or client.ssub):
        return [b"pong", argv[1] if len(argv) == 2 else b""]  # RESP2 pub/sub context
    return PONG if len(argv) == 1 else argv[1]


@command("ECHO", 2, "loading stale fast", since="1.0.0", summary="Echo the given string",
         args="message", **_FAST_CONNECTION)
def echo(client: Any, argv: list[bytes]) -> bytes:
    return argv[1]


@command("HELLO", -1, _NO_AUTH, since="6.0.0", summary="Handshake with Redis",
         history=(("6.2.0", "`protover` made optional; when called without arguments the command "
                            "reports the current connection's context."),),
         args="[arguments=protover:integer [AUTH (username_password=username password)] "
              "[SETNAME clientname]]", **_FAST_CONNECTION)
def hello(client: Any, argv: list[bytes]) -> Map:
    """Options take effect one by one, as in Redis: a later bad option keeps an earlier AUTH or name."""
    version = 0
    if len(argv) >= 2:
        version = _int_arg(argv[1], errors.HELLO_BAD_PROTOVER)
        if version not in (2, 3):
            raise CommandError(errors.NOPROTO)
    i = 2
    while i < len(argv):
        option, more = option_word(argv[i]), len(argv) - 1 - i
        if option == b"AUTH" and more >= 2:
            if not check_password(client, argv[i + 1], argv[i + 2]):
                raise CommandError(errors.WRONGPASS)
            i += 3
        elif option == b"SETNAME" and more >= 1:
            validate_name(argv[i + 1])
            client.name = argv[i + 1]
            i += 2
        else:
            raise CommandError(errors.hello_bad_option(argv[i].split(b"\0", 1)[0]))  # '%s'
    if not client.authenticated:
        raise CommandError(errors.NOAUTH_HELLO)
    if version:
        client.proto = version
    return Map([
        (b"server", b"redis"), (b"version", REDIS_VERSION.encode()), (b"proto", client.proto),
        (b"id", client.id), (b"mode", b"standalone"), (b"role", b"master"), (b"modules", []),
    ])


@command("AUTH", -2, _NO_AUTH, since="1.0.0", summary="Authenticate to the server",
         args="[username]@6.0.0 password", group="connection", acl="connection",
         history=(("6.0.0", "Added ACL style (username and password)."),),
         complexity="O(N) where N is the number of passwords defined for the user")
def auth(client: Any, argv: list[bytes]) -> Status:
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    if len(argv) == 2:
        if not client.server.config["requirepass"]:
            raise CommandError(errors.AUTH_WITHOUT_PASSWORD)
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    if not check_password(client, username, password):
        raise CommandError(errors.WRONGPASS)
    return OK


@command("SELECT", 2, "loading stale fast", since="1.0.0", args="index:integer",
         summary="Change the selected database for the current connection", **_FAST_CONNECTION)
def select(client: Any, argv: list[bytes]) -> Status:
    index = _int_arg(argv[1])
    if not -_INT_MAX - 1 <= index <= _INT_MAX:
        raise CommandError(errors.value_out_of_range(-_INT_MAX - 1, _INT_MAX))
    if not 0 <= index < len(client.server.dbs):
        raise CommandError(errors.DB_OUT_OF_RANGE)
    client.select(index)
    return OK


@command("QUIT", -1, _NO_AUTH, since="1.0.0", summary="Close the connection",
         **_FAST_CONNECTION)
def quit_(client: Any, argv: list[bytes]) -> Status:
    client.close_after_reply = True
    return OK


@command("RESET", 1, _NO_AUTH, since="6.2.0", summary="Reset the connection",
         **_FAST_CONNECTION)
def reset(client: Any, argv: list[bytes]) -> Status:
    client.reset()
    return Status(b"RESET")


@command("WAIT", 3, "noscript", group="generic", since="3.0.0", acl="connection",
         summary="Wait for the synchronous replication of all the write commands sent in the "
                 "context of the current connection", complexity="O(1)",
         args="numreplicas:integer timeout:integer",
         tips="request_policy:all_shards response_policy:agg_min")
def wait(client: Any, argv: list[bytes]) -> int:
    _int_arg(argv[1])
    if _int_arg(argv[2], errors.WAIT_TIMEOUT_NOT_INTEGER) < 0:
        raise CommandError(errors.WAIT_TIMEOUT_NEGATIVE)
    return 0  # a standalone server has no replicas to wait for


# -- keyspace-wide ----------------------------------------------------------------

_FLUSH = dict(group="server", acl="keyspace dangerous", args="[async=ASYNC@4.0.0|SYNC@6.2.0]",
              history=(("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                       ("6.2.0", "Added the `SYNC` flushing mode modifier.")),
              tips="request_policy:all_shards response_policy:all_succeeded")


def _check_flush_mode(argv: list[bytes]) -> None:
    """ASYNC and SYNC both free at once: flowcache frees memory by dropping references."""
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise CommandError(errors.SYNTAX)


@command("DBSIZE", 1, "readonly fast", group="server", since="1.0.0", acl="keyspace",
         summary="Return the number of keys in the selected database", complexity="O(1)",
         tips="request_policy:all_shards response_policy:agg_sum")
def dbsize(client: Any, argv: list[bytes]) -> int:
    return len(client.db)


@command("FLUSHDB", -1, "write", since="1.0.0", summary="Remove all keys from the current database",
         complexity="O(N) where N is the number of keys in the selected database", **_FLUSH)
def flushdb(client: Any, argv: list[bytes]) -> Status:
    _check_flush_mode(argv)
    client.server.dirty += client.db.flush()
    return OK


@command("FLUSHALL", -1, "write", since="1.0.0", summary="Remove all keys from all databases",
         complexity="O(N) where N is the total number of keys in all databases", **_FLUSH)
def flushall(client: Any, argv: list[bytes]) -> Status:
    _check_flush_mode(argv)
    server = client.server
    server.dirty += sum(db.flush() for db in server.dbs)
    return OK


@command("TIME", 1, "loading stale fast", group="server", since="2.6.0",
         summary="Return the current server time", complexity="O(1)",
         tips="nondeterministic_output")
def time_(client: Any, argv: list[bytes]) -> list[bytes]:
    seconds, micros = divmod(client.server.now_us, 1_000_000)
    return [b"%d" % seconds, b"%d" % micros]


@command("INFO", -1, "loading stale", group="server", since="1.0.0", acl="dangerous",
         summary="Get information and statistics about the server", complexity="O(1)",
         args="[section...]",
         history=(("7.0.0", "Added support for taking multiple section arguments."),),
         tips="nondeterministic_output request_policy:all_shards response_policy:special")
def info_(client: Any, argv: list[bytes]) -> Verbatim:
    return Verbatim(info.render(client.server, argv[1:]))


# -- CONFIG -------------------------------------------------------------------------

container("CONFIG", group="server", since="2.0.0",
          summary="A container for server configuration commands",
          complexity="Depends on subcommand.")

_CONFIG_ADMIN = dict(group="server", flags="admin noscript loading stale")


@command("CONFIG GET", -3, since="2.0.0", summary="Get the values of configuration parameters",
         complexity="O(N) when N is the number of configuration parameters provided",
         args="parameter...", **_CONFIG_ADMIN,
         history=(("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),))
def config_get(client: Any, argv: list[bytes]) -> Map:
    return Map(client.server.config.matching(argv[2:]))


@command("CONFIG SET", -4, since="2.0.0",
         summary="Set configuration parameters to the given values",
         complexity="O(N) when N is the number of configuration parameters provided",
         args="(parameter value)...",
         history=(("7.0.0", "Added the ability to set multiple parameters in one call."),),
         tips="request_policy:all_nodes response_policy:all_succeeded", **_CONFIG_ADMIN)
def config_set(client: Any, argv: list[bytes]) -> Status:
    if len(argv) % 2:
        raise CommandError(errors.SYNTAX)
    problem = client.server.config.runtime_set(list(zip(argv[2::2], argv[3::2])))
    if problem is not None:
        raise CommandError(problem)
    return OK


@command("CONFIG RESETSTAT", 2, since="2.0.0", summary="Reset the stats returned by INFO",
         complexity="O(1)", **_CONFIG_ADMIN)
def config_resetstat(client: Any, argv: list[bytes]) -> Status:
    server = client.server
    server.stats.reset()
    latency.reset_histograms(server)
    memory = server.memory  # resetServerStats zeroes the eviction-exceeded times too
    memory.exceeded_total = 0
    if memory.exceeded_since >= 0:
        memory.exceeded_since = server.now_ms
    return OK


@command("CONFIG REWRITE", 2, since="2.8.0",
         summary="Rewrite the configuration file with the in memory configuration",
         complexity="O(1)", **_CONFIG_ADMIN)
def config_rewrite(client: Any, argv: list[bytes]) -> Status:
    config = client.server.config
    if not config.source:
        raise CommandError(errors.CONFIG_REWRITE_NO_FILE)
    try:
        rewrite_file(config)
    except OSError as exc:
        raise CommandError(errors.config_rewrite_failed(exc.strerror or str(exc))) from None
    return OK


@command("CONFIG HELP", 2, "loading stale", group="server", since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def config_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply(sent_name(argv), [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])
