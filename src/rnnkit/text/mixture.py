"""A recurrent model interpolated with a Kneser-Ney n-gram: the classic RNN + KN combination.

After training, rnnkit counts an order-N interpolated Kneser-Ney model on the same training
split and mixes the two next-token distributions with one weight::

    p(w | h) = (1 - lam) * p_rnn(w | h) + lam * p_ngram(w | last N-1 tokens of h)

``lam`` maximizes the likelihood of the validation split (EM, below), so it is 0 when the
n-gram adds nothing. Mikolov et al. reported RNN language models interpolated with a KN 5-gram
throughout ("Recurrent neural network based language model", 2010; "Strategies for training
large scale neural network language models", 2011): the counts remember long verbatim
stretches of a small training text that the RNN only half learns, so the mixture is better
than either part. On a long text the RNN learns those as well and ``lam`` shrinks; past
``mix_max_tokens`` training tokens the n-gram is not fitted at all.

The mixed model has the call of every rnnkit model (``log_probs, state = model(tokens,
state)``, state = ``(rnn state, n-gram state)``), so sampling and evaluation use it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import evaluation
from ..core.config import option, require
from .ngram import NGramConfig, NGramModel

MIN_WEIGHT = 0.005  # below this the n-gram is not kept: it changes nothing worth its size


@dataclass
class MixConfig:
    mix_order: int = option(7, "after training, interpolate the recurrent model with a Kneser-Ney n-gram of this "
                            "order counted on the training split; the weight is fit on the validation split "
                            "(0 = off; recurrent models on the stream objective only)")
    mix_max_tokens: int = option(2_000_000, "fit no n-gram for the mix when the training split has more tokens "
                                 "than this (the RNN learns a long text well, and the n-gram tables grow with it)")

    def __post_init__(self) -> None:
        require(self.mix_order >= 0, "mix_order", f"must be 0 (off) or an n-gram order of 1 or more, got {self.mix_order}")
        require(self.mix_max_tokens >= 1, "mix_max_tokens", f"must be at least 1, got {self.mix_max_tokens}")


@dataclass
class MixInfo:
    """What fitting the mix found; stored in the checkpoint's JSON as ``mix``."""

    order: int
    discount: float
    weight: float  # lam, the n-gram's share
    val_rnn: float  # validation nats/token of the recurrent model alone
    val_ngram: float
    val_mixed: float
    val_tokens: int


class MixedModel(nn.Module):
    """``forward(tokens (B, T), state) -> (log-probabilities (B, T, V), state)``."""

    def __init__(self, rnn: nn.Module, ngram: NGramModel, weight: float):
        super().__init__()
        assert 0 < weight < 1, f"the mixing weight must be in (0, 1), got {weight}"
        self.rnn, self.ngram, self.weight = rnn, ngram, weight
        self.vocab_size = ngram.vocab_size

    def forward(self, tokens: torch.Tensor, state=None):
        rnn_state, ngram_state = state if state is not None else (None, None)
        logits, rnn_state = self.rnn(tokens, rnn_state)
        ngram_lp, ngram_state = self.ngram(tokens, ngram_state)
        mixed = torch.logaddexp(F.log_softmax(logits.float(), -1) + math.log1p(-self.weight),
                                ngram_lp + math.log(self.weight))
        return mixed, (rnn_state, ngram_state)

    def int8_steps(self) -> "MixedModel":
        """The same mix over the recurrent model's int8 generation view (``RNNLanguageModel.int8_steps``)."""
        rnn = self.rnn.int8_steps() if hasattr(self.rnn, "int8_steps") else self.rnn
        return self if rnn is self.rnn else MixedModel(rnn, self.ngram, self.weight)


def fit_weight(rnn_lp: np.ndarray, ngram_lp: np.ndarray, iters: int = 500, tol: float = 1e-7) -> float:
    """The ``lam`` in [0, 1] that maximizes ``mean log((1-lam) p_rnn + lam p_ngram)`` over the targets.

    EM for a two-component mixture: ``lam`` <- the mean posterior share of the n-gram; every
    step raises the likelihood, and the objective is concave in ``lam``.
    """
    lam = 0.5
    for _ in range(iters):
        a = np.log1p(-lam) + rnn_lp
        b = np.log(lam) + ngram_lp
        new = float(np.exp(b - np.logaddexp(a, b)).mean())
        new = min(max(new, 1e-9), 1 - 1e-9)
        if abs(new - lam) < tol:
            return new
        lam = new
    return lam


def mixed_loss(rnn_lp: np.ndarray, ngram_lp: np.ndarray, lam: float) -> float:
    """Mean negative log-likelihood of the mixture with weight ``lam``."""
    return float(-np.logaddexp(np.log1p(-lam) + rnn_lp, np.log(lam) + ngram_lp).mean())


def fit(cfg: MixConfig, discount: float, rnn: nn.Module, train: np.ndarray, val: np.ndarray,
        vocab_size: int, device: torch.device, val_tokens: int | None = None) -> tuple[MixInfo, NGramModel | None]:
    """Count the n-gram on ``train`` and fit the weight on ``val``; the n-gram is None when it does not help."""
    ngram = NGramModel.fit(NGramConfig(order=cfg.mix_order, smoothing="kneser-ney", discount=discount), train, vocab_size)
    rnn_lp = evaluation.target_log_probs(rnn, val, device, max_tokens=val_tokens)
    ngram_lp = evaluation.target_log_probs(ngram, val, "cpu", max_tokens=val_tokens)
    lam = fit_weight(rnn_lp, ngram_lp)
    info = MixInfo(order=cfg.mix_order, discount=discount, weight=lam, val_rnn=float(-rnn_lp.mean()),
                   val_ngram=float(-ngram_lp.mean()), val_mixed=mixed_loss(rnn_lp, ngram_lp, lam),
                   val_tokens=len(rnn_lp))
    return info, (ngram if lam >= MIN_WEIGHT else None)


def load(info: dict, tensors: dict[str, torch.Tensor], rnn: nn.Module, vocab_size: int) -> MixedModel:
    """Rebuild the mixed model from a checkpoint's ``mix`` JSON and its ``mix/`` tensors."""
    ngram = NGramModel(NGramConfig(order=info["order"], smoothing="kneser-ney", discount=info["discount"]), vocab_size)
    ngram.load_state_dict(tensors)
    return MixedModel(rnn, ngram, info["weight"])
