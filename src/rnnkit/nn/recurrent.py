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

from copy import deepcopy

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


def reversal(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """The time index ``(B, S)`` that reverses each row's first ``lengths[b]`` of ``steps`` steps."""
    positions = torch.arange(steps, device=lengths.device)[None]  # (1, S)
    last = lengths[:, None] - 1  # (B, 1)
    return torch.where(positions <= last, last - positions, positions)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` steps of ``x (B, S, ...)``; padding stays at the end.

    Its own inverse. Plain gather and comparison ops, so a graph that uses it exports to ONNX. ``index``:
    ``reversal(lengths, S)`` made once from a graph input; the ONNX exporter fixes the time axis of a
    recurrent layer's output to the traced length (pytorch#191855), so no shape is read from ``x`` but its
    feature sizes.
    """
    if index is None:
        index = reversal(lengths.to(x.device), x.size(1))
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand(*index.shape, *x.shape[2:]))


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
        index = reversal(lengths.to(x.device), x.size(1))  # from the input: see reverse_padded
        for k, fwd in enumerate(self.forward_layers):
            if k:
                x = self.drop(x)
            if self.backward_layers is None:
                x = fwd(x)[0]
                continue
            back = reverse_padded(self.backward_layers[k](reverse_padded(x, lengths, index))[0], lengths, index)
            x = torch.cat([fwd(x)[0], back], dim=-1)
        return x


def unpacked(stack: RecurrentStack) -> PaddedStack:
    """A ``PaddedStack`` with the weights of ``stack`` (a copy, in eval mode): the same outputs at the valid
    positions, computed without packing, so that an export of it runs on padded batches."""
    rnn = stack.rnn
    padded = PaddedStack(stack.cell, rnn.input_size, stack.hidden_size, stack.layers, 0.0, stack.directions == 2)
    params = dict(rnn.named_parameters())
    directions = [padded.forward_layers] + ([padded.backward_layers] if padded.backward_layers is not None else [])
    for suffix, layers in zip(("", "_reverse"), directions):
        for k, layer in enumerate(layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(layer, f"{name}_l0").data.copy_(params[f"{name}_l{k}{suffix}"].detach())
    return padded.to(next(rnn.parameters()).device).eval()


def padded_final(outputs: torch.Tensor, lengths: torch.Tensor, directions: int) -> torch.Tensor:
    """The top layer's final hidden state of every direction from a ``PaddedStack``'s ``outputs (B, S, D*H)``:
    ``(B, D*H)``, as ``RecurrentStack.last_layer_final`` gives it (forward: the last valid step; backward:
    the first step, where it ends)."""
    last = (lengths.to(outputs.device) - 1).view(-1, 1, 1).expand(-1, 1, outputs.size(-1))
    final = outputs.gather(1, last)[:, 0]  # (B, D*H)
    if directions == 1:
        return final
    half = outputs.size(-1) // 2
    return torch.cat([final[:, :half], outputs[:, 0, half:]], dim=-1)


PINNED = 1e4  # a gate pre-activation whose sigmoid is 0 or 1 in float32


def tanh_as_gru(rnn: nn.RNN) -> nn.GRU:
    """A one-layer tanh ``nn.RNN`` as an ``nn.GRU`` with the same numbers (to 1e-7): its reset gate pinned
    open and its update gate shut, so ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``. The ONNX exporter
    writes ``nn.GRU`` as a GRU node with a free time axis but unrolls ``nn.RNN`` over the traced length."""
    H = rnn.hidden_size
    gru = nn.GRU(rnn.input_size, H, 1, batch_first=rnn.batch_first).to(rnn.weight_ih_l0.device)
    with torch.no_grad():  # PyTorch's gate order: reset, update, new
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            target = getattr(gru, name)
            target.zero_()
            target[2 * H:] = getattr(rnn, name)
        gru.bias_ih_l0[:H] = PINNED
        gru.bias_ih_l0[H:2 * H] = -PINNED
    return gru.eval()


def exportable(stack: PaddedStack) -> PaddedStack:
    """``stack`` itself, or for a tanh RNN a copy whose layers are ``tanh_as_gru`` (see there)."""
    layers = list(stack.forward_layers) + list(stack.backward_layers or [])
    if not any(isinstance(layer, nn.RNN) and layer.mode == "RNN_TANH" for layer in layers):
        return stack
    copy = deepcopy(stack)
    for group in (copy.forward_layers, copy.backward_layers or []):
        for k, layer in enumerate(group):
            group[k] = tanh_as_gru(layer)
    return copy.eval()
