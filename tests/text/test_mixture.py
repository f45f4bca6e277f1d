"""The recurrent model interpolated with a Kneser-Ney n-gram after training."""

import json
import math

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.text import api, evaluation, mixture, textdata
from rnnkit.core import checkpoint
from rnnkit.core.errors import RnnkitError
from rnnkit.text.ngram import NGramConfig, NGramModel
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel
from rnnkit.text.sampling import SampleConfig, generate

from conftest import TINY_TEXT, run_cli, tiny_config


def test_em_weight_maximizes_the_validation_likelihood():
    rng = np.random.default_rng(0)
    rnn_lp = np.log(rng.uniform(0.05, 0.9, 5000))
    ngram_lp = np.log(rng.uniform(0.01, 0.99, 5000))
    lam = mixture.fit_weight(rnn_lp, ngram_lp)
    grid = np.linspace(0.001, 0.999, 999)
    losses = [mixture.mixed_loss(rnn_lp, ngram_lp, g) for g in grid]
    best = grid[int(np.argmin(losses))]
    assert abs(lam - best) <= 0.002
    assert mixture.mixed_loss(rnn_lp, ngram_lp, lam) <= min(losses) + 1e-9
    assert mixture.mixed_loss(rnn_lp, ngram_lp, lam) < min(-rnn_lp.mean(), -ngram_lp.mean())


def test_em_weight_is_near_zero_for_a_useless_ngram():
    rng = np.random.default_rng(1)
    rnn_lp = np.log(rng.uniform(0.5, 0.9, 2000))
    assert mixture.fit_weight(rnn_lp, rnn_lp - 5.0) < mixture.MIN_WEIGHT


@pytest.fixture
def parts():
    rng = np.random.default_rng(2)
    tokens = (np.cumsum(rng.integers(0, 3, 3000)) % 9).astype(np.uint16)
    torch.manual_seed(0)
    rnn = RNNLanguageModel(RNNConfig(hidden_size=16, embedding_size=8, layers=1), 9).eval()
    ngram = NGramModel.fit(NGramConfig(order=3), tokens, 9)
    return rnn, ngram, torch.from_numpy(tokens[:200].astype(np.int64))[None]


def test_mixed_distribution_is_the_weighted_sum(parts):
    rnn, ngram, x = parts
    model = mixture.MixedModel(rnn, ngram, 0.3)
    with torch.no_grad():
        mixed, _ = model(x)
        by_hand = 0.7 * rnn(x)[0].softmax(-1) + 0.3 * ngram(x)[0].exp()
    assert torch.allclose(mixed.exp(), by_hand, atol=1e-6)
    assert torch.allclose(mixed.exp().sum(-1), torch.ones(1, x.size(1)), atol=1e-5)


def test_mixed_state_carries_across_calls(parts):
    rnn, ngram, x = parts
    model = mixture.MixedModel(rnn, ngram, 0.4)
    with torch.no_grad():
        whole, _ = model(x)
        a, state = model(x[:, :77])
        b, _ = model(x[:, 77:], state)
    assert torch.allclose(whole, torch.cat([a, b], 1), atol=1e-5)


class FromScratchNGram:
    """The n-gram of a mix with every context looked up from nothing at every call (the
    vectorized ``log_probs``): the reference for generation's carried contexts."""

    def __init__(self, ngram: NGramModel):
        self.ngram = ngram

    def __call__(self, tokens: torch.Tensor, history=None):  # history: the last N-1 tokens (B, N-1)
        N = self.ngram.cfg.order
        history = np.full((tokens.size(0), N - 1), -1) if history is None else history
        full = np.concatenate([history, tokens.numpy()], axis=1)
        contexts = np.stack([full[:, t + 1 : t + N] for t in range(tokens.size(1))], axis=1)  # (B, T, N-1)
        lp = self.ngram.log_probs(contexts.reshape(-1, N - 1)).reshape(*tokens.shape, -1)
        return torch.from_numpy(lp), full[:, full.shape[1] - (N - 1) :]  # the last N-1 tokens


@pytest.mark.parametrize("order", [3, 7])
def test_seeded_samples_are_those_of_lookups_from_scratch(order):
    """Carrying the n-gram's context through generation changes no sampled token: the same seed
    gives the same text as a mix whose n-gram looks every context up afresh."""
    rng = np.random.default_rng(3)
    tokens = (np.cumsum(rng.choice([0, 1, 1, 2, 3], 5000)) % 11).astype(np.uint16)  # contexts recur
    torch.manual_seed(1)
    rnn = RNNLanguageModel(RNNConfig(hidden_size=16, embedding_size=8, layers=1), 12).eval()
    ngram = NGramModel.fit(NGramConfig(order=order), tokens, 12)  # id 11 never occurs
    model = mixture.MixedModel(rnn, ngram, 0.9)
    reference = mixture.MixedModel(rnn, ngram, 0.9)
    reference.ngram = FromScratchNGram(ngram)
    for seed, num_samples, prime in [(0, 1, [0]), (1, 3, [5, 6, 8, 9, 0]), (2, 2, list(range(12)) * 2)]:
        cfg = SampleConfig(length=150, num_samples=num_samples, temperature=0.9, seed=seed)
        ngram.clear_cache()
        assert generate(model, prime, cfg) == generate(reference, prime, cfg)


def test_training_mixes_and_the_checkpoint_rebuilds_it(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=30)
    cfg.mix.mix_order = 4
    result = rnnkit.train(cfg, tmp_path / "run")
    m = result.mix
    assert m is not None and m.order == 4 and 0 < m.weight < 1
    assert m.val_mixed <= min(m.val_rnn, m.val_ngram) + 1e-6
    assert m.val_rnn == pytest.approx(result.best_val, rel=1e-4)  # the best checkpoint, scored again

    _, meta = checkpoint.load(tmp_path / "run" / "best.safetensors")
    assert meta["mix"]["weight"] == pytest.approx(m.weight)
    mixed = api.load(tmp_path / "run")
    alone = api.load(tmp_path / "run", mix=False)
    assert isinstance(mixed.model, mixture.MixedModel) and isinstance(alone.model, RNNLanguageModel)
    assert "mix" not in checkpoint.load(tmp_path / "run" / "last.safetensors")[1]  # last stays for resuming

    # the test loss of the loaded mixture is the mixture of its parts' test log-probabilities
    test = api.evaluate(mixed, "test", tmp_path / "run")
    corpus = rnnkit.text.textdata.open_prepared(tmp_path / "run", mixed.vocab)
    rnn_lp = evaluation.target_log_probs(alone.model, corpus.part("test"))
    ngram_lp = evaluation.target_log_probs(mixed.model.ngram, corpus.part("test"))
    assert test.loss == pytest.approx(mixture.mixed_loss(rnn_lp, ngram_lp, m.weight), rel=1e-5)
    assert api.evaluate(alone, "test", tmp_path / "run").loss == pytest.approx(float(-rnn_lp.mean()), rel=1e-5)
    assert api.num_parameters(mixed) == api.num_parameters(alone) + mixed.model.ngram.num_parameters()

    texts = api.sample(mixed, rnnkit.SampleConfig(length=40, num_samples=2, prime="the ", seed=3))
    assert len(texts) == 2 and all(t.startswith("the ") and len(t) == 44 for t in texts)


def test_the_mix_is_counted_on_the_training_split_and_weighted_on_validation(tmp_path, monkeypatch):
    """The real call site (``rnnkit.train`` with ``--mix-order``): the n-gram counts exactly the
    training tokens and the weight reads validation; the test part, whose letters training never
    had, reaches neither."""
    data = tmp_path / "t.txt"
    data.write_text(TINY_TEXT + "zebra quagga xylophone. " * 6, encoding="utf-8")  # in the last 10% only
    counted, scored = [], []
    real_fit, real_scores = NGramModel.fit.__func__, evaluation.target_log_probs

    def fit_spy(cls, cfg, tokens, vocab_size):
        counted.append(np.array(tokens))
        return real_fit(cls, cfg, tokens, vocab_size)

    def scores_spy(model, tokens, *args, **kwargs):
        scored.append(np.array(tokens))
        return real_scores(model, tokens, *args, **kwargs)

    monkeypatch.setattr(NGramModel, "fit", classmethod(fit_spy))
    monkeypatch.setattr(evaluation, "target_log_probs", scores_spy)
    cfg = tiny_config(data, steps=30)
    cfg.mix.mix_order = 4
    result = rnnkit.train(cfg, tmp_path / "run")
    lm = api.load(tmp_path / "run")
    corpus = textdata.open_prepared(tmp_path / "run", lm.vocab)
    assert len(counted) == 1 and np.array_equal(counted[0], corpus.part("train"))
    assert len(scored) == 2 and all(np.array_equal(t, corpus.part("val")) for t in scored)  # rnn, n-gram
    unk = lm.vocab.index["<unk>"]
    assert (np.asarray(corpus.part("test")) == unk).sum() == 6 * 6  # z r q u x p in each of the 6 copies
    assert result.mix is not None  # kept, so the saved tables are those counts
    ngram = lm.model.ngram
    assert ngram.counts[1][unk] == 0 and not np.any(ngram.keys[2] % len(lm.vocab) == unk)
    reference = NGramModel.fit(NGramConfig(order=4, discount=cfg.ngram.discount), corpus.part("train"), len(lm.vocab))
    for n in range(1, 5):
        assert np.array_equal(ngram.keys[n], reference.keys[n]) and np.array_equal(ngram.counts[n], reference.counts[n])


def test_resumed_run_fits_the_mix_again(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=20)
    cfg.mix.mix_order = 3
    rnnkit.train(cfg, tmp_path / "run")
    cfg = api.resume_config(tmp_path / "run", {"train": {"steps": 30}, "mix": {"mix_order": 5}})
    result = rnnkit.train(cfg, tmp_path / "run", resume=True)
    assert result.mix is not None and result.mix.order == 5
    tensors, meta = checkpoint.load(tmp_path / "run" / "best.safetensors")
    assert meta["mix"]["order"] == 5 and "mix/counts.5" in tensors and "mix/counts.3" not in tensors
    assert isinstance(api.load(tmp_path / "run").model, mixture.MixedModel)


@pytest.mark.parametrize("change, note", [
    ({"mix": {"mix_order": 0}}, None),
    ({"mix": {"mix_max_tokens": 100}}, "more than --mix-max-tokens 100"),
    ({"train": {"objective": "window", "seq_len": 8}}, "no n-gram mix for the window objective"),
])
def test_when_no_mix_is_fitted(tmp_path, tiny_file, change, note):
    cfg = tiny_config(tiny_file, steps=10)
    for section, values in change.items():
        for k, v in values.items():
            setattr(getattr(cfg, section), k, v)
    result = rnnkit.train(cfg, tmp_path / "run")
    assert result.mix is None
    assert (note in result.mix_note) if note else result.mix_note == ""
    assert "mix" not in checkpoint.load(tmp_path / "run" / "best.safetensors")[1]
    assert isinstance(api.load(tmp_path / "run").model, RNNLanguageModel)


def test_bad_mix_options():
    with pytest.raises(RnnkitError, match="--mix-order"):
        mixture.MixConfig(mix_order=-1)
    with pytest.raises(RnnkitError, match="--mix-max-tokens"):
        mixture.MixConfig(mix_max_tokens=0)


def test_cli_reports_the_mix_and_scores_without_it(tmp_path, tiny_file):
    out = tmp_path / "run"
    p = run_cli("train", "--data", tiny_file, "--out", out, "--steps", "10", "--layers", "1", "--hidden-size", "16",
                "--embedding-size", "8", "--seq-len", "16", "--batch-size", "4", "--mix-order", "4")
    assert p.returncode == 0, p.stderr
    assert "mixed with a 4-gram" in p.stdout
    mixed = json.loads(run_cli("evaluate", out, "--json").stdout)
    alone = json.loads(run_cli("evaluate", out, "--json", "--no-mix").stdout)
    assert not math.isclose(mixed["loss"], alone["loss"])
    s = run_cli("sample", out, "--no-mix", "--length", "20")
    assert s.returncode == 0, s.stderr
    bad = run_cli("train", "--data", tiny_file, "--out", tmp_path / "bad", "--mix-order", "-2")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "mix" in bad.stderr


@pytest.mark.parametrize("change", [{"mix_order": 0}, {"mix_max_tokens": 100}])
def test_resuming_without_the_mix_removes_the_old_one(tmp_path, tiny_file, change):
    cfg = tiny_config(tiny_file, steps=20)
    cfg.mix.mix_order = 3
    rnnkit.train(cfg, tmp_path / "run")
    assert "mix" in checkpoint.load(tmp_path / "run" / "best.safetensors")[1]
    cfg = api.resume_config(tmp_path / "run", {"mix": change})  # same budget: no new best checkpoint
    result = rnnkit.train(cfg, tmp_path / "run", resume=True)
    assert result.mix is None
    tensors, meta = checkpoint.load(tmp_path / "run" / "best.safetensors")
    assert "mix" not in meta and not any(k.startswith("mix/") for k in tensors)
    assert isinstance(api.load(tmp_path / "run").model, RNNLanguageModel)
