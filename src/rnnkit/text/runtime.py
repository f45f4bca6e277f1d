"""An exported language model without torch: ``rnnkit.runtime.load(DIR).sample(...)`` and ``.fill(...)``.

Reads what ``export.py`` wrote: the ``step`` graph (or ``infill`` for bidirectional runs), the
n-gram tables of the mix or of an n-gram run, the vocabulary and the run's sampling defaults.
Generation loops in numpy around one-step calls of the graph, with the rules of
``sampling.next_token`` (temperature, top-k, top-p, inverse-CDF draw, ``<unk>`` never drawn unless
asked). Imports numpy and onnxruntime, and of rnnkit only torch-free modules.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from ..core.errors import RnnkitError
from ..runtime.exported import Exported
from .blanks import Filler, around_blank, rank
from .ngram import NGramConfig, NGramModel
from .sampling import SampleConfig
from .vocab import Vocab, default_prime

# (recurrent state: h (L, B, H)[, c], n-gram state); None parts start from the start of text
State = tuple[tuple[np.ndarray, ...] | None, Any]


class ExportedLanguageModel(Exported):
    """A language model export: ``sample`` (stream and window runs, n-gram runs), ``fill`` (infill
    runs) and ``log_probs`` (next-token log-probabilities, mixed with the n-gram where the run has a mix).

    ``mix``: set it to False to use the recurrent model alone (``rnnkit sample --no-mix``).
    ``vocab``: the run's vocabulary; ``defaults``: the run's sampling settings (``SampleConfig``).
    """

    spinning = True  # one-token graph calls back to back: busy-waiting pool threads pay (see Exported)

    def __init__(self, folder, manifest: dict, threads: int | None = None):
        super().__init__(folder, manifest, threads)
        self.vocab = Vocab.from_json(self.data["vocab"])
        self.options: dict = self.data["model"]
        self.defaults = SampleConfig(**self.data["sample"])
        self.ngram, self.weight = self._ngram()
        self.mix = self.weight is not None

    def _ngram(self) -> tuple[NGramModel | None, float | None]:
        spec = self.data.get("ngram")
        if spec is None:
            return None, None
        cfg = NGramConfig(order=spec["order"], smoothing=spec["smoothing"], add_k=spec["add_k"],
                          discount=spec["discount"])
        model = NGramModel(cfg, len(self.vocab))
        with np.load(self.folder / spec["file"], allow_pickle=False) as tables:
            model.load_arrays({name: tables[name] for name in tables.files})
        return model, spec["weight"]

    @property
    def infill(self) -> bool:
        return self.options["objective"] == "infill"

    # -- next-token log-probabilities --------------------------------------------------------
    def log_probs(self, tokens: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        """``tokens (B, T)`` int64 after ``state`` (None: start of text) -> ``(log-probs (B, T, V) float32,
        state after them)``; row t is the distribution of the token after ``tokens[:, t]``. Infill runs:
        row t is that of ``tokens[:, t]`` given the others, and the state is None."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int64)
        if tokens.ndim != 2 or tokens.size == 0 or tokens.min() < 0 or tokens.max() >= len(self.vocab):
            raise RnnkitError(f"tokens must be a non-empty (batch, time) array of ids in [0, {len(self.vocab)}); "
                              f"got shape {tokens.shape}")
        if self.infill:
            return self.run("infill", tokens=tokens)["log_probs"], None
        rnn_state, ngram_state = state if state is not None else (None, None)
        if self.options["family"] == "ngram":
            log_probs, ngram_state = self.ngram.predict(tokens, ngram_state)
            return log_probs, (None, ngram_state)
        rnn_lp, rnn_state = self._step(tokens, rnn_state)
        if not self.mix:
            return rnn_lp, (rnn_state, None)
        ngram_lp, ngram_state = self.ngram.predict(tokens, ngram_state)
        # mixture.MixedModel: log((1 - lam) p_rnn + lam p_ngram), in float32 as there
        mixed = np.logaddexp(rnn_lp + np.float32(math.log1p(-self.weight)), ngram_lp + np.float32(math.log(self.weight)))
        return mixed, (rnn_state, ngram_state)

    def _step(self, tokens: np.ndarray, state: tuple[np.ndarray, ...] | None):
        """The ``step`` graph over ``tokens (B, T)``: ``(log-probs (B, T, V), (h, c) or (h,))``; a graph that
        reads one token per call (vanilla RNN) is called once per token."""
        names = ["h", "c"] if self.options["cell"] == "lstm" else ["h"]
        if state is None:
            zeros = np.zeros((self.options["layers"], len(tokens), self.options["hidden_size"]), np.float32)
            state = tuple(zeros for _ in names)
        length = self.options.get("step_length") or tokens.shape[1]
        outs = []
        for a in range(0, tokens.shape[1], length):
            out = self.run("step", tokens=tokens[:, a : a + length], **dict(zip(names, state)))
            outs.append(out["log_probs"])
            state = tuple(out[f"{name}_out"] for name in names)
        return (outs[0] if len(outs) == 1 else np.concatenate(outs, 1)), state

    # -- sample ---------------------------------------------------------------------------
    def sample(self, prime: str | None = None, length: int | None = None, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
               num_samples: int | None = None, greedy: bool | None = None,
               allow_unk: bool | None = None) -> list[str]:
        """``num_samples`` texts, each the prime followed by ``length`` generated tokens, as
        ``rnnkit.text.sample``. Options left None take the run's own sampling settings (``self.defaults``,
        what ``rnnkit sample RUN`` uses). numpy's generator (``np.random.default_rng(seed)``) draws the
        samples, so a seed gives other texts than PyTorch's generator does, from the same distributions.

        A window-objective run without a prime starts from a line break or space (PyTorch starts from a
        random window of the training text, which an export does not hold). ``int8`` sampling is not an
        option here: the export's graph is what runs (fp32, or int8 if exported with ``--quantize int8``).
        """
        given = {"prime": prime, "length": length, "temperature": temperature, "top_k": top_k, "top_p": top_p,
                 "seed": seed, "num_samples": num_samples, "greedy": greedy, "allow_unk": allow_unk}
        cfg = dataclasses.replace(self.defaults, **{k: v for k, v in given.items() if v is not None})
        return [text for text, _ in self.generate(cfg)]

    def generate(self, cfg: SampleConfig,
                 on_token: Callable[[list[int]], None] | None = None) -> list[tuple[str, list[int]]]:
        """``(text with the prime, generated ids)`` per sample, as ``SampleConfig`` ``cfg`` says; ``on_token``
        is called after each step with the new id of every sample (see :func:`generate`)."""
        if self.infill:
            raise RnnkitError(f"the export in {self.folder} is of a run trained with --objective infill: it fills "
                              f"a blank from both sides and does not generate text; use fill (rnnkit fill RUN \"some ___ text\")")
        head = self.vocab.encode(cfg.prime, "the prime text") if cfg.prime else []
        ids = generate(self, head or default_prime(self.vocab), cfg, self.options["window"],
                       self.vocab.unknown_id(), on_token)
        return [(self.vocab.decode(head + row), row) for row in ids]

    # -- fill -----------------------------------------------------------------------------
    def fill(self, text: str, top_k: int = 5) -> list[Filler]:
        """The ``top_k`` most likely tokens for the one blank ``___`` of ``text``, best first, with their
        probabilities (``rnnkit.text.fill``); runs trained with ``--objective infill`` only."""
        if not self.infill:
            raise RnnkitError(f"the export in {self.folder} is of a run trained with --objective "
                              f"{self.options['objective']}, which reads left to right only; fill needs a run "
                              f"trained with --objective infill")
        blank = around_blank(self.vocab, text, top_k, self.options["seq_len"])
        log_probs, _ = self.log_probs(np.array([blank.row()], np.int64))
        return rank(np.exp(log_probs[0, len(blank.left)]), self.vocab, blank, top_k)


def generate(model: ExportedLanguageModel, prime: list[int], cfg: SampleConfig, window: int | None,
             unk: int | None, on_token: Callable[[list[int]], None] | None = None) -> list[list[int]]:
    """``cfg.num_samples`` lists of ``cfg.length`` new ids after ``prime`` (``sampling.generate`` in numpy):
    the prime is read once and each new token is one call with the state carried; with ``window`` (window
    objective) each step re-reads the last ``window`` tokens from the start of text instead. ``on_token``,
    if given, is called after each step with the new id of every sample (``num_samples`` ints)."""
    rng = np.random.default_rng(cfg.seed)
    banned = None if unk is None or cfg.allow_unk else unk
    history = np.tile(np.array(prime, np.int64), (cfg.num_samples, 1))  # (B, P)
    out = np.empty((cfg.num_samples, cfg.length), np.int64)
    context, state = history if window is None else history[:, -window:], None
    for i in range(cfg.length):
        log_probs, state = model.log_probs(context, state if window is None else None)
        logits = log_probs[:, -1]  # (B, V)
        if banned is not None:
            logits = logits.copy()
            logits[:, banned] = -np.inf
        out[:, i] = next_token(logits, cfg, rng)
        if on_token is not None:
            on_token(out[:, i].tolist())
        if window is None:
            context = out[:, i : i + 1]
        else:
            context = np.concatenate([context[:, 1:] if context.shape[1] >= window else context, out[:, i : i + 1]], 1)
    return out.tolist()


def next_token(logits: np.ndarray, cfg: SampleConfig, rng: np.random.Generator) -> np.ndarray:
    """Pick one token per row of ``logits (B, V)`` (``sampling.next_token``'s rules); returns ``(B,)`` int64."""
    if cfg.greedy:
        return logits.argmax(-1)
    logits = logits.astype(np.float32) if cfg.temperature == 1.0 else logits.astype(np.float32) / np.float32(cfg.temperature)
    V = logits.shape[-1]
    if cfg.top_k and cfg.top_k < V:
        kth = -np.partition(-logits, cfg.top_k - 1, axis=-1)[:, cfg.top_k - 1 : cfg.top_k]
        logits = np.where(logits < kth, -np.inf, logits).astype(np.float32)
    if cfg.top_p < 1.0:
        order = np.argsort(-logits, axis=-1, kind="stable")
        ranked = np.take_along_axis(logits, order, -1)
        p = _softmax(ranked)
        ranked[np.cumsum(p, -1) - p >= cfg.top_p] = -np.inf  # keep the first token past top_p
        logits = np.full_like(logits, -np.inf)
        np.put_along_axis(logits, order, ranked, -1)
    # inverse-CDF draw: the first token whose cumulative probability reaches u ~ U(0, 1)
    cdf = np.cumsum(_softmax(logits), -1)
    u = rng.random((len(cdf), 1), dtype=np.float32) * cdf[:, -1:]
    return np.minimum((cdf < u).sum(-1), V - 1)


def _softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of ``x (B, V)`` float32 (-inf entries get 0)."""
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)
