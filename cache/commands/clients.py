"""CLIENT and its subcommands, with CLIENT LIST in Redis 7.0's line format.

flowcache has no per-client query or reply buffers of its own, so the
buffer fields of a CLIENT LIST line (qbuf, rbs, omem...) show constants of
an idle Redis client; argv-mem is the size of the command being run.
"""

from __future__ import annotations

from typing import Any, Iterable

from cache import blocking, errors
from cache.commands.introspection import help_reply
from cache.commands.table import command, container
from cache.errors import CommandError
from cache.reply import OK, Status, Verbatim
from cache.resp import string2ll

container("CLIENT", group="connection", since="2.4.0",
          summary="A container for client connection commands",
          complexity="Depends on subcommand.")

_PLAIN = dict(group="connection", acl="connection", flags="noscript loading stale")
_ADMIN = dict(group="connection", acl="connection", flags="admin noscript loading stale")
CLIENT_TYPES = (b"normal", b"slave", b"replica", b"master", b"pubsub")
# client.reply_mode, applied by the connection after each command (CLIENT REPLY)
REPLY_ON, REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT = 0, 1, 2, 3


def validate_name(name: bytes) -> None:
    """Redis refuses names that would break a CLIENT LIST line."""
    if any(byte < 0x21 or byte > 0x7E for byte in name):
        raise CommandError(errors.BAD_CLIENT_NAME)


def client_type(client: Any) -> bytes:
    return b"pubsub" if client.sub or client.psub or client.ssub else b"normal"


def _flags(client: Any) -> bytes:
    flags = "".join(letter for letter, on in (
        ("O", client.monitoring), ("P", client.sub or client.psub or client.ssub), ("x", client.multi >= 0),
        ("b", client.blocked), ("d", client.dirty_cas), ("c", client.close_after_reply),
        ("e", client.no_evict)) if on)
    return (flags or "N").encode()


def info_line(client: Any, argv_mem: int = 0) -> bytes:
    """One CLIENT LIST line (without the newline), fields in Redis 7.0's order."""
    now = client.server.now_ms
    cmd = client.last_command.encode()
    return b"".join((
        b"id=%d addr=%s laddr=%s fd=%d name=%s " % (
            client.id, client.addr.encode(), client.laddr.encode(), client.fd, client.name),
        b"age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d multi=%d " % (
            (now - client.created_ms) // 1000, (now - client.last_interaction_ms) // 1000,
            _flags(client), client.db_index, client.sub, client.psub, client.ssub, client.multi),
        b"qbuf=0 qbuf-free=0 argv-mem=%d multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 " % argv_mem,
        b"tot-mem=%d events=r cmd=%s user=default redir=-1 resp=%d" % (
            22272 + argv_mem, cmd, client.proto),
    ))


def _listing(caller: Any, argv: list[bytes], clients: Iterable[Any]) -> Verbatim:
    argv_mem = sum(map(len, argv))
    return Verbatim(b"".join(
        info_line(c, argv_mem if c is caller else 0) + b"\n" for c in clients))


@command("CLIENT LIST", -2, since="2.4.0", summary="Get the list of client connections",
         complexity="O(N) where N is the number of client connections",
         args="[TYPE (client-type=NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id:integer...]",
         tips="nondeterministic_output", **_ADMIN)
def client_list(client: Any, argv: list[bytes]) -> Verbatim:
    registry = client.server.clients
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = argv[3].lower()
        if kind not in CLIENT_TYPES:
            raise CommandError(errors.unknown_client_type(argv[3]))
        return _listing(client, argv, (c for c in registry.values() if client_type(c) == kind))
    if len(argv) > 3 and argv[2].lower() == b"id":
        ids = [string2ll(raw) for raw in argv[3:]]
        if None in ids:
            raise CommandError(errors.INVALID_CLIENT_ID)
        return _listing(client, argv, (registry[i] for i in ids if i in registry))
    if len(argv) != 2:
        raise CommandError(errors.SYNTAX)
    return _listing(client, argv, registry.values())


@command("CLIENT INFO", 2, since="6.2.0",
         summary="Returns information about the current client connection.",
         complexity="O(1)", tips="nondeterministic_output", **_PLAIN)
def client_info(client: Any, argv: list[bytes]) -> Verbatim:
    return _listing(client, argv, [client])


@command("CLIENT ID", 2, since="5.0.0", summary="Returns the client ID for the current connection",
         complexity="O(1)", **_PLAIN)
def client_id(client: Any, argv: list[bytes]) -> int:
    return client.id


@command("CLIENT SETNAME", 3, since="2.6.9", summary="Set the current connection name",
         complexity="O(1)", args="connection-name", **_PLAIN)
def client_setname(client: Any, argv: list[bytes]) -> Status:
    validate_name(argv[2])
    client.name = argv[2]
    return OK


@command("CLIENT GETNAME", 2, since="2.6.9", summary="Get the current connection name",
         complexity="O(1)", **_PLAIN)
def client_getname(client: Any, argv: list[bytes]) -> bytes | None:
    return client.name or None


@command("CLIENT SETINFO", 4, since="7.2.0", summary="Set client or connection specific info",
         complexity="O(1)", args="(attr=LIB-NAME libname|LIB-VER libver)", **_PLAIN)
def client_setinfo(client: Any, argv: list[bytes]) -> Status:
    attribute, value = argv[2].lower(), argv[3]
    if attribute not in (b"lib-name", b"lib-ver"):
        raise CommandError(errors.unrecognized_client_option(argv[2]))
    if any(byte < 0x21 or byte > 0x7E for byte in value):
        raise CommandError(errors.bad_client_attribute(argv[2]))
    if attribute == b"lib-name":
        client.lib_name = value
    else:
        client.lib_ver = value
    return OK


@command("CLIENT NO-EVICT", 3, since="7.0.0",
         summary="Set client eviction mode for the current connection", complexity="O(1)",
         args="(enabled=ON|OFF)", **_ADMIN)
def client_no_evict(client: Any, argv: list[bytes]) -> Status:
    mode = argv[2].lower()
    if mode not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    client.no_evict = mode == b"on"
    return OK


@command("CLIENT KILL", -3, since="2.4.0", summary="Kill the connection of a client",
         complexity="O(N) where N is the number of client connections",
         args="(filter=old-format:string|(new-format=[ID client-id:integer]"
              "|[TYPE (client-type=NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)]|[USER username]"
              "|[ADDR addr]|[LADDR laddr]|[SKIPME (skipme=YES|NO)])...)", **_ADMIN)
def client_kill(client: Any, argv: list[bytes]) -> Any:
    if len(argv) == 3:  # old form: CLIENT KILL addr, which may kill the caller
        victims = _matching(client, {b"addr": argv[2]}, skipme=False)
        if not victims:
            raise CommandError(errors.NO_SUCH_CLIENT)
        _kill(client, victims)
        return OK
    filters: dict[bytes, Any] = {}
    skipme = True
    for i in range(2, len(argv), 2):
        option = argv[i].lower()
        if i + 1 >= len(argv):
            raise CommandError(errors.SYNTAX)
        value = argv[i + 1]
        if option == b"id":
            number = string2ll(value)
            if number is None or number < 1:
                raise CommandError(errors.CLIENT_ID_NOT_POSITIVE)
            filters[b"id"] = number
        elif option == b"type":
            if value.lower() not in CLIENT_TYPES:
                raise CommandError(errors.unknown_client_type(value))
            filters[b"type"] = value.lower()
        elif option in (b"addr", b"laddr"):
            filters[option] = value
        elif option == b"user":
            if value != b"default":
                raise CommandError(errors.no_such_user(value))
        elif option == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise CommandError(errors.SYNTAX)
            skipme = value.lower() == b"yes"
        else:
            raise CommandError(errors.SYNTAX)
    victims = _matching(client, filters, skipme)
    _kill(client, victims)
    return len(victims)


def _matching(caller: Any, filters: dict[bytes, Any], skipme: bool) -> list[Any]:
    found = []
    for other in caller.server.clients.values():
        if b"addr" in filters and other.addr.encode() != filters[b"addr"]:
            continue
        if b"laddr" in filters and other.laddr.encode() != filters[b"laddr"]:
            continue
        if b"type" in filters and client_type(other) not in _same_type(filters[b"type"]):
            continue
        if b"id" in filters and other.id != filters[b"id"]:
            continue
        if other is caller and skipme:
            continue
        found.append(other)
    return found


def _same_type(kind: bytes) -> tuple[bytes, ...]:
    return (b"slave", b"replica") if kind in (b"slave", b"replica") else (kind,)


def _kill(caller: Any, victims: list[Any]) -> None:
    for victim in victims:
        if victim is caller:
            caller.close_after_reply = True  # after this reply is written
        else:
            victim.kill()


@command("CLIENT REPLY", 3, "noscript loading stale", group="connection", acl="connection",
         since="3.2.0", summary="Instruct the server whether to reply to commands",
         complexity="O(1)", args="(on_off_skip=ON|OFF|SKIP)")
def client_reply(client: Any, argv: list[bytes]) -> Any:
    """The connection reads `reply_mode` after the command, so OFF and SKIP hide their own OK."""
    mode = argv[2].lower()
    if mode == b"on":
        client.reply_mode = REPLY_ON
    elif mode == b"off":
        client.reply_mode = REPLY_OFF
    elif mode == b"skip":
        if client.reply_mode != REPLY_OFF:
            client.reply_mode = REPLY_SKIP_NEXT
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("CLIENT UNBLOCK", -3, since="5.0.0",
         summary="Unblock a client blocked in a blocking command from a different connection",
         complexity="O(log N) where N is the number of client connections",
         args="client-id:integer [timeout_error=TIMEOUT|ERROR]", **_ADMIN)
def client_unblock(client: Any, argv: list[bytes]) -> int:
    if len(argv) > 4:
        raise CommandError(errors.subcommand_syntax(argv[1], b"CLIENT"))
    as_error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason not in (b"timeout", b"error"):
            raise CommandError(errors.UNBLOCK_REASON)
        as_error = reason == b"error"
    target_id = string2ll(argv[2])
    if target_id is None:
        raise CommandError(errors.NOT_INTEGER)
    target = client.server.clients.get(target_id)
    if target is None or not target.blocked:
        return 0
    return 1 if blocking.unblock_client(target, as_error) else 0


@command("CLIENT HELP", 2, "loading stale", group="connection", acl="connection",
         since="5.0.0", summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def client_help(client: Any, argv: list[bytes]) -> list[Status]:
    return help_reply("CLIENT", [
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ])
