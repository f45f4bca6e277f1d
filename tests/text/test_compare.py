"""The guide's walk as numbers: n-gram baselines, the seed preset, and `rnnkit compare`."""

import csv
import json

import pytest

import rnnkit
from rnnkit.text.compare import CompareConfig, model_config
from rnnkit.core.errors import RnnkitError
from rnnkit.text.presets import PRESETS

from conftest import TINY_TEXT, run_cli


def test_ngram_models_train_sample_and_evaluate_like_rnns(tmp_path, tiny_file):
    out = tmp_path / "run"
    p = run_cli("train", "--data", tiny_file, "--out", out, "--model", "ngram", "--order", "3")
    assert p.returncode == 0, p.stderr
    assert "counted the n-grams of" in p.stdout and "validation loss" in p.stdout
    e = run_cli("evaluate", out, "--json")
    m = json.loads(e.stdout)
    assert 0 < m["loss"] < 2.0 and m["accuracy"] > 0.5
    s = run_cli("sample", out, "--length", "40", "--prime", "the ", "--stats")
    assert s.returncode == 0, s.stderr
    assert "copied from training" in s.stdout and "distinct-2" in s.stdout


def test_unigram_greedy_degenerates_at_word_level(tmp_path):
    p = tmp_path / "words.txt"
    p.write_text("the cat saw the dog and the bird saw the cat . " * 30, encoding="utf-8")
    cfg = rnnkit.LMConfig(model="ngram")
    cfg.data.data, cfg.data.level, cfg.ngram.order = str(p), "word", 1
    rnnkit.train(cfg, tmp_path / "run")
    lm = rnnkit.load(tmp_path / "run")
    text = rnnkit.sample(lm, rnnkit.SampleConfig(length=6, greedy=True))[0]
    assert text.split() == ["the"] * 6  # "the the the ..." (rnn-guide.md, Modeling p(x))
    sampled = rnnkit.sample(lm, rnnkit.SampleConfig(length=200, seed=1))[0].split()
    assert len(set(sampled)) > 3  # sampling instead shows every word, in no order


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
def test_ngram_scores_test_only_letters_as_unk_with_finite_loss(tmp_path, smoothing):
    p = tmp_path / "t.txt"
    p.write_text(TINY_TEXT + "zebra quagga xylophone", encoding="utf-8")  # last 10% holds unseen letters
    losses = {}
    for order in (1, 3):
        cfg = rnnkit.LMConfig(model="ngram")
        cfg.data.data, cfg.ngram.order, cfg.ngram.smoothing = str(p), order, smoothing
        rnnkit.train(cfg, tmp_path / f"o{order}")
        lm = rnnkit.load(tmp_path / f"o{order}")
        m = rnnkit.evaluate(lm, "test", tmp_path / f"o{order}")
        assert not set("zrquxp") & set(lm.vocab.tokens)  # letters of the test part only get no id
        assert m.unknown == 6  # z r, q u, x p: each one <unk> target
        losses[order] = m.loss
    assert losses[3] < losses[1] < float("inf")  # the smoothing gives <unk> probability


def test_seed_preset_is_the_articles_model(tmp_path, tiny_file):
    out = tmp_path / "seed"
    p = run_cli("train", "--data", tiny_file, "--out", out, "--preset", "seed", "--epochs", "1")
    assert p.returncode == 0, p.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["rnn"]["cell"] == "rnn" and cfg["rnn"]["hidden_size"] == 128 and cfg["rnn"]["one_hot"]
    assert cfg["train"]["objective"] == "window" and cfg["train"]["seq_len"] == 10
    assert cfg["train"]["optimizer"] == "rmsprop" and cfg["train"]["batch_size"] == 128
    assert cfg["data"]["text_clean"] == "seed"
    s = run_cli("sample", out, "--greedy", "--length", "30")
    assert s.returncode == 0 and len(s.stdout.strip()) == 10 + 30  # random 10-char window, then 30 chars
    p2 = run_cli("train", "--data", tiny_file, "--out", tmp_path / "s2", "--preset", "seed", "--epochs", "1",
                 "--hidden-size", "64")
    assert p2.returncode == 0 and json.loads((tmp_path / "s2" / "config.json").read_text())["rnn"]["hidden_size"] == 64


def test_compare_end_to_end(tmp_path, tiny_file):
    out = tmp_path / "cmp"
    p = run_cli("compare", "--data", tiny_file, "--out", out, "--budget", "2", "--models", "unigram", "bigram",
                "5gram", "seed", "gru", "--sample-length", "60", timeout=600)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert [r["model"] for r in rows] == ["unigram", "bigram", "5gram", "seed", "gru"]
    loss = {r["model"]: float(r["test_nats_per_token"]) for r in rows}
    assert loss["bigram"] < loss["unigram"] and loss["5gram"] < loss["bigram"]
    for r in rows:
        assert float(r["train_seconds"]) < 2 + 15 and float(r["tokens_per_s"]) > 0 and int(r["parameters"]) > 0
    md = (out / "compare.md").read_text()
    assert "| model | test nats/token" in md and "## Samples" in md
    png = (out / "val_loss.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "| gru |" in p.stdout


@pytest.mark.parametrize("args,match", [
    (["--models", "unigram", "transformer"], "unknown model 'transformer'"),
    (["--models", "0gram"], "order must be at least 1"),
    (["--budget", "0"], "--budget"),
    (["--budget", "-5"], "--budget"),
])
def test_compare_bad_input(tmp_path, tiny_file, args, match):
    p = run_cli("compare", "--data", tiny_file, "--out", tmp_path / "c", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert match in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c" / "runs").exists()


def test_order_errors(tmp_path, tiny_file):
    p = run_cli("train", "--data", tiny_file, "--out", tmp_path / "r", "--model", "ngram", "--order", "0")
    assert p.returncode == 2 and "--order" in p.stderr and "Traceback" not in p.stderr
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij", encoding="utf-8")
    p = run_cli("train", "--data", short, "--out", tmp_path / "r2", "--model", "ngram", "--order", "12")
    assert p.returncode == 2 and "too short for --order 12" in p.stderr and "Traceback" not in p.stderr


def test_model_names():
    cmp = CompareConfig(models=("unigram",))
    assert model_config("unigram", cmp).ngram.order == 1
    assert model_config("7gram-addk", cmp).ngram.smoothing == "add-k"
    assert model_config("lstm", cmp).rnn.cell == "lstm"
    seed = model_config("seed", cmp)
    assert seed.rnn.hidden_size == PRESETS["seed"]["rnn"]["hidden_size"] and seed.train.max_time == 120.0
    with pytest.raises(RnnkitError, match="unknown model"):
        CompareConfig(models=("gpt",))


def test_compare_checks_every_model_fits_before_training(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("the cat sat on the mat. " * 6, encoding="utf-8")  # 144 chars: fine for n-grams, not a GRU
    p = run_cli("compare", "--data", short, "--out", tmp_path / "c", "--models", "unigram", "gru", "--budget", "1")
    assert p.returncode == 2 and "too short" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "c" / "runs").exists()


def test_ngram_on_a_text_too_small_for_its_splits(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("abcdefghij", encoding="utf-8")
    cfg = rnnkit.LMConfig(model="ngram")
    cfg.data.data, cfg.ngram.order = str(p), 3
    with pytest.raises(RnnkitError, match="split has only"):
        rnnkit.train(cfg, tmp_path / "run")
