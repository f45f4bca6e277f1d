"""The sequence tagging task for the shared training loop: configuration, batches, loss.

Training batches are sentences drawn in a seeded order, sorted by length within windows of 50
batches (little padding) and shuffled again; the order, and which singleton words are read as
``<unk>`` (``--unk-replace``), depend on ``(seed, epoch)`` and the sentence alone, so a resumed run sees
the same batches. The loss is per token: the CRF's sentence negative log-likelihoods or the
softmax cross-entropies, summed, over the batch's tokens. Validation scores the validation
sentences whose tags are all training tags: by default their error (token error rate, or 1 -
entity span F1), which picks the best checkpoint and stops early (``--select error``); on EWT's
dev part the checkpoint of lowest loss came thousands of steps before the most accurate one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from ..core import distributed
from ..core.buckets import length_bucketed
from ..core.config import option, require
from ..core.pieces import unknown_noise
from ..core.trainer import TrainConfig
from . import metrics
from .formats import TagDataConfig
from .model import TaggerConfig
from .scheme import ENTITY_SCHEMES
from .vocab import Encoded, TokenEncoder

KIND = "sequence-tagger"
WINDOW = 50  # batches sorted by length together


@dataclass
class WordsConfig:
    lowercase: bool = option(True, "look words up lowercased (the character encoder still sees the case)")
    min_freq: int = option(1, "keep words seen at least this often in the training sentences; rarer ones are <unk>")
    unk_replace: float = option(0.5, "training: read each word seen once as <unk> with this probability, so the "
                                     "unknown word's vector is learned")
    max_word: int = option(30, "read at most this many characters of a word (its beginning)")

    def __post_init__(self) -> None:
        require(self.min_freq >= 1, "min_freq", f"must be 1 or more, got {self.min_freq}")
        require(0 <= self.unk_replace <= 1, "unk_replace", f"must be in [0, 1], got {self.unk_replace}")
        require(self.max_word >= 1, "max_word", f"must be 1 or more, got {self.max_word}")


@dataclass
class TagTrainConfig(TrainConfig):
    batch_size: int = option(32, "sentences per batch")
    max_time: float | None = option(600.0, "stop after this many seconds of training (wall clock)")
    lr: float = option(2e-3, "peak learning rate")
    weight_decay: float = option(1e-2, "weight decay (decoupled for adamw)")
    clip_norm: float = option(5.0, "clip the gradient norm to this (0 = off)")
    eval_every: int = option(200, "validate (and checkpoint) every this many steps; also at the end")
    select: str = option("error", "what validation scores to keep the best checkpoint and to stop early: error (the "
                                  "token error rate; for BIO/IOBES tags 1 - entity span F1) or loss (nats/token)",
                         ("error", "loss"))


@dataclass
class TagUseConfig:
    """Defaults of ``rnnkit tag``."""

    batch_size: int = option(128, "sentences tagged side by side")

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "batch_size", f"must be 1 or more, got {self.batch_size}")


@dataclass
class TagConfig:
    data: TagDataConfig = field(default_factory=TagDataConfig)
    words: WordsConfig = field(default_factory=WordsConfig)
    model: TaggerConfig = field(default_factory=TaggerConfig)
    train: TagTrainConfig = field(default_factory=TagTrainConfig)
    tag: TagUseConfig = field(default_factory=TagUseConfig)


def to_tensors(enc: Encoded, device: torch.device) -> dict[str, torch.Tensor]:
    """The model's inputs (``Tagger.emissions`` keyword arguments) on ``device``."""
    return {name: torch.from_numpy(getattr(enc, name)).to(device)
            for name in ("words", "chars", "char_lengths", "token_index", "lengths")}


def mask_of(lengths: torch.Tensor, S: int) -> torch.Tensor:
    """``(B, S)`` true on each row's first ``lengths[b]`` positions."""
    return torch.arange(S, device=lengths.device)[None] < lengths[:, None]


def pad_tags(tags: list[np.ndarray], S: int) -> torch.Tensor:
    out = torch.zeros(len(tags), S, dtype=torch.int64)
    for i, t in enumerate(tags):
        out[i, :len(t)] = torch.from_numpy(t)
    return out


class TagTask:
    """Length-bucketed, seeded batches of training sentences; the per-token loss on the validation sentences."""

    def __init__(self, model, encoder: TokenEncoder, train: tuple[list[list[str]], list[np.ndarray]],
                 val: tuple[list[list[str]], list[np.ndarray]], cfg: Any, meta: dict, device: torch.device):
        self.model, self.encoder, self.cfg, self.meta, self.device = model, encoder, cfg, meta, device
        self.tokens, self.tags = train
        self.word_ids = [encoder.word_ids(s) for s in self.tokens]
        singletons = encoder.singletons(self.tokens)
        self.rare = [np.isin(ids, singletons) for ids in self.word_ids]  # (L_i,) true at words seen once in training, looked up here rather than every batch
        self.lengths = np.array([len(s) for s in self.tokens])
        self.val_tokens, self.val_tags = val
        self.rank, self.world = 0, 1
        self.progress = 0.0

    def shard(self, rank: int, world: int) -> None:
        """Data-parallel: this rank's rows of every batch, and every ``world``-th validation sentence."""
        self.rank, self.world = rank, world

    def steps_per_epoch(self) -> int:
        return -(-len(self.tokens) // self.cfg.train.batch_size)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        return length_bucketed(self.lengths, self.cfg.train.batch_size, self.cfg.train.seed, epoch, WINDOW)

    def batches(self, epoch: int, start: int) -> Iterator[Any]:
        batches = self.epoch_batches(epoch)
        fill = np.concatenate(batches)
        for idx in batches[start:]:
            if self.world > 1:
                idx = distributed.shard_indices(idx, self.rank, self.world, fill=fill)
            yield epoch, idx

    def noised_ids(self, epoch: int, idx: np.ndarray) -> list[np.ndarray]:
        """The batch's word ids with each singleton word read as ``<unk>`` with probability ``--unk-replace``."""
        return [unknown_noise(self.word_ids[i], self.cfg.words.unk_replace, [self.cfg.train.seed, epoch, int(i), 7],
                              self.rare[i]) for i in idx]

    def loss(self, batch: Any, carry: Any):
        epoch, idx = batch
        enc = self.encoder.batch([self.tokens[i] for i in idx], self.noised_ids(epoch, idx))
        x = to_tensors(enc, self.device)
        emissions = self.model(**x)  # (B, S, T); through DDP's forward under torchrun
        S = emissions.size(1)
        mask = mask_of(x["lengths"], S)
        tags = pad_tags([self.tags[i] for i in idx], S).to(self.device)
        n = int(enc.lengths.sum())
        tagger = getattr(self.model, "module", self.model)  # the CRF's loss, outside the wrapper
        return tagger.loss(emissions, tags, mask) / n, None, n

    def validate(self) -> tuple[float, int]:
        """The validation loss per token, or the error (``--select``) of this rank's share of the sentences."""
        known = [(s, t) for s, t in zip(self.val_tokens[self.rank::self.world], self.val_tags[self.rank::self.world])
                 if t is not None]
        if not known:  # more processes than validation sentences
            return 0.0, 0
        total, n, pred = 0.0, 0, []
        with torch.no_grad():
            for i in range(0, len(known), 256):
                chunk = known[i:i + 256]
                x = to_tensors(self.encoder.batch([s for s, _ in chunk]), self.device)
                emissions = self.model.emissions(**x)
                mask = mask_of(x["lengths"], emissions.size(1))
                if self.cfg.train.select == "loss":
                    tags = pad_tags([t for _, t in chunk], emissions.size(1)).to(self.device)
                    total += float(self.model.loss(emissions, tags, mask))
                else:
                    ids = self.model.decode(emissions, mask).cpu().numpy()
                    pred += [row[:len(s)] for row, (s, _) in zip(ids, chunk)]
                n += int(x["lengths"].sum())
        if self.cfg.train.select == "loss":
            return total / n, n
        return self.error([t for _, t in known], pred), n

    def error(self, gold: list[np.ndarray], pred: list[np.ndarray]) -> float:
        """1 - entity span F1 for BIO/IOBES tags, else the token error rate."""
        if self.meta["scheme"] in ENTITY_SCHEMES:
            names = self.encoder.tags
            return 1.0 - metrics.spans([[names[i] for i in g] for g in gold], [[names[i] for i in p] for p in pred])["f1"]
        return 1.0 - float(np.mean(np.concatenate(gold) == np.concatenate(pred)))

    def checkpoint_meta(self) -> dict:
        return self.meta

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        return {}
