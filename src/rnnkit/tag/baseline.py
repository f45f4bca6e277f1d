"""The tagger's references, fitted on the training sentences only.

:class:`MostFrequentTag`: each word's most frequent training tag (the commonest tag for an unseen word), the
classic first baseline of part-of-speech tagging (about 92% on English treebanks); words are compared as the
tagger reads them (lowercased by default). :class:`TokenClassifier`: for entity tags, a logistic regression
on each token's own features and its neighbours' words (spelling, shape, affixes), with no recurrent model
and no CRF: the per-token baseline an entity tagger should beat.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict


class MostFrequentTag:
    def __init__(self, tokens: list[list[str]], tags: list[list[str]], lowercase: bool):
        self.lowercase = lowercase
        counts: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for ws, ts in zip(tokens, tags):
            for w, t in zip(ws, ts):
                counts[self._norm(w)][t] += 1
                overall[t] += 1
        self.default = min(overall, key=lambda t: (-overall[t], t))
        self.best = {w: min(c, key=lambda t: (-c[t], t)) for w, c in counts.items()}

    def _norm(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def predict(self, tokens: list[list[str]]) -> list[list[str]]:
        return [[self.best.get(self._norm(w), self.default) for w in ws] for ws in tokens]


def word_shape(word: str) -> str:
    """``"McDonald's"`` -> ``"XxXx'x"``: letters by case, digits, the rest as they are, repeats collapsed."""
    mapped = re.sub(r"[A-Z]", "X", re.sub(r"[a-z]", "x", re.sub(r"[0-9]", "d", word)))
    return re.sub(r"(.)\1+", r"\1", mapped)


def token_features(words: list[str], i: int) -> dict[str, float]:
    """Sparse features of ``words[i]``: the word (lowercased), its shape, affixes, case, and the words beside it."""
    w = words[i]
    low = w.lower()
    out = {f"w={low}": 1.0, f"shape={word_shape(w)}": 1.0, f"pre3={low[:3]}": 1.0, f"suf3={low[-3:]}": 1.0,
           f"suf2={low[-2:]}": 1.0, "upper1": float(w[:1].isupper()), "allcaps": float(w.isupper() and len(w) > 1),
           "digit": float(any(c.isdigit() for c in w)), "first": float(i == 0)}
    for d in (-2, -1, 1, 2):
        j = i + d
        out[f"w{d:+d}={words[j].lower() if 0 <= j < len(words) else '<pad>'}"] = 1.0
    return out


class TokenClassifier:
    """Each token's tag from a logistic regression on :func:`token_features` (scikit-learn), fitted on training
    sentences; no context beyond two words either side, no transitions between tags."""

    def __init__(self, tokens: list[list[str]], tags: list[list[str]], seed: int = 0):
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = DictVectorizer()
        x = self.vectorizer.fit_transform(self._rows(tokens))
        self.model = LogisticRegression(C=1.0, max_iter=300, random_state=seed)
        self.model.fit(x, [t for ts in tags for t in ts])

    @staticmethod
    def _rows(tokens: list[list[str]]) -> list[dict[str, float]]:
        return [token_features(ws, i) for ws in tokens for i in range(len(ws))]

    def predict(self, tokens: list[list[str]]) -> list[list[str]]:
        flat = list(self.model.predict(self.vectorizer.transform(self._rows(tokens)))) if tokens else []
        out, at = [], 0
        for ws in tokens:
            out.append([str(t) for t in flat[at : at + len(ws)]])
            at += len(ws)
        return out
