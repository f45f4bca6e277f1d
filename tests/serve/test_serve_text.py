"""rnnkit serve for language models, on both backends: sample and fill equal the Python API's answers, a
streamed sample arrives token by token and equals the plain one, bad bodies are 422s naming the field, and
the per-token hook the stream uses leaves rnnkit.text.sample's output unchanged."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

import rnnkit
from rnnkit import export, runtime
from rnnkit.text import api, sampling
from rnnkit.text import runtime as lm_runtime
from rnnkit.text import serve as lm_serve

from conftest import TINY_TEXT, serve_cli, tiny_config

OPTIONS = {"prime": "the ", "length": 40, "seed": 7, "temperature": 0.8, "top_k": 12}


def _train(tmp_path_factory, name: str, exported: bool = True, **changes) -> Path:
    """A tiny run trained a few steps (``changes``: ``"section.option": value``), exported to RUN/onnx."""
    d = tmp_path_factory.mktemp(name)
    (d / "tiny.txt").write_text(TINY_TEXT, encoding="utf-8")
    cfg = tiny_config(d / "tiny.txt", steps=6, eval_every=6)
    for key, value in changes.items():
        section, option = key.split(".")
        setattr(getattr(cfg, section), option, value)
    rnnkit.train(cfg, d / "run")
    if exported:
        export.export(d / "run", runtime.default_folder(d / "run"))
    return d / "run"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    return {"lm": _train(tmp_path_factory, "serve_lm"),
            "infill": _train(tmp_path_factory, "serve_infill", **{"train.objective": "infill", "train.seq_len": 12})}


@pytest.fixture(scope="module", params=["torch", "onnx"])
def server(request, runs):
    """(backend, base url, the same runs loaded in this process with the backend's Python API)."""
    backend = request.param
    with serve_cli(f"lm={runs['lm']}", f"infill={runs['infill']}", "--backend", backend) as (url, _):
        yield backend, url, {name: lm_serve.load(run, backend, 0) for name, run in runs.items()}


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{path}", json=body, timeout=60)


def expected_samples(backend: str, model, **options) -> list[str]:
    """What the Python API gives: rnnkit.text.sample (torch) or the export's runtime (onnx)."""
    if backend == "torch":
        return rnnkit.sample(model.lm, dataclasses.replace(model.lm.config.sample, **options))
    return model.sample(**options)


def streamed(url: str, body: dict) -> tuple[list[str], dict, float, float]:
    """The text pieces of a streamed sample, its done event, and when the first piece and the end arrived (s)."""
    pieces, done, first, start = [], None, None, time.perf_counter()
    with httpx.stream("POST", f"{url}/v1/models/lm/sample", json={**body, "stream": True}, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                if name == "done":
                    done = data
                else:
                    assert name == "", data
                    first = first or time.perf_counter() - start
                    pieces.append(data["text"])
                name = ""
    return pieces, done, first, time.perf_counter() - start


def test_sample_equals_the_python_api(server):
    backend, url, models = server
    r = post(url, "lm/sample", {**OPTIONS, "num_samples": 2})
    assert r.status_code == 200, r.text
    assert r.json() == {"samples": expected_samples(backend, models["lm"], **OPTIONS, num_samples=2)}
    greedy = post(url, "lm/sample", {"prime": "the c", "length": 20, "greedy": True}).json()["samples"]
    assert greedy == expected_samples(backend, models["lm"], prime="the c", length=20, greedy=True, num_samples=1)
    assert greedy[0].startswith("the c") and len(greedy[0]) == 25


def test_stream_pieces_join_to_the_plain_sample(server):
    _, url, _ = server
    plain = post(url, "lm/sample", OPTIONS).json()["samples"]
    pieces, done, _, _ = streamed(url, OPTIONS)
    assert len(pieces) == OPTIONS["length"]  # one event per generated token (a character here)
    assert done == {"samples": plain} and OPTIONS["prime"] + "".join(pieces) == plain[0]


def test_the_first_piece_arrives_before_generation_ends(server):
    _, url, _ = server
    pieces, done, first, total = streamed(url, {"prime": "the ", "length": 2000, "seed": 1})
    assert len(pieces) == 2000 and done["samples"][0] == "the " + "".join(pieces)
    assert first < total / 2, (first, total)


def test_fill_equals_the_python_api(server):
    _, url, models = server
    for text in ("the ___ sat on the mat", "a c___t and a dog"):
        r = post(url, "infill/fill", {"text": text, "top_k": 3})
        assert r.status_code == 200, r.text
        assert r.json() == {"fillers": [{"token": f.token, "probability": f.probability}
                                        for f in models["infill"].fill(text, 3)]}


@pytest.mark.parametrize("path, body, field", [
    ("lm/sample", {"temperature": 0}, "temperature"),
    ("lm/sample", {"prime": "the " * 600}, "prime"),
    ("lm/sample", {"stream": True, "num_samples": 2}, "stream"),
    ("lm/sample", {"length": 2001}, "length"),
    ("lm/sample", {"top_p": 1.5}, "top_p"),
    ("lm/sample", {"primer": "the "}, "primer"),
    ("infill/fill", {"text": "no blank here"}, "text"),
    ("infill/fill", {"text": "two ___ blanks ___"}, "text"),
])
def test_bad_bodies_are_422_naming_the_field(server, path, body, field):
    r = post(server[1], path, body)
    assert r.status_code == 422 and f"field '{field}'" in r.json()["error"], r.text


def test_what_only_the_model_can_refuse_is_422(server):
    url = server[1]
    for path, body, says in (("infill/sample", {"length": 5}, "--objective infill"),
                             ("lm/fill", {"text": "the ___ sat"}, "--objective infill"),
                             ("lm/sample", {"prime": "the €"}, "not in the model's vocabulary")):
        r = post(url, path, body)
        assert r.status_code == 422 and says in r.json()["error"], r.text
    r = httpx.post(f"{url}/v1/models/lm/sample", json={"prime": "the €", "stream": True}, timeout=60)
    assert r.status_code == 422 and "not in the model's vocabulary" in r.json()["error"]


def test_models_list_the_sampling_defaults(server):
    info = {m["name"]: m for m in httpx.get(server[1] + "/v1/models").json()["models"]}
    assert info["lm"]["verbs"] == ["sample", "fill"] and info["lm"]["level"] == "char"
    assert not info["lm"]["infill"] and info["infill"]["infill"]
    assert info["lm"]["defaults"]["length"] == 500 and info["lm"]["defaults"]["temperature"] == 1.0


def test_the_token_hook_leaves_samples_unchanged(runs):
    lm = api.load(runs["lm"])
    cfg = dataclasses.replace(lm.config.sample, prime="the ", length=30, seed=4, num_samples=3)
    seen: list[list[int]] = []
    texts, ids = api._generate(lm, cfg, seen.append)
    assert texts == rnnkit.sample(lm, cfg) and np.array(seen).T.tolist() == ids
    rt = runtime.for_run(runs["lm"])
    seen.clear()
    got = rt.generate(cfg, seen.append)
    assert [t for t, _ in got] == rt.sample(prime="the ", length=30, seed=4, num_samples=3)
    assert np.array(seen).T.tolist() == [row for _, row in got]
    for window in (None, 4):  # both loops of each generate
        assert sampling.generate(lm.model, [1, 2], cfg, window=window, on_token=lambda new: None) == \
            sampling.generate(lm.model, [1, 2], cfg, window=window)
        assert lm_runtime.generate(rt, [1, 2], cfg, window, None, lambda new: None) == \
            lm_runtime.generate(rt, [1, 2], cfg, window, None)


def test_a_word_level_stream_joins_to_the_sample(tmp_path_factory):
    run = _train(tmp_path_factory, "serve_words", exported=False, **{"data.level": "word"})
    model = lm_serve.load(run, "torch", 0)
    body = lm_serve.SampleBody(prime="the cat", length=12, seed=2, stream=True)
    pieces: list[str] = []
    done = lm_serve.stream(model, body, pieces.append)
    assert len(pieces) == 12 and done["samples"][0] == "the cat" + "".join(pieces)
    assert done["samples"] == lm_serve.sample(model, [body])[0]["samples"]
