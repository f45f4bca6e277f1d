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


def cell_weights(rnn: nn.Module) -> list[list[torch.Tensor]]:
    """``[w_ih, w_hh, b_ih, b_hh]`` of each layer of a unidirectional stack.

    A fused PyTorch layer keeps its parameters, in that order, in ``_flat_weights`` (kept current
    by ``.to()`` and ``load_state_dict``): one attribute read instead of four ``getattr`` per
    layer, which matters when generation calls this once per token.
    """
    flat = getattr(rnn, "_flat_weights", None)
    if flat is not None and len(flat) == 4 * rnn.num_layers:
        return [flat[4 * k:4 * k + 4] for k in range(rnn.num_layers)]
    return layer_weights(rnn, rnn.num_layers)


def step(rnn: nn.Module, cell: str, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
    """One time step of a unidirectional stack: ``x (B, I)`` -> ``(output (B, H), state)``.

    The same weights and the same numbers as ``rnn(x[:, None], state)`` (tested), without
    dropout, so only for evaluation and generation. ``state`` None starts from zeros. On a CPU
    PyTorch's single-step cell ops cost a tenth of a one-step call of the fused layer.
    """
    op = CELL_OPS[cell]
    weights = cell_weights(rnn)
    if state is None:
        zeros = x.new_zeros(len(weights), x.size(0), rnn.hidden_size)
        state = (zeros, zeros) if cell == "lstm" else zeros
    hs, cs = [], []
    if cell == "lstm":
        for w, h, c in zip(weights, state[0], state[1]):
            x, c = op(x, (h, c), *w)
            hs.append(x)
            cs.append(c)
        return x, (torch.stack(hs), torch.stack(cs))
    for w, h in zip(weights, state):
        x = op(x, h, *w)
        hs.append(x)
    return x, torch.stack(hs)


def reorder(state: State, index: torch.Tensor) -> State:
    """Select batch rows ``index`` of a state ``(layers, B, H)`` (or a pair), e.g. for beam search."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` steps of ``x (B, S, ...)``; padding stays at the end.

    Its own inverse. Plain gather and comparison ops, so a graph that uses it exports to ONNX.
    """
    steps = torch.arange(x.size(1), device=x.device)[None]  # (1, S)
    last = lengths.to(x.device)[:, None] - 1  # (B, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (B, S)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class PaddedStack(nn.Module):
    """A (bi)directional stack over padded batches without packing (which ONNX cannot export).

    Shapes as ``RecurrentStack``'s (outputs ``(B, S, D*H)``; no state returned). The forward
    direction reads each row from its start, so the padding after it cannot change its valid
    outputs; the backward direction reads each row reversed within its length
    (``reverse_padded``), so it too starts at the row's last true step. Outputs at padded
    positions are meaningless: mask them.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = True):
        super().__init__()
        self.hidden_size, self.layers, self.directions = hidden_size, layers, 2 if bidirectional else 1
        sizes = [input_size] + [self.directions * hidden_size] * (layers - 1)
        self.forward_layers = nn.ModuleList(fused(cell, n, hidden_size, 1) for n in sizes)
        self.backward_layers = nn.ModuleList(fused(cell, n, hidden_size, 1) for n in sizes) if bidirectional else None
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for k, fwd in enumerate(self.forward_layers):
            if k:
                x = self.drop(x)
            if self.backward_layers is None:
                x = fwd(x)[0]
                continue
            back = reverse_padded(self.backward_layers[k](reverse_padded(x, lengths))[0], lengths)
            x = torch.cat([fwd(x)[0], back], dim=-1)
        return x
