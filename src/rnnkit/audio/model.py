"""The CRNN: convolutions find local time-frequency patterns, a recurrent layer models their order.

The seeds' CRNN (``rnn-guide.md``, "Types of RNN"): convolutions turn a high-dimensional
signal (a spectrogram) into a short sequence of low-dimensional features, and a recurrent
layer reads that sequence. Shapes::

    feats    (B, T, F)  normalized log-mel frames, zero beyond each clip's length
    lengths  (B,)       valid frames per clip
    conv     (B, C, T', F')  after the blocks (time pooled by 2 in the first ``time_pools`` blocks,
                        frequency by 2 in every block)
    rnn      (B, T', D*H)    packed, so padding never reaches a clip's states
    pooled   (B, D*H)   attention (a learned, masked softmax over time) or masked mean
    logits   (B, classes)    (K, B, classes) with ``members=True``: each member's logits

``--members K`` (``nn/ensemble.Ensemble``) trains K independently initialized CRNNs side by side on the
same batches, each on its own loss, and classifies with the mean of their probabilities.

Every block re-applies the clip's time mask after its activation: a clip classified alone and
the same clip inside a padded batch see exactly the same numbers (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.config import check_choices, option, require
from ..nn.ensemble import Ensemble
from ..nn.recurrent import RecurrentStack


@dataclass
class CRNNConfig:
    conv_blocks: int = option(3, "convolution blocks (3x3 convolution, batch norm, ReLU, max pooling)")
    channels: int = option(16, "channels of the first block; each further block doubles them")
    time_pools: int = option(2, "blocks that also halve the time axis (the rest halve only frequency)")
    cell: str = option("gru", "recurrent cell: rnn, lstm or gru", ("rnn", "lstm", "gru"))
    hidden_size: int = option(64, "units per direction of the recurrent layer")
    layers: int = option(1, "recurrent layers")
    bidirectional: bool = option(True, "read the sequence in both directions")
    pooling: str = option("attention", "how the recurrent outputs become one vector: attention or mean (masked)",
                          ("attention", "mean"))
    dropout: float = option(0.2, "dropout before the classifier (and between recurrent layers)")
    members: int = option(1, "an ensemble: this many CRNNs, each initialized on its own, trained side by side on "
                          "the same batches; classification averages their probabilities (K times the compute)")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("conv_blocks", "channels", "hidden_size", "layers", "members"):
            require(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        require(0 <= self.time_pools <= self.conv_blocks, "time_pools",
                f"must be between 0 and --conv-blocks ({self.conv_blocks}), got {self.time_pools}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


def time_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """``(B, T)`` bool: True on a clip's valid frames."""
    return torch.arange(T, device=lengths.device)[None] < lengths[:, None]


def build(cfg: CRNNConfig, n_features: int, n_classes: int) -> "CRNN | Ensemble":
    """The model ``cfg`` describes: one CRNN, or an :class:`Ensemble` of ``cfg.members``."""
    if cfg.members == 1:
        return CRNN(cfg, n_features, n_classes)
    return Ensemble((CRNN(cfg, n_features, n_classes) for _ in range(cfg.members)), cfg, n_classes)


class CRNN(nn.Module):
    def __init__(self, cfg: CRNNConfig, n_features: int, n_classes: int):
        super().__init__()
        self.cfg, self.n_classes = cfg, n_classes
        blocks, c_in, f = [], 1, n_features
        for i in range(cfg.conv_blocks):
            c_out = cfg.channels * 2 ** i
            pool = (2 if i < cfg.time_pools else 1, 2 if f >= 2 else 1)
            blocks.append(nn.ModuleDict({"conv": nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                                         "norm": nn.BatchNorm2d(c_out), "pool": nn.MaxPool2d(pool)}))
            c_in, f = c_out, f // pool[1]
        # Channels-last convolution weights make the blocks' activations channels-last too (the conv picks the
        # layout from its weight): oneDNN's native layout, where pooling, batch norm and ReLU run vectorized
        # over channels; on 2 CPU cores classification ran 1.45x as fast (fp32), training 1.18x.
        self.blocks = nn.ModuleList(blocks).to(memory_format=torch.channels_last)
        self.rnn = RecurrentStack(cfg.cell, c_in * f, cfg.hidden_size, cfg.layers,
                                  cfg.dropout if cfg.layers > 1 else 0.0, cfg.bidirectional)
        width = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.score = nn.Linear(width, 1) if cfg.pooling == "attention" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(width, n_classes)

    def frames_after(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid frames after the time pooling."""
        for i in range(self.cfg.time_pools):
            lengths = lengths // 2
        return lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, members: bool = False) -> torch.Tensor:
        """``feats (B, T, F)``, ``lengths (B,)`` -> logits ``(B, classes)``; ``(1, B, classes)``
        with ``members=True`` (the call of :class:`Ensemble`)."""
        if members:
            return self(feats, lengths)[None]
        seq, lengths = self.convolve(feats, lengths)
        out, _ = self.rnn(seq, lengths)  # (B, T', D*H)
        return self.classify(out, lengths)

    def convolve(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The blocks: ``feats (B, T, F)`` -> the recurrent layer's input ``(B, T', C*F')`` and its lengths
        ``(B,)`` (at least 1)."""
        x = feats.unsqueeze(1)  # (B, 1, T, F)
        for i, b in enumerate(self.blocks):
            x = torch.relu(b["norm"](b["conv"](x)))
            x = b["pool"](x)
            if i < self.cfg.time_pools:
                lengths = lengths // 2
            x = x * time_mask(lengths, x.size(2))[:, None, :, None]
        B, C, T, F = x.shape
        return x.permute(0, 2, 1, 3).reshape(B, T, C * F), lengths.clamp(min=1)

    def classify(self, out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The recurrent outputs ``(B, T', D*H)`` pooled over each clip's valid steps -> logits ``(B, classes)``."""
        mask = time_mask(lengths, out.size(1))
        if self.score is not None:
            w = self.score(out).squeeze(-1).masked_fill(~mask, float("-inf")).softmax(dim=1)  # (B, T)
            pooled = (w.unsqueeze(-1) * out).sum(1)
        else:
            pooled = (out * mask.unsqueeze(-1)).sum(1) / lengths.unsqueeze(-1).to(out.dtype)
        return self.out(self.drop(pooled))
