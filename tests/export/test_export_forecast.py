"""Forecaster export: the graph and the numpy runtime against the PyTorch API (rnnkit.forecast)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import runtime
from rnnkit.cli import main
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.export import ExportConfig, export
from rnnkit.forecast import api
from rnnkit.forecast.series import Series, infer_frequency
from rnnkit.forecast.task import ForecastConfig



def _series(n: int = 120, covariates: bool = False) -> Series:
    t = np.arange(n)
    y = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)
    dates = (np.datetime64("2000-01", "M") + t).astype("datetime64[D]")
    x = np.stack([np.roll(y, 1), t.astype(np.float64)], axis=1) if covariates else np.zeros((n, 0))
    return Series(dates, y, x, [f"x{i}" for i in range(x.shape[1])], "y", infer_frequency(dates))


# (name, config sections, covariates): GRU quantiles with every input and conformal intervals; LSTM gaussian with
# neither calendar nor covariates (a graph without the future input) and the model's own intervals
VARIANTS = {
    "gru-quantile": ({"transform": {"calendar": True, "difference": 1, "log": True},
                      "calibration": {"calibration_windows": 0}}, True),
    "lstm-gaussian": ({"model": {"cell": "lstm", "likelihood": "gaussian", "layers": 2, "highway": False},
                       "forecast": {"intervals": "model"}}, False),
    # the autoregressive decoder (encoder + one-step graphs, the loop in numpy): LSTM state (h, c), the calendar
    # as the step's input, differencing (sampled paths integrated), conformal intervals by the absolute score
    "lstm-autoregressive": ({"model": {"cell": "lstm", "decoder": "autoregressive"},
                             "transform": {"calendar": True, "difference": 1}, "train": {"steps": 4},
                             "calibration": {"calibration_windows": 0},
                             "forecast": {"samples": 20, "conformal_score": "absolute"}}, False),
}
DIRECT = [name for name in VARIANTS if "autoregressive" not in name]


def _train(out: Path, sections: dict, covariates: bool, **model) -> Path:
    base = {"model": {"horizon": 6, "hidden_size": 16, **model}, "train": {"steps": 8, "patience": 0, "log_every": 4}}
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    api.train(from_dict(ForecastConfig, base), out, series=_series(covariates=covariates))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Each variant trained a few steps and exported to RUN/onnx: (run, manifest)."""
    out = {}
    for name, (sections, cov) in VARIANTS.items():
        run = _train(tmp_path_factory.mktemp(name) / "run", sections, cov)
        out[name] = (run, export(run, runtime.default_folder(run), ExportConfig()))
    return out


@pytest.mark.parametrize("name", list(VARIANTS))
def test_export_parity_within_tolerance_on_every_case(runs, name):
    parity = runs[name][1]["parity"]
    assert parity["max_abs_diff"] <= 1e-4
    assert any(k.startswith("distribution batch 3") for k in parity["cases"])
    assert any("history" in k for k in parity["cases"]) and any("15 steps" in k for k in parity["cases"])


@pytest.mark.parametrize("name", DIRECT)
def test_runtime_forecast_equals_the_pytorch_verb(runs, name):
    run_dir, manifest = runs[name]
    run, model = api.load(run_dir), runtime.load(runtime.default_folder(run_dir))
    for horizon in (None, 9):
        ref, got = api.forecast(run, horizon), model.forecast(horizon)
        assert got.method == ref.method and list(got.bounds) == list(ref.bounds)
        np.testing.assert_array_equal(got.dates, ref.dates)
        scale = np.abs(run.series.values).max()
        np.testing.assert_allclose(got.point, ref.point, rtol=0, atol=1e-5 * scale)
        for lv in ref.bounds:
            np.testing.assert_allclose(got.bounds[lv], ref.bounds[lv], rtol=0, atol=1e-5 * scale)
    assert manifest["metrics"]["split"] == "test" and np.isfinite(manifest["metrics"]["mae"])


def test_posted_history_is_forecast_like_the_pytorch_verbs_history(runs):
    run_dir, _ = runs["gru-quantile"]
    run, model = api.load(run_dir), runtime.load(runtime.default_folder(run_dir))
    s = api.head(run.series, 100)
    posted = {"dates": [str(d) for d in s.dates], "values": (s.values * 1.1).tolist(), "covariates": s.covariates}
    ref = api.forecast(run, 8, history=Series(s.dates, s.values * 1.1, s.covariates, s.covariate_names, s.name,
                                              s.frequency))
    got = model.forecast(8, history=posted)
    assert str(got.dates[0]) == "2008-05-01"
    np.testing.assert_allclose(got.point, ref.point, rtol=1e-5)


def test_bad_input_is_one_line(runs):
    model = runtime.load(runtime.default_folder(runs["gru-quantile"][0]))
    bad = [dict(history={"values": [1.0, 2.0]}),  # no dates
           dict(history={"dates": ["2000-01-01", "2000-02-01"], "values": [1.0, 2.0], "covariates": [[1, 2], [3, 4]]}),
           dict(history={"dates": ["2000-01-01"], "values": ["x"]}),
           dict(intervals="bootstrap"), dict(horizon=-1)]
    for kwargs in bad:
        with pytest.raises(RnnkitError) as e:
            model.forecast(**kwargs)
        assert "\n" not in str(e.value)
    model_only = runtime.load(runtime.default_folder(runs["lstm-gaussian"][0]))
    with pytest.raises(RnnkitError, match="has no calibration.json"):
        model_only.forecast(intervals="conformal")


def test_autoregressive_runtime_point_and_conformal_equal_pytorch_and_samples_are_seeded(runs):
    run_dir, manifest = runs["lstm-autoregressive"]
    run, model = api.load(run_dir), runtime.load(runtime.default_folder(run_dir))
    assert set(manifest["graphs"]) == {"encoder", "decoder_step"}
    scale = np.abs(run.series.values).max()
    for horizon in (None, 9):
        ref, got = api.forecast(run, horizon, intervals="conformal"), model.forecast(horizon, intervals="conformal")
        np.testing.assert_array_equal(got.dates, ref.dates)
        np.testing.assert_allclose(got.point, ref.point, rtol=0, atol=1e-5 * scale)
        for lv in ref.bounds:  # conformal, absolute score: no sampling
            np.testing.assert_allclose(got.bounds[lv], ref.bounds[lv], rtol=0, atol=1e-5 * scale)
    a, b, c = (model.forecast(9, intervals="model", seed=s) for s in (3, 3, 4))
    for lv in (80, 95):
        np.testing.assert_array_equal(a.bounds[lv], b.bounds[lv])
        assert not np.array_equal(a.bounds[lv], c.bounds[lv])
        lo, hi = a.bounds[lv]
        assert np.all(lo < a.point) and np.all(a.point < hi)
    assert np.all(a.bounds[95][0] <= a.bounds[80][0]) and np.all(a.bounds[80][1] <= a.bounds[95][1])
    ref = api.forecast(run, 9, intervals="model")  # PyTorch's draws: widths of the same order
    width = lambda f: np.mean(f.bounds[80][1] - f.bounds[80][0])  # noqa: E731
    assert 0.5 < width(a) / width(ref) < 2


def test_cli_backend_onnx_runs_an_autoregressive_forecaster(runs, capsys):
    run_dir, _ = runs["lstm-autoregressive"]
    flags = ["--horizon", "9", "--json", "--intervals", "conformal"]
    rows = [[json.loads(line) for line in _stdout(capsys, "forecast", run_dir, *backend, *flags).splitlines()]
            for backend in ([], ["--backend", "onnx"])]
    assert len(rows[1]) == 9 and [list(r) for r in rows[0]] == [list(r) for r in rows[1]]
    for ref, got in zip(*rows):
        np.testing.assert_allclose([got[k] for k in list(got)[1:]], [ref[k] for k in list(ref)[1:]], rtol=1e-5)
    assert len(_stdout(capsys, "forecast", run_dir, "--backend", "onnx", "--intervals", "model").strip()) > 0


def _stdout(capsys, *args) -> str:
    assert main([str(a) for a in args]) in (0, None)
    return capsys.readouterr().out


def test_cli_backend_onnx_prints_what_torch_prints(runs, capsys):
    run_dir, _ = runs["gru-quantile"]
    assert _stdout(capsys, "forecast", run_dir, "--backend", "onnx") == _stdout(capsys, "forecast", run_dir)
    flags = ["--horizon", "9", "--levels", "50,90", "--conformal-score", "absolute", "--json"]
    rows = [[json.loads(line) for line in _stdout(capsys, "forecast", run_dir, *backend, *flags).splitlines()]
            for backend in ([], ["--backend", "onnx"])]
    assert [list(r) for r in rows[0]] == [list(r) for r in rows[1]] and len(rows[0]) == 9
    for ref, got in zip(*rows):  # full-precision floats: equal to float32 rounding
        assert got["date"] == ref["date"]
        np.testing.assert_allclose([got[k] for k in list(got)[1:]], [ref[k] for k in list(ref)[1:]], rtol=1e-6)
    assert main(["forecast", str(runs["lstm-gaussian"][0]), "--backend", "onnx", "--intervals", "conformal"]) == 2
    err = capsys.readouterr().err.strip()
    assert "calibration.json" in err and "\n" not in err


def test_runtime_forecasts_in_a_process_without_torch(runs, torch_free):
    run_dir, _ = runs["gru-quantile"]
    printed = torch_free(f"import json\nfrom rnnkit import runtime\n"
                         f"f = runtime.load({str(runtime.default_folder(run_dir))!r}).forecast(9)\n"
                         f"print(json.dumps(f.rows()))")
    rows = json.loads(printed)
    ref = api.forecast(api.load(run_dir), 9).rows()
    assert [r["date"] for r in rows] == [r["date"] for r in ref]
    np.testing.assert_allclose([r["forecast"] for r in rows], [r["forecast"] for r in ref], rtol=1e-5)
    ar_dir, _ = runs["lstm-autoregressive"]
    printed = torch_free(f"import json\nfrom rnnkit import runtime\n"
                         f"f = runtime.load({str(runtime.default_folder(ar_dir))!r}).forecast(9, seed=1)\n"
                         f"print(json.dumps(f.rows()))")
    ref = api.forecast(api.load(ar_dir), 9).rows()
    np.testing.assert_allclose([r["forecast"] for r in json.loads(printed)], [r["forecast"] for r in ref], rtol=1e-5)
