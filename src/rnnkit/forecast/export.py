"""``rnnkit export`` for forecasters: the network as one ONNX graph, the rest as data for the runtime.

A direct decoder's graph ``forecaster`` maps the scaled window to the forecast distribution, relative to the
window's last value (see :mod:`rnnkit.forecast.model`)::

    past          (B, W, F)  float32  the window: target, scaled covariates, calendar
    future        (B, H, K)  float32  the forecast steps' calendar (only when K > 0)
    distribution  (B, H, P)  float32  quantile likelihood: the QUANTILES; gaussian: mean, standard deviation

An autoregressive decoder's forecaster is two graphs, and the runtime runs the loop over steps in numpy
(``L`` layers, ``D`` hidden units; ``c``/``c_next`` only for an LSTM)::

    encoder       past (B, W, F) -> h (L, B, D) [, c (L, B, D)]     the encoder's final state
    decoder_step  x (B, 1 + K), h [, c] -> distribution (B, P), h_next [, c_next]
                  x: the previous value (relative, as the window's target) and the step's calendar

Everything around it (the transform and its inverse, covariate scaling, calendar features, the
rollout past the horizon, conformal intervals) is :mod:`rnnkit.forecast.rollout`, run by both sides.
The export's data holds the transform, scaler, layout and forecast defaults, and the conformal
calibration; ``series.json`` holds the run's series (the runtime forecasts from its end).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
from torch import nn

from ..core.errors import RnnkitError
from . import api
from .rollout import series_json
from .series import Series

GRAPH = "forecaster"
ENCODER, STEP = "encoder", "decoder_step"
SERIES = "series.json"


class _Direct(nn.Module):
    """The direct decoder's forward pass with named inputs (``future`` dropped when there is no calendar)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, past: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        if future is None:
            future = past.new_zeros(past.size(0), self.model.horizon, 0)
        return self.model(past, future)


class _Encoder(nn.Module):
    """The autoregressive forecaster's encoder: ``past (B, W, F)`` -> its final state ``h`` [, ``c``]."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, past: torch.Tensor):
        _, state = self.model.encoder(past)
        return state


class _Step(nn.Module):
    """One autoregressive decoder step: ``x (B, 1 + K)``, state -> distribution ``(B, P)``, next state."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None):
        out, state = self.model.decoder(x[:, None], h if c is None else (h, c))
        dist = self.model._distribution(self.model.head(out[:, 0]))
        return (dist, *state) if c is not None else (dist, state)


def _direct_graph(run: api.ForecastRun, draft) -> None:
    lay, model = run.layout, run.model
    F, K = model.encoder.input_size, model.future_features
    past = torch.randn(2, lay.window, F)
    args, inputs = (past,), ["past"]
    if K:
        args, inputs = (past, torch.randn(2, lay.horizon, K)), ["past", "future"]
    draft.graph(GRAPH, _Direct(model), args, inputs, ["distribution"],
                {"past": {0: "batch"}, "future": {0: "batch"}, "distribution": {0: "batch"}})


def _autoregressive_graphs(run: api.ForecastRun, draft) -> None:
    model = run.model
    F, K, L, D = model.encoder.input_size, model.future_features, model.cfg.layers, model.cfg.hidden_size
    names = ["h", "c"] if model.cfg.cell == "lstm" else ["h"]
    batch = {0: "batch"}
    draft.graph(ENCODER, _Encoder(model), (torch.randn(2, run.layout.window, F),), ["past"], names,
                {"past": batch, **{n: {1: "batch"} for n in names}})
    state = tuple(torch.randn(L, 2, D) for _ in names)
    nexts = [f"{n}_next" for n in names]
    draft.graph(STEP, _Step(model), (torch.randn(2, 1 + K), *state), ["x", *names], ["distribution", *nexts],
                {"x": batch, "distribution": batch, **{n: {1: "batch"} for n in names + nexts}})


def export(run: api.ForecastRun, draft) -> None:
    """Write the graphs (see the module docstring), ``series.json`` and the runtime's data into ``draft``."""
    decoder = run.config.model.decoder
    (_direct_graph if decoder == "direct" else _autoregressive_graphs)(run, draft)
    draft.file(SERIES, json.dumps(series_json(run.series)))
    draft.data.update({
        "layout": run.layout.to_json(), "transform": run.transform.to_json(),
        "covariate_scaler": run.covariate_scaler.to_json(), "calendar": run.config.transform.calendar,
        "likelihood": run.config.model.likelihood, "decoder": decoder, "use": dataclasses.asdict(run.config.forecast),
        "calibration": run.calibration.to_json() if run.calibration is not None else None})
    draft.metrics = _test_metrics(run)


def _test_metrics(run: api.ForecastRun) -> dict:
    """The test scores ``rnnkit report`` shows ({} for a run without a test part or its intervals)."""
    try:
        return api.evaluate(run, "test").to_json()
    except RnnkitError:
        return {}


# -- parity ----------------------------------------------------------------------------------------
def _history(series: Series, cut: int, jitter: float, seed: int) -> Series:
    """The first ``cut`` points of ``series`` with its values moved by ``jitter`` of their spread (a new history)."""
    h = api.head(series, cut)
    rng = np.random.default_rng(seed)
    h.values = h.values + jitter * np.std(h.values) * rng.standard_normal(len(h.values))
    return h


def _scale(series: Series) -> float:
    return float(max(np.abs(series.values).max(), 1e-12))


def parity(run: api.ForecastRun, exported) -> dict[str, float]:
    """Max |runtime - PyTorch| per case, relative to the series' largest |value|: raw distributions on windows
    at 2 batch sizes, and forecasts (point and every bound, model and conformal intervals) at 1, 2 and 2.5
    horizons, from the series' end and from two shorter, perturbed histories.

    An autoregressive decoder's distributions are those along the point-fed path (each step reads the previous
    step's point forecast) and its forecasts compare the point, and the conformal bounds where the run's
    conformal score is ``absolute`` (they sample nothing): its other intervals come from paths sampled with
    numpy's generator in the runtime and PyTorch's in the API, equal in distribution, not draw for draw."""
    diffs = {}
    prep = api.prepare_features(run, run.series)
    lay = run.layout
    for n in (1, 3):
        starts = np.linspace(lay.window, len(prep.inputs) - lay.horizon, n).astype(int)
        w = api.make_windows(prep, lay, starts)
        with torch.no_grad():
            ref = run.model(w["past"], w["future"]).numpy()
        got = exported.distribution(w["past"].numpy(), w["future"].numpy())
        diffs[f"distribution batch {n}"] = float(np.abs(got - ref).max())
    H, scale = lay.horizon, _scale(run.series)
    direct = run.config.model.decoder == "direct"
    absolute = run.config.forecast.conformal_score == "absolute"  # conformal bounds from the point alone
    methods = ["model"] + (["conformal"] if run.calibration is not None and (direct or absolute) else [])
    histories = {"end": None, "history -H": _history(run.series, len(run.series) - H, 0.05, 1),
                 "history -2H": _history(run.series, len(run.series) - 2 * H, 0.1, 2)}
    for name, history in histories.items():
        for steps in (H, 5 * H // 2):
            for method in methods:
                ref = api.forecast(run, steps, intervals=method, history=history)
                got = exported.forecast(steps, intervals=method, history=history)
                levels = ref.bounds if direct or method == "conformal" else []  # not the sampled bounds
                d = max([np.abs(got.point - ref.point).max()] +
                        [np.abs(np.subtract(got.bounds[lv], ref.bounds[lv])).max() for lv in levels])
                diffs[f"forecast {name} {steps} steps {method} (relative)"] = float(d) / scale
    return diffs
