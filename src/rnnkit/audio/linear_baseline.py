"""A linear classifier on time-pooled log-mel features: the cheap baseline ``rnnkit diagnose``
compares an audio run against.

Each clip becomes one vector, the mean and the standard deviation over its valid frames of the
run's own normalized log-mel bands ``(2F,)``; a multinomial logistic regression (one linear
layer, cross-entropy, a little L2) is fitted on the training clips by full-batch L-BFGS. It
sees what the CRNN sees but has no notion of order in time.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

WEIGHT_DECAY = 1e-3
LBFGS_STEPS = 200


def pooled(feats: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """``(N, T, F)`` zero-padded frames and counts ``(N,)`` -> ``(N, 2F)``: mean and std over valid frames."""
    valid = (torch.arange(feats.size(1))[None] < frames[:, None]).unsqueeze(-1).float()  # (N, T, 1)
    n = frames.clamp(min=1).view(-1, 1).float()
    mean = (feats * valid).sum(1) / n
    var = ((feats - mean[:, None]) ** 2 * valid).sum(1) / n
    return torch.cat([mean, var.sqrt()], 1)


def fit(x: torch.Tensor, y: np.ndarray, classes: int, seed: int = 0) -> torch.nn.Linear:
    """Logistic regression of labels ``y (N,)`` on features ``x (N, D)``, standardized inside the layer."""
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0).clamp(min=1e-6) if len(x) > 1 else torch.ones(x.size(1))
    layer = torch.nn.Linear(x.size(1), classes)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
    z, target = (x - mu) / sd, torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=LBFGS_STEPS, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(layer(z), target) + WEIGHT_DECAY * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():  # fold the standardization into the layer
        layer.weight /= sd
        layer.bias -= (layer.weight * mu).sum(1)
    return layer


def error_rate(layer: torch.nn.Linear, x: torch.Tensor, y: np.ndarray) -> float:
    """Percent of rows of ``x`` whose predicted class is not ``y``."""
    with torch.no_grad():
        pred = layer(x).argmax(1).numpy()
    return float(100 * (pred != y).mean())
