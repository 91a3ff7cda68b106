"""net: one network interface, with real TCP and a simulated network behind it.

`network()` is the current loop's network: a RealNetwork on a RealLoop, a
SimNetwork on a SimLoop. Code written against it (the cache) never asks
which one it got.
"""

from __future__ import annotations

from flow import current_loop
from net.base import (
    HIGH_WATER,
    AddressInUse,
    Connection,
    ConnectionClosed,
    ConnectionRefused,
    ConnectionReset,
    ConnectionTimedOut,
    Listener,
    Network,
    NetworkError,
)
from net.real import RealNetwork
from net.sim import SimHost, SimNetwork


def network() -> Network:
    """The current loop's network, made on first use and kept in loop.services["network"]."""
    loop = current_loop()
    net = loop.services.get("network")
    if net is None:
        net = SimNetwork(loop) if loop.is_simulated else RealNetwork(loop)
    return net


__all__ = [
    "HIGH_WATER", "AddressInUse", "Connection", "ConnectionClosed", "ConnectionRefused", "ConnectionReset",
    "ConnectionTimedOut", "Listener", "Network", "NetworkError", "RealNetwork", "SimHost", "SimNetwork",
    "network",
]
