"""Rolling-origin backtests: rnnkit's model against baselines, with nothing fitted on the future.

For ``K`` origins at the end of a series (``origin_k = T - (K - k) * H``, ``k = 0..K-1``, so the
forecast windows do not overlap and the last one ends at the last point), every model is
fitted on the history before the origin only (rnnkit's model is trained from scratch, its
transforms and scalers refitted, in ``OUT/runs/origin-k``) and forecasts the next ``H``
points. Scores are MAE, RMSE, sMAPE (M4, 0-200) and MASE scaled by the in-sample seasonal
naive error of each history, and per interval level coverage and MSIS (same scale), averaged
over the origins.

Baselines always included: naive, seasonal naive, drift and a least-squares AR(p)
(:mod:`rnnkit.forecast.baselines`, with their textbook intervals); with
``pip install 'rnnkit[forecast]'`` also statsforecast's AutoETS and AutoARIMA (their own
intervals). rnnkit's row has the intervals its configuration asks for (``--intervals``); the
rows ``rnnkit:model``, ``rnnkit:conformal-scaled`` and ``rnnkit:conformal-absolute`` score the
same median forecasts with each kind of interval (the last two when the runs are calibrated).
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
from .conformal import SCORES
from .series import Series, read_series
from .task import ForecastConfig, default_horizon

OWN = api.OWN


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
    levels: tuple[float, ...] = ()
    bands: dict[float, list[tuple[list[float], list[float]]]] = field(default_factory=dict)  # rnnkit's, per origin
    notes: list[str] = field(default_factory=list)

    @property
    def coverage80(self) -> float | None:  # rnnkit's interval coverage over all origins
        return self.scores.get(OWN, {}).get("coverage80")

    @property
    def coverage95(self) -> float | None:
        return self.scores.get(OWN, {}).get("coverage95")

    def to_json(self) -> dict:
        return {"series": self.series, "horizon": self.horizon, "season": self.season, "origins": self.origins,
                "levels": list(self.levels), "models": self.scores, "seconds": self.seconds,
                "coverage80": self.coverage80, "coverage95": self.coverage95, "per_origin": self.per_origin,
                "notes": self.notes}


def backtest(config: ForecastConfig, out: str | Path, origins: int = 5, season: int | None = None,
             series: Series | None = None, models: tuple[str, ...] | None = None,
             on_origin: Callable[[str], None] | None = None, statsforecast_season: int | None = None) -> BacktestResult:
    """Run the backtest (see the module docstring); writes tables, a plot and origin runs under ``out``.

    Intervals at the levels of ``config.forecast.levels``; AutoETS and AutoARIMA are fitted with
    ``statsforecast_season`` (default :func:`~rnnkit.forecast.baselines.statsforecast_season` of the season).
    """
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
    levels = config.forecast.level_values
    wanted = models or (OWN, *baselines.BASELINES, "autoets", "autoarima")
    extra = baselines.statsforecast_models(statsforecast_season or baselines.statsforecast_season(m))
    notes = []
    if not extra and any(n in wanted for n in ("autoets", "autoarima")) and models is None:
        notes.append("statsforecast is not installed: AutoETS and AutoARIMA left out (pip install 'rnnkit[forecast]')")
    extra = {k: v for k, v in extra.items() if k in wanted}
    names = [n for n in (*baselines.BASELINES, *extra) if n in wanted]
    train_cfg = dataclasses.replace(config, train=dataclasses.replace(config.train, test_size=0),
                                    model=dataclasses.replace(config.model, horizon=H))
    per: dict[str, list] = {}
    fcs: dict[str, list] = {}
    secs: dict[str, float] = {}
    bands: dict[float, list] = {lv: [] for lv in levels}
    actuals, labels = [], []
    for k in range(origins):
        cut = first + k * H
        history = api.head(series, cut)
        actual = series.values[cut:cut + H]
        labels.append(str(series.dates[cut]))
        actuals.append(actual.tolist())
        if on_origin:
            on_origin(f"origin {k + 1}/{origins}: forecasting {labels[-1]} onwards from {cut} points")
        preds = {}
        if OWN in wanted:
            t0 = time.perf_counter()
            run_dir = out / "runs" / f"origin-{k + 1}"
            api.train(train_cfg, run_dir, overwrite=True, series=history)
            preds.update(_own_forecasts(api.load(run_dir), levels))
            secs[OWN] = secs.get(OWN, 0.0) + time.perf_counter() - t0
            for lv in levels:
                bands[lv].append(tuple(b.tolist() for b in preds[OWN][1][lv]))
        for name in names:
            t0 = time.perf_counter()
            if name in extra:
                preds[name] = extra[name](history.values, H, levels=levels)
            else:
                preds[name] = baselines.with_intervals(name, history.values, H, m, levels)
            secs[name] = secs.get(name, 0.0) + time.perf_counter() - t0
        for name, (pred, bounds) in preds.items():
            fcs.setdefault(name, []).append(np.asarray(pred, dtype=float).tolist())
            per.setdefault(name, []).append({**metrics.scores(actual, pred, history.values, m),
                                             **metrics.interval_scores(actual, bounds, history.values, m)})
    result = BacktestResult(series.name, H, m, labels, {n: metrics.mean_scores(rows) for n, rows in per.items()}, per,
                            fcs, actuals, secs, levels, bands, notes)
    write(result, out)
    plot(result, series, first, out / "backtest.png")
    return result


def _own_forecasts(run: api.ForecastRun, levels: tuple[float, ...]) -> dict[str, tuple]:
    """rnnkit's forecast with the intervals its run asks for, and the same median with each kind of interval."""
    f = api.forecast(run, levels=levels)
    out = {OWN: (f.point, f.bounds), f"{OWN}:model": (f.point, api.forecast(run, intervals="model", levels=levels).bounds)}
    if run.calibration is not None:
        for score in SCORES:
            variant = dataclasses.replace(run, config=dataclasses.replace(
                run.config, forecast=dataclasses.replace(run.config.forecast, conformal_score=score)))
            out[f"{OWN}:conformal-{score}"] = (f.point, api.forecast(variant, intervals="conformal", levels=levels).bounds)
    return out


def markdown(result: BacktestResult) -> str:
    """The table of mean scores: point scores, then coverage and MSIS per level, then seconds."""
    lv = [f"{level:g}" for level in result.levels]
    head = "| model | MASE | sMAPE | MAE | RMSE | " + "".join(f"cover {x}% | MSIS {x} | " for x in lv) + "seconds |"
    lines = [head, "|---|" + "---:|" * (5 + 2 * len(lv))]
    best = min((s["mase"] for s in result.scores.values() if np.isfinite(s["mase"])), default=None)
    for name, s in result.scores.items():
        mase = f"**{s['mase']:.3f}**" if best is not None and s["mase"] == best else f"{s['mase']:.3f}"
        cells = "".join(f"{s[f'coverage{x}']:.0%} | {s[f'msis{x}']:.2f} | " for x in lv)
        secs = f"{result.seconds[name]:.1f}" if name in result.seconds else "-"
        lines.append(f"| {name} | {mase} | {s['smape']:.2f} | {s['mae']:.4g} | {s['rmse']:.4g} | {cells}{secs} |")
    return "\n".join(lines)


def write(result: BacktestResult, out: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = list(metrics.SCORE_KEYS) + [f"{k}{level:g}" for level in result.levels for k in ("coverage", "msis")]
    w.writerow(["model", "origin", "first_date", *keys])
    for name, rows in result.per_origin.items():
        for k, s in enumerate(rows):
            w.writerow([name, k + 1, result.origins[k], *(f"{s[key]:.6g}" for key in keys)])
    atomic_write_bytes(out / "backtest.csv", buf.getvalue().encode("utf-8"))
    head = (f"# Backtest: {result.series}, horizon {result.horizon}, {len(result.origins)} origins, "
            f"MASE season {result.season}\n\n")
    atomic_write_bytes(out / "backtest.md", (head + markdown(result) + "\n").encode("utf-8"))
    atomic_write_bytes(out / "backtest.json", json.dumps(result.to_json(), indent=1).encode("utf-8"))


def plot(result: BacktestResult, series: Series, first: int, path: Path) -> None:
    """The series' last stretch with every model's forecasts at every origin, rnnkit's intervals as bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    H, K = result.horizon, len(result.origins)
    start = max(0, first - 4 * H)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(series.dates[start:], series.values[start:], color="black", lw=1, label="actual")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, level in enumerate(sorted(result.bands, reverse=True)):
        for k, (lo, hi) in enumerate(result.bands[level]):
            d = series.dates[first + k * H:first + (k + 1) * H]
            ax.fill_between(d, lo[:len(d)], hi[:len(d)], color=colors[0], alpha=0.12 * (j + 1), lw=0,
                            label=f"{OWN} {level:g}%" if k == 0 else None)
    shown = [n for n in result.forecasts if not n.startswith(f"{OWN}:")]  # the variants share rnnkit's median
    for i, name in enumerate(shown):
        fcs = result.forecasts[name]
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
