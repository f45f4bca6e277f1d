"""Fuzzing rnnkit serve: thousands of generated malformed bodies (hypothesis) against every verb of a real server
serving tiny runs of several tasks. None may get a 5xx, and the server must still be ready afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import serve_cli

LIMITS = ["--max-chars", "40", "--max-items", "3", "--max-length", "30", "--max-horizon", "12", "--max-audio-s", "1",
          "--max-body-kb", "64", "--timeout-s", "20"]
# the fields of every verb's body, so that many bodies are almost right (right names, wrong values)
FIELDS = ["sentences", "beam", "n_best", "length_penalty", "attention", "prime", "length", "temperature", "top_k",
          "top_p", "seed", "num_samples", "greedy", "stream", "text", "horizon", "samples", "intervals", "levels",
          "history", "inputs", "sentences", "values", "dates"]

scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | st.text(max_size=50)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=4), max_leaves=12)
almost = st.dictionaries(st.sampled_from(FIELDS), values, max_size=4)
bodies = (st.binary(max_size=200) | values.map(lambda v: json.dumps(v).encode()) |
          almost.map(lambda v: json.dumps(v).encode()))


def _tiny_translator(folder: Path) -> Path:
    from rnnkit import translate

    data = folder / "pairs.tsv"
    data.write_text("\n".join(f"a b {w}\t{w} b a" for w in "cdefghij" * 20) + "\n", encoding="utf-8")
    cfg = translate.TranslateConfig()
    cfg.data.data = str(data)
    cfg.tokenizer.tokens, cfg.tokenizer.min_freq, cfg.tokenizer.vocab_size = "word", 1, 30
    cfg.model.hidden_size, cfg.model.embedding_size = 16, 8
    cfg.train.batch_size, cfg.train.steps, cfg.train.eval_every = 16, 10, 10
    cfg.train.device, cfg.train.precision = "cpu", "fp32"
    translate.train(cfg, folder / "run")
    return folder / "run"


@pytest.fixture(scope="module")
def server(trained_run, tmp_path_factory):
    translator = _tiny_translator(tmp_path_factory.mktemp("fuzz-translate"))
    with serve_cli(f"lm={trained_run}", f"tr={translator}", *LIMITS) as (url, proc):
        routes = [f"/v1/models/{m['name']}/{v}" for m in httpx.get(url + "/v1/models").json()["models"]
                  for v in m["verbs"]]
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client, routes, proc


def test_generated_malformed_bodies_never_get_a_5xx(server):
    client, routes, proc = server
    statuses: dict[int, int] = {}

    @settings(max_examples=1100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), body=bodies, content_type=st.sampled_from(["application/json",
                                                                                     "text/plain", "audio/wav"]))
    def post(route, body, content_type):
        r = client.post(route, content=body, headers={"content-type": content_type})
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (route, body, r.text)
        if r.status_code >= 400:
            assert isinstance(r.json()["error"], str) and r.json()["error"]

    post()
    assert sum(statuses.values()) >= 1000 and statuses.get(422, 0) > 500, statuses
    assert proc.poll() is None and client.get("/ready").status_code == 200
    assert client.post(routes[0], json={"sentences": ["a b c"]} if "/tr/" in routes[0] else {}).status_code == 200
