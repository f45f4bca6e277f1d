"""The tagger: word embeddings and a character encoder per word, a bidirectional stack, a softmax or CRF.

::

    words         (B, S) int64 word ids (0 = padding)           -> embedding (B, S, W)
    chars         (U, L) int64 character ids of the batch's distinct tokens, char_lengths (U,)
                  -> character encoder (U, C): a BiLSTM's last states (forward after the last
                  character, backward after the first) or a CNN max-pooled over the word
    token_index   (B, S) each token's row of ``chars``           -> (B, S, C)
    [word; chars] (B, S, W + C) -> dropout -> (bi)directional stack (B, S, D*H), D = 2 -> dropout
    emissions     (B, S, T) tag scores; decoder softmax (each token alone) or crf (``crf.py``)

Batches are padded and masked, never packed (``nn/recurrent.PaddedStack``), so the model
exports to ONNX as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.config import check_choices, option, require
from ..nn.recurrent import PaddedStack
from .crf import CRF


@dataclass
class TaggerConfig:
    cell: str = option("lstm", "recurrent cell of the word stack and of a recurrent character encoder: rnn, lstm or gru",
                       ("rnn", "lstm", "gru"))
    hidden_size: int = option(128, "hidden units per direction of the word stack")
    layers: int = option(2, "stacked recurrent layers over the words")
    bidirectional: bool = option(True, "read each sentence in both directions (a tag may depend on the words after it)")
    word_size: int = option(100, "word embedding size (0 = no word embeddings: characters alone)")
    char_encoder: str = option("lstm", "how a word's characters are read: lstm (a BiLSTM), cnn (convolution and max "
                                       "pooling) or none", ("lstm", "cnn", "none"))
    char_size: int = option(50, "character embedding size")
    char_hidden: int = option(50, "character encoder: hidden units per direction (lstm) or half the filters (cnn)")
    decoder: str = option("crf", "softmax (each token's tag alone) or crf (the best tag sequence; for BIO/IOBES "
                                 "tags invalid sequences are impossible)", ("softmax", "crf"))
    dropout: float = option(0.33, "dropout on the word representations, between layers and before the tag scores")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("hidden_size", "layers", "char_size", "char_hidden"):
            require(getattr(self, name) >= 1, name, f"must be 1 or more, got {getattr(self, name)}")
        require(self.word_size >= 0, "word_size", f"must be 0 or more, got {self.word_size}")
        require(self.word_size > 0 or self.char_encoder != "none", "char_encoder",
                "none needs word embeddings (--word-size above 0): the tagger would read nothing")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


class CharEncoder(nn.Module):
    """``chars (U, L)``, ``lengths (U,)`` -> ``(U, 2 * hidden)``."""

    def __init__(self, kind: str, cell: str, chars: int, size: int, hidden: int):
        super().__init__()
        self.kind = kind
        self.embed = nn.Embedding(chars, size, padding_idx=0)
        if kind == "lstm":
            self.rnn = PaddedStack(cell, size, hidden)
        else:
            self.conv = nn.Conv1d(size, 2 * hidden, kernel_size=3, padding=1)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embed(chars)  # (U, L, size)
        if self.kind == "lstm":
            out = self.rnn(x, lengths)  # (U, L, 2h)
            h = out.size(2) // 2
            last = out.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, h)).squeeze(1)  # forward, after the last
            return torch.cat([last, out[:, 0, h:]], dim=1)  # backward, after the first
        valid = torch.arange(chars.size(1), device=chars.device)[None] < lengths[:, None]  # (U, L)
        y = self.conv(x.transpose(1, 2)).transpose(1, 2)  # (U, L, 2h)
        return y.masked_fill(~valid.unsqueeze(2), float("-inf")).amax(1)


class Tagger(nn.Module):
    def __init__(self, cfg: TaggerConfig, words: int, chars: int, tags: int,
                 allowed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
        super().__init__()
        self.cfg, self.n_tags = cfg, tags
        self.embed = nn.Embedding(words, cfg.word_size, padding_idx=0) if cfg.word_size else None
        self.chars = (CharEncoder(cfg.char_encoder, cfg.cell, chars, cfg.char_size, cfg.char_hidden)
                      if cfg.char_encoder != "none" else None)
        width = cfg.word_size + (2 * cfg.char_hidden if self.chars is not None else 0)
        self.drop = nn.Dropout(cfg.dropout)
        self.stack = PaddedStack(cfg.cell, width, cfg.hidden_size, cfg.layers, cfg.dropout, cfg.bidirectional)
        self.out = nn.Linear(self.stack.directions * cfg.hidden_size, tags)
        self.crf = CRF(tags, allowed) if cfg.decoder == "crf" else None

    def emissions(self, words: torch.Tensor, chars: torch.Tensor, char_lengths: torch.Tensor,
                  token_index: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, S, T)`` tag scores of each token (shapes in the module docstring)."""
        parts = []
        if self.embed is not None:
            parts.append(self.embed(words))
        if self.chars is not None:
            parts.append(self.chars(chars, char_lengths)[token_index])  # (B, S, C)
        x = self.drop(torch.cat(parts, dim=2))
        return self.out(self.drop(self.stack(x, lengths)))

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        """``emissions``: the call data-parallel training goes through (DDP syncs gradients of its forward)."""
        return self.emissions(**inputs)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The summed loss of the batch's tokens: the CRF's negative log-likelihood, or cross-entropy."""
        if self.crf is not None:
            return self.crf.nll(emissions, tags, mask).sum()
        return F.cross_entropy(emissions.float()[mask], tags[mask], reduction="sum")

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, S)`` predicted tag ids (0 at padding)."""
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        return emissions.argmax(2) * mask
