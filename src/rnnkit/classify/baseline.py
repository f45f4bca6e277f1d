"""Classic references for a sequence classifier, fitted on the training examples only.

* Text: TF-IDF of words and word pairs + logistic regression (scikit-learn, the ``classify``
  extra), the standard strong baseline of sentence classification.
* Numeric: 1-nearest neighbour by Euclidean distance between the scaled series, each resampled
  to the training examples' longest length per channel (the UCR/UEA archives' reference
  classifier, without time warping); numpy only.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import RnnkitError


def tfidf_logistic(train_texts: list[str], train_y: np.ndarray, seed: int = 0):
    """A fitted scikit-learn pipeline (``.predict(texts)``)."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
    except ImportError:
        raise RnnkitError("the text baseline needs scikit-learn: pip install 'rnnkit[classify]'")
    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                         LogisticRegression(C=10.0, max_iter=2000, random_state=seed))
    return pipe.fit(train_texts, train_y)


def resample(frames: list[np.ndarray], length: int) -> np.ndarray:
    """``(N, length * C)``: each ``(T_i, C)`` series linearly interpolated to ``length`` steps."""
    out = []
    for f in frames:
        t = np.linspace(0, len(f) - 1, length)
        out.append(np.stack([np.interp(t, np.arange(len(f)), f[:, c]) for c in range(f.shape[1])], 1).ravel())
    return np.array(out, dtype=np.float64)


def nearest_neighbour(train: list[np.ndarray], train_y: np.ndarray, test: list[np.ndarray]) -> np.ndarray:
    """The label of each test series' nearest training series ``(N_test,)`` (scaled series, NaN as 0)."""
    length = max(len(f) for f in train)
    a, b = resample(train, length), resample(test, length)
    d = (b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None]  # squared distances (N_test, N_train)
    return train_y[d.argmin(1)]
