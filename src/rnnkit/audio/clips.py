"""A labelled folder of WAV clips: labels, groups (speakers) and a leak-free split.

Labels come from the clips' subfolder names (``DIR/yes/a.wav`` is ``yes``), or from the first
group of a regular expression on the file name (``--label-pattern '^(\\d)_'`` for the Free
Spoken Digit Dataset's ``DIGIT_SPEAKER_INDEX.wav``). A group, usually the speaker, comes the
same way from ``--group-pattern``.

Splits (``--split``):

- ``random``: a seeded 80/10/10 shuffle of the clips;
- ``group``: whole groups held out: the test part is ``--test-group NAME`` (or a seeded choice),
  and validation is a seeded 10% of the other clips; a speaker is never in training and test;
- ``pattern``: the clips whose file name matches ``--test-pattern`` are the test part (FSDD's
  convention: ``'_[0-4]\\.wav$'``), validation a seeded 10% of the others.

The split is written into the run (``split.json``: every file with its label, group and part, and
the split's seed), so a run is evaluated again on exactly the same clips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.config import check_choices, option, require
from ..core.errors import RnnkitError
from .wav import BadWavFile, list_wavs, read_wav

SPLITS = ("train", "val", "test")


@dataclass
class ClipsConfig:
    data: str = option("", "folder of WAV files (labels from subfolder names or --label-pattern)")
    label_pattern: str = option("", "regular expression on the file name whose first group is the label "
                                    "(FSDD: '^(\\d)_'); default: the subfolder name")
    group_pattern: str = option("", "regular expression on the file name whose first group is the clip's group, "
                                    "e.g. its speaker (FSDD: '^\\d_([a-z]+)_')")
    split: str = option("random", "random (80/10/10), group (hold out whole groups) or pattern (test = files "
                        "matching --test-pattern)", ("random", "group", "pattern"))
    test_group: str = option("", "--split group: the group to test on (default: a seeded choice)")
    test_pattern: str = option("", "--split pattern: regular expression on the file name of the test clips")
    val_fraction: float = option(0.1, "fraction of the clips (of the non-test clips for group and pattern "
                                      "splits) for validation")
    test_fraction: float = option(0.1, "--split random: fraction of the clips for test")
    # None, not a fixed number: a run saved before this option has no split_seed and was split by --seed
    split_seed: int | None = option(None, "seed of the split (the shuffle, the validation clips, a seeded "
                                          "--test-group; default: --seed); fix it to vary --seed without "
                                          "changing the split")
    skip_bad_files: bool = option(False, "skip unreadable, silent or too short files (listed) instead of stopping")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("label_pattern", "group_pattern", "test_pattern"):
            value = getattr(self, name)
            if value:
                try:
                    re.compile(value)
                except re.error as e:
                    raise RnnkitError(f"--{name.replace('_', '-')}: {value!r} is not a regular expression ({e})")
        require(0 < self.val_fraction < 1, "val_fraction", f"must be in (0, 1), got {self.val_fraction}")
        require(0 < self.test_fraction < 1, "test_fraction", f"must be in (0, 1), got {self.test_fraction}")
        if self.split == "pattern":
            require(bool(self.test_pattern), "test_pattern", "is needed with --split pattern")
        if self.split == "group":
            require(bool(self.group_pattern), "group_pattern", "is needed with --split group (it names each clip's group)")


@dataclass
class Clip:
    path: str  # relative to the data folder
    label: str
    group: str


def _match(pattern: str, name: str, what: str, flag: str) -> str:
    m = re.search(pattern, name)
    if not m:
        raise RnnkitError(f"{flag} {pattern!r} does not match the file name {name!r}; fix the pattern so that its "
                          f"first group captures the {what}")
    return m.group(1) if m.groups() else m.group(0)


def find_clips(cfg: ClipsConfig) -> list[Clip]:
    """Every WAV file of the folder with its label and group (sorted by path)."""
    root = Path(cfg.data)
    if not cfg.data:
        raise RnnkitError("--data is required: a folder of WAV files")
    clips = []
    for path in list_wavs(root):
        rel = path.relative_to(root)
        if cfg.label_pattern:
            label = _match(cfg.label_pattern, path.name, "label", "--label-pattern")
        elif len(rel.parts) > 1:
            label = rel.parts[0]
        else:
            raise RnnkitError(f"{rel} is not in a subfolder, so it has no label; put each class in its own subfolder "
                              f"or pass --label-pattern")
        group = _match(cfg.group_pattern, path.name, "group", "--group-pattern") if cfg.group_pattern else ""
        clips.append(Clip(rel.as_posix(), label, group))
    labels = sorted({c.label for c in clips})
    if len(labels) < 2:
        raise RnnkitError(f"all {len(clips)} clips have the label {labels[0]!r}; a classifier needs at least two "
                          f"classes (check --label-pattern or the subfolders)")
    return clips


def read_clips(cfg: ClipsConfig, clips: list[Clip], rate: int) -> tuple[list[np.ndarray], list[Clip], list[str]]:
    """The waves of ``clips`` at ``rate``; with ``skip_bad_files`` the bad ones are dropped and listed."""
    waves, kept, skipped = [], [], []
    for clip in clips:
        try:
            waves.append(read_wav(Path(cfg.data) / clip.path, rate))
            kept.append(clip)
        except BadWavFile as e:
            if not cfg.skip_bad_files:
                raise
            skipped.append(f"{clip.path}: {e}")
    if not kept:
        raise RnnkitError(f"no readable clip in {cfg.data}")
    return waves, kept, skipped


def split_clips(cfg: ClipsConfig, clips: list[Clip], seed: int) -> list[str]:
    """The part (``train``, ``val`` or ``test``) of every clip."""
    rng = np.random.default_rng(seed)
    n = len(clips)
    parts = np.array(["train"] * n, dtype=object)
    if cfg.split == "random":
        order = rng.permutation(n)
        n_test, n_val = max(1, round(cfg.test_fraction * n)), max(1, round(cfg.val_fraction * n))
        parts[order[:n_test]] = "test"
        parts[order[n_test:n_test + n_val]] = "val"
    else:
        if cfg.split == "group":
            groups = sorted({c.group for c in clips})
            if len(groups) < 2:
                raise RnnkitError(f"--split group needs at least two groups; --group-pattern found {len(groups)}")
            test_group = cfg.test_group or groups[int(rng.integers(len(groups)))]
            if test_group not in groups:
                raise RnnkitError(f"--test-group {test_group!r} is not a group of the data; groups: {', '.join(groups)}")
            is_test = np.array([c.group == test_group for c in clips])
        else:
            is_test = np.array([re.search(cfg.test_pattern, Path(c.path).name) is not None for c in clips])
            if not is_test.any():
                raise RnnkitError(f"--test-pattern {cfg.test_pattern!r} matches no file name (e.g. "
                                  f"{Path(clips[0].path).name!r}); fix the pattern")
        if is_test.all():
            raise RnnkitError("every clip is in the test part; nothing is left to train on")
        parts[is_test] = "test"
        rest = np.flatnonzero(~is_test)
        val = rng.permutation(rest)[:max(1, round(cfg.val_fraction * len(rest)))]
        parts[val] = "val"
    train_labels = {c.label for c, p in zip(clips, parts) if p == "train"}
    missing = sorted({c.label for c in clips} - train_labels)
    if missing:
        raise RnnkitError(f"the training part has no clip of {', '.join(map(repr, missing))}; use another split")
    return parts.tolist()
