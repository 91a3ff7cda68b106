"""Reply values that command handlers return, independent of protocol.

Handlers return plain Python values and the encoder in `cache.resp` types
them per protocol, as Redis 7.0 does:

    bytes            bulk string
    int              integer (bool is not used; see `Bool`)
    None             null bulk string ($-1 in RESP2, _ in RESP3)
    NULL_ARRAY       null array (*-1 in RESP2, _ in RESP3)
    list / tuple     array
    Status(b"OK")    simple string (+OK)
    Error(b"ERR ..") error reply (-ERR ...)
    Double(x)        RESP3 double, RESP2 bulk string in Redis's format
    Map([(k, v)])    RESP3 map, RESP2 flat array
    Set([..])        RESP3 set, RESP2 array
    Push([..])       RESP3 push, RESP2 array (pub/sub messages)
    Verbatim(b"..")  RESP3 verbatim string (txt), RESP2 bulk string
    Bool(True)       RESP3 boolean, RESP2 integer 1/0
    Encoded([..])    RESP bytes already, in parts (`dispatch.execute(encode=True)`)
"""

from __future__ import annotations


class Status(bytes):
    """A simple string reply such as +OK or +PONG."""

    __slots__ = ()


class Error(bytes):
    """An error reply; the bytes start with the error code (ERR, WRONGTYPE...)."""

    __slots__ = ()


class Double(float):
    """A floating point reply: `,` in RESP3, a bulk string in RESP2."""

    __slots__ = ()


class Map(list):
    """A map reply, kept as a list of (key, value) pairs to keep order explicit."""

    __slots__ = ()


class Set(list):
    """A set reply (RESP3 `~`); an array in RESP2."""

    __slots__ = ()


class Push(list):
    """An out-of-band push (RESP3 `>`); an array in RESP2."""

    __slots__ = ()


class Verbatim(bytes):
    """A verbatim text reply (RESP3 `=txt:`); a bulk string in RESP2."""

    __slots__ = ()


class Encoded(list):
    """A reply already encoded for its client's protocol, as a list of byte parts:
    the dispatcher encodes an aggregate reply while its command is still being
    timed, since Redis builds a reply inside the call it is counted in."""

    __slots__ = ()


class Bool:
    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = bool(value)

    def __repr__(self) -> str:
        return f"Bool({self.value})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bool) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()
OK = Status(b"OK")
PONG = Status(b"PONG")
QUEUED = Status(b"QUEUED")
