"""Baseline forecasters: what a learned model must beat before it is worth its training.

Every baseline is a function ``(history, horizon, season) -> forecast``: ``history`` is one
series of shape ``(T,)``, the only data it is fitted on; ``forecast`` has shape ``(horizon,)``,
the values at ``T, T+1, ..., T+horizon-1`` (0-based), float64. ``season`` is the number of steps
in a seasonal cycle (12 for monthly data with a yearly cycle, 1 for none).

- ``naive``: the last value, repeated. Optimal for a random walk, and hard to beat on prices.
- ``seasonal_naive``: the last full season, repeated; ``naive`` when ``season <= 1`` or the
  history is shorter than one season.
- ``drift``: the line through the first and the last value, extended:
  ``y[T-1] + h * (y[T-1] - y[0]) / (T - 1)`` for ``h = 1..horizon`` (``naive`` when ``T == 1``).
- ``ar``: an autoregression fitted by least squares, forecast recursively (:func:`fit_ar`).

:data:`BASELINES` names them in that order. :func:`statsforecast_models` adds the automatic
ETS and ARIMA models of the optional ``statsforecast`` package (``pip install rnnkit[forecast]``),
the strong classical references; it gives ``{}`` when the package is absent.

Prediction intervals (:func:`with_intervals`): naive, seasonal naive and drift have the
textbook Gaussian intervals of Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*
(3rd ed.), section 5.5: ``f ± z * sigma_h`` with ``sigma`` the residual standard deviation
``sqrt(sum e^2 / (T - K - M))`` (``K`` parameters, ``M`` residuals missing at the start) and
``sigma_h = sigma sqrt(h)`` (naive), ``sigma sqrt(k + 1)``, ``k = floor((h - 1) / m)``
(seasonal naive), ``sigma sqrt(h (1 + h / (T - 1)))`` (drift); ``ar`` the forecast standard
errors of its fitted recursion, ``sigma sqrt(sum_{j<h} psi_j^2)``; AutoETS and AutoARIMA
statsforecast's own ``level=`` intervals.

How ``ar`` chooses its model: two families are fitted, each with an intercept, by ordinary least
squares,

- levels: ``y[t] = c + a1*y[t-1] + ... + ap*y[t-p]``, ``p = 1..P``;
- differences: ``d[t] = c + b1*d[t-1] + ... + bq*d[t-q]`` with ``d[t] = y[t] - y[t-1]``,
  ``q = 0..P-1`` (``q = 0`` is a random walk with drift), forecast by summing the forecast
  differences onto the last value;

with ``P = min(max_order, T // 3)`` and by default ``max_order = min(max(season, 12), 30)``. Both
families predict ``y[t]`` from at most ``P`` past values, so all candidates are scored on the same
targets ``y[P..T-1]``, and one Akaike criterion ``n*log(RSS/n) + 2k`` (``k`` coefficients,
intercept included) picks both the family and the order. The difference model is the level model
of order ``q + 1`` with its coefficients constrained to sum to 1 (a unit root), so it wins when a
trend or a random walk makes that constraint cost no fit: a deterministic, test-free way to
decide whether to difference. Ties (exact fits, e.g. a straight line) go to fewer coefficients,
and between equal sizes to the difference model. The chosen model is then refitted on all the
targets its order allows. Histories shorter than 4 values are too short to fit and get ``naive``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from rnnkit.core.errors import RnnkitError

Forecaster = Callable[..., np.ndarray]  # (history (T,), horizon, season) -> (horizon,)

AR_MAX_ORDER_CAP = 30  # the largest default AR order, whatever the season
AR_MIN_ORDER_CAP = 12  # the default order limit for short or no seasons
AR_MIN_HISTORY = 4  # shorter histories get the naive forecast
_REL_FLOOR = 1e-20  # RSS/n below this times mean(y^2) is an exact fit (rounding noise is not signal)


def check_history(history) -> np.ndarray:
    """``history`` as a float64 ``(T,)`` array with ``T >= 1`` and no missing values, or an RnnkitError."""
    y = np.asarray(history, dtype=np.float64)
    if y.ndim != 1:
        raise RnnkitError(f"history has shape {y.shape}; give one series as a 1-D array of values")
    if y.size == 0:
        raise RnnkitError("history is empty; give at least one past value to forecast from")
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise RnnkitError(f"history has {bad} missing or infinite values; fill or drop them before forecasting")
    return y


def check_horizon(horizon) -> int:
    """``horizon`` as an int ``>= 1``, or an RnnkitError."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise RnnkitError(f"horizon {horizon!r} is not a whole number; give the number of steps to forecast (>= 1)")
    if horizon < 1:
        raise RnnkitError(f"horizon {horizon} is below 1; give the number of steps to forecast (>= 1)")
    return int(horizon)


def naive(history, horizon: int, season: int = 1) -> np.ndarray:
    """The last value of ``history`` ``(T,)`` repeated: shape ``(horizon,)``. ``season`` is unused."""
    y, h = check_history(history), check_horizon(horizon)
    return np.full(h, y[-1], dtype=np.float64)


def seasonal_naive(history, horizon: int, season: int) -> np.ndarray:
    """The last ``season`` values of ``history`` ``(T,)`` repeated: ``f[i] = y[T - season + i % season]``.

    Shape ``(horizon,)``. :func:`naive` when ``season <= 1`` or ``T < season``.
    """
    y, h = check_history(history), check_horizon(horizon)
    season = int(season)
    if season <= 1 or y.size < season:
        return naive(y, h)
    last = y[-season:]
    return last[np.arange(h) % season].astype(np.float64, copy=True)


def drift(history, horizon: int, season: int = 1) -> np.ndarray:
    """``y[T-1] + h * (y[T-1] - y[0]) / (T - 1)``, ``h = 1..horizon``: shape ``(horizon,)``.

    The mean step of ``history`` ``(T,)`` extended from its last value; :func:`naive` when
    ``T == 1``. ``season`` is unused.
    """
    y, h = check_history(history), check_horizon(horizon)
    if y.size == 1:
        return naive(y, h)
    slope = (y[-1] - y[0]) / (y.size - 1)
    return y[-1] + slope * np.arange(1, h + 1, dtype=np.float64)


@dataclass(frozen=True)
class ARFit:
    """A fitted autoregression: ``x[t] = intercept + sum_i coef[i] * x[t-1-i]``.

    ``x`` is the series itself, or its first differences when ``differenced``; ``order`` is
    ``len(coef)`` (0 is possible for differences: a random walk with drift).
    """

    differenced: bool
    intercept: float
    coef: np.ndarray  # (order,), coef[i] multiplies the value i+1 steps back
    aic: float  # of the selection fit, on the common targets
    sigma: float = float("nan")  # residual standard deviation of the final fit, sqrt(RSS / (n - k))

    @property
    def order(self) -> int:
        return int(self.coef.size)

    def forecast(self, history, horizon: int) -> np.ndarray:
        """Recursive forecast from the end of ``history`` ``(T,)``: shape ``(horizon,)``."""
        y, h = check_history(history), check_horizon(horizon)
        x = np.diff(y) if self.differenced else y
        p = self.order
        need = p + 1 if self.differenced else p  # values to form the first p lags
        if y.size < need:
            raise RnnkitError(f"history has {y.size} values; this fitted AR({p}) needs at least {need}")
        buf = list(x[x.size - p:][::-1]) if p else []  # newest first
        out = np.empty(h, dtype=np.float64)
        for i in range(h):
            v = self.intercept + float(np.dot(self.coef, buf)) if p else self.intercept
            out[i] = v
            if p:
                buf = [v] + buf[:-1]
        return y[-1] + np.cumsum(out) if self.differenced else out

    def forecast_sd(self, horizon: int) -> np.ndarray:
        """Standard errors ``(horizon,)`` of the recursive forecast: ``sigma sqrt(sum_{j<h} psi_j^2)``.

        ``psi`` are the responses of the series to one unit shock, propagated through the
        recursion (summed once more for a differenced model, whose shocks move the level for good).
        """
        psi = np.zeros(horizon)
        for j in range(horizon):
            psi[j] = 1.0 if j == 0 else sum(c * psi[j - 1 - i] for i, c in enumerate(self.coef) if j - 1 - i >= 0)
        if self.differenced:
            psi = np.cumsum(psi)
        return self.sigma * np.sqrt(np.cumsum(psi ** 2))


def _design(x: np.ndarray, p: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``x[first:]`` and their regressors ``[1, x[t-1], ..., x[t-p]]``, ``first >= p``."""
    n = x.size - first
    cols = [np.ones(n)] + [x[first - i:x.size - i] for i in range(1, p + 1)]
    return x[first:], np.column_stack(cols)


def _ols(target: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, float]:
    beta, *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ beta
    return beta, float(resid @ resid)


def _nested_rss(target: np.ndarray, design: np.ndarray, sizes: list[int]) -> list[float]:
    """Residual sums of squares of ``target`` on the first ``k`` columns of ``design``, each ``k`` in ``sizes``.

    One QR factorization serves every nested model: with ``z = Q.T @ target`` and ``r`` the
    residual of the full fit, the fit on the first ``k`` columns leaves ``|r|^2 + sum(z[k:]^2)``
    (a sum of squares, so an exact fit is not lost to cancellation).
    """
    q, _ = np.linalg.qr(design)
    z = q.T @ target
    r = target - q @ z
    tail = np.cumsum((z * z)[::-1])[::-1]  # tail[j] = sum(z[j:]^2)
    base = float(r @ r)
    return [base + (float(tail[k]) if k < z.size else 0.0) for k in sizes]


def default_ar_max_order(season: int) -> int:
    """``min(max(season, 12), 30)``: one full season of lags when it fits, at least a year of months."""
    return min(max(int(season), AR_MIN_ORDER_CAP), AR_MAX_ORDER_CAP)


def fit_ar(history, season: int = 1, max_order: int | None = None) -> ARFit:
    """Choose and fit the autoregression of ``history`` ``(T,)``, ``T >= 4`` (module docstring).

    ``max_order`` defaults to :func:`default_ar_max_order` of ``season``; the orders tried go up
    to ``min(max_order, T // 3)``.
    """
    y = check_history(history)
    T = y.size
    if T < AR_MIN_HISTORY:
        raise RnnkitError(f"history has {T} values; an autoregression needs at least {AR_MIN_HISTORY}")
    cap = default_ar_max_order(season) if max_order is None else int(max_order)
    if cap < 1:
        raise RnnkitError(f"max_order {cap} is below 1; give the largest AR order to try (>= 1)")
    P = max(1, min(cap, T // 3))
    d = np.diff(y)
    n = T - P  # common targets y[P..T-1], i.e. d[P-1..T-2]
    floor = max(_REL_FLOOR * float(np.mean(y * y)), np.finfo(np.float64).tiny)

    best: tuple[float, int, int, bool, int] | None = None  # (aic, k, family rank, differenced, order)
    for differenced in (True, False):
        orders = range(P) if differenced else range(1, P + 1)
        target, design = _design(d, P - 1, P - 1) if differenced else _design(y, P, P)
        for order, rss in zip(orders, _nested_rss(target, design, [o + 1 for o in orders])):
            k = order + 1
            aic = n * np.log(max(rss / n, floor)) + 2 * k
            key = (aic, k, 0 if differenced else 1, differenced, order)
            if best is None or key[:3] < best[:3]:
                best = key
    assert best is not None
    aic, _, _, differenced, order = best
    x = d if differenced else y
    target, design = _design(x, order, order)
    beta, rss = _ols(target, design)
    dof = max(target.size - design.shape[1], 1)
    return ARFit(differenced=differenced, intercept=float(beta[0]), coef=beta[1:].astype(np.float64), aic=float(aic),
                 sigma=float(np.sqrt(rss / dof)))


def ar(history, horizon: int, season: int, *, max_order: int | None = None) -> np.ndarray:
    """Autoregression chosen by AIC (levels or differences, see :func:`fit_ar`), forecast recursively.

    ``history`` ``(T,)`` -> ``(horizon,)``. Histories shorter than 4 values get :func:`naive`.
    """
    y, h = check_history(history), check_horizon(horizon)
    if y.size < AR_MIN_HISTORY:
        return naive(y, h)
    return fit_ar(y, season, max_order).forecast(y, h)


BASELINES: dict[str, Forecaster] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "ar": ar,
}


def statsforecast_models(season: int) -> dict[str, Forecaster]:
    """``{"autoets", "autoarima"}`` from ``statsforecast``, or ``{}`` when it is not installed.

    Each value is a function ``(history (T,), horizon, season=None) -> (horizon,)`` like the
    baselines, so they can be called side by side; the models' season is the ``season`` given
    here (``AutoETS(season_length=season)``, ``AutoARIMA(season_length=season)``), and the third
    argument is accepted and ignored, because the season a model fits (e.g. a weekly 5 for trading
    days) need not be the one the baselines and MASE use. A fresh model is fitted on every call.
    """
    season = int(season)
    if season < 1:
        raise RnnkitError(f"season {season} is below 1; give the number of steps in a seasonal cycle (1 for none)")
    try:
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError:
        return {}

    def wrap(make) -> Forecaster:
        def model(history, horizon: int, season: int | None = None, levels: Sequence[float] = ()):
            """The point forecast ``(h,)``; with ``levels``, ``(point, {level: (lower, upper)})``."""
            y, h = check_history(history), check_horizon(horizon)
            out = make().forecast(y=y, h=h, level=list(levels)) if levels else make().forecast(y=y, h=h)
            point = np.asarray(out["mean"], dtype=np.float64).reshape(h)
            if not levels:
                return point
            return point, {lv: (np.asarray(out[f"lo-{lv}"], dtype=np.float64).reshape(h),
                                np.asarray(out[f"hi-{lv}"], dtype=np.float64).reshape(h)) for lv in levels}

        return model

    autoets = wrap(lambda: AutoETS(season_length=season))
    autoarima = wrap(lambda: AutoARIMA(season_length=season))
    autoets.__name__, autoets.__qualname__ = "autoets", "autoets"
    autoarima.__name__, autoarima.__qualname__ = "autoarima", "autoarima"
    autoets.__doc__ = f"statsforecast AutoETS(season_length={season}): (history (T,), horizon) -> (horizon,)"
    autoarima.__doc__ = f"statsforecast AutoARIMA(season_length={season}): (history (T,), horizon) -> (horizon,)"
    return {"autoets": autoets, "autoarima": autoarima}


# -- prediction intervals ------------------------------------------------------------------------
Bounds = dict[float, tuple[np.ndarray, np.ndarray]]  # level (a percentage) -> (lower (H,), upper (H,))


def _residual_sd(residuals: np.ndarray, params: int) -> float:
    """``sqrt(sum e^2 / (n - K))`` over the ``n`` residuals there are (FPP3 5.5); 0 when there are none."""
    n = residuals.size - params
    return float(np.sqrt(np.sum(residuals ** 2) / n)) if n > 0 else 0.0


def forecast_sd(name: str, history, horizon: int, season: int) -> np.ndarray:
    """The textbook standard errors ``(horizon,)`` of baseline ``name`` (module docstring)."""
    y, h = check_history(history), check_horizon(horizon)
    steps = np.arange(1, h + 1, dtype=np.float64)
    if name == "ar" and y.size >= AR_MIN_HISTORY:
        return fit_ar(y, season).forecast_sd(h)
    if name == "seasonal_naive" and season > 1 and y.size > season:
        k = np.floor((steps - 1) / season)
        return _residual_sd(y[season:] - y[:-season], 0) * np.sqrt(k + 1)
    if name == "drift" and y.size > 2:
        e = np.diff(y) - (y[-1] - y[0]) / (y.size - 1)
        return _residual_sd(e, 1) * np.sqrt(steps * (1 + steps / (y.size - 1)))
    return _residual_sd(np.diff(y), 0) * np.sqrt(steps)  # naive, and every baseline's naive fallback


def with_intervals(name: str, history, horizon: int, season: int,
                   levels: Sequence[float]) -> tuple[np.ndarray, Bounds]:
    """Baseline ``name``'s point forecast ``(horizon,)`` and its Gaussian intervals at ``levels``."""
    point = BASELINES[name](history, horizon, season)
    sd = forecast_sd(name, history, horizon, season)
    z = {lv: NormalDist().inv_cdf(0.5 + lv / 200) for lv in levels}
    return point, {lv: (point - z[lv] * sd, point + z[lv] * sd) for lv in levels}


def statsforecast_season(season: int) -> int:
    """The season given to AutoETS and AutoARIMA for a data season: itself up to 24 (hourly), else 1 (a
    season of 365 makes AutoETS fit slowly and AutoARIMA give up)."""
    return season if season <= 24 else 1


def interval_forecasts(history, horizon: int, season: int, levels: Sequence[float],
                       extra: dict[str, Forecaster] | None = None) -> dict[str, tuple[np.ndarray, Bounds]]:
    """Every baseline's ``(point (horizon,), {level: (lower, upper)})`` from ``history (T,)``: the built-in
    ones (:func:`with_intervals`) and ``extra`` (:func:`statsforecast_models`, called with ``levels``)."""
    out = {name: with_intervals(name, history, horizon, season, levels) for name in BASELINES}
    for name, fn in (extra or {}).items():
        out[name] = fn(history, horizon, levels=levels)
    return out
