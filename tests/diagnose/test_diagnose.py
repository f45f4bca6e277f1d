"""rnnkit diagnose: measurement in evaluation mode, the verdict and advice per task, the verb and its refusals."""

import json
import math
import shlex

import numpy as np
import pytest
import torch

import rnnkit
from conftest import TINY_TEXT, assert_clean_error, cli, ok, tiny_config
from rnnkit.diagnose.bias_variance import BOTH, VERDICTS, Thresholds, verdict
from rnnkit.diagnose.diagnosis import advice, diagnose
from rnnkit.text import diagnosis as text_diagnosis
from rnnkit.text import evaluation, textdata

KEYS = {"verdict", "train", "validation", "reference", "avoidable_bias", "variance", "advice", "unit", "thresholds"}


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """A tiny character model with heavy dropout, so that train-mode and eval-mode errors differ."""
    d = tmp_path_factory.mktemp("diag")
    (d / "tiny.txt").write_text(TINY_TEXT, encoding="utf-8")
    cfg = tiny_config(d / "tiny.txt", steps=30, eval_every=15, log_every=5)
    cfg.rnn.dropout = 0.5
    cfg.mix.mix_order = 0
    rnnkit.train(cfg, d / "run")
    return d / "run"


def test_train_error_is_measured_in_evaluation_mode(lm_run):
    m = text_diagnosis.measure(lm_run, reference=False)
    lm = rnnkit.load(lm_run, mix=False)
    corpus = textdata.open_prepared(lm_run, lm.vocab)
    train, val = corpus.part("train"), corpus.part("val")
    block = text_diagnosis.train_sample(train, len(val), lm.config.train.seed)
    assert len(block) == len(val) < len(train)
    assert any(np.array_equal(block, train[i:i + len(block)]) for i in range(len(train) - len(block) + 1))
    nll, _, count = evaluation.score(lm.model.eval(), block)
    assert count == m.train_items
    assert m.train == pytest.approx(nll / count / math.log(2), rel=1e-6)
    lm.model.train()  # dropout on: what the running training loss sees
    torch_nll = evaluation.score(lm.model, block)[0]
    assert abs(torch_nll - nll) / nll > 0.01
    assert m.reference is None and m.unit == "bits/char"


def test_diagnose_json_and_text(lm_run):
    d = diagnose(lm_run)
    assert d.verdict in VERDICTS
    assert d.avoidable_bias == pytest.approx(d.train - d.reference)
    assert d.variance == pytest.approx(d.validation - d.train)
    assert "Kneser-Ney" in d.reference_source
    res = ok(cli("diagnose", lm_run, "--json", "--reference", "0.5"))
    j = json.loads(res.stdout)
    assert KEYS <= set(j) and j["reference"] == 0.5 and j["unit"] == "bits/char"
    assert j["train"] == pytest.approx(d.train) and j["validation"] == pytest.approx(d.validation)
    assert j["verdict"] == verdict(j["train"], j["validation"], 0.5, Thresholds(**j["thresholds"]))
    assert j["avoidable_bias"] == pytest.approx(j["train"] - 0.5)
    text = ok(cli("diagnose", lm_run, "--bias-threshold", "100", "--variance-threshold", "100")).stdout
    assert "good fit" in text.splitlines()[0] and "threshold 100" in text


def test_advice_commands_run(lm_run, tmp_path):
    config = json.loads((lm_run / "config.json").read_text())
    lines = advice(BOTH, "lm", lm_run, config, text_diagnosis.measure(lm_run, reference=False).variance_flags)
    joined = "\n".join(lines)
    for flag in ("--hidden-size 64", "--layers 2", "--steps 60", "--dropout 0.25",
                 "--weight-decay 0.01", "--noise-prob 0.1 --noise unigram", "--patience 3"):
        assert flag in joined, flag
    assert "more dropout" not in joined  # it has 0.5 already
    assert "good fit" in advice("good fit", "lm", lm_run, config)[0]
    assert all("--hidden-size" not in a for a in advice("high variance", "lm", lm_run, config))
    units = next(a for a in lines if a.startswith("more units"))
    argv = shlex.split(units.split(": ", 1)[1])[1:]  # drop "rnnkit"
    argv[argv.index("--out") + 1] = str(tmp_path / "bigger")
    ok(cli(*argv, "--steps", "2"))
    assert json.loads((tmp_path / "bigger" / "config.json").read_text())["rnn"]["hidden_size"] == 64


def test_bad_input(lm_run, tmp_path):
    assert_clean_error(cli("diagnose", lm_run, "--reference", "nan"), "--reference: must be a finite number")
    assert_clean_error(cli("diagnose", lm_run, "--reference", "inf"), "--reference: must be a finite number")
    assert_clean_error(cli("diagnose", tmp_path / "none"), "is not a run directory")
    # a run killed before its first validation
    cfg = tiny_config(lm_run.parent / "tiny.txt", steps=30, eval_every=20)
    rnnkit.train(cfg, tmp_path / "cut", stop_after=5)
    assert_clean_error(cli("diagnose", tmp_path / "cut"), "has no finished validation")


def test_forecast_run_is_diagnosed_against_seasonal_naive(tmp_path):
    from rnnkit.forecast import api
    from rnnkit.forecast.series import Series, infer_frequency
    from rnnkit.core.config import from_dict
    from rnnkit.forecast.task import ForecastConfig

    t = np.arange(120)
    values = 50 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, len(t))
    dates = (np.datetime64("2000-01", "M") + t).astype("datetime64[D]")
    series = Series(dates, values, np.zeros((len(t), 0)), [], "y", infer_frequency(dates))
    api.train(from_dict(ForecastConfig, {"model": {"horizon": 6, "hidden_size": 8}, "train": {"steps": 5}}),
              tmp_path / "run", series=series)
    d = diagnose(tmp_path / "run")
    assert d.unit == "MASE" and d.thresholds == {"bias": 0.1, "variance": 0.1}
    assert "seasonal naive" in d.reference_source
    assert 0.3 < d.reference < 3  # noise of sd 1 around an exactly seasonal series: about the naive scale


def test_translation_needs_a_reference(tmp_path):
    from rnnkit import translate

    rows = [f"{w} {v}\t{v} {w}" for w in "abcdefgh" for v in "ijklmnop"]
    (tmp_path / "p.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = translate.TranslateConfig()
    cfg.data.data = str(tmp_path / "p.tsv")
    cfg.tokenizer.tokens, cfg.tokenizer.min_freq = "word", 1
    cfg.model.hidden_size, cfg.model.embedding_size = 8, 8
    cfg.train.steps, cfg.train.batch_size = 2, 8
    translate.train(cfg, tmp_path / "run")
    assert_clean_error(cli("diagnose", tmp_path / "run"), "pass --reference")
    j = json.loads(ok(cli("diagnose", tmp_path / "run", "--reference", "0.1", "--json")).stdout)
    assert j["unit"] == "nats/target token" and j["reference"] == 0.1 and j["verdict"] in VERDICTS


def test_audio_run_against_a_linear_classifier(tmp_path, monkeypatch):
    import soundfile as sf
    from rnnkit.audio import api, linear_baseline
    from rnnkit.audio.task import AudioConfig
    from rnnkit.core.config import from_dict

    rate, rng = 8000, np.random.default_rng(0)
    (tmp_path / "d").mkdir()
    for label, f in (("low", 300.0), ("high", 1500.0)):
        for i in range(12):
            t = np.arange(int(rate * rng.uniform(0.2, 0.4))) / rate
            sf.write(tmp_path / "d" / f"{label}_{i}.wav", (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), rate)
    cfg = from_dict(AudioConfig, {"data": {"data": str(tmp_path / "d"), "label_pattern": r"^([a-z]+)_"},
                                  "model": {"channels": 2, "hidden_size": 4}, "train": {"steps": 2, "batch_size": 8}})
    api.train(cfg, tmp_path / "run")
    fitted = []  # what the reference is fitted on
    fit = linear_baseline.fit
    monkeypatch.setattr(linear_baseline, "fit", lambda x, y, *a: fitted.append((x, y)) or fit(x, y, *a))
    d = diagnose(tmp_path / "run")
    assert d.unit == "error rate %" and d.thresholds == {"bias": 2.0, "variance": 2.0}
    # the reference is fitted on exactly the training clips' pooled features, no validation clip
    clf = api.load(tmp_path / "run")
    waves, y = api.split_waves(clf, "train", tmp_path / "run")
    assert len(fitted) == 1 and len(y) == d.train_items
    np.testing.assert_array_equal(fitted[0][1], y)
    torch.testing.assert_close(fitted[0][0], linear_baseline.pooled(*api.frame_features(clf.frontend, waves, clf.device)))
    assert d.reference == 0.0  # two pure tones far apart: pooled log-mel bands separate them linearly
    assert d.train_items + d.validation_items < 24 and 0 <= d.train <= 100
    # A run saved before --top-db and --floor: the advice keeps its unfloored features, changing one thing.
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    del saved["features"]["top_db"], saved["features"]["floor"]
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    lines = [a for a in diagnose(tmp_path / "run").advice if "rnnkit train" in a]
    assert lines and all("--top-db 0 --floor hard --" in a for a in lines)
    args = shlex.split(lines[0].split(": ", 1)[1])
    assert args[args.index("--top-db") + 1] == "0" and args.count("--top-db") == 1
    # and its report's configuration table shows the features it was trained with
    from rnnkit.report import run_report
    page = run_report.build_report(tmp_path / "run").replace(" ", "")
    assert "<td>top_db</td><td>0.0</td>" in page and "<td>floor</td><td>&quot;hard&quot;</td>" in page
