"""What a classifier reads: text as ids of characters, words or subwords; numeric sequences as
scaled frames. Both are fitted on the training examples only.

* Text: a tokenizer (``core/tokenize.py``: characters, words and punctuation, or SentencePiece
  unigram pieces learned on the training texts) and a piece vocabulary (``core/pieces.py``:
  ``<pad>`` 0, ``<unk>`` 1, then the training pieces seen ``--min-freq`` times, most frequent
  first). A validation, test or user piece outside it is read as ``<unk>``.
* Numeric: each channel's mean and standard deviation over the training examples' observed
  values; a missing value (NaN) becomes 0 after scaling, the channel's training mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.config import check_choices, option, require
from ..core.errors import RnnkitError
from ..core.pieces import UNK, Vocabulary
from ..core.tokenize import TokenizerConfig, tokenizer_from_state, tokenizer_state, train_tokenizer

LEVEL_TOKENS = {"char": "char", "word": "word", "subword": "sentencepiece"}


@dataclass
class UnitsConfig:
    level: str = option("word", "text units: char, word (words and punctuation) or subword (SentencePiece "
                                "unigram pieces learned on the training texts)", ("char", "word", "subword"))
    lowercase: bool = option(True, "lowercase texts before splitting them into units")
    vocab_size: int = option(4000, "subword: number of SentencePiece pieces")
    min_freq: int = option(2, "keep units seen at least this often in the training texts; rarer ones are <unk>")
    max_vocab: int = option(0, "keep at most this many of the most frequent units (0 = no limit)")
    max_length: int = option(400, "read at most this many units of a text (its beginning; 0 = all)")

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.vocab_size >= 1, "vocab_size", f"must be 1 or more, got {self.vocab_size}")
        require(self.min_freq >= 1, "min_freq", f"must be 1 or more, got {self.min_freq}")
        require(self.max_vocab >= 0, "max_vocab", f"must be 0 or more, got {self.max_vocab}")
        require(self.max_length >= 0, "max_length", f"must be 0 or more, got {self.max_length}")


class TextEncoder:
    """Texts -> id arrays; fitted on training texts (``fit``) or restored from a checkpoint."""

    def __init__(self, cfg: UnitsConfig, tokenizer, vocab: Vocabulary):
        self.cfg, self.tokenizer, self.vocab = cfg, tokenizer, vocab

    @classmethod
    def fit(cls, cfg: UnitsConfig, texts: list[str], seed: int) -> "TextEncoder":
        texts = [t.lower() for t in texts] if cfg.lowercase else texts
        tok = train_tokenizer(TokenizerConfig(tokens=LEVEL_TOKENS[cfg.level], vocab_size=cfg.vocab_size), texts, seed)
        return cls(cfg, tok, Vocabulary.build((tok.encode(t) for t in texts), cfg.min_freq, cfg.max_vocab))

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's ids ``(L_i,)`` (int64, at least one id: an empty text is one ``<unk>``)."""
        out = []
        for t in texts:
            ids = self.vocab.encode(self.tokenizer.encode(t.lower() if self.cfg.lowercase else t), add_eos=False)
            if self.cfg.max_length:
                ids = ids[:self.cfg.max_length]
            out.append(np.array(ids or [UNK], dtype=np.int64))
        return out

    def state(self) -> tuple[dict, bytes]:
        info, blob = tokenizer_state(self.tokenizer)
        return {"tokenizer": info, "vocabulary": self.vocab.to_json()}, blob

    @classmethod
    def from_state(cls, cfg: UnitsConfig, info: dict, blob: bytes) -> "TextEncoder":
        return cls(cfg, tokenizer_from_state(info["tokenizer"], blob), Vocabulary.from_json(info["vocabulary"]))


class Scaler:
    """Per-channel standardization of ``(T, C)`` frames with training statistics."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

    @classmethod
    def fit(cls, frames: list[np.ndarray]) -> "Scaler":
        stacked = np.concatenate(frames).astype(np.float64)  # (sum T_i, C)
        mean = np.nanmean(stacked, axis=0)
        std = np.nanstd(stacked, axis=0)
        if np.isnan(mean).any():
            bad = int(np.flatnonzero(np.isnan(mean))[0])
            raise RnnkitError(f"channel {bad} has no observed value in the training examples; drop it or fill it")
        return cls(mean, np.where(std > 1e-8, std, 1.0))

    def encode(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Scaled float32 ``(T_i, C)`` frames, missing values at 0."""
        C = len(self.mean)
        out = []
        for f in frames:
            if f.ndim != 2 or f.shape[1] != C:
                raise RnnkitError(f"a sequence has {f.shape[-1]} channels, the model reads {C}; "
                                  f"give it the channels it was trained on")
            out.append(np.nan_to_num((f - self.mean) / self.std, nan=0.0).astype(np.float32))
        return out

    def state(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}
