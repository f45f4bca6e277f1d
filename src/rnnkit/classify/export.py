"""``rnnkit export`` of a sequence classifier: one graph from a padded batch to the logits.

The classifier's stack reads packed batches (``nn/recurrent.RecurrentStack``), which ONNX cannot
hold; the export runs the same weights unpacked (``nn/recurrent.unpacked``: a ``PaddedStack`` that
reads each row's backward direction from its last true step), with the pooling over the valid
steps only::

    ids (B, S) int64 (text) or frames (B, S, C) float32 (numeric, scaled), lengths (B,)  ->  logits (B, classes)

An ensemble (``--members K``) is one graph of its K members whose logits are log(mean_k softmax_k): their
softmax is the members' mean probability, as in PyTorch.

Text units (the tokenizer and vocabulary; a subword run's SentencePiece model as ``tokenizer.model``)
or the channel scaler, the labels and the run's options go into the manifest's data; the runtime
(``runtime.py``) encodes, pads, batches and takes the softmax in numpy. A text run's TF-IDF mix
(``reference.py``) goes beside the graph: its n-grams as ``mix-ngrams.json``, its arrays as
``mix.safetensors``, its weight in the manifest; the runtime applies it in numpy.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch
from torch import nn

from ..core.errors import RnnkitError
from ..nn.ensemble import Ensemble
from ..nn.recurrent import exportable, padded_final, unpacked
from ..core.confusion import log_loss
from .api import Classifier, evaluate, split_examples
from .model import SequenceClassifier
from .task import pad, predict_logits
from .units import Scaler

TOKENIZER_FILE = "tokenizer.model"
MIX_NGRAMS, MIX_ARRAYS = "mix-ngrams.json", "mix.safetensors"  # as runtime.py reads them
TRACE_LENGTHS = (7, 4, 2)  # a traced batch with sizes > 1 on every dynamic axis
CASES = ((1, 5), (5, 17), (12, 40))  # parity: (sequences, longest length)


class PaddedClassifier(nn.Module):
    """``SequenceClassifier``'s forward on padded input without packing, from the same weights.

    ``x (B, S)`` ids or ``(B, S, C)`` frames, ``lengths (B,)`` -> ``logits (B, classes)``; equal to the
    packed model's at every row whatever padding follows it (``parity``). The valid steps come from
    ``x``'s time axis, never the stack's output's, whose length the exporter fixes (pytorch#191855).
    """

    def __init__(self, model: SequenceClassifier):
        super().__init__()
        self.stack = exportable(unpacked(model.stack))
        self.model = copy.deepcopy(model).cpu().eval()  # front end, attention query and head
        self.model.stack = None  # the packed stack: not in the graph
        self.pooling, self.directions = model.cfg.pooling, model.stack.directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.stack(self.model.embed(x), lengths)  # (B, S, D*H)
        return self.model.head(self.pool(out, lengths, x.size(1)))

    def pool(self, out: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """``(B, S, W)`` -> ``(B, W)``, as ``SequenceClassifier.pool``."""
        if self.pooling == "last":
            return padded_final(out, lengths, self.directions)
        valid = (torch.arange(steps)[None] < lengths[:, None]).unsqueeze(-1)  # (B, S, 1)
        if self.pooling == "mean":
            return (out * valid).sum(1) / lengths.view(-1, 1).to(out.dtype)
        if self.pooling == "max":
            return out.masked_fill(~valid, float("-inf")).amax(1)
        scores = self.model.query(out).masked_fill(~valid, float("-inf")).softmax(1)  # (B, S, 1)
        return (scores * out).sum(1)


def padded(model: SequenceClassifier | Ensemble) -> nn.Module:
    """The exported graph's module of ``model``: an ensemble's of its members' unpacked forwards."""
    if isinstance(model, Ensemble):
        return Ensemble((PaddedClassifier(m) for m in model.members), model.cfg, model.n_classes)
    return PaddedClassifier(model)


def input_name(clf: Classifier) -> str:
    return "ids" if clf.kind == "text" else "frames"


def export(loaded: Classifier, draft) -> None:
    """Write ``classifier.onnx``, the text units or scaler, the labels and the run's options."""
    model = loaded.model.cpu().eval()
    name = input_name(loaded)
    x, lengths = pad(generated(loaded, TRACE_LENGTHS, seed=0))
    dynamic = {name: {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}}
    draft.graph("classifier", padded(model), (x, lengths), [name, "lengths"], ["logits"], dynamic)
    draft.data.update({"kind": loaded.kind, "labels": loaded.labels, "config": dataclasses.asdict(loaded.config)})
    if isinstance(loaded.encoder, Scaler):
        draft.data["scaler"] = loaded.encoder.state()
    else:
        info, blob = loaded.encoder.state()
        draft.data["units"] = info
        if blob:
            draft.file(TOKENIZER_FILE, blob)
    if loaded.mix:  # the TF-IDF classifier mixed in after training: its n-grams and arrays beside the graph
        info = loaded.mix.info()
        draft.file(MIX_NGRAMS, json.dumps(info.pop("ngrams")))
        draft.file(MIX_ARRAYS, safetensors.numpy.save(loaded.mix.reference.arrays()))
        draft.data["mix"] = info
    draft.metrics = test_metrics(loaded)


def quantized_cost(loaded: Classifier, fp32, int8, run_dir: Path) -> dict:
    """``--quantize int8``'s cost: accuracy and log loss of the fp32 and the int8 export on the run's
    validation examples."""
    examples, y = split_examples(loaded, "val", run_dir)
    cost: dict = {"val_examples": len(y)}
    for name, exported in (("fp32", fp32), ("int8", int8)):
        probs = exported.probabilities(examples.inputs)
        cost[f"val_accuracy_{name}"] = float((probs.argmax(1) == y).mean())
        cost[f"val_loss_{name}"] = log_loss(probs, y)
    return cost


def test_metrics(loaded: Classifier) -> dict:
    """The checkpoint's scores on the run's test part ({} when it has none or its files are gone)."""
    try:
        return evaluate(loaded, "test", Path(loaded.source).parent).to_json()
    except RnnkitError:
        return {}


def generated(loaded: Classifier, lengths: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Encoded inputs of the given lengths: random vocabulary ids (``<unk>`` among them), or scaled frames."""
    rng = np.random.default_rng(seed)
    if isinstance(loaded.encoder, Scaler):
        C = len(loaded.encoder.mean)
        return [rng.normal(size=(n, C)).astype(np.float32) for n in lengths]
    V = len(loaded.encoder.vocab)
    return [rng.integers(1, V, n).astype(np.int64) if V > 1 else np.ones(n, np.int64) for n in lengths]


def raw_inputs(loaded: Classifier, count: int, longest: int, seed: int) -> list:
    """``count`` raw inputs (texts from vocabulary units and unseen words, or ``(T, C)`` series with a missing
    value) of 1 to ``longest`` units or steps, one of them ``longest`` long."""
    rng = np.random.default_rng(seed)
    lengths = [longest] + list(rng.integers(1, longest + 1, count - 1))
    if isinstance(loaded.encoder, Scaler):
        mean, std = loaded.encoder.mean.astype(np.float64), loaded.encoder.std.astype(np.float64)
        series = [mean + std * rng.normal(size=(n, len(mean))) for n in lengths]
        series[-1][0, 0] = np.nan
        return series
    pieces = [p for p in loaded.encoder.vocab.pieces[4:] if p.strip()] or ["x"]
    glue = "" if loaded.encoder.cfg.level == "char" else " "
    return [glue.join(str(rng.choice(pieces)) if rng.random() < 0.9 else "zqxj" for _ in range(n)) for n in lengths]


def torch_log_probabilities(loaded: Classifier, inputs: list) -> np.ndarray:
    """``(N, classes)`` log-probabilities of raw inputs from the PyTorch model (its own batching), with its mix."""
    logits = predict_logits(loaded.model, loaded.encoder.encode(list(inputs)), torch.device("cpu"),
                            loaded.config.predict.batch_size)
    if loaded.mix:
        return np.log(loaded.mix.probabilities(logits.softmax(-1).numpy().astype(np.float64), list(inputs)))
    return logits.log_softmax(-1).numpy()


def parity(loaded: Classifier, exported) -> dict[str, float]:
    """Max |runtime - PyTorch| of the log-probabilities of raw inputs, per case of (inputs, longest length)."""
    out = {}
    for count, longest in CASES:
        inputs = raw_inputs(loaded, count, longest, seed=count)
        ours = exported.log_probabilities(inputs)
        out[f"logp_b{count}_s{longest}"] = float(np.abs(ours - torch_log_probabilities(loaded, inputs)).max())
    return out
