"""Audio classifier export: the numpy front end, resampling and the CRNN graphs against rnnkit.audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rnnkit import runtime
from rnnkit.audio import api
from rnnkit.audio.task import AudioConfig, pad
from rnnkit.audio.wav import resample, resample_numpy
from rnnkit.cli import main
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.export import ExportConfig, export

RATE = 8000
PITCHES = {"low": 300.0, "mid": 700.0, "high": 1500.0}


def _tone(freq: float, seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + rng.normal(0, 0.01, len(t))).astype(np.float32)


def _folder(root: Path, per_class: int = 6) -> Path:
    """FSDD-like names LABEL_SPEAKER_INDEX.wav, 0.3-0.9 s tones."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for label, f in PITCHES.items():
        for i in range(per_class):
            sf.write(root / f"{label}_{'abc'[i % 3]}_{i}.wav", _tone(f * rng.uniform(0.95, 1.05),
                                                                      rng.uniform(0.3, 0.9), i), RATE, subtype="PCM_16")
    return root


# the default front end (log-mel, soft top-db floor, trimming, clip normalization) with a bidirectional GRU and
# attention; MFCCs with a hard floor, pre-emphasis and global normalization with a 2-member LSTM ensemble and mean
# pooling, one-directional
VARIANTS = {
    "gru-bi-attention": {},
    "lstm-ensemble-mfcc": {"features": {"features": "mfcc", "n_mfcc": 13, "floor": "hard", "preemphasis": 0.97,
                                        "normalize": "global"},
                           "model": {"cell": "lstm", "members": 2, "bidirectional": False, "pooling": "mean"}},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, dict, Path]]:
    """Each variant trained a few steps and exported to RUN/onnx: (run, manifest, data folder)."""
    data = _folder(tmp_path_factory.mktemp("data") / "tones")
    out = {}
    for name, sections in VARIANTS.items():
        base = {"data": {"data": str(data), "label_pattern": r"^([a-z]+)_", "group_pattern": r"^[a-z]+_([a-z]+)_"},
                "model": {"channels": 4, "hidden_size": 8}, "train": {"max_time": None, "steps": 3, "eval_every": 3,
                                                                       "batch_size": 8}}
        for section, values in sections.items():
            base.setdefault(section, {}).update(values)
        run = tmp_path_factory.mktemp(name) / "run"
        api.train(from_dict(AudioConfig, base), run)
        out[name] = (run, export(run, runtime.default_folder(run), ExportConfig()), data)
    return out


@pytest.mark.parametrize("name", list(VARIANTS))
def test_export_parity_on_features_and_log_probabilities(runs, name):
    parity = runs[name][1]["parity"]
    assert parity["max_abs_diff"] <= 1e-4
    cases = parity["cases"]
    assert {"features short batch 1", "features long batch 4", "log-probabilities long batch 4"} <= set(cases)
    assert any("resampled" in k for k in cases)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_runtime_classify_equals_the_pytorch_verb(runs, name):
    run, manifest, data = runs[name]
    files = sorted(data.glob("*.wav"))[::2]
    ref = api.classify(api.load(run), files, top_k=3)
    got = runtime.load(runtime.default_folder(run)).classify(files, top_k=3)
    assert [[label for label, _ in r] for r in got] == [[label for label, _ in r] for r in ref]
    np.testing.assert_allclose([[p for _, p in r] for r in got], [[p for _, p in r] for r in ref], atol=1e-5)
    assert manifest["metrics"]["clips"] >= 1 and 0 <= manifest["metrics"]["accuracy"] <= 1


def test_arrays_at_their_sample_rate_are_classified_like_their_wav_files(runs, tmp_path):
    run, _, _ = runs["gru-bi-attention"]
    model = runtime.load(runtime.default_folder(run))
    wave = _tone(700.0, 0.6, 3, rate=16000)
    sf.write(tmp_path / "x.wav", wave, 16000, subtype="FLOAT")
    from_file = model.classify([tmp_path / "x.wav"], top_k=3)
    from_array = model.classify(wave, sample_rate=16000, top_k=3)
    assert from_array == from_file
    ref = api.classify(api.load(run), [tmp_path / "x.wav"], top_k=3)
    np.testing.assert_allclose([p for _, p in from_file[0]], [p for _, p in ref[0]], atol=1e-5)


def test_numpy_resampling_and_front_end_match_torch(runs):
    x = np.random.default_rng(0).standard_normal((2, 3, 1999)).astype(np.float32)
    for orig, new in ((16000, 8000), (8000, 16000), (44100, 8000), (22050, 16000)):
        np.testing.assert_allclose(resample_numpy(x, orig, new), resample(x, orig, new), atol=5e-6)
    run, _, _ = runs["lstm-ensemble-mfcc"]
    clf, model = api.load(run), runtime.load(runtime.default_folder(run))
    waves = [_tone(f, s, i) for i, (f, s) in enumerate([(300, 0.25), (1500, 1.1), (700, 0.5)])]
    with torch.no_grad():
        ref, ref_frames = clf.frontend(*pad(waves))
    feats, frames = model.features(waves)
    np.testing.assert_array_equal(frames, ref_frames.numpy())
    np.testing.assert_allclose(feats, ref.numpy(), atol=1e-4)


def test_int8_export_of_the_lstm_ensemble_reports_its_validation_cost(runs, tmp_path):
    run, _, _ = runs["lstm-ensemble-mfcc"]
    cost = export(run, tmp_path / "int8", ExportConfig(quantize="int8"))["quantized"]
    assert cost["val_clips"] >= 1 and {"val_accuracy_fp32", "val_accuracy_int8", "val_loss_int8"} <= set(cost)
    assert runtime.load(tmp_path / "int8").classify(np.zeros(4000, np.float32))[0][0][0] in PITCHES


def test_bad_input_is_one_line(runs, tmp_path):
    model = runtime.load(runtime.default_folder(runs["gru-bi-attention"][0]))
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    for inputs, kwargs in ((np.zeros((2, 800)), {}), (np.full(800, np.nan), {}), (np.zeros(10), {}),
                           ([], {}), (tmp_path / "bad.wav", {}), (tmp_path / "none.wav", {}),
                           (np.zeros(800), {"top_k": -1}), (np.zeros(8000), {"sample_rate": 44101})):
        with pytest.raises(RnnkitError) as e:
            model.classify(inputs, **kwargs)
        assert "\n" not in str(e.value)


def _stdout(capsys, *args) -> str:
    assert main([str(a) for a in args]) in (0, None)
    return capsys.readouterr().out


def test_cli_backend_onnx_prints_what_torch_prints(runs, tmp_path, capsys):
    run, _, data = runs["gru-bi-attention"]
    assert _stdout(capsys, "classify", run, data, "--backend", "onnx") == _stdout(capsys, "classify", run, data)
    flags = ["--json", "--top-k", "3"]
    torch_rows = [json.loads(x) for x in _stdout(capsys, "classify", run, data, *flags).splitlines()]
    onnx_rows = [json.loads(x) for x in _stdout(capsys, "classify", run, data, *flags, "--backend", "onnx").splitlines()]
    assert [(r["file"], r["label"]) for r in onnx_rows] == [(r["file"], r["label"]) for r in torch_rows]
    np.testing.assert_allclose([r["probability"] for r in onnx_rows], [r["probability"] for r in torch_rows], atol=1e-5)
    bare = tmp_path / "bare"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("onnx"))
    assert main(["classify", str(bare), str(data), "--backend", "onnx"]) == 2
    assert capsys.readouterr().err.strip() == f"rnnkit: error: no export at {bare / 'onnx'}; run rnnkit export {bare} first"


def test_runtime_classifies_in_a_process_without_torch(runs, torch_free):
    run, _, data = runs["gru-bi-attention"]
    wav = sorted(data.glob("*.wav"))[0]
    printed = torch_free(f"import json\nfrom rnnkit import runtime\n"
                         f"m = runtime.load({str(runtime.default_folder(run))!r})\n"
                         f"print(json.dumps(m.classify([{str(wav)!r}], top_k=2)))")
    got = json.loads(printed)[0]
    ref = api.classify(api.load(run), [wav], top_k=2)[0]
    assert [label for label, _ in got] == [label for label, _ in ref]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in ref], atol=1e-5)
