"""Real clients against `flowcache serve` as a user runs it: redis-cli, redis-py, redis-benchmark."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from support import free_port, wait_for_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; .ci/run must install redis-tools")
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture(scope="module")
def flowcache_port():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowcache", "serve", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, output
        assert "ready to accept connections" in output


def cli(port: int, *args: str) -> str:
    result = subprocess.run([need("redis-cli"), "-p", str(port), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_redis_cli_one_shot(flowcache_port):
    assert cli(flowcache_port, "set", "cli:k", "hello world") == "OK\n"
    assert cli(flowcache_port, "get", "cli:k") == "hello world\n"
    assert cli(flowcache_port, "incr", "cli:n") == "1\n"
    assert cli(flowcache_port, "-n", "3", "set", "in-db-3", "x") == "OK\n"
    assert cli(flowcache_port, "-n", "3", "dbsize") == "1\n"
    assert cli(flowcache_port, "-3", "get", "cli:k") == "hello world\n"
    assert "ERR unknown command 'nosuch'" in cli(flowcache_port, "nosuch", "a")


def test_redis_cli_interactive_does_not_abort_on_command_docs(flowcache_port):
    """redis-cli 7 sends COMMAND DOCS at start and asserts on its shape."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([need("redis-cli"), "-p", str(flowcache_port)], stdin=slave, stdout=slave,
                            stderr=slave, close_fds=True, env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    seen = b""

    def read_until(needle: bytes, timeout: float = 10.0) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        return seen

    try:
        os.write(master, b"set tty:key 42\r")
        assert b"OK" in read_until(b"OK")
        os.write(master, b"incrby tty:key 8\r")
        assert b"(integer) 50" in read_until(b"(integer) 50")
        assert proc.poll() is None, seen
        os.write(master, b"quit\r")
        proc.wait(timeout=10)
        assert proc.returncode == 0, seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


@pytest.mark.parametrize("protocol", [3, 2])
def test_redis_py(flowcache_port, protocol):
    redis = pytest.importorskip("redis")
    client = redis.Redis(port=flowcache_port, protocol=protocol, db=1)
    try:
        assert client.ping() is True
        assert client.flushdb() is True
        assert client.set("py:k", "v", ex=100) is True
        assert client.get("py:k") == b"v"
        assert 0 < client.ttl("py:k") <= 100
        assert client.incrby("py:n", 5) == 5
        assert client.incrbyfloat("py:f", 1.5) == 1.5
        assert client.mget(["py:k", "py:missing"]) == [b"v", None]
        assert client.exists("py:k", "py:missing") == 1
        pipe = client.pipeline(transaction=False)
        for i in range(100):
            pipe.set(f"py:p{i}", i)
        pipe.get("py:p99")
        assert pipe.execute()[-1] == b"99"
        with pytest.raises(redis.ResponseError, match="WRONGTYPE|not an integer"):
            client.incr("py:k")
        assert client.delete("py:k") == 1
    finally:
        client.close()


def test_redis_benchmark_runs_clean(flowcache_port):
    result = subprocess.run(
        [need("redis-benchmark"), "-p", str(flowcache_port), "-t", "ping,set,get,incr,mset", "-n", "20000", "-q"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Error" not in result.stdout + result.stderr
    for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"):
        assert test in result.stdout
