"""An ensemble of K classifiers of one shape, trained side by side (``--members K`` of the audio and the
sequence classifier)::

    member logits  (K, B, classes)  each member's, from the same inputs
    logits         (B, classes)     log(mean_k softmax_k): their softmax is the members' mean probability,
                                    so validation, evaluation, prediction and export treat the ensemble as one model
    training loss  the sum of the members' mean cross-entropies: each member's gradients are its own

A member's ``forward(x, lengths, members=True)`` returns its logits as ``(1, B, classes)``, so a task's loss reads
one model and an ensemble alike.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from torch import nn
from torch.nn import functional as F


class Ensemble(nn.Module):
    """``models`` (each initialized on its own, e.g. drawn one after the other from the seeded generator) as
    one classifier of ``n_classes``; ``cfg`` is their shared configuration."""

    def __init__(self, models: Iterable[nn.Module], cfg: Any, n_classes: int):
        super().__init__()
        self.cfg, self.n_classes = cfg, n_classes
        self.members = nn.ModuleList(models)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, members: bool = False) -> torch.Tensor:
        """A padded batch ``x (B, S, ...)`` of ``lengths (B,)`` -> ``(B, classes)`` logits of the mean probability;
        every member's ``(K, B, classes)`` with ``members=True``. (Named arguments: the ONNX export keys its
        dynamic axes by them.)"""
        logits = torch.stack([m(x, lengths) for m in self.members])  # (K, B, classes)
        return logits if members else log_mean_probability(logits)


def log_mean_probability(logits: torch.Tensor) -> torch.Tensor:
    """``(K, B, classes)`` members' logits (or log-probabilities) -> ``(B, classes)`` log of their mean probability."""
    return torch.logsumexp(logits.float().log_softmax(-1), 0) - math.log(logits.size(0))


def members_cross_entropy(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None,
                          label_smoothing: float = 0.0) -> torch.Tensor:
    """The sum over members of each one's mean cross-entropy: ``logits (K, B, classes)``, ``y (B,)``."""
    K = logits.size(0)
    return K * F.cross_entropy(logits.flatten(0, 1), y.repeat(K), weight=weight, label_smoothing=label_smoothing)


def members_of(model: nn.Module) -> list[nn.Module]:
    """The classifiers of ``model``: an ensemble's members, or the model itself."""
    return list(model.members) if isinstance(model, Ensemble) else [model]
