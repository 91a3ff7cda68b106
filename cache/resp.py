# Sans-I/O RESP for flowcache: an incremental request parser and a reply encoder.
# It parses requests exactly as Redis 7.0 does (multibulk and inline, its limits,
# its protocol error strings) and encodes `cache.reply` values as RESP2 or RESP3
# byte for byte as Redis 7.0.15 does. It refuses to do I/O, to read the clock,
# to parse replies, or to allocate from a length header before the bytes arrive.
"""Sans-I/O RESP: `RespParser` (bytes in, argv lists out) and `encode`."""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from cache import errors
from cache.errors import ProtocolError
from cache.reply import NULL_ARRAY, OK, Bool, Double, Encoded, Error, Map, Push, Set, Status, Verbatim

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE: longest header or inline line awaited
UNAUTH_MULTIBULK_MAX = 10
UNAUTH_BULK_MAX = 16384
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024  # proto-max-bulk-len
_INT_MAX = 2**31 - 1
_LLONG_MAX = 2**63 - 1

# Canonical small headers, so the hot path validates a header with one dict lookup.
_FAST_COUNT = {b"*%d" % i: i for i in range(1024)}
_FAST_BULK_MAX = 4095
_FAST_BULK = {b"$%d" % i: i for i in range(_FAST_BULK_MAX + 1)}
_bulk_length = _FAST_BULK.__getitem__
_header_of_length = [b"$%d" % i for i in range(_FAST_BULK_MAX + 1)].__getitem__
_BATCH_MIN = 128  # unconsumed bytes from which tokenising the whole buffer at once pays

# Learned command shapes. A read whose commands keep recurring with the same
# argument lengths (fixed-size keys and values; redis-benchmark) is parsed by
# one regex fullmatch, learned for reads of its length: every count, header,
# length and CRLF is checked in C, and the groups are the argvs (about half
# the cost of splitting for one SET or one MSET of ten keys, 40% of it for a
# pipeline of sixteen INCRs). A read that does not match is split as before,
# so the result is the same either way; only speed differs. Only reads whose
# commands all have the same number of arguments are learned, and only every
# _SHAPE_SAMPLE-th split read is looked at, so reads whose shapes never
# recur pay little for it.
#
# Arguments in one learned read, all its commands together: a compiled shape
# keeps about 460 bytes per argument, here and in `re`'s own cache of 512.
_SHAPE_MAX_ARGS = 64
_SHAPE_SAMPLE = 8  # a power of two
_SHAPE_LEARN_AFTER = 8  # sampled reads of one length in a row with the same shape
_SHAPES_MAX = 64  # shapes (and candidates) kept; all forgotten at once when full
# Split reads between two compiles (a 64-argument shape takes ~0.6 ms): a stream
# of ever new shapes costs at most ~0.6 µs a read, and cannot keep clearing
# the shapes other clients use.
_SHAPE_COMPILE_GAP = 1024
# read length -> (fullmatch of its shape, arguments per command, whether it is one command)
_shape_match: dict[int, tuple[Callable[[bytes], Any], int, bool]] = {}
_shape_seen: dict[int, list[Any]] = {}  # read length -> [its last shape's lengths, times in a row]
_split_reads = 0  # reads of whole commands parsed by splitting (for sampling)
_compiled_at = -_SHAPE_COMPILE_GAP  # _split_reads at the last compile

_C_ISSPACE = frozenset(b" \t\n\v\f\r")
_TOKEN_END = frozenset(b" \t\n\r")
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("a"): b"\a"}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def string2ll(s: bytes) -> int | None:
    """Redis's strict string2ll: no sign but '-', no leading zeros, no spaces, 64-bit."""
    if s.isdigit():  # the common case: ASCII digits only, not empty
        if s[0] == 48:
            return 0 if len(s) == 1 else None
        n = len(s)
        if n < 19:  # at most 18 digits: always within a long long
            return int(s)
        if n > 19:
            return None
        value = int(s)
        return value if value <= _LLONG_MAX else None
    if len(s) < 2 or len(s) > 20 or s[0] != 45:
        return None
    digits = s[1:]
    if not digits.isdigit() or digits[0] == 48:
        return None
    value = int(digits)
    return -value if value <= _LLONG_MAX + 1 else None


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline request like Redis's sdssplitargs; None means unbalanced quotes."""
    if b'"' not in line and b"'" not in line and b"\v" not in line and b"\f" not in line:
        return line.split()
    args: list[bytes] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in _C_ISSPACE:
            i += 1
        if i >= n:
            return args
        token = bytearray()
        quote = 0  # 0, or the open quote character
        while True:
            c = line[i] if i < n else 0
            if quote == 34:
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    token.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    token += _ESCAPES.get(line[i], line[i:i + 1])
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _C_ISSPACE:
                        return None  # closing quote must be followed by a space
                    break
                elif i >= n:
                    return None
                else:
                    token.append(c)
            elif quote == 39:
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    token.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _C_ISSPACE:
                        return None
                    break
                elif i >= n:
                    return None
                else:
                    token.append(c)
            elif i >= n or c in _TOKEN_END:
                break
            elif c == 34 or c == 39:
                quote = c
            else:
                token.append(c)
            i += 1
        i += 1
        args.append(bytes(token))


def _whole_commands(buf: bytes) -> list[list[bytes]] | None:
    """Every command in `buf` if it holds whole canonical multibulk commands and
    nothing else (the usual read, pipelined or not), else None."""
    shape = _shape_match.get(len(buf))
    if shape is not None:
        shaped = shape[0](buf)
        if shaped is not None:
            if shape[2]:
                return [list(shaped.groups())]
            groups = iter(shaped.groups())
            return list(map(list, zip(*[groups] * shape[1])))
    lines = buf.split(b"\r\n")
    complete = len(lines) - 1  # the last piece, after the final CRLF, is empty
    count = _FAST_COUNT.get(lines[0])
    if count is None:
        return None
    if complete == 2 * count + 1:  # one command
        args = lines[2::2]
        if not _canonical(lines[1:-1:2], args):
            return None
        found = [args] if count else None
    else:
        found, used, _bad_count, exact = _walk_lines(lines, complete)
        if not (exact and used == complete and found):
            return None
    global _split_reads
    _split_reads += 1
    if not _split_reads & (_SHAPE_SAMPLE - 1) and found:
        _learn_shape(buf, found)
    return found


def _learn_shape(buf: bytes, commands: list[list[bytes]]) -> None:
    """Count a sampled read, `buf`, of canonical whole `commands`; compile its
    shape once it has come _SHAPE_LEARN_AFTER times in a row."""
    global _compiled_at
    width = len(commands[0])
    if width * len(commands) > _SHAPE_MAX_ARGS or any(len(args) != width for args in commands):
        return
    size = len(buf)
    lengths = [len(arg) for args in commands for arg in args]
    seen = _shape_seen.get(size)
    if seen is None or seen[0] != lengths:
        if len(_shape_seen) >= _SHAPES_MAX:
            _shape_seen.clear()
        _shape_seen[size] = [lengths, 1]
        return
    seen[1] += 1
    if seen[1] < _SHAPE_LEARN_AFTER or _split_reads - _compiled_at < _SHAPE_COMPILE_GAP:
        return
    del _shape_seen[size]
    _compiled_at = _split_reads
    count_line = b"\\*%d\r\n" % width
    pattern = b"".join(count_line + b"".join(b"\\$%d\r\n(.{%d})\r\n" % (n, n) for n in lengths[i:i + width])
                       for i in range(0, len(lengths), width))
    fullmatch = re.compile(pattern, re.DOTALL).fullmatch
    if fullmatch(buf) is None:  # the read held empty commands (`*0`), which argvs do not show
        return
    if len(_shape_match) >= _SHAPES_MAX:
        _shape_match.clear()
    _shape_match[size] = (fullmatch, width, len(commands) == 1)


def _walk_lines(lines: list[bytes], complete: int) -> tuple[list[list[bytes]], int, bool, bool]:
    """Walk the whole commands at the start of `lines` (a buffer split at CRLF, the
    first `complete` pieces followed by one): (their argv lists, the pieces they
    use, whether the walk ended at a count that is not canonical, whether every
    bulk header matched its bulk). Empty commands (`*0`) are used, not listed.

    One check covers the batch: a bulk holding CRLF, or not followed by it, or
    a header that is not canonical, makes `exact` false.
    """
    found = []
    heads: list[bytes] = []
    bodies: list[bytes] = []
    counts = _FAST_COUNT
    i = 0
    bad_count = False
    try:
        while i < complete:
            count = counts[lines[i]]
            j = i + 1 + 2 * count
            if j > complete:
                break  # an incomplete command
            if count:
                args = lines[i + 2:j:2]
                heads += lines[i + 1:j:2]
                bodies += args
                found.append(args)
            i = j
    except KeyError:
        bad_count = True
    return found, i, bad_count, _canonical(heads, bodies)


def _canonical(heads: list[bytes], bodies: list[bytes]) -> bool:
    """Whether each bulk header is the canonical one for its bulk (`$<len>`), all in C:
    a bulk holding CRLF, or not followed by it, shifts the pairs and fails it."""
    try:
        return heads == list(map(_header_of_length, map(len, bodies)))
    except IndexError:  # a bulk longer than the table's canonical headers
        return False


class RespParser:
    """Incremental request parser for one connection: `feed` bytes, pull `next_command`.

    After a `ProtocolError` the parser stays failed: every later call raises the
    same error (the server sends it and closes the connection, as Redis does).

    A read of whole commands of a learned shape is taken by one regex match
    (`_whole_commands`). Otherwise a pipelined buffer is cut into lines once,
    in C (`bytes.split`), and every complete command whose headers are
    canonical and whose bulks hold no CRLF is read ahead into `_ready`;
    anything else goes through the exact state machine. Reading ahead is
    only done for an authenticated client, whose limits are the loosest; a
    client that loses authentication (RESET with a password set) meets the
    unauthenticated limit when its command is taken.
    """

    __slots__ = ("_buf", "_pos", "_tail", "_need", "_term", "_args", "_left", "_bulklen",
                 "_failed", "_max_bulk_len", "_fast", "authenticated", "_ready", "_batch", "drained")

    def __init__(self, max_bulk_len: int = DEFAULT_MAX_BULK_LEN, authenticated: bool = True) -> None:
        self._buf = b""  # immutable, so argv elements are plain slices of it
        self._pos = 0  # first unconsumed byte of _buf
        self._tail = bytearray()  # bytes fed while a partial frame waits in _buf
        self._need = 0  # unconsumed bytes needed before parsing again is worthwhile
        self._term: bytes | None = None  # ... or a byte whose arrival makes it worthwhile
        self._args: list[bytes] | None = None  # argv of a partly read multibulk
        self._left = 0  # bulks still to read for _args
        self._bulklen = -1  # length of the bulk being awaited, -1 before its header
        self._failed: bytes | None = None
        self._ready: list[list[bytes]] = []  # commands read ahead, last one first
        self._batch = True  # whether tokenising the rest of this buffer may still pay
        # next_batch took everything fed so far: a caller may skip asking again until it feeds
        self.drained = False
        self.max_bulk_len = max_bulk_len
        self.authenticated = authenticated

    @property
    def max_bulk_len(self) -> int:
        return self._max_bulk_len

    @max_bulk_len.setter
    def max_bulk_len(self, value: int) -> None:
        # The hot path's table accepts lengths up to _FAST_BULK_MAX without this check.
        self._max_bulk_len = value
        self._fast = value >= _FAST_BULK_MAX

    def buffered_bytes(self) -> int:
        """Bytes held but not yet parsed (cheap: the query-buffer limit checks it every read)."""
        return len(self._buf) - self._pos + len(self._tail)

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet consumed into an argument (Redis's query buffer)."""
        ahead = sum(len(b"*%d\r\n" % len(args)) + sum(len(b"$%d\r\n" % len(a)) + len(a) + 2 for a in args)
                    for args in self._ready)  # read ahead, so their headers were canonical
        return len(self._buf) - self._pos + len(self._tail) + ahead

    def feed(self, data: bytes) -> int:
        """Take bytes; returns `buffered_bytes()` (the server checks its query-buffer limit)."""
        if self._failed is not None or not data:
            return self.buffered_bytes()
        self.drained = False
        self._batch = True
        if self._pos >= len(self._buf) and not self._tail:
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            self._need = 0
            self._term = None
            return len(data)
        self._tail += data
        if self._term is not None and self._term in data:
            self._need = 0
        return self.buffered_bytes()

    def next_command(self) -> list[bytes] | None:
        """The next complete argv, or None until more bytes arrive; raises ProtocolError."""
        ready = self._ready
        if ready:
            args = ready.pop()
            if not self.authenticated and len(args) > UNAUTH_MULTIBULK_MAX:
                self._fail(errors.PROTO_UNAUTH_MULTIBULK_LEN)
            return args
        if self._failed is not None:
            raise ProtocolError(self._failed)
        if self._tail:
            if len(self._buf) - self._pos + len(self._tail) < self._need:
                return None
            self._buf = self._buf[self._pos:] + self._tail
            self._tail = bytearray()
            self._pos = 0
            self._need = 0
            self._term = None
        buf = self._buf
        pos = self._pos
        end = len(buf)
        if pos >= end:
            self._buf = b""
            self._pos = 0
            return None
        if self._args is None and self._fast:
            if end - pos >= _BATCH_MIN and self._batch and self.authenticated and buf[pos] == 42:
                args = self._read_ahead(buf, pos)
                if args is not None:
                    return args
                pos = self._pos
            # Hot path: whole multibulk commands with small canonical headers.
            find = buf.index
            try:
                while buf[pos] == 42:  # '*'; never scan an inline stream for CR
                    cr = find(b"\r", pos)
                    count = _FAST_COUNT[buf[pos:cr]]
                    if count > UNAUTH_MULTIBULK_MAX and not self.authenticated:
                        break
                    p = cr + 2
                    args = []
                    for _ in range(count):
                        cr = find(b"\r", p)
                        start = cr + 2
                        q = start + _FAST_BULK[buf[p:cr]]
                        if q + 2 > end:
                            break
                        args.append(buf[start:q])
                        p = q + 2
                    else:
                        if p > end:
                            break
                        self._pos = pos = p
                        if count:
                            return args
                        continue
                    break
            except (ValueError, KeyError, IndexError):
                pass
        return self._parse(buf, pos)

    def next_batch(self) -> list[list[bytes]]:
        """Every command that can be taken now, oldest first; [] until more bytes arrive.

        A read of whole commands comes back whole (one list for the server's
        loop to walk); otherwise one command at a time. Raises ProtocolError,
        after the commands before the bad one have been returned.
        """
        ready = self._ready
        if ready and self.authenticated:
            self._ready = []
            ready.reverse()
            return ready
        buf = self._buf
        if not ready and not self._tail:
            if self._pos >= len(buf):
                if self._failed is not None:
                    raise ProtocolError(self._failed)  # a failed parser stays failed
                if buf:
                    self._buf = b""
                    self._pos = 0
                return []
            if (not self._pos and self._args is None and buf[0] == 42 and buf[-2:] == b"\r\n"
                    and self._fast and self.authenticated):
                found = _whole_commands(buf)
                if found is not None:
                    self._buf = b""
                    self.drained = True
                    return found
        args = self.next_command()
        if args is None:
            return []
        ready = self._ready
        if not ready or not self.authenticated:
            return [args]
        self._ready = []
        ready.append(args)
        ready.reverse()
        return ready

    def push_back(self, commands: list[list[bytes]]) -> None:
        """Return commands `next_batch` gave out but were not run (authentication was lost:
        they meet the unauthenticated limits when taken again)."""
        if commands:
            commands.reverse()
            self._ready += commands
            self.drained = False

    def _read_ahead(self, buf: bytes, pos: int) -> list[bytes] | None:
        """Take every complete command the line split can prove, return the first of them."""
        lines = (buf[pos:] if pos else buf).split(b"\r\n")
        complete = len(lines) - 1  # the last piece is not followed by CRLF
        found, i, bad_count, exact = _walk_lines(lines, complete)
        if bad_count:  # not a canonical count: the state machine takes it from there
            self._batch = False
        if not exact:
            found, i = self._read_ahead_checked(lines, complete)
        if i:
            # consumed = all but the unread lines (usually the empty piece after the last CRLF)
            unread = sum(map(len, lines[i:])) + 2 * (complete - i)
            self._pos = len(buf) - unread
        if not found:
            self._batch = False
            return None
        found.reverse()
        self._ready = found
        return found.pop()

    def _read_ahead_checked(self, lines: list[bytes], complete: int) -> tuple[list, int]:
        """The commands before the first one the batch check refused, checked one by one."""
        self._batch = False
        found = []
        i = 0
        try:
            while i < complete:
                count = _FAST_COUNT[lines[i]]
                j = i + 1 + 2 * count
                if j > complete:
                    break
                args = lines[i + 2:j:2]
                if list(map(_bulk_length, lines[i + 1:j:2])) != list(map(len, args)):
                    break
                i = j
                if count:
                    found.append(args)
        except KeyError:
            pass
        return found, i

    def _parse(self, buf: bytes, pos: int) -> list[bytes] | None:
        """The complete state machine: resumes partial multibulks and checks everything."""
        end = len(buf)
        while True:
            args = self._args
            if args is None:
                if pos >= end:
                    return self._wait(pos, 1, None)
                if buf[pos] != 42:  # not '*': an inline request
                    nl = self._find_line(buf, pos, b"\n", errors.PROTO_TOO_BIG_INLINE)
                    if nl < 0:
                        return None
                    stop = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                    argv = split_inline(buf[pos:stop])
                    if argv is None:
                        self._fail(errors.PROTO_UNBALANCED_QUOTES)
                    pos = self._pos = nl + 1
                    if argv:
                        return argv
                    continue
                cr = self._find_header(buf, pos, errors.PROTO_TOO_BIG_MBULK_COUNT)
                if cr < 0:
                    return None
                count = string2ll(buf[pos + 1:cr])
                if count is None or count > _INT_MAX:
                    self._fail(errors.PROTO_INVALID_MULTIBULK_LEN)
                if count > UNAUTH_MULTIBULK_MAX and not self.authenticated:
                    self._fail(errors.PROTO_UNAUTH_MULTIBULK_LEN)
                pos = self._pos = cr + 2
                if count <= 0:
                    continue
                args = self._args = []
                self._left = count
                self._bulklen = -1
            while self._left:
                n = self._bulklen
                if n < 0:
                    cr = self._find_header(buf, pos, errors.PROTO_TOO_BIG_BULK_COUNT)
                    if cr < 0:
                        return None
                    if buf[pos] != 36:  # '$'
                        self._fail(errors.proto_expected_dollar(buf[pos]))
                    n = string2ll(buf[pos + 1:cr])
                    if n is None or n < 0 or n > self._max_bulk_len:
                        self._fail(errors.PROTO_INVALID_BULK_LEN)
                    if n > UNAUTH_BULK_MAX and not self.authenticated:
                        self._fail(errors.PROTO_UNAUTH_BULK_LEN)
                    pos = cr + 2
                    self._bulklen = n
                if end - pos < n + 2:
                    return self._wait(pos, n + 2, None)
                args.append(buf[pos:pos + n])
                pos += n + 2  # like Redis, the two bytes after a bulk are skipped unchecked
                self._bulklen = -1
                self._left -= 1
            self._args = None
            self._pos = pos
            return args

    def _find_line(self, buf: bytes, pos: int, byte: bytes, too_big: bytes) -> int:
        """Index of `byte` as C's strchr finds it (a NUL hides it), else -1 after arranging to wait."""
        i = buf.find(byte, pos)
        nul = buf.find(b"\0", pos, len(buf) if i < 0 else i)
        if i >= 0 and nul < 0:
            return i
        if len(buf) - pos > INLINE_MAX:
            self._fail(too_big)
        self._wait(pos, INLINE_MAX + 1, byte if nul < 0 else None)
        return -1

    def _find_header(self, buf: bytes, pos: int, too_big: bytes) -> int:
        """Index of the CR ending a '*' or '$' header, once a byte follows it; else -1."""
        cr = self._find_line(buf, pos, b"\r", too_big)
        if cr > len(buf) - 2:
            self._wait(pos, len(buf) - pos + 1, None)
            return -1
        return cr

    def _wait(self, pos: int, need: int, term: bytes | None) -> None:
        self._need = need
        self._term = term
        if pos >= len(self._buf):
            self._buf = b""  # let go of consumed bytes while idle
            pos = 0
        self._pos = pos
        return None

    def _fail(self, message: bytes) -> None:
        self._failed = message
        self._args = None
        self._ready = []
        self._buf = b""
        self._pos = 0
        self._tail = bytearray()
        raise ProtocolError(message)


# --- encoder ---------------------------------------------------------------

CRLF = b"\r\n"
_SMALL = 1024
_BULK_HEADERS = [b"$%d\r\n" % i for i in range(_SMALL)]
_INTEGERS = [b":%d\r\n" % i for i in range(_SMALL)]
_OK = b"+OK\r\n"
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
_NULL_ARRAY = {2: b"*-1\r\n", 3: b"_\r\n"}
_SET_PREFIX = {2: b"*", 3: b"~"}
_PUSH_PREFIX = {2: b"*", 3: b">"}


def format_double(x: float) -> bytes:
    """A double as Redis 7.0 replies it (printf "%.17g", inf and -inf spelled out)."""
    if x != x:
        return b"-nan" if math.copysign(1.0, x) < 0 else b"nan"
    return b"%.17g" % x


def _bulk(data: bytes) -> bytes:
    n = len(data)
    if n < _SMALL:
        return _BULK_HEADERS[n] + data + CRLF
    return b"$%d\r\n%b\r\n" % (n, data)


def encode(reply: object, proto: int) -> bytes:
    """One reply as RESP `proto` (2 or 3) bytes."""
    parts: list[bytes] = []
    encode_into(parts, reply, proto)
    return b"".join(parts)


def encode_into(parts: list, reply: object, proto: int) -> None:
    """Append the RESP bytes of `reply` to `parts` (join a batch of replies into one write)."""
    t = type(reply)
    if t is bytes:
        n = len(reply)
        if n < _SMALL:
            parts.append(_BULK_HEADERS[n] + reply + CRLF)
        else:
            parts += (b"$%d\r\n" % n, reply, CRLF)
    elif t is Status:
        parts.append(_OK if reply is OK else b"+" + reply + CRLF)
    elif t is int:
        parts.append(_INTEGERS[reply] if 0 <= reply < _SMALL else b":%d\r\n" % reply)
    elif reply is None:
        parts.append(_NULL[proto])
    elif t is list or t is tuple:
        _encode_array(parts, b"*", reply, proto)
    else:
        _encode_other(parts, t, reply, proto)


def _encode_array(parts: list, prefix: bytes, items: list, proto: int) -> None:
    append = parts.append
    append(prefix + b"%d\r\n" % len(items))
    headers = _BULK_HEADERS
    for item in items:
        if type(item) is bytes and len(item) < _SMALL:
            append(headers[len(item)] + item + CRLF)
        else:
            encode_into(parts, item, proto)


def _encode_other(parts: list, t: type, reply: object, proto: int) -> None:
    if t is Encoded:
        parts += reply  # type: ignore[arg-type]
    elif t is Error:
        parts.append(b"-" + reply.replace(b"\r", b" ").replace(b"\n", b" ") + CRLF)
    elif t is Double or t is float:
        text = format_double(reply)
        parts.append(b"," + text + CRLF if proto == 3 else _bulk(text))
    elif t is Map:
        if proto == 3:
            parts.append(b"%%%d\r\n" % len(reply))
        else:
            parts.append(b"*%d\r\n" % (2 * len(reply)))
        for key, value in reply:
            encode_into(parts, key, proto)
            encode_into(parts, value, proto)
    elif t is Set:
        _encode_array(parts, _SET_PREFIX[proto], reply, proto)
    elif t is Push:
        _encode_array(parts, _PUSH_PREFIX[proto], reply, proto)
    elif t is Verbatim:
        if proto == 3:
            parts.append(b"=%d\r\ntxt:%b\r\n" % (len(reply) + 4, reply))
        else:
            parts.append(_bulk(bytes(reply)))
    elif t is Bool:
        if proto == 3:
            parts.append(b"#t\r\n" if reply.value else b"#f\r\n")
        else:
            parts.append(b":1\r\n" if reply.value else b":0\r\n")
    elif reply is NULL_ARRAY:
        parts.append(_NULL_ARRAY[proto])
    elif isinstance(reply, int):  # bool and int subclasses
        parts.append(b":%d\r\n" % reply)
    elif isinstance(reply, (bytearray, memoryview)):
        parts.append(_bulk(bytes(reply)))
    else:
        raise TypeError(f"cannot encode {t.__name__} as a RESP reply")
