"""The classification split: stratified per label, grouped without a group on two sides, seeded."""

from collections import Counter

import numpy as np
import pytest

from rnnkit.core.split import split_parts

SIZES = {"a": 503, "b": 121, "c": 37, "d": 9, "e": 3, "f": 2, "g": 1}


def shuffled_labels(seed=0):
    labels = [name for name, n in SIZES.items() for _ in range(n)]
    return np.random.default_rng(seed).permutation(labels).tolist()


@pytest.mark.parametrize("val, test", [(0.1, 0.1), (0.2, 0.15), (0.1, 0.0)])
def test_each_label_gives_its_fraction_within_one_example(val, test):
    labels = shuffled_labels()
    parts = split_parts(labels, None, val, test, seed=3)
    counts = Counter(zip(labels, parts))
    for name, n in SIZES.items():
        if n < 3:  # too few to learn and score: all in training
            assert counts[name, "train"] == n
            continue
        assert abs(counts[name, "val"] - n * val) < 1 and abs(counts[name, "test"] - n * test) < 1
        assert counts[name, "train"] >= 1
    held = [n for n in SIZES.values() if n >= 3]
    assert parts.count("val") == round(sum(held) * val) and parts.count("test") == round(sum(held) * test)
    if test == 0:
        assert "test" not in parts


def test_tiny_labels_keep_a_training_example_even_at_large_fractions():
    labels = ["x"] * 3 + ["y"] * 4
    for seed in range(20):
        parts = split_parts(labels, None, 0.45, 0.45, seed)
        assert {lab for lab, p in zip(labels, parts) if p == "train"} == {"x", "y"}


def test_the_split_follows_the_seed_only():
    labels = shuffled_labels()
    assert split_parts(labels, None, 0.1, 0.1, 7) == split_parts(list(labels), None, 0.1, 0.1, 7)
    assert split_parts(labels, None, 0.1, 0.1, 7) != split_parts(labels, None, 0.1, 0.1, 8)


def grouped_data(seed=0):
    """120 users with 1-9 examples each; most of a user's examples share the user's favourite label."""
    rng = np.random.default_rng(seed)
    labels, groups = [], []
    for u in range(120):
        favourite = "pos" if u % 3 else "neg"
        for _ in range(int(rng.integers(1, 10))):
            labels.append(favourite if rng.random() < 0.8 else "mixed")
            groups.append(f"user{u}")
    return labels, groups


def test_a_group_never_sits_on_two_sides():
    labels, groups = grouped_data()
    parts = split_parts(labels, groups, 0.1, 0.1, seed=1)
    sides = {}
    for g, p in zip(groups, parts):
        sides.setdefault(g, set()).add(p)
    assert all(len(s) == 1 for s in sides.values())
    n = len(labels)
    for name in ("val", "test"):  # whole groups, so only about the fraction
        assert 0.05 * n < parts.count(name) < 0.15 * n
    assert {lab for lab, p in zip(labels, parts) if p == "train"} == set(labels)


def test_grouped_split_is_seeded():
    labels, groups = grouped_data()
    assert split_parts(labels, groups, 0.1, 0.1, 4) == split_parts(labels, groups, 0.1, 0.1, 4)
    assert split_parts(labels, groups, 0.1, 0.1, 4) != split_parts(labels, groups, 0.1, 0.1, 5)
    assert "test" not in split_parts(labels, groups, 0.1, 0.0, 4)


def test_grouped_split_keeps_every_label_in_training():
    # "rare" only ever appears as the minority of groups led by "common": dealing those groups out
    # to validation and test would leave no "rare" example to train on
    labels, groups = [], []
    for g in range(6):
        labels += ["common"] * 4 + (["rare"] if g < 3 else [])
        groups += [f"g{g}"] * (5 if g < 3 else 4)
    for seed in range(40):
        parts = split_parts(labels, groups, 0.3, 0.3, seed)
        assert "rare" in {lab for lab, p in zip(labels, parts) if p == "train"}, seed
        assert "common" in {lab for lab, p in zip(labels, parts) if p == "train"}, seed


def test_a_group_holding_a_label_of_one_or_two_examples_stays_in_training():
    labels = ["a"] * 30 + ["b"] * 30 + ["once"]
    groups = [f"g{i}" for i in range(60)] + ["g0"]
    for seed in range(10):
        parts = split_parts(labels, groups, 0.2, 0.2, seed)
        assert parts[0] == parts[-1] == "train"
