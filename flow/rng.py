"""The only random number generator flow code may use.

Every draw goes through `getrandbits` of a seeded Mersenne Twister, whose
stream is stable across CPython versions; `choice`, `sample`, `shuffle`
and friends are written here on top of it because the standard library's
versions have changed between releases. Each draw is folded into a running
digest so a replay can prove it drew the same numbers.
"""

from __future__ import annotations

import random as _random
from typing import Any, MutableSequence, Sequence, TypeVar

T = TypeVar("T")

_MASK64 = (1 << 64) - 1
_TWO_POW_M53 = 2.0**-53


class DeterministicRandom:
    __slots__ = ("_bits", "seed", "digest", "draws")

    def __init__(self, seed: int | None = None) -> None:
        if seed is None:
            seed = int.from_bytes(__import__("os").urandom(8), "little")
        if seed < 0:
            raise ValueError("seed must be a non-negative integer")
        self.seed = seed
        self._bits = _random.Random(seed).getrandbits
        self.digest = seed & _MASK64
        self.draws = 0

    def getrandbits(self, k: int) -> int:
        value = self._bits(k) if k else 0
        self.draws += 1
        self.digest = ((self.digest ^ value) * 0x100000001B3 + k) & _MASK64
        return value

    def random(self) -> float:
        """A float in [0, 1)."""
        return self.getrandbits(53) * _TWO_POW_M53

    def randbelow(self, n: int) -> int:
        """An int in [0, n), by rejection so every value is equally likely."""
        if n <= 0:
            raise ValueError("randbelow needs n > 0")
        k = n.bit_length()
        value = self.getrandbits(k)
        while value >= n:
            value = self.getrandbits(k)
        return value

    def randint(self, a: int, b: int) -> int:
        """An int in [a, b], both ends included."""
        return a + self.randbelow(b - a + 1)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def choice(self, seq: Sequence[T]) -> T:
        if not seq:
            raise IndexError("cannot choose from an empty sequence")
        return seq[self.randbelow(len(seq))]

    def shuffle(self, items: MutableSequence[Any]) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.randbelow(i + 1)
            items[i], items[j] = items[j], items[i]

    def sample(self, population: Sequence[T], k: int) -> list[T]:
        """k distinct elements in random order (partial Fisher-Yates)."""
        n = len(population)
        if not 0 <= k <= n:
            raise ValueError("sample larger than population or negative")
        pool = list(population)
        for i in range(k):
            j = i + self.randbelow(n - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]

    def coin(self, probability: float) -> bool:
        """True with the given probability."""
        return self.random() < probability

    def expovariate(self, rate: float) -> float:
        import math

        return -math.log(1.0 - self.random()) / rate
