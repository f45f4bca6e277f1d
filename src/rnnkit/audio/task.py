"""The audio classification task for the shared training loop: configuration, batches, loss.

Training batches are built from the waves each step: seeded augmentation of each clip
(:mod:`rnnkit.audio.augment`), the log-mel frames of the batch (:class:`~rnnkit.audio.features.LogMel`),
normalization by per-band statistics fitted on the training clips only, SpecAugment masks.
Clips of different lengths are padded and masked, never cropped. Validation and test frames
are computed once, without augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch.nn import functional as F

from ..core import distributed
from ..core.config import from_dict, option
from ..core.trainer import TrainConfig, to_device
from ..nn.ensemble import members_cross_entropy
from .augment import AugmentConfig, augment_wave, spec_augment
from .clips import ClipsConfig
from .features import FeatureConfig, LogMel
from .model import CRNN, CRNNConfig, Ensemble

KIND = "audio-classifier"


@dataclass
class AudioTrainConfig(TrainConfig):
    batch_size: int = option(32, "clips per batch")
    epochs: int | None = option(None, "stop after this many passes over the training clips")
    max_time: float | None = option(240.0, "stop after this many seconds of training (wall clock)")
    lr: float = option(3e-3, "peak learning rate")
    weight_decay: float = option(1e-2, "weight decay (decoupled for adamw)")
    eval_every: int = option(200, "validate (and checkpoint) every this many steps; also at the end")
    label_smoothing: float = option(0.05, "spread this much of each target's probability over the classes")


@dataclass
class ClassifyConfig:
    """Defaults of ``rnnkit classify``."""

    top_k: int = option(1, "how many labels per file, most likely first")
    batch_size: int = option(64, "clips classified side by side")


@dataclass
class AudioConfig:
    data: ClipsConfig = field(default_factory=ClipsConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: CRNNConfig = field(default_factory=CRNNConfig)
    train: AudioTrainConfig = field(default_factory=AudioTrainConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)


def upgrade(saved: dict) -> dict:
    """A saved configuration (a run's ``config.json`` or checkpoint) with the options added since it was
    written set to what the run did then: no ``--top-db`` floor, and a hard one once there was; no trimming."""
    features = saved.get("features")
    if isinstance(features, dict):
        saved = {**saved, "features": {"top_db": 0.0, "floor": "hard", "trim_db": 0.0, **features}}
    return saved


def config_from_meta(meta: dict) -> AudioConfig:
    return from_dict(AudioConfig, upgrade(meta["config"]), "checkpoint config")


def pad(waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, N)`` zero-padded waves and their lengths ``(B,)``."""
    lengths = torch.tensor([len(w) for w in waves])
    out = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        out[i, :len(w)] = torch.from_numpy(w)
    return out, lengths


class Frontend(torch.nn.Module):
    """Waves -> normalized log-mel frames ``(B, T, F)`` and frame counts; no weights to learn."""

    def __init__(self, cfg: FeatureConfig, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.logmel = LogMel(cfg)
        self.clip_mean = cfg.normalize == "clip"
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor,
                warp: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        feats, frames = self.logmel(wave, lengths, warp)
        valid = (torch.arange(feats.size(1), device=feats.device)[None] < frames[:, None]).unsqueeze(-1)
        feats = ((feats - self.mean) / self.std) * valid
        if self.clip_mean:  # each clip's own per-band mean over its valid frames
            feats = (feats - feats.sum(1, keepdim=True) / frames.view(-1, 1, 1).clamp(min=1)) * valid
        return feats, frames


def fit_normalization(cfg: FeatureConfig, waves: list[np.ndarray], batch: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-band mean and standard deviation over the valid frames of ``waves`` (the training clips)."""
    logmel = LogMel(cfg)
    total, total_sq, count = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(waves), batch):
            feats, frames = logmel(*pad(waves[i:i + batch]))
            valid = (torch.arange(feats.size(1))[None] < frames[:, None]).unsqueeze(-1)
            f = feats.double() * valid
            total = total + f.sum((0, 1))
            total_sq = total_sq + (f ** 2).sum((0, 1))
            count += int(frames.sum())
    mean = total / count
    std = (total_sq / count - mean ** 2).clamp(min=1e-8).sqrt()
    return mean.float(), std.float()


class AudioTask:
    """Seeded, augmented training batches of clips; validation cross-entropy on fixed frames."""

    def __init__(self, model: CRNN | Ensemble, frontend: Frontend, waves: list[np.ndarray], labels: np.ndarray,
                 val: tuple[torch.Tensor, torch.Tensor, torch.Tensor], cfg: AudioConfig, meta: dict,
                 device: torch.device):
        self.model, self.frontend, self.cfg, self.meta, self.device = model, frontend.to(device), cfg, meta, device
        self.waves, self.labels = waves, torch.as_tensor(labels)
        self.val = val
        self.rank, self.world = 0, 1
        self.progress = 0.0

    def shard(self, rank: int, world: int) -> None:
        """Data-parallel: this rank's clips of every batch, and every ``world``-th validation clip."""
        self.rank, self.world = rank, world

    def steps_per_epoch(self) -> int:
        return -(-len(self.waves) // self.cfg.train.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[Any]:
        seed = self.cfg.train.seed * 1_000_003 + epoch
        order = np.random.default_rng(seed).permutation(len(self.waves))
        bs = self.cfg.train.batch_size
        aug = self.cfg.augment
        for b in range(start, self.steps_per_epoch()):
            idx = order[b * bs:(b + 1) * bs]
            if self.world > 1:
                idx = distributed.shard_indices(idx, self.rank, self.world, fill=order)
            rng = np.random.default_rng([seed, b])  # each batch's augmentation fixed by (seed, epoch, batch)
            waves = [augment_wave(self.waves[i], self.cfg.features.sample_rate, aug, rng) if aug.augment
                     else self.waves[i] for i in idx]
            warp = None
            if aug.augment and aug.vtlp:  # each clip's vocal tract length factor
                warp = torch.from_numpy(rng.uniform(1 - aug.vtlp, 1 + aug.vtlp, len(idx))).float()
            yield waves, self.labels[idx], int(rng.integers(2 ** 31)), warp

    def loss(self, batch: Any, carry: Any):
        waves, labels, mask_seed, warp = batch
        wave, lengths = pad(waves)
        aug, smoothing = self.cfg.augment, self.cfg.train.label_smoothing
        g = torch.Generator().manual_seed(mask_seed)
        with torch.no_grad():
            feats, frames = self.frontend(to_device(wave, self.device), lengths.to(self.device), warp)
            if aug.augment:
                feats = spec_augment(feats, frames, aug, g)
            if aug.augment and aug.mixup:  # each clip blended with another of the batch
                lam = float(np.random.default_rng(mask_seed).beta(aug.mixup, aug.mixup))
                other = torch.randperm(len(labels), generator=g).to(self.device)
                feats = lam * feats + (1 - lam) * feats[other]
                frames = torch.maximum(frames, frames[other])
        logits = self.model(feats, frames, members=True)  # (K, B, classes): K = 1 but for an ensemble
        labels = labels.to(self.device)
        loss = members_cross_entropy(logits, labels, label_smoothing=smoothing)
        if aug.augment and aug.mixup:
            loss = lam * loss + (1 - lam) * members_cross_entropy(logits, labels[other], label_smoothing=smoothing)
        return loss, None, len(labels)

    def validate(self) -> tuple[float, int]:
        feats, frames, labels = (v[self.rank::self.world] for v in self.val)
        if not len(labels):  # more processes than validation clips
            return 0.0, 0
        with torch.no_grad():
            logits = predict_logits(self.model, feats, frames, self.device)
        return float(F.cross_entropy(logits, labels)), len(labels)

    def checkpoint_meta(self) -> dict:
        return self.meta

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        return {}


def predict_logits(model: CRNN | Ensemble, feats: torch.Tensor, frames: torch.Tensor, device: torch.device,
                   batch: int = 256) -> torch.Tensor:
    """Logits ``(N, classes)`` for precomputed frames, in length-sorted batches (less padding)."""
    order = torch.argsort(frames, descending=True)
    out = torch.empty(len(frames), model.n_classes)
    for i in range(0, len(order), batch):
        j = order[i:i + batch]
        T = int(frames[j].max())
        out[j] = model(feats[j, :T].to(device), frames[j].to(device)).float().cpu()
    return out
