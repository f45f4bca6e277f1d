"""A vocabulary of string pieces <-> integer ids (translation, one per language; sequence classification).

The four specials come first with fixed ids (``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>``
3) so batching and decoding code can use the constants below. The other pieces are counted on
the training split only (validation and test text must not shape the model), and ordered by
frequency, then by code point, so the same training text always gives the same ids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .errors import RnnkitError

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(len(SPECIALS))


def unknown_noise(ids: np.ndarray, p: float, key: list[int], where: np.ndarray | None = None) -> np.ndarray:
    """A copy of ids ``(L,)`` with each one (each where ``where`` ``(L,)`` is true) read as ``<unk>`` with
    probability ``p``: word dropout. ``key`` seeds the draw (e.g. seed, epoch, example), so every process
    of a data-parallel run draws the same noise for the same example."""
    hit = np.random.default_rng(key).random(len(ids)) < p
    out = ids.copy()
    out[hit if where is None else hit & where] = UNK
    return out


@dataclass
class Vocabulary:
    pieces: list[str]  # SPECIALS first, then the kept pieces, most frequent first
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.index = {p: i for i, p in enumerate(self.pieces)}

    def __len__(self) -> int:
        return len(self.pieces)

    @classmethod
    def build(cls, sequences: Iterable[list[str]], min_freq: int, max_vocab: int = 0) -> "Vocabulary":
        """Keep the pieces seen at least ``min_freq`` times (at most ``max_vocab`` of them, the
        most frequent; 0 = all); the specials come on top of ``max_vocab``."""
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        for s in SPECIALS:  # a piece spelled like a special must not get a second id
            counts.pop(s, None)
        kept = sorted((p for p, n in counts.items() if n >= min_freq), key=lambda p: (-counts[p], p))
        if max_vocab:
            kept = kept[:max_vocab]
        return cls([*SPECIALS, *kept])

    def encode(self, pieces: Iterable[str], add_bos: bool = False, add_eos: bool = True) -> list[int]:
        """Ids of ``pieces``; pieces not in the vocabulary become ``UNK``."""
        ids = [BOS] if add_bos else []
        ids.extend(self.index.get(p, UNK) for p in pieces)
        if add_eos:
            ids.append(EOS)
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Pieces up to the first ``EOS``; ``PAD`` and ``BOS`` are dropped, ``UNK`` is "<unk>"."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.pieces[i])
        return out

    def to_json(self) -> dict:
        return {"pieces": list(self.pieces)}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        pieces = data.get("pieces") if isinstance(data, dict) else None
        ok = (
            isinstance(pieces, list)
            and all(isinstance(p, str) for p in pieces)
            and tuple(pieces[: len(SPECIALS)]) == SPECIALS
            and len(set(pieces)) == len(pieces)
        )
        if not ok:
            raise RnnkitError(
                "translation vocabulary is malformed (it needs a 'pieces' list of distinct strings "
                "starting with <pad> <unk> <bos> <eos>); the checkpoint is damaged, retrain or use an intact one"
            )
        return cls(list(pieces))
