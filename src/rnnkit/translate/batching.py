"""Sentence pairs as padded, length-bucketed batches of token ids.

Sorting sentences by length before cutting batches keeps padding (wasted computation) small;
doing it within shuffled pools of 50 batches keeps the batches' order and membership random.
Everything is drawn from ``numpy.random.default_rng((seed, epoch))``, so an epoch's batches
are the same in a resumed run. One batch::

    source     (B, S)  source ids, PAD after each sentence's end     lengths (B,)
    target_in  (B, T)  BOS y1 y2 ... yn  PAD...   what the decoder reads
    target_out (B, T)  y1 y2 ... yn EOS  PAD...   what it must predict (PAD is not scored)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..core.distributed import shard_indices
from ..core.trainer import to_device
from ..core.pieces import BOS, EOS, PAD
from .decoding import pad_ids

POOL = 50  # batches per sorting pool


@dataclass
class Batch:
    source: torch.Tensor
    lengths: torch.Tensor
    target_in: torch.Tensor
    target_out: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        return Batch(to_device(self.source, device), self.lengths, to_device(self.target_in, device),
                     to_device(self.target_out, device))

    @property
    def target_tokens(self) -> int:
        return int((self.target_out != PAD).sum())


def pad(rows: list[np.ndarray]) -> torch.Tensor:
    """Id sequences -> ``(len(rows), longest)`` int64, PAD-filled."""
    return torch.from_numpy(pad_ids(rows))


def make_batch(sources: list[np.ndarray], targets: list[np.ndarray]) -> Batch:
    """Ids without specials -> a batch (BOS/EOS added to the target here, EOS to the source)."""
    src = [np.append(s, EOS) for s in sources]
    return Batch(pad(src), torch.tensor([len(s) for s in src]), pad([np.insert(t, 0, BOS) for t in targets]),
                 pad([np.append(t, EOS) for t in targets]))


class PairBatches:
    """Length-bucketed, seeded batches over encoded pairs ``[(source ids, target ids), ...]``."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], batch_size: int, seed: int,
                 shard: tuple[int, int] = (0, 1)):
        self.pairs, self.batch_size, self.seed = pairs, batch_size, seed
        self.shard = shard  # (rank, world): this rank's pairs of every batch (distributed.shard_indices)
        self.lengths = np.array([len(s) + len(t) for s, t in pairs])

    def __len__(self) -> int:
        return -(-len(self.pairs) // self.batch_size)

    def order(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch`` as index arrays, in training order."""
        rng = np.random.default_rng((self.seed, epoch))
        perm = rng.permutation(len(self.pairs))
        pool = POOL * self.batch_size
        batches = []
        for start in range(0, len(perm), pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        batches = self.order(epoch)
        for idx in batches[start:]:
            if self.shard[1] > 1:
                idx = shard_indices(idx, *self.shard, fill=batches[0])
            yield make_batch([self.pairs[i][0] for i in idx], [self.pairs[i][1] for i in idx])
