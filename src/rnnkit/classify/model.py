"""The sequence classifier: a front end, a (bi)directional recurrent stack, pooling, a linear head.

::

    text     ids (B, S) int64  -> embedding (B, S, E)      (``<pad>`` = 0 has a zero vector)
    numeric  frames (B, S, C)  -> linear or 1-D convolution (B, S, E)
    lengths  (B,)  true lengths, 1 <= lengths <= S
    stack    (B, S, D*H) outputs, D = 2 when bidirectional (``nn/recurrent.py``, packed: padding is never read)
    pooling  (B, D*H): the last state of each direction, the mean or the max over valid steps, or
             attention (a learned query scoring each step)
    head     logits (B, classes)
    ensemble (``--members K``, ``nn/ensemble.Ensemble``) logits (K, B, classes) with ``members=True``, one per
             member; otherwise log(mean_k softmax(logits_k)) (B, classes): their softmax is the members' mean

``pooling=last`` of a bidirectional stack is the forward direction's state after the last true
step and the backward direction's after the first: both have read the whole sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.config import check_choices, option, require
from ..nn.ensemble import Ensemble
from ..nn.recurrent import RecurrentStack


@dataclass
class ClassifierConfig:
    cell: str = option("lstm", "recurrent cell: rnn, lstm or gru", ("rnn", "lstm", "gru"))
    hidden_size: int = option(128, "hidden units per direction")
    layers: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(True, "read each sequence in both directions (the whole sequence is known)")
    embedding_size: int = option(128, "text: embedding size; numeric: size of the front end's output")
    front: str = option("linear", "numeric front end: linear (per step) or conv (a 1-D convolution over 3 steps)",
                        ("linear", "conv"))
    pooling: str = option("max", "summary of the outputs: last (final states), mean, max or attention",
                          ("last", "mean", "max", "attention"))
    dropout: float = option(0.3, "dropout on the embeddings/front end, between layers and before the head")
    encoder_from: str = option("", "text: start the embedding and the recurrent layers (forward direction) from "
                                   "this trained rnnkit language model run (same cell and sizes)")
    members: int = option(3, "an ensemble: this many classifiers, each initialized on its own, trained side by side "
                             "on the same batches, each on its own loss; predictions average their probabilities "
                             "(K times the compute; 1: a single classifier)")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("hidden_size", "layers", "embedding_size", "members"):
            require(getattr(self, name) >= 1, name, f"must be 1 or more, got {getattr(self, name)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


class SequenceClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig, classes: int, vocab_size: int = 0, channels: int = 0):
        super().__init__()
        self.cfg, self.n_classes, self.text = cfg, classes, vocab_size > 0
        E = cfg.embedding_size
        if self.text:
            self.front = nn.Embedding(vocab_size, E, padding_idx=0)
        elif cfg.front == "conv":
            self.front = nn.Conv1d(channels, E, kernel_size=3, padding=1)
        else:
            self.front = nn.Linear(channels, E)
        self.drop = nn.Dropout(cfg.dropout)
        self.stack = RecurrentStack(cfg.cell, E, cfg.hidden_size, cfg.layers, cfg.dropout, cfg.bidirectional)
        width = cfg.hidden_size * self.stack.directions
        self.query = nn.Linear(width, 1) if cfg.pooling == "attention" else None
        self.head = nn.Linear(width, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S)`` ids or ``(B, S, C)`` frames -> ``(B, S, E)``."""
        if self.text or self.cfg.front == "linear":
            return self.front(x)
        return torch.relu(self.front(x.transpose(1, 2))).transpose(1, 2)

    def pool(self, out: torch.Tensor, state, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, S, W)`` outputs -> ``(B, W)``."""
        if self.cfg.pooling == "last":
            return self.stack.last_layer_final(state)
        valid = (torch.arange(out.size(1), device=out.device)[None] < lengths.to(out.device)[:, None]).unsqueeze(-1)
        if self.cfg.pooling == "mean":
            return (out * valid).sum(1) / lengths.to(out.device).view(-1, 1).to(out.dtype)
        if self.cfg.pooling == "max":
            return out.masked_fill(~valid, float("-inf")).amax(1)
        scores = self.query(out).masked_fill(~valid, float("-inf")).softmax(1)  # (B, S, 1)
        return (scores * out).sum(1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, members: bool = False) -> torch.Tensor:
        """Logits ``(B, classes)``; ``(1, B, classes)`` with ``members=True`` (as :class:`Ensemble`)."""
        if members:
            return self(x, lengths)[None]
        S = int(lengths.max())
        x = self.drop(self.embed(x[:, :S]))
        out, state = self.stack(x, lengths)
        return self.head(self.drop(self.pool(out, state, lengths)))


def build(cfg: ClassifierConfig, classes: int, vocab_size: int = 0,
          channels: int = 0) -> SequenceClassifier | Ensemble:
    """The model ``cfg`` describes: one classifier, or an :class:`Ensemble` of ``cfg.members``."""
    if cfg.members == 1:
        return SequenceClassifier(cfg, classes, vocab_size, channels)
    return Ensemble((SequenceClassifier(cfg, classes, vocab_size, channels) for _ in range(cfg.members)), cfg, classes)
