"""rnnkit serve for forecasters, on both backends: the forecast verb equals the Python API's forecast (from the
run's series and from a posted history), answers the last 3 * horizon observed points for drawing, and
refuses bad bodies with a 422 naming the field."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from rnnkit import runtime
from rnnkit.core.config import from_dict
from rnnkit.export import export
from rnnkit.forecast import api
from rnnkit.forecast.series import Series, infer_frequency
from rnnkit.forecast.task import ForecastConfig

from conftest import serve_cli


def _series(n: int = 120) -> Series:
    t = np.arange(n)
    y = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)
    dates = (np.datetime64("2000-01", "M") + t).astype("datetime64[D]")
    return Series(dates, y, np.zeros((n, 0)), [], "y", infer_frequency(dates))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny forecaster (differenced, with conformal intervals) trained a few steps and exported to RUN/onnx."""
    out = tmp_path_factory.mktemp("serve_forecast") / "run"
    cfg = {"model": {"horizon": 6, "hidden_size": 16}, "train": {"steps": 8, "patience": 0, "log_every": 4},
           "transform": {"difference": 1}, "calibration": {"calibration_windows": 0}}
    api.train(from_dict(ForecastConfig, cfg), out, series=_series())
    export(out, runtime.default_folder(out))
    return out


@pytest.fixture(scope="module", params=["torch", "onnx"])
def server(request, run):
    """(base url, the run loaded in this process with the backend's Python API)."""
    with serve_cli(f"fc={run}", "--backend", request.param, "--max-horizon", "100") as (url, _):
        model = api.load(run) if request.param == "torch" else runtime.for_run(run)
        yield url, model


def post(url: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/fc/forecast", json=body, timeout=60)


def forecast_of(model, horizon=None, history=None, **options):
    """The Python API's forecast: rnnkit.forecast.forecast (a ForecastRun) or the export's runtime."""
    if isinstance(model, api.ForecastRun):
        return api.forecast(model, horizon, history=history, **options)
    return model.forecast(horizon, history=history, **options)


def assert_rows_equal(got: list[dict], expected: list[dict]) -> None:
    assert [r["date"] for r in got] == [r["date"] for r in expected]
    for g, e in zip(got, expected):
        assert g.keys() == e.keys()
        assert [g[k] for k in g if k != "date"] == pytest.approx([e[k] for k in e if k != "date"], rel=1e-6)


def test_forecast_equals_the_python_api(server):
    url, model = server
    series = _series()
    for body, options in (({}, {}), ({"horizon": 9, "levels": [50, 90], "intervals": "model"},
                                     {"levels": (50.0, 90.0), "intervals": "model"})):
        r = post(url, body)
        assert r.status_code == 200, r.text
        got, expected = r.json(), forecast_of(model, body.get("horizon"), **options)
        assert_rows_equal(got["rows"], expected.rows())
        assert got["method"] == expected.method and got["levels"] == [float(v) for v in expected.bounds]
        keep = 3 * len(expected.point)
        assert got["history"] == {"dates": [str(d) for d in series.dates[-keep:]], "values": series.values[-keep:].tolist()}


def test_a_posted_history_is_forecast_as_the_python_api_does(server):
    url, model = server
    s = api.head(_series(), 100)
    values = (s.values * 1.1).tolist()
    r = post(url, {"horizon": 8, "history": {"values": values, "dates": [str(d) for d in s.dates]}})
    assert r.status_code == 200, r.text
    expected = forecast_of(model, 8, Series(s.dates, s.values * 1.1, s.covariates, [], "y", s.frequency))
    assert_rows_equal(r.json()["rows"], expected.rows())
    assert r.json()["rows"][0]["date"] == "2008-05-01"
    assert r.json()["history"] == {"dates": [str(d) for d in s.dates[-24:]], "values": values[-24:]}
    undated = post(url, {"horizon": 8, "history": {"values": values}}).json()  # the run's last dates
    assert undated["history"]["dates"][-1] == str(_series().dates[-1]) and undated["history"]["values"] == values[-24:]


@pytest.mark.parametrize("body, field", [
    ({"horizon": 0}, "horizon"),
    ({"horizon": -3}, "horizon"),
    ({"horizon": 101}, "horizon"),
    ({"levels": [80, 120]}, "levels"),
    ({"intervals": "bootstrap"}, "intervals"),
    ({"samples": 1}, "samples"),
    ({"history": {"values": []}}, "history.values"),
    ({"history": {"values": [1.0], "when": ["2000-01-01"]}}, "history.when"),
    ({"horizon": "6"}, "horizon"),
])
def test_bad_bodies_are_422_naming_the_field(server, body, field):
    r = post(server[0], body)
    assert r.status_code == 422 and f"field '{field}'" in r.json()["error"], r.text


def test_histories_only_the_model_can_refuse_are_422(server):
    url = server[0]
    dates = [str(d) for d in _series().dates[:50]]
    for history, says in (({"values": [1.0, 2.0]}, "pass a longer history"),
                          ({"values": [1.0] * 50, "dates": dates[:49]}, "one finite value per date"),
                          ({"values": [1.0] * 50, "dates": ["then"] * 50}, "history could not be read"),
                          ({"values": [1.0] * 500}, "send its dates too")):
        r = post(url, {"history": history})
        assert r.status_code == 422 and says in r.json()["error"], r.text


def test_models_list_the_forecast_defaults(server):
    (info,) = httpx.get(server[0] + "/v1/models").json()["models"]
    assert info["defaults"] == {"horizon": 6, "samples": 200, "intervals": "conformal", "levels": [80.0, 95.0]}
    assert info["series"]["frequency"] == "monthly" and info["series"]["points"] == 120
    window = getattr(server[1], "layout", server[1]).window
    assert info["min_history"] == window + 1  # one point lost to differencing
