"""Rolling-origin backtests: rnnkit's model against baselines, with nothing fitted on the future.

For ``K`` origins at the end of a series (``origin_k = T - (K - k) * H``, ``k = 0..K-1``, so the
forecast windows do not overlap and the last one ends at the last point), every model is
fitted on the history before the origin only (rnnkit's model is trained from scratch, its
transforms and scalers refitted, in ``OUT/runs/origin-k``) and forecasts the next ``H``
points. Scores are MAE, RMSE, sMAPE (M4, 0-200) and MASE scaled by the in-sample seasonal
naive error of each history, averaged over the origins.

Baselines always included: naive, seasonal naive, drift and a least-squares AR(p)
(:mod:`rnnkit.forecast.baselines`); with ``pip install 'rnnkit[forecast]'`` also
statsforecast's AutoETS and AutoARIMA.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes, save_figure
from . import api, baselines, metrics
from .series import Series, read_series
from .task import ForecastConfig, default_horizon

OWN = "rnnkit"


@dataclass
class BacktestResult:
    series: str
    horizon: int
    season: int
    origins: list[str]  # the first forecast date of each origin
    scores: dict[str, dict[str, float]]  # model -> mean scores over origins
    per_origin: dict[str, list[dict[str, float]]]  # model -> scores per origin
    forecasts: dict[str, list[list[float]]]  # model -> (K, H) forecasts
    actuals: list[list[float]]  # (K, H)
    seconds: dict[str, float]  # model -> fitting and forecasting time over all origins
    coverage80: float | None = None  # rnnkit's interval coverage over all origins
    coverage95: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"series": self.series, "horizon": self.horizon, "season": self.season, "origins": self.origins,
                "models": self.scores, "seconds": self.seconds, "coverage80": self.coverage80,
                "coverage95": self.coverage95, "per_origin": self.per_origin, "notes": self.notes}


def backtest(config: ForecastConfig, out: str | Path, origins: int = 5, season: int | None = None,
             series: Series | None = None, models: tuple[str, ...] | None = None,
             on_origin: Callable[[str], None] | None = None) -> BacktestResult:
    """Run the backtest (see the module docstring); writes tables, a plot and origin runs under ``out``."""
    if origins < 1:
        raise RnnkitError(f"--origins must be at least 1, got {origins}")
    series = series if series is not None else read_series(config.data)
    H = config.model.horizon or default_horizon(series.frequency)
    m = season or series.frequency.season
    if m < 1:
        raise RnnkitError(f"--season must be at least 1, got {m}")
    T = len(series)
    first = T - origins * H
    if first < 2:
        raise RnnkitError(f"the series has {T} points, too few for {origins} origins of horizon {H}; "
                          f"use fewer --origins or a shorter --horizon")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    forecasters: dict[str, Callable] = {}
    wanted = models or (OWN, *baselines.BASELINES, "autoets", "autoarima")
    for name, fn in baselines.BASELINES.items():
        if name in wanted:
            forecasters[name] = fn
    extra = baselines.statsforecast_models(m)
    notes = []
    if not extra and any(n in wanted for n in ("autoets", "autoarima")) and models is None:
        notes.append("statsforecast is not installed: AutoETS and AutoARIMA left out (pip install 'rnnkit[forecast]')")
    forecasters.update({k: v for k, v in extra.items() if k in wanted})
    train_cfg = dataclasses.replace(config, train=dataclasses.replace(config.train, test_size=0),
                                    model=dataclasses.replace(config.model, horizon=H))
    names = ([OWN] if OWN in wanted else []) + list(forecasters)
    per: dict[str, list] = {n: [] for n in names}
    fcs: dict[str, list] = {n: [] for n in names}
    secs = {n: 0.0 for n in names}
    actuals, labels, cov80, cov95 = [], [], [], []
    for k in range(origins):
        cut = first + k * H
        history = _head(series, cut)
        actual = series.values[cut:cut + H]
        labels.append(str(series.dates[cut]))
        actuals.append(actual.tolist())
        if on_origin:
            on_origin(f"origin {k + 1}/{origins}: forecasting {labels[-1]} onwards from {cut} points")
        for name in names:
            t0 = time.perf_counter()
            if name == OWN:
                run_dir = out / "runs" / f"origin-{k + 1}"
                api.train(train_cfg, run_dir, overwrite=True, series=history)
                f = api.forecast(api.load(run_dir))
                pred = f.point
                cov80.append(metrics.coverage(actual, f.lo80, f.hi80))
                cov95.append(metrics.coverage(actual, f.lo95, f.hi95))
            else:
                pred = forecasters[name](history.values, H, m)
            secs[name] += time.perf_counter() - t0
            fcs[name].append(np.asarray(pred, dtype=float).tolist())
            per[name].append(metrics.scores(actual, pred, history.values, m))
    result = BacktestResult(series.name, H, m, labels, {n: metrics.mean_scores(per[n]) for n in names}, per, fcs,
                            actuals, secs, float(np.mean(cov80)) if cov80 else None,
                            float(np.mean(cov95)) if cov95 else None, notes)
    write(result, out)
    plot(result, series, first, out / "backtest.png")
    return result


def _head(series: Series, n: int) -> Series:
    return Series(series.dates[:n], series.values[:n], series.covariates[:n], series.covariate_names, series.name,
                  series.frequency, [])


def markdown(result: BacktestResult) -> str:
    lines = ["| model | MASE | sMAPE | MAE | RMSE | seconds |", "|---|---:|---:|---:|---:|---:|"]
    best = min((s["mase"] for s in result.scores.values() if np.isfinite(s["mase"])), default=None)
    for name, s in result.scores.items():
        mase = f"**{s['mase']:.3f}**" if best is not None and s["mase"] == best else f"{s['mase']:.3f}"
        lines.append(f"| {name} | {mase} | {s['smape']:.2f} | {s['mae']:.4g} | {s['rmse']:.4g} | "
                     f"{result.seconds[name]:.1f} |")
    return "\n".join(lines)


def write(result: BacktestResult, out: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "origin", "first_date", "mae", "rmse", "smape", "mase"])
    for name, rows in result.per_origin.items():
        for k, s in enumerate(rows):
            w.writerow([name, k + 1, result.origins[k], *(f"{s[key]:.6g}" for key in metrics.SCORE_KEYS)])
    atomic_write_bytes(out / "backtest.csv", buf.getvalue().encode("utf-8"))
    head = (f"# Backtest: {result.series}, horizon {result.horizon}, {len(result.origins)} origins, "
            f"MASE season {result.season}\n\n")
    atomic_write_bytes(out / "backtest.md", (head + markdown(result) + "\n").encode("utf-8"))
    atomic_write_bytes(out / "backtest.json", json.dumps(result.to_json(), indent=1).encode("utf-8"))


def plot(result: BacktestResult, series: Series, first: int, path: Path) -> None:
    """The series' last stretch with every model's forecasts at every origin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    H, K = result.horizon, len(result.origins)
    start = max(0, first - 4 * H)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(series.dates[start:], series.values[start:], color="black", lw=1, label="actual")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, fcs) in enumerate(result.forecasts.items()):
        for k in range(K):
            d = series.dates[first + k * H:first + (k + 1) * H]
            ax.plot(d, fcs[k][:len(d)], color=colors[i % len(colors)], lw=1.8 if name == OWN else 0.9,
                    label=name if k == 0 else None)
    for k in range(K):
        ax.axvline(series.dates[first + k * H], color="grey", lw=0.5, ls=":")
    ax.set_title(f"{result.series}: rolling-origin backtest, horizon {H}")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    fig.autofmt_xdate()
    fig.tight_layout()
    save_figure(fig, path)
