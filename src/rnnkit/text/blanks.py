"""A text with one blank ``___`` to fill, and the ranked fillers: the torch-free half of ``rnnkit fill``.

``infill.fill`` (PyTorch) and the exported runtime (``runtime.py``, numpy) both read the blank's
context with :func:`around_blank` and rank the model's probabilities with :func:`rank`, so the
two give the same fillers for the same probabilities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..core.errors import RnnkitError
from .vocab import Vocab

BLANK = re.compile(r"_{3,}")  # three or more underscores: one token (a word, or a character) to fill


@dataclass
class Filler:
    token: str
    probability: float
    text: str  # the text with the blank replaced by the token


@dataclass
class Blank:
    """A text split at its blank: the text before and after it, and their ids (each side up to ``context``)."""

    head: str
    tail: str
    left: list[int]
    right: list[int]

    def row(self) -> list[int]:
        """The model's input row: left ids, a placeholder at the blank (never read), right ids."""
        return self.left + [0] + self.right


def around_blank(vocab: Vocab, text: str, top_k: int, context: int) -> Blank:
    """The one blank of ``text``, each side read up to ``context`` tokens (0: all); one-line errors for
    a bad ``top_k``, no blank, several blanks, or context the vocabulary cannot read."""
    if top_k < 1:
        raise RnnkitError(f"--top-k: must be at least 1, got {top_k}")
    blanks = list(BLANK.finditer(text))
    if not blanks:
        raise RnnkitError(f"the text {text!r} has no blank; mark the missing "
                          f"{'word' if vocab.level == 'word' else 'character'} with ___ (three underscores)")
    if len(blanks) > 1:
        raise RnnkitError(f"the text {text!r} has {len(blanks)} blanks; fill one ___ at a time")
    head, tail = text[: blanks[0].start()], text[blanks[0].end() :]
    left = vocab.encode(head, "the text")[-context:] if context else []
    right = vocab.encode(tail, "the text")[:context]
    return Blank(head, tail, left, right)


def rank(probs: np.ndarray, vocab: Vocab, blank: Blank, top_k: int) -> list[Filler]:
    """The ``top_k`` most likely fillers of ``probs (V,)`` (float32), best first; ``<unk>`` is never proposed."""
    probs = np.array(probs, dtype=np.float32)
    if vocab.unk is not None:
        probs[vocab.index[vocab.unk]] = -1.0  # out of the ranking
    k = min(top_k, len(vocab) - (vocab.unk is not None))
    ids = np.argsort(-probs, kind="stable")[:k]
    return [Filler(vocab.tokens[i], float(probs[i]), blank.head + vocab.tokens[i] + blank.tail) for i in ids.tolist()]
