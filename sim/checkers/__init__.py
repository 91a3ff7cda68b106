"""Correctness checkers over a recorded `sim.history.History`.

Each returns a `Result`: a list of `Failure`s (empty means the check passed)
with `.unknown` (what could not be decided; never a failure) and `.stats`.
"""

from .base import Failure, Result, Unknown
from .basic import check_liveness, check_no_errors
from .linearizable import check_linearizable
from .queue import check_queue
from .ttl import check_ttl

__all__ = ["Failure", "Result", "Unknown", "check_linearizable", "check_ttl", "check_queue",
           "check_no_errors", "check_liveness"]
