"""Scores of predicted tags against gold ones: token accuracy, entity spans, the commonest confusions.

Spans are counted by seqeval in its default mode, which counts as conlleval does (an ``I-X``
after ``O`` begins a span); IOBES tags are scored as their IOB2 equivalents. A span is right
when its type, first and last token all match.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .scheme import ENTITY_SCHEMES, to_iob2


def accuracy(gold: list[list[str]], pred: list[list[str]]) -> tuple[float, int]:
    pairs = [(g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]
    return (sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0), len(pairs)


def spans(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Micro precision/recall/F1 of entity spans and per type (precision, recall, f1, support), as conlleval."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    g, p = [to_iob2(s) for s in gold], [to_iob2(s) for s in pred]
    report = classification_report(g, p, output_dict=True, zero_division=0)
    types = {name: {"precision": float(v["precision"]), "recall": float(v["recall"]), "f1": float(v["f1-score"]),
                    "support": int(v["support"])}
             for name, v in report.items() if not name.endswith(" avg")}
    return {"precision": float(precision_score(g, p, zero_division=0)), "recall": float(recall_score(g, p, zero_division=0)),
            "f1": float(f1_score(g, p, zero_division=0)), "per_type": types}


def confusions(gold: list[list[str]], pred: list[list[str]], count: int = 10) -> list[dict]:
    """The ``count`` most frequent (gold, predicted) pairs among the errors."""
    c = Counter((g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps) if g != p)
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]


def score(gold: list[list[str]], pred: list[list[str]], scheme: str) -> dict:
    acc, tokens = accuracy(gold, pred)
    out = {"accuracy": acc, "tokens": tokens, "sentences": len(gold), "confusions": confusions(gold, pred)}
    if scheme in ENTITY_SCHEMES:
        out["spans"] = spans(gold, pred)
    return out


def matrix(gold: list[list[str]], pred: list[list[str]], most: int = 20) -> tuple[np.ndarray, list[str]]:
    """Counts ``(K, K)`` (rows gold, columns predicted) over the ``most`` most frequent gold tags, and their names;
    tokens whose gold or predicted tag is outside them are left out."""
    counts = Counter(g for gs in gold for g in gs)
    names = sorted(counts, key=lambda t: (-counts[t], t))[:most]
    index = {t: i for i, t in enumerate(names)}
    m = np.zeros((len(names), len(names)), dtype=np.int64)
    for gs, ps in zip(gold, pred):
        for g, p in zip(gs, ps):
            if g in index and p in index:
                m[index[g], index[p]] += 1
    return m, names
