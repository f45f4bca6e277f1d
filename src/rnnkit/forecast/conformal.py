"""Conformal prediction intervals: forecast errors on data the model never trained on, turned into
intervals that cover what they say.

Split conformal prediction (Vovk, Gammerman & Shafer 2005), per horizon step as statsforecast's
``ConformalIntervals`` does for forecasting. The **calibration set** is ``n`` forecasts of ``H``
steps whose targets the model did not train on and that lie before the test part:

- every validation window of the run's own model (targets in the validation part; the model only
  early-stopped on them), and, when they are fewer than ``--calibration-windows``,
- **rolling validation origins**: the same configuration trained again from scratch on the series
  cut one horizon earlier, then two, ... (``RUN/calibration/fit-K``), each adding its own
  validation windows, until there are enough or the series is too short for another fit.

From each calibration forecast ``i`` and step ``h`` comes a score, ``|y - f|`` (``absolute``) or
``|y - f| / s`` (``scaled``), where ``f`` is the model's median and ``s`` its own spread, the
half-width of its 80% interval over ``z(0.9)`` (a standard deviation when the distribution is
normal): the likelihood says which forecasts are uncertain, the calibration says by how much to
trust it. For a level ``L`` the step's width is ``q_h``, the ``ceil((n + 1) L)``-th smallest of
the ``n`` scores of step ``h`` (the largest, and no guarantee, when ``n < L / (1 - L)``), and
the interval is ``f ± q_h`` or ``f ± q_h s``: the median, hence every point score, is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from ..core.config import option, require

SCORES = ("scaled", "absolute")
Z80 = NormalDist().inv_cdf(0.9)  # the model's 80% half-width over this is its standard deviation
CALIBRATION_FILE = "calibration.json"

Bounds = dict[float, tuple[np.ndarray, np.ndarray]]  # level (a percentage) -> (lower, upper)


@dataclass
class CalibrationConfig:
    """How the conformal calibration set is gathered when the run is trained."""

    calibration_windows: int = option(30, "conformal intervals: add rolling validation origins (the model retrained "
                                          "on the series cut one horizon earlier, then two, ...) until the calibration "
                                          "holds this many forecasts per step (0: the run's validation windows alone)")

    def __post_init__(self) -> None:
        require(self.calibration_windows >= 0, "calibration_windows",
                f"must be 0 or more, got {self.calibration_windows}")


def spread(lower80: np.ndarray, upper80: np.ndarray) -> np.ndarray:
    """The model's standard deviation estimate from its 80% interval (any shape), kept above 0."""
    s = (np.asarray(upper80, dtype=np.float64) - np.asarray(lower80, dtype=np.float64)) / (2 * Z80)
    return np.maximum(s, 1e-12)


@dataclass
class Calibration:
    """Calibration forecasts in original units: ``residuals (n, H)`` actual minus median, ``spread
    (n, H)`` the model's standard deviation estimate for each; ``fits`` says where they came from."""

    residuals: np.ndarray
    spread: np.ndarray
    fits: list[dict] = field(default_factory=list)  # {"points": the series length a fit saw, "windows": its forecasts}

    def __post_init__(self) -> None:
        self.residuals = np.asarray(self.residuals, dtype=np.float64).reshape(len(self.residuals), -1)
        self.spread = np.asarray(self.spread, dtype=np.float64).reshape(self.residuals.shape)

    @property
    def windows(self) -> int:
        return len(self.residuals)

    def widths(self, level: float, score: str) -> np.ndarray:
        """``q_h`` per step ``(H,)`` for a central ``level``% interval (module docstring)."""
        if score not in SCORES:
            raise ValueError(f"score {score!r} is not one of {SCORES}")
        s = np.abs(self.residuals)
        if score == "scaled":
            s = s / self.spread
        n = len(s)
        k = min(math.ceil((n + 1) * level / 100), n)  # 1-based rank of the conformal quantile
        return np.sort(s, axis=0)[k - 1]

    def intervals(self, point: np.ndarray, spread_: np.ndarray, levels, score: str) -> Bounds:
        """Intervals around ``point (..., H')`` with the model's ``spread_`` (same shape); steps past
        the calibrated horizon reuse its widths cyclically (a forecast fed back, one horizon at a time)."""
        H = self.residuals.shape[1]
        steps = np.arange(point.shape[-1]) % H
        out = {}
        for level in levels:
            q = self.widths(level, score)[steps]
            half = q * spread_ if score == "scaled" else np.broadcast_to(q, point.shape)
            out[level] = (point - half, point + half)
        return out

    def to_json(self) -> dict:
        return {"method": "split conformal on forecasts of data the model did not train on", "windows": self.windows,
                "fits": self.fits, "residuals": self.residuals.tolist(), "spread": self.spread.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "Calibration":
        return cls(np.array(d["residuals"]), np.array(d["spread"]), d["fits"])
