"""Decoding a batch of sentences: greedy, and beam search with a length penalty.

Both run many sentences side by side and drop a sentence's rows from the batch as soon as it
is finished, so one long sentence does not make the others pay for its steps. Every sentence
is decoded independently of the others in its batch (the encoder packs, attention masks
padding), so a sentence's translation does not depend on what it is batched with.

Beam search keeps, per sentence, the K best partial translations by total log-probability.
At each step it ranks the K x V extensions; an end-of-sentence among the top K finishes a
hypothesis, scored by ``log p / lp(length)`` with GNMT's length penalty
``lp(n) = ((5 + n) / 6) ** alpha`` (Wu et al. 2016; alpha 0 = raw log-probability). A
sentence is done when its best extension is the end of the sentence (as in OpenNMT and
JoeyNMT; stopping at K finished hypotheses instead lets a confident model's unlikely early
ends crowd out its best translation) and it has ``n_best`` finished hypotheses, or when it
reaches its length cap. With K = 1 this is
exactly greedy decoding (tested).
"""

from __future__ import annotations

import numpy as np
import torch

from .decoding import Hypothesis, beam_step, caps, greedy_hypotheses
from .model import Seq2Seq
from ..core.pieces import EOS


def length_caps(lengths: torch.Tensor, ratio: float, extra: int, cap: int) -> torch.Tensor:
    """Most target tokens per sentence: ``ratio * source length + extra``, at most ``cap``."""
    return torch.from_numpy(caps(lengths.cpu().numpy(), ratio, extra, cap))


@torch.no_grad()
def greedy(model: Seq2Seq, source: torch.Tensor, lengths: torch.Tensor, max_len: torch.Tensor,
           attention: bool = False) -> list[Hypothesis]:
    """The most probable token at every step. ``source (B, S)``, ``lengths (B,)``, ``max_len (B,)``."""
    B, S = source.shape
    memory, state = model.encode(source, lengths)
    previous = model.start_tokens(B, source.device)
    alive = torch.arange(B)
    caps = max_len.cpu()
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
    for t in range(int(caps.max())):
        logits, state, weights = model.decode_step(previous, state, memory)
        logp = torch.log_softmax(logits.float(), dim=-1)
        best, previous = logp.max(dim=-1)
        steps.append((alive.numpy(), previous.cpu().numpy(), best.cpu().numpy(),
                      None if weights is None or not attention else weights.float().cpu().numpy()))
        done = (previous.cpu() == EOS) | (t + 1 >= caps[alive])
        if bool(done.all()):
            break
        if bool(done.any()):
            keep = torch.nonzero(~done).squeeze(1)
            alive, previous = alive[keep], previous[keep.to(previous.device)]
            k = keep.to(source.device)
            memory, state = memory.select(k), model.reorder_state(state, k)
    return greedy_hypotheses(steps, lengths.cpu().numpy())


@torch.no_grad()
def beam_search(model: Seq2Seq, source: torch.Tensor, lengths: torch.Tensor, max_len: torch.Tensor, beam: int,
                alpha: float = 1.0, n_best: int = 1) -> list[list[Hypothesis]]:
    """The ``n_best`` best translations of each sentence, best first."""
    B, K = source.size(0), beam
    device = source.device
    memory, state = model.encode(source, lengths)
    rows = torch.arange(B, device=device).repeat_interleave(K)  # K rows per sentence
    memory, state = memory.select(rows), model.reorder_state(state, rows)
    previous = model.start_tokens(B * K, device)
    scores = torch.full((B, K), float("-inf"))
    scores[:, 0] = 0.0  # all K rows start identical: let only the first one extend at step 0
    history = torch.zeros(B * K, 0, dtype=torch.long)
    active = list(range(B))  # sentence of each block of K rows
    caps = max_len.cpu().tolist()
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    for t in range(max(caps)):
        logits, state, _ = model.decode_step(previous, state, memory)
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()  # (A*K, V)
        V = logp.size(1)
        total = (scores.view(-1, 1) + logp).view(len(active), K * V)
        top_scores, top_ids = total.topk(min(2 * K, K * V), dim=1)  # enough to refill K beams past K EOS
        still, next_rows, next_tokens, next_scores = beam_step(
            active, top_scores.tolist(), top_ids.tolist(), history, finished, K=K, V=V, t=t, limits=caps, alpha=alpha,
            n_best=n_best)
        if not still:
            break
        index = torch.tensor(next_rows)
        history = torch.cat([history[index], torch.tensor(next_tokens)[:, None]], dim=1)
        scores = torch.tensor(next_scores)
        active = still
        index = index.to(device)
        memory, state = memory.select(index), model.reorder_state(state, index)
        previous = torch.tensor(next_tokens, device=device)
    out = []
    for hyps in finished:
        out.append(sorted(hyps, key=lambda h: -h.score)[:n_best])
    return out
