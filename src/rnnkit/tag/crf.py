"""A linear-chain conditional random field over a tagger's emission scores.

The score of a tag sequence ``y`` of a sentence of ``n`` tokens is
``start[y0] + sum_t emissions[t, y_t] + sum_t transitions[y_{t-1}, y_t] + end[y_{n-1}]``; the
CRF's loss is ``log Z - score(gold)``, with ``log Z`` (every sequence's score, log-summed) from
the forward algorithm, and decoding is Viterbi. Transitions the tag scheme forbids (``scheme.py``)
get a fixed penalty of ``-10,000`` on top of the learned score, so no decoded sequence uses one
(a gold sequence never does: the scheme is checked on the training file).

Shapes: ``emissions (B, S, T)`` float, ``tags (B, S)`` int64, ``mask (B, S)`` bool, true on
each row's first ``lengths[b] >= 1`` positions; padded positions are ignored.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FORBIDDEN = -10_000.0


class CRF(nn.Module):
    def __init__(self, tags: int, allowed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(tags))
        self.transitions = nn.Parameter(torch.zeros(tags, tags))  # row: previous tag, column: next
        self.end = nn.Parameter(torch.zeros(tags))
        if allowed is None:
            allowed = (np.ones(tags, bool), np.ones((tags, tags), bool), np.ones(tags, bool))
        for name, ok in zip(("start_penalty", "transition_penalty", "end_penalty"), allowed):
            self.register_buffer(name, torch.where(torch.as_tensor(ok), 0.0, FORBIDDEN), persistent=False)

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.start + self.start_penalty, self.transitions + self.transition_penalty,
                self.end + self.end_penalty)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B,)``: the log-sum of the scores of every tag sequence of each row (forward algorithm)."""
        start, trans, end = self.scores()
        alpha = start + emissions[:, 0]  # (B, T)
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B,)``: the score of the given tag sequences."""
        start, trans, end = self.scores()
        m = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, S)
        s = start[tags[:, 0]] + (emitted * m).sum(1) + (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1, keepdim=True) - 1)).squeeze(1)
        return s + end[last]

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B,)``: each row's negative log-likelihood of its gold tags."""
        emissions = emissions.float()
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, S)``: each row's best tag sequence (Viterbi); 0 at padded positions."""
        start, trans, end = self.scores()
        emissions = emissions.float()
        B, S, T = emissions.shape
        score, pointers = start + emissions[:, 0], []
        keep = torch.arange(T, device=emissions.device).expand(B, T)  # padding: each tag points to itself
        for t in range(1, S):
            best, arg = (score.unsqueeze(2) + trans).max(dim=1)  # (B, T): best previous tag for each tag
            score = torch.where(mask[:, t, None], best + emissions[:, t], score)
            pointers.append(torch.where(mask[:, t, None], arg, keep))
        tag = (score + end).argmax(1)  # (B,) the last true position's tag (padding points back to it)
        path = [tag]
        for arg in reversed(pointers):
            tag = arg.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        return torch.stack(path[::-1], dim=1) * mask
