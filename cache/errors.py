"""Every error string flowcache sends, byte for byte as Redis 7.0 sends it.

Handlers raise `CommandError(MESSAGE)`; the dispatcher turns it into an
error reply. Messages that take arguments are functions returning bytes.
New messages are appended at the end of this file.
"""

from __future__ import annotations


class CommandError(Exception):
    """Raised by a handler to answer with an error reply (the message bytes)."""

    def __init__(self, message: bytes) -> None:
        super().__init__(message)
        self.message = message


class ProtocolError(Exception):
    """The client broke RESP; the message is sent and the connection closed."""

    def __init__(self, message: bytes) -> None:
        super().__init__(message)
        self.message = message


def _quote(arg: bytes, limit: int = 128) -> bytes:
    return arg[:limit].replace(b"\r", b" ").replace(b"\n", b" ")


def unknown_command(argv: list[bytes]) -> bytes:
    """Redis's `unknown command` error, args listed while they fit in 128 bytes."""
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + arg[: 128 - len(args)] + b"' "
    return (
        b"ERR unknown command '" + argv[0][:128] + b"', with args beginning with: " + args
    ).replace(b"\r", b" ").replace(b"\n", b" ")


def unknown_subcommand(sub: bytes, container: str) -> bytes:
    return (
        b"ERR unknown subcommand '" + sub[:128] + b"'. Try " + container.upper().encode() + b" HELP."
    ).replace(b"\r", b" ").replace(b"\n", b" ")


def wrong_arity(fullname: str) -> bytes:
    return b"ERR wrong number of arguments for '" + fullname.encode() + b"' command"


SYNTAX = b"ERR syntax error"
WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = b"ERR value is not an integer or out of range"
NOT_FLOAT = b"ERR value is not a valid float"
OVERFLOW = b"ERR increment or decrement would overflow"
NAN_OR_INF = b"ERR increment would produce NaN or Infinity"
NO_SUCH_KEY = b"ERR no such key"
INDEX_OUT_OF_RANGE = b"ERR index out of range"
DB_OUT_OF_RANGE = b"ERR DB index is out of range"
INVALID_CURSOR = b"ERR invalid cursor"
STRING_TOO_LONG = b"ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def invalid_expire(cmd: str) -> bytes:
    return b"ERR invalid expire time in '" + cmd.encode() + b"' command"


# RESP protocol errors (cache.resp); the server sends one and closes the connection.
PROTO_INVALID_MULTIBULK_LEN = b"ERR Protocol error: invalid multibulk length"
PROTO_INVALID_BULK_LEN = b"ERR Protocol error: invalid bulk length"
PROTO_TOO_BIG_INLINE = b"ERR Protocol error: too big inline request"
PROTO_TOO_BIG_MBULK_COUNT = b"ERR Protocol error: too big mbulk count string"
PROTO_TOO_BIG_BULK_COUNT = b"ERR Protocol error: too big bulk count string"
PROTO_UNBALANCED_QUOTES = b"ERR Protocol error: unbalanced quotes in request"
PROTO_UNAUTH_MULTIBULK_LEN = b"ERR Protocol error: unauthenticated multibulk length"
PROTO_UNAUTH_BULK_LEN = b"ERR Protocol error: unauthenticated bulk length"


def proto_expected_dollar(got: int) -> bytes:
    """Redis prints the offending byte raw, with CR and LF mapped to spaces."""
    byte = b" " if got in (10, 13) else bytes((got,))
    return b"ERR Protocol error: expected '$', got '" + byte + b"'"


def _sanitized(arg: bytes) -> bytes:
    """User bytes inside an error line, with CR and LF as spaces (addReplyErrorFormat)."""
    return arg.replace(b"\r", b" ").replace(b"\n", b" ")


# Connection and server commands (cache.commands.server, clients, introspection).
NOAUTH = b"NOAUTH Authentication required."
NOAUTH_HELLO = (
    b"NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    b"HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    b"the RESP protocol version at the same time"
)
WRONGPASS = b"WRONGPASS invalid username-password pair or user is disabled."
AUTH_WITHOUT_PASSWORD = (
    b"ERR AUTH <password> called without any password configured for the default user. "
    b"Are you sure your configuration is correct?"
)
NOPROTO = b"NOPROTO unsupported protocol version"
HELLO_BAD_PROTOVER = b"ERR Protocol version is not an integer or out of range"


def hello_bad_option(option: bytes) -> bytes:
    return b"ERR Syntax error in HELLO option '" + _sanitized(option) + b"'"


BAD_CLIENT_NAME = b"ERR Client names cannot contain spaces, newlines or special characters."


def bad_client_attribute(attribute: bytes) -> bytes:
    """CLIENT SETINFO (Redis 7.2) rejecting a value, naming the attribute as sent."""
    return b"ERR " + _sanitized(attribute) + b" cannot contain spaces, newlines or special characters."


def unrecognized_client_option(option: bytes) -> bytes:
    return b"ERR Unrecognized option '" + _sanitized(option) + b"'"


NO_SUCH_CLIENT = b"ERR No such client"
CLIENT_ID_NOT_POSITIVE = b"ERR client-id should be greater than 0"
INVALID_CLIENT_ID = b"ERR Invalid client ID"


def unknown_client_type(name: bytes) -> bytes:
    return b"ERR Unknown client type '" + _sanitized(name) + b"'"


def no_such_user(name: bytes) -> bytes:
    return b"ERR No such user '" + _sanitized(name) + b"'"


WAIT_TIMEOUT_NOT_INTEGER = b"ERR timeout is not an integer or out of range"
WAIT_TIMEOUT_NEGATIVE = b"ERR timeout is negative"
GETKEYS_INVALID_COMMAND = b"ERR Invalid command specified"
GETKEYS_NO_KEY_ARGUMENTS = b"ERR The command has no key arguments"
GETKEYS_BAD_ARITY = b"ERR Invalid number of arguments specified for command"
GETKEYS_NO_KEYS_FOUND = b"ERR Invalid arguments specified for command"


def config_set_unknown(name: bytes) -> bytes:
    return b"ERR Unknown option or number of arguments for CONFIG SET - '" + _sanitized(name) + b"'"


def config_set_failed(name: bytes, reason: str) -> bytes:
    """`reason` is cache.config's parser text, e.g. "argument must be a memory value"."""
    return (b"ERR CONFIG SET failed (possibly related to argument '" + _sanitized(name)
            + b"') - " + reason.encode("utf-8", "surrogateescape"))


# -- keyspace, strings and expiry (cache.commands.strings / keys) --
SAME_OBJECT = b"ERR source and destination objects are the same"
OFFSET_OUT_OF_RANGE = b"ERR offset is out of range"
DECREMENT_OVERFLOW = b"ERR decrement would overflow"
EXPIRE_NX_AND_OTHERS = b"ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_AND_LT = b"ERR GT and LT options at the same time are not compatible"
INVALID_FIRST_DB = b"ERR invalid first DB index"
INVALID_SECOND_DB = b"ERR invalid second DB index"
LFU_NOT_SELECTED = (
    b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that"
    b" when switching between policies at runtime LRU and LFU data will take some time to adjust."
)
LFU_SELECTED = (
    b"ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that"
    b" when switching between policies at runtime LRU and LFU data will take some time to adjust."
)


def unsupported_option(option: bytes) -> bytes:
    """EXPIRE's error for an unknown flag, printed as a C string (cut at NUL)."""
    text = option.split(b"\0", 1)[0]
    return (b"ERR Unsupported option " + text).replace(b"\r", b" ").replace(b"\n", b" ")


def value_out_of_range(low: int, high: int) -> bytes:
    """getRangeLongFromObjectOrReply without a custom message (SELECT's index, ...)."""
    return b"ERR value is out of range, value must between %d and %d" % (low, high)
