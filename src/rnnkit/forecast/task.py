"""The forecasting task for the shared training loop: configuration, split, windows, loss.

A series of ``T`` points is split in time, never shuffled: the **training part** (everything
before the last ``val_size + test_size`` points), the **validation part** and the **test
part** (the held-out tail, one horizon by default). Transforms and scalers are fitted on the
training part alone (:class:`~rnnkit.forecast.transforms.Transform`); the model's examples are
sliding windows of ``W`` inputs followed by ``H`` targets:

- a training window's targets lie entirely in the training part,
- a validation window's targets lie entirely in the validation part (its inputs may reach back
  into the training part, as they would in use),
- a test window forecasts the test part from the points before it.

:class:`ForecastTask` gives :func:`rnnkit.core.trainer.fit` seeded batches of training
windows, the loss of the chosen likelihood and the mean validation loss.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from ..core import distributed, subsample
from ..core.config import check_choices, from_dict, option, require
from ..core.errors import RnnkitError
from ..core.trainer import TrainConfig
from .conformal import SCORES, CalibrationConfig
from .model import ForecastModelConfig, Forecaster
from .rollout import Prepared, features, window_arrays
from .series import Frequency, SeriesConfig
from .transforms import TransformConfig

KIND = "forecast"


@dataclass
class ForecastTrainConfig(TrainConfig):
    """The shared loop's options, with defaults for small series, and the validation/test sizes."""

    batch_size: int = option(32, "windows per batch")
    epochs: int | None = option(300, "stop after this many passes over the training windows")
    steps: int | None = option(3000, "stop after this many optimizer steps")
    lr: float = option(3e-3, "peak learning rate")
    lr_schedule: str = option("constant", "constant, cosine or linear decay over the budget, or plateau",
                              ("constant", "cosine", "linear", "plateau"))
    patience: int = option(20, "early stopping: stop after this many validations without improvement (0 = off)")
    eval_every: int | None = option(None, "validate (and checkpoint) every this many steps (default: every epoch)")
    val_size: int | None = option(None, "points at the end of the series (before the test part) for validation "
                                        "(default: the larger of 2 horizons and 10% of the series)")
    test_size: int | None = option(None, "points at the end of the series held out for testing (default: one horizon; "
                                         "0 = none, train on everything)")

    def __post_init__(self) -> None:
        every, self.eval_every = self.eval_every, 1
        super().__post_init__()
        self.eval_every = every
        require(every is None or every >= 1, "eval_every", f"must be at least 1, got {every}")
        require(self.val_size is None or self.val_size >= 1, "val_size", f"must be at least 1, got {self.val_size}")
        require(self.test_size is None or self.test_size >= 0, "test_size", f"must be 0 or more, got {self.test_size}")


@dataclass
class ForecastUseConfig:
    """Defaults of ``rnnkit forecast`` (flags of that verb)."""

    horizon: int | None = option(None, "steps to forecast (default: the model's horizon; longer ones feed the "
                                       "forecast back as input)")
    samples: int = option(200, "sampled paths per forecast for the intervals of an autoregressive decoder")
    intervals: str = option("conformal", "model (the likelihood's own quantiles) or conformal (widened or narrowed "
                            "per step to the errors of forecasts on data the model did not train on)",
                            ("model", "conformal"))
    levels: str = option("80,95", "comma-separated levels of the central intervals, in percent")
    conformal_score: str = option("scaled", "conformal intervals: scaled (by the model's own spread, so uncertain "
                                  "forecasts get wider intervals) or absolute (one width per step)", SCORES)

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.horizon is None or self.horizon >= 1, "horizon", f"must be at least 1, got {self.horizon}")
        require(self.samples >= 10, "samples", f"must be at least 10, got {self.samples}")
        self.level_values  # noqa: B018 (validates)

    @property
    def level_values(self) -> tuple[float, ...]:
        """``levels`` as percentages, e.g. ``(80.0, 95.0)``."""
        try:
            values = tuple(float(v) for v in self.levels.split(",") if v.strip())
        except ValueError:
            values = ()
        require(bool(values) and all(0 < v < 100 for v in values) and len(set(values)) == len(values), "levels",
                f"{self.levels!r} is not a list of distinct percentages between 0 and 100; use e.g. --levels 80,95")
        return values


@dataclass
class ForecastConfig:
    data: SeriesConfig = field(default_factory=SeriesConfig)
    transform: TransformConfig = field(default_factory=TransformConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    train: ForecastTrainConfig = field(default_factory=ForecastTrainConfig)
    forecast: ForecastUseConfig = field(default_factory=ForecastUseConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)


def upgrade(saved: dict) -> dict:
    """A saved configuration with the options added since it was written set to what it did then:
    runs saved before conformal intervals keep the model's own."""
    forecast = saved.setdefault("forecast", {})
    forecast.setdefault("intervals", "model")
    return saved


def config_from_meta(meta: dict) -> ForecastConfig:
    return from_dict(ForecastConfig, upgrade(copy.deepcopy(meta["config"])), "checkpoint config")


# -- the split ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where the parts of a series begin and end (indices into the original series) and the
    resolved sizes the model was built with."""

    horizon: int
    window: int
    train_end: int  # the training part is [0, train_end)
    val_end: int  # validation [train_end, val_end); test [val_end, T)
    length: int  # T

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def default_horizon(frequency: Frequency) -> int:
    """One season of the data's frequency (monthly 12, daily 7, hourly 24), kept within 4..24 steps."""
    return min(max(frequency.season, 4), 24)


def layout(cfg: ForecastConfig, length: int, frequency: Frequency) -> Layout:
    """Resolve horizon, window and the split for a series of ``length`` points; errors say what is needed."""
    H = cfg.model.horizon or default_horizon(frequency)
    test = H if cfg.train.test_size is None else cfg.train.test_size
    val = cfg.train.val_size or max(2 * H, round(0.1 * length))
    lost = cfg.transform.lost
    train_len = length - val - test
    if cfg.model.window:
        W = cfg.model.window
    else:
        season = frequency.season if frequency.season > 1 else 0
        W = max(2 * H, 3 * season)
        W = max(min(W, (train_len - lost) // 3), min(H, 8), 1)  # keep several training windows on short series
    # at least one training window: W inputs and H targets after the differences' lost points
    need = lost + W + H + val + test
    if length < need or val < H:
        if val < H:
            raise RnnkitError(f"--val-size {val} is shorter than the horizon {H}; a validation window needs a whole "
                              f"horizon of targets: use --val-size {H} or more")
        raise RnnkitError(
            f"the series has {length} points, too few for window {W} + horizon {H}: training needs at least {need} "
            f"({lost} lost to differencing + {W} + {H} for one training window, {val} for validation, {test} for test); "
            f"use a longer series, or a smaller --window, --horizon, --val-size or --test-size")
    return Layout(H, W, length - val - test, length - test, length)


# -- features and windows ----------------------------------------------------------------------
def window_starts(prep: Prepared, lay: Layout, part: str) -> np.ndarray:
    """Indices ``e`` (in the model's space) of the first target step of each window of ``part``."""
    W, H, lost = lay.window, lay.horizon, prep.lost
    first = W  # a window needs W inputs before it
    if part == "train":
        return np.arange(first, lay.train_end - lost - H + 1)
    if part == "val":
        return np.arange(max(lay.train_end - lost, first), lay.val_end - lost - H + 1)
    if part == "test":  # non-overlapping horizons over the test part
        return np.arange(lay.val_end - lost, lay.length - lost - H + 1, H)
    raise ValueError(part)


def training_starts(prep: Prepared, lay: Layout, fraction: float, seed: int) -> np.ndarray:
    """The training windows a run learns from: all of them, or with ``--data-fraction`` a contiguous
    block of that share of them (a stretch of history) at a seeded offset."""
    starts = window_starts(prep, lay, "train")
    a, b = subsample.block(len(starts), fraction, seed)
    return starts[a:b]


def make_windows(prep: Prepared, lay: Layout, starts: np.ndarray) -> dict[str, torch.Tensor]:
    """Windows at ``starts``: ``past (N, W, F)``, ``future (N, H, K)``, ``target (N, H)``, ``base (N,)``.

    The target channel of ``past`` and ``target`` are relative to ``base``, the last input value.
    """
    return {k: torch.from_numpy(v) for k, v in window_arrays(prep, lay.window, lay.horizon, starts).items()}


class ForecastTask:
    """Training windows in seeded order; validation on the validation windows (see the module docstring)."""

    def __init__(self, model: Forecaster, train: dict[str, torch.Tensor], val: dict[str, torch.Tensor],
                 cfg: ForecastConfig, meta: dict, device: torch.device):
        self.model, self.cfg, self.meta, self.device = model, cfg, meta, device
        self.train = {k: v.to(device) for k, v in train.items()}
        self.val = {k: v.to(device) for k, v in val.items()}
        self.n = len(train["target"])
        self.rank, self.world = 0, 1
        self.progress = 0.0

    def shard(self, rank: int, world: int) -> None:
        """Data-parallel: this rank's windows of every batch (validation, one small batch, stays whole)."""
        self.rank, self.world = rank, world

    def steps_per_epoch(self) -> int:
        return -(-self.n // self.cfg.train.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[dict[str, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.cfg.train.seed * 100_003 + epoch)
        order = torch.randperm(self.n, generator=g).to(self.device)
        bs = self.cfg.train.batch_size
        for b in range(start, self.steps_per_epoch()):
            j = order[b * bs:(b + 1) * bs]
            if self.world > 1:
                j = distributed.shard_indices(j, self.rank, self.world, fill=order)
            yield {k: v[j] for k, v in self.train.items()}

    def loss(self, batch: dict[str, torch.Tensor], carry: Any):
        out = self.model(batch["past"], batch["future"], batch["target"])
        return self.model.loss(out, batch["target"]), None, batch["target"].numel()

    def validate(self) -> float:
        with torch.no_grad():
            v = self.val
            out = self.model(v["past"], v["future"], v["target"] if self.cfg.model.decoder == "autoregressive" else None)
            return float(self.model.loss(out, v["target"]))

    def checkpoint_meta(self) -> dict:
        return self.meta

    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        return {}
