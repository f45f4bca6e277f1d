"""Count-based n-gram language models: the baseline every RNN language model should beat.

An order-N model predicts a token from the N-1 tokens before it (N = 1 is the unigram
``p(x)``, whose greedy output is the most frequent token forever: "the the the ...").
The model has the call of every rnnkit model, so ``sampling.py`` and ``evaluation.py`` use
it unchanged::

    log_probs, state = model(tokens, state)   # tokens (B, T) int64 -> (B, T, V) float32

Log-probabilities serve as logits (a log-softmax leaves them unchanged); the state holds the
last N-1 tokens of each row, with -1 for "before the start of the text" (an ``NGramState``,
which also carries where those tokens are in the tables, so that generation looks up one
token per step: see ``ngram_steps.py``).

How the counts are stored (all NumPy arrays, never a dict per n-gram)::

    order 1   the V token ids themselves                      id = token
    order n   sorted int64 keys  key = id(prefix) * V + w     id = row in this sorted array

``id(prefix)`` is the row of the n-gram's first n-1 tokens in the order n-1 table, so every
order fits in int64 whatever V and N are, the n-grams sharing a context are one contiguous run
of rows, and a context is found with one ``np.searchsorted`` per token. Table n holds every
n-gram of the training text, with its count (see :class:`NGramModel` for which count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.config import check_choices, option, require
from ..core.errors import RnnkitError
from .ngram_steps import NGramState, Stepper

FIT_CHUNK = 1 << 22  # tokens read from the (memory-mapped) corpus at a time while counting
BLOCK_ELEMENTS = 1 << 22  # log_probs works on at most this many (row, token) probabilities at once
INT64_MAX = np.iinfo(np.int64).max
SMALL_CALL = 16  # calls predicting at most this many positions go one token at a time (ngram_steps.py)
CODE_LIMIT = INT64_MAX  # windows are counted as one number each while (V+1)**N stays below this


@dataclass
class NGramConfig:
    order: int = option(5, "n-gram order N: condition on the N-1 previous tokens (1 = unigram p(x))")
    smoothing: str = option("kneser-ney", "kneser-ney (interpolated) or add-k", ("kneser-ney", "add-k"))
    add_k: float = option(0.01, "add-k: pseudo-count added to every token in every context")
    discount: float = option(0.75, "kneser-ney: absolute discount D in (0, 1)")

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.order >= 1, "order", f"must be at least 1, got {self.order}")
        require(self.add_k > 0, "add_k", f"must be positive, got {self.add_k}")
        require(0 < self.discount < 1, "discount", f"must be in (0, 1), got {self.discount}")


class NGramModel:
    """An order-N count model with add-k or interpolated Kneser-Ney smoothing.

    Notation: ``h`` is a context of n-1 tokens, ``h'`` the same context without its oldest
    token, ``V`` the vocabulary size, ``c(h w)`` the number of times ``h w`` occurs in the
    training text, ``c(h) = sum_w c(h w)`` (occurrences of ``h`` followed by a token) and
    ``N1+(h .) = |{w : c(h w) > 0}|``.

    add-k (Lidstone), always at the longest context available::

        P(w | h) = (c(h w) + k) / (c(h) + k V)          (uniform 1/V when h was never seen)

    Interpolated Kneser-Ney (Chen & Goodman 1998, one discount D for every order)::

        P_n(w | h) = max(a(h w) - D, 0) / a(h)  +  D N1+(h .) / a(h) * P_{n-1}(w | h')
        P_n(w | h) = P_{n-1}(w | h')                     when a(h) = 0 (h unseen)
        P_0(w)     = 1 / V                               (so unseen tokens keep some probability)

    where ``a`` is the raw count ``c`` at the highest order N and the continuation count
    ``a(h w) = N1+(. h w) = |{u : c(u h w) > 0}|`` at every lower order, with
    ``a(h) = sum_w a(h w)`` and ``N1+(h .) = |{w : a(h w) > 0}|``. Every P_n sums to one
    because each counted n-gram gives up exactly D.

    Near the start of a text the context is shorter than N-1 (left-padded with -1); the
    model then answers at the longest order the context allows: ``P_k`` for k-1 real tokens,
    with the continuation counts of that order under Kneser-Ney, the raw counts under add-k.
    """

    def __init__(self, cfg: NGramConfig, vocab_size: int):
        if vocab_size < 1:
            raise RnnkitError(f"an n-gram model needs a vocabulary of at least 1 token, got {vocab_size}")
        self.cfg, self.vocab_size = cfg, vocab_size
        N, V = cfg.order, vocab_size
        # keys[n], counts[n] for order n = 1..N (index 0 unused); an unfitted model is uniform
        self.keys = [None, np.arange(V, dtype=np.int64)] + [np.empty(0, np.int64) for _ in range(2, N + 1)]
        self.counts = [None, np.zeros(V, np.int64)] + [np.empty(0, np.int64) for _ in range(2, N + 1)]
        self._index()

    # -- fitting ------------------------------------------------------------------------------

    @classmethod
    def fit(cls, cfg: NGramConfig, tokens: np.ndarray, vocab_size: int) -> NGramModel:
        """Count every n-gram of ``tokens`` (1-D integer ids, e.g. a uint16 ``np.memmap``)."""
        if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
            raise RnnkitError(f"n-gram fitting needs a 1-D array of token ids, got {tokens.dtype} {tokens.shape}")
        if len(tokens) == 0:
            raise RnnkitError("cannot fit an n-gram model on an empty token array")
        model = cls(cfg, vocab_size)
        N, V = cfg.order, vocab_size
        column, weights = _count_windows(tokens, N, V)
        keys, raw = _build_tables(column, weights, N, V)
        model.keys = keys
        if cfg.smoothing == "kneser-ney":
            model.counts = _continuation_counts(keys, V) + [raw[N]]
        else:
            model.counts = raw
        model._index()
        return model

    def _index(self) -> None:
        """Per context: where its run of continuations starts, a(h) and N1+(h .) (derived, not stored)."""
        V, N = self.vocab_size, self.cfg.order
        self._stepper = Stepper(self)
        self.ctx_start: list = [None, None]
        self.ctx_total: list = [None, np.array([self.counts[1].sum()], np.float64)]
        self.ctx_types: list = [None, np.array([np.count_nonzero(self.counts[1])], np.float64)]
        for n in range(2, N + 1):
            parent = self.keys[n] // V  # sorted, because the keys are
            n_contexts = len(self.keys[n - 1])
            self.ctx_start.append(np.searchsorted(parent, np.arange(n_contexts + 1)))
            self.ctx_total.append(np.bincount(parent, weights=self.counts[n], minlength=n_contexts))
            self.ctx_types.append(np.bincount(parent, weights=self.counts[n] > 0, minlength=n_contexts))

    # -- probabilities ------------------------------------------------------------------------

    def log_probs(self, contexts: np.ndarray) -> np.ndarray:
        """``contexts (M, N-1)`` int64, oldest token first, -1 = before the text -> ``(M, V)`` float32
        natural-log probabilities of the next token."""
        contexts = np.asarray(contexts, dtype=np.int64)
        N, V = self.cfg.order, self.vocab_size
        assert contexts.ndim == 2 and contexts.shape[1] == N - 1, \
            f"contexts must be (M, {N - 1}), got {contexts.shape}"
        assert contexts.size == 0 or (contexts.min() >= -1 and contexts.max() < V), \
            f"context ids must be in [-1, {V}), got [{contexts.min()}, {contexts.max()}]"
        out = np.empty((len(contexts), V), np.float32)
        block = max(1, BLOCK_ELEMENTS // V)
        for a in range(0, len(contexts), block):
            out[a : a + block] = np.log(self._probs(contexts[a : a + block]))
        return out

    def _probs(self, contexts: np.ndarray) -> np.ndarray:
        """(m, N-1) contexts -> (m, V) float64 probabilities."""
        m, V, N = len(contexts), self.vocab_size, self.cfg.order
        ids = self._context_ids(contexts)
        if self.cfg.smoothing == "add-k":
            k = self.cfg.add_k
            # answer at the longest order the context allows: 1 + its number of trailing real tokens
            padded = np.concatenate([np.zeros((m, 1), bool), contexts >= 0], axis=1)[:, ::-1]
            longest = np.argmin(padded, axis=1) + 1
            p = np.empty((m, V))
            for n in range(1, N + 1):
                here = longest == n
                rows = np.flatnonzero(here & (ids[n - 1] >= 0))
                c = ids[n - 1][rows]
                p[rows] = (self._dense_counts(n, c) + k) / (self.ctx_total[n][c] + k * V)[:, None]
                p[here & (ids[n - 1] < 0)] = 1.0 / V  # a context never seen
            return p
        D = self.cfg.discount
        p = np.full((m, V), 1.0 / V)  # P_0
        for n in range(1, N + 1):
            rows = np.flatnonzero(ids[n - 1] >= 0)
            c = ids[n - 1][rows]
            total = self.ctx_total[n][c]
            seen = total > 0
            rows, c, total = rows[seen], c[seen], total[seen]  # the others back off: keep P_{n-1}
            kept = np.maximum(self._dense_counts(n, c) - D, 0.0)
            p[rows] = (kept + (D * self.ctx_types[n][c])[:, None] * p[rows]) / total[:, None]
        return p

    def _context_ids(self, contexts: np.ndarray) -> list[np.ndarray]:
        """``ids[k]`` (m,): row in table k of each context's last k tokens; -1 if unseen or padded.
        ``ids[0]`` is the empty context (always row 0)."""
        m, V, N = len(contexts), self.vocab_size, self.cfg.order
        ids = [np.zeros(m, np.int64)]
        for k in range(1, N):
            first = N - 1 - k
            cur = contexts[:, first].copy()  # order-1 id = token, -1 stays -1
            for j in range(first + 1, N - 1):
                keys, tok = self.keys[j - first + 1], contexts[:, j]
                query = cur * V + tok
                pos = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
                found = (cur >= 0) & (tok >= 0) & (len(keys) > 0)
                found[found] = keys[pos[found]] == query[found]
                cur = np.where(found, pos, -1)
            ids.append(cur)
        return ids

    def _dense_counts(self, n: int, contexts: np.ndarray) -> np.ndarray:
        """(m,) context rows of order n-1 -> (m, V) float64 counts of order n."""
        V = self.vocab_size
        if n == 1:
            return np.broadcast_to(self.counts[1].astype(np.float64), (len(contexts), V))
        start = self.ctx_start[n][contexts]
        lens = self.ctx_start[n][contexts + 1] - start
        # the rows of all runs, one after the other: run r covers start[r] .. start[r] + lens[r]
        idx = np.arange(lens.sum()) + np.repeat(start - (np.cumsum(lens) - lens), lens)
        dense = np.zeros((len(contexts), V))
        dense[np.repeat(np.arange(len(contexts)), lens), self.keys[n][idx] % V] = self.counts[n][idx]
        return dense

    # -- the model call -----------------------------------------------------------------------

    def __call__(self, tokens: torch.Tensor, state=None) -> tuple[torch.Tensor, NGramState]:
        """``tokens (B, T)`` int64, ``state`` or None -> ``(log-probs (B, T, V), state)``: :meth:`predict`
        on tensors (a ``(B, N-1)`` tensor of tokens is accepted as the state too)."""
        import torch

        assert tokens.dim() == 2, f"tokens must be (B, T), got {tuple(tokens.shape)}"
        if torch.is_tensor(state):
            state = state.detach().cpu().numpy()
        out, state = self.predict(tokens.detach().cpu().numpy(), state)
        out = torch.from_numpy(out)
        return (out if tokens.device.type == "cpu" else out.to(tokens.device)), state

    def predict(self, tokens: np.ndarray, state=None) -> tuple[np.ndarray, NGramState]:
        """``tokens (B, T)`` int64, ``state`` or None -> ``(log-probs (B, T, V) float32, state)``.

        Position t is the distribution of the token after ``tokens[:, t]``::

            state      tokens
            [-1 -1 a]  [b  r  a]      N = 4
             ^^^^^^^^ context of the prediction at t = 0: (-1, a, b)

        The state is an :class:`NGramState` (the last N-1 tokens of each row; a ``(B, N-1)``
        array of them is accepted too). Calls predicting at most ``SMALL_CALL`` positions
        (generation) carry each row's context along (``ngram_steps.py``); larger ones look every
        context up at once. Needs numpy only (the torch-free runtime mixes with it).
        """
        assert tokens.ndim == 2, f"tokens must be (B, T), got {tokens.shape}"
        B, T = tokens.shape
        N, V = self.cfg.order, self.vocab_size
        if state is None:
            state = NGramState(((-1,) * (N - 1),) * B, ((0,) + (-1,) * (N - 1),) * B)
        elif not isinstance(state, NGramState):
            state = NGramState(tuple(map(tuple, np.asarray(state).astype(np.int64).reshape(B, N - 1).tolist())))
        assert len(state.tokens) == B, f"the state has {len(state.tokens)} rows, not {B}"
        if 0 < B * T <= SMALL_CALL:
            return self._stepper(tokens.tolist(), state)
        x = np.asarray(tokens, np.int64)
        full = np.concatenate([np.array(state.tokens, np.int64).reshape(B, N - 1), x], axis=1)  # (B, N-1+T)
        window = np.arange(T)[:, None] + np.arange(1, N)[None, :]  # (T, N-1) positions in full
        out = self.log_probs(full[:, window].reshape(B * T, N - 1)).reshape(B, T, V)
        return out, NGramState(tuple(map(tuple, full[:, full.shape[1] - (N - 1) :].tolist())))

    def clear_cache(self) -> None:
        """Forget the distributions memoized by small calls (a new process starts without them)."""
        self._stepper.clear()

    # no-ops, so the model goes where rnnkit expects an nn.Module (sampling, evaluation)
    def eval(self) -> NGramModel:
        return self

    def train(self, mode: bool = True) -> NGramModel:
        return self

    def to(self, *args, **kwargs) -> NGramModel:
        return self

    # -- saving -------------------------------------------------------------------------------

    def _tensor_names(self) -> list[str]:
        N, kn = self.cfg.order, self.cfg.smoothing == "kneser-ney"
        count_names = [("continuation_counts" if kn and n < N else "counts") + f".{n}" for n in range(1, N + 1)]
        return [f"keys.{n}" for n in range(2, N + 1)] + count_names

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The count tables as int64 tensors (names say which count: raw or continuation)."""
        import torch

        return {name: torch.from_numpy(a) for name, a in self.arrays().items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """The count tables as int64 arrays, by the names of :meth:`state_dict`."""
        arrays = {f"keys.{n}": self.keys[n] for n in range(2, self.cfg.order + 1)}
        names = self._tensor_names()[self.cfg.order - 1 :]
        arrays.update({name: self.counts[n] for n, name in enumerate(names, start=1)})
        return {name: np.ascontiguousarray(a, dtype=np.int64) for name, a in arrays.items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        self.load_arrays({name: t.cpu().numpy() for name, t in tensors.items()})

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Take the count tables of :meth:`arrays` (e.g. read from an export's ``.npz``)."""
        expected = self._tensor_names()
        if set(arrays) != set(expected):
            missing = sorted(set(expected) - set(arrays))
            extra = sorted(set(arrays) - set(expected))
            raise RnnkitError(
                f"the saved n-gram tables do not fit --order {self.cfg.order} --smoothing {self.cfg.smoothing}"
                f" (missing {missing}, unexpected {extra})"
            )
        N, V = self.cfg.order, self.vocab_size
        arrays = {name: np.asarray(a).astype(np.int64) for name, a in arrays.items()}
        if len(arrays[expected[N - 1]]) != V:
            raise RnnkitError(f"the saved n-gram tables are for {len(arrays[expected[N - 1]])} tokens, "
                              f"not this vocabulary of {V}")
        self.keys = [None, np.arange(V, dtype=np.int64)] + [arrays[f"keys.{n}"] for n in range(2, N + 1)]
        self.counts = [None] + [arrays[name] for name in expected[N - 1 :]]
        self._index()

    def num_parameters(self) -> int:
        """Number of stored n-gram entries (all orders; order 1 has one per vocabulary token)."""
        return sum(len(k) for k in self.keys[1:])


# -- counting -------------------------------------------------------------------------------------


def _count_windows(tokens: np.ndarray, N: int, V: int) -> tuple[Callable[[int], np.ndarray], np.ndarray]:
    """Count the N-token windows starting at every position of ``tokens``.

    Windows running past the end are padded with the id ``V`` (so each order-n n-gram, even
    one of the last N-1 positions, is the first n tokens of some window). Returns
    ``(column, counts)``: ``column(j)`` is token j of every distinct window, lexicographically
    sorted, and ``counts`` how often each occurs. Chunked, so a memory map is never copied whole.
    """
    T, base = len(tokens), V + 1
    as_code = base**N <= CODE_LIMIT  # one window = one int64 number in base V+1
    dtype = np.int32 if base**N <= np.iinfo(np.int32).max else np.int64  # int32 sorts faster
    values, counts = None, np.empty(0, np.int64)
    for a in range(0, T, FIT_CHUNK):
        L = min(FIT_CHUNK, T - a)
        window = np.asarray(tokens[a : a + L + N - 1]).astype(np.int64)
        lo, hi = window.min(), window.max()
        if lo < 0 or hi >= V:
            raise RnnkitError(f"token id {lo if lo < 0 else hi} is outside the vocabulary of {V} tokens")
        window = np.concatenate([window, np.full(L + N - 1 - len(window), V, np.int64)]).astype(dtype)
        if as_code:
            codes = window[:L].copy()
            for j in range(1, N):  # Horner: oldest token is the most significant digit
                codes *= base
                codes += window[j : j + L]
            codes.sort()
            chunk_values, chunk_counts = _runs(codes)
            values, counts = _merge(values, counts, chunk_values, chunk_counts)
        else:  # base**N overflows int64 (large vocabulary, high order): slower, row-wise unique
            rows = np.lib.stride_tricks.sliding_window_view(window.astype(np.int64), N)[:L]
            if values is not None:
                rows = np.concatenate([values, rows])
            values, inverse = np.unique(rows, axis=0, return_inverse=True)
            weights = np.concatenate([counts, np.ones(L, np.int64)])
            counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(values)).astype(np.int64)
    if as_code:
        codes = values.astype(np.int64)
        return (lambda j: (codes // base ** (N - 1 - j)) % base), counts
    return (lambda j: values[:, j]), counts


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and the length of each run."""
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    return sorted_values[starts], np.diff(np.append(starts, len(sorted_values)))


def _merge(values, counts, new_values, new_counts) -> tuple[np.ndarray, np.ndarray]:
    """Add sorted distinct ``new_values`` with their counts into sorted distinct ``values``."""
    if values is None:
        return new_values, new_counts
    pos = np.searchsorted(values, new_values)
    hit = pos < len(values)
    hit[hit] = values[pos[hit]] == new_values[hit]
    counts[pos[hit]] += new_counts[hit]
    new = ~hit
    return np.insert(values, pos[new], new_values[new]), np.insert(counts, pos[new], new_counts[new])


def _build_tables(column: Callable[[int], np.ndarray], weights: np.ndarray, N: int, V: int):
    """Tables of every order from the distinct windows: ``keys[n]`` and raw counts ``raw[n]``."""
    first = column(0)
    keys = [None, np.arange(V, dtype=np.int64)]
    raw = [None, np.bincount(first, weights=weights, minlength=V).astype(np.int64)]
    ids = first  # row of each window's first n-1 tokens in table n-1
    for n in range(2, N + 1):
        if len(keys[n - 1]) * V > INT64_MAX:  # never for real corpora: rows <= tokens
            raise RnnkitError(f"order {n} tables would overflow int64 keys; use a lower --order")
        token = column(n - 1)
        real = token != V  # windows reaching past the end have no n-gram of this order
        key = ids[real] * V + token[real]
        if len(key) and np.all(key[1:] >= key[:-1]):  # windows are sorted, so keys usually are
            unique = key[np.concatenate([[True], key[1:] != key[:-1]])]
            inverse = np.cumsum(np.concatenate([[False], key[1:] != key[:-1]]))
        else:
            unique, inverse = np.unique(key, return_inverse=True)
        keys.append(unique)
        raw.append(np.bincount(inverse, weights=weights[real], minlength=len(unique)).astype(np.int64))
        ids = np.full(len(token), -1, np.int64)
        ids[real] = inverse
    return keys, raw


def _continuation_counts(keys: list, V: int) -> list:
    """``[None, a_1, ..., a_{N-1}]`` with ``a_n[row] = N1+(. g)`` for the n-gram g of that row:
    the number of distinct (n+1)-grams (rows of table n+1) that end in g."""
    N = len(keys) - 1
    cont: list = [None]
    suffix = None  # for each row of table n: row of its last n-1 tokens in table n-1
    for n in range(2, N + 1):
        parent, last = keys[n] // V, keys[n] % V
        if n == 2:
            suffix = last
        else:
            suffix = np.searchsorted(keys[n - 1], suffix[parent] * V + last)
        cont.append(np.bincount(suffix, minlength=len(keys[n - 1])).astype(np.int64))
    return cont
