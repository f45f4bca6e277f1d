"""The forecaster end to end from Python: windows, model, leakage, accuracy, intervals, backtest, resume."""


import numpy as np
import pytest
import torch

from rnnkit.core import checkpoint
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.forecast import api, backtest
from rnnkit.forecast.model import ForecastModelConfig, Forecaster
from rnnkit.forecast.series import Series, infer_frequency
from rnnkit.forecast.task import ForecastConfig, layout, window_starts, features, make_windows
from rnnkit.forecast.transforms import ColumnScaler, Transform


def make_series(values, start="2000-01", unit="M", covariates=None) -> Series:
    values = np.asarray(values, dtype=np.float64)
    dates = (np.datetime64(start, unit) + np.arange(len(values))).astype("datetime64[D]")
    cov = np.zeros((len(values), 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    names = [f"x{i}" for i in range(cov.shape[1])]
    return Series(dates, values, cov, names, "y", infer_frequency(dates))


def config(**sections) -> ForecastConfig:
    base = {"model": {"horizon": 6, "hidden_size": 16}, "train": {"steps": 60, "patience": 0, "log_every": 5}}
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return from_dict(ForecastConfig, base)


def sine_trend(n=240):
    t = np.arange(n)
    return 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)


# -- the model ---------------------------------------------------------------------------------
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("likelihood", ["quantile", "gaussian"])
def test_model_shapes_and_a_proper_distribution(decoder, likelihood):
    torch.manual_seed(0)
    cfg = ForecastModelConfig(horizon=5, decoder=decoder, likelihood=likelihood, hidden_size=8)
    m = Forecaster(cfg, window=7, horizon=5, features=3, future_features=2).eval()
    past, future, target = torch.randn(4, 7, 3), torch.randn(4, 5, 2), torch.randn(4, 5)
    out = m(past, future, target if decoder == "autoregressive" else None)
    assert out.shape == (4, 5, cfg.params)
    if likelihood == "quantile":
        assert (out.diff(dim=-1) > 0).all()  # quantiles never cross
    else:
        assert (out[..., 1] > 0).all()
    assert torch.isfinite(m.loss(out, target))
    if decoder == "autoregressive":
        free = m(past, future)  # no target: decodes its own point forecasts
        assert free.shape == (4, 5, cfg.params)
        paths = m.generate(past, future, samples=50, generator=torch.Generator().manual_seed(0))
        assert paths.shape == (4, 50, 5) and torch.isfinite(paths).all()


def test_windows_respect_the_split():
    s = make_series(sine_trend(120))
    cfg = config(train={"val_size": 20, "test_size": 6}, model={"window": 12})
    lay = layout(cfg, len(s), s.frequency)
    t = Transform.fit(cfg.transform, s.values[:lay.train_end])
    prep = features(t, ColumnScaler.fit("minmax", "auto", s.covariates[:lay.train_end]), s, False)
    lost, H = prep.lost, lay.horizon
    tr, va, te = (window_starts(prep, lay, p) for p in ("train", "val", "test"))
    assert (tr + H + lost <= lay.train_end).all()  # training targets lie in the training part
    assert (va + lost >= lay.train_end).all() and (va + H + lost <= lay.val_end).all()
    assert list(te + lost) == [lay.val_end]
    assert (lay.train_end, lay.val_end, lay.length) == (94, 114, 120)
    w = make_windows(prep, lay, tr[:3])
    assert w["past"].shape == (3, 12, 1) and w["target"].shape == (3, H)
    assert torch.all(w["past"][:, -1, 0] == 0)  # relative to the window's last value


def test_too_short_a_series_says_how_many_points_are_needed():
    s = make_series(sine_trend(30))
    with pytest.raises(RnnkitError, match=r"has 30 points, too few for window 24 \+ horizon 12: training needs at least"):
        layout(config(model={"horizon": 12, "window": 24}), len(s), s.frequency)


# -- training ----------------------------------------------------------------------------------
def with_covariates(y):
    """Two covariates that move with the series: a lagged copy and a ramp."""
    return np.stack([np.roll(y, 1), np.arange(len(y), dtype=np.float64)], axis=1)


def poison(y, x, rows):
    """The series and its covariates with ``rows`` replaced by huge values."""
    y, x = y.copy(), x.copy()
    y[rows], x[rows] = 1e6, -1e6
    return y, x


def test_a_poisoned_test_part_changes_neither_the_scalers_nor_the_forecast(tmp_path):
    y = sine_trend(120)
    x = with_covariates(y)
    cfg = config()
    runs = []
    for name, (values, cov) in (("clean", (y, x)), ("poisoned", poison(y, x, slice(-6, None)))):  # one horizon
        api.train(cfg, tmp_path / name, series=make_series(values, covariates=cov))
        runs.append(api.load(tmp_path / name))
    assert runs[0].transform == runs[1].transform
    assert len(runs[0].covariate_scaler.shift) == 2 and runs[0].covariate_scaler == runs[1].covariate_scaler
    a, b = (api.evaluate(r, "test") for r in runs)
    np.testing.assert_array_equal(a.forecasts, b.forecasts)  # forecasts of the test part from its past
    assert b.scores["mae"] > 1e5  # ...scored against the poisoned values


def test_poisoned_validation_and_test_parts_change_neither_scaler(tmp_path):
    """The training slice is the one ``train`` selects itself (layout: the last 20 + 6 points are held out)."""
    y = sine_trend(120)
    x = with_covariates(y)
    cfg = config(train={"steps": 2, "val_size": 20, "test_size": 6})
    runs = []
    for name, (values, cov) in (("clean", (y, x)), ("poisoned", poison(y, x, slice(94, None)))):
        api.train(cfg, tmp_path / name, series=make_series(values, covariates=cov))
        runs.append(api.load(tmp_path / name))
    assert runs[1].layout.train_end == 94  # so every held-out point is poisoned
    assert runs[0].transform == runs[1].transform
    assert runs[0].covariate_scaler == runs[1].covariate_scaler
    # and they are those of the first 94 points, not of a larger slice both runs would share
    assert runs[0].covariate_scaler == ColumnScaler.fit("minmax", "auto", x[:94])
    assert runs[0].transform == Transform.fit(cfg.transform, y[:94])


def test_a_noiseless_sine_plus_trend_is_forecast_almost_exactly(tmp_path):
    cfg = config(train={"steps": 400, "lr": 1e-2}, model={"horizon": 12})
    api.train(cfg, tmp_path / "run", series=make_series(sine_trend(240)))
    ev = api.evaluate(api.load(tmp_path / "run"), "test")
    assert ev.scores["mase"] < 0.1, ev.scores  # seasonal naive scores 1 on the pure trend part
    assert ev.scores["smape"] < 1.0


def test_interval_coverage_is_close_to_nominal_on_gaussian_noise(tmp_path):
    rng = np.random.default_rng(0)
    y = 10 + rng.normal(0, 1, 1500)
    cfg = config(train={"steps": 600, "test_size": 500, "val_size": 200}, model={"horizon": 5, "window": 20})
    api.train(cfg, tmp_path / "run", series=make_series(y, "2000-01-01", "D"))
    # the learned quantiles; conformal intervals follow the validation stretch, whose noise this seed
    # makes 13% smaller (sd 0.87 against 1.01 in the test part: even the true errors' 80% quantile covers 71%)
    ev = api.evaluate(api.load(tmp_path / "run"), "test", intervals="model")
    assert ev.origins == 100
    assert abs(ev.coverage80 - 0.80) < 0.08, ev
    assert abs(ev.coverage95 - 0.95) < 0.05, ev


def test_autoregressive_decoder_with_differencing_trains_and_forecasts(tmp_path):
    cfg = config(model={"decoder": "autoregressive", "likelihood": "gaussian"}, transform={"difference": 1, "log": True})
    api.train(cfg, tmp_path / "run", series=make_series(sine_trend(120)))
    run = api.load(tmp_path / "run")
    f = api.forecast(run, horizon=9, samples=50)  # beyond the model's horizon: fed back
    assert f.point.shape == (9,) and len(f.dates) == 9
    assert np.all(f.lo95 <= f.lo80) and np.all(f.lo80 <= f.hi80) and np.all(f.hi80 <= f.hi95)
    assert str(f.dates[0]) == "2010-01-01"


def test_covariates_and_calendar_are_inputs(tmp_path):
    y = sine_trend(120)
    x = np.stack([np.roll(y, 1), np.arange(120.0)], axis=1)
    cfg = config(transform={"calendar": True})
    api.train(cfg, tmp_path / "run", series=make_series(y, covariates=x))
    run = api.load(tmp_path / "run")
    assert run.model.encoder.input_size == 1 + 2 + 2  # target, two covariates, month sin/cos
    assert np.isfinite(api.forecast(run).point).all()


def test_killed_run_resumes_to_the_same_losses(tmp_path):
    cfg = config(train={"steps": 40, "eval_every": 10})
    s = make_series(sine_trend(120))
    full = api.train(cfg, tmp_path / "full", series=s)
    api.train(cfg, tmp_path / "cut", series=s, stop_after=25)
    resumed = api.train(cfg, tmp_path / "cut", resume=True)
    assert resumed.steps == full.steps == 40
    assert resumed.best_val == pytest.approx(full.best_val, rel=1e-5)


# -- the backtest ------------------------------------------------------------------------------
def test_backtest_origins_never_see_past_the_origin(tmp_path):
    y = sine_trend(150)
    cfg = config(train={"steps": 20})
    clean = backtest.backtest(cfg, tmp_path / "a", origins=3, season=12, series=make_series(y),
                              models=("rnnkit", "naive", "seasonal_naive", "drift", "ar"))
    # change everything after the first origin: its forecasts must not move
    first = 150 - 3 * 6
    spoiled = y.copy()
    spoiled[first:] = -1e6
    other = backtest.backtest(cfg, tmp_path / "b", origins=3, season=12, series=make_series(spoiled),
                              models=("rnnkit", "naive", "seasonal_naive", "drift", "ar"))
    for name in clean.forecasts:
        np.testing.assert_allclose(clean.forecasts[name][0], other.forecasts[name][0], rtol=1e-6)
    np.testing.assert_allclose(clean.bands[95][0], other.bands[95][0], rtol=1e-6)  # nor its intervals
    assert clean.scores["naive"]["mase"] > 0 and set(clean.scores["rnnkit"]) == {
        "mae", "rmse", "smape", "mase", "coverage80", "msis80", "coverage95", "msis95"}
    assert (tmp_path / "a" / "backtest.md").is_file() and (tmp_path / "a" / "backtest.png").is_file()
    assert (tmp_path / "a" / "runs" / "origin-3" / "best.safetensors").is_file()


def test_data_fraction_shrinks_the_training_windows_only(tmp_path):
    series = make_series(sine_trend(120))
    metas = {}
    for fraction in (1.0, 0.5):
        api.train(config(train={"steps": 2, "data_fraction": fraction}), tmp_path / str(fraction), series=series)
        metas[fraction] = checkpoint.load(tmp_path / str(fraction) / "best.safetensors")[1]
    whole, half = metas[1.0]["train_windows"], metas[0.5]["train_windows"]
    assert whole["count"] == whole["whole"] == half["whole"]
    assert half["count"] == round(whole["count"] / 2)
    assert whole["first"] <= half["first"] and half["first"] + half["count"] <= whole["first"] + whole["count"]
    assert metas[1.0]["layout"] == metas[0.5]["layout"]  # the validation and test parts are where they were
