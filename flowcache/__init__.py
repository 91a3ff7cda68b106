"""flowcache: a Redis-compatible cache and its deterministic simulator."""

__version__ = "0.1.0"
