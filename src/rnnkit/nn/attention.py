"""Attention over a padded sequence of encoder states (the memory), padding masked out.

Two scores, both from the literature the decoders cite:

* ``bahdanau`` (additive, Bahdanau et al. 2015): ``score(q, m) = v^T tanh(W_q q + W_m m)``;
* ``luong`` ("general", Luong et al. 2015): ``score(q, m) = q^T W m``.

The memory's projection does not depend on the query, so it is computed once per sentence
(:meth:`Attention.keys`) and reused at every decoder step. Shapes::

    memory  (B, S, M)    encoder outputs        mask  (B, S)  True at real positions
    query   (B, T, Q)    T decoder steps at once (T = 1 when decoding step by step)
    context (B, T, M)    weights (B, T, S), each row sums to 1 over the real positions
"""

from __future__ import annotations

import torch
from torch import nn

KINDS = ("bahdanau", "luong")


class Attention(nn.Module):
    def __init__(self, kind: str, query_size: int, memory_size: int, attention_size: int | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown attention {kind!r}")
        self.kind = kind
        if kind == "bahdanau":
            size = attention_size or query_size
            self.key = nn.Linear(memory_size, size, bias=False)
            self.query = nn.Linear(query_size, size, bias=False)
            self.v = nn.Linear(size, 1, bias=False)
        else:
            self.key = nn.Linear(memory_size, query_size, bias=False)  # W m, compared with q by a dot product

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """The memory projected once per sentence: ``(B, S, A)``."""
        return self.key(memory)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
        if self.kind == "bahdanau":
            q = self.query(query)  # (B, T, A)
            scores = self.v(torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)  # (B, T, S)
        else:
            scores = torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))  # padding gets exactly zero weight
        weights = torch.softmax(scores.float(), dim=-1).to(memory.dtype)
        return torch.bmm(weights, memory), weights  # (B, T, M), (B, T, S)
