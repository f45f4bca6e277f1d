"""Forecasting from Python: train, load, forecast, evaluate, plot.

>>> from rnnkit.forecast import api as fc
>>> cfg = fc.ForecastConfig()
>>> cfg.data.data, cfg.model.horizon = "airline-passengers.csv", 12
>>> fc.train(cfg, "runs/air")
>>> run = fc.load("runs/air")
>>> f = fc.forecast(run)                 # from the end of the series: f.dates, f.point, f.lo95 ...
>>> fc.evaluate(run, "test").scores      # {"mae": .., "rmse": .., "smape": .., "mase": ..}

A run directory holds the series as it was read (``series.json``: dates, values, covariates),
so forecasting and evaluating need neither the CSV nor ``../shared/data``.
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
from . import metrics
from .model import Forecaster
from .series import Frequency, Series, read_series
from .task import (KIND, ForecastConfig, ForecastTask, Layout, Prepared, config_from_meta, features, layout,
                   make_windows, training_starts, window_starts)
from .transforms import ColumnScaler, Transform

SERIES_FILE = "series.json"


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


@dataclass
class Forecast:
    """Forecasts in the original units, shape ``(H,)`` each; intervals are central 80% and 95%."""

    dates: np.ndarray
    point: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray

    def rows(self) -> list[dict]:
        return [{"date": str(d), "forecast": float(p), "lo80": float(a), "hi80": float(b), "lo95": float(c),
                 "hi95": float(e)} for d, p, a, b, c, e in zip(self.dates, self.point, self.lo80, self.hi80, self.lo95,
                                                              self.hi95)]


@dataclass
class Evaluation:
    split: str
    scores: dict[str, float]  # mae, rmse, smape, mase (means over the split's forecast origins)
    coverage80: float
    coverage95: float
    origins: int
    horizon: int
    season: int
    forecasts: np.ndarray  # (origins, H) point forecasts in original units

    def to_json(self) -> dict:
        return {**self.scores, "coverage80": self.coverage80, "coverage95": self.coverage95, "split": self.split,
                "origins": self.origins, "horizon": self.horizon, "season": self.season}


# -- the series in a run -----------------------------------------------------------------------
def _series_json(s: Series) -> dict:
    f = s.frequency
    return {"name": s.name, "dates": [str(d) for d in s.dates], "values": s.values.tolist(),
            "covariates": s.covariates.tolist(), "covariate_names": s.covariate_names,
            "frequency": {"name": f.name, "step": int(f.step.astype(np.int64)), "unit": np.datetime_data(f.step.dtype)[0],
                          "season": f.season, "day": f.day}, "report": s.report}


def _series_from_json(d: dict) -> Series:
    f = d["frequency"]
    freq = Frequency(f["name"], np.timedelta64(f["step"], f["unit"]), f["season"], f["day"])
    cov = np.array(d["covariates"], dtype=np.float64).reshape(len(d["values"]), len(d["covariate_names"]))
    return Series(np.array(d["dates"], dtype="datetime64"), np.array(d["values"], dtype=np.float64), cov,
                  d["covariate_names"], d["name"], freq, d["report"])


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
        series = _series_from_json(read_json(out / SERIES_FILE))
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
                write_json(tmp / SERIES_FILE, _series_json(series))
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
    return TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens,
                       lay.horizon, lay.window, len(train_w["target"]))


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
    series = _series_from_json(read_json(run_dir / SERIES_FILE))
    n_in = len(meta["features"])
    n_future = n_in - 1 - series.covariates.shape[1]
    model = Forecaster(cfg.model, lay.window, lay.horizon, n_in, n_future)
    checkpoint.load_weights(model, tensors, ckpt)
    dev = resolve_device(device)
    return ForecastRun(model.to(dev).eval(), cfg, Transform.from_json(meta["transform"]),
                       ColumnScaler(**meta["covariate_scaler"]), lay, series, dev, ckpt)


def prepare_features(run: ForecastRun, series: Series) -> Prepared:
    return features(run.transform, run.covariate_scaler, series, run.config.transform.calendar)


def _distribution(run: ForecastRun, w: dict[str, torch.Tensor], samples: int, seed: int) -> dict[str, np.ndarray]:
    """Point forecast and interval bounds ``(N, H)`` in the model's space, relative to ``base`` added back."""
    m, lik = run.model, run.config.model.likelihood
    past, future = w["past"].to(run.device), w["future"].to(run.device)
    base = w["base"].numpy()[:, None]
    with torch.no_grad():
        out = m(past, future)
        point = Forecaster.point(out, lik).cpu().numpy() + base
        if run.config.model.decoder == "autoregressive":
            g = torch.Generator(device=run.device).manual_seed(seed)
            paths = m.generate(past, future, samples=samples, generator=g)  # (N, S, H)
            qs = torch.quantile(paths, torch.tensor([0.025, 0.1, 0.9, 0.975], device=paths.device), dim=1)
            bounds = dict(zip(("lo95", "lo80", "hi80", "hi95"), (q.cpu().numpy() + base for q in qs)))
            return {"point": point, **bounds, "paths": paths.cpu().numpy() + base[:, :, None]}
        bounds = {k: v.cpu().numpy() + base for k, v in Forecaster.intervals(out, lik).items()}
    return {"point": point, **bounds}


def _to_original(run: ForecastRun, z: dict[str, np.ndarray], histories: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Undo the transforms row by row; each row continues its own history (original units)."""
    out = {}
    for key in ("point", "lo80", "hi80", "lo95", "hi95"):
        out[key] = np.stack([run.transform.inverse(z[key][i], h) for i, h in enumerate(histories)])
    if "paths" in z and run.transform.lost:  # differenced: integrate whole sampled paths, then take quantiles
        for i, h in enumerate(histories):
            paths = run.transform.inverse(z["paths"][i], h)  # (S, H)
            q = np.quantile(paths, [0.025, 0.1, 0.9, 0.975], axis=0)
            out["lo95"][i], out["lo80"][i], out["hi80"][i], out["hi95"][i] = q
    return out


def forecast(run: ForecastRun, horizon: int | None = None, samples: int | None = None, seed: int = 0) -> Forecast:
    """Forecast ``horizon`` steps (default: the model's) after the last point of the run's series.

    Beyond the model's horizon the point forecast is fed back as input, one horizon at a time
    (intervals then come from the last model call alone and are too narrow: a warning in the docs).
    """
    H = horizon or run.layout.horizon
    if H < 1:
        raise RnnkitError(f"--horizon must be at least 1, got {H}")
    samples = samples or run.config.forecast.samples
    series = run.series
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("point", "lo80", "hi80", "lo95", "hi95")}
    done = 0
    while done < H:
        future_dates = series.frequency.next_dates(series.dates[-1], run.layout.horizon)
        # placeholders for the future values: only the calendar of those steps is read
        ext = prepare_features(run, _extend(series, future_dates, np.full(run.layout.horizon, series.values[-1])))
        w = make_windows(ext, run.layout, np.array([len(series) - ext.lost]))
        z = _distribution(run, w, samples, seed)
        res = _to_original(run, z, [series.values])
        for k in parts:
            parts[k].append(res[k][0])
        series = _extend(series, future_dates, res["point"][0])
        done += run.layout.horizon
    all_dates = np.concatenate([run.series.dates, series.dates[len(run.series):]])[len(run.series):len(run.series) + H]
    return Forecast(all_dates, *(np.concatenate(parts[k])[:H] for k in ("point", "lo80", "hi80", "lo95", "hi95")))


def _extend(series: Series, dates: np.ndarray, values: np.ndarray) -> Series:
    """The series continued by ``values`` at ``dates`` (covariates held at their last values)."""
    cov = np.concatenate([series.covariates, np.repeat(series.covariates[-1:], len(values), axis=0)]) \
        if series.covariates.shape[1] else np.zeros((len(series) + len(values), 0))
    return Series(np.concatenate([series.dates, dates.astype(series.dates.dtype)]),
                  np.concatenate([series.values, values]), cov, series.covariate_names, series.name, series.frequency)


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


def evaluate(run: ForecastRun, split: str = "test", season: int | None = None) -> Evaluation:
    """Metrics of forecasts over ``split`` (``val`` or ``test``), one horizon per origin, non-overlapping.

    MASE is scaled by the seasonal naive forecast's in-sample error on the training part
    (``season``: default the data's natural season; 1 for none).
    """
    lay, series = run.layout, run.series
    m = season or series.frequency.season
    prep = prepare_features(run, series)
    starts = origins(run, prep, split)
    w = make_windows(prep, lay, starts)
    z = _distribution(run, w, run.config.forecast.samples, 0)
    histories = [series.values[:s + prep.lost] for s in starts]
    res = _to_original(run, z, histories)
    insample = series.values[:lay.train_end]
    per, cov80, cov95 = [], [], []
    for i, s in enumerate(starts):
        actual = series.values[s + prep.lost:s + prep.lost + lay.horizon]
        per.append(metrics.scores(actual, res["point"][i], insample, m))
        cov80.append(metrics.coverage(actual, res["lo80"][i], res["hi80"][i]))
        cov95.append(metrics.coverage(actual, res["lo95"][i], res["hi95"][i]))
    return Evaluation(split, metrics.mean_scores(per), float(np.mean(cov80)), float(np.mean(cov95)), len(starts),
                      lay.horizon, m, res["point"])


def plot(run: ForecastRun, fc: Forecast, path: str | Path, history: int | None = None) -> None:
    """History, forecast and its 80%/95% intervals, drawn to a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = run.series
    keep = history or min(len(s), max(8 * len(fc.point), 60))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(s.dates[-keep:], s.values[-keep:], color="black", lw=1, label="history")
    ax.fill_between(fc.dates, fc.lo95, fc.hi95, color="tab:blue", alpha=0.15, label="95%")
    ax.fill_between(fc.dates, fc.lo80, fc.hi80, color="tab:blue", alpha=0.3, label="80%")
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
    return TaskReport(split, test, [Section("Forecast", text=["From the end of the series, with 80% and 95% "
                                                              "intervals."], images=[image])])
