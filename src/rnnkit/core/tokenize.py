"""Tokenizers of text units (translation, sequence classification): one sentence to a list of string pieces, and back.

Translation output is scored as text (BLEU), so every tokenizer must turn its own pieces back
into the exact sentence: ``decode(encode(s)) == " ".join(s.split())`` (runs of whitespace are
collapsed to one space first; sentences are NFC-normalized before they get here).

* ``word``: words and single punctuation marks. Spacing is recorded with a joiner mark on the
  punctuation only (``"¿Dónde está?"`` -> ``["¿￭", "Dónde", "está", "￭?"]``), so words stay
  clean and the vocabulary is not doubled by attached/detached variants of each word.
* ``char``: every character, the space included.
* ``sentencepiece``: unigram subwords learned on the training split (deterministic, in memory).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Protocol

import sentencepiece as spm

from .config import check_choices, option, require
from .errors import RnnkitError

JOINER = "￭"
# A word keeps inner apostrophes (don't, l'homme); every other non-space character is one token.
# Two words are never adjacent (a word only ends before a non-word character), so marking the
# punctuation alone records all the spacing: a mark glued to the token on its left gets a leading
# joiner, one glued to a word on its right a trailing joiner.
WORD_OR_MARK = re.compile(r"(?P<word>\w+(?:['’]\w+)*)|(?P<mark>[^\w\s])")


@dataclass
class TokenizerConfig:
    tokens: str = option(
        "sentencepiece",
        "sentencepiece (unigram subwords learned on the training split), word (words and punctuation, reversible) "
        "or char",
        ("sentencepiece", "word", "char"),
    )
    vocab_size: int = option(2000, "sentencepiece: subword vocabulary size per language")
    min_freq: int = option(2, "keep tokens seen at least this often in the training split; rarer ones become <unk>")
    max_vocab: int = option(0, "keep at most this many of the most frequent tokens per language (0 = no limit)")

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.vocab_size >= 1, "vocab_size", f"must be 1 or more, got {self.vocab_size}")
        require(self.min_freq >= 1, "min_freq", f"must be 1 or more, got {self.min_freq}")
        require(self.max_vocab >= 0, "max_vocab", f"must be 0 or more, got {self.max_vocab}")


class Tokenizer(Protocol):
    kind: str

    def encode(self, text: str) -> list[str]: ...

    def decode(self, pieces: list[str]) -> str: ...


def squeeze_spaces(text: str) -> str:
    return " ".join(text.split())


class WordTokenizer:
    """Words and single marks, with joiners on the marks that touch a neighbour.

    (A literal joiner character in the text is the one thing this cannot round-trip.)
    """

    kind = "word"

    def encode(self, text: str) -> list[str]:
        text = squeeze_spaces(text)
        matches = list(WORD_OR_MARK.finditer(text))
        pieces = []
        for i, m in enumerate(matches):
            piece = m.group()
            if m.lastgroup == "mark":
                if i > 0 and matches[i - 1].end() == m.start():
                    piece = JOINER + piece
                nxt = matches[i + 1] if i + 1 < len(matches) else None
                # Between two marks the right one's leading joiner already says "attached".
                if nxt is not None and nxt.start() == m.end() and nxt.lastgroup == "word":
                    piece = piece + JOINER
            pieces.append(piece)
        return pieces

    def decode(self, pieces: list[str]) -> str:
        out: list[str] = []
        glue_next = True  # no space before the first piece
        for piece in pieces:
            left = len(piece) > 1 and piece.startswith(JOINER)
            right = len(piece) > 1 and piece.endswith(JOINER)
            if not (glue_next or left):
                out.append(" ")
            out.append(piece[int(left) : len(piece) - int(right)])
            glue_next = right
        return "".join(out)


class CharTokenizer:
    """Every character is a piece; the space is the piece " "."""

    kind = "char"

    def encode(self, text: str) -> list[str]:
        return list(squeeze_spaces(text))

    def decode(self, pieces: list[str]) -> str:
        return "".join(pieces)


class SentencePieceTokenizer:
    """A trained unigram model; ``model_proto`` (its serialized bytes) is all that is stored."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes) -> None:
        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor()
        try:  # (the constructor's model_proto= would silently accept empty bytes)
            self.processor.LoadFromSerializedProto(model_proto)
        except RuntimeError:
            raise RnnkitError("the SentencePiece model is damaged; retrain, or use an intact checkpoint")

    def encode(self, text: str) -> list[str]:
        return self.processor.encode(squeeze_spaces(text), out_type=str)

    def decode(self, pieces: list[str]) -> str:
        return self.processor.decode_pieces(list(pieces))


def train_sentencepiece(sentences: list[str], vocab_size: int, seed: int = 0) -> SentencePieceTokenizer:
    """Learn a unigram model on ``sentences``; the same input always gives the same bytes."""
    sentences = [s for s in map(squeeze_spaces, sentences) if s]
    if not sentences:
        raise RnnkitError("the training split has no text to learn SentencePiece pieces from; check the data file")
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)  # global in the library; training reads no other randomness
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, model_type="unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=False,  # a small corpus gets fewer pieces instead of an error
            character_coverage=1.0,
            normalization_rule_name="identity",  # no NFKC: decoding must give the input back
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,  # our Vocabulary adds its own specials
            shuffle_input_sentence=False, input_sentence_size=0, num_threads=1, minloglevel=2,
        )
    except RuntimeError as e:
        # "... Vocabulary size is smaller than required_chars. 8 vs 33. Increase vocab_size ..."
        detail = str(e).splitlines()[0].split("] ")[-1].split(" Increase")[0].rstrip(". ")
        raise RnnkitError(f"--vocab-size: SentencePiece cannot learn {vocab_size} pieces here ({detail}); raise it")
    return SentencePieceTokenizer(model.getvalue())


def train_tokenizer(cfg: TokenizerConfig, sentences: list[str], seed: int = 0) -> Tokenizer:
    """The tokenizer ``cfg`` asks for; only sentencepiece learns anything from ``sentences``."""
    if cfg.tokens == "sentencepiece":
        return train_sentencepiece(sentences, cfg.vocab_size, seed)
    return WordTokenizer() if cfg.tokens == "word" else CharTokenizer()


def tokenizer_state(tok: Tokenizer) -> tuple[dict, bytes]:
    """A JSON-able description and the model bytes (empty for word and char)."""
    if isinstance(tok, SentencePieceTokenizer):
        return {"kind": tok.kind, "pieces": tok.processor.get_piece_size()}, tok.model_proto
    return {"kind": tok.kind}, b""


def tokenizer_from_state(info: dict, blob: bytes) -> Tokenizer:
    kind = info.get("kind") if isinstance(info, dict) else None
    if kind == "word":
        return WordTokenizer()
    if kind == "char":
        return CharTokenizer()
    if kind == "sentencepiece":
        return SentencePieceTokenizer(bytes(blob))
    raise RnnkitError(
        f"unknown tokenizer kind {kind!r} in the checkpoint; use a checkpoint written by this version of rnnkit"
    )
