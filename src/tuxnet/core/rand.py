"""Seeded randomness: every namespace and link draws from its own generator derived from the lab seed.

Derivation uses SHA-256 of (seed, name), never Python's salted ``hash()``, so the same seed gives the
same numbers in every process. Lab code never touches the global ``random`` module.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *names: str) -> int:
    h = hashlib.sha256(str(seed).encode())
    for n in names:
        h.update(b"\0" + n.encode())
    return int.from_bytes(h.digest()[:8], "big")


def make_rng(seed: int, *names: str) -> random.Random:
    """A private generator for one owner (a namespace, a link's impairments, ...)."""
    return random.Random(derive_seed(seed, *names))
