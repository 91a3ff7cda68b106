"""Helpers shared by tests and benchmarks that start real servers (one copy for both)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def start_redis_server(binary: str, port: int, workdir: str, *extra: str) -> subprocess.Popen:
    """A private redis-server on loopback with persistence off (the oracle, or the bench's rival)."""
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", workdir, "--loglevel", "warning", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def start_flowcache(port: int, *extra: str) -> subprocess.Popen:
    """`flowcache serve` from this checkout, in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "flowcache", "serve", "--port", str(port), "--loglevel", "warning", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def redis_server_for_tests(*extra: str, prefix: str = "flowcache-redis-") -> Iterator[int]:
    """The port of a fresh redis-server for a fixture; skips without one, fails on CI."""
    import pytest

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run must install it")
        pytest.skip("redis-server is not installed")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix=prefix)
    proc = start_redis_server(binary, port, workdir, *extra)
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def flowcache_and_redis(prefix: str) -> Iterator[tuple[subprocess.Popen, int, subprocess.Popen, int]]:
    """A `flowcache serve` and a redis-server side by side, on free loopback ports and
    ready: (flowcache process, its port, redis process, its port); both stopped after."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    fc_port, redis_port = free_port(), free_port()
    flowcache = start_flowcache(fc_port)
    redis = start_redis_server("redis-server", redis_port, workdir)
    try:
        wait_for_port(fc_port)
        wait_for_port(redis_port)
        yield flowcache, fc_port, redis, redis_port
    finally:
        for proc in (flowcache, redis):
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
