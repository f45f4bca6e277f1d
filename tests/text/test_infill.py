"""Filling a blank from both sides: the bidirectional model, its scoring, `rnnkit fill` and bad input."""

import json

import numpy as np
import pytest
import torch

from conftest import assert_clean_error, cli, ok
from rnnkit.text import infill
from rnnkit.text.infill import InfillModel
from rnnkit.text.rnn_lm import RNNConfig

TINY = ["--layers", "1", "--hidden-size", "32", "--embedding-size", "16", "--dropout", "0", "--seq-len", "16",
        "--batch-size", "16", "--eval-every", "30", "--lr", "0.01"]
UNITS = ["a1", "b2", "c3", "d4"]


def model(cell="gru", layers=1, vocab=7, seed=0) -> InfillModel:
    torch.manual_seed(seed)
    return InfillModel(RNNConfig(cell=cell, layers=layers, hidden_size=6, embedding_size=5, dropout=0.0), vocab).eval()


def test_one_layer_equals_a_bidirectional_gru_with_copied_weights():
    """With one layer the two stacks are ``nn.GRU(bidirectional=True)``; position t reads the
    forward output at t-1 and the backward output at t+1."""
    m = model()
    gru = torch.nn.GRU(5, 6, 1, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name, p in m.fwd.named_parameters():
            getattr(gru, name).copy_(p)
            getattr(gru, name + "_reverse").copy_(getattr(m.bwd, name))
    tokens = torch.randint(7, (3, 9))
    with torch.no_grad():
        ref, _ = gru(m.embed(tokens))  # (B, T, 2H)
        f, b = m.directions(tokens)
        logits = m(tokens)
    torch.testing.assert_close(torch.cat([f, b], -1), ref)
    for t in range(9):
        before = ref[:, t - 1, :6] if t > 0 else torch.zeros(3, 6)
        after = ref[:, t + 1, 6:] if t < 8 else torch.zeros(3, 6)
        torch.testing.assert_close(logits[:, t], m.head(torch.cat([before, after], -1)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_no_prediction_reads_its_own_token(cell):
    """Two layers: changing token t changes every prediction but the one of token t."""
    m = model(cell, layers=2)
    tokens = torch.randint(7, (1, 8))
    with torch.no_grad():
        base = m(tokens)
        for t in range(8):
            other = tokens.clone()
            other[0, t] = (other[0, t] + 1) % 7
            changed = (m(other) - base).abs().amax(-1)[0] > 1e-6
            assert not changed[t] and changed[torch.arange(8) != t].all(), (t, changed)


@pytest.mark.parametrize("n,length", [(3, 3), (10, 3), (50, 17), (64, 16), (1000, 101), (101, 101)])
def test_scored_windows_cover_every_inner_token_once(n, length):
    starts, mask = infill._scored_windows(n, length)
    m = infill.margin_of(length)
    assert (starts >= 0).all() and (starts + length <= n).all()
    hits = np.zeros(n, dtype=int)
    for s, row in zip(starts, mask):
        assert not row[:m].any() and not row[length - m :].any()  # at least m tokens each side
        hits[s + np.flatnonzero(row)] += 1
    assert (hits[m : n - m] == 1).all() and hits[:m].sum() == hits[n - m :].sum() == 0


def right_context_corpus(path, units=1500):
    """Pairs 'a1', 'b2', 'c3', 'd4' in random order: each letter is given by the digit after it and
    says nothing about the digit before it, so only the right-hand context finds the letters."""
    rng = np.random.default_rng(0)
    path.write_text("".join(UNITS[i] for i in rng.integers(4, size=units)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def infill_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("infill")
    data = right_context_corpus(d / "pairs.txt")
    out = ok(cli("train", "--data", data, "--out", d / "run", "--objective", "infill", "--steps", "60", *TINY))
    assert "no n-gram mix for the infill objective" in out.stdout and f"rnnkit fill {d / 'run'}" in out.stdout
    return d / "run"


def test_the_blank_given_by_the_right_context_only(infill_run):
    """The bidirectional model finds every letter; the forward model trained beside it cannot."""
    out = ok(cli("fill", infill_run, "c3a1___4b2", "___2", "--json")).stdout.splitlines()
    first, second = (json.loads(line) for line in out)
    assert first["fillers"][0]["token"] == "d" and first["fillers"][0]["probability"] > 0.9
    assert first["fillers"][0]["text"] == "c3a1d4b2" and len(first["fillers"]) == 5
    assert second["fillers"][0]["token"] == "b" and second["fillers"][0]["probability"] > 0.5  # no left context
    ev = json.loads(ok(cli("evaluate", infill_run, "--split", "test", "--json")).stdout)
    assert ev["infill"]["accuracy"] > 0.97 and ev["infill"]["loss"] < 0.15
    assert ev["forward"]["accuracy"] < 0.75 and ev["forward"]["loss"] > 0.6  # 62.5% and ln(4)/2 at best
    assert ev["tokens"] > 250 and ev["context"] == 4
    from rnnkit.text import api
    lm = api.load(infill_run)
    with torch.no_grad():
        p = torch.softmax(lm.model.baseline(torch.tensor([lm.vocab.encode("c3a1")]))[0][0, -1], -1)
    assert p.max() < 0.5  # the forward model's best guess for the letter after "c3a1"
    text = ok(cli("evaluate", infill_run)).stdout
    assert text.startswith("test: infill") and "forward model on the same" in text
    table = ok(cli("fill", infill_run, "a1___3", "--top-k", "2", "--checkpoint", "last")).stdout.splitlines()
    assert table[0] == "a1___3" and len(table) == 3 and table[1].split()[:3] == ["1", table[1].split()[1], "c"]
    assert table[1].endswith("a1c3")


def test_word_level_fill_prints_words(tmp_path):
    data = tmp_path / "w.txt"
    rng = np.random.default_rng(1)
    data.write_text(" ".join(f"{w} {n}" for w, n in (("red one", "blue two")[i].split() for i in rng.integers(2, size=400))),
                    encoding="utf-8")
    run = tmp_path / "run"
    ok(cli("train", "--data", data, "--level", "word", "--out", run, "--objective", "infill", "--steps", "40", *TINY))
    fill = ok(cli("fill", run, "one ___ two", "--top-k", "4")).stdout.splitlines()
    assert fill[0] == "one ___ two" and len(fill) == 5 and fill[1].split()[-3:] == ["one", fill[1].split()[2], "two"]
    assert_clean_error(cli("fill", run, "one ___ seven"), "'seven', which is not in the model's vocabulary")


def write_series(path, n=120):
    rows = ["Month,Passengers"] + [f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + i + 10 * np.sin(i / 2):.2f}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_fill_and_sample_bad_input(infill_run, trained_run, tmp_path):
    assert_clean_error(cli("fill", infill_run, "a1b2c3"), "has no blank; mark the missing character with ___")
    assert_clean_error(cli("fill", infill_run, "a___b___"), "has 2 blanks")
    second_bad = cli("fill", infill_run, "a1___2", "a1b2")
    assert_clean_error(second_bad, "'a1b2' has no blank")
    assert second_bad.stdout == ""  # the good text before it is not printed either
    assert_clean_error(cli("fill", infill_run, "a1___x"), "'x', which is not in the model's vocabulary")
    assert_clean_error(cli("fill", infill_run, "a1___2", "--top-k", "0"), "--top-k")
    assert_clean_error(cli("fill", trained_run, "the ___ sat"), "--objective infill")
    assert_clean_error(cli("fill", tmp_path / "nothing", "the ___ sat"), "not found")
    assert_clean_error(cli("sample", infill_run), "rnnkit fill")
    forecast = tmp_path / "fc"
    ok(cli("train", "--task", "forecast", "--data", write_series(tmp_path / "s.csv"), "--out", forecast,
           "--hidden-size", "8", "--steps", "2", "--horizon", "6"))
    assert_clean_error(cli("fill", forecast, "the ___ sat"), "`rnnkit fill` is for language-model runs")


@pytest.mark.parametrize("flags,match", [
    (["--model", "ngram"], "drop --model ngram"),
    (["--tie-weights", "--embedding-size", "32"], "--tie-weights is not supported with --objective infill"),
    (["--impl", "explicit"], "--impl explicit"),
    (["--weight-drop", "0.2"], "--weight-drop"),
    (["--seq-len", "1"], "--seq-len"),
])
def test_train_infill_bad_options(tmp_path, tiny_file, flags, match):
    out = tmp_path / "run"
    assert_clean_error(cli("train", "--data", tiny_file, "--out", out, "--objective", "infill", "--steps", "2",
                           "--hidden-size", "32", *flags), match)
    assert not out.exists()


def test_help_lists_fill():
    assert "fill" in ok(cli("--help")).stdout
    assert "--top-k" in ok(cli("fill", "--help")).stdout
