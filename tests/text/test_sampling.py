"""Sampling strategies and generation with a carried state."""

import dataclasses

import torch

import rnnkit
from rnnkit.text.sampling import SampleConfig, generate, next_token

import pytest
from rnnkit.core.errors import RnnkitError
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel


def test_greedy_is_argmax():
    logits = torch.tensor([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0]])
    assert next_token(logits, SampleConfig(greedy=True), None).tolist() == [1, 0]


def test_top_k_and_top_p_restrict_the_choice():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(2000, 4)
    k2 = next_token(logits, SampleConfig(top_k=2), g)
    assert set(k2.tolist()) == {0, 1}
    p = next_token(logits, SampleConfig(top_p=0.7), g)  # 0.5 + 0.3 reaches 0.7
    assert set(p.tolist()) == {0, 1}
    allowed = next_token(logits, SampleConfig(), g)
    assert set(allowed.tolist()) == {0, 1, 2, 3}
    freq = (allowed == 0).float().mean().item()
    assert 0.45 < freq < 0.55


def test_low_temperature_sharpens():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([[0.6, 0.4]])).expand(4000, 2)
    cold = (next_token(logits, SampleConfig(temperature=0.2), g) == 0).float().mean()
    hot = (next_token(logits, SampleConfig(temperature=5.0), g) == 0).float().mean()
    assert cold > 0.85 and 0.45 < hot < 0.6


class CountingModel(torch.nn.Module):
    """Predicts (last token + 1) mod V; counts how many tokens it was fed."""

    def __init__(self, V=5):
        super().__init__()
        self.V, self.fed = V, 0

    def forward(self, tokens, state):
        self.fed += tokens.numel()
        logits = torch.nn.functional.one_hot((tokens + 1) % self.V, self.V).float() * 10
        return logits, state


class _FavoursUnk:
    """A model whose next-token distribution puts most of its mass on token 0 (the "<unk>" here)."""

    vocab_size = 4

    def __call__(self, tokens, state=None):
        logits = torch.log(torch.tensor([0.7, 0.2, 0.06, 0.04])).expand(*tokens.shape, 4)  # (B, T, V)
        return logits, state


@pytest.mark.parametrize("window", [None, 3])
def test_unk_is_never_drawn_unless_allowed(window):
    model = _FavoursUnk()
    for cfg in (SampleConfig(greedy=True, length=20), SampleConfig(length=300, seed=2),
                SampleConfig(length=300, top_k=2, seed=3)):
        banned = sum(generate(model, [1], cfg, window=window, unk=0), [])
        assert 0 not in banned and set(banned) <= {1, 2, 3}
        if not cfg.greedy:  # the rest keeps its proportions, 0.2 : 0.06 : 0.04; top-2 then keeps tokens 1, 2
            share = banned.count(1) / len(banned)
            assert abs(share - (0.2 / 0.26 if cfg.top_k else 0.2 / 0.3)) < 0.07
            assert (3 in banned) == (not cfg.top_k)
        allowed = sum(generate(model, [1], dataclasses.replace(cfg, allow_unk=True), window=window, unk=0), [])
        assert allowed.count(0) > len(allowed) / 2
    assert generate(model, [1], SampleConfig(greedy=True, length=5), window=window) == [[0] * 5]  # no <unk> id


def test_samples_of_a_run_hold_no_unk_unless_asked(tmp_path):
    """Through rnnkit.sample: a word unigram whose most frequent token is <unk> (rare words past
    --max-vocab) generates the most frequent real word instead, or <unk> with allow_unk."""
    p = tmp_path / "w.txt"
    p.write_text(("the " * 20 + " ".join(f"w{i}" for i in range(100)) + " ") * 5, encoding="utf-8")
    cfg = rnnkit.LMConfig(model="ngram")
    cfg.data.data, cfg.data.level, cfg.data.max_vocab, cfg.ngram.order = str(p), "word", 3, 1
    rnnkit.train(cfg, tmp_path / "run")
    lm = rnnkit.load(tmp_path / "run")
    assert lm.vocab.unk_seen and lm.model.counts[1].argmax() == lm.vocab.index["<unk>"]
    assert rnnkit.sample(lm, SampleConfig(greedy=True, length=5))[0].split() == ["the"] * 5
    assert "<unk>" not in rnnkit.sample(lm, SampleConfig(length=300, seed=1))[0]
    assert rnnkit.sample(lm, SampleConfig(greedy=True, length=5, allow_unk=True))[0].split() == ["<unk>"] * 5


def test_generation_carries_state_instead_of_rereading():
    m = CountingModel()
    out = generate(m, [0, 1], SampleConfig(length=6, greedy=True))
    assert out == [[2, 3, 4, 0, 1, 2]]
    assert m.fed == 2 + 6  # the prime once, then one token per step

    m = CountingModel()
    out = generate(m, [0, 1], SampleConfig(length=6, greedy=True), window=3)
    assert out == [[2, 3, 4, 0, 1, 2]]
    assert m.fed > 2 + 6  # the window objective re-reads its context


def test_sample_api_is_seeded_and_uses_prime(trained_run):
    lm = rnnkit.load(trained_run)
    a = rnnkit.sample(lm, SampleConfig(length=50, seed=3, prime="the ", num_samples=3))
    b = rnnkit.sample(lm, SampleConfig(length=50, seed=3, prime="the ", num_samples=3))
    c = rnnkit.sample(lm, SampleConfig(length=50, seed=4, prime="the ", num_samples=3))
    assert a == b and a != c
    assert len(a) == 3 and all(s.startswith("the ") and len(s) == 54 for s in a)
    greedy = rnnkit.sample(lm, SampleConfig(length=40, greedy=True, num_samples=2))
    assert greedy[0] == greedy[1]


def test_prime_outside_vocabulary(trained_run):
    lm = rnnkit.load(trained_run)
    with pytest.raises(RnnkitError, match="not in the model's vocabulary"):
        rnnkit.sample(lm, SampleConfig(prime="ZQ#"))


@pytest.mark.parametrize("kw,match", [({"temperature": 0.0}, "--temperature"), ({"top_p": 0.0}, "--top-p"),
                                      ({"length": 0}, "--length"), ({"top_k": -1}, "--top-k")])
def test_bad_sample_options(kw, match):
    with pytest.raises(RnnkitError, match=match):
        SampleConfig(**kw)


@pytest.mark.parametrize("impl, one_hot", [("fused", False), ("explicit", False), ("fused", True)])
def test_one_step_lstm_calls_match_one_call_over_the_sequence(impl, one_hot):
    """Generation's one-step path (PyTorch's cell op on the CPU) gives the layer's own numbers."""
    torch.manual_seed(0)
    cfg = RNNConfig(cell="lstm", layers=2, hidden_size=24, embedding_size=8, impl=impl, one_hot=one_hot)
    model = RNNLanguageModel(cfg, 11).eval()
    tokens = torch.randint(0, 11, (3, 12))
    with torch.no_grad():
        whole, (h, c) = model(tokens)
        steps, state = [], None
        for t in range(tokens.size(1)):
            logits, state = model(tokens[:, t : t + 1], state)
            steps.append(logits)
    assert torch.allclose(torch.cat(steps, 1), whole, atol=1e-5)
    assert torch.allclose(state[0], h, atol=1e-5) and torch.allclose(state[1], c, atol=1e-5)


def _trained_lm(cell: str, V: int = 12) -> RNNLanguageModel:
    """A small model trained for a moment on a repeating pattern, so its distributions are peaked
    as a trained model's are (random weights would flatter the int8 comparison)."""
    torch.manual_seed(0)
    model = RNNLanguageModel(RNNConfig(cell=cell, layers=2, hidden_size=64, embedding_size=16, dropout=0.0), V)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    seq = torch.tensor([(i * 5 + i // 7) % V for i in range(33)])[None].repeat(4, 1)
    for _ in range(60):
        logits, _ = model(seq[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), seq[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_int8_steps_stay_close_to_fp32(cell):
    """The int8 generation view: next-token distributions within a small KL of the fp32 model's,
    and the fp32 model untouched (its own one-step calls still match its whole-sequence call)."""
    from rnnkit.nn import quantized

    if not quantized.available():
        pytest.skip("this PyTorch build has no quantized engine")
    model = _trained_lm(cell)
    assert model.int8_steps() is model  # 2x64 units: too small to gain, stays fp32
    view = model.int8_steps(min_weights=0)
    assert view is not model and view.stack is not None
    tokens = torch.randint(0, 12, (3, 30), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, _ = model(tokens)
        steps, state = [], None
        for t in range(tokens.size(1)):
            logits, state = view(tokens[:, t : t + 1], state)
            steps.append(logits)
        q = torch.cat(steps, 1)
        assert torch.equal(view(tokens)[0], ref)  # longer calls (the prime) are the model's own
    p, log_p, log_q = ref.softmax(-1), ref.log_softmax(-1), q.log_softmax(-1)
    kl = (p * (log_p - log_q)).sum(-1)
    assert kl.mean() < 3e-3 and kl.max() < 5e-2, (kl.mean(), kl.max())
    assert (q - ref).abs().max() > 0  # it does run the int8 weights, not the fp32 ones
    assert (ref.argmax(-1) == q.argmax(-1)).float().mean() > 0.95


def test_sampling_uses_int8_on_the_cpu_unless_told_not_to(monkeypatch):
    from rnnkit.nn import quantized

    if not quantized.available():
        pytest.skip("this PyTorch build has no quantized engine")
    model = _trained_lm("lstm")
    monkeypatch.setattr(quantized, "MIN_WEIGHTS", 0)  # as if the stack were large
    steps = []
    real = quantized.Int8Stack.step
    monkeypatch.setattr(quantized.Int8Stack, "step", lambda self, x, s: steps.append(1) or real(self, x, s))
    a = generate(model, [1, 2], SampleConfig(length=40, seed=5))
    assert len(steps) == 41  # one int8 step per generated token, one trial when the view is made
    assert a == generate(model, [1, 2], SampleConfig(length=40, seed=5))  # seeded, int8 or not
    exact = generate(model, [1, 2], SampleConfig(length=40, seed=5, int8=False))
    assert len(steps) == 82 and len(exact[0]) == 40
    # an engine that refuses the ops when they run: found when the view is made, fp32 from then on
    monkeypatch.setattr(quantized.Int8Stack, "step", lambda self, x, s: (_ for _ in ()).throw(RuntimeError("no")))
    assert model.int8_steps() is model
    assert generate(model, [1, 2], SampleConfig(length=40, seed=5)) == exact
    # without a quantized engine the model steps in fp32: the same tokens as --no-int8
    monkeypatch.setattr(quantized, "available", lambda: False)
    assert model.int8_steps() is model
    assert generate(model, [1, 2], SampleConfig(length=40, seed=5)) == exact


def test_mixed_model_int8_view_keeps_the_ngram_and_weight(monkeypatch):
    from rnnkit.nn import quantized
    from rnnkit.text.mixture import MixedModel
    from rnnkit.text.ngram import NGramConfig, NGramModel

    if not quantized.available():
        pytest.skip("this PyTorch build has no quantized engine")
    monkeypatch.setattr(quantized, "MIN_WEIGHTS", 0)
    rnn = _trained_lm("lstm")
    ngram = NGramModel.fit(NGramConfig(order=3), torch.arange(200).remainder(12).numpy().astype("uint16"), 12)
    mixed = MixedModel(rnn, ngram, 0.3)
    view = mixed.int8_steps()
    assert isinstance(view, MixedModel) and view.ngram is ngram and view.weight == 0.3
    assert view.rnn.model is rnn
