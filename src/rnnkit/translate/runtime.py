"""A translator exported by ``rnnkit export``, run with numpy and onnxruntime (no torch).

>>> from rnnkit import runtime
>>> tr = runtime.load("runs/es-en/onnx")
>>> tr.translate(["¿Dónde está la biblioteca?"], beam=1)[0][0].text

``translate`` has the defaults and the results of ``rnnkit.translate.translate`` (the run's search
settings; greedy at ``beam=1``, otherwise beam search with GNMT's length penalty and the same length
caps): the encoder graph reads a batch once, then greedy or beam search calls the one-step decoder
graph and selects rows in numpy, as ``rnnkit.translate.search`` does in PyTorch.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..core.pieces import BOS, EOS, Vocabulary
from ..core.tokenize import Tokenizer, tokenizer_from_state
from ..runtime.exported import Exported
from .decoding import (EXTRA_TOKENS, Hypothesis, SearchConfig, Translation, beam_step, caps, checked_sentences,
                       greedy_hypotheses, pad_ids, sorted_batches)

Arrays = dict[str, np.ndarray]


class ExportedTranslator(Exported):
    """``translate(sentences, beam=..., ...)`` on an export; ``search`` holds the run's decoding defaults."""

    def __init__(self, folder, manifest: dict, threads: int | None = None):
        super().__init__(folder, manifest, threads)
        self.source_tokenizer, self.source_vocab = self._side("source")
        self.target_tokenizer, self.target_vocab = self._side("target")
        self.search: SearchConfig = from_dict(SearchConfig, self.data["search"], "the export's search settings")
        model = self.data["model"]
        self.states = ["h", "c"] if model["cell"] == "lstm" else ["h"]
        self.attention = model["attention"] != "none"

    def _side(self, side: str) -> tuple[Tokenizer, Vocabulary]:
        entry = self.data["codec"][side]
        blob = (self.folder / entry["model"]).read_bytes() if entry["model"] else b""
        return tokenizer_from_state(entry["tokenizer"], blob), Vocabulary.from_json(self.json(entry["vocab"]))

    # -- the graphs, one batch at a time ------------------------------------------------------------
    def encode(self, source: np.ndarray, lengths: np.ndarray) -> tuple[Arrays, Arrays]:
        """``source (B, S)`` ids (EOS last, PAD after), ``lengths (B,)`` -> ``(memory, state)``: the encoder
        outputs the decoder reads (batch on axis 0) and its initial state (batch on axis 1)."""
        out = self.run("encoder", source=source.astype(np.int64), lengths=lengths.astype(np.int64))
        return {k: v for k, v in out.items() if k not in self.states}, {k: out[k] for k in self.states}

    def step(self, previous: np.ndarray, state: Arrays, memory: Arrays) -> tuple[np.ndarray, Arrays, np.ndarray | None]:
        """One decoder step: ``previous (B,)`` ids -> ``(logp (B, V), new state, weights (B, S) | None)``."""
        out = self.run("decoder_step", previous=previous.astype(np.int64), **state, **memory)
        return out["logp"], {k: out[f"new_{k}"] for k in self.states}, out.get("weights")

    def teacher_forced(self, source: np.ndarray, lengths: np.ndarray,
                       target_in: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Log-probabilities ``(B, T, V)`` (and attention ``(B, T, S)``) of each next token, reading
        ``target_in (B, T)`` (BOS first): the numbers ``Seq2Seq.forward`` gives under teacher forcing."""
        memory, state = self.encode(source, lengths)
        steps, maps = [], []
        for t in range(target_in.shape[1]):
            logp, state, weights = self.step(target_in[:, t], state, memory)
            steps.append(logp)
            maps.append(weights)
        return np.stack(steps, 1), (None if maps[0] is None else np.stack(maps, 1))

    # -- the verb ----------------------------------------------------------------------------------------
    def pieces(self, text: str) -> list[str]:
        """The source pieces of ``text`` as the model reads them (without EOS), e.g. to label an attention plot."""
        return self.source_tokenizer.encode(checked_sentences([text], self.data["lowercase"])[0])

    def translate(self, sentences: list[str], beam: int | None = None, length_penalty: float | None = None,
                  n_best: int | None = None, max_ratio: float | None = None, max_output: int | None = None,
                  batch_size: int | None = None, attention: bool = False) -> list[list[Translation]]:
        """The ``n_best`` best translations of each sentence, best first; options left None are the run's.

        ``attention=True`` (greedy only) also returns each translation's attention matrix
        ``(len(tokens) + 1, source pieces + 1)``.
        """
        given = dict(beam=beam, length_penalty=length_penalty, n_best=n_best, max_ratio=max_ratio,
                     max_output=max_output, batch_size=batch_size)
        search = from_dict(SearchConfig, {**dataclasses.asdict(self.search),
                                          **{k: v for k, v in given.items() if v is not None}}, "translate options")
        if attention and search.beam != 1:
            raise RnnkitError("the attention plot shows greedy decoding; pass --beam 1 with --attention-plot")
        texts = checked_sentences(sentences, self.data["lowercase"])
        encoded = [self.source_vocab.encode(self.source_tokenizer.encode(s), add_bos=False, add_eos=True)
                   for s in texts]
        out: list[list[Translation]] = [[] for _ in texts]
        for idx in sorted_batches(len(encoded), np.array([len(e) for e in encoded]), search.batch_size):
            source = pad_ids([encoded[i] for i in idx])
            lengths = np.array([len(encoded[i]) for i in idx], dtype=np.int64)
            limits = caps(lengths, search.max_ratio, EXTRA_TOKENS, search.max_output)
            if search.beam == 1:
                hyps = [[h] for h in self._greedy(source, lengths, limits, attention)]
            else:
                hyps = self._beam(source, lengths, limits, search.beam, search.length_penalty, search.n_best)
            for i, hs in zip(idx, hyps):
                out[i] = [self._result(h) for h in hs]
        return out

    def _result(self, h: Hypothesis) -> Translation:
        pieces = self.target_vocab.decode(h.tokens)
        return Translation(self.target_tokenizer.decode(pieces), h.score, pieces, h.attention)

    # -- search (rnnkit.translate.search, in numpy) ---------------------------------------------------
    def _greedy(self, source: np.ndarray, lengths: np.ndarray, limits: np.ndarray,
                attention: bool) -> list[Hypothesis]:
        """The most probable token at every step; a sentence leaves the batch when it ends."""
        B = len(source)
        memory, state = self.encode(source, lengths)
        previous = np.full(B, BOS, dtype=np.int64)
        alive = np.arange(B)
        steps = []
        for t in range(int(limits.max())):
            logp, state, weights = self.step(previous, state, memory)
            previous = logp.argmax(-1)
            best = logp[np.arange(len(previous)), previous]
            steps.append((alive, previous, best, weights if attention else None))
            done = (previous == EOS) | (t + 1 >= limits[alive])
            if done.all():
                break
            if done.any():
                keep = np.flatnonzero(~done)
                alive, previous = alive[keep], previous[keep]
                memory, state = _select(memory, state, keep)
        return greedy_hypotheses(steps, lengths)

    def _beam(self, source: np.ndarray, lengths: np.ndarray, limits: np.ndarray, K: int, alpha: float,
              n_best: int) -> list[list[Hypothesis]]:
        """The ``n_best`` best translations of each sentence (``rnnkit.translate.search.beam_search``)."""
        B = len(source)
        memory, state = self.encode(source, lengths)
        memory, state = _select(memory, state, np.repeat(np.arange(B), K))
        previous = np.full(B * K, BOS, dtype=np.int64)
        scores = np.full((B, K), -np.inf, dtype=np.float32)
        scores[:, 0] = 0.0  # all K rows start identical: only the first one extends at step 0
        history = np.zeros((B * K, 0), dtype=np.int64)
        active = list(range(B))
        finished: list[list[Hypothesis]] = [[] for _ in range(B)]
        for t in range(int(limits.max())):
            logp, state, _ = self.step(previous, state, memory)
            V = logp.shape[1]
            total = (scores.reshape(-1, 1) + logp).reshape(len(active), K * V)
            top_ids = _top(total, min(2 * K, K * V))
            top_scores = np.take_along_axis(total, top_ids, 1)
            still, rows, tokens, kept = beam_step(active, top_scores.tolist(), top_ids.tolist(), history, finished, K=K,
                                                  V=V, t=t, limits=limits.tolist(), alpha=alpha, n_best=n_best)
            if not still:
                break
            index = np.array(rows)
            history = np.concatenate([history[index], np.array(tokens)[:, None]], axis=1)
            scores = np.array(kept, dtype=np.float32)
            active = still
            memory, state = _select(memory, state, index)
            previous = np.array(tokens, dtype=np.int64)
        return [sorted(hyps, key=lambda h: -h.score)[:n_best] for hyps in finished]


def _select(memory: Arrays, state: Arrays, index: np.ndarray) -> tuple[Arrays, Arrays]:
    """Rows ``index`` of the memory (batch axis 0) and of the state (batch axis 1)."""
    return {k: v[index] for k, v in memory.items()}, {k: v[:, index] for k, v in state.items()}


def _top(total: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest of each row of ``total (A, N)``, largest first."""
    part = np.argpartition(-total, n - 1, axis=1)[:, :n] if n < total.shape[1] else np.tile(np.arange(n), (len(total), 1))
    order = np.argsort(-np.take_along_axis(total, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)
