"""What ``rnnkit diagnose`` measures on a language-model run (see ``diagnose/bias_variance.py``).

Errors are cross-entropies in bits per token (bits/char at the character level, bits/word at
the word level), of the recurrent model alone (a mixed-in n-gram is left out: it was fitted on
the validation split). The reference is the best interpolated Kneser-Ney n-gram (orders 1-6)
counted on the run's training split and scored on its validation split: a cheap, strong
baseline that a recurrent model should at least match on the text it was trained on.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..core import subsample
from ..core.errors import RnnkitError
from ..diagnose.bias_variance import Measurement, Thresholds
from . import api, evaluation, textdata
from .ngram import NGramConfig, NGramModel

REFERENCE_ORDERS = (1, 2, 3, 4, 5, 6)
TRAIN_SAMPLE = 200_000  # the most training tokens scored (as many as the validation split has, up to this)
RELATIVE_THRESHOLD = 0.05  # a gap above 5% of the validation error is high


def bits_per_token(nll: float, count: int) -> float:
    return nll / max(count, 1) / math.log(2)


def best_ngram(train: np.ndarray, val: np.ndarray, vocab_size: int, discount: float) -> tuple[float, int]:
    """(bits per token on ``val``, order) of the best Kneser-Ney n-gram counted on ``train``."""
    best = (math.inf, 0)
    for order in REFERENCE_ORDERS:
        if order > len(train):
            break
        model = NGramModel.fit(NGramConfig(order=order, discount=discount), train, vocab_size)
        nll, _, count = evaluation.score(model, val)
        best = min(best, (bits_per_token(nll, count), order))
    return best


def train_sample(train: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded contiguous block of ``size`` tokens (at most TRAIN_SAMPLE, at most all) of the training split."""
    size = min(len(train), size, TRAIN_SAMPLE)
    a, b = subsample.block(len(train), size / len(train), seed)
    return train[a:b]


def measure(run_dir: Path, reference: bool = True, device: str = "cpu") -> Measurement:
    """Train (a seeded block of the training split as long as the validation split, evaluation mode) and
    validation bits per token;
    the n-gram reference unless ``reference`` is False (the user gives one)."""
    lm = api.load(run_dir, device, mix=False)
    if api.is_infill(lm):
        raise RnnkitError(f"{run_dir} was trained with --objective infill, whose errors are not next-token errors; "
                          f"diagnose a stream or window run")
    corpus = textdata.open_prepared(Path(run_dir), lm.vocab)
    train, val = corpus.part("train"), corpus.part("val")
    window = lm.config.window
    tr_nll, _, tr_count = evaluation.score(lm.model, train_sample(train, len(val), lm.config.train.seed), lm.device,
                                           window)
    va_nll, _, va_count = evaluation.score(lm.model, val, lm.device, window)
    validation = bits_per_token(va_nll, va_count)
    ref, name = None, ""
    if reference:
        ref, order = best_ngram(train, val, len(lm.vocab), lm.config.ngram.discount)
        name = f"best Kneser-Ney n-gram (order {order}) counted on the training split"
    share = RELATIVE_THRESHOLD * validation
    return Measurement(bits_per_token(tr_nll, tr_count), validation, ref, name, f"bits/{lm.vocab.level}",
                       Thresholds(share, share), tr_count, va_count,
                       variance_flags=("--noise-prob 0.1 --noise unigram",))
