"""client-query-buffer-limit: a client whose unparsed input outgrows it is closed, as Redis does."""

from __future__ import annotations

import socket

import pytest

from servers import flowcache_for_tests
from support import redis_server_for_tests

LIMIT = "1mb"


@pytest.fixture(scope="module", params=["flowcache", "redis"])
def port(request):
    if request.param == "flowcache":
        with flowcache_for_tests(f'client-query-buffer-limit = "{LIMIT}"\n') as p:
            yield p
    else:
        with redis_server_for_tests("--client-query-buffer-limit", LIMIT) as p:
            yield p


def _closed_after(port: int, payload: bytes) -> bytes:
    """Send `payload`, then read until the server closes; what it sent back first."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        return received


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"PING\r\n")
        return s.recv(100)


def test_a_partial_bulk_over_the_limit_closes_the_client_without_a_reply(port):
    # one 4 MB bulk announced (under proto-max-bulk-len), 2 MB of it sent: over the 1 MB buffer limit
    received = _closed_after(port, b"*2\r\n$4\r\nECHO\r\n$4000000\r\n" + b"x" * 2_000_000)
    assert received == b""
    assert _ping(port) == b"+PONG\r\n"


def test_commands_under_the_limit_are_served(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        value = b"y" * 500_000
        s.sendall(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(value), value))
        expected = b"$%d\r\n%s\r\n" % (len(value), value)
        got = b""
        while len(got) < len(expected):
            got += s.recv(1 << 20)
        assert got == expected
