"""The network interface the cache is written against, once, for both loops.

Every operation that waits returns a `flow.Future`. `write` never blocks:
it buffers, and `drain()` is the back-pressure signal. Failures are flow
errors with clear names, never raw OSErrors.
"""

from __future__ import annotations

from flow import Future
from flow.errors import FlowError


class NetworkError(FlowError):
    """Base of every network failure."""

    code = 1026  # connection_failed


class ConnectionRefused(NetworkError):
    """Nothing listens at that address (or the host is down)."""


class ConnectionReset(NetworkError):
    """The peer reset the connection, or it was killed."""


class ConnectionTimedOut(NetworkError):
    """A connect or a stalled connection gave up."""


class ConnectionClosed(NetworkError):
    """Used after close(): the connection no longer exists on this side."""


class AddressInUse(NetworkError):
    """listen() on an address something else already listens on."""


HIGH_WATER = 1 << 20  # drain() waits while more than this is queued for the peer


class Connection:
    """An ordered, reliable byte stream."""

    __slots__ = ()

    peer: tuple[str, int]
    local: tuple[str, int]

    def read(self, max_bytes: int = 65536) -> Future:
        """Bytes as soon as any are available (at most max_bytes); b"" at end of stream."""
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        """Queue bytes for the peer; never blocks, never fails (errors surface on read/drain)."""
        raise NotImplementedError

    def drain(self) -> Future:
        """Ready when the queued output is below the high-water mark."""
        raise NotImplementedError

    def pending_output(self) -> int:
        """Bytes written but not yet handed to the network."""
        raise NotImplementedError

    def shutdown_write(self) -> None:
        """Half-close: the peer reads end of stream after everything written so far."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush what was written, then close."""
        raise NotImplementedError

    def abort(self) -> None:
        """Reset at once, dropping unsent output."""
        raise NotImplementedError


class Listener:
    __slots__ = ()

    address: tuple[str, int]

    def accept(self) -> Future:
        """The next incoming Connection."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Network:
    __slots__ = ()

    def listen(self, host: str, port: int) -> Listener:
        raise NotImplementedError

    def connect(self, host: str, port: int) -> Future:
        """A Future[Connection]; fails with ConnectionRefused / ConnectionTimedOut."""
        raise NotImplementedError
