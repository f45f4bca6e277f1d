"""Vocabularies: the sorted, deterministic map between tokens and integer ids.

A character vocabulary is every distinct character of the corpus in code-point order; a
word vocabulary is every distinct word token in code-point order (with ``<unk>`` first when
``max_vocab`` keeps only the most frequent). The order never depends on ``set`` iteration, so
the same text always gives the same ids, and the vocabulary is stored as JSON in every run.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..core.errors import RnnkitError

UNK = "<unk>"
# Words (with inner apostrophes: don't, o'clock), single punctuation marks and line breaks are
# word-level tokens; other whitespace only separates them.
WORD_PATTERN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]|\n")
NO_SPACE_BEFORE = set(".,;:!?)]}%")
NO_SPACE_AFTER = set("([{$")


def split_words(text: str) -> list[str]:
    return WORD_PATTERN.findall(text)


@dataclass
class Vocab:
    level: str  # "char" or "word"
    tokens: list[str]
    unk: str | None = None
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned integer type that holds every id."""
        return np.dtype(np.uint16 if len(self.tokens) <= 65536 else np.uint32)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_chars(cls, chars: Iterable[str]) -> "Vocab":
        return cls("char", sorted(set(chars)))

    @classmethod
    def from_word_counts(cls, counts: Counter, max_vocab: int = 0) -> "Vocab":
        if max_vocab and len(counts) > max_vocab:
            kept = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_vocab - 1]
            return cls("word", [UNK] + sorted(w for w, _ in kept), unk=UNK)
        return cls("word", sorted(counts))

    # -- encoding -------------------------------------------------------------------------
    def encode(self, text: str, what: str = "text") -> list[int]:
        """Ids of ``text``; unknown characters/words are an error unless the vocab has ``<unk>``."""
        pieces = list(text) if self.level == "char" else split_words(text)
        ids = []
        for p in pieces:
            i = self.index.get(p)
            if i is None:
                if self.unk is None:
                    raise RnnkitError(
                        f"{what} contains {p!r}, which is not in the model's vocabulary; "
                        f"remove it or use only characters the model was trained on"
                    )
                i = self.index[self.unk]
            ids.append(i)
        return ids

    def encode_chars_array(self, text: str) -> np.ndarray:
        """Fast vectorised char-level encoding of a large chunk (every char must be known)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = self._code_table()
        ids = np.searchsorted(table, codes)
        return ids.astype(self.dtype)

    def _code_table(self) -> np.ndarray:
        if not hasattr(self, "_codes"):
            self._codes = np.array([ord(c) for c in self.tokens], dtype=np.uint32)
        return self._codes

    def decode(self, ids: Iterable[int]) -> str:
        toks = [self.tokens[int(i)] for i in ids]
        if self.level == "char":
            return "".join(toks)
        return join_words(toks)

    # -- storage --------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"level": self.level, "tokens": self.tokens, "unk": self.unk}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        try:
            vocab = cls(data["level"], list(data["tokens"]), data.get("unk"))
        except (KeyError, TypeError) as e:
            raise RnnkitError(f"vocabulary is malformed ({e}); the checkpoint is damaged")
        if vocab.level not in ("char", "word") or len(vocab.index) != len(vocab.tokens):
            raise RnnkitError("vocabulary is malformed; the checkpoint is damaged")
        return vocab


def join_words(tokens: list[str]) -> str:
    """Detokenise word-level output: spaces between words, none around line breaks, before
    closing punctuation or after opening brackets."""
    out: list[str] = []
    for t in tokens:
        if out and "\n" not in (t, out[-1]) and t not in NO_SPACE_BEFORE and out[-1] not in NO_SPACE_AFTER:
            out.append(" ")
        out.append(t)
    return "".join(out)
