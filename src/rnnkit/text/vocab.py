"""Vocabularies: the sorted, deterministic map between tokens and integer ids.

A character vocabulary is every distinct character of the training text in code-point order,
then ``<unk>``; a word vocabulary is ``<unk>``, then every distinct word of the training text
(or the ``max_vocab - 1`` most frequent) in code-point order. Validation and test tokens
outside it are read as ``<unk>``, so nothing of them shapes the vocabulary. The order never
depends on ``set`` iteration, so the same text always gives the same ids, and the vocabulary
is stored as JSON in every run.

Runs saved before the vocabulary came from the training split alone hold one built from the
whole file: a character vocabulary without ``<unk>``, a word vocabulary with ``<unk>`` only
when ``max_vocab`` cut it. They load and score as they did.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..core.errors import RnnkitError

UNK = "<unk>"
UNK_CODE = 0x110000  # <unk>'s place in a character vocabulary's code table: past every code point, so last
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
    unk: str | None = None  # what tokens outside the vocabulary are read as (None: they are an error)
    # True when <unk> stands for words of the training text (those past --max-vocab), so the model
    # learned it and a prime may use it; False when only validation/test tokens can be <unk>, so
    # an unknown token in a prime or a blank's context is an error instead
    unk_seen: bool = True
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
        """The training text's characters, then ``<unk>`` for characters it never had."""
        return cls("char", sorted(set(chars)) + [UNK], unk=UNK, unk_seen=False)

    @classmethod
    def from_word_counts(cls, counts: Counter, max_vocab: int = 0) -> "Vocab":
        """``<unk>`` and the training text's words: all, or the ``max_vocab - 1`` most frequent."""
        kept = sorted(counts)
        if max_vocab and len(counts) >= max_vocab:
            kept = sorted(w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_vocab - 1])
        return cls("word", [UNK] + kept, unk=UNK, unk_seen=len(kept) < len(counts))

    # -- encoding -------------------------------------------------------------------------
    def encode(self, text: str, what: str = "text") -> list[int]:
        """Ids of user text (a prime, a blank's context); a character/word outside the vocabulary
        is read as ``<unk>`` when the model learned ``<unk>`` from its training text, else an error."""
        pieces = list(text) if self.level == "char" else split_words(text)
        ids = []
        for p in pieces:
            i = self.index.get(p)
            if i is None:
                if self.unk is None or not self.unk_seen:
                    raise RnnkitError(
                        f"{what} contains {p!r}, which is not in the model's vocabulary; "
                        f"remove it or use only characters the model was trained on"
                    )
                i = self.index[self.unk]
            ids.append(i)
        return ids

    def encode_chars_array(self, text: str) -> np.ndarray:
        """Fast vectorised char-level encoding of a large chunk; characters outside the vocabulary
        become ``<unk>`` (a vocabulary without one must know every character)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = self._code_table()
        ids = np.minimum(np.searchsorted(table, codes), len(table) - 1)
        unknown = table[ids] != codes
        if unknown.any():
            assert self.unk is not None, "a character vocabulary without <unk> met an unknown character"
            ids[unknown] = self.index[self.unk]
        return ids.astype(self.dtype)

    def _code_table(self) -> np.ndarray:
        """Each token's code point, ascending (``<unk>`` is last, at ``UNK_CODE``)."""
        if not hasattr(self, "_codes"):
            self._codes = np.array([UNK_CODE if c == self.unk else ord(c) for c in self.tokens], dtype=np.uint32)
        return self._codes

    def unknown_id(self) -> int | None:
        return None if self.unk is None else self.index[self.unk]

    def decode(self, ids: Iterable[int]) -> str:
        toks = [self.tokens[int(i)] for i in ids]
        if self.level == "char":
            return "".join(toks)
        return join_words(toks)

    # -- storage --------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"level": self.level, "tokens": self.tokens, "unk": self.unk, "unk_seen": self.unk_seen}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        try:
            # a vocabulary saved without unk_seen had <unk> only from --max-vocab: seen in training
            vocab = cls(data["level"], list(data["tokens"]), data.get("unk"), bool(data.get("unk_seen", True)))
        except (KeyError, TypeError) as e:
            raise RnnkitError(f"vocabulary is malformed ({e}); the checkpoint is damaged")
        if (vocab.level not in ("char", "word") or len(vocab.index) != len(vocab.tokens)
                or (vocab.unk is not None and vocab.unk not in vocab.index)):
            raise RnnkitError("vocabulary is malformed; the checkpoint is damaged")
        return vocab


def default_prime(vocab: Vocab) -> list[int]:
    """Where generation starts without a prime: a line break or space (not printed)."""
    for t in ("\n", " "):
        if t in vocab.index:
            return [vocab.index[t]]
    return [0]


def join_words(tokens: list[str]) -> str:
    """Detokenise word-level output: spaces between words, none around line breaks, before
    closing punctuation or after opening brackets."""
    out: list[str] = []
    for t in tokens:
        if out and "\n" not in (t, out[-1]) and t not in NO_SPACE_BEFORE and out[-1] not in NO_SPACE_AFTER:
            out.append(" ")
        out.append(t)
    return "".join(out)
