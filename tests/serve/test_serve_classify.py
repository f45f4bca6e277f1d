"""rnnkit serve for sequence classifiers, on both backends: predict equals the Python API's answer for a text
model and a numeric one, concurrent requests get the answers of one by one, the export's probabilities are
PyTorch's within 1e-4, and bad inputs (empty text, wrong channel count, ...) are 422s naming the field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from rnnkit import runtime
from rnnkit.classify import api
from rnnkit.classify.export import raw_inputs

from conftest import serve_cli
from test_serve_framework import post_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from test_export_classify import train_variants  # noqa: E402  (the export tests' runs: trained and exported)

VARIANTS = {  # name -> (data kind, units options, model options), as tests/export/test_export_classify.py
    "text": ("text", {"level": "word"}, {"cell": "lstm", "layers": 2}),
    "numeric": ("numeric", {}, {"cell": "gru", "front": "conv", "pooling": "mean", "bidirectional": False}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A text and a numeric classifier, each trained a few steps and exported to RUN/onnx."""
    return {name: run for name, (run, _) in train_variants(tmp_path_factory.mktemp("serve-classify"), VARIANTS).items()}


@pytest.fixture(scope="module")
def inputs(runs) -> dict[str, list]:
    """Raw inputs of each model: texts, and (T, 2) series without missing values."""
    out = {}
    for name, run in runs.items():
        raw = raw_inputs(api.load(run), 6, 12, seed=3)
        out[name] = raw if name == "text" else [np.nan_to_num(x) for x in raw]
    return out


@pytest.fixture(scope="module", params=["torch", "onnx"])
def server(request, runs):
    """(backend, base url, the runs loaded in this process with the backend's Python API)."""
    backend = request.param
    with serve_cli(*(f"{name}={run}" for name, run in runs.items()), "--backend", backend) as (url, _):
        yield backend, url, {name: api.load(run) if backend == "torch" else runtime.for_run(run)
                             for name, run in runs.items()}


def as_json(x) -> str | list:
    return x if isinstance(x, str) else x.tolist()


def predict(url: str, name: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{name}/predict", json=body, timeout=60)


def expected(backend: str, model, inputs: list, top_k: int) -> dict:
    """The answer the Python API gives: rnnkit.classify.api.predict (torch) or the export's runtime (onnx)."""
    tops = api.predict(model, inputs, top_k) if backend == "torch" else model.predict(inputs, top_k)
    return {"results": [{"label": top[0][0], "probability": top[0][1],
                         "top": [{"label": label, "probability": p} for label, p in top]} for top in tops]}


def assert_same(got: dict, want: dict, atol: float = 1e-6) -> None:
    """Equal labels, probabilities within ``atol``."""
    rows = lambda a: [(t["label"], t["probability"]) for r in a["results"] for t in [r, *r["top"]]]  # noqa: E731
    assert [label for label, _ in rows(got)] == [label for label, _ in rows(want)]
    np.testing.assert_allclose([p for _, p in rows(got)], [p for _, p in rows(want)], atol=atol, rtol=0)


@pytest.mark.parametrize("name", VARIANTS)
def test_predict_equals_the_python_api(server, inputs, name):
    backend, url, models = server
    r = predict(url, name, {"inputs": [as_json(x) for x in inputs[name]], "top_k": 2})
    assert r.status_code == 200, r.text
    assert_same(r.json(), expected(backend, models[name], inputs[name], 2))
    one = predict(url, name, {"inputs": [as_json(inputs[name][0])]}).json()["results"]
    assert len(one) == 1 and len(one[0]["top"]) == 1  # the run's top_k: 1


@pytest.mark.parametrize("name", VARIANTS)
def test_concurrent_requests_get_the_answers_of_one_by_one(server, inputs, name):
    url = f"{server[1]}/v1/models/{name}/predict"
    bodies = [{"inputs": [as_json(x) for x in inputs[name][i % 4:i % 4 + 1 + i % 3]], "top_k": 1 + i % 2}
              for i in range(10)]
    alone = [httpx.post(url, json=body, timeout=60).json() for body in bodies]
    for want, r in zip(alone, post_all(url, bodies, 60)):
        assert r.status_code == 200, r.text
        assert_same(r.json(), want)


def test_the_exports_probabilities_are_pytorchs_within_1e_4(server, runs, inputs):
    backend, url = server[:2]
    if backend != "onnx":
        pytest.skip("compares the ONNX server with PyTorch")
    for name in VARIANTS:
        got = predict(url, name, {"inputs": [as_json(x) for x in inputs[name]], "top_k": 2}).json()
        assert_same(got, expected("torch", api.load(runs[name]), inputs[name], 2), atol=1e-4)


@pytest.mark.parametrize("name, body, says", [
    ("text", {"inputs": [""]}, "field 'inputs': input 0 is empty"),
    ("text", {"inputs": ["ok", "  "]}, "field 'inputs': input 1 is empty"),
    ("text", {"inputs": ["a " * 1001]}, "--max-chars"),
    ("text", {"inputs": []}, "field 'inputs': the list is empty"),
    ("text", {"inputs": "a b"}, "field 'inputs': expected a list"),
    ("text", {"inputs": ["a", [[1.0, 2.0]]]}, "field 'inputs': input 1 is not a text"),
    ("text", {"inputs": [[[1.0, 2.0]]]}, "field 'inputs': this model classifies text inputs"),
    ("text", {"inputs": ["a"], "top_k": 0}, "field 'top_k'"),
    ("text", {"input": ["a"]}, "field 'inputs': Field required"),
    ("numeric", {"inputs": ["a b"]}, "field 'inputs': this model classifies numeric inputs"),
    ("numeric", {"inputs": [[[1.0, 2.0, 3.0]]]}, "field 'inputs.0': each step has 3 values; the model reads 2"),
    ("numeric", {"inputs": [[[1.0, 2.0], [3.0]]]}, "field 'inputs': input 0, step 1 is not a list of 2 numbers"),
    ("numeric", {"inputs": [[[1.0, "x"]]]}, "input 0, step 0 holds a value that is not a finite number"),
    ("numeric", {"inputs": [[[1.0, None]]]}, "input 0, step 0 holds a value that is not a finite number"),
    ("numeric", {"inputs": [[]]}, "field 'inputs': input 0 is not a non-empty list of steps"),
    ("numeric", {"inputs": [[[1.0, 2.0]] * 2001]}, "2001 steps; the limit is 2000 (--max-chars)"),
])
def test_bad_inputs_are_422_naming_the_field(server, name, body, says):
    r = predict(server[1], name, body)
    assert r.status_code == 422 and says in r.json()["error"], r.text


def test_infinite_values_are_refused_and_the_server_keeps_serving(server, inputs):
    url = server[1]
    r = httpx.post(f"{url}/v1/models/numeric/predict", content=b'{"inputs": [[[1.0, Infinity]]]}', timeout=60)
    assert r.status_code == 422 and "not a finite number" in r.json()["error"], r.text
    bad, good = {"inputs": [[[1.0, 2.0, 3.0]]]}, {"inputs": [as_json(inputs["numeric"][0])]}
    answers = post_all(f"{url}/v1/models/numeric/predict", [good, bad, good, bad, good], 60)  # one batch, two bad
    assert [r.status_code for r in answers] == [200, 422, 200, 422, 200]
    info = {m["name"]: m for m in httpx.get(url + "/v1/models").json()["models"]}
    assert info["numeric"]["input"] == "numeric" and info["numeric"]["channels"] == 2
    assert info["text"]["input"] == "text" and info["text"]["labels"] == ["diff", "same"]


def test_the_onnx_backend_predicts_where_torch_cannot_be_imported(runs, inputs, torch_free):
    body = {"inputs": [as_json(x) for x in inputs["numeric"]], "top_k": 2}
    printed = torch_free(f"import json\nfrom pathlib import Path\nfrom rnnkit.classify import serve\n"
                         f"model = serve.load(Path({str(runs['numeric'])!r}), 'onnx', 1)\n"
                         f"print(json.dumps(serve.predict(model, [serve.PredictBody(**{body!r})])))")
    assert_same(json.loads(printed)[0], expected("onnx", runtime.for_run(runs["numeric"]), inputs["numeric"], 2))
