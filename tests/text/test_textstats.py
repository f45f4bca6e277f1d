"""Memorization and diversity checks of generated text."""

import numpy as np

from rnnkit.text.textstats import NGramIndex, distinct_n, longest_copy, sample_stats


def ids(text):
    return np.frombuffer(text.encode(), dtype=np.uint8).astype(np.uint16)


TRAIN = "alice was beginning to get very tired of sitting by her sister on the bank"


def test_verbatim_copy_is_fully_memorized():
    index = NGramIndex(ids(TRAIN))
    sample = ids("to get very tired of sitting")
    assert index.found(sample, 8).all()
    assert longest_copy(index, sample) == len(sample)


def test_novel_text_is_not_memorized():
    index = NGramIndex(ids(TRAIN))
    sample = ids("xyzzy plugh qwerty zork")
    assert not index.found(sample, 8).any()
    assert longest_copy(index, sample) < 3


def test_partial_copy_fractions():
    index = NGramIndex(ids(TRAIN))
    sample = ids("sister on the bank") + 0  # 18 chars, copied
    novel = ids("qqqqqqqqqqqqqqqqqq")
    stats = sample_stats(index, [sample, novel], ["sister on the bank", "qqq"], lengths=(8,))
    assert stats.memorized["8"] == 0.5  # 11 of 22 windows
    assert stats.longest_copy == 18


def test_distinct_n():
    assert distinct_n(["the the the the"], 1) == 0.25
    assert distinct_n(["a b c d"], 2) == 1.0
    assert distinct_n(["a b a b a b"], 2) == 2 / 5
