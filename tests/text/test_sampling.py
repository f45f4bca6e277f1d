"""Sampling strategies and generation with a carried state."""

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
