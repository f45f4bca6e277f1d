"""A run's sentences: the training file split (or the given validation and test files), recorded.

Without ``--validation``/``--test`` the training file's sentences are split 80/10/10 at random
(seeded), whole documents at a time where the file marks documents (CoNLL ``-DOCSTART-``,
CoNLL-U ``# newdoc``), so no document has sentences on two sides. The parts, the files' SHA-256
and the scheme are written into the run (``split.json``): a run is evaluated again, or resumed,
on exactly the same sentences, and a changed file is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import RnnkitError
from ..core.fileio import check_unchanged, read_json, sha256
from ..core.split import split_parts
from . import scheme as schemes
from .formats import Sentence, TagDataConfig, read_sentences

SPLIT_FILE = "split.json"
FILES = (("data", "train"), ("validation", "val"), ("test", "test"))  # option -> the part a whole file is


@dataclass
class Parts:
    sentences: list[Sentence]  # every sentence of every file, the training file's first
    parts: list[str]  # "train", "val", "test" or "unused" (--data-fraction) per sentence
    sha256: dict[str, str]  # option (data, validation, test) -> its file's SHA-256
    files: list[str]  # the option each sentence came from


def read_files(cfg: TagDataConfig) -> list[tuple[str, list[Sentence]]]:
    if not cfg.data:
        raise RnnkitError("--data is required: the file of tagged training sentences (CoNLL-U or CoNLL columns)")
    return [(option, read_sentences(getattr(cfg, option), cfg)) for option, _ in FILES if getattr(cfg, option)]


def assign(cfg: TagDataConfig, files: list[tuple[str, list[Sentence]]], seed: int) -> list[str]:
    """The part of every sentence: the training file's split by document (or sentence), given files whole."""
    train = files[0][1]
    docs = [str(s.doc) for s in train]
    groups = docs if len(set(docs)) > 1 else None
    parts = split_parts(["sentence"] * len(train), groups, 0.0 if cfg.validation else cfg.val_fraction,
                        0.0 if cfg.test else cfg.test_fraction, seed)
    for option, sentences in files[1:]:
        parts += [dict(FILES)[option]] * len(sentences)
    return parts


def prepare(cfg: TagDataConfig, seed: int) -> Parts:
    files = read_files(cfg)
    return Parts([s for _, ss in files for s in ss], assign(cfg, files, seed),
                 {option: sha256(getattr(cfg, option)) for option, _ in files},
                 [option for option, ss in files for _ in ss])


def reread(run_dir: Path, cfg: TagDataConfig) -> Parts:
    """The sentences of a saved run, read again from its files, with the recorded parts."""
    saved = read_json(Path(run_dir) / SPLIT_FILE)
    check_unchanged(saved["sha256"], {option: getattr(cfg, option) for option in saved["sha256"]}, "sentences")
    files = read_files(cfg)
    return Parts([s for _, ss in files for s in ss], saved["parts"], saved["sha256"],
                 [option for option, ss in files for _ in ss])


def check(data: Parts, cfg: TagDataConfig) -> tuple[list[str], str, list[str]]:
    """The training tags (sorted), the scheme, and notes on invalid tag sequences in the files.

    A tag set with one tag is an error; under ``iob2-strict`` so is an invalid sequence (file and line).
    """
    train_tags = {t for s, p in zip(data.sentences, data.parts) if p == "train" for t in s.tags}
    if len(train_tags) < 2:
        raise RnnkitError(f"the training sentences have {len(train_tags)} tag(s) ({', '.join(map(repr, sorted(train_tags)))})"
                          f"; a tagger needs at least two: check --tag-column")
    scheme = schemes.resolve(cfg.scheme, {t for s in data.sentences for t in s.tags})
    bad = [(s, i, f) for s, f in zip(data.sentences, data.files) for i in schemes.invalid_positions(s.tags, scheme)]
    notes = []
    if bad:
        s, i, option = bad[0]
        where = f"{getattr(cfg, option)} line {s.lines[min(i, len(s.lines) - 1)]}"
        if scheme == "iob2-strict":
            raise RnnkitError(f"{where}: tag {s.tags[i] if i < len(s.tags) else 'end'!r} cannot follow "
                              f"{s.tags[i - 1] if i else 'the sentence start'!r} under --scheme iob2-strict; fix the "
                              f"file or pass --scheme iob2 (an I-X after O then begins a span, as conlleval reads it)")
        notes.append(f"{len(bad)} invalid tag transition(s) under {scheme} (first at {where}); scored as conlleval "
                     f"reads them, and never predicted")
    return sorted(train_tags), scheme, notes
