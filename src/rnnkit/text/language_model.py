"""The language-modeling task: next-token prediction on a text corpus.

Ties the pieces together for the shared training loop: the run configuration
(:class:`LMConfig`: data, model, training), building a model from it, the batches of the
chosen objective, the cross-entropy loss and the validation score.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch.nn import functional as F

from . import evaluation, infill, noising
from .batching import Batch, StreamBatches, WindowBatches
from ..core.config import check_choices, from_dict, option, require
from ..core.errors import RnnkitError
from .mixture import MixConfig
from .ngram import NGramConfig, NGramModel
from .rnn_lm import RNNConfig, RNNLanguageModel, detach_state
from .sampling import SampleConfig
from .textdata import Corpus, DataConfig
from ..core.trainer import TrainConfig, to_device
from .vocab import Vocab

KIND = "language-model"


@dataclass
class LMTrainConfig(TrainConfig):
    """The shared loop's options plus language modeling's objective and sequence length."""

    objective: str = option("stream", "stream: truncated BPTT with a target at every position; "
                            "window: the seed's windows that predict only the next token; "
                            "infill: a bidirectional model that predicts every token of a window from both sides "
                            "(rnnkit fill)", ("stream", "window", "infill"))
    seq_len: int = option(100, "time steps per training sequence (BPTT length, or the window length)")
    window_step: int = option(1, "window and infill objectives: distance between window starts (the seed's STEP)")
    val_tokens: int = option(200_000, "validate during training on at most this many tokens (0 = all)")
    noise_prob: float = option(0.0, "data noising (Xie et al. 2017): replace each input token with this probability "
                               "during training (0 = off; stream and window objectives)")
    noise: str = option("unigram", "what a noised input token becomes: unigram (a token drawn from the training "
                        "split's frequencies) or blank (a zero input vector)", noising.KINDS)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("seq_len", "window_step"):
            require(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        require(self.val_tokens >= 0, "val_tokens", f"must be 0 or more, got {self.val_tokens}")
        require(0.0 <= self.noise_prob < 1.0, "noise_prob", f"must be in [0, 1), got {self.noise_prob}")
        require(self.noise_prob == 0 or self.objective != "infill", "noise_prob",
                "applies to the stream and window objectives; an infill model's inputs are its targets")


@dataclass
class LMConfig:
    model: str = option("rnn", "model family: rnn (recurrent, trained by BPTT) or ngram (counted)", ("rnn", "ngram"))
    data: DataConfig = field(default_factory=DataConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    ngram: NGramConfig = field(default_factory=NGramConfig)
    mix: MixConfig = field(default_factory=MixConfig)  # rnn models: the n-gram interpolated after training
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)  # this run's sampling defaults

    def __post_init__(self) -> None:
        check_choices(self)
        if self.train.objective == "infill":
            infill.check_config(self.rnn, self.model, self.train.seq_len)

    @property
    def window(self) -> int | None:
        """Context length for window-objective models (they are scored and sampled that way)."""
        return self.train.seq_len if self.train.objective == "window" and self.model == "rnn" else None


def build_model(cfg: LMConfig, vocab_size: int) -> torch.nn.Module | NGramModel:
    """An untrained model of the configured family (both have the ``model(tokens, state)`` call;
    the infill objective's bidirectional model has ``model(tokens)``, see ``infill.py``)."""
    if cfg.model == "ngram":
        return NGramModel(cfg.ngram, vocab_size)
    if cfg.train.objective == "infill":
        return infill.InfillModel(cfg.rnn, vocab_size)
    return RNNLanguageModel(cfg.rnn, vocab_size)


def check_corpus_fits(corpus: Corpus, cfg: LMConfig) -> None:
    """A text too short for one training sequence, or a split left empty, is a clear error."""
    if cfg.model == "ngram":
        n_train = len(corpus.part("train"))
        if n_train < cfg.ngram.order:
            raise RnnkitError(f"the text is too short for --order {cfg.ngram.order}: its training split has only "
                              f"{n_train} tokens; use a longer text or a lower --order")
    else:
        _check_rnn_fits(corpus, cfg)
    least = 3 if cfg.train.objective == "infill" else 2  # an infill target needs a token on each side
    for name in ("val", "test"):
        if len(corpus.part(name)) < least or (cfg.window and len(corpus.part(name)) <= cfg.window):
            raise RnnkitError(f"the text is too short: its {name} split has only {len(corpus.part(name))} tokens; use a longer text")


def _check_rnn_fits(corpus: Corpus, cfg: LMConfig) -> None:
    n_train = len(corpus.part("train"))
    # A stream batch needs B rows of at least 2 tokens after an offset < T; a window needs T + 1.
    need = cfg.train.seq_len + 2 * cfg.train.batch_size if cfg.train.objective == "stream" else cfg.train.seq_len + 1
    if n_train < need:
        raise RnnkitError(
            f"the text is too short: its training split has {n_train} tokens but one training batch needs "
            f"{need} (--seq-len {cfg.train.seq_len}, --batch-size {cfg.train.batch_size}); "
            f"use a longer text or smaller --seq-len/--batch-size"
        )


class LMTask:
    """Next-token cross-entropy over the training split, for :func:`rnnkit.trainer.fit`."""

    def __init__(self, model: torch.nn.Module, corpus: Corpus, cfg: LMConfig, device: torch.device):
        self.model, self.corpus, self.cfg, self.device = model, corpus, cfg, device
        self.progress = 0.0
        self.noise = None  # counted models train without this loop
        if cfg.train.noise_prob > 0 and isinstance(model, RNNLanguageModel):
            self.noise = noising.InputNoise(cfg.train.noise, cfg.train.noise_prob, corpus.part("train"), len(corpus.vocab))
        self.rank, self.world = 0, 1
        self.shard(0, 1)

    def shard(self, rank: int, world: int) -> None:
        """Data-parallel: this rank's rows of every batch, and its share of the validation text."""
        t, train = self.cfg.train, self.corpus.part("train")
        self.rank, self.world = rank, world
        if t.objective == "stream":
            self.data = StreamBatches(train, t.batch_size, t.seq_len, t.seed, (rank, world))
        else:  # infill reads the same windows, inputs and target together
            self.data = WindowBatches(train, t.batch_size, t.seq_len, t.window_step, t.seed, (rank, world))

    def steps_per_epoch(self) -> int:
        return len(self.data)

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        for b in self.data.epoch(epoch, start):
            yield Batch(to_device(b.inputs, self.device), to_device(b.targets, self.device))

    def loss(self, batch: Batch, carry: Any):
        if self.noise is not None:
            batch = Batch(self.noise(batch.inputs), batch.targets)
        if self.cfg.train.objective == "stream":
            logits, state = self.model(batch.inputs, carry)  # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.targets.reshape(-1))
            return loss, detach_state(state), batch.targets.numel()
        if self.cfg.train.objective == "infill":  # every token of the window is a target
            windows = torch.cat([batch.inputs, batch.targets[:, None]], 1)
            return infill.loss(self.model, windows), None, windows.numel()
        logits, _ = self.model(batch.inputs, None)  # only the last position has a target
        return F.cross_entropy(logits[:, -1], batch.targets), None, batch.targets.numel()

    def validate(self) -> tuple[float, int]:
        """Mean loss over this rank's share of the validation text (all of it with one process; the
        infill objective scores all of it on every rank) and the number of targets."""
        if self.cfg.train.objective == "infill":
            (nll, _), _, count, _ = infill.score(self.model, self.corpus.part("val"), self.cfg.train.seq_len + 1,
                                                 self.device, self.cfg.train.val_tokens or None, forward=False)
            return nll / count, count
        nll, _, count = evaluation.score(self.model, self.corpus.part("val"), self.device, self.cfg.window,
                                         self.cfg.train.val_tokens or None, shard=(self.rank, self.world))
        return nll / max(count, 1), count

    def checkpoint_meta(self) -> dict:
        return model_meta(self.cfg, self.corpus.vocab, self.corpus.split_json())

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        return {}


def model_meta(cfg: LMConfig, vocab: Vocab, split: dict) -> dict:
    return {"kind": KIND, "config": dataclasses.asdict(cfg), "vocab": vocab.to_json(), "split": split}


def config_from_meta(meta: dict) -> LMConfig:
    if meta.get("kind") != KIND:
        raise RnnkitError(f"checkpoint holds a {meta.get('kind')!r} model, not a language model")
    return from_dict(LMConfig, meta["config"], "checkpoint config")
