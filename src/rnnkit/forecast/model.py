"""The forecasting network: a recurrent encoder over a window, a direct or autoregressive decoder.

Shapes at the boundary (``W`` window, ``H`` horizon, ``F`` input features per step, ``K``
future-known features per step, ``P`` distribution parameters)::

    past     (B, W, F)  the window: the target (relative to its last value, see below), the
                        covariates, the calendar features
    future   (B, H, K)  features known in advance for the forecast steps (the calendar), K >= 0
    output   (B, H, P)  quantile likelihood: P quantiles (QUANTILES), non-crossing;
                        gaussian: P = 2 (mean, standard deviation); all relative to the last value

**Relative to the last value.** The target channel of the window and the forecasts are taken
relative to the window's last (transformed) value: the network learns changes, whatever the
level, and an output of zero is the naive forecast. It is the simplest way to let one network
serve a series that trends out of the range it was scaled on in training.

**Decoders.** ``direct`` maps the encoder's final state (and the future calendar) to all ``H``
steps at once (the MQ-RNN shape), plus a linear path from the window to the forecast
(LSTNet's "highway": the network can always fall back on a linear autoregression).
``autoregressive`` is a recurrent decoder started from the encoder's state that reads its
previous value and the step's calendar, one step at a time (DeepAR's shape): the gold value in
training (teacher forcing), its own median in forecasting, or sampled paths for intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..core.config import check_choices, option, require
from ..nn.recurrent import fused, step

QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)  # the 95% and 80% intervals and the median
MEDIAN = QUANTILES.index(0.5)


@dataclass
class ForecastModelConfig:
    horizon: int | None = option(None, "steps to forecast (default: one season of the data's frequency, within 4..24: "
                                       "12 for monthly data, 7 for daily)")
    window: int | None = option(None, "past steps the model reads (default: the larger of 2 horizons and 3 seasons, "
                                      "at most a third of the training part)")
    cell: str = option("gru", "recurrent cell: rnn, lstm or gru", ("rnn", "lstm", "gru"))
    hidden_size: int = option(64, "units per recurrent layer")
    layers: int = option(1, "stacked recurrent layers")
    dropout: float = option(0.0, "dropout between recurrent layers and before the output")
    decoder: str = option("direct", "direct (all steps at once from the encoder) or autoregressive (a recurrent "
                          "decoder that reads its previous value)", ("direct", "autoregressive"))
    likelihood: str = option("quantile", "the forecast distribution: quantile (the 2.5, 10, 50, 90, 97.5% quantiles "
                             "by pinball loss) or gaussian (mean and standard deviation by likelihood)",
                             ("quantile", "gaussian"))
    highway: bool = option(True, "direct decoder: add a linear path from the window to the forecast")

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.horizon is None or self.horizon >= 1, "horizon", f"must be at least 1, got {self.horizon}")
        require(self.window is None or self.window >= 1, "window", f"must be at least 1, got {self.window}")
        require(self.hidden_size >= 1, "hidden_size", f"must be at least 1, got {self.hidden_size}")
        require(self.layers >= 1, "layers", f"must be at least 1, got {self.layers}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")

    @property
    def params(self) -> int:
        return len(QUANTILES) if self.likelihood == "quantile" else 2


class Forecaster(nn.Module):
    """See the module docstring. ``window`` and ``horizon`` are resolved numbers here."""

    def __init__(self, cfg: ForecastModelConfig, window: int, horizon: int, features: int, future_features: int):
        super().__init__()
        self.cfg, self.window, self.horizon = cfg, window, horizon
        self.future_features, P = future_features, cfg.params
        self.encoder = fused(cfg.cell, features, cfg.hidden_size, cfg.layers, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.decoder == "direct":
            self.head = nn.Linear(cfg.hidden_size + horizon * future_features, horizon * P)
            self.highway = nn.Linear(window, horizon) if cfg.highway else None
        else:
            self.decoder = fused(cfg.cell, 1 + future_features, cfg.hidden_size, cfg.layers, cfg.dropout)
            self.head = nn.Linear(cfg.hidden_size, P)

    # -- the distribution ------------------------------------------------------------------------
    def _distribution(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``(..., P)`` -> non-crossing quantiles, or (mean, positive std)."""
        if self.cfg.likelihood == "gaussian":
            return torch.stack([raw[..., 0], F.softplus(raw[..., 1]) + 1e-4], dim=-1)
        mid = raw[..., MEDIAN:MEDIAN + 1]
        up = mid + torch.cumsum(F.softplus(raw[..., MEDIAN + 1:]), dim=-1)
        down = mid - torch.cumsum(F.softplus(raw[..., :MEDIAN].flip(-1)), dim=-1).flip(-1)
        return torch.cat([down, mid, up], dim=-1)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean pinball loss (quantile) or negative log-likelihood (gaussian); target ``(B, H)``."""
        if self.cfg.likelihood == "gaussian":
            mean, std = out[..., 0], out[..., 1]
            return (torch.log(std) + 0.5 * ((target - mean) / std) ** 2).mean() + 0.5 * math.log(2 * math.pi)
        q = torch.tensor(QUANTILES, dtype=out.dtype, device=out.device)
        err = target.unsqueeze(-1) - out
        return torch.maximum(q * err, (q - 1) * err).mean()

    @staticmethod
    def point(out: torch.Tensor, likelihood: str) -> torch.Tensor:
        """The point forecast ``(..., H)``: the median, or the mean."""
        return out[..., MEDIAN] if likelihood == "quantile" else out[..., 0]

    @staticmethod
    def quantiles(out: torch.Tensor, likelihood: str, probs: torch.Tensor) -> torch.Tensor:
        """The predicted distribution's quantiles at ``probs (Q,)`` in (0, 1): ``(..., H, Q)``.

        Gaussian: ``mean + z(p) std``. Quantile likelihood: the learned quantiles where ``p`` is
        one of QUANTILES, linear interpolation between them, the outer segments extended beyond
        (as :meth:`_draw` samples).
        """
        probs = probs.to(out.device, out.dtype)
        if likelihood == "gaussian":
            z = torch.distributions.Normal(0.0, 1.0).icdf(probs)
            return out[..., :1] + out[..., 1:2] * z
        levels = torch.tensor(QUANTILES, device=out.device, dtype=out.dtype)
        i = torch.clamp(torch.searchsorted(levels, probs.contiguous()), 1, len(QUANTILES) - 1)
        lo_l, hi_l = levels[i - 1], levels[i]
        lo_v, hi_v = out[..., i - 1], out[..., i]
        return lo_v + (probs - lo_l) / (hi_l - lo_l) * (hi_v - lo_v)

    # -- the network -----------------------------------------------------------------------------
    def forward(self, past: torch.Tensor, future: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Distribution parameters ``(B, H, P)``; ``target (B, H)`` teacher-forces the autoregressive decoder."""
        enc, state = self.encoder(past)
        if self.cfg.decoder == "direct":
            h = self.drop(enc[:, -1])
            if self.future_features:
                h = torch.cat([h, future.flatten(1)], dim=-1)
            raw = self.head(h).view(-1, self.horizon, self.cfg.params)
            if self.highway is not None:  # shifts the centre; the spread stays the head's
                centre = MEDIAN if self.cfg.likelihood == "quantile" else 0
                shift = torch.zeros_like(raw)
                shift[..., centre] = self.highway(past[..., 0])
                raw = raw + shift
            return self._distribution(raw)
        if target is None:
            return self.generate(past, future, state=state)
        prev = torch.cat([past[:, -1:, 0], target[:, :-1]], dim=1).unsqueeze(-1)  # (B, H, 1)
        dec, _ = self.decoder(torch.cat([prev, future], dim=-1), state)
        return self._distribution(self.head(self.drop(dec)))

    @torch.no_grad()
    def generate(self, past: torch.Tensor, future: torch.Tensor, samples: int = 0,
                 generator: torch.Generator | None = None, state=None) -> torch.Tensor:
        """Autoregressive decoding, one step at a time.

        ``samples == 0``: feed back the point forecast and return ``(B, H, P)``.
        ``samples > 0``: draw ``samples`` paths per series, each step's value drawn from its
        predicted distribution and fed back; returns ``(B, samples, H)``.
        """
        if state is None:
            _, state = self.encoder(past)
        B = past.size(0)
        n = max(samples, 1)
        if samples:
            state = tuple(s.repeat_interleave(n, dim=1) for s in state) if isinstance(state, tuple) \
                else state.repeat_interleave(n, dim=1)
            future = future.repeat_interleave(n, dim=0)
        prev = past[:, -1, 0].repeat_interleave(n) if samples else past[:, -1, 0]
        outs, values = [], []
        for t in range(self.horizon):
            x = torch.cat([prev.unsqueeze(-1), future[:, t]], dim=-1)
            h, state = step(self.decoder, self.cfg.cell, x, state)
            dist = self._distribution(self.head(h))  # (B*n, P)
            if samples:
                prev = self._draw(dist, generator)
                values.append(prev)
            else:
                outs.append(dist)
                prev = self.point(dist, self.cfg.likelihood)
        if samples:
            return torch.stack(values, dim=-1).view(B, n, self.horizon)
        return torch.stack(outs, dim=1)

    def _draw(self, dist: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One value per row from ``dist (N, P)``: Gaussian, or the quantiles interpolated linearly."""
        if self.cfg.likelihood == "gaussian":
            eps = torch.randn(dist.size(0), generator=generator, device=dist.device)
            return dist[:, 0] + dist[:, 1] * eps
        u = torch.rand(dist.size(0), generator=generator, device=dist.device)
        levels = torch.tensor(QUANTILES, device=dist.device)
        # beyond the outer quantiles, extend the outer segments linearly
        i = torch.clamp(torch.searchsorted(levels, u.contiguous()), 1, len(QUANTILES) - 1)
        lo_l, hi_l = levels[i - 1], levels[i]
        lo_v, hi_v = dist.gather(1, (i - 1).unsqueeze(1)).squeeze(1), dist.gather(1, i.unsqueeze(1)).squeeze(1)
        return lo_v + (u - lo_l) / (hi_l - lo_l) * (hi_v - lo_v)
