"""Data noising (Xie et al. 2017): unigram and blank replacement of language-model inputs."""

import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.core.errors import RnnkitError
from rnnkit.text import noising, textdata
from rnnkit.text.noising import BLANK, InputNoise
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel

from conftest import TINY_TEXT, cli, tiny_config


def test_unigram_noise_replaces_inputs_at_the_rate_with_training_frequencies_only():
    """Replacements follow the training split's counts: a token absent from it is never drawn."""
    train = np.array([0, 0, 0, 1] * 250, np.uint16)  # token 2 exists only outside training
    noise = InputNoise("unigram", 0.3, train, vocab_size=3)
    torch.manual_seed(0)
    inputs = torch.full((64, 100), 2, dtype=torch.long)
    out = noise(inputs)
    hit = out != 2
    assert abs(hit.float().mean().item() - 0.3) < 0.02
    drawn = out[hit]
    assert set(drawn.tolist()) <= {0, 1}
    assert abs((drawn == 0).float().mean().item() - 0.75) < 0.03
    assert torch.equal(inputs, torch.full((64, 100), 2))  # the batch itself is not written to


def test_training_draws_unigram_noise_from_the_training_split_only(tmp_path, monkeypatch):
    """The real call site (``rnnkit.train`` with ``--noise unigram``): the frequencies in use are
    the training split's counts; test letters training never had (read as <unk>) are never drawn."""
    data = tmp_path / "t.txt"
    data.write_text(TINY_TEXT + "zebra quagga xylophone. " * 6, encoding="utf-8")  # in the last 10% only
    made = []

    class Spy(InputNoise):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(noising, "InputNoise", Spy)
    rnnkit.train(tiny_config(data, steps=3, noise_prob=0.2, noise="unigram"), tmp_path / "run")
    lm = rnnkit.load(tmp_path / "run")
    train = np.asarray(textdata.open_prepared(tmp_path / "run", lm.vocab).part("train"))
    assert len(made) == 1
    expected = np.bincount(train, minlength=len(lm.vocab)) / len(train)
    assert np.array_equal(made[0].unigram.numpy(), expected)
    assert made[0].unigram[lm.vocab.index["<unk>"]] == 0


def test_blank_noise_zeroes_the_input_vector():
    """A blank reads as an all-zero input, for embedded and one-hot models alike."""
    noise = InputNoise("blank", 0.5, np.zeros(10, np.uint16), vocab_size=5)
    torch.manual_seed(1)
    out = noise(torch.randint(0, 5, (4, 12)))
    assert (out == BLANK).any() and ((out == BLANK) | (out >= 0)).all()
    for one_hot in (False, True):
        torch.manual_seed(2)
        model = RNNLanguageModel(RNNConfig(hidden_size=8, embedding_size=4, layers=1, dropout=0.0,
                                           one_hot=one_hot, tie_weights=False), 5).train()
        logits, _ = model(out)
        # the same network fed zero vectors where the blanks are, by hand
        ids = out.clamp(min=0)
        x = (torch.nn.functional.one_hot(ids, 5).float() if one_hot else model.embed(ids))
        x = x * (out >= 0).unsqueeze(-1)
        h, _ = model.rnn(x)
        torch.testing.assert_close(logits, model.head(h))


def test_noised_training_is_seeded_resumable_and_differs_from_clean(tmp_path, tiny_file):
    def losses(run):
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [round(r["loss"], 6) for r in rows if r["kind"] == "train"]

    clean = tiny_config(tiny_file, steps=20, eval_every=10, log_every=4)
    rnnkit.train(clean, tmp_path / "clean")
    for kind in ("unigram", "blank"):
        cfg = tiny_config(tiny_file, steps=20, eval_every=10, log_every=4, noise_prob=0.2, noise=kind)
        rnnkit.train(cfg, tmp_path / kind)
        rnnkit.train(cfg, tmp_path / f"{kind}-cut", stop_after=13)
        rnnkit.train(rnnkit.resume_config(tmp_path / f"{kind}-cut", {}), tmp_path / f"{kind}-cut", resume=True)
        assert losses(tmp_path / f"{kind}-cut") == losses(tmp_path / kind)
        assert losses(tmp_path / kind) != losses(tmp_path / "clean")
        saved = json.loads((tmp_path / kind / "config.json").read_text())
        assert saved["train"]["noise_prob"] == 0.2 and saved["train"]["noise"] == kind


def test_noise_options_are_checked(tiny_file, tmp_path):
    with pytest.raises(RnnkitError, match="--noise-prob: must be in"):
        tiny_config(tiny_file, noise_prob=1.0).train.__post_init__()
    r = cli("train", "--data", tiny_file, "--out", tmp_path / "r", "--noise-prob", "0.1",
            "--objective", "infill", "--steps", "2")
    assert r.returncode == 2 and "noise" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()
    r = cli("train", "--data", tiny_file, "--out", tmp_path / "r", "--noise", "gaussian")
    assert r.returncode == 2 and "gaussian" in r.stderr
