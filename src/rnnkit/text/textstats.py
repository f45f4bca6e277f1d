"""Checks on generated text: how much is copied from the training text, and how varied it is.

Memorization: the fraction of a sample's n-token pieces (n = 8, 12, 16, 20 characters for a
character model, 2 to 5 words for a word model) that occur verbatim somewhere in the training
split (its first 20M tokens), and the longest such piece. A model that only recites its training text scores near 1; a model that has learned
spelling and phrasing but composes new text scores low for long pieces.

Diversity: distinct-n (Li et al. 2016), the number of distinct word n-grams divided by the
number of word n-grams across the samples; low values mean repetition ("the the the").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEMO_LENGTHS = (8, 12, 16, 20)  # characters, for character models
MEMO_WORDS = (2, 3, 4, 5)  # words, for word models
_P = np.uint64(1_000_003)


def _hashes(tokens: np.ndarray, n: int) -> np.ndarray:
    """64-bit polynomial hashes of every length-``n`` window of ``tokens`` (wrapping arithmetic)."""
    t = np.asarray(tokens).astype(np.uint64) + np.uint64(1)
    m = len(t) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _P + t[j : j + m]
    return h


MAX_INDEX_TOKENS = 20_000_000  # bigger training splits are checked against their first 20M tokens


class NGramIndex:
    """Sorted hashes of the training split's n-token windows; one length is kept at a time,
    so the index costs 8 bytes per training token (at most 160 MB)."""

    def __init__(self, train_tokens: np.ndarray):
        self.train = train_tokens[:MAX_INDEX_TOKENS]
        self._n, self._table = 0, np.empty(0, dtype=np.uint64)

    def table(self, n: int) -> np.ndarray:
        if n != self._n:
            self._table = np.empty(0, dtype=np.uint64)  # free the old one first
            h = _hashes(self.train, n)
            h.sort()
            self._n, self._table = n, h
        return self._table

    def found(self, sample: np.ndarray, n: int) -> np.ndarray:
        """Boolean per window of ``sample``: does it occur verbatim in the training split?"""
        q = _hashes(sample, n)
        table = self.table(n)
        if len(q) == 0 or len(table) == 0:
            return np.zeros(len(q), dtype=bool)
        pos = np.searchsorted(table, q).clip(max=len(table) - 1)
        return table[pos] == q


def longest_copy(index: NGramIndex, sample: np.ndarray, limit: int = 200) -> int:
    """Length of the longest piece of ``sample`` found verbatim in training (binary search)."""
    lo, hi = 0, min(len(sample), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if index.found(sample, mid).any():
            lo = mid
        else:
            hi = mid - 1
    return lo


def distinct_n(texts: list[str], n: int) -> float:
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = text.split()
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@dataclass
class SampleStats:
    memorized: dict[str, float]  # "8": fraction of 8-token pieces found in training, ...
    longest_copy: int  # tokens
    distinct: dict[str, float]  # "1", "2", "3": distinct-n over words

    def describe(self, unit: str = "chars") -> str:
        memo = ", ".join(f"{k}-{unit[:-1]} pieces {v:.0%}" for k, v in self.memorized.items())
        dist = ", ".join(f"distinct-{k} {v:.2f}" for k, v in self.distinct.items())
        return (f"copied from training: {memo}; longest verbatim copy {self.longest_copy} {unit}\n"
                f"diversity (words): {dist}")


def sample_stats(index: NGramIndex, samples: list[np.ndarray], texts: list[str],
                 lengths: tuple[int, ...] = MEMO_LENGTHS) -> SampleStats:
    """Memorization and diversity of generated ``samples`` (token ids) and their ``texts``."""
    memorized = {}
    for n in lengths:
        hits = [index.found(s, n) for s in samples]
        total = sum(len(h) for h in hits)
        memorized[str(n)] = float(sum(h.sum() for h in hits) / total) if total else 0.0
    longest = max((longest_copy(index, s) for s in samples), default=0)
    return SampleStats(memorized, longest, {str(n): distinct_n(texts, n) for n in (1, 2, 3)})
