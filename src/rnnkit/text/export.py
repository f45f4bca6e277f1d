"""``rnnkit export`` for language models: the recurrent model's call as ONNX, the n-gram as data.

What the folder holds (``runtime.py`` reads it without torch)::

    step.onnx     tokens (B, T) int64, h (L, B, H) [, c (L, B, H) for the LSTM]
                    -> log_probs (B, T, V), h_out (L, B, H) [, c_out]          (stream and window runs)
    infill.onnx   tokens (B, T) int64 -> log_probs (B, T, V)                     (--objective infill runs:
                    row t is the distribution of tokens[:, t] given every other token of the row)
    ngram.npz     the n-gram's count tables (``NGramModel.arrays``; numpy arrays, no pickle):
                    the Kneser-Ney mix of a recurrent run, or the whole model of an n-gram run

A zero state is "start of text", as ``state=None`` is for the PyTorch model. Generation loops in
numpy: the prime is one call of ``step``, every new token one more call with the state carried.
The mix is applied in numpy exactly as ``mixture.MixedModel`` does it, from the same tables.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.errors import RnnkitError
from ..nn.cells import ExplicitRecurrent
from . import textdata
from .infill import InfillModel
from .mixture import MixedModel
from .ngram import NGramModel
from .rnn_lm import FUSED, RNNLanguageModel

NGRAM_FILE = "ngram.npz"
SHAPES = ((1, 6), (3, 13))
COST_TOKENS, COST_CHUNK = 20_000, 500  # validation tokens scored for --quantize int8, tokens per call
ONE_TOKEN = 1  # time steps per call of a vanilla RNN's step graph (see _export_step)  # (batch, time) of the parity inputs: the prime, then one step carrying the state


class StepGraph(nn.Module):
    """``RNNLanguageModel``'s call in eval mode with the state as plain tensors (what ONNX exports):
    ``forward(tokens (B, T), h (L, B, H)[, c (L, B, H)]) -> (log_probs (B, T, V), h_out[, c_out])``."""

    def __init__(self, model: RNNLanguageModel):
        super().__init__()
        self.cell, self.vocab_size = model.cfg.cell, model.vocab_size
        self.embed, self.head = model.embed, model.head  # tied weights stay tied: head.weight is embed.weight
        self.rnn = fused(model.rnn, model.cfg.cell, model.cfg.nonlinearity)

    def forward(self, tokens: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None):
        x = one_hot(tokens, self.vocab_size) if self.embed is None else self.embed(tokens)  # (B, T, E)
        out, state = self.rnn(x, (h, c) if self.cell == "lstm" else h)  # (B, T, H)
        log_probs = F.log_softmax(self.head(out), -1)  # (B, T, V)
        return (log_probs, *state) if self.cell == "lstm" else (log_probs, state)


class InfillGraph(nn.Module):
    """``InfillModel``'s call in eval mode, as log-probabilities: ``tokens (B, T) -> (B, T, V)``."""

    def __init__(self, model: InfillModel):
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.model(tokens), -1)


def one_hot(tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """``--one-hot`` inputs: ``tokens (B, T) -> (B, T, V)`` float32 (``F.one_hot`` would fix T when traced)."""
    return (tokens[..., None] == torch.arange(vocab_size, device=tokens.device)).float()


def fused(rnn: nn.Module, cell: str, nonlinearity: str) -> nn.Module:
    """The fused ``nn.RNN/LSTM/GRU`` of a stack: itself, or (``--impl explicit``, whose loop over time
    would be unrolled at a fixed length) a fused copy with the same weights (the same parameter names)."""
    if not isinstance(rnn, ExplicitRecurrent):
        return rnn
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    input_size = rnn.weight_ih_l0.size(1)
    copy = FUSED[cell](input_size, rnn.hidden_size, rnn.num_layers, batch_first=True, **extra)
    copy.load_state_dict(rnn.state_dict())
    return copy.eval()


def parts(model: nn.Module) -> tuple[nn.Module | None, NGramModel | None, float | None]:
    """``(recurrent model, n-gram, mixing weight)`` of a loaded model; absent parts are None."""
    if isinstance(model, MixedModel):
        return model.rnn, model.ngram, model.weight
    if isinstance(model, NGramModel):
        return None, model, None
    return model, None, None


def export(loaded, draft) -> None:
    """Write the graphs, the n-gram tables and the runtime's data for ``loaded`` (``api.load``'s result)."""
    rnn, ngram, weight = parts(loaded.model)
    cfg = loaded.config
    draft.data.update(vocab=loaded.vocab.to_json(), sample=dataclasses.asdict(cfg.sample),
                      model={"family": cfg.model, "objective": cfg.train.objective, "window": cfg.window,
                             "seq_len": cfg.train.seq_len, "cell": cfg.rnn.cell, "layers": cfg.rnn.layers,
                             "hidden_size": cfg.rnn.hidden_size})
    if isinstance(rnn, InfillModel):
        tokens = torch.zeros(2, 5, dtype=torch.long)
        draft.graph("infill", InfillGraph(rnn), (tokens,), ["tokens"], ["log_probs"],
                    {"tokens": {0: "batch", 1: "time"}, "log_probs": {0: "batch", 1: "time"}})
    elif rnn is not None:
        _export_step(rnn, draft)
    if ngram is not None:
        draft.data["ngram"] = {"file": NGRAM_FILE, **dataclasses.asdict(ngram.cfg), "weight": weight}
        buffer = io.BytesIO()
        np.savez(buffer, **ngram.arrays())
        draft.file(NGRAM_FILE, buffer.getvalue())
    draft.metrics = test_metrics(loaded)


def _export_step(model: RNNLanguageModel, draft) -> None:
    """The ``step`` graph. torch.export unrolls ``nn.RNN``'s loop over time (not the LSTM's or GRU's), so a
    vanilla RNN's graph reads one token per call (``tokens (B, 1)``) and the runtime feeds a prime token by token."""
    cfg = model.cfg
    lstm = cfg.cell == "lstm"
    length = ONE_TOKEN if cfg.cell == "rnn" else None
    draft.data["model"]["step_length"] = length
    tokens = torch.zeros(2, length or 5, dtype=torch.long)
    h = torch.zeros(cfg.layers, 2, cfg.hidden_size)
    states = ["h", "c"] if lstm else ["h"]
    sequence = {0: "batch"} if length else {0: "batch", 1: "time"}
    dynamic = {"tokens": sequence, "log_probs": sequence, **{name: {1: "batch"} for name in states},
               **{f"{name}_out": {1: "batch"} for name in states}}
    draft.graph("step", StepGraph(model), (tokens, h, h.clone()) if lstm else (tokens, h), ["tokens", *states],
                ["log_probs", *(f"{name}_out" for name in states)], dynamic)


def test_metrics(loaded) -> dict:
    """The run's test-split metrics (what ``rnnkit evaluate`` prints), when its encoded corpus is at hand; else {}."""
    from . import api

    run = loaded.source.parent
    if not (run / textdata.TOKENS_FILE).is_file():
        return {}
    try:
        return {"test": api.evaluate(loaded, "test", run).to_json()}
    except RnnkitError:
        return {}


@torch.inference_mode()
def reference(model: nn.Module, tokens: np.ndarray, state=None) -> tuple[np.ndarray, object]:
    """The PyTorch model's log-probabilities ``(B, T, V)`` for ``tokens (B, T)`` after ``state``, and its new state."""
    t = torch.from_numpy(np.asarray(tokens, np.int64))
    if isinstance(model, InfillModel):
        return F.log_softmax(model(t).float(), -1).numpy(), None
    out, state = model(t, state)
    if isinstance(model, RNNLanguageModel):  # logits; the mixed and n-gram models give log-probabilities
        out = F.log_softmax(out.float(), -1)
    return out.float().numpy(), state


def parity(loaded, exported) -> dict[str, float]:
    """Max |runtime - PyTorch| of the log-probabilities on random tokens: at each of two (batch, length)
    shapes, a call from the start of text and then one step with the state carried over (what generation
    does); for a mixed run both mixed and of the recurrent model alone (a mix weight near 1 would hide it).
    Infill runs: the whole row at the same shapes."""
    rnn, ngram, weight = parts(loaded.model.eval())
    cases = _cases(loaded.model, exported, len(loaded.vocab), "")
    if weight is not None:
        exported.mix = False
        try:
            cases.update(_cases(rnn, exported, len(loaded.vocab), "recurrent model alone, "))
        finally:
            exported.mix = True
    return cases


def _cases(model: nn.Module, exported, vocab_size: int, label: str) -> dict[str, float]:
    rng = np.random.default_rng(0)
    cases = {}
    for B, T in SHAPES:
        tokens = rng.integers(0, vocab_size, (B, T))
        if isinstance(model, InfillModel):
            cases[f"infill batch {B} length {T}"] = _diff(reference(model, tokens)[0], exported.log_probs(tokens)[0])
            continue
        ref, ref_state = reference(model, tokens[:, :-1])
        got, got_state = exported.log_probs(tokens[:, :-1])
        cases[f"{label}batch {B} length {T - 1}"] = _diff(ref, got)
        ref, _ = reference(model, tokens[:, -1:], ref_state)
        got, _ = exported.log_probs(tokens[:, -1:], got_state)
        cases[f"{label}batch {B} length {T - 1} then one step"] = _diff(ref, got)
    return cases


def quantized_cost(loaded, fp32, int8, run_dir) -> dict:
    """``--quantize int8``'s cost: validation nats/token of the fp32 and the int8 export, both scored by the
    runtime on the first ``COST_TOKENS`` tokens of the run's validation split."""
    tokens = textdata.open_prepared(run_dir, loaded.vocab).part("val")[:COST_TOKENS].astype(np.int64)
    return {"val_tokens": len(tokens), "val_loss_fp32": val_loss(fp32, tokens), "val_loss_int8": val_loss(int8, tokens)}


def val_loss(exported, tokens: np.ndarray) -> float:
    """Mean nats/token of ``tokens (N,)`` under the export: read as a stream with the state carried (stream
    and n-gram runs), as windows predicting the token after them (window runs), or every token of a window
    given the others (infill runs)."""
    options = exported.options
    length = (options["window"] or options["seq_len"]) + 1
    if options["objective"] in ("window", "infill") and len(tokens) >= length:
        rows = tokens[: len(tokens) // length * length].reshape(-1, length)  # (N, L) non-overlapping windows
        if options["objective"] == "infill":
            log_probs, _ = exported.log_probs(rows)
            return float(-np.take_along_axis(log_probs, rows[..., None], -1).mean())
        log_probs, _ = exported.log_probs(rows[:, :-1])
        return float(-log_probs[np.arange(len(rows)), -1, rows[:, -1]].mean())
    picked, state = [], None
    for a in range(0, len(tokens) - 1, COST_CHUNK):
        chunk = tokens[a : a + COST_CHUNK + 1]
        log_probs, state = exported.log_probs(chunk[None, :-1], state)
        picked.append(log_probs[0, np.arange(len(chunk) - 1), chunk[1:]])
    return float(-np.concatenate(picked).mean())


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    """Max |a - b| (NaN if either has one), where equal entries (also -inf and -inf) differ by 0."""
    assert a.shape == b.shape, (a.shape, b.shape)
    d = np.where(a == b, 0.0, np.abs(a.astype(np.float64) - b.astype(np.float64)))
    return float(d.max())
