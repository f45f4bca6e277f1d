"""Averages of a model's weights along training: an exponential moving average (``--ema DECAY``,
Keras' ``use_ema``) or a uniform one (``--swa START``, stochastic weight averaging, Izmailov et
al. 2018; PyTorch Lightning's ``StochasticWeightAveraging(swa_epoch_start=START)``).

After every optimizer step the average moves toward the weights, ``avg <- d avg + (1 - d) w``.
With a decay, ``d = min(DECAY, (1 + n) / (10 + n))`` after ``n`` updates (TensorFlow's
``ExponentialMovingAverage`` with ``num_updates``), so the first averages are not held near the
initialization; that bound also keeps the window short, about the last ``n / 9`` steps. Without
one (SWA), ``d = n / (n + 1)``: every step since the first update weighs the same. Floating-point
buffers (batch norm's running statistics) are averaged alike; integer ones (its batch counter)
are taken as they are.

The training loop validates the average, stores it as a checkpoint's model (so every command that
loads a run uses it) and ends with it in the model; the raw weights go into checkpoints only for
resuming a killed run exactly.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class WeightAverage:
    """The average of ``model``'s floating-point state: exponential with ``decay``, uniform with ``None``;
    ``state`` resumes a saved one."""

    def __init__(self, model: nn.Module, decay: float | None, state: dict[str, torch.Tensor] | None = None,
                 updates: int = 0):
        self.model, self.decay, self.updates = model, decay, updates
        live = model.state_dict()  # detached views of the parameters and buffers themselves
        self.names = [k for k, v in live.items() if v.is_floating_point()]
        self.live = [live[k] for k in self.names]
        source = state if state is not None else live
        self.avg = [source[k].detach().to(t.device, t.dtype).clone() for k, t in zip(self.names, self.live)]

    def update(self) -> None:
        """One step of the average toward the model's current weights."""
        n = self.updates
        d = n / (n + 1) if self.decay is None else min(self.decay, (1 + n) / (10 + n))
        self.updates += 1
        with torch.no_grad():
            for a, t in zip(self.avg, self.live):
                a.lerp_(t, 1 - d)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict with the averaged tensors in place of the live ones."""
        out = self.model.state_dict()
        out.update(zip(self.names, self.avg))
        return out

    def apply(self) -> None:
        """Put the average into the model for good."""
        with torch.no_grad():
            for t, a in zip(self.live, self.avg):
                t.copy_(a)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the average inside the block and its own weights again after it."""
        raw = [t.detach().clone() for t in self.live]
        self.apply()
        try:
            yield
        finally:
            with torch.no_grad():
                for t, r in zip(self.live, raw):
                    t.copy_(r)
