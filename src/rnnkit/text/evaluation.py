"""Scoring a model on a token stream: cross-entropy, bits per character, perplexity, accuracy.

A split is read as one stream, or, past 8k tokens, as ``S`` contiguous rows side by side
(one per 1024 tokens, at most 64) for speed, carrying the state chunk to chunk; every row but
the first is warmed up on the text just before it, so scoring in rows gives what one pass over
the split gives. Models trained on the seed's window objective are scored the way they were
trained: each token from the ``window`` tokens before it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

CHUNK = 256
MAX_LOGITS = 1 << 24  # logits held at once while scoring (64 MB); fewer time steps for large vocabularies
WARMUP = 256  # tokens of context read before each row of a split


@dataclass
class Metrics:
    loss: float  # mean cross-entropy in nats per token
    bits_per_char: float
    perplexity: float  # per token
    accuracy: float  # top-1
    tokens: int  # number of predicted tokens
    unknown: int = 0  # how many of them are <unk>: outside the training vocabulary (or past --max-vocab)

    def to_json(self) -> dict:
        return asdict(self)


def rows_for(n: int) -> int:
    """One row for splits up to 8k tokens (read exactly as one stream), else one per 1024 tokens."""
    return 1 if n <= 8192 else min(64, n // 1024)


@torch.inference_mode()
def score(model, tokens: np.ndarray, device: torch.device | str = "cpu", window: int | None = None,
          max_tokens: int | None = None, shard: tuple[int, int] = (0, 1)) -> tuple[float, int, int]:
    """Return ``(sum of negative log-likelihoods, number correct, number of targets)``.

    ``shard=(rank, world)`` scores only that rank's part of the split (its rows, see
    ``_predictions``); the ranks' sums add up to the whole split's.
    """
    nll, correct, count = 0.0, 0, 0
    for logits, target in _predictions(model, tokens, device, window, max_tokens, shard):
        nll += F.cross_entropy(logits.float(), target, reduction="sum").item()
        correct += (logits.argmax(-1) == target).sum().item()
        count += target.numel()
    return nll, correct, count


@torch.inference_mode()
def target_log_probs(model, tokens: np.ndarray, device: torch.device | str = "cpu", window: int | None = None,
                     max_tokens: int | None = None) -> np.ndarray:
    """The log-probability of every target, float64, in the same (deterministic) order for any model."""
    parts = [F.log_softmax(logits.float(), -1).gather(-1, target[:, None])[:, 0].double().cpu()
             for logits, target in _predictions(model, tokens, device, window, max_tokens)]
    return torch.cat(parts).numpy()


def _predictions(model, tokens: np.ndarray, device, window: int | None, max_tokens: int | None,
                 shard: tuple[int, int] = (0, 1)):
    """Yield ``(logits (M, V), targets (M,))`` pieces that together predict every token of the split.

    The split is read as ``S`` rows side by side (for speed). Each row after the first starts
    with a state warmed up on the ``WARMUP`` tokens just before it, so the result is the one a
    single pass over the whole split would give, up to context older than ``WARMUP`` tokens::

        targets:  1 .. W  | row 0 ........ | row 1 ........ | ... | tail
        read as:  cold    | after W tokens | after W tokens |     | after W tokens

    ``shard=(rank, world)``: only that rank's pieces (the first W targets on rank 0, a block of
    the rows, the tail on the last rank; a block of the windows of a window model).
    """
    rank, world = shard
    tokens = np.asarray(tokens[: max_tokens + 1] if max_tokens else tokens).astype(np.int64)
    if window is not None:
        yield from _window_predictions(model, tokens, device, window, shard=shard)
        return
    t = torch.from_numpy(tokens).to(device)
    n = len(tokens) - 1
    S = rows_for(n)
    W = min(WARMUP, n // (S + 1)) if S > 1 else 0
    if W and rank == 0:  # the first W targets, read from the start of the split like a plain stream
        yield from _row_predictions(model, t[None, :W], t[None, 1 : W + 1])
    L = (n - W) // S
    starts = W + L * torch.arange(S, device=t.device)[S * rank // world : S * (rank + 1) // world]
    if len(starts):
        steps = torch.arange(L, device=t.device)
        x, y = t[starts[:, None] + steps], t[starts[:, None] + steps + 1]  # (S, L)
        state = model(t[starts[:, None] - W + torch.arange(W, device=t.device)], None)[1] if W else None
        yield from _row_predictions(model, x, y, state)
    a = W + S * L
    if a < n and rank == world - 1:  # the few targets after the last full row
        w = min(WARMUP, a)
        state = model(t[None, a - w : a], None)[1] if w else None
        yield from _row_predictions(model, t[None, a:n], t[None, a + 1 : n + 1], state)


def _row_predictions(model, x: torch.Tensor, y: torch.Tensor, state=None):
    vocab = getattr(model, "vocab_size", 1)
    chunk = max(1, min(CHUNK, MAX_LOGITS // (x.size(0) * vocab)))
    for a in range(0, x.size(1), chunk):
        logits, state = model(x[:, a : a + chunk], state)  # (S, c, V)
        yield logits.reshape(-1, logits.size(-1)), y[:, a : a + chunk].reshape(-1)


def _window_predictions(model, tokens: np.ndarray, device, window: int, batch: int = 2048,
                        shard: tuple[int, int] = (0, 1)):
    views = np.lib.stride_tricks.sliding_window_view(tokens, window + 1)  # (N, window+1)
    rank, world = shard
    views = views[len(views) * rank // world : len(views) * (rank + 1) // world]
    for a in range(0, len(views), batch):
        w = torch.from_numpy(np.ascontiguousarray(views[a : a + batch])).to(device)
        logits, _ = model(w[:, :-1], None)
        yield logits[:, -1], w[:, -1]


def metrics(nll: float, correct: int, count: int, chars: int, unknown: int = 0) -> Metrics:
    """Turn sums into per-token and per-character figures (``chars`` = characters the targets cover)."""
    loss = nll / max(count, 1)
    return Metrics(
        loss=loss,
        bits_per_char=nll / max(chars, 1) / math.log(2),
        perplexity=math.exp(min(loss, 700.0)),
        accuracy=correct / max(count, 1),
        tokens=count,
        unknown=unknown,
    )


def count_unknown(targets: np.ndarray, unk: int | None) -> int:
    """How many of ``targets`` are the id ``unk`` (0 for a vocabulary without one), read in pieces
    (a split may be a large memory map). ``<unk>`` never occurs in text literally, so these are
    exactly the tokens encoding mapped to it."""
    if unk is None:
        return 0
    return sum(int(np.count_nonzero(np.asarray(targets[a : a + (1 << 24)]) == unk))
               for a in range(0, len(targets), 1 << 24))
