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


def _c_str(arg: bytes) -> bytes:
    """What C's `%s` prints of `arg`: Redis formats these errors with it, so a NUL ends the text."""
    nul = arg.find(b"\0")
    return arg if nul < 0 else arg[:nul]


def unknown_command(argv: list[bytes]) -> bytes:
    """Redis's `unknown command` error, args listed while they fit in 128 bytes."""
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + _c_str(arg)[: 128 - len(args)] + b"' "
    return (
        b"ERR unknown command '" + _c_str(argv[0])[:128] + b"', with args beginning with: " + args
    ).replace(b"\r", b" ").replace(b"\n", b" ")


def unknown_subcommand(sub: bytes, container: str) -> bytes:
    return (
        b"ERR unknown subcommand '" + _c_str(sub)[:128] + b"'. Try " + container.upper().encode()
        + b" HELP."
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


# -- lists (cache.commands.lists) --
POSITIVE_COUNT = b"ERR value is out of range, must be positive"  # getPositiveLong... (LPOP count)
LPOS_RANK_ZERO = (
    b"ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    b"or use negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = b"ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = b"ERR MAXLEN can't be negative"
NUMKEYS_NOT_POSITIVE = b"ERR numkeys should be greater than 0"  # LMPOP, BLMPOP (and ZMPOP)
MPOP_COUNT_NOT_POSITIVE = b"ERR count should be greater than 0"  # LMPOP, BLMPOP (and ZMPOP)


# -- pub/sub (cache.pubsub, cache.commands.pubsub) --
def pubsub_context(fullname: str) -> bytes:
    """A RESP2 client in subscribed mode running anything but (un)subscribe, PING, QUIT, RESET."""
    return (b"ERR Can't execute '" + fullname.encode() + b"': only (P|S)SUBSCRIBE / "
            b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")


def subcommand_syntax(sub: bytes, container: bytes) -> bytes:
    """addReplySubcommandSyntaxError: the subcommand as sent, the container upper-cased."""
    return _sanitized(b"ERR unknown subcommand or wrong number of arguments for '" + sub[:128]
                      + b"'. Try " + container.upper() + b" HELP.")

# -- sets and hashes (cache.commands.sets / hashes) --
HASH_VALUE_NOT_INTEGER = b"ERR hash value is not an integer"  # HINCRBY on a non-integer field
HASH_VALUE_NOT_FLOAT = b"ERR hash value is not a float"  # HINCRBYFLOAT on a non-float field
VALUE_NAN_OR_INF = b"ERR value is NaN or Infinity"  # HINCRBYFLOAT's increment itself
VALUE_OUT_OF_RANGE = b"ERR value is out of range"  # HRANDFIELD count * 2 would overflow
NUMKEYS_OVER_ARGS = b"ERR Number of keys can't be greater than number of args"  # SINTERCARD
LIMIT_NEGATIVE = b"ERR LIMIT can't be negative"  # SINTERCARD (and ZINTERCARD)

# Redis's shared.oomerr: a denyoom command while over maxmemory with nothing left to evict.
OOM = b"OOM command not allowed when used memory > 'maxmemory'."


# -- sorted sets (cache.commands.zsets / zset_ops) --
ZADD_NX_AND_XX = b"ERR XX and NX options at the same time are not compatible"
ZADD_GT_LT_NX = b"ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_SINGLE_PAIR = b"ERR INCR option supports a single increment-element pair"
ZSET_SCORE_NAN = b"ERR resulting score is not a number (NaN)"
ZSET_MIN_MAX_NOT_FLOAT = b"ERR min or max is not a float"
ZSET_MIN_MAX_NOT_LEX = b"ERR min or max not valid string range item"
ZRANGE_LIMIT_NEEDS_BY = (
    b"ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
ZRANGE_WITHSCORES_BYLEX = b"ERR syntax error, WITHSCORES not supported in combination with BYLEX"
ZSET_WEIGHT_NOT_FLOAT = b"ERR weight value is not a float"


def zset_needs_a_key(fullname: str) -> bytes:
    """ZUNION/ZINTER/ZDIFF (and STORE, ZINTERCARD) with numkeys below 1."""
    return b"ERR at least 1 input key is needed for '" + fullname.encode() + b"' command"


# -- blocking commands and transactions (cache.blocking, cache.commands.transactions) --
TIMEOUT_NOT_FLOAT = b"ERR timeout is not a float or out of range"  # BLPOP & co.; negative: WAIT_TIMEOUT_NEGATIVE
UNBLOCKED = b"UNBLOCKED client unblocked via CLIENT UNBLOCK"
UNBLOCK_REASON = b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
MULTI_NESTED = b"ERR MULTI calls can not be nested"
WATCH_IN_MULTI = b"ERR WATCH inside MULTI is not allowed"
EXEC_WITHOUT_MULTI = b"ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = b"ERR DISCARD without MULTI"
EXECABORT = b"EXECABORT Transaction discarded because of previous errors."
NOT_IN_TRANSACTION = b"ERR Command not allowed inside a transaction"


def exec_aborted_because(error: bytes) -> bytes:
    """EXEC itself refused (NOAUTH, OOM...): the transaction is dropped, naming why."""
    return b"EXECABORT Transaction discarded because of: " + (error[1:] if error[:1] == b"-" else error)


# -- operator's view: SLOWLOG, LATENCY, MONITOR (cache.slowlog, cache.latency, cache.monitor) --
SLOWLOG_COUNT = b"ERR count should be greater than or equal to -1"  # SLOWLOG GET count
MONITOR_DENY_BLOCKING = b"ERR MONITOR isn't allowed for DENY BLOCKING client"  # inside MULTI/EXEC
REPLICA_KEYSPACE = b"ERR Replica can't interact with the keyspace"  # a MONITOR client's key command


def latency_no_samples(event: bytes) -> bytes:
    """LATENCY GRAPH of an event with no samples (the name is a C string: cut at NUL)."""
    return _sanitized(b"ERR No samples available for event '" + event.split(b"\0", 1)[0] + b"'")

CONFIG_REWRITE_NO_FILE = b"ERR The server is running without a config file"


def config_rewrite_failed(reason: str) -> bytes:
    return b"ERR Rewriting config file: " + reason.encode("utf-8", "replace")

# Refusals at accept time (acceptCommonHandler, clientAcceptHandler): written, then closed.
MAX_CLIENTS_REACHED = b"ERR max number of clients reached"
PROTECTED_MODE_DENIED = (
    b"DENIED Redis is running in protected mode because protected "
    b"mode is enabled and no password is set for the default user. "
    b"In this mode connections are only accepted from the loopback interface. "
    b"If you want to connect from external computers to Redis you "
    b"may adopt one of the following solutions: "
    b"1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface "
    b"by connecting to Redis from the same host the server is "
    b"running, however MAKE SURE Redis is not publicly accessible "
    b"from internet if you do so. Use CONFIG REWRITE to make this "
    b"change permanent. "
    b"2) Alternatively you can just disable the protected mode by "
    b"editing the Redis configuration file, and setting the protected "
    b"mode option to 'no', and then restarting the server. "
    b"3) If you started the server manually just for testing, restart "
    b"it with the '--protected-mode no' option. "
    b"4) Setup a an authentication password for the default user. "
    b"NOTE: You only need to do one of the above things in order for "
    b"the server to start accepting connections from the outside."
)

# LCS (t_string.c lcsCommand): its own type error text instead of WRONGTYPE.
LCS_WRONGTYPE = b"ERR The specified keys must contain string values"
LCS_LEN_AND_IDX = b"ERR If you want both the length and indexes, please just use IDX."
LCS_TOO_LONG = b"ERR String too long for LCS"
LCS_TABLE_TOO_BIG = b"ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
