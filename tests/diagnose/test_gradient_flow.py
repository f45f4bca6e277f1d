"""Gradient flow through time: a linear RNN against its hand-computed gradient, the LM path, the verb."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from conftest import TINY_TEXT, assert_clean_error, cli, ok
from rnnkit.diagnose.gradient_flow import hidden_gradient_norms, lm_gradient_norms, sample_windows
from rnnkit.nn.cells import ExplicitRecurrent
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel


class LinearRNN(nn.Module):
    """``h_t = W h_{t-1} + U x_t``, no nonlinearity, with PyTorch's ``batch_first`` call."""

    def __init__(self, W: torch.Tensor, U: torch.Tensor):
        super().__init__()
        self.W, self.U = W, U

    def forward(self, x, state=None):  # x (B, 1, I), state (1, B, H)
        h = state[0] if state is not None else x.new_zeros(x.size(0), self.W.size(0))
        h = h @ self.W.T + x[:, 0] @ self.U.T
        return h[:, None], h[None]


def test_linear_rnn_gradient_k_steps_back_is_w_transpose_to_the_k_applied_to_the_last():
    torch.manual_seed(0)
    H, I, B, T = 5, 3, 2, 12
    W = torch.randn(H, H, dtype=torch.float64) * 0.6
    U = torch.randn(H, I, dtype=torch.float64)
    g = torch.randn(B, H, dtype=torch.float64)  # the loss is g . h_T, so dL/dh_T = g
    x = torch.randn(B, T, I, dtype=torch.float64)
    norms = hidden_gradient_norms(LinearRNN(W, U), x, lambda out: (out * g).sum(-1))
    assert norms.shape == (B, T)
    expected = torch.stack([(g @ torch.linalg.matrix_power(W, k)).norm(dim=-1) for k in range(T)], 1)  # g^T W^k
    torch.testing.assert_close(norms, expected)
    assert not torch.allclose(norms[:, 0], norms[:, -1])  # the case is not trivial: the norm changes with k


def test_fused_and_explicit_cells_give_the_same_flow():
    torch.manual_seed(1)
    for cell in ("rnn", "lstm", "gru"):
        explicit = ExplicitRecurrent(cell, 4, 6, num_layers=2).double()
        fused = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](4, 6, 2, batch_first=True).double()
        fused.load_state_dict(explicit.state_dict())
        x = torch.randn(3, 9, 4, dtype=torch.float64)
        a = hidden_gradient_norms(explicit, x, lambda out: out.sum(-1))
        b = hidden_gradient_norms(fused, x, lambda out: out.sum(-1))
        torch.testing.assert_close(a, b)
        assert (a > 0).all()


def test_language_model_flow_matches_a_finite_difference_at_the_first_step():
    """``||dL/dh_1||`` of the LM path against central differences of the loss in h_1's entries."""
    torch.manual_seed(2)
    cfg = RNNConfig(cell="gru", layers=1, hidden_size=6, embedding_size=4, dropout=0.0)
    model = RNNLanguageModel(cfg, 7)
    windows = torch.randint(0, 7, (1, 6))
    norms = lm_gradient_norms(model, windows)
    assert norms.shape == (5,) and all(p.requires_grad and p.grad is None for p in model.parameters())
    model = model.double()

    def loss_from_h1(h1):
        x = model.embed(windows[:, :-1])
        out, _ = model.rnn(x[:, 1:], h1)
        return torch.nn.functional.cross_entropy(model.head(out[:, -1]), windows[:, -1])

    with torch.no_grad():
        _, h1 = model.rnn(model.embed(windows[:, :1]), None)
        eps, grad = 1e-6, torch.zeros_like(h1)
        for i in range(h1.numel()):
            d = torch.zeros_like(h1).view(-1)
            d[i] = eps
            grad.view(-1)[i] = (loss_from_h1(h1 + d.view_as(h1)) - loss_from_h1(h1 - d.view_as(h1))) / (2 * eps)
    assert norms[-1] == pytest.approx(grad.norm().item(), rel=1e-5)


def test_sample_windows_are_seeded_and_refuse_a_short_text():
    tokens = np.arange(50)
    a, b = sample_windows(tokens, 10, 4, seed=3), sample_windows(tokens, 10, 4, seed=3)
    assert a.shape == (4, 11) and torch.equal(a, b) and (a[:, 1:] - a[:, :-1] == 1).all()
    with pytest.raises(Exception, match="--length 60"):
        sample_windows(tokens, 60, 4, seed=0)


def test_gradient_flow_verb_on_cells_and_on_a_run(tmp_path, trained_run):
    data = tmp_path / "t.txt"
    data.write_text(TINY_TEXT * 2, encoding="utf-8")
    out = json.loads(ok(cli("gradient-flow", "--cells", "rnn", "lstm", "--data", data, "--length", "30",
                            "--sequences", "4", "--hidden-size", "16", "--out", tmp_path / "g.png", "--json")).stdout)
    assert set(out["norms"]) == {"rnn", "lstm"} and len(out["norms"]["rnn"]) == 30
    assert set(out["at"]["rnn"]) == {"1", "10", "25"}
    assert (tmp_path / "g.png").stat().st_size > 5000
    text = ok(cli("gradient-flow", "--cells", "gru", "--data", data, "--length", "12", "--sequences", "2",
                  "--hidden-size", "8", "--steps", "3", "--batch-size", "4", "--out", tmp_path / "t.png")).stdout
    assert "| gru |" in text and "10 back" in text and "trained 3 steps" in text
    run = json.loads(ok(cli("gradient-flow", trained_run, "--length", "20", "--sequences", "3",
                            "--out", tmp_path / "r.png", "--json")).stdout)
    (label,) = run["norms"]
    assert label.startswith("lstm") and all(v > 0 for v in run["norms"][label])


@pytest.mark.parametrize("args,match", [
    (["--length", "30"], "pass a run directory or --cells"),
    (["RUN", "--cells", "rnn"], "either a run or --cells"),
    (["--cells", "rnn", "--length", "0"], "--length must be at least 2"),
    (["RUN", "--length", "100000"], "--length 100000"),
    (["RUN", "--out", "{tmp}/file.txt/x.png"], "cannot write"),
])
def test_gradient_flow_bad_input(tmp_path, trained_run, args, match):
    (tmp_path / "file.txt").write_text("x")
    args = [str(trained_run) if a == "RUN" else a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_clean_error(cli("gradient-flow", *args), match)
