"""The translation task for the shared training loop: configuration, data, loss, validation.

``TranslateConfig`` is the whole configuration of a translation run, one typed section per
concern (``data``, ``tokenizer``, ``model``, ``train``, ``search``); :class:`TranslationTask` gives
:func:`rnnkit.core.trainer.fit` the model, seeded batches, the loss (cross-entropy with label
smoothing, padding not scored, under teacher forcing or scheduled sampling) and the
validation loss (cross-entropy per target token, teacher-forced, no smoothing).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch.nn import functional as F

from ..core.config import check_choices, from_dict, option, require
from ..core.errors import RnnkitError
from ..core.trainer import TrainConfig
from .batching import Batch, PairBatches, make_batch
from .codec import Codec
from .decoding import SearchConfig, sorted_batches
from .model import Seq2Seq, Seq2SeqConfig
from .pairs import Pair, PairsConfig
from ..core.tokenize import TokenizerConfig
from ..core.pieces import PAD

KIND = "translation"
SCHEDULES = ("constant", "linear", "exponential", "inverse-sigmoid")


@dataclass
class TranslateTrainConfig(TrainConfig):
    """The shared loop's options (with defaults for translation) plus teacher forcing."""

    batch_size: int = option(64, "sentence pairs per batch")
    lr: float = option(2e-3, "peak learning rate")
    eval_every: int = option(500, "validate (and checkpoint) every this many steps; also at the end")
    teacher_forcing: float = option(1.0, "probability that the decoder reads the gold previous token rather than "
                                    "its own prediction (1 = always: teacher forcing)")
    teacher_forcing_schedule: str = option(
        "constant", "scheduled sampling (Bengio et al. 2015): decay the ratio from --teacher-forcing at the start "
        "to --teacher-forcing-end at the end of the budget: constant, linear, exponential or inverse-sigmoid", SCHEDULES)
    teacher_forcing_end: float = option(0.75, "the teacher-forcing ratio at the end of a decaying schedule")
    label_smoothing: float = option(0.1, "spread this much of each target's probability over the vocabulary")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("teacher_forcing", "teacher_forcing_end", "label_smoothing"):
            v = getattr(self, name)
            require(0 <= v <= 1 if name != "label_smoothing" else 0 <= v < 1, name, f"must be in [0, 1], got {v}")
        if self.teacher_forcing_schedule == "exponential":
            require(self.teacher_forcing_end > 0, "teacher_forcing_end", "must be above 0 for the exponential schedule")

    def teacher_forcing_at(self, progress: float) -> float:
        """The teacher-forcing ratio after ``progress`` (0..1) of the budget."""
        start, end, p = self.teacher_forcing, self.teacher_forcing_end, min(max(progress, 0.0), 1.0)
        if self.teacher_forcing_schedule == "linear":
            return start + (end - start) * p
        if self.teacher_forcing_schedule == "exponential":
            return start * (end / start) ** p if start > 0 else 0.0
        if self.teacher_forcing_schedule == "inverse-sigmoid":  # Bengio's k / (k + exp(i / k)), centred mid-budget
            return end + (start - end) / (1 + math.exp(12 * (p - 0.5)))
        return start


@dataclass
class TranslateConfig:
    data: PairsConfig = field(default_factory=PairsConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    train: TranslateTrainConfig = field(default_factory=TranslateTrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)  # this run's decoding defaults

    def __post_init__(self) -> None:
        check_choices(self)


def encode_pairs(codec: Codec, pairs: list[Pair]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(codec.encode("source", p.source), codec.encode("target", p.target)) for p in pairs]


def training_pairs(codec: Codec, pairs: list[Pair], max_length: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The encoded training pairs, without those longer than ``max_length`` tokens on either side."""
    encoded = encode_pairs(codec, pairs)
    kept = [(s, t) for s, t in encoded if len(s) and len(t) and (not max_length or max(len(s), len(t)) <= max_length)]
    if not kept:
        raise RnnkitError(f"no training pair is left after --max-length {max_length} (the shortest has "
                          f"{min(max(len(s), len(t)) for s, t in encoded)} tokens); raise --max-length or pass 0")
    return kept


def batch_losses(model: Seq2Seq, batch: Batch, teacher_forcing: float = 1.0,
                 label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(summed cross-entropy, correct predictions, scored tokens)`` of one batch, PAD not scored."""
    logits = model(batch.source, batch.lengths, batch.target_in, teacher_forcing)  # (B, T, V)
    flat, gold = logits.reshape(-1, logits.size(-1)), batch.target_out.reshape(-1)
    loss = F.cross_entropy(flat.float(), gold, ignore_index=PAD, reduction="sum", label_smoothing=label_smoothing)
    real = gold != PAD
    correct = ((flat.argmax(-1) == gold) & real).sum()
    return loss, correct, real.sum()


@torch.no_grad()
def score_pairs(model: Seq2Seq, encoded: list[tuple[np.ndarray, np.ndarray]], device: torch.device,
                batch_size: int = 128) -> tuple[float, float, int]:
    """Teacher-forced ``(cross-entropy per target token, accuracy, target tokens)`` of pairs."""
    lengths = np.array([len(s) + len(t) for s, t in encoded])
    nll = correct = count = 0.0
    for idx in sorted_batches(len(encoded), lengths, batch_size):
        batch = make_batch([encoded[i][0] for i in idx], [encoded[i][1] for i in idx]).to(device)
        loss, ok, n = batch_losses(model, batch)
        nll, correct, count = nll + float(loss), correct + float(ok), count + float(n)
    return nll / max(count, 1), correct / max(count, 1), int(count)


class TranslationTask:
    """Translation for :func:`rnnkit.core.trainer.fit`."""

    def __init__(self, model: Seq2Seq, codec: Codec, train: list[tuple[np.ndarray, np.ndarray]],
                 val: list[tuple[np.ndarray, np.ndarray]], cfg: TranslateConfig, split: dict, device: torch.device):
        self.model, self.codec, self.val, self.cfg, self.split, self.device = model, codec, val, cfg, split, device
        self.data = PairBatches(train, cfg.train.batch_size, cfg.train.seed)
        self.rank, self.world = 0, 1
        self.progress = 0.0
        self.codec_meta, self.codec_tensors = codec.to_meta()  # serialized once, stored in every checkpoint

    def shard(self, rank: int, world: int) -> None:
        """Data-parallel: this rank's pairs of every batch, and every ``world``-th validation pair."""
        self.data = PairBatches(self.data.pairs, self.cfg.train.batch_size, self.cfg.train.seed, (rank, world))
        self.rank, self.world = rank, world

    def steps_per_epoch(self) -> int:
        return len(self.data)

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        for b in self.data.epoch(epoch, start):
            yield b.to(self.device)

    def loss(self, batch: Batch, carry: Any):
        ratio = self.cfg.train.teacher_forcing_at(self.progress)
        loss, _, n = batch_losses(self.model, batch, ratio, self.cfg.train.label_smoothing)
        count = int(n)
        return loss / max(count, 1), None, count

    def validate(self) -> tuple[float, int]:
        mean, _, count = score_pairs(self.model, self.val[self.rank::self.world], self.device)
        return mean, count

    def checkpoint_meta(self) -> dict:
        return {"kind": KIND, "config": dataclasses.asdict(self.cfg), "codec": self.codec_meta, "split": self.split}

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        return self.codec_tensors


def config_from_meta(meta: dict) -> TranslateConfig:
    if meta.get("kind") != KIND:
        raise RnnkitError(f"checkpoint holds a {meta.get('kind')!r} model, not a translator; "
                          f"use the verb of its task (rnnkit sample for a language model)")
    return from_dict(TranslateConfig, meta["config"], "checkpoint config")
