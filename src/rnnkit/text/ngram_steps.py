"""The n-gram model one token at a time: generation's calls, with the context carried along.

Generation calls the model with one new token per row. Looking the new context up from scratch
costs one table search per token of every suffix (15 for a 7-gram) and a Kneser-Ney
interpolation at every order. Instead, each row carries where its context's suffixes are::

    nodes[k] = row of the last k tokens in table k     (k = 0 .. N-1; nodes[0] = 0, the empty
                                                         context; -1 if never seen or padded)

and a new token ``w`` extends every suffix by one: ``nodes'[k] = row of (nodes[k-1], w)`` in
table k, one search per order, none past the first suffix never seen (longer ones are not
seen either). The distribution depends on the context only through its longest seen suffix
(Kneser-Ney backs off past the others), so it is memoized per node, and so is every lower
order's interpolated distribution: a context never met before costs one interpolation step
per order not met before, usually one or two. The arithmetic is the one of
``NGramModel.log_probs``, in the same order, so the numbers are the same to the last bit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CACHE_BYTES = 1 << 26  # memoized distributions (float64 and float32 rows); emptied when full
SPARSE = 8  # contexts with at most this many continuations are interpolated token by token


class NGramState(NamedTuple):
    """What an n-gram model carries between calls, per row ``b`` of the batch.

    ``tokens[b]``: the last N-1 tokens, oldest first, -1 for "before the start of the text".
    ``nodes[b]``: the N table rows of their suffixes (see the module docstring), or ``nodes``
    is None when they have not been looked up (after a large call; they are found on demand).
    """

    tokens: tuple[tuple[int, ...], ...]
    nodes: tuple[tuple[int, ...], ...] | None = None


class Stepper:
    """Log-probabilities of a few positions at a time for ``model`` (an ``NGramModel``), with
    the memoized distributions of the nodes met so far."""

    def __init__(self, model):
        self.model = model
        V = model.vocab_size
        self._uniform = np.full(V, 1.0 / V)  # P_0
        self._probs: dict[tuple[int, int], np.ndarray] = {}  # (k, node) -> P_{k+1}, float64 (V,)
        self._rows: dict[tuple[int, int], np.ndarray] = {}  # distribution key -> log-probs, float32 (V,)

    def clear(self) -> None:
        self._probs.clear()
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._probs) + len(self._rows)

    def __call__(self, tokens: list[list[int]], state: NGramState) -> tuple[np.ndarray, NGramState]:
        """``tokens``: B lists of T ids -> ``(log-probs (B, T, V) float32, state after them)``."""
        if state.nodes is None:
            state = state._replace(nodes=self.nodes_of(state.tokens))
        V = self.model.vocab_size
        rows, last_tokens, last_nodes = [], [], []
        for seq, ctx, nodes in zip(tokens, state.tokens, state.nodes):
            for w in seq:
                if not 0 <= w < V:
                    raise AssertionError(f"token ids must be in [0, {V}), got {w}")
                ctx = (ctx + (w,))[1:]
                nodes = self._advance(nodes, w)
                rows.append(self._row(ctx, nodes))
            last_tokens.append(ctx)
            last_nodes.append(nodes)
        out = np.stack(rows).reshape(len(tokens), -1, V)
        return out, NGramState(tuple(last_tokens), tuple(last_nodes))

    def nodes_of(self, contexts: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
        """The suffix nodes of contexts given as tokens, looked up from scratch (vectorized)."""
        N = self.model.cfg.order
        ids = self.model._context_ids(np.array(contexts, np.int64).reshape(len(contexts), N - 1))
        return tuple(zip(*(k.tolist() for k in ids)))

    # -- one token ---------------------------------------------------------------------------

    def _advance(self, nodes: tuple[int, ...], w: int) -> tuple[int, ...]:
        """The suffix nodes after appending token ``w`` to the context whose nodes are ``nodes``."""
        m = self.model
        N, V = m.cfg.order, m.vocab_size
        new = [0, w][:N]  # the empty context; the order-1 row of a token is the token
        for k in range(2, N):
            parent = nodes[k - 1]
            if parent < 0:  # the shorter suffix was never seen, so neither is this one
                new += [-1] * (N - k)
                break
            keys, query = m.keys[k], parent * V + w
            pos = int(keys.searchsorted(query))
            new.append(pos if pos < len(keys) and keys[pos] == query else -1)
        return tuple(new)

    def _row(self, ctx: tuple[int, ...], nodes: tuple[int, ...]) -> np.ndarray:
        """The ``(V,)`` float32 log-probabilities after context ``ctx`` (suffix nodes ``nodes``)."""
        if self.model.cfg.smoothing == "kneser-ney":
            k = len(nodes) - 1
            while nodes[k] < 0:  # the longest suffix seen; Kneser-Ney backs off past the others
                k -= 1
            key = (k, nodes[k])
        else:  # add-k answers at the longest context the row has (1/V throughout if never seen)
            k = len(ctx) - ctx.count(-1)
            key = (k, nodes[k]) if nodes[k] >= 0 else (-1, -1)
        row = self._rows.get(key)
        if row is None:
            if len(self) >= CACHE_BYTES // (12 * self.model.vocab_size):  # both dicts together
                self.clear()
            if self.model.cfg.smoothing == "kneser-ney":
                row = np.log(self._kn_probs(nodes, k)).astype(np.float32)
            else:
                row = self.model.log_probs(np.array([ctx], np.int64).reshape(1, -1))[0]
            self._rows[key] = row
        return row

    def _kn_probs(self, nodes: tuple[int, ...], k: int) -> np.ndarray:
        """``P_{k+1}(. | the last k tokens)`` (float64, (V,)): ``nodes[0..k]`` must all be seen."""
        p = self._probs.get((k, nodes[k]))
        if p is None:
            lower = self._kn_probs(nodes, k - 1) if k > 0 else self._uniform
            p = self._probs[(k, nodes[k])] = self._interpolate(k + 1, nodes[k], lower)
        return p

    def _interpolate(self, n: int, c: int, lower: np.ndarray) -> np.ndarray:
        """One Kneser-Ney order: ``P_n(. | context row c of table n-1)`` from ``P_{n-1}``.

        ``NGramModel._probs`` computes ``(max(a(h w) - D, 0) + D N1+(h .) P_{n-1}(w)) / a(h)``
        for every ``w``; here the first term is added only where ``a(h w) > 0`` (it is 0
        elsewhere), one token at a time for the few continuations of a long context. The same
        float64 operations on the same numbers, so the same results.
        """
        m = self.model
        V, D = m.vocab_size, m.cfg.discount
        total = m.ctx_total[n][c]
        if total <= 0:
            return lower  # the context has no continuation: back off
        p = (D * m.ctx_types[n][c]) * lower
        if n == 1:
            p += np.maximum(m.counts[1] - D, 0.0)
        else:
            a, b = m.ctx_start[n][c], m.ctx_start[n][c + 1]
            if b - a <= SPARSE:
                for key, count in zip(m.keys[n][a:b].tolist(), m.counts[n][a:b].tolist()):
                    p[key % V] += max(count - D, 0.0)
            else:
                p[m.keys[n][a:b] % V] += np.maximum(m.counts[n][a:b] - D, 0.0)
        p /= total
        return p
