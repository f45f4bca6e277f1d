"""A run's examples: the training file split (or the given validation and test files), recorded.

Without ``--validation``/``--test`` the training file is split stratified by label (grouped by
``--group-column``; ``split.py``); a given file is a whole part. The parts of the training file's
examples, the files' SHA-256 and the labels are written into the run (``split.json``), so a run
is evaluated again, or resumed, on exactly the same examples, and a changed file is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import RnnkitError
from ..core.fileio import check_unchanged, read_json, sha256
from .examples import DataConfig, Examples, check_labels, read_examples
from ..core.split import split_parts

SPLIT_FILE = "split.json"
FILES = (("data", "train"), ("validation", "val"), ("test", "test"))  # option -> the part a whole file is


@dataclass
class Parts:
    examples: Examples  # every example of every file, the training file's first
    parts: list[str]  # "train", "val", "test" or "unused" (--data-fraction) per example
    sha256: dict[str, str]  # option (data, validation, test) -> its file's SHA-256


def label_order(labels: set[str]) -> list[str]:
    """Numbers in numeric order (``2`` before ``10``), else code-point order."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def concat(parts: list[Examples]) -> Examples:
    first = parts[0]
    for e in parts[1:]:
        if e.kind != first.kind or e.channels != first.channels:
            raise RnnkitError(f"the files hold different kinds of sequences ({first.kind}, {len(first.channels)} "
                              f"channels vs {e.kind}, {len(e.channels)}); give files of one kind")
    groups = None if any(e.groups is None for e in parts) else [g for e in parts for g in e.groups]
    return Examples(first.kind, [x for e in parts for x in e.inputs], [y for e in parts for y in e.labels],
                    [i for e in parts for i in e.ids], groups, first.channels)


def read_files(cfg: DataConfig) -> list[Examples]:
    """The examples of each given file, training first."""
    if not cfg.data:
        raise RnnkitError("--data is required: the file of labelled training sequences")
    return [read_examples(getattr(cfg, option), cfg, labelled=True) for option, _ in FILES if getattr(cfg, option)]


def checksums(cfg: DataConfig) -> dict[str, str]:
    """Each given file's SHA-256, by option."""
    return {option: sha256(getattr(cfg, option)) for option, _ in FILES if getattr(cfg, option)}


def assign(cfg: DataConfig, files: list[Examples], seed: int) -> list[str]:
    """The part of every example: the training file split as the options say, given files whole."""
    given = [option for option, _ in FILES if getattr(cfg, option)]
    train_file = files[0]
    parts = split_parts(train_file.labels, train_file.groups, 0.0 if cfg.validation else cfg.val_fraction,
                        0.0 if cfg.test else cfg.test_fraction, seed)
    for option, e in zip(given[1:], files[1:]):
        parts += [dict(FILES)[option]] * len(e.inputs)
    return parts


def check(examples: Examples, parts: list[str]) -> list[str]:
    """The sorted training labels, after checking that training has two and the other parts no new one."""
    part = np.array(parts)
    train = {y for y, p in zip(examples.labels, parts) if p == "train"}
    if len(train) < 2:
        raise RnnkitError(f"the training examples have {len(train)} label(s) ({', '.join(map(repr, sorted(train)))}); "
                          f"a classifier needs at least two: check --label-column")
    for p, where in (("val", "the validation part"), ("test", "the test part")):
        check_labels(sorted(train), [y for y, q in zip(examples.labels, part) if q == p], where)
    return label_order(train)


def prepare(cfg: DataConfig, seed: int) -> Parts:
    """A new run's examples, their parts and the files' checksums."""
    files = read_files(cfg)
    return Parts(concat(files), assign(cfg, files, seed), checksums(cfg))


def reread(run_dir: Path, cfg: DataConfig) -> Parts:
    """The examples of a saved run, read again from its files, with the recorded parts."""
    saved = read_json(Path(run_dir) / SPLIT_FILE)
    check_unchanged(saved["sha256"], {option: getattr(cfg, option) for option in saved["sha256"]}, "examples")
    return Parts(concat(read_files(cfg)), saved["parts"], saved["sha256"])
