"""``--encoder-from RUN``: start a text classifier's encoder from a trained rnnkit language model
(ULMFiT-style transfer: what the model learned of the language from plain text carries over).

The language model's checkpoint is read as a file (its JSON header and safetensors weights),
not through its task's code. Copied: the embedding row of every classifier unit the language
model also has (the same string; punctuation without the word tokenizer's joiner marks; failing
that, its lowercase form), and every recurrent layer's weights into the classifier's forward
direction. The backward direction, the pooling and the head start fresh. Sizes must agree:
the same cell, embedding size and hidden size, and no more layers than the language model has.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..core import checkpoint, rundir
from ..core.errors import RnnkitError
from ..core.tokenize import JOINER
from ..nn.ensemble import members_of
from .model import Ensemble, SequenceClassifier

LM_KIND = "language-model"


def read_language_model(path: str | Path) -> tuple[dict, dict, dict[str, torch.Tensor]]:
    """``(model options, vocabulary, weights)`` of a language model's best checkpoint."""
    tensors, meta = checkpoint.load(rundir.checkpoint_path(Path(path), "best"))
    if meta.get("kind") != LM_KIND:
        raise RnnkitError(f"--encoder-from: {path} holds a {meta.get('kind')} model; pass a language model run "
                          f"(rnnkit train --task lm ...)")
    config = meta["config"]
    model = config.get("rnn", {})
    if config.get("model") != "rnn" or model.get("one_hot") or model.get("impl", "fused") != "fused" \
            or config.get("train", {}).get("objective", "stream") == "infill":
        raise RnnkitError(f"--encoder-from: {path} is not a fused recurrent language model with an embedding; "
                          f"train one with the defaults --model rnn --impl fused, without --one-hot or --objective infill")
    weights = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    return model, meta["vocab"], weights


def check_sizes(clf: SequenceClassifier | Ensemble, lm: dict) -> None:
    cfg = clf.cfg
    wanted = {"cell": lm["cell"], "embedding_size": lm["embedding_size"], "hidden_size": lm["hidden_size"]}
    wrong = [f"--{k.replace('_', '-')} {v}" for k, v in wanted.items() if getattr(cfg, k) != v]
    if cfg.layers > lm["layers"]:
        wrong.append(f"--layers {lm['layers']} (or fewer)")
    if wrong:
        raise RnnkitError(f"--encoder-from: the classifier must match the language model; pass {' '.join(wrong)}")


def start_from(clf: SequenceClassifier | Ensemble, units: list[str], level: str, path: str | Path) -> int:
    """Copy the language model's weights into ``clf`` (every member of an ensemble; ``units``: the classifier's
    vocabulary of ``level`` units); returns how many of the classifier's units got a trained embedding."""
    lm, vocab, weights = read_language_model(path)
    if vocab.get("level") != level:
        raise RnnkitError(f"--encoder-from: the language model reads {vocab.get('level')}s and the classifier "
                          f"{level}s; pass --level {vocab.get('level')} or a {level}-level language model")
    check_sizes(clf, lm)
    index = {t: i for i, t in enumerate(vocab["tokens"])}
    found = 0
    with torch.no_grad():
        for i, unit in enumerate(units):
            bare = unit.replace(JOINER, "")
            j = index.get(bare, index.get(bare.lower()))
            if j is not None and i > 0:  # row 0 is <pad>, kept at zero
                for m in members_of(clf):
                    m.front.weight[i] = weights["embed.weight"][j]
                found += 1
        for m in members_of(clf):
            for layer in range(clf.cfg.layers):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(m.stack.rnn, f"{name}_l{layer}").copy_(weights[f"rnn.{name}_l{layer}"])
    return found
