"""Text corpora as compact token arrays with a contiguous train/validation/test split.

Reading is streamed line by line and encoding is done chunk by chunk into a memory-mapped
file of ``uint16``/``uint32`` ids, so a 100 MB corpus never exists as one-hot windows or as a
Python list. The split is contiguous: train is the first 80% of the tokens, validation the
next 10%, test the last 10% (``improving-your-rnn.md``: "split it into 3 parts"). The
vocabulary comes from the training part alone; validation and test tokens outside it are
``<unk>`` (see ``vocab.py``), so which words ``--max-vocab`` keeps, or which characters get an
id, never depends on the text a model is scored on.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from . import corpora
from ..core import subsample
from ..core.config import check_choices, check_encoding, check_split_fractions, option, require
from ..core.errors import RnnkitError
from ..core.fileio import read_json, write_json
from .vocab import WORD_PATTERN, Vocab

SPLITS = ("train", "val", "test")
CHUNK_CHARS = 1 << 22


@dataclass
class DataConfig:
    data: str = option(corpora.BUILTIN, "text file, or a corpus name: python-docs (built in), alice, tinyshakespeare")
    encoding: str = option("utf-8", "text encoding of the data file")
    text_clean: str = option(
        "none",
        "cleaning: none, or seed (lowercase, drop non-ASCII and empty lines, join lines with a space)",
        ("none", "seed"),
    )
    level: str = option("char", "token level: char or word", ("char", "word"))
    max_vocab: int = option(0, "word level: vocabulary size, <unk> and the most frequent words of the training split; "
                            "the rest become <unk> (0 = every training word)")
    val_fraction: float = option(0.1, "fraction of the tokens for validation (taken after train)")
    test_fraction: float = option(0.1, "fraction of the tokens for test (the last part of the text)")

    def __post_init__(self) -> None:
        check_choices(self)
        check_encoding(self.encoding)
        require(self.max_vocab >= 0, "max_vocab", f"must be 0 or more, got {self.max_vocab}")
        check_split_fractions(self.val_fraction, self.test_fraction)


# -- reading ---------------------------------------------------------------------------------
def check_text_file(path: Path, encoding: str) -> None:
    """Fail early, with the fix, on paths that are not readable text."""
    if path.is_dir():
        raise RnnkitError(f"{path} is a directory; pass a text file")
    if not path.is_file():
        raise RnnkitError(f"data file {path} not found; pass an existing text file")
    if path.stat().st_size == 0:
        raise RnnkitError(f"{path} is empty; pass a file with text in it")
    with path.open("rb") as f:
        head = f.read(8192)
    if b"\x00" in head and not encoding.lower().replace("-", "").startswith(("utf16", "utf32")):
        raise RnnkitError(f"{path} looks like a binary file (it contains NUL bytes); pass a plain text file")


def read_chunks(path: Path, encoding: str, clean: str) -> Iterator[str]:
    """Yield the (optionally cleaned) text of ``path`` in pieces of about 4M characters.

    ``clean="seed"`` is the seed article's preprocessing: strip each line, drop non-ASCII,
    lowercase, skip empty lines and join the rest with single spaces.
    """
    try:
        with path.open(encoding=encoding, errors="strict") as f:
            buf: list[str] = []
            size = 0
            first = True
            for line in f:
                if clean == "seed":
                    line = line.strip().encode("ascii", "ignore").decode("ascii").lower()
                    if not line:
                        continue
                    if not first:
                        line = " " + line
                    first = False
                buf.append(line)
                size += len(line)
                if size >= CHUNK_CHARS:
                    yield "".join(buf)
                    buf, size = [], 0
            if buf:
                yield "".join(buf)
    except UnicodeDecodeError as e:
        raise RnnkitError(
            f"{path} is not valid {encoding} text ({e.reason} at byte {e.start} of a block); "
            f"pass --encoding with the file's encoding, e.g. --encoding latin-1"
        )


# -- the prepared corpus ---------------------------------------------------------------------
@dataclass
class Corpus:
    """Token ids of a whole corpus plus its vocabulary and split.

    ``tokens`` is a read-only memory map; ``split[name] = (start, stop)`` in token indices;
    ``chars[name]`` is the number of characters of text that split covers (for bits/char).
    """

    vocab: Vocab
    tokens: np.ndarray
    split: dict[str, tuple[int, int]]
    chars: dict[str, int]
    source: dict

    def part(self, name: str) -> np.ndarray:
        if name not in self.split:
            raise RnnkitError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        a, b = self.split[name]
        return self.tokens[a:b]

    def split_json(self) -> dict:
        return {
            "source": self.source,
            "splits": {k: list(v) for k, v in self.split.items()},
            "chars": self.chars,
            "dtype": self.tokens.dtype.name,
        }


TOKENS_FILE = "tokens.bin"
VOCAB_FILE = "vocab.json"
SPLIT_FILE = "split.json"


def _boundaries(n: int, cfg: DataConfig) -> tuple[int, int]:
    a = int(n * (1 - cfg.val_fraction - cfg.test_fraction))
    b = int(n * (1 - cfg.test_fraction))
    return a, b


def prepare(cfg: DataConfig, out_dir: Path) -> Corpus:
    """Read, clean and encode ``cfg.data`` into ``out_dir`` (tokens, vocabulary, split)."""
    path = corpora.resolve(cfg.data)
    check_text_file(path, cfg.encoding)

    # Pass 1: sizes, hence the split; pass 2: the vocabulary of the training part.
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    total_chars, n = 0, 0
    for chunk in read_chunks(path, cfg.encoding, cfg.text_clean):
        total_chars += len(chunk)
        n += len(chunk) if cfg.level == "char" else sum(1 for _ in WORD_PATTERN.finditer(chunk))
    if n == 0:
        raise RnnkitError(f"{path} has no text left after cleaning ({cfg.text_clean}); pass a file with text in it")
    a, b = _boundaries(n, cfg)
    vocab = train_vocab(read_chunks(path, cfg.encoding, cfg.text_clean), cfg.level, cfg.max_vocab, a)

    # Pass 3: encode into a memory map (unknown tokens as <unk>), written under a temporary name and renamed.
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (TOKENS_FILE + ".tmp")
    arr = np.memmap(tmp, dtype=vocab.dtype, mode="w+", shape=(n,))
    pos = 0
    char_pos = 0
    char_at = {0: 0, n: total_chars}
    for chunk in read_chunks(path, cfg.encoding, cfg.text_clean):
        if cfg.level == "char":
            ids = vocab.encode_chars_array(chunk)
        else:
            matches = list(WORD_PATTERN.finditer(chunk))
            for k in (a, b):
                if pos <= k < pos + len(matches):
                    char_at[k] = char_pos + matches[k - pos].start()
            index, unk = vocab.index, vocab.index[vocab.unk]
            ids = np.fromiter((index.get(m.group(), unk) for m in matches), dtype=vocab.dtype, count=len(matches))
        arr[pos : pos + len(ids)] = ids
        pos += len(ids)
        char_pos += len(chunk)
    arr.flush()
    del arr
    os.replace(tmp, out_dir / TOKENS_FILE)
    if cfg.level == "char":
        char_at.update({a: a, b: b})
    chars = {"train": char_at[a], "val": char_at[b] - char_at[a], "test": total_chars - char_at[b]}
    corpus = Corpus(
        vocab=vocab,
        tokens=np.memmap(out_dir / TOKENS_FILE, dtype=vocab.dtype, mode="r", shape=(n,)),
        split={"train": (0, a), "val": (a, b), "test": (b, n)},
        chars=chars,
        source={"path": str(path), "bytes": path.stat().st_size, "sha256": sha.hexdigest()},
    )
    write_json(out_dir / VOCAB_FILE, vocab.to_json())
    write_json(out_dir / SPLIT_FILE, corpus.split_json())
    return corpus


def train_vocab(chunks: Iterator[str], level: str, max_vocab: int, n_train: int) -> Vocab:
    """The vocabulary of the first ``n_train`` tokens of the text in ``chunks`` (its training part)."""
    chars: set[str] = set()
    counts: Counter = Counter()
    seen = 0
    for chunk in chunks:
        if seen >= n_train:
            break
        if level == "char":
            chars.update(chunk[: n_train - seen])
            seen += len(chunk)
        else:
            words = WORD_PATTERN.findall(chunk)
            counts.update(words[: n_train - seen])
            seen += len(words)
    return Vocab.from_chars(chars) if level == "char" else Vocab.from_word_counts(counts, max_vocab)


def keep_fraction(corpus: Corpus, out_dir: Path, fraction: float, seed: int) -> Corpus:
    """The corpus with its training split cut to one contiguous block of ``fraction`` of it at a
    seeded offset (``--data-fraction``); validation and test are unchanged. The new split is
    written to ``out_dir``'s split file, with the whole training split it was taken from."""
    if fraction >= 1:
        return corpus
    a, b = corpus.split["train"]
    start, stop = subsample.block(b - a, fraction, seed, minimum=2)
    chars = dict(corpus.chars)
    # char level: one character per token; word level: the block's share of the split's characters
    chars["train"] = stop - start if corpus.vocab.level == "char" else round(corpus.chars["train"] * (stop - start) / (b - a))
    kept = Corpus(corpus.vocab, corpus.tokens, {**corpus.split, "train": (a + start, a + stop)}, chars, corpus.source)
    write_json(out_dir / SPLIT_FILE, {**kept.split_json(),
                                      "data_fraction": {"fraction": fraction, "seed": seed, "whole_train": [a, b]}})
    return kept


def open_prepared(run_dir: Path, vocab: Vocab) -> Corpus:
    """Re-open the token file and split a run directory was prepared with."""
    split_path = run_dir / SPLIT_FILE
    tokens_path = run_dir / TOKENS_FILE
    if not split_path.is_file() or not tokens_path.is_file():
        raise RnnkitError(
            f"{run_dir} has no prepared data ({TOKENS_FILE}, {SPLIT_FILE}); "
            f"evaluate needs the run directory that training wrote"
        )
    meta = read_json(split_path)
    try:
        dtype = np.dtype(meta["dtype"])
        split = {k: (int(meta["splits"][k][0]), int(meta["splits"][k][1])) for k in SPLITS}
        chars, source = {k: int(meta["chars"][k]) for k in SPLITS}, meta["source"]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise RnnkitError(f"{split_path} is malformed ({type(e).__name__}: {e}); the run directory is damaged")
    n = tokens_path.stat().st_size // dtype.itemsize
    if split["test"][1] != n:
        raise RnnkitError(f"{tokens_path} does not match {split_path}; the run directory is damaged")
    return Corpus(
        vocab=vocab,
        tokens=np.memmap(tokens_path, dtype=dtype, mode="r", shape=(n,)),
        split=split,
        chars=chars,
        source=source,
    )
