"""Interval scores and the baselines' intervals, against values worked out by hand."""

import math
from statistics import NormalDist

import numpy as np
import pytest
import torch

from rnnkit.forecast import baselines
from rnnkit.forecast.baselines import fit_ar, forecast_sd, interval_forecasts, with_intervals
from rnnkit.forecast.metrics import interval_scores, msis
from rnnkit.forecast.model import QUANTILES, Forecaster

Z95 = NormalDist().inv_cdf(0.975)


def test_msis_by_hand():
    y, lo, hi = np.array([1.0, 5.0, 10.0]), np.array([0.0, 6.0, 8.0]), np.array([2.0, 7.0, 9.0])
    insample = np.array([0.0, 2.0, 4.0])  # seasonal naive (m = 1) in-sample MAE: 2
    # widths 2, 1, 1; misses: y=5 is 1 below 6, y=10 is 1 above 9; 2/alpha = 40 for 95%
    expected = ((2 + 0) + (1 + 40 * 1) + (1 + 40 * 1)) / 3 / 2
    assert msis(y, lo, hi, insample, 1, 95) == pytest.approx(expected)
    s = interval_scores(y, {95: (lo, hi), 80: (lo, hi)}, insample, 1)
    assert s["coverage95"] == pytest.approx(1 / 3) and s["msis80"] == pytest.approx((2 + 11 + 11) / 3 / 2)
    assert math.isnan(msis(y, lo, hi, np.ones(3), 1, 95))  # no scale


def test_naive_seasonal_naive_and_drift_have_the_textbook_standard_errors():
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0])  # first differences 2, -1, 3, -1, 2
    d = np.diff(y)
    sigma = math.sqrt(np.sum(d ** 2) / 5)
    assert forecast_sd("naive", y, 3, 1) == pytest.approx(sigma * np.sqrt([1, 2, 3]))
    e2 = y[2:] - y[:-2]  # season 2: residuals 1, 2, 2, 1; k = floor((h - 1) / 2)
    assert forecast_sd("seasonal_naive", y, 5, 2) == pytest.approx(
        math.sqrt(np.sum(e2 ** 2) / 4) * np.sqrt([1, 1, 2, 2, 3]))
    c = (6 - 1) / 5
    s_drift = math.sqrt(np.sum((d - c) ** 2) / (5 - 1))  # one parameter, the drift
    h = np.arange(1, 4)
    assert forecast_sd("drift", y, 3, 1) == pytest.approx(s_drift * np.sqrt(h * (1 + h / 5)))
    point, bounds = with_intervals("naive", y, 3, 1, (95,))
    assert bounds[95][1] - point == pytest.approx(Z95 * sigma * np.sqrt(h))


def test_ar_standard_errors_follow_its_recursion():
    rng = np.random.default_rng(0)
    y = np.zeros(3000)
    for t in range(1, 3000):
        y[t] = 0.6 * y[t - 1] + rng.normal()
    fit = fit_ar(y, max_order=1)
    assert not fit.differenced and fit.coef[0] == pytest.approx(0.6, abs=0.05)
    assert fit.sigma == pytest.approx(1.0, abs=0.05)
    phi = fit.coef[0]  # AR(1): var_h = sigma^2 (1 + phi^2 + ... + phi^(2(h-1)))
    expected = fit.sigma * np.sqrt(np.cumsum(phi ** (2 * np.arange(4))))
    assert fit.forecast_sd(4) == pytest.approx(expected)
    walk = baselines.ARFit(True, 0.0, np.zeros(0), 0.0, sigma=2.0)  # a random walk: sigma sqrt(h)
    assert walk.forecast_sd(3) == pytest.approx(2.0 * np.sqrt([1, 2, 3]))


def test_every_baseline_with_intervals_is_nested_and_centred():
    y = 100 + np.cumsum(np.random.default_rng(1).normal(size=80))
    extra = baselines.statsforecast_models(1)
    out = interval_forecasts(y, 4, 1, (80.0, 95.0), extra)
    assert {"naive", "seasonal_naive", "drift", "ar"} <= set(out) and set(extra) <= set(out)
    for name, (point, b) in out.items():
        assert np.all(b[95][0] < b[80][0]) and np.all(b[80][0] < point) and np.all(point < b[80][1]), name
        assert np.all(b[80][1] < b[95][1]), name


@pytest.mark.parametrize("likelihood", ["quantile", "gaussian"])
def test_model_quantiles_hit_the_learned_ones_and_interpolate_between(likelihood):
    out = torch.tensor([[[-2.0, -1.0, 0.0, 1.5, 3.0]]]) if likelihood == "quantile" \
        else torch.tensor([[[1.0, 2.0]]])
    probs = torch.tensor(QUANTILES + (0.05, 0.3))
    q = Forecaster.quantiles(out, likelihood, probs)[0, 0]
    if likelihood == "quantile":
        assert q[:5].tolist() == out[0, 0].tolist()
        assert q[5] == pytest.approx(-2 + (0.05 - 0.025) / (0.1 - 0.025) * 1)  # between the 2.5% and 10%
        assert q[6] == pytest.approx(-1 + (0.3 - 0.1) / 0.4 * 1)
    else:
        expected = [1 + 2 * NormalDist().inv_cdf(p) for p in probs.tolist()]
        assert q.tolist() == pytest.approx(expected, rel=1e-5)
