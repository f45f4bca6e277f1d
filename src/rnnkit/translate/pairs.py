"""Sentence pairs for translation: reading a tab-separated file and a leak-free split.

The input is one pair per line, columns separated by tabs (``English<TAB>Spanish`` for the
Tatoeba/Anki files; a third attribution column is ignored). Tatoeba repeats a source sentence
with several translations, so the split groups pairs by their normalized source: a sentence
seen in training never reappears in validation or test, and the test set keeps all of its
translations as references for BLEU. The split is stored in the run directory
(``pairs/<split>.tsv``) so a run can be evaluated without the original file.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.config import check_encoding, check_split_fractions, flag_name, option, require
from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes

SPLITS = ("train", "val", "test")
PAIRS_DIR = "pairs"


@dataclass
class PairsConfig:
    data: str = option("", "tab-separated file of sentence pairs, one pair per line")
    source_column: int = option(1, "column of the source sentence (1-based)")
    target_column: int = option(2, "column of the target sentence (1-based)")
    encoding: str = option("utf-8", "text encoding of the data file")
    lowercase: bool = option(False, "lowercase both sides")
    max_length: int = option(50, "training pairs with more tokens than this on either side are left out (0 = keep all)")
    val_fraction: float = option(0.1, "fraction of the pairs for validation")
    test_fraction: float = option(0.1, "fraction of the pairs for test")
    # None, not a fixed number: a run saved before this option has no split_seed and was split by --seed
    split_seed: int | None = option(None, "seed of the train/validation/test split (default: --seed); fix it "
                                          "to vary --seed without changing the split")

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        require(self.source_column >= 1, "source_column", f"must be 1 or more, got {self.source_column}")
        require(self.target_column >= 1, "target_column", f"must be 1 or more, got {self.target_column}")
        require(
            self.source_column != self.target_column,
            "target_column",
            f"must differ from --source-column (both are {self.source_column})",
        )
        require(self.max_length >= 0, "max_length", f"must be 0 or more, got {self.max_length}")
        check_split_fractions(self.val_fraction, self.test_fraction)


@dataclass(frozen=True)
class Pair:
    source: str
    target: str
    line: int  # 1-based line number in the data file


def _clean(text: str, lowercase: bool) -> str:
    text = unicodedata.normalize("NFC", text.lower() if lowercase else text)
    return " ".join(text.split())


def group_key(source: str) -> str:
    """The source as used for grouping: case- and spacing-insensitive, canonically composed."""
    # NFD before casefold is Unicode's canonical caseless matching; NFC gives one spelling.
    return " ".join(unicodedata.normalize("NFC", unicodedata.normalize("NFD", source).casefold()).split())


# -- reading ---------------------------------------------------------------------------------
def _data_path(cfg: PairsConfig) -> Path:
    """The data file, checked for the mistakes that would otherwise give a confusing error."""
    require(cfg.data != "", "data", "no data file given; pass --data FILE, a tab-separated file of sentence pairs")
    path = Path(cfg.data).expanduser()
    if path.is_dir():
        raise RnnkitError(f"{path} is a directory; pass a tab-separated file of sentence pairs")
    if not path.is_file():
        raise RnnkitError(f"data file {path} not found; pass an existing tab-separated file of sentence pairs")
    try:
        with path.open("rb") as f:
            head = f.read(8192)
    except OSError as e:
        raise RnnkitError(f"{path} could not be read ({e.strerror}); check that the file is readable")
    if not head:
        raise RnnkitError(f"{path} is empty; pass a file with one tab-separated sentence pair per line")
    if b"\x00" in head and not cfg.encoding.lower().replace("-", "").startswith(("utf16", "utf32")):
        raise RnnkitError(f"{path} looks like a binary file (it contains NUL bytes); pass a plain text file")
    return path


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)``; lines end at ``\\n`` only (a ``\\r`` before it is whitespace)."""
    fix = "pass --encoding with the file's encoding, e.g. --encoding latin-1"
    if "\n".encode(encoding) == b"\n":
        # ASCII-compatible encodings: decode line by line so an error names the exact line.
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    yield n, raw.decode(encoding)
                except UnicodeDecodeError as e:
                    raise RnnkitError(f"{path} line {n} is not valid {encoding} text ({e.reason}); {fix}")
    else:
        n = 0
        try:
            with path.open(encoding=encoding, newline="\n") as f:
                for n, text in enumerate(f, 1):
                    yield n, text
        except UnicodeDecodeError as e:
            raise RnnkitError(f"{path} is not valid {encoding} text ({e.reason}, near line {n + 1}); {fix}")


def read_pairs(cfg: PairsConfig) -> list[Pair]:
    """Read, normalize (NFC, collapsed spaces, optional lowercase) and check every pair."""
    path = _data_path(cfg)
    need = max(cfg.source_column, cfg.target_column)
    pairs: list[Pair] = []
    short: tuple[int, int] | None = None  # first line with too few columns
    widths: set[int] = set()
    for n, text in _lines(path, cfg.encoding):
        if n == 1:
            text = text.lstrip("\ufeff")
        if not text.strip():
            continue
        cols = text.split("\t")
        widths.add(len(cols))
        if short is not None:
            continue  # only the column counts matter now, to word the error
        if len(cols) < need:
            short = (n, len(cols))
            continue
        source = _clean(cols[cfg.source_column - 1], cfg.lowercase)
        target = _clean(cols[cfg.target_column - 1], cfg.lowercase)
        for side, col, value in (("source", cfg.source_column, source), ("target", cfg.target_column, target)):
            if not value:
                raise RnnkitError(f"{path} line {n} has an empty {side} side (column {col}); fill in or remove it")
        pairs.append(Pair(source, target, n))
    if short is not None:
        name = "source_column" if cfg.source_column == need else "target_column"
        most = max(widths)
        if most < need:
            has = f"{most} column{'s' * (most > 1)}" if len(widths) == 1 else f"at most {most} columns"
            raise RnnkitError(f"{flag_name(name)} {need} is out of range: the file has {has}; pass 1 to {most}")
        n, k = short
        raise RnnkitError(
            f"{path} line {n} has {k} column{'s' * (k > 1)} but {flag_name(name)} {need} needs at least {need}; "
            f"fix that line (columns are separated by tabs) or remove it"
        )
    if not pairs:
        raise RnnkitError(f"{path} has no sentence pairs (only blank lines); pass a file with one pair per line")
    return pairs


# -- splitting -------------------------------------------------------------------------------
def split_pairs(pairs: list[Pair], val_fraction: float, test_fraction: float, seed: int) -> dict[str, list[Pair]]:
    """Split into train/val/test by source group, about the given fractions of the pairs each."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(group_key(p.source), []).append(i)
    ordered = list(groups.values())  # first-appearance order, so the shuffle depends on the seed only
    n = len(pairs)
    want = {"test": max(1, round(test_fraction * n)), "val": max(1, round(val_fraction * n))}
    taken: dict[str, list[int]] = {name: [] for name in SPLITS}
    for g in np.random.default_rng(seed).permutation(len(ordered)):
        name = next((s for s in ("test", "val") if len(taken[s]) < want[s]), "train")
        taken[name].extend(ordered[g])
    if not all(taken.values()):
        raise RnnkitError(
            f"only {n} pairs in {len(ordered)} groups (pairs with the same source sentence stay together), "
            f"too few to give train, validation and test one each; use a bigger file"
        )
    return {name: [pairs[i] for i in sorted(taken[name])] for name in SPLITS}


def references(pairs: list[Pair]) -> list[tuple[str, list[str]]]:
    """Each distinct source (first-seen order) with all its targets: the references for BLEU."""
    refs: dict[str, list[str]] = {}
    for p in pairs:
        refs.setdefault(p.source, []).append(p.target)
    return list(refs.items())


# -- the run directory -----------------------------------------------------------------------
def write_splits(run_dir: Path, splits: dict[str, list[Pair]]) -> None:
    """Store each split as ``pairs/<name>.tsv`` (``line<TAB>source<TAB>target``, UTF-8)."""
    for name, part in splits.items():
        text = "".join(f"{p.line}\t{p.source}\t{p.target}\n" for p in part)
        atomic_write_bytes(run_dir / PAIRS_DIR / f"{name}.tsv", text.encode("utf-8"))


def read_split(run_dir: Path, name: str) -> list[Pair]:
    """The pairs of one split as :func:`write_splits` stored them."""
    if name not in SPLITS:
        raise RnnkitError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
    path = run_dir / PAIRS_DIR / f"{name}.tsv"
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise RnnkitError(f"{path} could not be read ({e}); the run directory is damaged")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    out = []
    for n, text in enumerate(lines, 1):
        cols = text.split("\t")
        if len(cols) != 3 or not (cols[0].isascii() and cols[0].isdigit()) or not cols[1] or not cols[2]:
            raise RnnkitError(f"{path} line {n} is not 'line<TAB>source<TAB>target'; the run directory is damaged")
        out.append(Pair(cols[1], cols[2], int(cols[0])))
    return out


def split_summary(cfg: PairsConfig, splits: dict[str, list[Pair]], seed: int) -> dict:
    """What the run was split from and how (``seed``: the split's seed), for the run's ``split.json``."""
    path = Path(cfg.data).expanduser()
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return {
        "data": {"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": sha.hexdigest()},
        "source_column": cfg.source_column,
        "target_column": cfg.target_column,
        "seed": seed,
        "splits": {
            name: {"pairs": len(part), "groups": len({group_key(p.source) for p in part})}
            for name, part in splits.items()
        },
    }
