"""Forecasting around the network, in numpy: features, windows, original units, intervals, the rollout.

Shared by the PyTorch API (:mod:`rnnkit.forecast.api`) and the exported runtime
(:mod:`rnnkit.forecast.runtime`); they differ only in the ``Distribution`` function that maps
windows to the model's forecast distribution, so both forecast with the same numbers around it.
Imports numpy only (no torch, no pandas)::

    series --features--> Prepared (T - lost, F) --window_arrays--> past (N, W, F), future (N, H, K), base (N,)
        --Distribution--> point (N, H), quantiles (N, H, Q) relative to base
        --predict--> original units, per percentage --bounds--> model or conformal intervals
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.errors import RnnkitError
from .conformal import CALIBRATION_FILE, Bounds, Calibration, spread
from .series import Frequency, Series, calendar_features
from .transforms import ColumnScaler, Transform

# windows (numpy float32: past, future, base), probabilities -> point (N, H), q (N, H, Q) relative to base, and
# for an autoregressive decoder paths (N, S, H), also relative to base
Distribution = Callable[[dict[str, np.ndarray], list[float]], dict[str, np.ndarray]]


@dataclass
class Prepared:
    """A series in the model's space, ready to cut into windows.

    ``inputs (T', F)``: per step the transformed target, the scaled covariates and the calendar;
    ``future (T', K)``: the calendar alone (known for forecast steps); ``T' = T - lost``.
    Index ``i`` in this space is point ``i + lost`` of the original series.
    """

    inputs: np.ndarray
    future: np.ndarray
    lost: int
    feature_names: list[str]


def features(transform: Transform, covariate_scaler: ColumnScaler, series: Series, calendar: bool) -> Prepared:
    z = transform.forward(series.values)  # (T - lost,)
    lost = transform.lost
    cols, names = [z[:, None]], [series.name]
    if series.covariates.shape[1]:
        cols.append(covariate_scaler(series.covariates)[lost:])
        names += series.covariate_names
    cal = np.zeros((len(z), 0))
    if calendar:
        cal, cal_names = calendar_features(series.dates, series.frequency)
        cal = cal[lost:]
        cols.append(cal)
        names += cal_names
    return Prepared(np.concatenate(cols, axis=1), cal, lost, names)


def window_arrays(prep: Prepared, window: int, horizon: int, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Windows at ``starts`` (float32): ``past (N, W, F)``, ``future (N, H, K)``, ``target (N, H)``, ``base (N,)``.

    The target channel of ``past`` and ``target`` are relative to ``base``, the last input value.
    """
    W, H = window, horizon
    x, fut = prep.inputs, prep.future
    idx = starts[:, None] + np.arange(-W, 0)[None]  # (N, W)
    past = x[idx].copy()
    base = past[:, -1, 0].copy()
    past[:, :, 0] -= base[:, None]
    tidx = starts[:, None] + np.arange(H)[None]
    valid = tidx < len(x)
    target = np.where(valid, x[np.minimum(tidx, len(x) - 1), 0], np.nan) - base[:, None]
    future = np.zeros((len(starts), H, fut.shape[1]))
    if fut.shape[1]:
        future = fut[np.minimum(tidx, len(x) - 1)]
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    return {"past": f32(past), "future": f32(future), "target": f32(target), "base": f32(base)}


def predict(transform: Transform, series: Series, prep: Prepared, window: int, horizon: int, starts: np.ndarray,
            percents: tuple[float, ...], distribution: Distribution) -> dict:
    """Forecasts from window ``starts`` of ``prep`` (the features of ``series``) in original units: ``point``
    and each quantile in ``percents`` (keyed by the percentage), ``(N, H)`` each; every row continues its own
    history. Differenced autoregressive forecasts integrate whole sampled paths, then take quantiles."""
    w = window_arrays(prep, window, horizon, starts)
    probs = [p / 100 for p in percents]
    z = distribution(w, probs)
    base = w["base"][:, None]
    histories = [series.values[:s + prep.lost] for s in starts]
    inv = transform.inverse
    out = {"point": np.stack([inv(p, h) for p, h in zip(z["point"] + base, histories)])}
    zq = z["q"] + base[:, :, None]
    q = np.stack([[inv(zq[i, :, j], h) for j in range(len(probs))] for i, h in enumerate(histories)])  # (N, Q, H)
    if "paths" in z and transform.lost:
        paths = z["paths"] + base[:, :, None]
        q = np.stack([np.quantile(inv(paths[i], h), probs, axis=0) for i, h in enumerate(histories)])
    out.update({pc: q[:, j] for j, pc in enumerate(percents)})
    return out


def percents(levels: tuple[float, ...]) -> tuple[float, ...]:
    """The quantiles (percentages) the intervals at ``levels`` need, with the 80% interval's (the spread)."""
    return tuple(sorted({10.0, 90.0} | {50 - lv / 2 for lv in levels} | {50 + lv / 2 for lv in levels}))


def bounds(pred: dict, levels: tuple[float, ...], method: str, calibration: Calibration | None, score: str,
           where: str) -> Bounds:
    """Central intervals at ``levels`` from ``predict``'s output, the model's own or conformal (``where``: the
    run or export that lacks a calibration, for the error)."""
    if method == "model":
        return {lv: (pred[50 - lv / 2], pred[50 + lv / 2]) for lv in levels}
    if calibration is None:
        raise RnnkitError(f"{where} has no {CALIBRATION_FILE} for conformal intervals (it was trained with "
                          f"--intervals model, or before rnnkit had them); use --intervals model, or train again")
    return calibration.intervals(pred["point"], spread(pred[10.0], pred[90.0]), levels, score)


def extend(series: Series, dates: np.ndarray, values: np.ndarray) -> Series:
    """The series continued by ``values`` at ``dates`` (covariates held at their last values)."""
    cov = np.concatenate([series.covariates, np.repeat(series.covariates[-1:], len(values), axis=0)]) \
        if series.covariates.shape[1] else np.zeros((len(series) + len(values), 0))
    return Series(np.concatenate([series.dates, dates.astype(series.dates.dtype)]),
                  np.concatenate([series.values, values]), cov, series.covariate_names, series.name, series.frequency)


def from_end(series: Series, model_horizon: int, steps: int, levels: tuple[float, ...],
             prepare: Callable[[Series], Prepared], predict_at: Callable[[Series, Prepared, np.ndarray], dict],
             intervals: Callable[[dict], Bounds]) -> tuple[np.ndarray, np.ndarray, Bounds]:
    """``steps`` forecasts after the last point of ``series``: dates ``(steps,)``, point ``(steps,)``, bounds.

    Beyond the model's horizon the point forecast is fed back as input, one horizon at a time.
    ``prepare``: a series' features; ``predict_at(series, prep, starts)``: :func:`predict`'s output;
    ``intervals(pred)``: :func:`bounds` of it.
    """
    start, points, parts = len(series), [], {lv: ([], []) for lv in levels}
    while len(series) - start < steps:
        future_dates = series.frequency.next_dates(series.dates[-1], model_horizon)
        # placeholders for the future values: only the calendar of those steps is read
        ext = prepare(extend(series, future_dates, np.full(model_horizon, series.values[-1])))
        pred = predict_at(series, ext, np.array([len(series) - ext.lost]))
        points.append(pred["point"][0])
        for lv, (lo, hi) in intervals(pred).items():
            parts[lv][0].append(lo[0])
            parts[lv][1].append(hi[0])
        series = extend(series, future_dates, pred["point"][0])
    dates = series.dates[start:start + steps]
    return dates, np.concatenate(points)[:steps], {lv: (np.concatenate(lo)[:steps], np.concatenate(hi)[:steps])
                                                   for lv, (lo, hi) in parts.items()}


@dataclass
class Forecast:
    """Forecasts in the original units, shape ``(H,)`` each, with central intervals ``bounds[level] =
    (lower, upper)`` for each level (a percentage), from the model's distribution or conformal (``method``)."""

    dates: np.ndarray
    point: np.ndarray
    bounds: Bounds
    method: str = "model"

    # the default levels by their old names
    lo80 = property(lambda self: self.bounds[80][0])
    hi80 = property(lambda self: self.bounds[80][1])
    lo95 = property(lambda self: self.bounds[95][0])
    hi95 = property(lambda self: self.bounds[95][1])

    def rows(self) -> list[dict]:
        """One dict per step: ``date``, ``forecast``, then ``lo80``, ``hi80``, ... per level."""
        rows = []
        for i, (d, p) in enumerate(zip(self.dates, self.point)):
            row = {"date": str(d), "forecast": float(p)}
            for level, (lo, hi) in self.bounds.items():
                row[f"lo{level:g}"], row[f"hi{level:g}"] = float(lo[i]), float(hi[i])
            rows.append(row)
        return rows


def choose(intervals: str | None, levels: tuple[float, ...] | None, default_intervals: str,
           default_levels: tuple[float, ...]) -> tuple[str, tuple[float, ...]]:
    """The interval method and levels of a forecast: the arguments, else the run's defaults."""
    if intervals not in (None, "model", "conformal"):
        raise RnnkitError(f"--intervals must be model or conformal, got {intervals!r}")
    return intervals or default_intervals, tuple(levels) if levels else tuple(default_levels)


def check_history(series: Series, window: int, lost: int) -> Series:
    """``series`` if it is long enough to forecast from: a window after the points the differences consume."""
    if len(series) < window + lost:
        raise RnnkitError(f"the history has {len(series)} points; the model reads {window + lost} (its window of "
                          f"{window} + {lost} lost to differencing): pass a longer history")
    return series


# -- the series in a run or an export (series.json) ----------------------------------------------
def series_json(s: Series) -> dict:
    f = s.frequency
    return {"name": s.name, "dates": [str(d) for d in s.dates], "values": s.values.tolist(),
            "covariates": s.covariates.tolist(), "covariate_names": s.covariate_names,
            "frequency": {"name": f.name, "step": int(f.step.astype(np.int64)),
                          "unit": np.datetime_data(f.step.dtype)[0], "season": f.season, "day": f.day},
            "report": s.report}


def series_from_json(d: dict) -> Series:
    f = d["frequency"]
    freq = Frequency(f["name"], np.timedelta64(f["step"], f["unit"]), f["season"], f["day"])
    cov = np.array(d["covariates"], dtype=np.float64).reshape(len(d["values"]), len(d["covariate_names"]))
    return Series(np.array(d["dates"], dtype="datetime64"), np.array(d["values"], dtype=np.float64), cov,
                  d["covariate_names"], d["name"], freq, d["report"])
