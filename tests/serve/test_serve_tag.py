"""rnnkit serve for sequence taggers, on both backends: tag (raw text, split as rnnkit tag splits it, or
sentences of tokens) equals the Python API's answer, concurrent requests get the answers of one by one, the
export tags as PyTorch does, and bad bodies (empty text, both text and sentences, ...) are 422s naming the field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from rnnkit import runtime
from rnnkit.core.config import from_dict
from rnnkit.export import export
from rnnkit.tag import api
from rnnkit.tag.task import TagConfig

from conftest import serve_cli
from test_serve_framework import post_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from test_export_tag import entity_sentences  # noqa: E402  (the tag export tests' data maker)

TEXTS = ["Ann met Bob in Oslo. Then Eve saw New York!", "Bob saw the unknown Zed in Rome .", "Eve"]
SENTENCES = [["Ann", "met", "Bob"], ["Eve", "saw", "Zed", "in", "New", "York", "."], ["Rome"]]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny CRF tagger with a character LSTM, trained a few steps and exported to RUN/onnx."""
    root = tmp_path_factory.mktemp("serve-tag")
    data = root / "ner.conll"
    data.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(*s)) for s in entity_sentences(90)) + "\n")
    cfg = from_dict(TagConfig, {"data": {"data": str(data)}, "model": {
        "word_size": 8, "hidden_size": 8, "char_size": 6, "char_hidden": 5, "dropout": 0.0, "cell": "lstm",
        "char_encoder": "lstm", "decoder": "crf"}, "train": {"steps": 4, "max_time": None, "eval_every": 4, "lr": 1e-2}})
    api.train(cfg, root / "run")
    export(root / "run", runtime.default_folder(root / "run"))
    return root / "run"


@pytest.fixture(scope="module", params=["torch", "onnx"])
def server(request, run):
    """(backend, base url, the run loaded in this process with the backend's Python API)."""
    backend = request.param
    with serve_cli(f"ner={run}", "--backend", backend) as (url, _):
        yield backend, url, api.load(run) if backend == "torch" else runtime.for_run(run)


def tag(url: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/ner/tag", json=body, timeout=60)


def expected(backend: str, model, text: str | None = None, sentences: list[list[str]] | None = None) -> dict:
    """The answer the Python API gives: rnnkit.tag.api's tag_text / tag (torch) or the export runtime's (onnx)."""
    if text is not None:
        pairs = api.tag_text(model, text) if backend == "torch" else model.tag_text(text)
    else:
        pairs = zip(sentences, api.tag(model, sentences) if backend == "torch" else model.tag(sentences))
    return {"sentences": [{"tokens": list(tokens), "tags": tags} for tokens, tags in pairs]}


def test_tag_equals_the_python_api(server):
    backend, url, model = server
    for text in TEXTS:
        r = tag(url, {"text": text})
        assert r.status_code == 200, r.text
        assert r.json() == expected(backend, model, text=text)
    r = tag(url, {"sentences": SENTENCES})
    assert r.status_code == 200, r.text
    assert r.json() == expected(backend, model, sentences=SENTENCES)
    assert [s["tokens"] for s in tag(url, {"text": TEXTS[0]}).json()["sentences"]] == \
        [["Ann", "met", "Bob", "in", "Oslo", "."], ["Then", "Eve", "saw", "New", "York", "!"]]


def test_concurrent_requests_get_the_answers_of_one_by_one(server):
    url = server[1]
    bodies = [{"text": TEXTS[i % 3]} if i % 2 else {"sentences": SENTENCES[i % 3:]} for i in range(12)]
    alone = [tag(url, body).json() for body in bodies]
    together = post_all(f"{url}/v1/models/ner/tag", bodies, 60)
    assert [r.status_code for r in together] == [200] * len(bodies)
    assert [r.json() for r in together] == alone


def test_the_export_tags_as_pytorch_does(server, run):
    backend, url = server[:2]
    if backend != "onnx":
        pytest.skip("compares the ONNX server with PyTorch")
    tagger = api.load(run)
    for text in TEXTS:
        assert tag(url, {"text": text}).json() == expected("torch", tagger, text=text)
    assert tag(url, {"sentences": SENTENCES}).json() == expected("torch", tagger, sentences=SENTENCES)


@pytest.mark.parametrize("body, says", [
    ({"text": ""}, "field 'text': the text is empty"),
    ({"text": " \n "}, "field 'text': the text is empty"),
    ({"text": "Ann " * 600}, "field 'text': the text has 2400 characters; the limit is 2000 (--max-chars)"),
    ({"text": "Ann", "sentences": [["Ann"]]}, "field 'sentences': both are given; send exactly one of"),
    ({}, "field 'sentences': neither is given; send exactly one of"),
    ({"sentences": []}, "field 'sentences': the list is empty"),
    ({"sentences": [["Ann"], []]}, "field 'sentences': sentence 1 is empty or holds an empty token"),
    ({"sentences": [["Ann", ""]]}, "field 'sentences': sentence 0 is empty or holds an empty token"),
    ({"sentences": [["Ann"]] * 65}, "65 items; the limit is 64 per request (--max-items)"),
    ({"sentences": "Ann met Bob"}, "field 'sentences'"),
    ({"sentences": [["Ann", 3]]}, "field 'sentences.0.1'"),
    ({"text": ["Ann"]}, "field 'text'"),
    ({"txt": "Ann"}, "neither is given"),
])
def test_bad_bodies_are_422_naming_the_field(server, body, says):
    r = tag(server[1], body)
    assert r.status_code == 422 and says in r.json()["error"], r.text


def test_models_list_the_tags_and_scheme(server):
    [info] = httpx.get(server[1] + "/v1/models").json()["models"]
    assert info["verbs"] == ["tag"] and info["scheme"] == "iob2"
    assert sorted(info["tags"]) == ["B-LOC", "B-PER", "I-LOC", "O"]


def test_the_onnx_backend_tags_where_torch_cannot_be_imported(run, torch_free):
    printed = torch_free(f"import json\nfrom pathlib import Path\nfrom rnnkit.tag import serve\n"
                         f"model = serve.load(Path({str(run)!r}), 'onnx', 1)\n"
                         f"print(json.dumps(serve.tag(model, [serve.TagBody(text={TEXTS[0]!r})])))")
    assert json.loads(printed) == [expected("onnx", runtime.for_run(run), text=TEXTS[0])]
