"""A seeded train/validation/test split of labelled examples (classification, tagging): stratified, or grouped.

Without groups the split is stratified: each label's examples are shuffled and cut so that
every label gives its fraction to validation and to test, within one example (the cut of each
label is floor(n * fraction), and the examples left over by the floors go to the labels with the
largest remainders, so the parts' sizes are the nearest whole numbers of the fractions).

With groups (``--group-column``: a speaker, a user, a source document) whole groups are dealt:
a group never has examples on two sides. Each group counts under its most frequent label; the
groups of each label are shuffled and dealt to test, then validation, while that part is more
than half a group short of its share. Stratification is then only approximate.

Either way a label with fewer than three examples stays whole in training, and every label keeps
at least one training example (a grouped split moves a label's smallest held-out group back).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

PARTS = ("train", "val", "test")
_MIN_SPLIT = 3  # a label with fewer examples stays in training: it could not be learned and scored both


def _quotas(sizes: np.ndarray, fraction: float) -> np.ndarray:
    """``(labels,)`` how many of each label's examples ``fraction`` takes: largest remainders."""
    exact = sizes * fraction
    out = np.floor(exact).astype(np.int64)
    short = int(round(exact.sum())) - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


def _stratified(labels: np.ndarray, val_fraction: float, test_fraction: float,
                rng: np.random.Generator) -> np.ndarray:
    names = sorted(set(labels.tolist()))
    members = [np.flatnonzero(labels == name) for name in names]
    sizes = np.array([len(m) for m in members]) * np.array([len(m) >= _MIN_SPLIT for m in members])
    n_test = np.minimum(_quotas(sizes, test_fraction), np.maximum(sizes - 1, 0))
    n_val = np.minimum(_quotas(sizes, val_fraction), np.maximum(sizes - 1 - n_test, 0))
    parts = np.full(len(labels), "train", dtype=object)
    for rows, t, v in zip(members, n_test, n_val):
        rows = rng.permutation(rows)
        parts[rows[:t]] = "test"
        parts[rows[t:t + v]] = "val"
    return parts


def _grouped(labels: np.ndarray, groups: np.ndarray, val_fraction: float, test_fraction: float,
             rng: np.random.Generator) -> np.ndarray:
    counts = Counter(labels.tolist())
    rows_of: dict[str, list[int]] = {}
    for i, g in enumerate(groups.tolist()):
        rows_of.setdefault(g, []).append(i)
    by_label: dict[str, list[str]] = {}
    for g in sorted(rows_of):
        group_labels = Counter(labels[rows_of[g]].tolist())
        if any(counts[label] < _MIN_SPLIT for label in group_labels):
            continue  # stays in training
        top = max(sorted(group_labels), key=lambda label: group_labels[label])
        by_label.setdefault(top, []).append(g)
    parts = np.full(len(labels), "train", dtype=object)
    for label in sorted(by_label):
        names = by_label[label]
        share = sum(len(rows_of[g]) for g in names)
        want = {"test": share * test_fraction, "val": share * val_fraction}
        taken = {"train": 0, "test": 0, "val": 0}
        for k in rng.permutation(len(names)):
            size = len(rows_of[names[k]])
            part = next((p for p in ("test", "val") if taken[p] + size / 2 < want[p]), "train")
            parts[rows_of[names[k]]] = part
            taken[part] += size
    _keep_each_label_in_training(labels, groups, parts, rows_of)
    return parts


def _keep_each_label_in_training(labels: np.ndarray, groups: np.ndarray, parts: np.ndarray,
                                 rows_of: dict[str, list[int]]) -> None:
    """Move the smallest held-out group of each label missing from training back to training."""
    for label in sorted(set(labels.tolist()) - set(labels[parts == "train"].tolist())):
        held = sorted(set(groups[labels == label].tolist()), key=lambda g: (len(rows_of[g]), g))
        parts[rows_of[held[0]]] = "train"


def split_parts(labels: list[str], groups: list[str] | None, val_fraction: float, test_fraction: float,
                seed: int) -> list[str]:
    """The part, ``"train"``, ``"val"`` or ``"test"``, of every example; the same for the same seed.

    ``test_fraction=0`` makes no test part (a ``--test`` file is given; validation is then carved
    from the training file alone).
    """
    if not (val_fraction >= 0 and test_fraction >= 0 and val_fraction + test_fraction < 1):
        raise ValueError(f"fractions must be >= 0 and leave some for training: {val_fraction}, {test_fraction}")
    if groups is not None and len(groups) != len(labels):
        raise ValueError(f"{len(groups)} groups for {len(labels)} labels")
    rng = np.random.default_rng(seed)
    labels_ = np.array(labels, dtype=object)
    if groups is None:
        return _stratified(labels_, val_fraction, test_fraction, rng).tolist()
    return _grouped(labels_, np.array(groups, dtype=object), val_fraction, test_fraction, rng).tolist()
