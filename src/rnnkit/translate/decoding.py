"""What decoding shares between PyTorch (``api.translate``) and the exported runtime: no torch here.

The search options (``SearchConfig``), the results (``Translation``, ``Hypothesis``), how input text is
normalized and checked, how sentences are batched, the output length caps and GNMT's length penalty.
``rnnkit.translate.runtime`` imports this module where torch is not installed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from ..core.config import option, require
from ..core.errors import RnnkitError
from ..core.pieces import EOS, PAD

EXTRA_TOKENS = 10  # the output length cap is max_ratio * source tokens + this, at most max_output


@dataclass
class SearchConfig:
    beam: int = option(5, "beam size (1 = greedy decoding)")
    length_penalty: float = option(1.0, "GNMT length penalty alpha for beam search (0 = none)")
    n_best: int = option(1, "how many translations per sentence, best first (at most --beam)")
    max_ratio: float = option(2.0, "output length cap: this many tokens per source token, plus 10")
    max_output: int = option(200, "output length cap in tokens, whatever the source length")
    batch_size: int = option(128, "sentences decoded side by side")

    def __post_init__(self) -> None:
        for name in ("beam", "n_best", "max_output", "batch_size"):
            require(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        require(self.n_best <= self.beam, "n_best", f"must be at most --beam ({self.beam}), got {self.n_best}")
        require(self.length_penalty >= 0, "length_penalty", f"must be 0 or more, got {self.length_penalty}")
        require(self.max_ratio > 0, "max_ratio", f"must be positive, got {self.max_ratio}")


@dataclass
class Hypothesis:
    tokens: list[int]  # target ids, without BOS/EOS
    score: float  # length-penalized log-probability (greedy: the plain log-probability)
    attention: np.ndarray | None = None  # (len(tokens) + 1, S): weights of each output step, EOS included


@dataclass
class Translation:
    text: str
    score: float  # log-probability (greedy) or length-penalized log-probability (beam)
    tokens: list[str]  # the target pieces
    attention: np.ndarray | None = None  # (len(tokens) + 1, source pieces + 1), greedy only


def normalize(text: str, lowercase: bool) -> str:
    """NFC, runs of whitespace to one space, and lowercase when the run was trained lowercased."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text.lower() if lowercase else text


def checked_sentences(sentences: list[str], lowercase: bool) -> list[str]:
    """The sentences, normalized; a one-line error for input that is not a list of non-empty strings."""
    listed = None if isinstance(sentences, str) else list(sentences)
    if listed is None or not all(isinstance(s, str) for s in listed):
        raise RnnkitError("translate takes a list of sentences (strings); pass [sentence] for one")
    texts = [normalize(s, lowercase) for s in listed]
    for i, s in enumerate(texts):
        if not s:
            raise RnnkitError(f"input sentence {i + 1} is empty; pass a sentence with words in it")
    return texts


def sorted_batches(n: int, lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Evaluation batches: indices sorted by length (little padding), in chunks of ``batch_size``."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def pad_ids(rows: list[np.ndarray] | list[list[int]], value: int = PAD) -> np.ndarray:
    """Id sequences -> ``(len(rows), longest)`` int64, ``value``-filled after each row."""
    out = np.full((len(rows), max(len(r) for r in rows)), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def caps(lengths: np.ndarray, ratio: float, extra: int, cap: int) -> np.ndarray:
    """Most target tokens per sentence: ``ratio * source length + extra`` (float32, floored), at most ``cap``."""
    return np.minimum((np.asarray(lengths).astype(np.float32) * np.float32(ratio)).astype(np.int64) + extra, cap)


def penalty(length: int, alpha: float) -> float:
    """GNMT's length penalty ``((5 + n) / 6) ** alpha`` (Wu et al. 2016)."""
    return ((5.0 + length) / 6.0) ** alpha


def greedy_hypotheses(steps: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]],
                      lengths: np.ndarray) -> list[Hypothesis]:
    """Greedy decoding's per-step records ``(rows, token ids, their log-probabilities, weights (A, S) | None)``
    -> each sentence's tokens (EOS dropped), summed log-probability and attention rows (within its length)."""
    B = len(lengths)
    tokens: list[list[int]] = [[] for _ in range(B)]
    scores = np.zeros(B)
    maps: list[list[np.ndarray]] = [[] for _ in range(B)]
    for rows, ids, logps, weights in steps:
        for j, (row, tok) in enumerate(zip(rows.tolist(), ids.tolist())):
            scores[row] += float(logps[j])
            if weights is not None:
                maps[row].append(weights[j, : int(lengths[row])])
            if tok != EOS:
                tokens[row].append(tok)
    return [Hypothesis(tokens[i], float(scores[i]), np.stack(maps[i]) if maps[i] else None) for i in range(B)]


def next_beams(a: int, scores: list[float], ids: list[int], history, finished: list[Hypothesis], *, K: int, V: int,
               t: int, limit: int, alpha: float, n_best: int) -> tuple[list[int], list[int], list[float]] | None:
    """One step of beam search for the sentence in block ``a`` of K rows: its ranked extensions (``scores``,
    flat ``ids`` into ``K * V``, best first) -> its next K beams ``(rows, tokens, scores)``, or None when it
    is done (its best extension ends it and it has ``n_best`` hypotheses, or it reached its length cap).

    An end (EOS, or the cap) among the top K finishes a hypothesis, appended to ``finished`` with its
    length-penalized score (K = 1: greedy). ``history[row]`` (``.tolist()``): the row's tokens so far.
    """
    rows, tokens, kept = [], [], []
    for rank, (s, idx) in enumerate(zip(scores, ids)):
        if s == float("-inf"):
            break
        row, tok = a * K + idx // V, idx % V
        if tok == EOS or t + 1 >= limit:
            if rank < K:
                seq = history[row].tolist() + ([] if tok == EOS else [tok])
                finished.append(Hypothesis(seq, s / penalty(len(seq) + 1, alpha)))
            continue
        if len(rows) < K:
            rows.append(row)
            tokens.append(tok)
            kept.append(s)
    if (ids[0] % V == EOS and len(finished) >= n_best) or t + 1 >= limit or not rows:
        return None  # its rows leave the batch
    while len(rows) < K:  # fewer live candidates than K (a tiny vocabulary): pad with dead rows
        rows.append(rows[0])
        tokens.append(tokens[0])
        kept.append(float("-inf"))
    return rows, tokens, kept


def beam_step(active: list[int], scores: list[list[float]], ids: list[list[int]], history,
              finished: list[list[Hypothesis]], *, K: int, V: int, t: int, limits: list[int], alpha: float,
              n_best: int) -> tuple[list[int], list[int], list[int], list[list[float]]]:
    """``next_beams`` for every active sentence: ``(sentences still going, their rows, tokens, scores)``."""
    still, rows, tokens, kept = [], [], [], []
    for a, sentence in enumerate(active):
        beams = next_beams(a, scores[a], ids[a], history, finished[sentence], K=K, V=V, t=t, limit=limits[sentence],
                           alpha=alpha, n_best=n_best)
        if beams is not None:
            still.append(sentence)
            rows += beams[0]
            tokens += beams[1]
            kept.append(beams[2])
    return still, rows, tokens, kept
