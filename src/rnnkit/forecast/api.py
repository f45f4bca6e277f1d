"""Forecasting from Python: train, load, forecast, evaluate, plot.

>>> from rnnkit.forecast import api as fc
>>> cfg = fc.ForecastConfig()
>>> cfg.data.data, cfg.model.horizon = "airline-passengers.csv", 12
>>> fc.train(cfg, "runs/air")
>>> run = fc.load("runs/air")
>>> f = fc.forecast(run)                 # from the end of the series: f.dates, f.point, f.bounds[95] ...
>>> fc.evaluate(run, "test").scores      # {"mae", "rmse", "smape", "mase", "coverage80", "msis80", ...}

A run directory holds the series as it was read (``series.json``: dates, values, covariates),
so forecasting and evaluating need neither the CSV nor ``../shared/data``; with conformal
intervals (the default) it also holds ``calibration.json``, the forecast errors the intervals are
calibrated on (:mod:`rnnkit.forecast.conformal`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core import checkpoint, distributed, rundir, trainer
from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..core.fileio import read_json, save_figure, write_json
from ..core.rundir import LAST
from ..core.trainer import Event, fit, resolve_device
from . import baselines, metrics
from .conformal import CALIBRATION_FILE, Bounds, Calibration, spread
from .model import Forecaster
from .rollout import (Forecast, Prepared, bounds, check_history, choose, features, from_end, percents, predict,
                      series_from_json, series_json)
from .series import Series, read_series
from .task import (KIND, ForecastConfig, ForecastTask, Layout, config_from_meta, layout, make_windows, training_starts,
                   window_starts)
from .transforms import ColumnScaler, Transform

SERIES_FILE = "series.json"
OWN = "rnnkit"  # rnnkit's own model among the baselines


@dataclass
class TrainResult(trainer.TrainResult):
    horizon: int = 0
    window: int = 0
    windows: int = 0  # training windows


@dataclass
class ForecastRun:
    """A trained forecaster with everything needed to use it."""

    model: Forecaster
    config: ForecastConfig
    transform: Transform
    covariate_scaler: ColumnScaler
    layout: Layout
    series: Series
    device: torch.device
    source: Path
    calibration: Calibration | None = None  # conformal intervals' calibration set (None: trained without)


@dataclass
class Evaluation:
    split: str
    scores: dict[str, float]  # mae, rmse, smape, mase, coverageL, msisL per level (means over the split's origins)
    origins: int
    horizon: int
    season: int
    forecasts: np.ndarray  # (origins, H) point forecasts in original units
    intervals: str = "model"  # how the intervals were made
    baselines: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # name -> the same scores

    coverage80 = property(lambda self: self.scores.get("coverage80", float("nan")))
    coverage95 = property(lambda self: self.scores.get("coverage95", float("nan")))

    def to_json(self) -> dict:
        return {**self.scores, "intervals": self.intervals, "split": self.split, "origins": self.origins,
                "horizon": self.horizon, "season": self.season, "baselines": self.baselines}


# -- training ----------------------------------------------------------------------------------
def train(config: ForecastConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None,
          series: Series | None = None) -> TrainResult:
    """Train a forecaster as ``config`` says, writing the run to ``out``.

    ``series`` replaces reading ``config.data`` (the backtest passes each origin's history).
    """
    out = Path(out)
    config = from_dict(ForecastConfig, dataclasses.asdict(config))  # re-validate fields set after construction
    device = distributed.setup(config.train, distributed.identity(config, out, resume))
    distributed.main_first(lambda: rundir.check_target(out, resume, overwrite))
    if resume:
        series = series_from_json(read_json(out / SERIES_FILE))
    else:
        series = series if series is not None else read_series(config.data)
    # everything that can reject the data happens before the run directory is touched
    lay = layout(config, len(series), series.frequency)
    transform = Transform.fit(config.transform, series.values[:lay.train_end])
    scaler = ColumnScaler.fit(config.transform.scale, config.transform.scale_range, series.covariates[:lay.train_end])
    prep = features(transform, scaler, series, config.transform.calendar)
    train_starts = training_starts(prep, lay, config.train.data_fraction, config.train.seed)
    train_w = make_windows(prep, lay, train_starts)
    val_w = make_windows(prep, lay, window_starts(prep, lay, "val"))
    if len(train_w["target"]) == 0 or len(val_w["target"]) == 0:
        raise RnnkitError(f"no {'training' if len(train_w['target']) == 0 else 'validation'} window fits; "
                          f"use a smaller --window or --horizon")

    def write_run() -> None:  # rank 0 (the only process without torchrun)
        if not resume:
            with rundir.preparing(out) as tmp:
                write_json(tmp / SERIES_FILE, series_json(series))
        write_json(out / rundir.CONFIG_FILE, dataclasses.asdict(config))

    distributed.main_first(write_run)
    tcfg = config.train
    if tcfg.eval_every is None:
        tcfg = dataclasses.replace(tcfg, eval_every=-(-len(train_w["target"]) // tcfg.batch_size))
    torch.manual_seed(config.train.seed)  # fixes initialization and dropout
    model = Forecaster(config.model, lay.window, lay.horizon, prep.inputs.shape[1], prep.future.shape[1])
    meta = {"kind": KIND, "config": dataclasses.asdict(config), "layout": lay.to_json(),
            "transform": transform.to_json(), "covariate_scaler": scaler.to_json(), "features": prep.feature_names,
            "train_windows": {"first": int(train_starts[0]), "count": len(train_starts),
                              "whole": len(window_starts(prep, lay, "train"))}}
    task = ForecastTask(model, train_w, val_w, config, meta, device)
    result = fit(task, tcfg, out, device, resume_from=out / LAST if resume else None, on_event=on_event,
                 stop_after=stop_after)
    st = result.state
    if st.stopped and config.forecast.intervals == "conformal":  # a finished run (not one cut short to resume)
        cal = calibrate(config, out, series, lay)
        distributed.main_first(lambda: write_json(out / CALIBRATION_FILE, cal.to_json()))
    return TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens,
                       lay.horizon, lay.window, len(train_w["target"]))


# -- conformal calibration ---------------------------------------------------------------------
def calibrate(config: ForecastConfig, out: Path, series: Series, lay: Layout) -> Calibration:
    """The calibration set of the run in ``out`` (see :mod:`rnnkit.forecast.conformal`): its validation
    windows, then rolling validation origins one horizon earlier each until there are enough.

    No calibration target lies in the test part: every fit sees ``series[:end]`` with ``end <=
    lay.val_end`` and forecasts only its own validation part.
    """
    parts = [_validation_errors(load(out))]
    fits = [{"points": lay.val_end, "windows": len(parts[0][0])}]
    val_size = lay.val_end - lay.train_end
    rolled = dataclasses.replace(
        config, model=dataclasses.replace(config.model, horizon=lay.horizon),
        train=dataclasses.replace(config.train, test_size=0, val_size=val_size),
        forecast=dataclasses.replace(config.forecast, intervals="model"))  # no calibration of the calibration
    k = 1
    while sum(len(r) for r, _ in parts) < config.calibration.calibration_windows:
        end = lay.val_end - k * lay.horizon
        try:
            layout(rolled, end, series.frequency)
        except RnnkitError:  # too short for another fit
            break
        fit_dir = out / "calibration" / f"fit-{k}"
        train(rolled, fit_dir, overwrite=True, series=head(series, end))
        parts.append(_validation_errors(load(fit_dir)))
        fits.append({"points": end, "windows": len(parts[-1][0])})
        k += 1
    return Calibration(np.concatenate([r for r, _ in parts]), np.concatenate([s for _, s in parts]), fits)


def _validation_errors(run: ForecastRun) -> tuple[np.ndarray, np.ndarray]:
    """Residuals (actual - median) and the model's spread, ``(n, H)`` each, of every validation window."""
    prep = prepare_features(run, run.series)
    starts = window_starts(prep, run.layout, "val")
    pred = _predict(run, run.series, prep, starts, (10.0, 90.0), run.config.forecast.samples, 0)
    H, lost = run.layout.horizon, prep.lost
    actual = np.stack([run.series.values[s + lost:s + lost + H] for s in starts])
    return actual - pred["point"], spread(pred[10.0], pred[90.0])


def head(series: Series, n: int) -> Series:
    """The first ``n`` points of ``series`` (what a forecast made at point ``n`` may see)."""
    return Series(series.dates[:n], series.values[:n], series.covariates[:n], series.covariate_names, series.name,
                  series.frequency, [])


# -- using a trained model ---------------------------------------------------------------------
def load(path: str | Path, device: str = "cpu", which: str = "best") -> ForecastRun:
    """Load a run directory's ``best`` (or ``last``) checkpoint onto ``device``."""
    ckpt = rundir.checkpoint_path(Path(path), which)
    tensors, meta = checkpoint.load(ckpt)
    if meta.get("kind") != KIND:
        raise RnnkitError(f"{path} holds a {meta.get('kind')} model, not a forecaster")
    cfg = config_from_meta(meta)
    lay = Layout(**meta["layout"])
    run_dir = ckpt.parent
    if not (run_dir / SERIES_FILE).is_file():
        raise RnnkitError(f"{run_dir} has no {SERIES_FILE}; a forecast run keeps its series beside its checkpoints")
    series = series_from_json(read_json(run_dir / SERIES_FILE))
    n_in = len(meta["features"])
    n_future = n_in - 1 - series.covariates.shape[1]
    model = Forecaster(cfg.model, lay.window, lay.horizon, n_in, n_future)
    checkpoint.load_weights(model, tensors, ckpt)
    dev = resolve_device(device)
    cal = Calibration.from_json(read_json(run_dir / CALIBRATION_FILE)) if (run_dir / CALIBRATION_FILE).is_file() \
        else None
    return ForecastRun(model.to(dev).eval(), cfg, Transform.from_json(meta["transform"]),
                       ColumnScaler(**meta["covariate_scaler"]), lay, series, dev, ckpt, cal)


def prepare_features(run: ForecastRun, series: Series) -> Prepared:
    return features(run.transform, run.covariate_scaler, series, run.config.transform.calendar)


def _distribution(run: ForecastRun, w: dict[str, np.ndarray], probs: list[float], samples: int,
                  seed: int) -> dict[str, np.ndarray]:
    """Point forecast ``(N, H)`` and quantiles at ``probs`` ``(N, H, Q)`` in the model's space, relative to the
    windows' ``base``; an autoregressive decoder's quantiles are those of its sampled paths ``(N, S, H)`` (also
    returned). ``w``: :func:`rollout.window_arrays`'s windows."""
    m, lik = run.model, run.config.model.likelihood
    past, future = torch.from_numpy(w["past"]).to(run.device), torch.from_numpy(w["future"]).to(run.device)
    p = torch.tensor(probs, device=run.device)
    with torch.no_grad():
        out = m(past, future)
        point = Forecaster.point(out, lik).cpu().numpy()
        if run.config.model.decoder == "autoregressive":
            g = torch.Generator(device=run.device).manual_seed(seed)
            paths = m.generate(past, future, samples=samples, generator=g)  # (N, S, H)
            q = torch.quantile(paths, p, dim=1).permute(1, 2, 0)  # (N, H, Q)
            return {"point": point, "q": q.cpu().numpy(), "paths": paths.cpu().numpy()}
        q = Forecaster.quantiles(out, lik, p).cpu().numpy()
    return {"point": point, "q": q}


def _predict(run: ForecastRun, series: Series, prep: Prepared, starts: np.ndarray, percents_: tuple[float, ...],
             samples: int, seed: int) -> dict:
    """Forecasts from window ``starts`` of ``prep`` in original units (see :func:`rollout.predict`)."""
    return predict(run.transform, series, prep, run.layout.window, run.layout.horizon, starts, percents_,
                   lambda w, probs: _distribution(run, w, probs, samples, seed))


def _bounds(run: ForecastRun, pred: dict, levels: tuple[float, ...], method: str) -> Bounds:
    """Central intervals at ``levels`` from ``_predict``'s output, the model's own or conformal."""
    return bounds(pred, levels, method, run.calibration, run.config.forecast.conformal_score, str(run.source.parent))


def _use(run: ForecastRun, intervals: str | None, levels: tuple[float, ...] | None) -> tuple[str, tuple[float, ...]]:
    return choose(intervals, levels, run.config.forecast.intervals, run.config.forecast.level_values)


def forecast(run: ForecastRun, horizon: int | None = None, samples: int | None = None, seed: int = 0,
             intervals: str | None = None, levels: tuple[float, ...] | None = None,
             history: Series | None = None) -> Forecast:
    """Forecast ``horizon`` steps (default: the model's) after the last point of the run's series (or of
    ``history``, a series of the same columns and frequency), with
    central intervals at ``levels`` (default: the run's ``--levels``) made as ``intervals`` says
    (``model`` or ``conformal``; default: the run's ``--intervals``).

    Beyond the model's horizon the point forecast is fed back as input, one horizon at a time
    (intervals then come from the last model call alone and are too narrow: a warning in the docs).
    """
    H = horizon or run.layout.horizon
    if H < 1:
        raise RnnkitError(f"--horizon must be at least 1, got {H}")
    samples = samples or run.config.forecast.samples
    method, levels = _use(run, intervals, levels)
    series = run.series if history is None else check_history(history, run.layout.window, run.transform.lost)
    dates, point, bounds_ = from_end(
        series, run.layout.horizon, H, levels, lambda s: prepare_features(run, s),
        lambda s, prep, starts: _predict(run, s, prep, starts, percents(levels), samples, seed),
        lambda pred: _bounds(run, pred, levels, method))
    return Forecast(dates, point, bounds_, method)


def origins(run: ForecastRun, prep: Prepared, split: str) -> np.ndarray:
    """Forecast origins (window starts) scored on ``split``: non-overlapping horizons ending at the
    part's end; on ``train``, among the windows the run learned from (see ``--data-fraction``)."""
    if split not in ("val", "test", "train"):
        raise RnnkitError(f"--split must be train, val or test, got {split!r}")
    lay = run.layout
    if split == "test":
        starts = window_starts(prep, lay, "test")
    else:
        all_starts = (training_starts(prep, lay, run.config.train.data_fraction, run.config.train.seed)
                      if split == "train" else window_starts(prep, lay, split))
        starts = all_starts[::-1][::lay.horizon][::-1]  # non-overlapping, ending at the part's end
    if len(starts) == 0:
        raise RnnkitError(f"the run has no {split} part (--test-size 0?); evaluate another split")
    return starts


def evaluate(run: ForecastRun, split: str = "test", season: int | None = None, intervals: str | None = None,
             levels: tuple[float, ...] | None = None, with_baselines: bool = False) -> Evaluation:
    """Metrics of forecasts over ``split`` (``val`` or ``test``), one horizon per origin, non-overlapping:
    point scores and, per level, interval coverage and MSIS (``intervals`` and ``levels`` as in
    :func:`forecast`; conformal intervals on ``val`` are scored on their own calibration data).

    MASE and MSIS are scaled by the seasonal naive forecast's in-sample error on the training part
    (``season``: default the data's natural season; 1 for none). ``with_baselines``: also score the
    baselines that have intervals (:func:`rnnkit.forecast.baselines.interval_forecasts`), each fitted
    on the history before each origin.
    """
    lay, series = run.layout, run.series
    m = season or series.frequency.season
    method, levels = _use(run, intervals, levels)
    prep = prepare_features(run, series)
    starts = origins(run, prep, split)
    pred = _predict(run, series, prep, starts, percents(levels), run.config.forecast.samples, 0)
    bounds = _bounds(run, pred, levels, method)
    insample = series.values[:lay.train_end]
    extra = baselines.statsforecast_models(baselines.statsforecast_season(m)) if with_baselines else {}
    per: dict[str, list[dict[str, float]]] = {}
    for i, s in enumerate(starts):
        history = series.values[:s + prep.lost]
        actual = series.values[s + prep.lost:s + prep.lost + lay.horizon]
        models = {OWN: (pred["point"][i], {lv: (lo[i], hi[i]) for lv, (lo, hi) in bounds.items()})}
        if with_baselines:
            models.update(baselines.interval_forecasts(history, lay.horizon, m, levels, extra))
        for name, (point, b) in models.items():
            per.setdefault(name, []).append({**metrics.scores(actual, point, insample, m),
                                             **metrics.interval_scores(actual, b, insample, m)})
    means = {name: metrics.mean_scores(rows) for name, rows in per.items()}
    return Evaluation(split, means.pop(OWN), len(starts), lay.horizon, m, pred["point"], method, means)


def plot(run: ForecastRun, fc: Forecast, path: str | Path, history: int | None = None) -> None:
    """History, forecast and its intervals (one band per level, the widest palest), drawn to a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = run.series
    keep = history or min(len(s), max(8 * len(fc.point), 60))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(s.dates[-keep:], s.values[-keep:], color="black", lw=1, label="history")
    for k, level in enumerate(sorted(fc.bounds, reverse=True)):
        lo, hi = fc.bounds[level]
        ax.fill_between(fc.dates, lo, hi, color="tab:blue", alpha=0.15 * (k + 1), lw=0, label=f"{level:g}% ({fc.method})")
    ax.plot(fc.dates, fc.point, color="tab:blue", lw=1.5, label="forecast")
    ax.set_title(f"{s.name}: {len(fc.point)}-step forecast")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    save_figure(fig, path)


def report_view(run: ForecastRun, run_dir: str | Path):
    """This run's part of ``rnnkit report``: the split, test metrics and the forecast plot (see
    ``rnnkit.report.sections.TaskReport``)."""
    from ..report.sections import Section, TaskReport, drawn_image, key_values, unavailable

    lay, s = run.layout, run.series
    rows = [["part", "points", "from", "to"]]
    for name, a, b in (("train", 0, lay.train_end), ("val", lay.train_end, lay.val_end), ("test", lay.val_end, lay.length)):
        rows.append([name, str(b - a), str(s.dates[a]) if b > a else "", str(s.dates[b - 1]) if b > a else ""])
    split = Section("Data split", text=[f"{s.name}: {len(s)} {s.frequency.name} points, split in time order; "
                                        f"windows of {lay.window} steps, horizon {lay.horizon}.", *s.report],
                    table=rows)
    try:
        test = Section("Test metrics", table=key_values(evaluate(run, "test").to_json()))
    except RnnkitError as e:
        test = unavailable("Test metrics", str(e))
    fc = forecast(run)
    image = drawn_image(lambda p: plot(run, fc, p), f"{len(fc.point)}-step forecast from the end of {s.name}")
    return TaskReport(split, test, [Section("Forecast", text=[f"From the end of the series, with "
                                                              f"{fc.method} intervals."], images=[image])])
