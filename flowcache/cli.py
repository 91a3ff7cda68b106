"""The `flowcache` command: `serve` runs the cache, `sim` runs simulations."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from flowcache import __version__

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "config", "flowcache.toml")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowcache",
        description="A Redis-compatible cache written as Flow-style actors, with a deterministic simulator.",
    )
    parser.add_argument("--version", action="version", version=f"flowcache {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the cache server (Redis protocol)")
    serve.add_argument("--port", type=int, help="TCP port (default 3000, or the config file's)")
    serve.add_argument("--bind", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--config", help=f"TOML config file (default {os.path.relpath(DEFAULT_CONFIG)} if present)")
    serve.add_argument("--loglevel", choices=["debug", "verbose", "notice", "warning"],
                       help="log verbosity (default notice)")

    sim = commands.add_parser("sim", help="run a simulation scenario under chosen seeds")
    sim.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "sim":  # the simulator parses its own options (and its own --help)
        return run_sim(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "sim":
        return run_sim(args.args)
    parser.print_help()
    return 0


def run_sim(argv: list[str]) -> int:
    from sim.cli import main as sim_main

    return sim_main(argv)


_LOG_LEVELS = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO, "warning": logging.WARNING}


def load_config(args: Any) -> Any:
    from cache.config import Config, ConfigError

    path = args.config
    if path is None and os.path.exists(DEFAULT_CONFIG):
        path = DEFAULT_CONFIG
    try:
        config = Config.from_toml(path) if path else Config()
        if args.port is not None:
            config.set("port", str(args.port))
        if args.bind is not None:
            config.set("bind", args.bind)
        if args.loglevel is not None:
            config.set("loglevel", args.loglevel)
    except ConfigError as exc:
        raise SystemExit(f"flowcache: {exc}")
    return config


def read_proc_rss() -> int:
    """Resident bytes of this process from /proc (Linux), 0 where unavailable (INFO used_memory_rss)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def read_cpu_times() -> tuple[float, float, float, float]:
    """INFO cpu: system, user, children's system and user seconds of this process."""
    t = os.times()
    return t.system, t.user, t.children_system, t.children_user


def serve(args: Any) -> int:
    import flow
    import net
    import cache.info
    import cache.memory
    from cache.server import CacheServer

    config = load_config(args)
    logging.basicConfig(
        level=_LOG_LEVELS.get(str(config.get("loglevel")), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("flowcache")
    loop = flow.RealLoop()
    stopped = flow.Promise()

    def on_signal(signum: int) -> None:
        log.info("received signal %d, shutting down", signum)
        if not stopped.is_set():
            stopped.send(signum)

    loop.on_shutdown_signal(on_signal)

    @flow.actor
    def main():
        server = CacheServer(config, net.network())
        cache.memory.set_rss_source(read_proc_rss)
        cache.info.set_cpu_source(read_cpu_times)
        cache.info.set_os_name(" ".join(os.uname()[i] for i in (0, 2, 4)))
        bind = str(config.get("bind")).split()[0]
        try:
            server.start(bind, int(config.get("port")))
        except net.NetworkError as exc:
            raise SystemExit(f"flowcache: cannot listen on {bind}:{config.get('port')}: {exc}")
        host, port = server.address
        log.info("flowcache %s ready to accept connections on %s:%d (Redis 7.0 protocol, pid %d)",
                 __version__, host, port, os.getpid())
        yield stopped.future
        server.stop()
        log.info("flowcache stopped")
        return 0

    try:
        return loop.run(main)
    finally:
        loop.close()
