"""Recurrent language model: embedding (or one-hot) -> RNN/LSTM/GRU stack -> softmax layer.

The recurrent stack is the guide's context vector ``h_t = f(h_{t-1}, x_t)``; the output layer
is the second function ``g`` that turns ``h_t`` into a distribution over the next token.
Every model of rnnkit that predicts tokens has the same call::

    logits, state = model(tokens, state)     # tokens (B, T) int64 -> logits (B, T, V)

with ``state=None`` meaning "start of text". Sampling and evaluation are written against that
call only (see ``sampling.py`` and ``evaluation.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..nn import quantized, recurrent
from ..nn.cells import ExplicitRecurrent, State
from ..core.config import check_choices, option, require

FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class RNNConfig:
    cell: str = option("lstm", "recurrent cell: rnn (vanilla), lstm or gru", ("rnn", "lstm", "gru"))
    nonlinearity: str = option("tanh", "activation of the vanilla rnn cell", ("tanh", "relu"))
    layers: int = option(2, "number of stacked recurrent layers")
    hidden_size: int = option(512, "hidden units per layer (size of the context vector h)")
    embedding_size: int = option(64, "size of the learned token embedding")
    one_hot: bool = option(False, "feed one-hot vectors instead of a learned embedding (the seed's input)")
    dropout: float = option(0.3, "dropout on the embedding, between layers and before the output layer")
    locked_dropout: bool = option(False, "use one dropout mask per sequence for all time steps (variational "
                                  "dropout, Gal & Ghahramani 2016) instead of a new mask at every step")
    weight_drop: float = option(0.0, "DropConnect on the hidden-to-hidden weights, a strong regularizer for "
                                "small corpora (Merity et al. 2017, AWD-LSTM)")
    tie_weights: bool = option(False, "share the embedding and output weights (needs embedding size = hidden size)")
    impl: str = option("fused", "fused (PyTorch's kernels) or explicit (cells.py, written from the equations)",
                       ("fused", "explicit"))

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.layers >= 1, "layers", f"must be at least 1, got {self.layers}")
        require(self.hidden_size >= 1, "hidden_size", f"must be at least 1, got {self.hidden_size}")
        require(self.one_hot or self.embedding_size >= 1, "embedding_size", f"must be at least 1, got {self.embedding_size}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(0 <= self.weight_drop < 1, "weight_drop", f"must be in [0, 1), got {self.weight_drop}")
        if self.tie_weights:
            require(not self.one_hot, "tie_weights", "cannot be used with --one-hot (there is no embedding to tie)")
            require(self.embedding_size == self.hidden_size, "tie_weights",
                    f"needs --embedding-size equal to --hidden-size (got {self.embedding_size} and {self.hidden_size})")


class RNNLanguageModel(nn.Module):
    """``forward(tokens (B, T), state) -> (logits (B, T, V), state)``; state ``(layers, B, H)``
    (a pair of them for the LSTM)."""

    def __init__(self, cfg: RNNConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        input_size = vocab_size if cfg.one_hot else cfg.embedding_size
        self.embed = None if cfg.one_hot else nn.Embedding(vocab_size, cfg.embedding_size)
        inner_dropout = cfg.dropout if cfg.layers > 1 else 0.0
        if cfg.impl == "explicit":
            self.rnn = ExplicitRecurrent(cfg.cell, input_size, cfg.hidden_size, cfg.layers, inner_dropout, cfg.nonlinearity)
        else:
            extra = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
            self.rnn = FUSED[cfg.cell](input_size, cfg.hidden_size, cfg.layers, batch_first=True,
                                       dropout=inner_dropout, **extra)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, vocab_size)
        if cfg.tie_weights:
            self.head.weight = self.embed.weight  # Press & Wolf 2017, "Using the output embedding"
        self.stepwise = cfg.cell == "lstm"  # one-token calls step the LSTM's cells (see forward)

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        assert tokens.dim() == 2, f"tokens must be (B, T), got {tuple(tokens.shape)}"
        if self.stepwise and tokens.size(1) == 1 and not self.training and tokens.device.type == "cpu":
            # Generation: oneDNN's fused LSTM costs ~3 ms per one-step call on a CPU, PyTorch's
            # single-step cell op ~0.3 ms (same weights, same numbers). This path is called once
            # per generated token, so it skips everything the step does not need.
            return self.one_step(tokens, state)
        blanks = self.training and bool((tokens < 0).any())  # data noising's blanks (noising.py)
        ids = tokens.clamp(min=0) if blanks else tokens
        if self.embed is None:
            x = nn.functional.one_hot(ids, self.vocab_size).to(self.head.weight.dtype)  # (B, T, V)
        else:
            x = self._dropout(F.embedding(ids, self.embed.weight))  # (B, T, E)
        if blanks:  # a blank's input vector is zeros
            x = x * (tokens >= 0).unsqueeze(-1).to(x.dtype)
        if self.training and self.cfg.weight_drop > 0:
            # One dropout mask on W_hh per batch, shared by all time steps (DropConnect).
            params = {n: F.dropout(p, self.cfg.weight_drop) if n.startswith("weight_hh") else p
                      for n, p in self.rnn.named_parameters()}
            out, state = torch.func.functional_call(self.rnn, params, (x, state))
        else:
            out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(self._dropout(out)), state  # (B, T, V)

    def one_step(self, tokens: torch.Tensor, state: State | None,
                 stack: quantized.Int8Stack | None = None) -> tuple[torch.Tensor, State]:
        """``tokens (B, 1)`` -> ``(logits (B, 1, V), state)`` through the stack's cells, one step:
        the fp32 LSTM cell op, or ``stack``'s int8 cells (:class:`Int8Steps`)."""
        ids = tokens[:, 0]
        x = (F.embedding(ids, self.embed.weight) if self.embed is not None
             else F.one_hot(ids, self.vocab_size).to(self.head.weight.dtype))  # (B, E)
        out, state = recurrent.step(self.rnn, "lstm", x, state) if stack is None else stack.step(x, state)
        return F.linear(out, self.head.weight, self.head.bias)[:, None], state  # (B, 1, V)

    def int8_steps(self, min_weights: int | None = None) -> nn.Module:
        """This model for generation with int8 recurrent weights (:class:`Int8Steps`), or itself
        where this PyTorch build has no quantized engine, the model is not on the CPU, or its
        stack is too small to gain (``min_weights``, see :data:`rnnkit.nn.quantized.MIN_WEIGHTS`)."""
        on_cpu = self.head.weight.device.type == "cpu"
        stack = quantized.int8_stack(self.rnn, self.cfg.cell, min_weights) if on_cpu else None
        return self if stack is None else Int8Steps(self, stack)

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.cfg.dropout > 0):
            return x
        if not self.cfg.locked_dropout:
            return self.drop(x)
        keep = 1 - self.cfg.dropout
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(keep) / keep  # (B, 1, D): same for every t
        return x * mask


class Int8Steps(nn.Module):
    """A trained language model whose one-token calls step int8 recurrent weights (generation).

    ``forward`` has the model's call. One-token calls (every generated token) run the stack
    through :class:`rnnkit.nn.quantized.Int8Stack`, about 2-3x faster per token on a CPU than
    fp32; the output layer and every longer call (reading the prime) stay the model's own, in
    fp32. The weights are packed once, when the view is made: make a new view after training on.
    """

    def __init__(self, model: RNNLanguageModel, stack: quantized.Int8Stack):
        super().__init__()
        self.model, self.vocab_size, self.stack = model, model.vocab_size, stack

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if tokens.size(1) != 1 or tokens.device.type != "cpu":
            return self.model(tokens, state)
        return self.model.one_step(tokens, state, self.stack)


def detach_state(state: State | None) -> State | None:
    """Cut the graph between truncated-BPTT chunks while keeping the values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(detach_state(s) for s in state)
    # Under bf16 autocast the LSTM hands back bf16 states; carry them in full precision.
    return state.detach().float() if state.dtype == torch.bfloat16 else state.detach()
