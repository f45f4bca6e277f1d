"""What a tagger reads, fitted on the training sentences only: words, characters and tags.

* Words are lowercased (``--lowercase``; the character encoder still sees the case) and kept
  when seen ``--min-freq`` times in training; others read as ``<unk>``. During training a word
  seen once is replaced by ``<unk>`` with probability ``--unk-replace`` (Lample et al. 2016), so
  the unknown word's vector is trained on words like the unseen ones.
* Characters of the training words; an unseen character reads as ``<unk>``.
* Tags: the training tags in code-point order. A validation or test tag outside them cannot be
  predicted: it is scored as an error (and its sentence left out of the validation loss).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..core.pieces import UNK, Vocabulary


@dataclass
class Encoded:
    """A batch of sentences as arrays: ``words (B, S)``, ``chars (U, L)`` of the batch's distinct
    tokens, ``char_lengths (U,)``, ``token_index (B, S)`` (each token's row in ``chars``) and
    ``lengths (B,)``; padding is 0 everywhere."""

    words: np.ndarray
    chars: np.ndarray
    char_lengths: np.ndarray
    token_index: np.ndarray
    lengths: np.ndarray


class TokenEncoder:
    def __init__(self, words: Vocabulary, chars: Vocabulary, tags: list[str], lowercase: bool, max_word: int):
        self.words, self.chars, self.tags, self.lowercase, self.max_word = words, chars, tags, lowercase, max_word
        self.tag_index = {t: i for i, t in enumerate(tags)}

    @classmethod
    def fit(cls, tokens: list[list[str]], tags: list[list[str]], lowercase: bool, min_freq: int,
            max_word: int) -> "TokenEncoder":
        words = Vocabulary.build(([cls._norm(w, lowercase) for w in s] for s in tokens), min_freq)
        chars = Vocabulary.build((list(w) for s in tokens for w in s), 1)
        return cls(words, chars, sorted({t for s in tags for t in s}), lowercase, max_word)

    @staticmethod
    def _norm(word: str, lowercase: bool) -> str:
        return word.lower() if lowercase else word

    def singletons(self, tokens: list[list[str]]) -> np.ndarray:
        """Ids of the words seen exactly once in ``tokens`` (the training sentences)."""
        counts = Counter(self._norm(w, self.lowercase) for s in tokens for w in s)
        return np.array(sorted(self.words.index[w] for w, n in counts.items() if n == 1 and w in self.words.index),
                        dtype=np.int64)

    def word_ids(self, sentence: list[str]) -> np.ndarray:
        return np.array([self.words.index.get(self._norm(w, self.lowercase), UNK) for w in sentence], dtype=np.int64)

    def tag_ids(self, tags: list[str]) -> np.ndarray | None:
        """Tag ids, or None when a tag is not among the training tags."""
        if any(t not in self.tag_index for t in tags):
            return None
        return np.array([self.tag_index[t] for t in tags], dtype=np.int64)

    def batch(self, sentences: list[list[str]], word_ids: list[np.ndarray] | None = None) -> Encoded:
        """Pad a batch of token lists (``word_ids``: their precomputed, possibly noised, word ids)."""
        B, S = len(sentences), max(len(s) for s in sentences)
        words, index = np.zeros((B, S), np.int64), np.zeros((B, S), np.int64)
        distinct: dict[str, int] = {}
        for b, sent in enumerate(sentences):
            words[b, :len(sent)] = self.word_ids(sent) if word_ids is None else word_ids[b]
            index[b, :len(sent)] = [distinct.setdefault(w, len(distinct)) for w in sent]
        forms = list(distinct)
        lengths = np.array([max(1, min(len(w), self.max_word)) for w in forms], dtype=np.int64)
        chars = np.zeros((len(forms), int(lengths.max())), np.int64)
        for u, w in enumerate(forms):
            chars[u, :lengths[u]] = [self.chars.index.get(c, UNK) for c in w[:self.max_word]] or [UNK]
        return Encoded(words, chars, lengths, index, np.array([len(s) for s in sentences], dtype=np.int64))

    def state(self) -> dict:
        return {"words": self.words.to_json(), "chars": self.chars.to_json(), "tags": self.tags,
                "lowercase": self.lowercase, "max_word": self.max_word}

    @classmethod
    def from_state(cls, state: dict) -> "TokenEncoder":
        return cls(Vocabulary.from_json(state["words"]), Vocabulary.from_json(state["chars"]), list(state["tags"]),
                   bool(state["lowercase"]), int(state["max_word"]))
