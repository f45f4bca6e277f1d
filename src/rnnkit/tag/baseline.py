"""The tagger's reference: each word's most frequent training tag (the commonest tag for an unseen word).

The classic first baseline of part-of-speech tagging (about 92% on English treebanks), and for
entities a per-token guess without context or sequence model. Words are compared as the tagger
reads them (lowercased by default).
"""

from __future__ import annotations

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
