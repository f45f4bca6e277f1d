"""int8 recurrent weights for stepping a stack one token at a time on a CPU.

Generation advances a recurrent stack by one step per token, for one or a few rows, so a step
is a handful of matrix-vector products whose cost is reading the weights from memory: a
2-layer, 512-unit LSTM reads 12.6 MB of fp32 weights for every character it writes.
:class:`Int8Stack` keeps each layer's ``w_ih`` and ``w_hh`` as int8 with one scale per output
row (symmetric, per-channel) and steps with PyTorch's dynamically quantized cell ops
(``torch.ops.quantized.quantized_{lstm,gru,rnn_tanh,rnn_relu}_cell_dynamic``: fbgemm on x86,
qnnpack on ARM), which quantize each step's input and state on the fly, accumulate in int32
and apply the gates in fp32. A step reads a quarter of the bytes. Shapes as in
:func:`rnnkit.nn.recurrent.step`: ``x (B, I)``, state ``(layers, B, H)`` (a pair for the LSTM).

The numbers are close to the fp32 step's, not equal (each weight moves by at most half of its
row's step, ``max|w_row| / 254``), so this is for sampling, never for training or scoring.
PyTorch 2.13 marks its quantized tensors as deprecated; where a build lacks them,
:func:`int8_stack` returns None and callers step in fp32.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .cells import State
from .recurrent import cell_weights


MIN_WEIGHTS = 500_000
"""Recurrent weights below which :func:`int8_stack` declines: a smaller stack's step is bound by
the per-call work of quantizing its input rather than by reading its weights, and fp32 is as
fast or faster (one sample on 2 cores: 1x LSTM-256, 0.33M weights, int8 at 0.84x of fp32;
2x LSTM-256, 0.85M, 1.13x; 2x LSTM-512, 3.1M, 1.55x)."""


def available() -> bool:
    """Whether this PyTorch build has a quantized engine (fbgemm/x86 or qnnpack) for the int8 ops."""
    try:
        return torch.backends.quantized.engine != "none"
    except (AttributeError, RuntimeError):  # a build (or a later release) without quantization
        return False


def pack(w: torch.Tensor, b: torch.Tensor | None = None):
    """``w (out, in)`` fp32 (and its bias ``(out,)``, kept fp32) -> fbgemm/qnnpack packed int8
    weights, one scale per output row."""
    w = w.detach().float().cpu()
    b = None if b is None else b.detach().float().cpu()
    scale = (w.abs().amax(dim=1).clamp(min=1e-12) / 127).double()
    with warnings.catch_warnings():  # the deprecation notice of quantized tensors, once per matrix
        warnings.simplefilter("ignore", UserWarning)
        q = torch.quantize_per_channel(w, scale, torch.zeros(w.size(0), dtype=torch.long), 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(q, b)


def int8_stack(rnn: nn.Module, cell: str, min_weights: int | None = None) -> "Int8Stack | None":
    """:class:`Int8Stack` of ``rnn``, or None where this PyTorch build cannot run the int8 cell ops
    or the stack has fewer than ``min_weights`` (default :data:`MIN_WEIGHTS`) recurrent weights."""
    min_weights = MIN_WEIGHTS if min_weights is None else min_weights
    layers = cell_weights(rnn)
    if not available() or sum(w_ih.numel() + w_hh.numel() for w_ih, w_hh, *_ in layers) < min_weights:
        return None
    try:
        stack = Int8Stack(rnn, cell)
        stack.step(torch.zeros(1, layers[0][0].size(1)), None)  # an engine may refuse only when run
        return stack
    except (RuntimeError, AttributeError, NotImplementedError):
        return None


class Int8Stack:
    """A unidirectional fused stack's weights in int8; :meth:`step` advances it by one time step."""

    def __init__(self, rnn: nn.Module, cell: str):
        if cell == "rnn":
            cell = f"rnn_{getattr(rnn, 'nonlinearity', 'tanh')}"
        self.lstm = cell == "lstm"
        self.hidden_size = rnn.hidden_size
        self.op = getattr(torch.ops.quantized, f"quantized_{cell}_cell_dynamic")
        self.layers = []
        for w_ih, w_hh, b_ih, b_hh in cell_weights(rnn):
            # The cell ops take the biases from the packed weights (their bias arguments are unused).
            zeros = torch.zeros(w_ih.size(0))
            self.layers.append((pack(w_ih, b_ih), pack(w_hh, b_hh), zeros, zeros))

    def step(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """``x (B, I)`` fp32 -> ``(output (B, H), state)``; ``state`` None starts from zeros."""
        if state is None:
            zeros = x.new_zeros(len(self.layers), x.size(0), self.hidden_size)
            state = (zeros, zeros) if self.lstm else zeros
        hs, cs = [], []
        if self.lstm:
            for (w_ih, w_hh, b_ih, b_hh), h, c in zip(self.layers, state[0], state[1]):
                x, c = self.op(x, [h, c], w_ih, w_hh, b_ih, b_hh)
                hs.append(x)
                cs.append(c)
            return x, (torch.stack(hs), torch.stack(cs))
        for (w_ih, w_hh, b_ih, b_hh), h in zip(self.layers, state):
            x = self.op(x, h, w_ih, w_hh, b_ih, b_hh)
            hs.append(x)
        return x, torch.stack(hs)
