"""An exported forecaster, run with numpy and onnxruntime (no torch): ``rnnkit.runtime.load(DIR).forecast()``.

The ``forecaster`` graph (see :mod:`rnnkit.forecast.export`) gives the distribution of a window; an
autoregressive decoder's ``encoder`` and ``decoder_step`` graphs are run one step at a time here in numpy,
feeding back the point forecast (the same path as PyTorch's) or, for the model's intervals, values drawn
from each step's distribution with numpy's generator (``seed``): those intervals equal PyTorch's in
distribution, not draw for draw (PyTorch's generator is not numpy's); conformal intervals with the
``absolute`` score do not sample and equal PyTorch's. The features, windows, original units, rollout past
the horizon and intervals are :mod:`rnnkit.forecast.rollout`, the same code ``rnnkit.forecast.forecast`` runs::

    from rnnkit import runtime
    f = runtime.load("runs/air/onnx").forecast()   # f.dates, f.point, f.bounds[95] = (lower, upper)
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from ..core.errors import RnnkitError
from ..runtime.exported import Exported
from .conformal import Calibration
from .rollout import (Forecast, Prepared, bounds, check_history, choose, features, from_end, percents, predict,
                      series_from_json)
from .series import Series
from .transforms import ColumnScaler, Transform

# as rnnkit.forecast.export writes them
GRAPH, ENCODER, STEP, SERIES = "forecaster", "encoder", "decoder_step", "series.json"
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)  # rnnkit.forecast.model.QUANTILES: the graph's quantile outputs
MEDIAN = QUANTILES.index(0.5)


def quantiles(out: np.ndarray, likelihood: str, probs: list[float]) -> np.ndarray:
    """The distribution ``out (..., H, P)``'s quantiles at ``probs``: ``(..., H, Q)`` float32, as
    ``Forecaster.quantiles`` computes them (gaussian ``mean + z(p) std``; else linear between QUANTILES)."""
    p = np.asarray(probs, dtype=np.float32)
    if likelihood == "gaussian":
        z = np.array([NormalDist().inv_cdf(float(v)) for v in probs], dtype=np.float32)
        return out[..., :1] + out[..., 1:2] * z
    levels = np.array(QUANTILES, dtype=np.float32)
    i = np.clip(np.searchsorted(levels, p, side="left"), 1, len(QUANTILES) - 1)
    lo_l, hi_l = levels[i - 1], levels[i]
    lo_v, hi_v = out[..., i - 1], out[..., i]
    return lo_v + (p - lo_l) / (hi_l - lo_l) * (hi_v - lo_v)


def point(out: np.ndarray, likelihood: str) -> np.ndarray:
    """The point forecast of ``out (..., P)``: the median, or the mean (``Forecaster.point``)."""
    return out[..., MEDIAN] if likelihood == "quantile" else out[..., 0]


def draw(dist: np.ndarray, likelihood: str, rng: np.random.Generator) -> np.ndarray:
    """One value per row of ``dist (N, P)`` with numpy's ``rng``, as ``Forecaster._draw`` draws with PyTorch's:
    Gaussian, or a uniform level's quantile interpolated linearly (outer segments extended)."""
    if likelihood == "gaussian":
        return (dist[:, 0] + dist[:, 1] * rng.standard_normal(len(dist), dtype=np.float32)).astype(np.float32)
    u = rng.random(len(dist), dtype=np.float32)
    levels = np.array(QUANTILES, dtype=np.float32)
    i = np.clip(np.searchsorted(levels, u, side="left"), 1, len(QUANTILES) - 1)
    rows = np.arange(len(dist))
    lo_v, hi_v = dist[rows, i - 1], dist[rows, i]
    return (lo_v + (u - levels[i - 1]) / (levels[i] - levels[i - 1]) * (hi_v - lo_v)).astype(np.float32)


class ExportedForecaster(Exported):
    """A forecaster export: ``forecast(horizon, ...)`` from the end of the run's series or a given history."""

    def __init__(self, folder, manifest: dict, threads: int | None = None):
        super().__init__(folder, manifest, threads)
        d = self.data
        self.series: Series = series_from_json(self.json(SERIES))
        self.transform = Transform.from_json(d["transform"])
        self.covariate_scaler = ColumnScaler(**d["covariate_scaler"])
        self.horizon, self.window = d["layout"]["horizon"], d["layout"]["window"]
        self.likelihood = d["likelihood"]
        self.decoder = d.get("decoder", "direct")
        self.use = dict(d["use"])  # the run's rnnkit forecast options (ForecastUseConfig), as it was trained
        self.calibration = Calibration.from_json(d["calibration"]) if d.get("calibration") else None

    def distribution(self, past: np.ndarray, future: np.ndarray) -> np.ndarray:
        """Windows ``past (B, W, F)``, calendar ``future (B, H, K)`` -> ``(B, H, P)`` (model space, relative to
        each window's last value); an autoregressive decoder's along the point-fed path."""
        past = np.ascontiguousarray(past, dtype=np.float32)
        future = np.ascontiguousarray(future, dtype=np.float32)
        if self.decoder == "autoregressive":
            return self._decode(past, future)
        inputs = {"past": past}
        if "future" in self.manifest["graphs"][GRAPH]["inputs"]:
            inputs["future"] = future
        return self.run(GRAPH, **inputs)["distribution"]

    def _decode(self, past: np.ndarray, future: np.ndarray, samples: int = 0,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """The autoregressive loop (``Forecaster.generate``): ``samples == 0`` feeds back the point forecast and
        returns ``(B, H, P)``; else ``samples`` paths per window, each step's value drawn from its distribution
        with ``rng`` and fed back: ``(B, samples, H)``."""
        state = self.run(ENCODER, past=past)  # h (L, B, D) [, c]
        n, prev = max(samples, 1), past[:, -1, 0]
        if samples:
            state = {k: np.repeat(v, n, axis=1) for k, v in state.items()}
            future, prev = np.repeat(future, n, axis=0), np.repeat(prev, n)
        outs = []
        for t in range(future.shape[1]):
            x = np.concatenate([prev[:, None], future[:, t]], axis=1).astype(np.float32)
            got = self.run(STEP, x=x, **state)
            dist = got.pop("distribution")  # (B*n, P)
            state = {k.removesuffix("_next"): v for k, v in got.items()}
            prev = draw(dist, self.likelihood, rng) if samples else point(dist, self.likelihood)
            outs.append(prev if samples else dist)
        if samples:
            return np.stack(outs, axis=-1).reshape(past.shape[0], n, -1)
        return np.stack(outs, axis=1)

    def _prepare(self, series: Series) -> Prepared:
        return features(self.transform, self.covariate_scaler, series, self.data["calendar"])

    def _relative(self, w: dict[str, np.ndarray], probs: list[float], samples: int, seed: int) -> dict[str, np.ndarray]:
        """``rollout.Distribution``: as ``rnnkit.forecast.api``'s, with numpy's generator seeded by ``seed``."""
        out = self.distribution(w["past"], w["future"])
        if self.decoder == "autoregressive":
            paths = self._decode(w["past"], w["future"], samples, np.random.default_rng(seed))  # (N, S, H)
            q = np.quantile(paths, probs, axis=1).transpose(1, 2, 0).astype(np.float32)  # (N, H, Q)
            return {"point": point(out, self.likelihood), "q": q, "paths": paths}
        return {"point": point(out, self.likelihood), "q": quantiles(out, self.likelihood, probs)}

    def forecast(self, horizon: int | None = None, samples: int | None = None, seed: int = 0,
                 intervals: str | None = None, levels: tuple[float, ...] | None = None,
                 history: Series | dict | None = None) -> Forecast:
        """Forecast ``horizon`` steps (default: the model's) after the last point
        of the run's series, or of ``history``: a ``Series`` or a dict as in ``series.json`` (``dates``,
        ``values`` and, for a model with covariates, ``covariates (T, C)``). Intervals at ``levels`` made as
        ``intervals`` says (``model`` or ``conformal``); defaults as the run's (``rnnkit forecast``).
        An autoregressive decoder's model intervals are the quantiles of ``samples`` paths (default: the run's)
        drawn with numpy's generator seeded by ``seed``: reproducible, and equal to PyTorch's in distribution,
        not draw for draw; its point forecast equals PyTorch's."""
        H = horizon or self.horizon
        samples = samples or self.use["samples"]
        if samples < 1:
            raise RnnkitError(f"--samples must be at least 1, got {samples}")
        if H < 1:
            raise RnnkitError(f"--horizon must be at least 1, got {H}")
        method, levels = choose(intervals, levels, self.use["intervals"],
                                tuple(float(v) for v in self.use["levels"].split(",") if v.strip()))
        series = self.series if history is None else check_history(posted_series(self.series, history), self.window,
                                                                    self.transform.lost)
        pcs = percents(levels)
        dates, point, bounds_ = from_end(
            series, self.horizon, H, levels, self._prepare,
            lambda s, prep, starts: predict(self.transform, s, prep, self.window, self.horizon, starts, pcs,
                                            lambda w, probs: self._relative(w, probs, samples, seed)),
            lambda pred: bounds(pred, levels, method, self.calibration, self.use["conformal_score"], str(self.folder)))
        return Forecast(dates, point, bounds_, method)


def posted_series(s: Series, history: Series | dict) -> Series:
    """``history`` (a ``Series``, or a dict of ``dates``, ``values`` and optional ``covariates``) as a ``Series``
    with the columns and frequency of the run's series ``s``; one-line errors."""
    if isinstance(history, Series):
        return history
    if not isinstance(history, dict) or "values" not in history or "dates" not in history:
        raise RnnkitError("history must be a Series or a dict with dates and values (as in the export's "
                          "series.json); pass history={'dates': [...], 'values': [...]}")
    try:
        values = np.asarray(history["values"], dtype=np.float64).reshape(-1)
        dates = np.asarray(history["dates"], dtype="datetime64")
        cov = np.asarray(history.get("covariates", np.zeros((len(values), 0))), dtype=np.float64)
        cov = cov.reshape(len(values), len(s.covariate_names))
    except (TypeError, ValueError) as e:
        raise RnnkitError(f"history could not be read ({e}); pass dates as ISO strings, values as numbers and "
                          f"covariates as {len(s.covariate_names)} numbers per date") from None
    if len(dates) != len(values) or not np.isfinite(values).all():
        raise RnnkitError(f"history has {len(dates)} dates and {len(values)} values, some not finite; pass one "
                          f"finite value per date")
    return Series(dates.astype(s.dates.dtype), values, cov, s.covariate_names, s.name, s.frequency)
