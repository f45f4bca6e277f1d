"""Scoring a model on a token stream: cross-entropy, bits per character, perplexity, accuracy.

A split is read as ``S`` contiguous rows side by side (``S = 1`` for splits under 100k
tokens, so small splits are scored exactly as one stream; large ones use up to 64 rows, each
starting from a fresh state), carrying the state chunk to chunk. Models trained on the seed's
window objective are scored the way they were trained: each token from the ``window`` tokens
before it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

CHUNK = 256


@dataclass
class Metrics:
    loss: float  # mean cross-entropy in nats per token
    bits_per_char: float
    perplexity: float  # per token
    accuracy: float  # top-1
    tokens: int  # number of predicted tokens

    def to_json(self) -> dict:
        return asdict(self)


def rows_for(n: int) -> int:
    return max(1, min(64, n // 50_000))


@torch.inference_mode()
def score(model, tokens: np.ndarray, device: torch.device | str = "cpu", window: int | None = None,
          max_tokens: int | None = None) -> tuple[float, int, int]:
    """Return ``(sum of negative log-likelihoods, number correct, number of targets)``."""
    tokens = np.asarray(tokens[: max_tokens + 1] if max_tokens else tokens).astype(np.int64)
    if window is not None:
        return _score_windows(model, tokens, device, window)
    n = len(tokens) - 1
    S = rows_for(n)
    L = n // S
    x = torch.from_numpy(tokens[: S * L].reshape(S, L)).to(device)
    y = torch.from_numpy(tokens[1 : S * L + 1].reshape(S, L)).to(device)
    nll, correct, count = _score_rows(model, x, y)
    if S * L < n:  # the few tokens past the last full row: warm up on the text before them
        w = min(CHUNK, S * L)
        tail = torch.from_numpy(tokens[S * L - w :]).to(device)[None]
        _, state = model(tail[:, :w], None) if w else (None, None)
        t_nll, t_correct, t_count = _score_rows(model, tail[:, w:-1], tail[:, w + 1 :], state)
        nll, correct, count = nll + t_nll, correct + t_correct, count + t_count
    return nll, correct, count


def _score_rows(model, x: torch.Tensor, y: torch.Tensor, state=None) -> tuple[float, int, int]:
    nll = 0.0
    correct = 0
    for a in range(0, x.size(1), CHUNK):
        logits, state = model(x[:, a : a + CHUNK], state)  # (S, c, V)
        target = y[:, a : a + CHUNK]
        nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1), reduction="sum").item()
        correct += (logits.argmax(-1) == target).sum().item()
    return nll, correct, y.numel()


def _score_windows(model, tokens: np.ndarray, device, window: int, batch: int = 2048) -> tuple[float, int, int]:
    views = np.lib.stride_tricks.sliding_window_view(tokens, window + 1)  # (N, window+1)
    nll, correct = 0.0, 0
    for a in range(0, len(views), batch):
        w = torch.from_numpy(np.ascontiguousarray(views[a : a + batch])).to(device)
        logits, _ = model(w[:, :-1], None)
        last = logits[:, -1].float()
        nll += F.cross_entropy(last, w[:, -1], reduction="sum").item()
        correct += (last.argmax(-1) == w[:, -1]).sum().item()
    return nll, correct, len(views)


def metrics(nll: float, correct: int, count: int, chars: int) -> Metrics:
    """Turn sums into per-token and per-character figures (``chars`` = characters the targets cover)."""
    loss = nll / max(count, 1)
    return Metrics(
        loss=loss,
        bits_per_char=nll / max(chars, 1) / math.log(2),
        perplexity=math.exp(min(loss, 700.0)),
        accuracy=correct / max(count, 1),
        tokens=count,
    )
