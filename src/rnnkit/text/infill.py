"""Filling a blank from both sides: a bidirectional model of ``p(x_t | x_<t, x_>t)``.

``rnnkit train --objective infill`` trains :class:`InfillModel` on the same windows of the
token stream as the window objective (``--seq-len`` + 1 tokens, starting every
``--window-step``), with a target at *every* position of a window::

    tokens     x0   x1   x2   x3   x4
    forward    f0   f1   f2   f3   f4      f_t has read x0 .. x_t    (left to right)
    backward   b0   b1   b2   b3   b4      b_t has read x_t .. x4    (right to left)
    x2 from    [f1 ; b3] -> linear -> softmax over the vocabulary

The two directions are two separate recurrent stacks, joined only at the output layer. A
multi-layer ``nn.GRU(bidirectional=True)`` (``RecurrentStack``) would not do: its second layer
reads both directions of the first, so the forward state before ``x_t`` would already have
seen ``x_t`` through the backward half, and the model could copy its target (with one layer
both are the same model; the tests check that, and that no prediction sees its own token).
At the edges of a window a missing side is a zero state.

To show what the right-hand context adds, an ordinary forward language model of the same
configuration (``RNNLanguageModel``, the stream model's class) is trained beside it, on the
same batches, for the same steps: the ``baseline`` submodule. Evaluation scores both on the
same targets of a split, each target with at least ``margin`` tokens of context on each side
(the forward model reads the same left context and ignores the right).

The blank in a text is three or more underscores (``___``) and stands for exactly one token:
one word for a word-level model, one character for a character-level model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import evaluation
from ..core.errors import RnnkitError
from .blanks import BLANK, Filler, around_blank, rank  # noqa: F401 (BLANK, Filler: part of this module's API)
from .rnn_lm import FUSED, RNNConfig, RNNLanguageModel
from .vocab import Vocab
MAX_LOGITS = 1 << 24  # logits held at once while scoring


class InfillModel(nn.Module):
    """``model(tokens (B, T)) -> logits (B, T, V)``: row ``t`` is the distribution of
    ``tokens[:, t]`` given every other token of the row (never ``tokens[:, t]`` itself)."""

    def __init__(self, cfg: RNNConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        input_size = vocab_size if cfg.one_hot else cfg.embedding_size
        self.embed = None if cfg.one_hot else nn.Embedding(vocab_size, cfg.embedding_size)
        self.fwd = _stack(cfg, input_size)  # reads left to right
        self.bwd = _stack(cfg, input_size)  # reads right to left
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden_size, vocab_size)
        self.baseline = RNNLanguageModel(cfg, vocab_size)  # the forward model it is compared with

    def directions(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-layer outputs ``(f, b)``, each ``(B, T, H)``: ``f[:, t]`` has read ``tokens[:, :t+1]``,
        ``b[:, t]`` has read ``tokens[:, t:]`` (backwards)."""
        if self.embed is None:
            x = F.one_hot(tokens, self.vocab_size).to(self.head.weight.dtype)
        else:
            x = self._dropout(self.embed(tokens))
        f, _ = self.fwd(x)
        b, _ = self.bwd(x.flip(1))
        return f, b.flip(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        assert tokens.dim() == 2, f"tokens must be (B, T), got {tuple(tokens.shape)}"
        f, b = self.directions(tokens)
        none = f.new_zeros(f.size(0), 1, f.size(2))  # no context on that side
        before = torch.cat([none, f[:, :-1]], 1)  # the forward state just before t
        after = torch.cat([b[:, 1:], none], 1)  # the backward state just after t
        return self.head(self._dropout(torch.cat([before, after], -1)))

    _dropout = RNNLanguageModel._dropout  # the same dropout (plain or locked), on the same config fields


def _stack(cfg: RNNConfig, input_size: int) -> nn.Module:
    extra = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
    return FUSED[cfg.cell](input_size, cfg.hidden_size, cfg.layers, batch_first=True,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0, **extra)


def check_config(rnn: RNNConfig, model: str, seq_len: int) -> None:
    """The options the infill objective cannot honour are errors, not silently ignored."""
    if model != "rnn":
        raise RnnkitError(f"--objective infill trains a recurrent model; drop --model {model}")
    for bad, flag in ((rnn.tie_weights, "--tie-weights"), (rnn.impl != "fused", "--impl explicit"),
                      (rnn.weight_drop > 0, "--weight-drop")):
        if bad:
            raise RnnkitError(f"{flag} is not supported with --objective infill; drop it")
    if seq_len < 2:
        raise RnnkitError(f"--seq-len: the infill objective needs at least 2, got {seq_len}")


def loss(model: InfillModel, windows: torch.Tensor) -> torch.Tensor:
    """Mean infill cross-entropy of every token of ``windows (B, T)``, plus the training signal
    of the forward baseline on the same windows (in the gradient only, not in the value)."""
    V = model.vocab_size
    logits = model(windows)
    infill = F.cross_entropy(logits.reshape(-1, V), windows.reshape(-1))
    fwd_logits, _ = model.baseline(windows[:, :-1], None)
    forward = F.cross_entropy(fwd_logits.reshape(-1, V), windows[:, 1:].reshape(-1))
    # forward - forward.detach() is 0 in value and d(forward) in gradient: the logged loss is the
    # infill model's, while both models learn from the same batch in the same optimizer step.
    return infill + (forward - forward.detach())


# -- scoring a split -------------------------------------------------------------------------
def margin_of(length: int) -> int:
    """Context each scored target has at least on each side, for windows of ``length`` tokens."""
    return max(1, length // 4)


def _scored_windows(n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and a ``(N, length)`` mask of the positions scored in each: every token of
    ``[m, n - m)`` once, in the middle band of a window (``m = margin_of(length)``)."""
    m = margin_of(length)
    band = length - 2 * m
    starts = list(range(0, n - length + 1, band))
    mask = np.zeros((len(starts), length), dtype=bool)
    mask[:, m : m + band] = True
    covered = (starts[-1] + m + band) if starts else m
    if covered < n - m:  # the tail: one more window, ending at the split's end
        starts.append(n - length)
        tail = np.zeros((1, length), dtype=bool)
        tail[0, max(covered - (n - length), m) : length - m] = True
        mask = np.concatenate([mask, tail])
    return np.array(starts, dtype=np.int64), mask


@dataclass
class Score:
    loss: float  # mean cross-entropy, nats per token
    perplexity: float
    accuracy: float  # top-1

    @classmethod
    def of(cls, nll: float, correct: int, count: int) -> "Score":
        loss = nll / max(count, 1)
        return cls(loss, math.exp(min(loss, 700.0)), correct / max(count, 1))


@dataclass
class InfillMetrics:
    """The infill model and the forward model on the same targets of a split."""

    infill: Score
    forward: Score
    tokens: int  # targets scored
    context: int  # each target had at least this many tokens on each side
    unknown: int = 0  # targets that are <unk> (outside the training vocabulary)

    def to_json(self) -> dict:
        return {"infill": vars(self.infill), "forward": vars(self.forward), "tokens": self.tokens,
                "context": self.context, "unknown": self.unknown}

    def describe(self, split: str) -> str:
        i, f = self.infill, self.forward
        return (f"{split}: infill {i.loss:.4f} nats/token (perplexity {i.perplexity:.2f}), accuracy {i.accuracy:.2%}; "
                f"forward model on the same {self.tokens} tokens: {f.loss:.4f} nats/token (perplexity "
                f"{f.perplexity:.2f}), accuracy {f.accuracy:.2%}; the right-hand context is worth "
                f"{f.loss - i.loss:+.4f} nats/token (each token scored with at least {self.context} tokens on each side); "
                f"{self.unknown} of the {self.tokens} tokens are <unk>")


@torch.inference_mode()
def score(model: InfillModel, tokens: np.ndarray, length: int, device: torch.device | str = "cpu",
          max_tokens: int | None = None, forward: bool = True) -> tuple[tuple[float, int], tuple[float, int], int, int]:
    """``((infill nll, correct), (forward nll, correct), targets, margin)`` over windows of
    ``length`` tokens of ``tokens`` (at most ``max_tokens``); the forward pair is zeros unless
    ``forward``."""
    tokens = np.asarray(tokens[:max_tokens] if max_tokens else tokens).astype(np.int64)
    n = len(tokens)
    length = min(length, n)
    if length < 3:
        raise RnnkitError(f"the split has only {n} tokens; scoring infill needs at least 3")
    starts, mask = _scored_windows(n, length)
    windows = torch.from_numpy(tokens[starts[:, None] + np.arange(length)]).to(device)
    mask_t = torch.from_numpy(mask).to(device)
    batch = max(1, MAX_LOGITS // (length * model.vocab_size))
    sums = [0.0, 0, 0.0, 0]
    for a in range(0, len(windows), batch):
        w, m = windows[a : a + batch], mask_t[a : a + batch]
        _add(sums, 0, model(w)[m], w[m])
        if forward:  # logits of position p come from reading positions < p (the margin is >= 1)
            _add(sums, 2, model.baseline(w[:, :-1], None)[0][m[:, 1:]], w[:, 1:][m[:, 1:]])
    return (sums[0], sums[1]), (sums[2], sums[3]), int(mask.sum()), margin_of(length)


def _add(sums: list, at: int, logits: torch.Tensor, target: torch.Tensor) -> None:
    sums[at] += F.cross_entropy(logits.float(), target, reduction="sum").item()
    sums[at + 1] += (logits.argmax(-1) == target).sum().item()


def evaluate(model: InfillModel, tokens: np.ndarray, length: int, device: torch.device | str = "cpu",
             unk: int | None = None) -> InfillMetrics:
    (nll, correct), (f_nll, f_correct), count, margin = score(model, tokens, length, device)
    targets = tokens[margin : len(tokens) - margin]  # scored: every token of [m, n - m), once
    assert len(targets) == count, (len(targets), count)
    return InfillMetrics(Score.of(nll, correct, count), Score.of(f_nll, f_correct, count), count, margin,
                         evaluation.count_unknown(targets, unk))


# -- filling a blank -------------------------------------------------------------------------
@torch.inference_mode()
def fill(model: InfillModel, vocab: Vocab, text: str, top_k: int, context: int,
         device: torch.device | str = "cpu") -> list[Filler]:
    """The ``top_k`` most likely tokens for the one blank (``___``) of ``text``, best first, with
    their probabilities; ``<unk>`` is never proposed. Each side is read up to ``context`` tokens."""
    blank = around_blank(vocab, text, top_k, context)
    row = torch.tensor([blank.row()], device=device)  # the token at the blank is never read
    probs = F.softmax(model(row)[0, len(blank.left)].float(), -1)
    return rank(probs.cpu().numpy(), vocab, blank, top_k)
