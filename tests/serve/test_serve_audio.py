"""rnnkit serve for audio classifiers, on both backends: classify (a WAV file as the body) equals the Python
API's answer on the same file (8 kHz, 16 kHz resampled, stereo), concurrent uploads get the answers of one by
one, the export's probabilities are PyTorch's within 1e-4, and bad uploads are 422s naming the field."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from rnnkit import runtime
from rnnkit.audio import api
from rnnkit.audio.task import AudioConfig
from rnnkit.core.config import from_dict
from rnnkit.export import export
from rnnkit.serve.verbs import served

from conftest import serve_app, serve_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from test_export_audio import PITCHES, RATE, _folder, _tone  # noqa: E402  (the audio export tests' data makers)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny audio classifier trained a few steps and exported to RUN/onnx."""
    data = _folder(tmp_path_factory.mktemp("data") / "tones")
    cfg = {"data": {"data": str(data), "label_pattern": r"^([a-z]+)_"},
           "model": {"channels": 4, "hidden_size": 8},
           "train": {"max_time": None, "steps": 3, "eval_every": 3, "batch_size": 8}}
    out = tmp_path_factory.mktemp("serve-audio") / "run"
    api.train(from_dict(AudioConfig, cfg), out)
    export(out, runtime.default_folder(out))
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """WAV files to classify: tones at the model's rate, one at 16 kHz (resampled), one in stereo, one 24-bit."""
    d = tmp_path_factory.mktemp("clips")
    out = []
    for i, (label, f) in enumerate(PITCHES.items()):
        out.append(d / f"{label}.wav")
        sf.write(out[-1], _tone(f, 0.3 + 0.2 * i, 10 + i), RATE, subtype="PCM_16")
    out.append(d / "16k.wav")
    sf.write(out[-1], _tone(700.0, 0.5, 20, 16000), 16000, subtype="PCM_16")
    out.append(d / "stereo.wav")
    sf.write(out[-1], np.stack([_tone(300.0, 0.4, 21), _tone(1500.0, 0.4, 22)], 1), RATE, subtype="PCM_16")
    out.append(d / "24bit.wav")
    sf.write(out[-1], _tone(1500.0, 0.35, 23), RATE, subtype="PCM_24")
    return out


@pytest.fixture(scope="module", params=["torch", "onnx"])
def server(request, run):
    """(backend, base url, the run loaded in this process with the backend's Python API)."""
    backend = request.param
    with serve_cli(f"tones={run}", "--backend", backend) as (url, _):
        yield backend, url, api.load(run) if backend == "torch" else runtime.for_run(run)


def classify(url: str, data: bytes, **query) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/tones/classify", content=data, params=query,
                      headers={"Content-Type": "audio/wav"}, timeout=60)


def classify_all(url: str, uploads: list[tuple[bytes, dict]]) -> list[httpx.Response]:
    """The uploads posted at once (concurrent requests, gathered into batches by the server)."""
    async def go():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(client.post(f"{url}/v1/models/tones/classify", content=data, params=query,
                                                      headers={"Content-Type": "audio/wav"})
                                          for data, query in uploads))

    return asyncio.run(go())


def expected(backend: str, model, path: Path, top_k: int) -> list[tuple[str, float]]:
    """What the Python API says of the file: rnnkit.audio.api.classify (torch) or the export's runtime (onnx)."""
    return (api.classify(model, [path], top_k) if backend == "torch" else model.classify([path], top_k=top_k))[0]


def pairs(answer: dict) -> list[tuple[str, float]]:
    return [(x["label"], x["probability"]) for x in answer["labels"]]


def assert_same(got: list[tuple[str, float]], want: list[tuple[str, float]], atol: float = 1e-6) -> None:
    """Equal labels, probabilities within ``atol``."""
    assert [label for label, _ in got] == [label for label, _ in want]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=atol, rtol=0)


def test_classify_equals_the_python_api(server, clips):
    backend, url, model = server
    for path in clips:
        r = classify(url, path.read_bytes(), top_k=3)
        assert r.status_code == 200, r.text
        got, want = pairs(r.json()), expected(backend, model, path, 3)
        assert_same(got, want)
    default = classify(url, clips[0].read_bytes()).json()["labels"]
    assert len(default) == 1 and default[0]["label"] == pairs(classify(url, clips[0].read_bytes(), top_k=3).json())[0][0]


def test_concurrent_uploads_get_the_answers_of_one_by_one(server, clips):
    url = server[1]
    uploads = [(clips[i % len(clips)].read_bytes(), {"top_k": 1 + i % 3}) for i in range(12)]
    alone = [classify(url, data, **query).json() for data, query in uploads]
    together = classify_all(url, uploads)
    assert all(r.status_code == 200 for r in together), [r.text for r in together]
    for a, b in zip(alone, together):
        got, want = pairs(b.json()), pairs(a)
        assert_same(got, want)


def test_the_exports_probabilities_are_pytorchs_within_1e_4(server, run, clips):
    backend, url = server[:2]
    if backend != "onnx":
        pytest.skip("compares the ONNX server with PyTorch")
    clf = api.load(run)
    for path in clips:
        got = pairs(classify(url, path.read_bytes(), top_k=len(PITCHES)).json())
        assert_same(sorted(got), sorted(api.classify(clf, [path], len(PITCHES))[0]), atol=1e-4)


def test_bad_uploads_are_422_naming_the_field(server, tmp_path):
    url = server[1]
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), RATE, subtype="PCM_16")
    sf.write(tmp_path / "silent.wav", np.zeros(4000, np.float32), RATE, subtype="PCM_16")
    sf.write(tmp_path / "short.wav", _tone(300.0, 0.02, 1), RATE, subtype="PCM_16")
    sf.write(tmp_path / "flac.wav", _tone(300.0, 0.3, 1), RATE, format="FLAC")
    good = _tone(300.0, 0.3, 1)
    sf.write(tmp_path / "good.wav", good, RATE, subtype="PCM_16")
    for data, says in ((b"this is a text file, not audio\n", "not a readable WAV file"),
                       ((tmp_path / "empty.wav").read_bytes(), "is empty"),
                       (b"", "the body is empty"),
                       ((tmp_path / "silent.wav").read_bytes(), "is silent"),
                       ((tmp_path / "short.wav").read_bytes(), "under 50 ms"),
                       ((tmp_path / "flac.wav").read_bytes(), "a FLAC file, not WAV"),
                       ((tmp_path / "good.wav").read_bytes()[:30], "not a readable WAV file")):
        r = classify(url, data)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error.startswith("field 'data': ") and says in error and "send a" in error, error
    for query, field in (({"top_k": 0}, "top_k"), ({"top_k": "two"}, "top_k"), ({"k": 2}, "k")):
        r = classify(url, (tmp_path / "good.wav").read_bytes(), **query)
        assert r.status_code == 422 and r.json()["error"].startswith(f"field '{field}'"), r.text
    sf.write(tmp_path / "odd.wav", _tone(300.0, 0.1, 1, 44101), 44101, subtype="PCM_16")  # 44101/8000: no filter
    r = classify(url, (tmp_path / "odd.wav").read_bytes())
    assert r.status_code == 422 and r.json()["error"].startswith("field 'data': cannot resample from 44101 Hz"), r.text
    assert httpx.get(url + "/ready").status_code == 200


def test_a_clip_over_max_audio_s_is_refused_and_the_docs_show_the_upload(run, clips):
    with serve_app({"tones": served("tones", run, "torch")}, max_audio_s=0.1) as (url, _):
        r = classify(url, clips[0].read_bytes())
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "field 'data': the clip is 0.30 s long; the limit is 0.1 s (--max-audio-s)"
        [info] = httpx.get(url + "/v1/models").json()["models"]
        assert info["labels"] == sorted(PITCHES) and info["sample_rate"] == RATE and info["defaults"] == {"top_k": 1}
        upload = httpx.get(url + "/openapi.json").json()["paths"]["/v1/models/tones/classify"]["post"]["requestBody"]
        assert upload["content"]["audio/wav"]["schema"] == {"type": "string", "format": "binary"}


def test_the_onnx_backend_classifies_where_torch_cannot_be_imported(run, clips, torch_free):
    printed = torch_free(f"import json\nfrom pathlib import Path\nfrom rnnkit.audio import serve\n"
                         f"model = serve.load(Path({str(run)!r}), 'onnx', 1)\n"
                         f"body = serve.ClassifyBody.model_validate({{'data': Path({str(clips[3])!r}).read_bytes(), "
                         f"'top_k': 3}}, strict=False)\n"
                         f"print(json.dumps(serve.classify(model, [body])))")
    got, want = pairs(json.loads(printed)[0]), runtime.for_run(run).classify([clips[3]], top_k=3)[0]
    assert_same(got, want)
