"""A seeded fraction of a training split (``--data-fraction``): quick cycles and learning curves.

Only the training split shrinks; validation and test stay whole, so errors measured at
different fractions are comparable. Items that are independent (clips, sentence pairs) are
drawn at random; a stream or a series keeps one contiguous block at a seeded offset, since
scattering pieces of a text or of a time series would cut it into unrelated fragments.
"""

from __future__ import annotations

import numpy as np


def kept(n: int, fraction: float) -> int:
    """How many of ``n`` items a fraction keeps: at least one."""
    return min(n, max(1, round(fraction * n)))


def subset(n: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random ``fraction`` of ``n`` items (all of them at 1)."""
    if fraction >= 1:
        return np.arange(n)
    rng = np.random.default_rng([seed, 10])  # a stream of its own, apart from the split's and the batches'
    return np.sort(rng.choice(n, size=kept(n, fraction), replace=False))


def block(n: int, fraction: float, seed: int, minimum: int = 1) -> tuple[int, int]:
    """``(start, stop)`` of a contiguous block of ``fraction`` of ``n`` items (at least ``minimum``) at a seeded offset."""
    size = min(n, max(minimum, kept(n, fraction)))
    if size >= n:
        return 0, n
    start = int(np.random.default_rng([seed, 10]).integers(n - size + 1))
    return start, start + size


def keep_fraction(parts: list[str], fraction: float, seed: int) -> list[str]:
    """``--data-fraction`` over a list of parts: a seeded share of the ``train`` items stays ``train``,
    the rest become ``unused`` (recorded in the run's split file); validation and test are unchanged."""
    train_at = [i for i, p in enumerate(parts) if p == "train"]
    chosen = {train_at[j] for j in subset(len(train_at), fraction, seed)}
    return ["unused" if p == "train" and i not in chosen else p for i, p in enumerate(parts)]
