"""Transforms: every chain inverts exactly; min-max and standard scaling; covariate scaling."""

import itertools

import numpy as np
import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.forecast.transforms import ColumnScaler, Transform, TransformConfig


def seasonal_series(n=120, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + 0.8 * t + 12 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)


@pytest.mark.parametrize("log,diff,seasonal,scale", list(itertools.product(
    [False, True], [0, 1, 2], [0, 12], ["minmax", "standard", "none"])))
def test_every_chain_inverts_exactly(log, diff, seasonal, scale):
    y = seasonal_series()
    cfg = TransformConfig(scale=scale, log=log, difference=diff, seasonal_difference=seasonal)
    t = Transform.fit(cfg, y[:90])
    z = t.forward(y)
    assert z.shape == (len(y) - diff - seasonal,)
    # the last 30 points, recovered from their transformed values and the history before them
    lost = diff + seasonal
    back = t.inverse(z[90 - lost:], y[:90])
    np.testing.assert_allclose(back, y[90:], rtol=1e-10, atol=1e-8)
    # a batch of rows inverts row by row the same way
    rows = np.stack([z[90 - lost:], z[90 - lost:]])
    np.testing.assert_allclose(t.inverse(rows, y[:90]), np.stack([y[90:], y[90:]]), rtol=1e-10, atol=1e-8)


def test_minmax_maps_the_training_part_into_the_activation_range():
    y = seasonal_series()
    t = Transform.fit(TransformConfig(difference=0), y[:90])
    z = t.forward(y[:90])
    assert z.min() == pytest.approx(-1) and z.max() == pytest.approx(1)
    t01 = Transform.fit(TransformConfig(difference=0, scale_range="0..1"), y[:90])
    z01 = t01.forward(y[:90])
    assert z01.min() == pytest.approx(0) and z01.max() == pytest.approx(1)
    ts = Transform.fit(TransformConfig(difference=0, scale="standard"), y[:90])
    zs = ts.forward(y[:90])
    assert zs.mean() == pytest.approx(0, abs=1e-12) and zs.std() == pytest.approx(1)


def test_a_fitted_transform_round_trips_through_json():
    # which rows it is fitted on is train()'s choice: test_forecast_task.py poisons the held-out rows
    a = Transform.fit(TransformConfig(), seasonal_series()[:90])
    assert Transform.from_json(a.to_json()) == a


def test_constant_and_nonpositive_series_are_clear_errors():
    with pytest.raises(RnnkitError, match="constant"):
        Transform.fit(TransformConfig(difference=0), np.full(50, 3.0))
    with pytest.raises(RnnkitError, match="constant after differencing"):
        Transform.fit(TransformConfig(difference=1), np.arange(50.0))  # a straight line: constant differences
    with pytest.raises(RnnkitError, match="--log needs positive values"):
        Transform.fit(TransformConfig(log=True), np.array([1.0, 0.0, 2.0, 3.0]))
    with pytest.raises(RnnkitError, match="--difference"):
        TransformConfig(difference=3)


def test_covariate_scaler_is_fitted_on_training_rows_and_passes_constant_columns():
    x = np.stack([np.arange(10.0), np.full(10, 5.0)], axis=1)
    s = ColumnScaler.fit("minmax", "auto", x[:5])
    out = s(x)
    assert out[:5, 0].min() == -1 and out[4, 0] == 1 and out[9, 0] > 1  # later rows are not squeezed in
    assert np.all(np.isfinite(out[:, 1]))
