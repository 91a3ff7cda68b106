"""One server, two worlds: the same client conversation on real TCP and on the simulated network.

The client is written once, as a flow actor, and runs against an unchanged
`CacheServer` on (RealLoop, real loopback TCP) and on (SimLoop, SimNetwork
with latency and fragmented segments). Both worlds must give the same raw
reply bytes, and some replies are also checked against fixed expectations
so that two identical wrong answers cannot pass.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest

import flow
import net
from cache.client import RespClient
from cache.config import Config
from cache.server import CacheServer
from net import SimNetwork


@dataclass(frozen=True)
class Cmd:
    args: tuple
    expect: bytes | None = None  # the exact reply, where the script pins it


@dataclass(frozen=True)
class Pipeline:
    """Commands written back to back before any reply is read."""

    commands: tuple[Cmd, ...]


@dataclass(frozen=True)
class Sleep:
    seconds: float  # loop time: real on RealLoop, virtual on SimLoop


@dataclass(frozen=True)
class Eventually:
    """A command repeated (every 50 ms of loop time, for up to `within` seconds) until it
    answers `expect`: what the cron does in the background needs no fixed real-time
    deadline, which a loaded machine could miss. One reply is logged: the last."""

    command: Cmd
    expect: bytes
    within: float = 10.0


@dataclass(frozen=True)
class Raw:
    payload: bytes
    expect: bytes | None = None


def cmd(*args: str, expect: bytes | None = None) -> Cmd:
    return Cmd(args, expect)


CLOSED = b"<connection closed>"

CONVERSATION = (
    cmd("PING", expect=b"+PONG\r\n"),
    Raw(b"PING\r\n", expect=b"+PONG\r\n"),  # inline, as redis-benchmark sends it
    cmd("SET", "greeting", "hello", expect=b"+OK\r\n"),
    cmd("GET", "greeting", expect=b"$5\r\nhello\r\n"),
    cmd("APPEND", "greeting", ", world", expect=b":12\r\n"),
    cmd("GETRANGE", "greeting", "0", "-8", expect=b"$5\r\nhello\r\n"),
    cmd("SETRANGE", "greeting", "0", "J"),
    cmd("STRLEN", "greeting"),
    cmd("INCR", "counter", expect=b":1\r\n"),
    cmd("INCRBY", "counter", "41", expect=b":42\r\n"),
    cmd("DECR", "counter"),
    cmd("INCRBYFLOAT", "counter", "0.5", expect=b"$4\r\n41.5\r\n"),
    cmd("INCR", "greeting", expect=b"-ERR value is not an integer or out of range\r\n"),
    cmd("SET", "big", "9223372036854775807"),
    cmd("INCR", "big", expect=b"-ERR increment or decrement would overflow\r\n"),
    cmd("MSET", "a", "1", "b", "2", "c", "3"),
    cmd("MGET", "a", "b", "nokey", "c", expect=b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n"),
    cmd("DEL", "a", "nokey"),
    cmd("EXISTS", "a", "b", "c"),
    cmd("GET"),
    cmd("NOSUCHCOMMAND", "x"),
    cmd("SET", "k", "v", "EX", "0"),
    # expiry on loop time: lazily on access, and by the active expiry cycle
    cmd("SET", "temp", "v", "PX", "50"),
    # one read, so no time can pass between them on a loaded machine
    Pipeline((cmd("EXPIRE", "c", "100"), cmd("TTL", "c", expect=b":100\r\n"))),
    cmd("TTL", "greeting", expect=b":-1\r\n"),
    Sleep(0.2),
    cmd("GET", "temp", expect=b"$-1\r\n"),
    Pipeline((cmd("SET", "short", "v", "PX", "20"), cmd("DBSIZE", expect=b":6\r\n"))),  # no cron between
    Sleep(0.5),  # several cron ticks at hz 10: the key is gone without being touched
    Eventually(cmd("DBSIZE"), expect=b":5\r\n"),
    cmd("EXISTS", "short", expect=b":0\r\n"),
    # pipelining, with the protocol switching in the middle of the batch
    Pipeline((cmd("SET", "p", "1"), cmd("INCR", "p"), cmd("HELLO", "3"), cmd("GET", "missing"),
              cmd("CONFIG", "GET", "maxmemory"), cmd("HELLO", "2"), cmd("GET", "missing"),
              cmd("GET", "p"))),
    cmd("HELLO", "3"),
    cmd("GET", "missing", expect=b"_\r\n"),
    cmd("MGET", "p", "missing", expect=b"*2\r\n$1\r\n2\r\n_\r\n"),
    cmd("HELLO", "4", expect=b"-NOPROTO unsupported protocol version\r\n"),
    cmd("SELECT", "1", expect=b"+OK\r\n"),
    cmd("GET", "greeting", expect=b"_\r\n"),
    cmd("SET", "greeting", "in db 1"),
    cmd("SELECT", "0"),
    cmd("GET", "greeting"),
    cmd("SELECT", "16", expect=b"-ERR DB index is out of range\r\n"),
    cmd("RESET", expect=b"+RESET\r\n"),
    cmd("GET", "missing", expect=b"$-1\r\n"),
    Pipeline(tuple(cmd("INCR", "burst") for _ in range(20))),
    # a protocol error is answered, then the server closes the connection
    Raw(b"*1\r\n$foo\r\n", expect=b"-ERR Protocol error: invalid bulk length\r\n"),
)
AFTER_RECONNECT = (
    cmd("PING", expect=b"+PONG\r\n"),
    cmd("CLIENT", "ID", expect=b":2\r\n"),
    cmd("GET", "burst", expect=b"$2\r\n20\r\n"),
    cmd("QUIT", expect=b"+OK\r\n"),
)


@flow.actor
def conversation(network, host: str, port: int):
    """The scripted client: (what was sent, raw reply) for every step, in order."""
    log: list[tuple[object, bytes]] = []
    client = RespClient((yield network.connect(host, port)), raw=True)
    for step in CONVERSATION:
        if isinstance(step, Sleep):
            yield flow.delay(step.seconds)
        elif isinstance(step, Pipeline):
            replies = yield flow.wait_all([client.call(*c.args) for c in step.commands])
            log.extend(zip(step.commands, replies))
        elif isinstance(step, Raw):
            log.append((step, (yield client.send(step.payload))))
        elif isinstance(step, Eventually):
            deadline = flow.now() + step.within
            while True:
                reply = yield client.call(*step.command.args)
                if reply == step.expect or flow.now() >= deadline:
                    break
                yield flow.delay(0.05)
            log.append((step, reply))
        else:
            log.append((step, (yield client.call(*step.args))))
    try:
        yield client.call("PING")
        log.append(("after protocol error", b"still open"))
    except flow.FlowError:
        log.append(("after protocol error", CLOSED))
    client.close()
    client = RespClient((yield network.connect(host, port)), raw=True)
    for step in AFTER_RECONNECT:
        log.append((step, (yield client.call(*step.args))))
    client.close()
    return log


@flow.actor
def serve_and_talk():
    """Start a CacheServer on this loop's network, talk to it, stop it."""
    network = net.network()
    server = CacheServer(Config(), network)
    server.start("127.0.0.1", 0)  # a free port in either world
    host, port = server.address
    try:
        return (yield conversation(network, "127.0.0.1" if host in ("0.0.0.0", "") else host, port))
    finally:
        server.stop()


def run_real() -> list:
    loop = flow.RealLoop()
    try:
        return loop.run(serve_and_talk)
    finally:
        loop.close()


def run_simulated(seed: int = 4) -> list:
    loop = flow.SimLoop(seed=seed)
    network = SimNetwork(loop, latency=(0.0005, 0.005), fragment=True)
    network.fragment_probability = 0.9  # most writes arrive in several pieces
    log = loop.run(serve_and_talk)
    segments = network.stats()["localhost"]["segments_sent"]
    assert segments > 2 * len(log), "the simulated network was meant to cut frames up"
    return log


WORLDS = {"real": run_real, "simulated": run_simulated}


@functools.cache
def transcript(world: str) -> tuple:
    return tuple(WORLDS[world]())


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_one_conversation_gets_identical_replies_on_both_loops(world):
    log = transcript(world)
    steps = [step for step, _ in log]
    replies = [reply for _, reply in log]
    expected_steps = [s for s in CONVERSATION if not isinstance(s, Sleep)]
    expected_steps = [c for s in expected_steps for c in (s.commands if isinstance(s, Pipeline) else [s])]
    assert steps == expected_steps + ["after protocol error"] + list(AFTER_RECONNECT)
    for step, reply in log:
        expect = getattr(step, "expect", None)
        if expect is not None:
            assert reply == expect, f"{world}: {step}"
    assert log[-len(AFTER_RECONNECT) - 1][1] == CLOSED
    switching = next(s for s in CONVERSATION
                     if isinstance(s, Pipeline) and any(c.args[0] == "HELLO" for c in s.commands))
    pipelined = dict(zip(["set", "incr", "hello3", "get3", "config3", "hello2", "get2", "getp"],
                         replies[steps.index(switching.commands[0]):]))
    assert pipelined["get3"] == b"_\r\n" and pipelined["get2"] == b"$-1\r\n"
    assert pipelined["config3"] == b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    assert pipelined["hello3"].startswith(b"%7\r\n") and pipelined["hello2"].startswith(b"*14\r\n")
    other = transcript("simulated" if world == "real" else "real")
    assert log == other
