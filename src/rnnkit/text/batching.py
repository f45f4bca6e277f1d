"""Cutting a token stream into training batches.

Two objectives, both seeded and deterministic (``epoch_rng(seed, epoch)``), so a resumed run
sees exactly the batches an uninterrupted one would:

Stream (truncated BPTT, the default). The training text is cut into ``B`` rows that are read
side by side; each step takes the next ``T`` columns and the hidden state of every row is
carried into the next step (detached), so row ``i`` reads its stretch of text in order::

    tokens:  a b c d e f g h i j k l m n o p q r s t u v w x      (offset o = 0, B = 3)
    row 0:   a b c d e f g h            step 0 -> [a b c d]->[b c d e], step 1 -> [e f g]->[f g h]
    row 1:   i j k l m n o p
    row 2:   q r s t u v w x            (T = 4; the last step of an epoch may be shorter)

Each epoch starts at a random offset ``o < T`` so chunk boundaries move between epochs.
Data-parallel, rank ``r`` of ``N`` reads rows ``r*B/N .. (r+1)*B/N - 1`` and carries their state.

Window (the seed article's objective). Every window of ``T`` tokens that starts at a multiple
of ``step`` is one example whose only target is the token right after it; windows are
shuffled each epoch and the hidden state starts at zero for every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..core.distributed import shard_indices


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch])


@dataclass
class Batch:
    """``inputs`` and ``targets`` are ``(B, T)`` int64; for the window objective ``targets``
    is ``(B,)``: the token after each window."""

    inputs: torch.Tensor
    targets: torch.Tensor


class StreamBatches:
    """Truncated-BPTT batches over a contiguous token stream (see module docstring)."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, seed: int, shard: tuple[int, int] = (0, 1)):
        self.tokens, self.batch_size, self.seq_len, self.seed = tokens, batch_size, seq_len, seed
        self.row_len = (len(tokens) - seq_len) // batch_size  # leaves room for any offset < T
        rank, world = shard  # this rank reads its block of rows of the whole batch
        self.rows = slice(rank * batch_size // world, (rank + 1) * batch_size // world)

    def __len__(self) -> int:
        return -(-(self.row_len - 1) // self.seq_len)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Batches of ``epoch``, skipping the first ``start`` (for resuming mid-epoch)."""
        offset = int(epoch_rng(self.seed, epoch).integers(self.seq_len))
        n = self.row_len * self.batch_size
        # A view of the (memory-mapped) stream; only one chunk at a time is copied as int64.
        rows = self.tokens[offset : offset + n].reshape(self.batch_size, self.row_len)[self.rows]
        for i in range(start, len(self)):
            a = i * self.seq_len
            b = min(a + self.seq_len, self.row_len - 1)
            chunk = torch.from_numpy(np.asarray(rows[:, a : b + 1]).astype(np.int64))
            yield Batch(chunk[:, :-1], chunk[:, 1:])


class WindowBatches:
    """The seed's windows: ``tokens[s : s+T]`` predicts ``tokens[s+T]`` for ``s = 0, step, ...``."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, step: int, seed: int,
                 shard: tuple[int, int] = (0, 1)):
        self.tokens, self.batch_size, self.seq_len, self.seed = tokens, batch_size, seq_len, seed
        self.starts = np.arange(0, len(tokens) - seq_len, step)
        self.shard = shard  # (rank, world): this rank's windows of every batch (distributed.shard_indices)

    def __len__(self) -> int:
        return -(-len(self.starts) // self.batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        order = epoch_rng(self.seed, epoch).permutation(self.starts)
        offsets = np.arange(self.seq_len + 1)
        for i in range(start, len(self)):
            s = order[i * self.batch_size : (i + 1) * self.batch_size]
            if self.shard[1] > 1:
                s = shard_indices(s, *self.shard, fill=order)
            windows = torch.from_numpy(np.asarray(self.tokens[s[:, None] + offsets]).astype(np.int64))
            yield Batch(windows[:, :-1], windows[:, -1])
