"""Baseline forecasters: exact values of the simple ones, what the AR recovers, the statsforecast wrapper."""

import sys

import numpy as np
import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.forecast.baselines import (BASELINES, ar, default_ar_max_order, drift, fit_ar, naive, seasonal_naive,
                                       statsforecast_models)

HISTORY = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])  # T = 8


def test_registry_names_and_order():
    assert list(BASELINES) == ["naive", "seasonal_naive", "drift", "ar"]
    assert BASELINES["ar"] is ar


def test_naive():
    np.testing.assert_array_equal(naive(HISTORY, 5, 12), [6.0] * 5)
    assert naive([7], 1, 1).shape == (1,)


def test_seasonal_naive():
    # Last season of 3 is 9, 2, 6; repeated over 5 steps.
    np.testing.assert_array_equal(seasonal_naive(HISTORY, 5, 3), [9.0, 2.0, 6.0, 9.0, 2.0])
    # A season as long as the history repeats all of it.
    np.testing.assert_array_equal(seasonal_naive(HISTORY, 10, 8), [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 3.0, 1.0])
    # No season, or a history shorter than one season: the naive forecast.
    for season in (1, 0, 9, 12):
        np.testing.assert_array_equal(seasonal_naive(HISTORY, 4, season), [6.0] * 4)


def test_drift():
    # Slope (6 - 3) / (8 - 1) = 3/7 per step from the last value 6.
    np.testing.assert_allclose(drift(HISTORY, 3, 1), [6 + 3 / 7, 6 + 6 / 7, 6 + 9 / 7], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(drift([4.0], 2, 1), [4.0, 4.0])


@pytest.mark.parametrize("name", list(BASELINES))
def test_shape_and_dtype(name):
    f = BASELINES[name](np.arange(40, dtype=np.int64) % 7, 9, 7)
    assert f.shape == (9,) and f.dtype == np.float64 and np.isfinite(f).all()


@pytest.mark.parametrize("name", list(BASELINES))
def test_user_errors(name):
    fc = BASELINES[name]
    with pytest.raises(RnnkitError, match="horizon 0"):
        fc(HISTORY, 0, 1)
    with pytest.raises(RnnkitError, match="horizon"):
        fc(HISTORY, 2.5, 1)
    with pytest.raises(RnnkitError, match="history is empty"):
        fc([], 3, 1)
    with pytest.raises(RnnkitError, match="missing"):
        fc([1.0, np.nan, 2.0], 3, 1)
    with pytest.raises(RnnkitError, match="1-D"):
        fc(np.ones((4, 2)), 3, 1)


def simulate_ar2(T: int, c: float, a1: float, a2: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(T + 200)
    e = rng.normal(size=T + 200)
    for t in range(2, T + 200):
        y[t] = c + a1 * y[t - 1] + a2 * y[t - 2] + e[t]
    return y[200:]  # burn-in dropped


def test_ar_recovers_an_ar2_process():
    c, a1, a2 = 2.0, 0.6, -0.3
    y = simulate_ar2(2000, c, a1, a2, seed=7)
    fit = fit_ar(y, season=1)
    assert not fit.differenced
    assert 2 <= fit.order <= 4  # AIC may add a lag or two; they must then be near 0
    np.testing.assert_allclose(fit.coef[:2], [a1, a2], atol=0.05)
    np.testing.assert_allclose(fit.coef[2:], 0.0, atol=0.06)

    # The true conditional mean of the next 6 values, given the history.
    true = []
    prev1, prev2 = y[-1], y[-2]
    for _ in range(6):
        m = c + a1 * prev1 + a2 * prev2
        true.append(m)
        prev1, prev2 = m, prev1
    f = ar(y, 6, 1)
    # Estimation errors are O(1/sqrt(T)) ~ 0.02 per coefficient, ~0.04 on the mean (here about 0.1
    # at most on the forecast); the noise sd is 1, the one-step forecast error of the true model.
    np.testing.assert_allclose(f, true, atol=0.15)
    assert np.abs(f - true).max() < 0.2 * np.abs(naive(y, 6) - true).max()


@pytest.mark.parametrize("start, slope", [(5.0, 0.5), (1e4, -3.0)])
def test_ar_forecasts_a_linear_trend_almost_exactly(start, slope):
    y = start + slope * np.arange(50)
    f = ar(y, 10, 12)
    np.testing.assert_allclose(f, start + slope * np.arange(50, 60), rtol=1e-9, atol=1e-9)
    fit = fit_ar(y, 12)
    assert fit.differenced and fit.order == 0  # a random walk with drift: the fewest coefficients


def test_ar_on_a_random_walk_differences():
    y = np.cumsum(np.random.default_rng(3).normal(size=1000)) + 100.0
    assert fit_ar(y, 1).differenced


def test_ar_constant_and_short_histories():
    np.testing.assert_allclose(ar(np.full(30, 4.2), 5, 1), [4.2] * 5, rtol=1e-12)
    np.testing.assert_array_equal(ar([1.0, 2.0, 5.0], 2, 1), [5.0, 5.0])  # T < 4: naive
    assert np.isfinite(ar([1.0, 2.0, 5.0, 3.0], 4, 1)).all()


def test_ar_order_limits():
    assert default_ar_max_order(1) == 12
    assert default_ar_max_order(24) == 24
    assert default_ar_max_order(365) == 30
    y = simulate_ar2(300, 0.0, 0.6, -0.3, seed=1)
    assert fit_ar(y, 1, max_order=1).order <= 1
    assert fit_ar(y[:9], 1).order <= 3  # T // 3
    with pytest.raises(RnnkitError, match="max_order"):
        fit_ar(y, 1, max_order=0)


def seasonal_series(T: int = 96) -> np.ndarray:
    t = np.arange(T)
    noise = np.random.default_rng(0).normal(scale=0.5, size=T)
    return 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + noise


def test_statsforecast_models_wrap_autoets_and_autoarima():
    pytest.importorskip("statsforecast")
    models = statsforecast_models(12)
    assert list(models) == ["autoets", "autoarima"]
    y = seasonal_series()
    for name, fc in models.items():
        f = fc(y, 18, 12)
        assert f.shape == (18,) and f.dtype == np.float64 and np.isfinite(f).all(), name
        with pytest.raises(RnnkitError, match="horizon"):
            fc(y, 0)


def test_statsforecast_models_is_empty_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast.models", None)  # makes the import fail
    assert statsforecast_models(12) == {}
    with pytest.raises(RnnkitError, match="season 0"):
        statsforecast_models(0)
