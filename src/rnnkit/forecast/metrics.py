"""Forecast accuracy: MAE, RMSE, sMAPE and MASE of a point forecast, coverage and MSIS of an interval.

Every function takes one forecast of ``H`` steps from one origin: ``actual`` and ``forecast``
(and ``lower`` / ``upper``) are arrays of shape ``(H,)``; they are read as float64. A result over
several origins is the mean of the per-origin scores (:func:`mean_scores`), the way the M4
competition averages over series.

- MAE and RMSE are in the series' own units, so they only compare models on one series.
- sMAPE is the M4 definition, ``200/H * sum |y - f| / (|y| + |f|)``, between 0 and 200 (a term
  whose ``|y| + |f|`` is 0, a perfect forecast of a zero, counts 0). It is scale-free but
  asymmetric and unstable near zero, which is why MASE is the headline metric.
- MASE (Hyndman & Koehler 2006) divides the MAE by the in-sample MAE of the seasonal naive
  forecast, ``mean |insample[t] - insample[t - season]|``, computed on the training part only:
  below 1 the model beats the one-step seasonal naive forecast of the history. It is scale-free
  and defined for series with zeros. When ``season >= len(insample)`` the scale falls back to
  season 1 (there is no full season to difference); when the scale is 0 (a constant in-sample
  part, or fewer than two in-sample values) MASE is undefined and is ``nan``, not ``inf``, so
  that :func:`mean_scores` can leave that origin out.
- Coverage is the share of actual values inside their interval: a calibrated 80% interval
  covers about 80% of them. MSIS (the mean scaled interval score of the M4 competition) scores
  an interval of level ``1 - alpha`` by its width plus ``2/alpha`` times how far each value
  falls outside it, averaged over the horizon and divided by MASE's scale: lower is better; it
  rewards narrow intervals but charges misses, so neither a too-narrow nor a too-wide interval
  wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from rnnkit.core.errors import RnnkitError

SCORE_KEYS = ("mae", "rmse", "smape", "mase")


def _pair(actual, forecast, name: str = "forecast") -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if y.ndim != 1 or y.shape != f.shape:
        raise ValueError(f"actual has shape {y.shape} and {name} {f.shape}; both must be the same (H,)")
    if y.size == 0:
        raise ValueError("no values to score (H = 0)")
    return y, f


def mae(actual, forecast) -> float:
    """Mean absolute error ``mean |y - f|`` of two ``(H,)`` arrays."""
    y, f = _pair(actual, forecast)
    return float(np.mean(np.abs(y - f)))


def rmse(actual, forecast) -> float:
    """Root mean squared error ``sqrt(mean (y - f)^2)`` of two ``(H,)`` arrays."""
    y, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def smape(actual, forecast) -> float:
    """M4 symmetric MAPE ``200/H * sum |y - f| / (|y| + |f|)`` in [0, 200]; a 0/0 term counts 0."""
    y, f = _pair(actual, forecast)
    num = np.abs(y - f)
    den = np.abs(y) + np.abs(f)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(200.0 * np.mean(terms))


def mase_scale(insample, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast, ``mean |x[t] - x[t - m]|`` over ``t >= m``.

    ``insample`` has shape ``(T,)``; ``m = season``, or 1 when ``season >= T``. ``nan`` when there
    is nothing to difference (``T < 2``).
    """
    x = np.asarray(insample, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"insample has shape {x.shape}; it must be (T,)")
    season = int(season)
    if season < 1:
        raise RnnkitError(f"season {season} is below 1; give the number of steps in a seasonal cycle (1 for none)")
    if season >= x.size:
        season = 1
    if x.size < 2:
        return math.nan
    return float(np.mean(np.abs(x[season:] - x[:-season])))


def mase(actual, forecast, insample, season: int) -> float:
    """Mean absolute scaled error: ``mae(actual, forecast) / mase_scale(insample, season)``.

    ``actual`` and ``forecast`` have shape ``(H,)``, ``insample`` (the history the forecast was
    made from) shape ``(T,)``. ``nan`` when the scale is 0 or undefined: a constant in-sample part
    (every seasonal difference is 0) or ``T < 2``.
    """
    scale = mase_scale(insample, season)
    err = mae(actual, forecast)
    if not scale > 0:  # 0 or nan
        return math.nan
    return err / scale


def coverage(actual, lower, upper) -> float:
    """Fraction of ``actual`` values inside their closed interval ``[lower, upper]``; all ``(H,)``."""
    y, lo = _pair(actual, lower, "lower")
    _, hi = _pair(actual, upper, "upper")
    return float(np.mean((y >= lo) & (y <= hi)))


def msis(actual, lower, upper, insample, season: int, level: float) -> float:
    """Mean scaled interval score (M4) of a central ``level``% interval; shapes as in :func:`mase`.

    ``mean_h [(U - L) + 2/alpha (L - y) 1{y < L} + 2/alpha (y - U) 1{y > U}] / mase_scale``
    with ``alpha = 1 - level/100``; ``nan`` when the scale is 0 or undefined.
    """
    y, lo = _pair(actual, lower, "lower")
    _, hi = _pair(actual, upper, "upper")
    if not 0 < level < 100:
        raise ValueError(f"level {level} must be a percentage in (0, 100)")
    alpha = 1 - level / 100
    score = (hi - lo) + 2 / alpha * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    scale = mase_scale(insample, season)
    return float(np.mean(score)) / scale if scale > 0 else math.nan


def interval_scores(actual, bounds: Mapping[float, tuple], insample, season: int) -> dict[str, float]:
    """``{"coverage80", "msis80", "coverage95", ...}`` of one forecast's intervals, ``bounds`` mapping
    each level (a percentage) to its ``(lower, upper)`` arrays of shape ``(H,)``."""
    out = {}
    for level, (lo, hi) in bounds.items():
        out[f"coverage{level:g}"] = coverage(actual, lo, hi)
        out[f"msis{level:g}"] = msis(actual, lo, hi, insample, season, level)
    return out


def scores(actual, forecast, insample, season: int) -> dict[str, float]:
    """``{"mae", "rmse", "smape", "mase"}`` of one forecast; shapes as in :func:`mase`."""
    return {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "smape": smape(actual, forecast),
        "mase": mase(actual, forecast, insample, season),
    }


def mean_scores(per_origin: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each score over origins, leaving out ``nan`` values; ``nan`` where all are ``nan``.

    The keys are those of the dicts in order of first appearance; an origin without a key counts
    as ``nan`` for it. An empty list gives ``{}``.
    """
    rows = list(per_origin)
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    out = {}
    for k in keys:
        values = np.array([row.get(k, math.nan) for row in rows], dtype=np.float64)
        kept = values[~np.isnan(values)]
        out[k] = float(kept.mean()) if kept.size else math.nan
    return out
