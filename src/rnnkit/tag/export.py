"""``rnnkit export`` of a sequence tagger: the emission graph; decoding runs in numpy (``runtime.py``).

The tagger already reads padded batches with lengths (``nn/recurrent.PaddedStack``), so its
``emissions`` exports as it is::

    words (B, S), chars (U, L), char_lengths (U,), token_index (B, S), lengths (B,)  ->  emissions (B, S, T)

(inputs as ``vocab.Encoded`` holds them; the graph keeps only those the model reads). The CRF's
scores, forbidden transitions included (``crf.CRF.scores``), go into the manifest's data, and the
runtime runs Viterbi over the emissions; a softmax tagger takes each token's best tag.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.errors import RnnkitError
from ..nn.recurrent import exportable
from . import metrics
from .api import LoadedTagger, evaluate, split_sentences
from .model import Tagger
from .scheme import ENTITY_SCHEMES
from .task import to_tensors

INPUTS = ["words", "chars", "char_lengths", "token_index", "lengths"]
DYNAMIC = {"words": {0: "batch", 1: "time"}, "chars": {0: "units", 1: "chars"}, "char_lengths": {0: "units"},
           "token_index": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "emissions": {0: "batch", 1: "time"}}
# tracing batch: sizes > 1 and different on every dynamic axis, so none is fixed or tied to another
TRACE = [["The", "cat", "sat", "on", "the", "mat", "."], ["A", "dog", "barked"], ["Hello", "world", "again", "!"]]


class Emissions(nn.Module):
    """The tagger's ``emissions`` as a module of positional inputs (the graph's input order); a tanh RNN's
    layers as the equivalent GRU layers (``nn.recurrent.exportable``), the others as they are."""

    def __init__(self, tagger: Tagger):
        super().__init__()
        self.tagger = copy.deepcopy(tagger).cpu().eval()
        self.tagger.stack = exportable(self.tagger.stack)
        if self.tagger.chars is not None and self.tagger.chars.kind == "lstm":
            self.tagger.chars.rnn = exportable(self.tagger.chars.rnn)

    def forward(self, words: torch.Tensor, chars: torch.Tensor, char_lengths: torch.Tensor,
                token_index: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.tagger.emissions(words, chars, char_lengths, token_index, lengths)  # (B, S, T)


def export(loaded: LoadedTagger, draft) -> None:
    """Write ``emissions.onnx`` and the token encoder, tags, scheme, CRF scores and options."""
    model = loaded.model.cpu().eval()
    x = to_tensors(loaded.encoder.batch(TRACE), torch.device("cpu"))
    draft.graph("emissions", Emissions(model), tuple(x[name] for name in INPUTS), INPUTS, ["emissions"], DYNAMIC)
    draft.data.update({"encoder": loaded.encoder.state(), "scheme": loaded.scheme, "decoder": model.cfg.decoder,
                       "config": dataclasses.asdict(loaded.config)})
    if model.crf is not None:
        start, trans, end = (s.detach().float().numpy().tolist() for s in model.crf.scores())
        draft.data["crf"] = {"start": start, "transitions": trans, "end": end}
    draft.metrics = test_metrics(loaded)


def quantized_cost(loaded: LoadedTagger, fp32, int8, run_dir: Path) -> dict:
    """``--quantize int8``'s cost: token accuracy (and entity span F1 for BIO/IOBES tags) of the fp32 and the
    int8 export on the run's validation sentences."""
    chosen = split_sentences(loaded, "val", run_dir)
    gold, tokens = [s.tags for s in chosen], [s.tokens for s in chosen]
    cost: dict = {"val_sentences": len(chosen)}
    for name, exported in (("fp32", fp32), ("int8", int8)):
        pred = exported.tag(tokens)
        cost[f"val_accuracy_{name}"] = metrics.accuracy(gold, pred)[0]
        if loaded.scheme in ENTITY_SCHEMES:
            cost[f"val_span_f1_{name}"] = metrics.spans(gold, pred)["f1"]
    return cost


def test_metrics(loaded: LoadedTagger) -> dict:
    """The checkpoint's scores on the run's test part ({} when it has none or its files are gone)."""
    try:
        ev = evaluate(loaded, "test", Path(loaded.source).parent)
    except RnnkitError:
        return {}
    return {k: v for k, v in ev.items() if k != "confusions"}


def sentences(loaded: LoadedTagger, count: int, length: int, seed: int) -> list[list[str]]:
    """``count`` generated sentences of 1 to ``length`` tokens: training words (some capitalised, so
    lowercasing is exercised), unseen words of known characters and unseen characters."""
    rng = np.random.default_rng(seed)
    known = loaded.encoder.words.pieces[4:] or ["word"]
    letters = [c for c in loaded.encoder.chars.pieces[4:] if not c.isspace()] or list("abc")

    def token() -> str:
        kind = rng.integers(5)
        if kind == 0:
            return "".join(rng.choice(letters, rng.integers(1, 45)))  # longer than --max-word at times
        if kind == 1:
            return "Ωψ" + str(rng.choice(letters))
        word = str(rng.choice(known))
        return word.capitalize() if kind == 2 else word

    lengths = [length] + list(rng.integers(1, length + 1, count - 1))
    return [[token() for _ in range(n)] for n in lengths]


def torch_emissions(loaded: LoadedTagger, batch: list[list[str]]) -> list[np.ndarray]:
    """Each sentence's ``(n_i, T)`` emissions from the PyTorch model, the batch in one call."""
    x = to_tensors(loaded.encoder.batch(batch), torch.device("cpu"))
    with torch.no_grad():
        e = loaded.model.cpu().eval().emissions(**x).float().numpy()
    return [e[i, :len(s)] for i, s in enumerate(batch)]


CASES = ((1, 3), (4, 9), (16, 25))  # (sentences, longest length)


def parity(loaded: LoadedTagger, exported) -> dict[str, float]:
    """Max |runtime - PyTorch| of the emissions, per case of (sentences, longest length)."""
    out = {}
    for count, length in CASES:
        batch = sentences(loaded, count, length, seed=count)
        ours = exported.emissions(batch)
        theirs = torch_emissions(loaded, batch)
        out[f"emissions_b{count}_s{length}"] = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
    return out
