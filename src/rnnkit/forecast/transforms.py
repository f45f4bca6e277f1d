"""Invertible transforms of a series, fitted on the training part only.

The seed (``improving-your-rnn.md``) asks for every input and output scaled into the range of
the network's activation, and for the data work forecasting lives on. A :class:`Transform` is
the chain, applied in this order and undone in reverse:

1. ``--log``: natural logarithm (every value must be positive);
2. ``--seasonal-difference m``: ``y[t] - y[t - m]`` (removes a stable seasonal pattern);
3. ``--difference d``: first differences, ``d`` times (removes a trend);
4. ``--scale``: ``minmax`` into a range (by default the activation's: -1..1 for the tanh of
   RNN, LSTM and GRU cells), ``standard`` (zero mean, unit variance) or ``none``.

:meth:`Transform.fit` learns the scaler's statistics from the training values only, and
records nothing else about the data: differencing has no parameters, and the values a
difference needs to be undone (the last ``m`` or ``d`` observations) are passed to
:meth:`Transform.inverse` as the history the forecast continues. Covariates get their own
scaler (:class:`ColumnScaler`), also fitted on the training rows only; they are not
differenced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..core.config import check_choices, option, require
from ..core.errors import RnnkitError

RANGES = {"auto": (-1.0, 1.0), "-1..1": (-1.0, 1.0), "0..1": (0.0, 1.0)}


@dataclass
class TransformConfig:
    scale: str = option("minmax", "scale the (transformed) target into a range: minmax, standard or none",
                        ("minmax", "standard", "none"))
    scale_range: str = option("auto", "the min-max range: auto (the range of the recurrent cells' tanh output, "
                              "-1..1), -1..1 or 0..1 (a sigmoid's)", tuple(RANGES))
    log: bool = option(False, "take the logarithm first (multiplicative trend and seasonality; values must be positive)")
    difference: int = option(0, "difference the series this many times (0, 1 or 2) to remove a trend")
    seasonal_difference: int = option(0, "subtract the value this many steps earlier (e.g. 12 for monthly data; 0 = off)")
    calendar: bool = option(False, "add calendar inputs: month, day of week, day of year as sine-cosine pairs")

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.difference in (0, 1, 2), "difference", f"must be 0, 1 or 2, got {self.difference}")
        require(self.seasonal_difference >= 0, "seasonal_difference",
                f"must be 0 (off) or a season length, got {self.seasonal_difference}")

    @property
    def lost(self) -> int:
        """Observations the differences consume at the start of a series."""
        return self.seasonal_difference + self.difference


@dataclass
class Transform:
    """A fitted chain: ``forward`` maps values to the model's space, ``inverse`` maps back."""

    log: bool
    seasonal: int  # seasonal difference lag, 0 = none
    difference: int
    scale: str
    shift: float = 0.0  # transformed = (differenced - shift) * factor + low
    factor: float = 1.0
    low: float = 0.0

    @classmethod
    def fit(cls, cfg: TransformConfig, train_values: np.ndarray) -> "Transform":
        """Fit on the training part ``(T,)`` only."""
        t = cls(cfg.log, cfg.seasonal_difference, cfg.difference, cfg.scale)
        z = t._difference(t._log(np.asarray(train_values, dtype=np.float64)))
        if len(z) < 2:
            raise RnnkitError(f"the training part has {len(train_values)} values, too few for the differences "
                              f"(--difference {cfg.difference}, --seasonal-difference {cfg.seasonal_difference}); "
                              f"use a longer series or fewer differences")
        if cfg.scale == "minmax":
            lo, hi = RANGES[cfg.scale_range]
            span = float(z.max() - z.min())
            if span == 0:
                raise RnnkitError(_constant_message(cfg))
            t.shift, t.factor, t.low = float(z.min()), (hi - lo) / span, lo
        elif cfg.scale == "standard":
            sd = float(z.std())
            if sd == 0:
                raise RnnkitError(_constant_message(cfg))
            t.shift, t.factor, t.low = float(z.mean()), 1.0 / sd, 0.0
        return t

    @property
    def lost(self) -> int:
        return self.seasonal + self.difference

    def _log(self, y: np.ndarray) -> np.ndarray:
        if not self.log:
            return y
        if (y <= 0).any():
            raise RnnkitError(f"--log needs positive values, but the series has {int((y <= 0).sum())} values of 0 or "
                              f"less (the first is {y[y <= 0][0]:g}); drop --log")
        return np.log(y)

    def _difference(self, y: np.ndarray) -> np.ndarray:
        if self.seasonal:
            y = y[self.seasonal:] - y[:-self.seasonal]
        for _ in range(self.difference):
            y = np.diff(y)
        return y

    def forward(self, values: np.ndarray) -> np.ndarray:
        """``(T,)`` values -> ``(T - lost,)`` in the model's space (the first ``lost`` are consumed)."""
        z = self._difference(self._log(np.asarray(values, dtype=np.float64)))
        return (z - self.shift) * self.factor + self.low

    def unscale(self, z: np.ndarray) -> np.ndarray:
        """Undo only the scaler (any shape); the result is in differenced, logged units."""
        return (np.asarray(z, dtype=np.float64) - self.low) / self.factor + self.shift

    def inverse(self, z: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Forecasts ``(..., H)`` in the model's space -> original units ``(..., H)``.

        ``history`` ``(T,)`` is the observed series the forecasts continue (in original
        units); only its last ``seasonal + difference`` values are needed.
        """
        d = self.unscale(z)
        h = self._log(np.asarray(history, dtype=np.float64))
        if len(h) < self.lost:
            raise RnnkitError(f"the history has {len(h)} values; undoing the differences needs {self.lost}")
        # the intermediate series after the seasonal difference (the input of the regular ones)
        levels = [h]
        if self.seasonal:
            levels.append(h[self.seasonal:] - h[:-self.seasonal])
        for _ in range(self.difference):
            levels.append(np.diff(levels[-1]))
        out = d
        for k in range(self.difference):  # undo the regular differences, innermost first
            base = levels[-2 - k][-1]
            out = base + np.cumsum(out, axis=-1)
        if self.seasonal:
            m, last = self.seasonal, h[-self.seasonal:]
            y = np.empty_like(out)
            for i in range(out.shape[-1]):
                prev = last[i] if i < m else y[..., i - m]
                y[..., i] = out[..., i] + prev
            out = y
        return np.exp(out) if self.log else out

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Transform":
        return cls(**data)


def _constant_message(cfg: TransformConfig) -> str:
    what = "the training part of the series is constant" if not cfg.lost else \
        "the training part of the series is constant after differencing"
    return f"{what}: there is nothing to scale or learn; check the column (--column), or use --scale none"


@dataclass
class ColumnScaler:
    """Per-column scaling of covariates ``(T, C)`` fitted on training rows; constant columns pass through."""

    shift: list[float]
    factor: list[float]
    low: float = 0.0

    @classmethod
    def fit(cls, scale: str, scale_range: str, train: np.ndarray) -> "ColumnScaler":
        train = np.asarray(train, dtype=np.float64)
        c = train.shape[1]
        if scale == "none" or c == 0:
            return cls([0.0] * c, [1.0] * c)
        if scale == "minmax":
            lo, hi = RANGES[scale_range]
            span = train.max(0) - train.min(0)
            span[span == 0] = 1.0
            return cls(train.min(0).tolist(), ((hi - lo) / span).tolist(), lo)
        sd = train.std(0)
        sd[sd == 0] = 1.0
        return cls(train.mean(0).tolist(), (1.0 / sd).tolist())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - np.array(self.shift)) * np.array(self.factor) + self.low

    def to_json(self) -> dict:
        return asdict(self)
