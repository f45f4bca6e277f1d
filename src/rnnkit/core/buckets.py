"""Seeded batches of sequences of similar length (classification, tagging): little padding, random order.

The items are shuffled, sorted by length within windows of ``window`` batches, cut into batches
and the batches shuffled again; the result depends on ``(seed, epoch)`` alone, so a resumed run
draws the same batches.
"""

from __future__ import annotations

import numpy as np


def length_bucketed(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, window: int = 50) -> list[np.ndarray]:
    """The epoch's batches of item indices (``lengths (N,)``: each item's length)."""
    rng = np.random.default_rng(seed * 1_000_003 + epoch)
    order, span = rng.permutation(len(lengths)), batch_size * window
    for w in range(0, len(order), span):
        chunk = order[w:w + span]
        order[w:w + span] = chunk[np.argsort(lengths[chunk], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
