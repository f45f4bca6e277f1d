"""Data noising as smoothing for language models (Xie et al. 2017, "Data Noising as
Smoothing in Neural Network Language Models", which the seed cites as a remedy for variance).

During training, each input token is replaced with probability ``p`` (the targets are left
alone, so the model still learns to predict the real next token from a corrupted context):

- ``unigram``: by a token drawn from the training split's unigram distribution (counted on
  the training split only: nothing of validation or test leaks into training);
- ``blank``: by a blank, the paper's placeholder ``_``. rnnkit gives it no vocabulary entry:
  a blank is the id :data:`BLANK` (-1), whose input vector is all zeros (see ``rnn_lm.py``),
  so a noised run's model has the same shape as any other.

Draws come from torch's global generator, which the trainer saves in every checkpoint, so a
seed fixes the noise and a resumed run noises exactly as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch

BLANK = -1  # an input id whose vector is zeros
KINDS = ("unigram", "blank")


class InputNoise:
    """``noise(inputs (B, T) int64) -> (B, T) int64``: each id replaced with probability ``prob``."""

    def __init__(self, kind: str, prob: float, train_tokens: np.ndarray, vocab_size: int):
        assert kind in KINDS and 0.0 < prob < 1.0, (kind, prob)
        self.kind, self.prob = kind, prob
        self.unigram = None
        if kind == "unigram":  # counted in chunks: the training split may be a large memory map
            counts = np.zeros(vocab_size, np.int64)
            for a in range(0, len(train_tokens), 1 << 24):
                counts += np.bincount(np.asarray(train_tokens[a : a + (1 << 24)]), minlength=vocab_size)
            self.unigram = torch.from_numpy(counts / counts.sum())  # (V,) float64

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        hit = torch.rand(inputs.shape) < self.prob  # drawn on the CPU: the generator a checkpoint saves
        if self.kind == "unigram":
            repl = torch.multinomial(self.unigram, int(hit.sum()), replacement=True) if hit.any() else None
        else:
            repl = BLANK
        if repl is None:
            return inputs
        out = inputs.clone()
        out[hit.to(inputs.device)] = repl if isinstance(repl, int) else repl.to(inputs.device)
        return out
