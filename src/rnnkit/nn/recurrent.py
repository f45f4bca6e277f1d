"""Recurrent stacks for every task: uni- or bidirectional, over padded batches, and one step at a time.

``RecurrentStack`` wraps PyTorch's fused ``nn.RNN/LSTM/GRU`` (``batch_first=True``) and packs
padded batches, so a sequence's outputs and final state never depend on the padding that
follows it (a backward direction would otherwise read the pads first)::

    x        (B, S, I)   padded inputs
    lengths  (B,)        true lengths, 1 <= lengths <= S
    outputs  (B, S, D*H) D = 2 when bidirectional; zeros at padded positions
    state    (layers*D, B, H), a pair (h, c) of those for the LSTM

``step`` advances a unidirectional stack by one time step with PyTorch's single-step cell ops,
which on a CPU cost a fraction of a one-step call of the fused layer (used by decoders).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .cells import State, layer_weights

FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELL_OPS = {"rnn": torch.rnn_tanh_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}


def fused(cell: str, input_size: int, hidden_size: int, layers: int, dropout: float = 0.0,
          bidirectional: bool = False) -> nn.Module:
    """PyTorch's fused layer for ``cell`` (``batch_first=True``; dropout between layers only)."""
    return FUSED[cell](input_size, hidden_size, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
                       bidirectional=bidirectional)


class RecurrentStack(nn.Module):
    """A fused recurrent stack over padded, packed batches (see the module docstring for shapes)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = False):
        super().__init__()
        self.cell, self.hidden_size, self.layers = cell, hidden_size, layers
        self.directions = 2 if bidirectional else 1
        self.rnn = fused(cell, input_size, hidden_size, layers, dropout, bidirectional)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, state: State | None = None):
        B, S, _ = x.shape
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, D*H)
        return out, state

    def last_layer_final(self, state: State) -> torch.Tensor:
        """The top layer's final hidden state of every direction, concatenated: ``(B, D*H)``."""
        h = state[0] if isinstance(state, tuple) else state  # (layers*D, B, H)
        top = h.view(self.layers, self.directions, h.size(1), self.hidden_size)[-1]  # (D, B, H)
        return torch.cat(list(top), dim=-1)


def step(rnn: nn.Module, cell: str, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    """One time step of a unidirectional fused stack: ``x (B, I)`` -> ``(output (B, H), state)``.

    The same weights and the same numbers as ``rnn(x[:, None], state)`` (tested), without
    dropout, so only for evaluation.
    """
    op = CELL_OPS[cell]
    hs, cs = [], []
    for k, w in enumerate(layer_weights(rnn, rnn.num_layers)):
        if cell == "lstm":
            h, c = op(x, (state[0][k], state[1][k]), *w)
            cs.append(c)
        else:
            h = op(x, state[k], *w)
        hs.append(h)
        x = h
    return x, ((torch.stack(hs), torch.stack(cs)) if cell == "lstm" else torch.stack(hs))


def reorder(state: State, index: torch.Tensor) -> State:
    """Select batch rows ``index`` of a state ``(layers, B, H)`` (or a pair), e.g. for beam search."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)
