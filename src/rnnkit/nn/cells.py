"""Recurrent cells written out from their equations (rnn-guide.md, "How does RNN work?").

These are the readable reference for PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU``: the
parameters have the same names and layouts (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``; gates stacked in PyTorch's order), so a state dict copies across and the
tests check both give the same outputs and gradients. ``--impl explicit`` trains with them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh"):
    """Vanilla RNN: ``h_t = tanh(W_x x_t + W_h h_{t-1} + b)`` (the guide's formula, plus bias)."""
    pre = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)  # W_x x + b + W_h h + b
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    """LSTM: input, forget, candidate and output gates; ``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``."""
    h, c = state
    i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)  # W x + b + W h + b
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # forget part of the old memory, write the gated candidate
    h = o * torch.tanh(c)  # expose the gated memory
    return h, c


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """GRU: reset gate ``r``, update gate ``z``; ``h_t = (1-z)*n + z*h_{t-1}``."""
    xr, xz, xn = F.linear(x, w_ih, b_ih).chunk(3, dim=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)  # the reset gate decides how much past enters the candidate
    return (1 - z) * n + z * h


class ExplicitRecurrent(nn.Module):
    """A stack of explicit cells unrolled over time; drop-in for ``nn.RNN/LSTM/GRU(batch_first=True)``.

    ``forward(x (B, T, I), state)`` returns ``(outputs (B, T, H), state)`` where state is
    ``(layers, B, H)``, or a pair of those for the LSTM.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, nonlinearity: str = "tanh"):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.dropout, self.nonlinearity = dropout, nonlinearity
        g = GATES[cell] * hidden_size
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's init for recurrent layers
        for k in range(num_layers):
            fan_in = input_size if k == 0 else hidden_size
            for name, shape in ((f"weight_ih_l{k}", (g, fan_in)), (f"weight_hh_l{k}", (g, hidden_size)),
                                (f"bias_ih_l{k}", (g,)), (f"bias_hh_l{k}", (g,))):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor, state: State | None = None):
        return unroll(self.cell, layer_weights(self, self.num_layers), x, state, self.hidden_size,
                      self.dropout, self.training, self.nonlinearity)


def layer_weights(module: nn.Module, num_layers: int) -> list[list[torch.Tensor]]:
    """``[w_ih, w_hh, b_ih, b_hh]`` of each layer, from PyTorch's parameter names (fused or explicit)."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return [[getattr(module, f"{n}_l{k}") for n in names] for k in range(num_layers)]


def unroll(cell: str, weights: list[list[torch.Tensor]], x: torch.Tensor, state: State | None, hidden_size: int,
           dropout: float = 0.0, training: bool = False, nonlinearity: str = "tanh"):
    """Run the stacked cells over ``x (B, T, I)``; returns ``(outputs (B, T, H), state)``."""
    B, T, _ = x.shape
    num_layers = len(weights)
    if state is None:
        zeros = x.new_zeros(num_layers, B, hidden_size)
        state = (zeros, zeros.clone()) if cell == "lstm" else zeros
    finals_h, finals_c = [], []
    for k, w in enumerate(weights):
        if cell == "lstm":
            h, c = state[0][k], state[1][k]
        else:
            h = state[k]
        outs = []
        for t in range(T):  # backpropagation through time unrolls exactly this loop
            if cell == "lstm":
                h, c = lstm_cell(x[:, t], (h, c), *w)
            elif cell == "gru":
                h = gru_cell(x[:, t], h, *w)
            else:
                h = rnn_cell(x[:, t], h, *w, nonlinearity=nonlinearity)
            outs.append(h)
        finals_h.append(h)
        if cell == "lstm":
            finals_c.append(c)
        x = outs[0].unsqueeze(1) if T == 1 else torch.stack(outs, dim=1)
        if k < num_layers - 1 and dropout > 0:
            x = nn.functional.dropout(x, dropout, training)
    h_n = torch.stack(finals_h)
    return x, ((h_n, torch.stack(finals_c)) if cell == "lstm" else h_n)
