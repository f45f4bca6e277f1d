"""``rnnkit serve`` for forecasters: ``POST /v1/models/NAME/forecast``.

A request forecasts from the end of the run's series, or of a posted ``history`` (``values``, and ``dates``
unless they are the last dates of the run's series). The answer holds the forecast's rows (``date``,
``forecast``, ``lo80``/``hi80``, ...), the interval levels and method, and the last ``3 * horizon`` observed
points to draw it after. Both backends give the same interface (:class:`TorchForecaster` wraps
:mod:`rnnkit.forecast.api` as the export's ``ExportedForecaster``): ``forecast(horizon, ..., history)``,
``series``, ``horizon``, ``window``, ``use`` (the run's ``rnnkit forecast`` defaults).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from ..core.errors import RnnkitError
from ..serve.verbs import Body, Verb, config_of, load_backend
from .series import Series


class History(Body):
    values: list[float] = Field(description="the observed values, oldest first")
    dates: list[str] | None = Field(None, description="ISO dates, one per value; default: the last dates of the "
                                                      "run's series")
    covariates: list[list[float]] | None = Field(None, description="for a model with covariates: one row per date")

    @field_validator("values")
    @classmethod
    def _sized(cls, values: list[float], info: ValidationInfo) -> list[float]:
        limit = config_of(info).max_chars
        if not values:
            raise ValueError("is empty; send the observed values, oldest first")
        if len(values) > limit:
            raise ValueError(f"has {len(values)} values; the limit is {limit} (--max-chars)")
        return values


class ForecastBody(Body):
    horizon: int | None = Field(None, description="steps to forecast (>= 1); default: the model's horizon")
    samples: int | None = Field(None, ge=10, le=10_000, description="sampled paths (autoregressive decoders' "
                                                                    "intervals); default: the run's")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="random seed of the sampled paths")
    intervals: Literal["model", "conformal"] | None = Field(None, description="model or conformal intervals; "
                                                                             "default: the run's")
    levels: list[float] | None = Field(None, description="levels of the central intervals, percent; default: the "
                                                         "run's")
    history: History | None = Field(None, description="forecast after this history instead of the run's series")

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, horizon: int | None, info: ValidationInfo) -> int | None:
        limit = config_of(info).max_horizon
        if horizon is not None and not 1 <= horizon <= limit:
            raise ValueError(f"must be from 1 to {limit} steps (--max-horizon), got {horizon}")
        return horizon

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[float] | None) -> list[float] | None:
        if levels is not None and (not 1 <= len(levels) <= 10 or len(set(levels)) != len(levels)
                                   or not all(0 < v < 100 for v in levels)):
            raise ValueError(f"{levels} is not a list of 1 to 10 distinct percentages between 0 and 100; "
                             f"send e.g. [80, 95]")
        return levels


class TorchForecaster:
    """A PyTorch forecaster with the export runtime's interface (``forecast``, ``series``, ``horizon``,
    ``window``, ``use``)."""

    def __init__(self, run):
        from . import api

        self.run, self.api, self.series, self.transform = run, api, run.series, run.transform
        self.horizon, self.window = run.layout.horizon, run.layout.window
        f = run.config.forecast
        self.use = {"samples": f.samples, "intervals": f.intervals, "levels": f.levels}

    def forecast(self, horizon: int | None = None, samples: int | None = None, seed: int = 0,
                 intervals: str | None = None, levels: tuple[float, ...] | None = None,
                 history: Series | dict | None = None):
        history = observed(self, history) if history is not None else None
        return self.api.forecast(self.run, horizon, samples, seed, intervals, levels, history)


def load(run: Path, backend: str, threads: int):
    from . import api

    return load_backend(run, backend, threads, lambda r: TorchForecaster(api.load(r)))


def describe(model) -> dict:
    s = model.series
    return {"defaults": {"horizon": model.horizon, "samples": model.use["samples"],
                         "intervals": model.use["intervals"],
                         "levels": [float(v) for v in str(model.use["levels"]).split(",") if v.strip()]},
            "series": {"name": s.name, "frequency": s.frequency.name, "points": len(s),
                       "covariates": list(s.covariate_names)},
            "min_history": model.window + model.transform.lost}


def observed(model, history: Series | dict | None) -> Series:
    """The series a forecast starts after: the run's, or a posted history read as the export's runtime reads
    one (its columns and frequency; one-line errors)."""
    from .runtime import posted_series

    return model.series if history is None else posted_series(model.series, history)


def _history(model, posted: History | None) -> dict | None:
    """A posted history as the runtime reads it (``dates``, ``values``, ``covariates``); missing dates are the
    last dates of the run's series."""
    if posted is None:
        return None
    dates = posted.dates
    if dates is None:
        if len(posted.values) > len(model.series):
            raise RnnkitError(f"history has {len(posted.values)} values without dates, more than the "
                              f"{len(model.series)} dates of the run's series; send its dates too")
        dates = [str(d) for d in model.series.dates[-len(posted.values):]]
    out: dict[str, Any] = {"dates": dates, "values": posted.values}
    if posted.covariates is not None:
        out["covariates"] = posted.covariates
    return out


def forecast(model, requests: list[ForecastBody]) -> list[dict]:
    """Each request alone (``key=id``: a batch holds one): horizons, histories and interval options differ from
    request to request, and a forecast is a few model calls (one per horizon of the model)."""
    return [_answer(model, r) for r in requests]


def _answer(model, r: ForecastBody) -> dict:
    history = _history(model, r.history)
    fc = model.forecast(r.horizon, r.samples, r.seed, r.intervals, tuple(r.levels) if r.levels else None, history)
    s, keep = observed(model, history), 3 * len(fc.point)
    return {"rows": fc.rows(), "levels": [float(lv) for lv in fc.bounds], "method": fc.method,
            "history": {"dates": [str(d) for d in s.dates[-keep:]], "values": s.values[-keep:].tolist()}}


VERBS = {"forecast": Verb("forecast the next steps after the run's series or a posted history, with intervals",
                          ForecastBody, forecast, key=id)}
