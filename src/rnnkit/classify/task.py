"""The sequence classification task for the shared training loop: configuration, batches, loss.

Training batches are drawn in a seeded order; within a window of 50 batches the examples are
sorted by length, so a batch pads little, and the batches are shuffled again (the order depends
on ``(seed, epoch)`` alone). Validation scores the whole validation part, unaugmented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch.nn import functional as F

from ..core import distributed
from ..core.buckets import length_bucketed
from ..core.config import option, require
from ..core.pieces import unknown_noise
from ..core.trainer import TrainConfig, to_device
from ..nn.ensemble import members_cross_entropy
from .examples import DataConfig
from .model import ClassifierConfig, Ensemble, SequenceClassifier
from .reference import MixConfig, selection_score
from .units import UnitsConfig

KIND = "sequence-classifier"
WINDOW = 50  # batches sorted by length together


@dataclass
class ClassifyTrainConfig(TrainConfig):
    batch_size: int = option(32, "sequences per batch")
    max_time: float | None = option(300.0, "stop after this many seconds of training (wall clock)")
    lr: float = option(2e-3, "peak learning rate")
    weight_decay: float = option(1e-2, "weight decay (decoupled for adamw)")
    eval_every: int = option(100, "validate (and checkpoint) every this many steps; also at the end")
    class_weight: str = option("none", "none, or balanced: weigh each class's loss by the inverse of its share "
                                       "of the training examples (imbalanced data)", ("none", "balanced"))
    label_smoothing: float = option(0.0, "spread this much of each target's probability over the classes")
    ema: float = option(0.999, "keep an exponential moving average of the weights with this decay per step; "
                               "validation, checkpoints' model and the trained model are the average (0 = off)")
    word_dropout: float = option(0.0, "text, training: read each unit as <unk> with this probability (word dropout)")
    select: str = option("error", "what validation scores to keep the best checkpoint and to stop early: error "
                                  "(1 - accuracy; equal errors: the lower loss) or loss (cross-entropy)",
                         ("error", "loss"))

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.word_dropout < 1, "word_dropout", f"must be in [0, 1), got {self.word_dropout}")


def upgrade(saved: dict) -> dict:
    """A saved configuration (a run's ``config.json`` or checkpoint) with the options added since it was
    written set to what the run did then: the lowest validation loss kept, no word dropout, no mix, one
    classifier."""
    train = saved.get("train")
    if isinstance(train, dict):
        saved = {**saved, "train": {"select": "loss", "word_dropout": 0.0, **train}}
    if isinstance(train, dict) and "mix" not in saved:
        saved = {**saved, "mix": {"mix_with": "none"}}
    model = saved.get("model")
    if isinstance(model, dict) and "members" not in model:
        saved = {**saved, "model": {**model, "members": 1}}
    return saved


@dataclass
class PredictConfig:
    """Defaults of ``rnnkit predict``."""

    top_k: int = option(1, "how many labels per input, most likely first")
    batch_size: int = option(256, "sequences classified side by side")

    def __post_init__(self) -> None:
        for name in ("top_k", "batch_size"):
            require(getattr(self, name) >= 1, name, f"must be 1 or more, got {getattr(self, name)}")


@dataclass
class ClassifyConfig:
    data: DataConfig = field(default_factory=DataConfig)
    units: UnitsConfig = field(default_factory=UnitsConfig)
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    train: ClassifyTrainConfig = field(default_factory=ClassifyTrainConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    mix: MixConfig = field(default_factory=MixConfig)  # text: the TF-IDF classifier mixed in after training


def pad(inputs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoded sequences -> ``(B, S)`` ids or ``(B, S, C)`` frames, zero-padded, and lengths ``(B,)``."""
    lengths = torch.tensor([len(x) for x in inputs])
    first = inputs[0]
    out = torch.zeros((len(inputs), int(lengths.max()), *first.shape[1:]), dtype=torch.from_numpy(first).dtype)
    for i, x in enumerate(inputs):
        out[i, :len(x)] = torch.from_numpy(x)
    return out, lengths


def class_weights(labels: np.ndarray, classes: int, how: str) -> torch.Tensor | None:
    """``balanced``: ``n / (classes * count_c)`` per class (scikit-learn's rule); None for ``none``."""
    if how == "none":
        return None
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    return torch.tensor(len(labels) / (classes * np.maximum(counts, 1)), dtype=torch.float32)


class ClassifyTask:
    """Length-bucketed, seeded training batches; validation cross-entropy on the validation part."""

    def __init__(self, model: SequenceClassifier | Ensemble, inputs: list[np.ndarray], labels: np.ndarray,
                 val: tuple[list[np.ndarray], np.ndarray], cfg: Any, meta: dict, tensors: dict[str, torch.Tensor],
                 device: torch.device):
        self.model, self.cfg, self.meta, self.tensors, self.device = model, cfg, meta, tensors, device
        self.inputs, self.labels = inputs, torch.as_tensor(labels)
        self.lengths = np.array([len(x) for x in inputs])
        self.val_inputs, self.val_labels = val
        weights = class_weights(labels, model.n_classes, cfg.train.class_weight)
        self.weights = None if weights is None else weights.to(device)
        self.rank, self.world = 0, 1
        self.progress = 0.0

    def shard(self, rank: int, world: int) -> None:
        """Data-parallel: this rank's rows of every batch, and every ``world``-th validation example."""
        self.rank, self.world = rank, world

    def steps_per_epoch(self) -> int:
        return -(-len(self.inputs) // self.cfg.train.batch_size)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The epoch's batches of example indices: shuffled, sorted by length within windows, shuffled."""
        return length_bucketed(self.lengths, self.cfg.train.batch_size, self.cfg.train.seed, epoch, WINDOW)

    def batches(self, epoch: int, start: int) -> Iterator[Any]:
        batches = self.epoch_batches(epoch)
        fill = np.concatenate(batches)
        for idx in batches[start:]:
            if self.world > 1:
                idx = distributed.shard_indices(idx, self.rank, self.world, fill=fill)
            yield epoch, idx

    def dropped(self, epoch: int, idx: np.ndarray) -> list[np.ndarray]:
        """The batch's inputs; text ids read as ``<unk>`` with probability ``--word-dropout`` (padding stays 0)."""
        p = self.cfg.train.word_dropout
        if not p or self.inputs[0].ndim != 1:
            return [self.inputs[i] for i in idx]
        return [unknown_noise(self.inputs[i], p, [self.cfg.train.seed, epoch, int(i), 11]) for i in idx]

    def loss(self, batch: Any, carry: Any):
        epoch, batch = batch
        x, lengths = pad(self.dropped(epoch, batch))
        y = self.labels[batch].to(self.device)
        logits = self.model(to_device(x, self.device), lengths, members=True)  # (K, B, classes): K = --members
        loss = members_cross_entropy(logits.float(), y, self.weights, self.cfg.train.label_smoothing)
        return loss, None, len(batch)

    def validate(self) -> tuple[float, int]:
        inputs, labels = self.val_inputs[self.rank::self.world], self.val_labels[self.rank::self.world]
        if not len(labels):  # more processes than validation examples
            return 0.0, 0
        logits = predict_logits(self.model, inputs, self.device)
        y = torch.as_tensor(labels)
        loss = float(F.cross_entropy(logits, y))
        error = float((logits.argmax(1) != y).float().mean())  # error: ties (small validation parts) to the lower loss
        return selection_score(error, loss, self.cfg.train.select), len(labels)

    def checkpoint_meta(self) -> dict:
        return self.meta

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        return self.tensors


def predict_logits(model: SequenceClassifier | Ensemble, inputs: list[np.ndarray], device: torch.device,
                   batch: int = 256) -> torch.Tensor:
    """Logits ``(N, classes)`` of encoded sequences, in length-sorted batches (less padding)."""
    order = np.argsort([-len(x) for x in inputs], kind="stable")
    out = torch.empty(len(inputs), model.n_classes)
    with torch.no_grad():
        for i in range(0, len(order), batch):
            j = order[i:i + batch]
            x, lengths = pad([inputs[k] for k in j])
            out[torch.from_numpy(j)] = model(x.to(device), lengths).float().cpu()
    return out
