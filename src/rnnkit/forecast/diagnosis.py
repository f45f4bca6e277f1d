"""What ``rnnkit diagnose`` measures on a forecasting run (see ``diagnose/bias_variance.py``).

Errors are MASE (mean absolute error scaled by the seasonal naive forecast's in-sample error on
the training part; 1 = as good as that scale) of the point forecasts at non-overlapping origins:
on the training windows the run learned from, and on the validation part. The reference is the
seasonal naive forecast itself at the same validation origins.
"""

from __future__ import annotations

from pathlib import Path

from ..diagnose.bias_variance import Measurement, Thresholds
from . import api, metrics
from .baselines import seasonal_naive

THRESHOLD = 0.1  # MASE: a gap of a tenth of the naive scale is high


def measure(run_dir: Path, reference: bool = True, device: str = "cpu") -> Measurement:
    run = api.load(run_dir, device)
    train, val = api.evaluate(run, "train"), api.evaluate(run, "val")
    ref, name = None, ""
    if reference:
        series, lay, m = run.series, run.layout, run.series.frequency.season
        prep = api.prepare_features(run, series)
        insample = series.values[:lay.train_end]
        per = []
        for s in api.origins(run, prep, "val"):
            t = s + prep.lost  # the origin in the series' own indices
            actual = series.values[t:t + lay.horizon]
            per.append(metrics.scores(actual, seasonal_naive(series.values[:t], lay.horizon, m)[:len(actual)],
                                      insample, m))
        ref, name = float(metrics.mean_scores(per)["mase"]), f"seasonal naive (season {m}) on the validation part"
    return Measurement(float(train.scores["mase"]), float(val.scores["mase"]), ref, name, "MASE",
                       Thresholds(THRESHOLD, THRESHOLD), train.origins, val.origins)
