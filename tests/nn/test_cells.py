"""Explicit cells (written from the guide's equations) against PyTorch's fused layers, and
backpropagation through time against finite differences."""

import pytest
import torch
from torch import nn

from rnnkit.nn.cells import ExplicitRecurrent, rnn_cell

CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def fused(cell, nonlinearity, inp, hid, layers, dropout=0.0):
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    return cls(inp, hid, layers, batch_first=True, dropout=dropout, **extra)


@pytest.mark.parametrize("cell,nonlinearity", CASES)
@pytest.mark.parametrize("layers", [1, 3])
def test_explicit_matches_fused_outputs_and_gradients(cell, nonlinearity, layers):
    torch.manual_seed(0)
    ref = fused(cell, nonlinearity, 5, 7, layers).double()
    mine = ExplicitRecurrent(cell, 5, 7, layers, nonlinearity=nonlinearity).double()
    mine.load_state_dict(ref.state_dict())  # same names and layouts: weights copy across
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    if cell == "lstm":
        state = (torch.randn(layers, 3, 7, dtype=torch.float64), torch.randn(layers, 3, 7, dtype=torch.float64))
    else:
        state = torch.randn(layers, 3, 7, dtype=torch.float64)
    out_ref, st_ref = ref(x, state)
    out_mine, st_mine = mine(x, state)
    torch.testing.assert_close(out_mine, out_ref)
    for a, b in zip(st_mine if cell == "lstm" else (st_mine,), st_ref if cell == "lstm" else (st_ref,)):
        torch.testing.assert_close(a, b)
    (out_ref.sin().sum()).backward()
    (out_mine.sin().sum()).backward()
    for (name, p_ref), p_mine in zip(ref.named_parameters(), mine.parameters()):
        torch.testing.assert_close(p_mine.grad, p_ref.grad, msg=name)


def test_guide_formula_is_the_vanilla_cell():
    """h_t = tanh(W_h h_{t-1} + W_x x_t) with zero biases, h_0 = 0 (rnn-guide.md)."""
    torch.manual_seed(1)
    W_x, W_h = torch.randn(4, 3), torch.randn(4, 4)
    xs = torch.randn(5, 3)
    h = torch.zeros(4)
    for x in xs:
        h = torch.tanh(W_h @ h + W_x @ x)
    h2 = torch.zeros(1, 4)
    for x in xs:
        h2 = rnn_cell(x[None], h2, W_x, W_h, torch.zeros(4), torch.zeros(4))
    torch.testing.assert_close(h2[0], h)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bptt_gradients_match_finite_differences(cell):
    """Autograd through the unrolled explicit loop equals float64 central differences."""
    torch.manual_seed(2)
    layer = ExplicitRecurrent(cell, 3, 4, 2).double()
    head = nn.Linear(4, 5).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    y = torch.randint(0, 5, (2, 7))

    def loss_fn():
        out, _ = layer(x)
        return nn.functional.cross_entropy(head(out).reshape(-1, 5), y.reshape(-1))

    loss_fn().backward()
    eps = 1e-6
    for name, p in layer.named_parameters():
        flat = p.data.view(-1)
        for i in torch.randperm(flat.numel())[:6]:
            old = flat[i].item()
            flat[i] = old + eps
            up = loss_fn().item()
            flat[i] = old - eps
            down = loss_fn().item()
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            assert abs(p.grad.view(-1)[i].item() - numeric) < 1e-7, (name, int(i))


def test_vanishing_gradient_is_worse_for_vanilla_rnn_than_lstm():
    """The guide's claim, measured: gradient reaching step 0 from a loss at step T."""
    torch.manual_seed(3)
    ratios = {}
    for cell in ("rnn", "lstm"):
        layer = ExplicitRecurrent(cell, 8, 32, 1)
        with torch.no_grad():  # a forget-gate bias of 1 (common practice) keeps memory open
            if cell == "lstm":
                layer.bias_ih_l0[32:64].fill_(1.0)
        x = torch.randn(16, 60, 8, requires_grad=True)
        out, _ = layer(x)
        out[:, -1].sum().backward()
        g = x.grad.norm(dim=(0, 2))
        ratios[cell] = (g[0] / g[-1]).item()
    assert ratios["rnn"] < ratios["lstm"]
