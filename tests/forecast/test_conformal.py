"""Conformal intervals: the quantile rule by hand, coverage on exchangeable errors, no test data in the
calibration (poisoned test part), runs saved before them, and the verbs that show them."""

import json
import math

import numpy as np
import pytest

from conftest import cli, ok
from rnnkit.core import checkpoint
from rnnkit.core.config import from_dict
from rnnkit.forecast import api
from rnnkit.forecast.conformal import CALIBRATION_FILE, Z80, Calibration
from rnnkit.forecast.series import Series, infer_frequency
from rnnkit.forecast.task import ForecastConfig


def make_series(values, start="2000-01", unit="M") -> Series:
    values = np.asarray(values, dtype=np.float64)
    dates = (np.datetime64(start, unit) + np.arange(len(values))).astype("datetime64[D]")
    return Series(dates, values, np.zeros((len(values), 0)), [], "y", infer_frequency(dates))


def noisy_sine(n=96, seed=0):
    t = np.arange(n)
    return 50 + 0.2 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 1.5, n)


def config(**sections) -> ForecastConfig:
    base = {"model": {"horizon": 6, "hidden_size": 8}, "train": {"steps": 25, "patience": 0, "log_every": 25},
            "calibration": {"calibration_windows": 14}}  # 7 validation windows: one rolling fit more
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return from_dict(ForecastConfig, base)


# -- the rule, by hand ---------------------------------------------------------------------------
def test_widths_are_the_conformal_quantile_of_each_step():
    res = np.array([[1.0, -10], [-2, 20], [3, -30], [-4, 40]])  # n = 4 windows, H = 2 steps
    cal = Calibration(res, np.array([[1.0, 10], [2, 10], [1, 10], [4, 10]]))
    # rank ceil((n + 1) L): L = 50% -> 3rd smallest |r|; L = 80% -> 4th (the largest)
    assert cal.widths(50, "absolute").tolist() == [3, 30]
    assert cal.widths(80, "absolute").tolist() == [4, 40]
    assert cal.widths(95, "absolute").tolist() == [4, 40]  # n too small: the largest, no guarantee
    # scaled: |r| / spread = 1, 1, 3, 1 and 1, 2, 3, 4
    assert cal.widths(50, "scaled").tolist() == [1, 3]
    lo, hi = cal.intervals(np.array([[100.0, 100, 100]]), np.array([[2.0, 1, 5]]), (50,), "scaled")[50]
    assert lo.tolist() == [[98, 97, 95]] and hi.tolist() == [[102, 103, 105]]  # step 3 reuses step 1's width (1)


def test_conformal_intervals_cover_at_the_nominal_rate_on_exchangeable_errors():
    rng = np.random.default_rng(0)
    H, n, m = 4, 200, 4000
    sd = rng.uniform(0.5, 3, (n + m, H))  # the model knows each forecast's spread, up to a constant it got wrong
    err = rng.normal(0, 1, (n + m, H)) * sd
    cal = Calibration(err[:n], 0.3 * sd[:n])  # the model's 80% interval is 3x too narrow
    for score in ("scaled", "absolute"):
        bounds = cal.intervals(np.zeros((m, H)), 0.3 * sd[n:], (80, 95), score)
        for level, (lo, hi) in bounds.items():
            covered = np.mean((err[n:] >= lo) & (err[n:] <= hi))
            assert abs(covered - level / 100) < 0.04, (score, level, covered)


def test_calibration_round_trips_through_json():
    cal = Calibration(np.arange(6.0).reshape(3, 2), np.ones((3, 2)), [{"points": 50, "windows": 3}])
    back = Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert np.array_equal(back.residuals, cal.residuals) and back.fits == cal.fits


# -- no test data in the calibration -------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same series trained twice, once with its test part (the last 6 points) set to huge values."""
    d = tmp_path_factory.mktemp("conformal")
    y = noisy_sine()
    poisoned = y.copy()
    poisoned[-6:] = 1e9
    api.train(config(), d / "clean", series=make_series(y))
    api.train(config(), d / "poisoned", series=make_series(poisoned))
    return d


def test_the_test_part_never_reaches_the_calibration(runs):
    clean, poisoned = api.load(runs / "clean"), api.load(runs / "poisoned")
    assert clean.layout.val_end == 90  # the test part, 90..95, is what was poisoned
    assert len(clean.calibration.fits) == 2  # the run's validation windows and one rolling fit
    assert np.array_equal(clean.calibration.residuals, poisoned.calibration.residuals)
    assert np.array_equal(clean.calibration.spread, poisoned.calibration.spread)
    for level in (80, 95):
        assert np.array_equal(clean.calibration.widths(level, "scaled"), poisoned.calibration.widths(level, "scaled"))
    assert clean.calibration.fits == [{"points": 90, "windows": 7}, {"points": 84, "windows": 7}]
    assert (runs / "clean" / "calibration" / "fit-1" / "best.safetensors").is_file()
    # the intervals the test part is scored with: identical, though their actual values are not
    a, b = api.evaluate(clean, "test"), api.evaluate(poisoned, "test")
    assert a.scores["coverage95"] != b.scores["coverage95"] or a.scores["msis95"] != b.scores["msis95"]
    assert np.array_equal(a.forecasts, b.forecasts)
    fa, fb = api.forecast(clean, horizon=6), api.forecast(poisoned, horizon=6)  # from the end: reads the test part
    assert not np.array_equal(fa.point, fb.point)


def test_conformal_keeps_the_median_and_changes_the_intervals(runs):
    run = api.load(runs / "clean")
    conf, model = api.forecast(run), api.forecast(run, intervals="model")
    assert conf.method == "conformal" and model.method == "model"
    assert np.array_equal(conf.point, model.point)
    assert not np.allclose(conf.lo95, model.lo95)
    assert np.all(conf.lo95 <= conf.lo80) and np.all(conf.lo80 <= conf.point) and np.all(conf.hi80 <= conf.hi95)
    wide = api.forecast(run, levels=(50, 99))
    assert list(wide.bounds) == [50, 99] and np.all(wide.bounds[99][0] <= wide.bounds[50][0])


def test_model_intervals_at_any_level_interpolate_the_learned_quantiles(runs):
    run = api.load(runs / "clean")
    f = api.forecast(run, intervals="model", levels=(80, 90, 95))
    assert np.all(f.lo95 <= f.bounds[90][0]) and np.all(f.bounds[90][0] <= f.lo80)
    # the scaled conformal spread of a forecast is its model's 80% half-width over z(0.9)
    assert Z80 == pytest.approx(1.2815515655446004)


# -- runs saved before conformal intervals --------------------------------------------------------
def test_a_run_saved_before_conformal_intervals_keeps_its_model_intervals(runs, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(runs / "clean", old)
    (old / CALIBRATION_FILE).unlink()
    for name in ("best.safetensors", "last.safetensors"):  # the config as rnnkit wrote it before this change
        tensors, meta = checkpoint.load(old / name)
        for key in ("intervals", "levels", "conformal_score"):
            del meta["config"]["forecast"][key]
        del meta["config"]["calibration"]
        checkpoint.save(old / name, tensors, meta)
    run = api.load(old)
    assert run.config.forecast.intervals == "model" and run.calibration is None
    f = api.forecast(run)
    assert f.method == "model"
    assert np.array_equal(f.lo95, api.forecast(api.load(runs / "clean"), intervals="model").lo95)
    with pytest.raises(Exception, match="no calibration.json"):
        api.forecast(run, intervals="conformal")


# -- the verbs ------------------------------------------------------------------------------------
def test_forecast_evaluate_and_backtest_report_intervals(runs, tmp_path):
    rows = [json.loads(r) for r in ok(cli("forecast", runs / "clean", "--json", "--levels", "50,90")).stdout.splitlines()]
    assert list(rows[0]) == ["date", "forecast", "lo50", "hi50", "lo90", "hi90"] and len(rows) == 6
    ok(cli("forecast", runs / "clean", "--intervals", "model", "--plot", tmp_path / "f.png"))
    assert (tmp_path / "f.png").stat().st_size > 1000
    ev = json.loads(ok(cli("evaluate", runs / "clean", "--split", "test", "--json")).stdout)
    assert ev["intervals"] == "conformal" and {"coverage80", "msis80", "coverage95", "msis95"} <= set(ev)
    assert {"naive", "seasonal_naive", "drift", "ar"} <= set(ev["baselines"])
    assert all(math.isfinite(ev["baselines"][b]["msis95"]) for b in ("naive", "seasonal_naive", "ar"))


def test_backtest_scores_every_kind_of_interval(tmp_path):
    csv = tmp_path / "s.csv"
    y = noisy_sine(120)
    csv.write_text("month,y\n" + "\n".join(f"{2000 + i // 12}-{i % 12 + 1:02d},{v:.3f}" for i, v in enumerate(y)))
    out = ok(cli("backtest", "--task", "forecast", "--data", csv, "--origins", "2", "--horizon", "6",
                 "--hidden-size", "8", "--steps", "25", "--patience", "0", "--calibration-windows", "0",
                 "--out", tmp_path / "bt", "--json"))
    res = json.loads(out.stdout)
    own = res["models"]["rnnkit"]
    assert res["intervals"] == "conformal" and res["levels"] == [80, 95]
    for variant in ("rnnkit:model", "rnnkit:conformal-scaled", "rnnkit:conformal-absolute"):
        assert res["models"][variant]["mase"] == own["mase"]  # one median, several intervals
    assert own["msis95"] == res["models"]["rnnkit:conformal-scaled"]["msis95"]
    assert {"coverage80", "msis95"} <= set(res["models"]["naive"]) and res["coverage95"] == own["coverage95"]


@pytest.mark.parametrize("levels", ["80,120", "80,abc", "", "95,95", "0"])
def test_bad_levels_are_one_line_errors_naming_the_flag(levels):
    from rnnkit.core.errors import RnnkitError
    from rnnkit.forecast.task import ForecastUseConfig

    with pytest.raises(RnnkitError, match="--levels"):
        ForecastUseConfig(levels=levels)
