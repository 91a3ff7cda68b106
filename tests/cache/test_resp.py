"""Tests for cache.resp: the request parser and the reply encoder.

The real redis-server is the oracle for error strings, inline splitting and
double formatting; the property tests check that chunking never changes what
the parser produces and that the encoder's output decodes back to the reply.
"""

from __future__ import annotations

import math
import random
import select
import socket
import struct
import subprocess
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cache import errors, resp
from cache.errors import ProtocolError
from cache.reply import NULL_ARRAY, Bool, Double, Error, Map, Push, Set, Status, Verbatim
from cache.resp import RespParser, encode, encode_into, format_double, split_inline, string2ll

# --- helpers -----------------------------------------------------------------


def parse_chunks(chunks, parser=None):
    """Feed chunks like a server does (draining after each); (commands, error or None).

    Parsed twice, pulling `next_batch` (the server's way) and `next_command`:
    both must give the same commands and the same error.
    """
    chunks = list(chunks)
    by_batch = _parse_chunks(chunks, parser, lambda p: p.next_batch())
    by_command = _parse_chunks(chunks, None if parser is None else _like(parser),
                               lambda p: [c] if (c := p.next_command()) is not None else [])
    assert by_batch == by_command
    return by_batch


def _like(parser):
    return RespParser(max_bulk_len=parser.max_bulk_len, authenticated=parser.authenticated)


def _parse_chunks(chunks, parser, take):
    parser = parser or RespParser()
    commands = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while batch := take(parser):
                commands += batch
                if parser.drained:  # the server stops asking here: nothing may be left
                    assert parser.buffered_bytes() == 0 and parser.next_batch() == []
    except ProtocolError as exc:
        return commands, exc.message
    return commands, None


def split_at(data: bytes, cuts) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def multibulk(args) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


class Incomplete(Exception):
    pass


def decode(buf: bytes, pos: int = 0):
    """A tiny RESP2/RESP3 reply decoder: (typed value, next position)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, line, pos = buf[pos:pos + 1], buf[pos + 1:end], end + 2
    if kind == b"+":
        return Status(line), pos
    if kind == b"-":
        return Error(line), pos
    if kind == b":":
        return int(line), pos
    if kind == b"_":
        return None, pos
    if kind == b",":
        return ("double", line), pos
    if kind == b"#":
        return Bool(line == b"t"), pos
    if kind in (b"$", b"="):
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        data = buf[pos:pos + n]
        assert buf[pos + n:pos + n + 2] == b"\r\n"
        if kind == b"=":
            assert data[:4] == b"txt:"
            return Verbatim(data[4:]), pos + n + 2
        return data, pos + n + 2
    n = int(line)
    if kind == b"*" and n < 0:
        return NULL_ARRAY, pos
    items = []
    for _ in range(n * 2 if kind == b"%" else n):
        item, pos = decode(buf, pos)
        items.append(item)
    if kind == b"%":
        return Map(list(zip(items[::2], items[1::2]))), pos
    return {b"*": list, b"~": Set, b">": Push}[kind](items), pos


def decode_all(buf: bytes) -> list:
    replies, pos = [], 0
    while pos < len(buf):
        reply, pos = decode(buf, pos)
        replies.append(reply)
    return replies


def tagged(value):
    """A comparable form that keeps the reply types apart (Status(b'x') != b'x')."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [tagged(v) for v in value])
    if isinstance(value, Bool):
        return ("Bool", value.value)
    return (type(value).__name__, value)


# --- parser: valid streams ---------------------------------------------------

binary_arg = st.one_of(
    st.binary(max_size=30),
    st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"\0", b"$3", b"*1", b"x", b'"', b" "]),
             max_size=6).map(b"".join),
)
multibulk_command = st.lists(binary_arg, min_size=1, max_size=6).map(lambda a: (multibulk(a), a))

_PLAIN = bytes(c for c in range(33, 127) if c not in b"\"'").decode("latin-1")
plain_token = st.text(alphabet=_PLAIN, min_size=1, max_size=12).map(lambda s: (s.encode("latin-1"),) * 2)


def _double_quote(arg: bytes) -> bytes:
    out = bytearray(b'"')
    for byte in arg:
        if byte in b'"\\' or byte < 32 or byte > 126:
            out += b"\\x%02x" % byte if byte not in b"\n\t" else (b"\\n" if byte == 10 else b"\\t")
        else:
            out.append(byte)
    return bytes(out + b'"')


quoted_token = st.one_of(
    st.binary(max_size=12).map(lambda a: (_double_quote(a), a)),
    st.binary(max_size=12).map(lambda a: a.translate(None, b"\\\0\r\n"))
    .map(lambda a: (b"'" + a.replace(b"'", b"\\'") + b"'", a)),
)


@st.composite
def inline_command(draw):
    tokens = draw(st.lists(st.one_of(plain_token, quoted_token), min_size=1, max_size=5))
    sep = draw(st.sampled_from([b" ", b"  ", b"\t", b" \v "]))
    line = sep.join(t[0] for t in tokens)
    if line.startswith(b"*"):
        line = b" " + line
    return line + draw(st.sampled_from([b"\r\n", b"\n"])), [t[1] for t in tokens]


filler = st.sampled_from([b"\r\n", b"\n", b"  \r\n", b"*0\r\n", b"*-1\r\n"]).map(lambda f: (f, None))
stream = st.lists(st.one_of(multibulk_command, inline_command(), filler), max_size=12)


@given(stream, st.lists(st.integers(min_value=0), max_size=30))
def test_any_split_of_a_valid_stream_parses_like_the_whole(frames, cuts):
    data = b"".join(f[0] for f in frames)
    expected = [f[1] for f in frames if f[1] is not None]
    assert parse_chunks([data]) == (expected, None)
    assert parse_chunks(split_at(data, cuts)) == (expected, None)


@given(st.lists(multibulk_command, min_size=1, max_size=20))
def test_a_pipelined_read_of_whole_commands_comes_back_as_one_batch(frames):
    parser = RespParser()
    parser.feed(b"".join(f[0] for f in frames))
    expected = [f[1] for f in frames if f[1] is not None]
    batches = []
    while batch := parser.next_batch():
        batches.append(batch)
    assert [args for batch in batches for args in batch] == expected
    if all(b"\r\n" not in a and len(a) < 4096 for args in expected for a in args):
        assert len(batches) == 1  # canonical and CRLF-free: taken at once


def _learn_shape_of(read: bytes) -> None:
    """Feed `read` alone until the parser has learned its shape (checked, not assumed)."""
    for _ in range(resp._SHAPE_SAMPLE * (resp._SHAPE_LEARN_AFTER + 1) + resp._SHAPE_COMPILE_GAP):
        if len(read) in resp._shape_match and resp._shape_match[len(read)][0](read):
            return
        parser = RespParser()
        parser.feed(read)
        parser.next_batch()
    assert len(read) in resp._shape_match


@st.composite
def uniform_read(draw):
    """Whole commands with the same number of arguments, no bulk holding CRLF: a read
    the parser learns the shape of."""
    width = draw(st.integers(1, 8))
    commands = draw(st.lists(st.lists(binary_arg.map(lambda a: a.replace(b"\r", b"r")),
                                      min_size=width, max_size=width), min_size=1, max_size=4))
    return commands


@settings(max_examples=80, deadline=None)
@given(uniform_read(), st.data())
def test_a_learned_shape_parses_every_read_of_its_length_as_the_state_machine_does(commands, data):
    read = b"".join(map(multibulk, commands))
    _learn_shape_of(read)
    assert parse_chunks([read]) == (commands, None)
    # Reads of the same length the shape does not describe: a byte moved from one
    # argument to another, or bytes overwritten anywhere (headers, CRLFs, counts).
    args = [arg for command in commands for arg in command]
    variants = []
    if len(args) > 1:
        i, j = data.draw(st.integers(0, len(args) - 1)), data.draw(st.integers(0, len(args) - 1))
        if i != j and args[i]:
            moved = list(args)
            moved[j] += moved[i][-1:]
            moved[i] = moved[i][:-1]
            width = len(commands[0])
            variants.append(b"".join(multibulk(moved[k:k + width]) for k in range(0, len(moved), width)))
    for _ in range(3):
        at = data.draw(st.integers(0, len(read) - 1))
        byte = data.draw(st.sampled_from(b"\r\n$*0123456789x"))
        variants.append(read[:at] + bytes([byte]) + read[at + 1:])
    for variant in variants:
        if len(variant) == len(read):
            assert parse_chunks([variant]) == parse_chunks([variant[k:k + 1] for k in range(len(variant))])


def test_a_learned_shape_checks_lengths_not_just_separators():
    _learn_shape_of(multibulk([b"abcdefgh", b"z"]))
    # The same length, with a first bulk that holds what looks like a second one.
    tricky = b"*2\r\n$8\r\na\r\n$1\r\nb\r\n$1\r\nz\r\n"
    assert parse_chunks([tricky]) == ([[b"a\r\n$1\r\nb", b"z"]], None)
    # A pipeline: the second command's bulk holds what looks like a third command.
    read = multibulk([b"GET", b"abcdefghijklmnopqrstuv"]) * 3
    _learn_shape_of(read)
    inner = b"x\r\n*2\r\n$3\r\nGET\r\n$22\r\ny"  # 22 bytes, like the key it replaces
    tricky = multibulk([b"GET", inner]) * 3
    assert len(tricky) == len(read)
    assert parse_chunks([tricky]) == ([[b"GET", inner]] * 3, None)


def test_a_learned_pipeline_comes_back_as_one_batch():
    read = multibulk([b"INCR", b"counter:__rand_int__"]) * 16
    _learn_shape_of(read)
    parser = RespParser()
    parser.feed(read)
    assert parser.next_batch() == [[b"INCR", b"counter:__rand_int__"]] * 16 and parser.drained


def test_a_read_with_an_empty_command_learns_no_shape():
    read = b"*0\r\n" + multibulk([b"SET", b"key", b"value"])
    for _ in range(resp._SHAPE_SAMPLE * (resp._SHAPE_LEARN_AFTER + 1) + resp._SHAPE_COMPILE_GAP):
        assert parse_chunks([read]) == ([[b"SET", b"key", b"value"]], None)
    assert len(read) not in resp._shape_match  # its pattern could never match it


def test_shapes_are_compiled_at_most_once_per_gap_of_split_reads():
    resp._shape_match.clear()
    _learn_shape_of(multibulk([b"GET", b"first-shape"]))
    compiled_at = resp._compiled_at
    read = multibulk([b"GET", b"a-second-shape"])
    while len(read) not in resp._shape_match:
        resp._whole_commands(read)
    assert resp._compiled_at - compiled_at >= resp._SHAPE_COMPILE_GAP
    assert resp._shape_match[len(read)][0](read)


def test_learned_shapes_stay_bounded():
    for n in range(resp._SHAPES_MAX + 10):
        _learn_shape_of(multibulk([b"SET", b"k" * (n + 1), b"v"]))
        assert len(resp._shape_match) <= resp._SHAPES_MAX
        assert len(resp._shape_seen) <= resp._SHAPES_MAX


@pytest.mark.parametrize("data", [
    b"*1\r\n$03\r\nabc\r\n",  # a header with a leading zero
    b"*2\r\n$3\r\nab\r\n$1\r\ncd\r\n",  # bulk lengths off by one each way
    b"*1\r\n$3\r\nabc\r\n*01\r\n$1\r\na\r\n",
    b"*1\r\n$4\r\na\r\nb\r\n*1\r\n$1\r\nc\r\n",  # a bulk holding CRLF
    b"*1\r\n$3\r\nabc\r\n\r\n",  # an empty inline line after it
    b"*0\r\n*1\r\n$1\r\na\r\n",
])
def test_reads_the_batch_path_refuses_parse_as_the_state_machine_does(data):
    # parse_chunks compares next_batch with next_command, whole and byte by byte
    assert parse_chunks([data]) == parse_chunks([data[i:i + 1] for i in range(len(data))])


def test_one_byte_at_a_time():
    data = multibulk([b"SET", b"k\r\n", b""]) + b'SET a "b c"\r\n' + multibulk([b"x" * 5000])
    assert parse_chunks([data[i:i + 1] for i in range(len(data))]) == (
        [[b"SET", b"k\r\n", b""], [b"SET", b"a", b"b c"], [b"x" * 5000]], None)


def test_big_bulk_fed_one_byte_at_a_time_completes():
    """Would take hours if each byte re-copied the buffer."""
    payload = bytes(range(256)) * 1200
    data = multibulk([b"SET", b"k", payload])
    parser = RespParser()
    got = []
    for i in range(len(data)):
        parser.feed(data[i:i + 1])
        command = parser.next_command()
        if command is not None:
            got.append(command)
    assert got == [[b"SET", b"k", payload]]
    assert parser.pending_bytes == 0


def test_long_buffer_of_newline_only_inline_commands_is_parsed_in_linear_time():
    """A CR search running to the end of the buffer for each command would take minutes here."""
    data = b"ECHO a\n" * 300000 + multibulk([b"PING"])
    commands, error = parse_chunks([data])
    assert error is None
    assert len(commands) == 300001 and commands[-2:] == [[b"ECHO", b"a"], [b"PING"]]


# --- parser: arbitrary bytes -------------------------------------------------

noise = st.lists(st.one_of(
    st.binary(max_size=8),
    st.sampled_from([b"*", b"$", b"\r\n", b"\r", b"\n", b"\0", b"-1", b"0", b"1", b"3", b"12",
                     b"*1\r\n", b"$3\r\n", b"*2\r\n$1\r\nab\r\n", b'"', b"'", b"\\x4", b" ", b"PING\r\n"]),
), max_size=40).map(b"".join)


@given(noise, st.lists(st.integers(min_value=0), max_size=20))
@settings(max_examples=300)
def test_random_bytes_raise_only_protocol_errors_the_same_for_any_split(data, cuts):
    whole = parse_chunks([data])
    assert parse_chunks(split_at(data, cuts)) == whole


def test_failed_parser_stays_failed():
    parser = RespParser()
    parser.feed(b"*1\r\n$4\r\nPING\r\n*x\r\n*1\r\n$4\r\nPING\r\n")
    assert parser.next_command() == [b"PING"]
    for _ in range(2):
        with pytest.raises(ProtocolError) as info:
            parser.next_command()
        assert info.value.message == errors.PROTO_INVALID_MULTIBULK_LEN
    parser.feed(b"PING\r\n")
    with pytest.raises(ProtocolError):
        parser.next_command()


# Raw input -> (commands the parser yields, protocol error or None). Each case
# is also sent to the real redis-server by the differential test below.
CASES = [
    (b"*1\r\n$4\r\nPING\r\n", [[b"PING"]], None),
    (b"PING\r\n", [[b"PING"]], None),
    (b"PING\n", [[b"PING"]], None),
    (b"PING\r\r\n", [[b"PING"]], None),
    (b"\r\nPING\r\n", [[b"PING"]], None),
    (b"\r\n", [], None),
    (b"*0\r\n*-1\r\n*-9223372036854775808\r\nPING\r\n", [[b"PING"]], None),
    (b"*1\r\n$4\r\nPINGXY*1\r\n$4\r\nPING\r\n", [[b"PING"], [b"PING"]], None),
    (b"*2\r\n$4\r\nECHO\r\n$3\r\nfoogarbage\r\n", [[b"ECHO", b"foo"], [b"rbage"]], None),
    (b"*1\rX$4\rXPING\r\n", [[b"PING"]], None),
    (b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [[b"ECHO", b"a\r\nb"]], None),
    (b'ECHO "a b"\r\n', [[b"ECHO", b"a b"]], None),
    (b'ECHO "\\x41\\x4g\\n\\q\\"x"\r\n', [[b"ECHO", b'Ax4g\nq"x']], None),
    (b"ECHO 'it\\'s \\n'\r\n", [[b"ECHO", b"it's \\n"]], None),
    (b'ECHO a"b c"\r\n', [[b"ECHO", b"ab c"]], None),
    (b'ECHO ""\r\n', [[b"ECHO", b""]], None),
    (b"\vECHO a\vb\r\n", [[b"ECHO", b"a\vb"]], None),
    (b'ECHO "x"\v\r\n', [[b"ECHO", b"x"]], None),
    (b"*1\r\n", [], None),
    (b"*1\r\n$4\r\nPI", [], None),
    (b"*1\r", [], None),
    (b"*1\r\n$4\r", [], None),
    (b"*2147483647\r\n", [], None),
    (b"*1\r\n$100000\r\n", [], None),
    (b"PING\0\r\n", [], None),
    (b"*1\0\r\n", [], None),
    (b"*1\r\n$1\0\r\nA\r\n", [], None),
    (b"A" * 65536, [], None),
    (b"*" + b"1" * 65535, [], None),
    (b"*1\r\n$" + b"1" * 65535, [], None),
    (b"*\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*x\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"* 1\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*+1\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*01\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*-0\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*2147483648\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*99999999999999999999\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*-9223372036854775809\r\n", [], errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*1\r\n$-1\r\n", [], errors.PROTO_INVALID_BULK_LEN),
    (b"*1\r\n$\r\n", [], errors.PROTO_INVALID_BULK_LEN),
    (b"*1\r\n$-0\r\n", [], errors.PROTO_INVALID_BULK_LEN),
    (b"*1\r\n$01\r\n", [], errors.PROTO_INVALID_BULK_LEN),
    (b"*1\r\n$\xff\r\n", [], errors.PROTO_INVALID_BULK_LEN),
    (b"*1\r\n$536870913\r\n", [], errors.PROTO_INVALID_BULK_LEN),
    (b"*3\r\nPING\r\n", [], errors.proto_expected_dollar(ord("P"))),
    (b"*1\r\n\r\n", [], errors.proto_expected_dollar(13)),
    (b"*1\r\n\n\r\n", [], errors.proto_expected_dollar(10)),
    (b"*1\r\n\xff\r\n", [], errors.proto_expected_dollar(0xFF)),
    (b"*1\r\n$4\r\nPING\r\n*1\r\n%4\r\n", [[b"PING"]], errors.proto_expected_dollar(ord("%"))),
    (b"A" * 65537, [], errors.PROTO_TOO_BIG_INLINE),
    (b"A" * 65536 + b"\r", [], errors.PROTO_TOO_BIG_INLINE),
    (b"PING\0" + b"\r\n" * 40000, [], errors.PROTO_TOO_BIG_INLINE),
    (b"*" + b"1" * 65536, [], errors.PROTO_TOO_BIG_MBULK_COUNT),
    (b"*1\0" + b"\r\n" * 40000, [], errors.PROTO_TOO_BIG_MBULK_COUNT),
    (b"*1\r\n$" + b"1" * 65536, [], errors.PROTO_TOO_BIG_BULK_COUNT),
    (b"*1\r\n$1\0" + b"A" * 65536, [], errors.PROTO_TOO_BIG_BULK_COUNT),
    (b'ECHO "a"b\r\n', [], errors.PROTO_UNBALANCED_QUOTES),
    (b"ECHO 'a'b\r\n", [], errors.PROTO_UNBALANCED_QUOTES),
    (b'PING\r\nECHO "a\r\n', [[b"PING"]], errors.PROTO_UNBALANCED_QUOTES),
    (b"ECHO 'a\r\n", [], errors.PROTO_UNBALANCED_QUOTES),
    (b'ECHO "a\\"\r\n', [], errors.PROTO_UNBALANCED_QUOTES),
]


@pytest.mark.parametrize("data, commands, error", CASES, ids=[repr(c[0][:40]) for c in CASES])
def test_exact_parse_results_and_protocol_errors(data, commands, error):
    assert parse_chunks([data]) == (commands, error)


def test_expected_dollar_message_shows_the_byte():
    assert errors.proto_expected_dollar(ord("X")) == b"ERR Protocol error: expected '$', got 'X'"


def test_huge_bulk_header_allocates_nothing_until_the_bytes_arrive():
    parser = RespParser()
    tracemalloc.start()
    try:
        parser.feed(b"*1\r\n$536870912\r\n")
        assert parser.next_command() is None
        parser.feed(b"x" * 1000)
        assert parser.next_command() is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert parser.pending_bytes == 1000


def test_pending_bytes_counts_unconsumed_input():
    parser = RespParser()
    parser.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n$3\r\nG")
    assert parser.pending_bytes == 23
    assert parser.next_command() == [b"PING"]
    assert parser.pending_bytes == 9
    assert parser.next_command() is None
    assert parser.pending_bytes == 1  # like Redis's query buffer: parsed headers are gone
    parser.feed(b"ET\r\n")
    assert parser.pending_bytes == 5
    assert parser.next_command() == [b"GET"]
    assert parser.pending_bytes == 0


def test_max_bulk_len_is_configurable():
    parser = RespParser(max_bulk_len=10)
    parser.feed(multibulk([b"x" * 10]) + multibulk([b"x" * 11]))
    assert parser.next_command() == [b"x" * 10]
    with pytest.raises(ProtocolError) as info:
        parser.next_command()
    assert info.value.message == errors.PROTO_INVALID_BULK_LEN


@pytest.mark.parametrize("data, error", [
    (b"*10\r\n", None),
    (b"*11\r\n", errors.PROTO_UNAUTH_MULTIBULK_LEN),
    (b"*2147483648\r\n", errors.PROTO_INVALID_MULTIBULK_LEN),
    (b"*-20\r\nPING\r\n", None),
    (b"*1\r\n$16384\r\n", None),
    (b"*1\r\n$16385\r\n", errors.PROTO_UNAUTH_BULK_LEN),
    (b"*1\r\n$536870913\r\n", errors.PROTO_INVALID_BULK_LEN),
    (multibulk([b"x"] * 10), None),
    (multibulk([b"x"] * 11), errors.PROTO_UNAUTH_MULTIBULK_LEN),
])
def test_unauthenticated_limits(data, error):
    assert parse_chunks([data], RespParser(authenticated=False))[1] == error
    unauth_only = error in (errors.PROTO_UNAUTH_MULTIBULK_LEN, errors.PROTO_UNAUTH_BULK_LEN)
    assert parse_chunks([data], RespParser())[1] == (None if unauth_only else error)


def test_authenticating_lifts_the_limits_for_the_next_command():
    parser = RespParser(authenticated=False)
    parser.feed(multibulk([b"AUTH", b"pw"]) + multibulk([b"x"] * 12))
    assert parser.next_command() == [b"AUTH", b"pw"]
    parser.authenticated = True
    assert parser.next_command() == [b"x"] * 12


def test_string2ll_is_strict():
    assert [string2ll(s) for s in (b"0", b"-1", b"12", b"9223372036854775807", b"-9223372036854775808")] == [
        0, -1, 12, 2**63 - 1, -(2**63)]
    for bad in (b"", b"-", b"-0", b"00", b"01", b"+1", b" 1", b"1 ", b"1x", b"9223372036854775808",
                b"-9223372036854775809", b"1" * 21, b"\xd9\xa1"):
        assert string2ll(bad) is None, bad


@pytest.mark.parametrize("line, args", [
    (b"", []),
    (b"  \t ", []),
    (b"a  b\tc", [b"a", b"b", b"c"]),
    (b'"a\\x4"', [b"ax4"]),
    (b'"\\a\\b\\t\\r\\n\\\\"', [b"\a\b\t\r\n\\"]),
    (b"'a\\\\b'", [b"a\\\\b"]),
    (b"'a\"b' \"a'b\"", [b'a"b', b"a'b"]),
    (b"a'b c'd", None),
    (b'"abc', None),
    (b'"abc\\', None),
    (b"\f\va\f b", [b"a\f", b"b"]),
])
def test_split_inline(line, args):
    assert split_inline(line) == args


# --- encoder -----------------------------------------------------------------

ENCODINGS = [
    (b"hello", b"$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (42, b":42\r\n", b":42\r\n"),
    (-7, b":-7\r\n", b":-7\r\n"),
    (True, b":1\r\n", b":1\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    (Status(b"OK"), b"+OK\r\n", b"+OK\r\n"),
    (Error(b"ERR bad\r\nthing\n"), b"-ERR bad  thing \r\n", b"-ERR bad  thing \r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ([b"a", None, 1], b"*3\r\n$1\r\na\r\n$-1\r\n:1\r\n", b"*3\r\n$1\r\na\r\n_\r\n:1\r\n"),
    ((b"a",), b"*1\r\n$1\r\na\r\n", b"*1\r\n$1\r\na\r\n"),
    (Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (Double(float("inf")), b"$3\r\ninf\r\n", b",inf\r\n"),
    (Map([(b"k", 1), (b"j", Double(0.1))]), b"*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n$19\r\n0.10000000000000001\r\n",
     b"%2\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n,0.10000000000000001\r\n"),
    (Set([b"a"]), b"*1\r\n$1\r\na\r\n", b"~1\r\n$1\r\na\r\n"),
    (Push([b"message", b"ch", b"hi"]), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
     b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
    (Verbatim(b"a\r\nb"), b"$4\r\na\r\nb\r\n", b"=8\r\ntxt:a\r\nb\r\n"),
    (Bool(True), b":1\r\n", b"#t\r\n"),
    (Bool(False), b":0\r\n", b"#f\r\n"),
    (b"x" * 5000, b"$5000\r\n" + b"x" * 5000 + b"\r\n", b"$5000\r\n" + b"x" * 5000 + b"\r\n"),
]


@pytest.mark.parametrize("reply, resp2, resp3", ENCODINGS, ids=[repr(e[0])[:30] for e in ENCODINGS])
def test_encoding_per_protocol(reply, resp2, resp3):
    assert encode(reply, 2) == resp2
    assert encode(reply, 3) == resp3
    parts = [b"pre"]
    encode_into(parts, reply, 3)
    assert b"".join(parts) == b"pre" + resp3


def test_unknown_reply_type_is_refused():
    with pytest.raises(TypeError):
        encode("text", 2)


# Measured on redis-server 7.0.15 with ZADD/ZSCORE (skiplist encoding for -0.0).
@pytest.mark.parametrize("value, text", [
    (0.1, b"0.10000000000000001"), (float("inf"), b"inf"), (float("-inf"), b"-inf"),
    (1e300, b"1.0000000000000001e+300"), (1.5, b"1.5"), (3.0, b"3"), (-0.0, b"-0"),
    (1e-5, b"1.0000000000000001e-05"), (1e17, b"1e+17"), (1e16, b"10000000000000000"),
    (5e-324, b"4.9406564584124654e-324"), (2.5e-7, b"2.4999999999999999e-07"),
])
def test_format_double_matches_redis_7_0(value, text):
    assert format_double(value) == text


def test_format_double_nan_carries_its_sign_like_glibc():
    assert format_double(float("nan")) == b"nan"
    assert format_double(-float("nan")) == b"-nan"


scalar_reply = st.one_of(
    st.binary(max_size=2000), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.none(),
    st.just(NULL_ARRAY), st.binary(max_size=20).map(lambda b: Status(b.translate(None, b"\r\n"))),
    st.binary(max_size=20).map(Error), st.floats(allow_nan=False).map(Double),
    st.binary(max_size=20).map(Verbatim), st.booleans().map(Bool),
)
reply_value = st.recursive(scalar_reply, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.lists(inner, max_size=5).map(Set),
    st.lists(inner, max_size=5).map(Push), st.lists(st.tuples(inner, inner), max_size=4).map(Map),
), max_leaves=20)


def expected_decoding(reply, proto):
    """What a client reading `proto` must see for `reply`."""
    if isinstance(reply, Error):
        return Error(reply.replace(b"\r", b" ").replace(b"\n", b" "))
    if isinstance(reply, Double):
        return ("double", format_double(reply)) if proto == 3 else format_double(reply)
    if isinstance(reply, Verbatim) and proto == 2:
        return bytes(reply)
    if isinstance(reply, Bool) and proto == 2:
        return int(reply.value)
    if isinstance(reply, Map):
        pairs = [(expected_decoding(k, proto), expected_decoding(v, proto)) for k, v in reply]
        return Map(pairs) if proto == 3 else [x for pair in pairs for x in pair]
    if isinstance(reply, (Set, Push)) and proto == 2:
        return [expected_decoding(v, 2) for v in reply]
    if isinstance(reply, list):
        return type(reply)(expected_decoding(v, proto) for v in reply)
    if reply is NULL_ARRAY and proto == 3:
        return None
    return reply


@given(st.lists(reply_value, min_size=1, max_size=4), st.sampled_from([2, 3]))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_encoder_output_decodes_back_to_the_reply(replies, proto):
    parts = []
    for reply in replies:
        encode_into(parts, reply, proto)
    wire = b"".join(parts)
    assert wire == b"".join(encode(r, proto) for r in replies)
    assert tagged(decode_all(wire)) == tagged([expected_decoding(r, proto) for r in replies])


@given(st.floats(allow_nan=False))
def test_double_text_parses_back_to_the_same_float(x):
    assert float(format_double(x)) == x
    assert math.copysign(1, float(format_double(x))) == math.copysign(1, x)


# --- the real redis-server as oracle -----------------------------------------


def connect(port: int, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1.0)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def redis_exchange(port: int, payloads: list[bytes], expected_counts: list[int], quiet: float = 0.2,
                   connect_timeout: float = 0.0):
    """Send each payload on its own connection; per payload (replies, closed).

    A connection is done when the server closes it, or once it has sent
    `expected_counts[i]` replies and then stays quiet for `quiet` seconds.
    """
    socks = [connect(port, connect_timeout) for _ in payloads]
    bufs = [b""] * len(socks)
    closed = [False] * len(socks)
    try:
        for sock, payload in zip(socks, payloads):
            sock.sendall(payload)
        waiting = set(range(len(socks)))
        while waiting:
            def reply_count(i):
                try:
                    return len(decode_all(bufs[i]))
                except Incomplete:
                    return -1
            satisfied = all(reply_count(i) >= expected_counts[i] for i in waiting)
            ready, _, _ = select.select([socks[i] for i in waiting], [], [], quiet if satisfied else 10.0)
            if not ready:
                assert satisfied, "redis-server sent fewer replies than expected within 10s"
                break
            for sock in ready:
                i = socks.index(sock)
                try:
                    data = sock.recv(1 << 20)
                except ConnectionResetError:
                    data = b""
                if data:
                    bufs[i] += data
                else:
                    closed[i] = True
                    waiting.discard(i)
    finally:
        for sock in socks:
            sock.close()
    return [(decode_all(buf), was_closed) for buf, was_closed in zip(bufs, closed)]


@pytest.mark.redis
def test_parser_agrees_with_redis_server(redis_server):
    """Each raw input: same commands answered, same protocol error, same close."""
    outcomes = [parse_chunks([data]) for data, _, _ in CASES]
    observed = redis_exchange(redis_server, [c[0] for c in CASES],
                              [len(cmds) + (err is not None) for cmds, err in outcomes])
    for (data, _, _), (commands, error), (replies, closed) in zip(CASES, outcomes, observed):
        label = repr(data[:60])
        assert closed == (error is not None), label
        if error is not None:
            assert replies[-1] == Error(error), label
            replies = replies[:-1]
        assert len(replies) == len(commands), label
        for command, reply in zip(commands, replies):
            if command[0] == b"ECHO" and len(command) == 2:
                assert reply == command[1], label
            elif command[0] == b"PING":
                assert reply == Status(b"PONG"), label


inline_noise = st.lists(st.sampled_from(
    [b"a", b"b", b'"', b"'", b"\\", b"x", b"4", b"f", b"n", b" ", b"\t", b"\v", b"\f", b"\xc3"]), max_size=16)


@pytest.mark.redis
@given(st.lists(inline_noise.map(b"".join), min_size=1, max_size=25))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_inline_splitting_agrees_with_redis_server(redis_server, tails):
    """ECHO echoes the one argument sdssplitargs found; others get an arity error."""
    lines = [b"ECHO " + tail + b"\r\n" for tail in tails]
    splits = [split_inline(line[:-2]) for line in lines]
    observed = redis_exchange(redis_server, lines, [1] * len(lines), quiet=0.05)
    for line, args, (replies, closed) in zip(lines, splits, observed):
        if args is None:
            assert closed and replies == [Error(errors.PROTO_UNBALANCED_QUOTES)], line
        elif len(args) == 2:
            assert replies == [args[1]], line
        else:
            assert replies == [Error(b"ERR wrong number of arguments for 'echo' command")], line


@pytest.mark.redis
def test_unauthenticated_limits_agree_with_redis_server(redis_server, tmp_path):
    """A private server with a password, so the shared one keeps its config."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--requirepass", "pw", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        redis_exchange(port, [b"PING\r\n"], [1], connect_timeout=10.0)
        cases = [b"*10\r\n", b"*11\r\n", b"*-20\r\nPING\r\n", b"*1\r\n$16384\r\n", b"*1\r\n$16385\r\n",
                 b"*1\r\n$536870913\r\n", multibulk([b"AUTH", b"pw"]) + b"*12\r\n",
                 multibulk([b"AUTH", b"pw"]) + b"*1\r\n$20000\r\n"]
        outcomes = []
        for data in cases:
            parser = RespParser(authenticated=False)
            parser.feed(data)
            commands, error = [], None
            try:
                while (command := parser.next_command()) is not None:
                    commands.append(command)
                    parser.authenticated = parser.authenticated or command[0] == b"AUTH"
            except ProtocolError as exc:
                error = exc.message
            outcomes.append((commands, error))
        observed = redis_exchange(port, cases, [len(c) + (e is not None) for c, e in outcomes])
        for data, (commands, error), (replies, closed) in zip(cases, outcomes, observed):
            assert closed == (error is not None), data
            assert len(replies) == len(commands) + (error is not None), data
            if error is not None:
                assert replies[-1] == Error(error), data
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.redis
def test_double_formatting_agrees_with_redis_server(redis_server):
    rng = random.Random(7)
    values = [0.1, 1e300, 1.5, 3.0, 1e-5, 1e17, 1e16, 5e-324, 2.5e-7, 123.456, -2.0, float("inf"),
              float("-inf")]
    while len(values) < 150:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if not math.isnan(x):
            values.append(x)
    values += [rng.uniform(-1000, 1000) for _ in range(50)]
    members = [b"m%d" % i for i in range(len(values))]
    # A listpack zset turns -0.0 into 0; past 128 members it is a skiplist, which keeps the sign.
    setup = (multibulk([b"DEL", b"resp:z"])
             + multibulk([b"ZADD", b"resp:z"] + [x for v, m in zip(values, members) for x in (repr(v).encode(), m)])
             + multibulk([b"ZADD", b"resp:z", b"-0.0", b"negzero"]))
    values.append(-0.0)
    members.append(b"negzero")
    queries = b"".join(multibulk([b"ZSCORE", b"resp:z", m]) for m in members)
    hello3 = multibulk([b"HELLO", b"3"])
    cleanup = multibulk([b"DEL", b"resp:z"])
    (resp2_replies, _), = redis_exchange(redis_server, [setup + queries + cleanup], [len(values) + 4])
    (resp3_replies, _), = redis_exchange(redis_server, [hello3 + setup + queries + cleanup], [len(values) + 5])
    assert resp2_replies[1] == len(values) - 1
    for value, reply2, reply3 in zip(values, resp2_replies[3:-1], resp3_replies[4:-1], strict=True):
        assert reply2 == format_double(value), value
        assert reply3 == ("double", format_double(value)), value
        assert encode(Double(value), 2) == encode(reply2, 2)


def test_a_failed_parser_raises_again_from_next_batch():
    parser = RespParser()
    parser.feed(b"*1\r\n$x\r\n")
    with pytest.raises(ProtocolError):
        parser.next_batch()
    for _ in range(2):
        with pytest.raises(ProtocolError):
            parser.next_batch()
