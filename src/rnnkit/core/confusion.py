"""What the classifiers (audio clips, sequences) share in scoring and reporting: the confusion matrix
and scores per class, the log loss, the top-k labels of each input, and the matrix as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import RnnkitError
from .fileio import save_figure


def matrix(y: np.ndarray, pred: np.ndarray, classes: int) -> np.ndarray:
    """``(classes, classes)`` counts: rows the true label, columns the predicted one."""
    m = np.zeros((classes, classes), dtype=int)
    np.add.at(m, (y, pred), 1)
    return m


def per_class_scores(m: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each label (0 where undefined, as scikit-learn's zero_division=0)."""
    tp, predicted, support = np.diag(m), m.sum(0), m.sum(1)
    out = {}
    for i, label in enumerate(labels):
        p = tp[i] / predicted[i] if predicted[i] else 0.0
        r = tp[i] / support[i] if support[i] else 0.0
        out[label] = {"precision": float(p), "recall": float(r), "f1": float(2 * p * r / (p + r)) if p + r else 0.0,
                      "support": int(support[i])}
    return out


def log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true labels ``y (N,)`` under ``probs (N, classes)``."""
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())


def check_top_k(k: int, classes: int) -> int:
    """``--top-k`` capped at the number of classes; below 1 is an error."""
    k = min(k, classes)
    if k < 1:
        raise RnnkitError(f"--top-k must be at least 1, got {k}")
    return k


def top_labels(probs: np.ndarray, labels: list[str], k: int) -> list[list[tuple[str, float]]]:
    """The ``k`` most likely labels of each row of ``probs (N, classes)`` with their probabilities."""
    best = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(labels[j], float(probs[i, j])) for j in row] for i, row in enumerate(best)]


def plot(m: np.ndarray, labels: list[str], title: str, path: str | Path) -> None:
    """The matrix as a PNG at ``path``, every non-zero count written in its cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(m)
    size = 1 + 0.5 * len(labels)
    fig, ax = plt.subplots(figsize=(max(size, 3), max(size, 3)))
    ax.imshow(m, cmap="Blues")
    for i in range(len(m)):
        for j in range(len(m)):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=90 if max(map(len, labels)) > 3 else 0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
