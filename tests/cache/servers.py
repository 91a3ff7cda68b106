"""`flowcache serve` in its own process, for fixtures that talk to it over loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from typing import Iterator

from support import free_port, start_flowcache, wait_for_port


@contextlib.contextmanager
def flowcache_for_tests(config_text: str | None = None) -> Iterator[int]:
    """The port of a fresh server (configured by `config_text` if given), stopped by SIGTERM as in production."""
    with tempfile.TemporaryDirectory(prefix="flowcache-serve-") as workdir:
        extra: tuple[str, ...] = ()
        if config_text is not None:
            config = os.path.join(workdir, "flowcache.toml")
            with open(config, "w") as f:
                f.write(config_text)
            extra = ("--config", config)
        port = free_port()
        proc = start_flowcache(port, *extra)
        try:
            wait_for_port(port)
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
