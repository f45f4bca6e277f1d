"""A text classifier mixed with a bag-of-n-grams classifier: the RNN + TF-IDF combination.

After training, a text run fits the classic sentence classifier (``baseline.tfidf_logistic``:
TF-IDF of words and word pairs, logistic regression) on the same training texts and mixes the
two class distributions with one weight::

    p(c | x) = (1 - w) * p_rnn(c | x) + w * p_tfidf(c | x)

``w`` scores best on the validation part (a grid of 0.01) by the run's ``--select``: the lowest
error, equal errors going to the lower log loss (the default), or the lowest log loss; so it is
0 when the bag of n-grams adds nothing. The two err on different sentences: the counts remember every
word pair of a small training set, which the recurrent model, trained to near-zero loss, only
half uses (Mesnil et al., "Ensemble of generative and discriminative techniques for sentiment
analysis of movie reviews", 2014, mix an RNN language model with NB-SVM the same way).

The fitted reference is stored as arrays (its n-grams in the checkpoint's JSON, idf and
weights as tensors) and applied with numpy alone (``NgramLogistic.probabilities``), so a run
or an export predicts without scikit-learn; fitting needs scikit-learn (a core dependency by
way of seqeval).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..core.config import option
from ..core.confusion import log_loss
from ..core.errors import RnnkitError
from . import baseline

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's TfidfVectorizer default token pattern
WEIGHTS = np.linspace(0.0, 1.0, 101)  # candidate mixing weights
TIE = 1e-6  # --select error: this much of the loss (at most 10 nats) breaks ties between equal error rates
MIN_WEIGHT = 0.005  # below this the reference is not kept


@dataclass
class MixConfig:
    mix_with: str = option("tfidf", "text: after training, mix the classifier's probabilities with a TF-IDF + "
                                    "logistic regression fitted on the training texts, at the weight that "
                                    "scores best on validation (by --select); none: the recurrent model alone",
                           ("tfidf", "none"))


@dataclass
class NgramLogistic:
    """TF-IDF (words and word pairs, sublinear tf, l2 norm) + logistic regression, as numpy arrays."""

    ngrams: list[str]  # feature index -> n-gram
    idf: np.ndarray  # (F,)
    coef: np.ndarray  # (1, F) for two classes (the second's score), else (K, F)
    intercept: np.ndarray  # (1,) or (K,)

    def __post_init__(self) -> None:
        self.index = {g: i for i, g in enumerate(self.ngrams)}

    @classmethod
    def fit(cls, texts: list[str], y: np.ndarray, classes: int, seed: int = 0) -> "NgramLogistic":
        """Fitted on ``texts`` (the training part) and their label indices ``y`` ``(N,)``."""
        pipe = baseline.tfidf_logistic(texts, y, seed)
        vec, lr = pipe.steps[0][1], pipe.steps[1][1]
        ngrams = [g for g, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
        if list(lr.classes_) != list(range(classes)):
            raise RnnkitError(f"the TF-IDF mix needs every class in the training part; it has {len(lr.classes_)} "
                              f"of {classes}: train with --mix-with none")
        coef, intercept = lr.coef_, lr.intercept_
        return cls(ngrams, vec.idf_.astype(np.float64), coef.astype(np.float64), intercept.astype(np.float64))

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Indices and TF-IDF values of one text's known n-grams (l2-normalized)."""
        words = TOKEN.findall(text.lower())
        counts: dict[int, int] = {}
        for g in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
            i = self.index.get(g)
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
        idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
        vals = np.array([1.0 + math.log(c) for c in counts.values()]) * self.idf[idx]
        norm = np.sqrt((vals ** 2).sum())
        return idx, vals / norm if norm > 0 else vals

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """``(N, classes)`` class probabilities of raw texts."""
        scores = np.empty((len(texts), len(self.intercept)))
        for n, text in enumerate(texts):
            idx, vals = self.features(text)
            scores[n] = self.coef[:, idx] @ vals + self.intercept
        if scores.shape[1] == 1:  # binary: the score is the second class's log-odds
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - p, p], 1)
        scores -= scores.max(1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(1, keepdims=True)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"idf": self.idf, "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, ngrams: list[str], arrays: dict[str, np.ndarray]) -> "NgramLogistic":
        return cls(list(ngrams), *(np.asarray(arrays[k], dtype=np.float64) for k in ("idf", "coef", "intercept")))


def mixed(p_rnn: np.ndarray, p_ref: np.ndarray, weight: float) -> np.ndarray:
    """``(N, classes)``: ``(1 - weight) * p_rnn + weight * p_ref``."""
    return (1.0 - weight) * p_rnn + weight * p_ref


def selection_score(error: float, loss: float, select: str) -> float:
    """What ``--select`` minimizes, for the checkpoint (``task.py``) and the mix's weight alike: the loss, or the
    error with equal errors going to the lower loss."""
    return loss if select == "loss" else error + TIE * min(loss, 10.0)


def fit_weight(p_rnn: np.ndarray, p_ref: np.ndarray, y: np.ndarray, select: str = "loss") -> float:
    """The weight in ``WEIGHTS`` that scores best on validation probabilities ``(N, classes)`` and labels
    ``(N,)`` by the run's ``--select`` (``selection_score``); the lowest such weight on ties."""
    scores = []
    for w in WEIGHTS:
        p = mixed(p_rnn, p_ref, w)
        scores.append(selection_score(float((p.argmax(1) != y).mean()), log_loss(p, y), select))
    return float(WEIGHTS[int(np.argmin(scores))])


@dataclass
class Mix:
    """A fitted reference and its weight, with the validation scores that chose it."""

    reference: NgramLogistic
    weight: float
    val_loss_rnn: float
    val_loss_reference: float
    val_loss_mixed: float
    val_accuracy_rnn: float
    val_accuracy_mixed: float

    def info(self) -> dict:
        """What goes into the checkpoint's and the export's JSON (the arrays go beside it)."""
        return {"with": "tfidf", "weight": self.weight, "ngrams": self.reference.ngrams,
                **{k: getattr(self, k) for k in ("val_loss_rnn", "val_loss_reference", "val_loss_mixed",
                                                 "val_accuracy_rnn", "val_accuracy_mixed")}}

    @classmethod
    def from_info(cls, info: dict, arrays: dict[str, np.ndarray]) -> "Mix":
        ref = NgramLogistic.from_arrays(info["ngrams"], arrays)
        return cls(ref, float(info["weight"]), *(float(info[k]) for k in (
            "val_loss_rnn", "val_loss_reference", "val_loss_mixed", "val_accuracy_rnn", "val_accuracy_mixed")))

    def probabilities(self, p_rnn: np.ndarray, texts: list[str]) -> np.ndarray:
        """The mixed ``(N, classes)`` probabilities of ``texts`` whose recurrent ones are ``p_rnn``."""
        return mixed(p_rnn, self.reference.probabilities(texts), self.weight).astype(p_rnn.dtype)


def fit(train_texts: list[str], y_train: np.ndarray, val_texts: list[str], p_val: np.ndarray,
        y_val: np.ndarray, seed: int, select: str) -> Mix | str:
    """The reference fitted on the training texts, its weight on the validation part (by ``select``, see
    ``fit_weight``), whose recurrent probabilities are ``p_val`` ``(N_val, classes)``; or why there is none."""
    if not any(TOKEN.search(t) for t in train_texts):
        return "no TF-IDF mix: the training texts hold no word of two or more letters or digits"
    ref = NgramLogistic.fit(train_texts, y_train, p_val.shape[1], seed)
    p_ref = ref.probabilities(val_texts)
    w = fit_weight(p_val, p_ref, y_val, select)
    both = mixed(p_val, p_ref, w)
    acc = lambda p: float((p.argmax(1) == y_val).mean())  # noqa: E731
    return Mix(ref, w, log_loss(p_val, y_val), log_loss(p_ref, y_val), log_loss(both, y_val), acc(p_val), acc(both))
