"""The current loop, in one place so every flow module reads the same slot."""

from __future__ import annotations

from typing import Any

current: Any = None
