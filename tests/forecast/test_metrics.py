"""Point-forecast and interval metrics against values worked out by hand."""

import math

import numpy as np
import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.forecast.metrics import coverage, mae, mase, mase_scale, mean_scores, rmse, scores, smape

ACTUAL = np.array([1.0, 2.0, 3.0, 4.0])
FORECAST = np.array([2.0, 2.0, 1.0, 5.0])  # errors 1, 0, -2, 1


def test_mae_and_rmse_by_hand():
    assert mae(ACTUAL, FORECAST) == pytest.approx((1 + 0 + 2 + 1) / 4)  # 1.0
    assert rmse(ACTUAL, FORECAST) == pytest.approx(math.sqrt((1 + 0 + 4 + 1) / 4))  # sqrt(1.5)
    assert mae(ACTUAL, ACTUAL) == 0.0 and rmse(ACTUAL, ACTUAL) == 0.0


def test_smape_by_hand():
    # |y-f|/(|y|+|f|): 1/3, 0/4, 2/4, 1/9; times 200/H with H = 4.
    expected = 200 / 4 * (1 / 3 + 0 + 2 / 4 + 1 / 9)
    assert smape(ACTUAL, FORECAST) == pytest.approx(expected)  # 47.222...
    assert smape(ACTUAL, FORECAST) == pytest.approx(47.2222222222)


def test_smape_bounds_and_zero_terms():
    assert smape(ACTUAL, ACTUAL) == 0.0
    # Opposite signs or one side zero: every term is 1, the maximum 200.
    assert smape([1.0, -2.0, 0.0], [-1.0, 2.0, 3.0]) == pytest.approx(200.0)
    # 0 forecast of 0 counts 0, not nan: terms 0 and 1 -> 200/2 * 1 = 100.
    assert smape([0.0, 1.0], [0.0, 0.0]) == pytest.approx(100.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, f = rng.normal(size=10), rng.normal(size=10)
        assert 0.0 <= smape(y, f) <= 200.0


def test_mase_season_1_by_hand():
    insample = np.array([1.0, 3.0, 2.0, 5.0])  # |diffs| 2, 1, 3 -> scale 2
    assert mase_scale(insample, 1) == pytest.approx(2.0)
    # MAE of ACTUAL vs FORECAST is 1.0 -> MASE 0.5
    assert mase(ACTUAL, FORECAST, insample, 1) == pytest.approx(0.5)


def test_mase_season_12_by_hand():
    # Two years of months: the second year is the first plus 3, except month 5 which is plus 9.
    first = np.arange(12, dtype=float)
    second = first + 3
    second[5] += 6
    insample = np.concatenate([first, second])
    # |x[t] - x[t-12]| for t = 12..23: eleven 3s and one 9 -> scale (11*3 + 9) / 12 = 3.5
    assert mase_scale(insample, 12) == pytest.approx(3.5)
    assert mase(ACTUAL, FORECAST, insample, 12) == pytest.approx(1.0 / 3.5)
    # Season 1 on the same series: 0..11, then 3, 4, 5, 6, 7, 14, 9, 10, ..., 14. Twenty steps
    # of 1, the year boundary |3 - 11| = 8, and around month 5 |14 - 7| = 7, |9 - 14| = 5.
    assert mase_scale(insample, 1) == pytest.approx((20 + 8 + 7 + 5) / 23)


def test_mase_falls_back_to_season_1_when_history_is_shorter_than_a_season():
    insample = np.array([1.0, 3.0, 2.0, 5.0])
    assert mase(ACTUAL, FORECAST, insample, 12) == mase(ACTUAL, FORECAST, insample, 1)
    assert mase(ACTUAL, FORECAST, insample, 4) == mase(ACTUAL, FORECAST, insample, 1)  # season == T


def test_mase_is_nan_for_a_constant_or_too_short_history():
    assert math.isnan(mase(ACTUAL, FORECAST, np.full(24, 7.0), 1))
    assert math.isnan(mase(ACTUAL, FORECAST, np.full(24, 7.0), 12))
    # Seasonal differences all 0 although the series is not constant.
    assert math.isnan(mase(ACTUAL, FORECAST, np.tile([1.0, 2.0, 3.0], 4), 3))
    assert math.isnan(mase(ACTUAL, FORECAST, [5.0], 1))


def test_mase_rejects_a_season_below_1():
    with pytest.raises(RnnkitError, match="season 0"):
        mase(ACTUAL, FORECAST, ACTUAL, 0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="shape"):
        smape(np.ones((2, 2)), np.ones((2, 2)))


def test_coverage():
    assert coverage(ACTUAL, ACTUAL - 1, ACTUAL + 1) == 1.0
    # Bounds are inside: 1 in [1, 1], 2 not in [2.5, 3], 3 in [0, 3], 4 not in [5, 6].
    assert coverage(ACTUAL, [1.0, 2.5, 0.0, 5.0], [1.0, 3.0, 3.0, 6.0]) == 0.5


def test_scores_and_mean_scores():
    insample = np.array([1.0, 3.0, 2.0, 5.0])
    s = scores(ACTUAL, FORECAST, insample, 1)
    assert list(s) == ["mae", "rmse", "smape", "mase"]
    assert all(isinstance(v, float) for v in s.values())
    assert s["mase"] == pytest.approx(0.5)

    rows = [{"mae": 1.0, "mase": math.nan}, {"mae": 3.0, "mase": 2.0}, {"mae": 5.0, "mase": math.nan}]
    m = mean_scores(rows)
    assert m["mae"] == pytest.approx(3.0)
    assert m["mase"] == pytest.approx(2.0)  # nan origins left out
    assert math.isnan(mean_scores([{"mase": math.nan}, {"mase": math.nan}])["mase"])
    assert mean_scores([]) == {}
