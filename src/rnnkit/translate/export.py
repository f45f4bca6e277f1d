"""``rnnkit export`` for translators: an encoder graph and a one-step decoder graph, the search in numpy.

Graphs (``B`` sentences, ``S`` source tokens with EOS, ``L`` layers, ``H`` hidden units, ``V`` target pieces)::

    encoder       source (B, S) int64, lengths (B,) int64
                  -> memory (B, S, H), keys (B, S, A), mask (B, S) bool   (attention runs only)
                     h (L, B, H), c (L, B, H) (LSTM only): the decoder's initial state
    decoder_step  previous (B,) int64, h, c (LSTM), memory, keys, mask (attention runs)
                  -> logp (B, V), new_h, new_c (LSTM), weights (B, S) (attention runs)

The run's encoder packs its batches, which ONNX cannot export; the encoder graph runs the same weights
over the padded batch (``nn.recurrent.unpacked``: the backward direction reads each sentence reversed
within its length; a tanh RNN's layers as equivalent GRUs, ``nn.recurrent.exportable``), with the memory
zeroed at padding as packing leaves it. Greedy and beam search are
``rnnkit.translate.runtime.ExportedTranslator``'s, in numpy.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
from torch import nn

from ..nn.recurrent import exportable, padded_final, unpacked
from ..core.pieces import BOS
from .api import Translator
from .codec import SIDES
from .model import Memory, Seq2Seq

# the export's parity inputs: (batch, source tokens, target steps); each batch's lengths vary
PARITY_CASES = ((1, 5, 4), (3, 9, 7), (4, 13, 12))


class _PaddedEncoder(nn.Module):
    """Stands in for ``RecurrentStack`` in ``Seq2Seq.encode``: outputs zero at padding, and as its "final
    state" the top layer's final hidden states ``(B, D*H)``, which ``last_layer_final`` passes through."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.stack, self.directions = exportable(unpacked(encoder)), encoder.directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.stack(x, lengths)  # (B, S, D*H)
        mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
        return out * mask[..., None].to(out.dtype), padded_final(out, lengths, self.directions)

    @staticmethod
    def last_layer_final(final: torch.Tensor) -> torch.Tensor:
        return final


def export_copy(model: Seq2Seq) -> Seq2Seq:
    """A copy of ``model`` (fp32, CPU, eval) whose encoder runs on padded batches without packing."""
    copy = Seq2Seq(model.cfg, model.source_embed.num_embeddings, model.target_embed.num_embeddings)
    copy.load_state_dict({k: v.float().cpu() for k, v in model.state_dict().items()})
    copy.encoder = _PaddedEncoder(copy.encoder)
    return copy.eval()


def state_names(model: Seq2Seq) -> list[str]:
    return ["h", "c"] if model.cfg.cell == "lstm" else ["h"]


def memory_names(model: Seq2Seq) -> list[str]:
    return [] if model.attention is None else ["memory", "keys", "mask"]


class EncoderGraph(nn.Module):
    """``source (B, S)``, ``lengths (B,)`` -> memory, keys, mask (attention runs), then the state tensors."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, source: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        memory, state = self.model.encode(source, lengths)
        states = state if isinstance(state, tuple) else (state,)
        held = () if self.model.attention is None else (memory.states, memory.keys, memory.mask)
        return (*held, *states)


class DecoderStepGraph(nn.Module):
    """``previous (B,)``, the state, the memory -> ``logp (B, V)``, the new state, ``weights (B, S)``.

    The exporter needs a fixed signature, so each variant (GRU/RNN or LSTM state, with or without attention)
    is a subclass with its own ``forward``; ``for_model`` picks it."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    @staticmethod
    def for_model(model: Seq2Seq) -> "DecoderStepGraph":
        lstm, attention = model.cfg.cell == "lstm", model.attention is not None
        return {(False, False): _Step, (False, True): _AttentionStep, (True, False): _LstmStep,
                (True, True): _LstmAttentionStep}[lstm, attention](model)

    def step(self, previous: torch.Tensor, state, memory: Memory | None) -> tuple[torch.Tensor, ...]:
        logits, state, weights = self.model.decode_step(previous, state, memory)
        states = state if isinstance(state, tuple) else (state,)
        return (torch.log_softmax(logits.float(), dim=-1), *states, *(() if weights is None else (weights,)))


class _Step(DecoderStepGraph):
    def forward(self, previous, h):
        return self.step(previous, h, None)


class _AttentionStep(DecoderStepGraph):
    def forward(self, previous, h, memory, keys, mask):
        return self.step(previous, h, Memory(memory, keys, mask))


class _LstmStep(DecoderStepGraph):
    def forward(self, previous, h, c):
        return self.step(previous, (h, c), None)


class _LstmAttentionStep(DecoderStepGraph):
    def forward(self, previous, h, c, memory, keys, mask):
        return self.step(previous, (h, c), Memory(memory, keys, mask))


BATCH, TIME, STATE = {0: "batch"}, {0: "batch", 1: "src_len"}, {1: "batch"}  # the graphs' dynamic axes


def export(loaded: Translator, draft) -> None:
    """Write both graphs, the vocabularies, the SentencePiece models and the run's search defaults."""
    model = export_copy(loaded.model)
    _decoder_step(model, draft, _encoder(model, draft))
    draft.data.update(_settings(loaded))
    _write_codec(loaded, draft)
    draft.metrics = {}  # a translation run records no test metrics (rnnkit evaluate RUN computes them)


def _encoder(model: Seq2Seq, draft) -> tuple[torch.Tensor, ...]:
    """Export ``encoder.onnx``; its outputs on the traced batch (memory tensors, then state tensors)."""
    states, held = state_names(model), memory_names(model)
    torch.manual_seed(0)  # a batch with sizes > 1 on every dynamic axis, lengths varied
    source, lengths = torch.randint(4, model.source_embed.num_embeddings, (3, 6)), torch.tensor([6, 2, 4])
    graph = EncoderGraph(model)
    draft.graph("encoder", graph, (source, lengths), ["source", "lengths"], held + states,
                {"source": TIME, "lengths": BATCH, **dict.fromkeys(held, TIME), **dict.fromkeys(states, STATE)})
    with torch.no_grad():
        return graph(source, lengths)


def _decoder_step(model: Seq2Seq, draft, encoded: tuple[torch.Tensor, ...]) -> None:
    """Export ``decoder_step.onnx``, traced on the encoder's outputs and BOS."""
    states, held = state_names(model), memory_names(model)
    new = [f"new_{s}" for s in states]
    args = (torch.full((3,), BOS), *encoded[len(held):], *encoded[:len(held)])
    draft.graph("decoder_step", DecoderStepGraph.for_model(model), args, ["previous", *states, *held],
                ["logp", *new, *(["weights"] if held else [])],
                {"previous": BATCH, "logp": BATCH, "weights": TIME, **dict.fromkeys(held, TIME),
                 **dict.fromkeys(states + new, STATE)})


def _settings(loaded: Translator) -> dict:
    cfg = loaded.config
    return {"model": {k: getattr(cfg.model, k) for k in ("cell", "layers", "hidden_size", "bidirectional",
                                                         "attention")},
            "lowercase": cfg.data.lowercase, "search": dataclasses.asdict(cfg.search)}


def _write_codec(loaded: Translator, draft) -> None:
    """Each side's vocabulary as JSON and, for subwords, its SentencePiece model file."""
    meta, tensors = loaded.codec.to_meta()
    codec = {}
    for side in SIDES:
        entry = {"tokenizer": meta[side]["tokenizer"], "vocab": f"{side}_vocab.json", "model": ""}
        draft.file(entry["vocab"], json.dumps(meta[side]["vocab"], ensure_ascii=False))
        blob = tensors.get(f"tokenizer/{side}")
        if blob is not None:
            entry["model"] = f"{side}.model"
            draft.file(entry["model"], blob.numpy().tobytes())
        codec[side] = entry
    draft.data["codec"] = codec


# -- parity ------------------------------------------------------------------------------------------
def parity_inputs(model: Seq2Seq, batch: int, source_len: int, steps: int, seed: int):
    """Random ``source (B, S)`` (varied lengths, the first one full), ``lengths (B,)`` and a teacher-forced
    ``target_in (B, T)`` starting with BOS."""
    rng = np.random.default_rng(seed)
    lengths = np.sort(rng.integers(1, source_len + 1, size=batch))[::-1].copy()
    lengths[0] = source_len
    source = rng.integers(4, model.source_embed.num_embeddings, size=(batch, source_len))
    source[np.arange(source_len)[None] >= lengths[:, None]] = 0
    target = rng.integers(4, model.target_embed.num_embeddings, size=(batch, steps))
    target[:, 0] = BOS
    return source.astype(np.int64), lengths.astype(np.int64), target.astype(np.int64)


@torch.no_grad()
def parity(loaded: Translator, exported) -> dict[str, float]:
    """Max |runtime - PyTorch| of the teacher-forced log-probabilities ``(B, T, V)`` for each case."""
    model = loaded.model.eval()
    diffs = {}
    for k, (batch, source_len, steps) in enumerate(PARITY_CASES):
        source, lengths, target = parity_inputs(model, batch, source_len, steps, k)
        logits = model(torch.from_numpy(source), torch.from_numpy(lengths), torch.from_numpy(target))
        expected = torch.log_softmax(logits.float(), dim=-1).numpy()
        got, _ = exported.teacher_forced(source, lengths, target)
        diffs[f"logp batch {batch} source {source_len} steps {steps}"] = float(np.abs(got - expected).max())
    return diffs
