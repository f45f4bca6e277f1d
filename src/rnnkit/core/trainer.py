"""The one training loop every rnnkit task shares.

A task (language modeling, translation, forecasting, audio) gives the loop a model, seeded
batches, a loss and a validation score through the small :class:`Task` protocol. :func:`fit` runs
the steps and joins the parts, each a module of its own that can be read and tested alone:

* ``budget.py``: the step, epoch and wall-clock budget, and the clock the ranks agree on;
* ``optimization.py``: the optimizer, the learning-rate schedule, clipping by norm and by value;
* ``validation.py``: validation, the best score, early stopping and the plateau schedule;
* ``resume.py``: the loop's state and what a checkpoint holds so that a killed run resumes
  exactly (RNG state, data position and the carried hidden state included);
* ``ema.py``: an average of the weights (--ema or --swa);
* ``metrics_log.py``: ``metrics.jsonl`` and the steps each of its training rows sums up.

This file holds the options (:class:`TrainConfig`), the device and precision, the step itself
(mixed precision, NaN detection) and the progress events. Started by torchrun, the same loop trains
data-parallel (see ``distributed.py``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import nn

from . import checkpoint, distributed
from .budget import Budget, Clock
from .config import check_choices, option, require
from .ema import WeightAverage
from .errors import RnnkitError, TrainingDiverged
from .metrics_log import LogWindow, MetricsLog
from .optimization import clip_gradients, lr_factor, make_optimizer, set_lr
from .resume import Carry, LoopState, restore, state_tensors
from .rundir import BEST, LAST, METRICS_FILE
from .runtime import runtime_info, write_runtime
from .tensorboard import TensorBoardLog
from .validation import record, validate


@dataclass
class TrainConfig:
    """The loop's options, shared by every task; a task's own training options extend it."""

    batch_size: int = option(32, "sequences per batch")
    epochs: int | None = option(None, "stop after this many passes over the training split")
    steps: int | None = option(None, "stop after this many optimizer steps")
    max_time: float | None = option(None, "stop after this many seconds of training (wall clock)")
    optimizer: str = option("adamw", "adam, adamw, rmsprop (Keras settings, as in the seed) or sgd",
                            ("adam", "adamw", "rmsprop", "sgd"))
    lr: float = option(3e-3, "peak learning rate")
    weight_decay: float = option(0.0, "weight decay (decoupled for adamw)")
    momentum: float = option(0.9, "momentum for sgd")
    lr_schedule: str = option("cosine", "constant, cosine or linear decay over the budget, or plateau "
                              "(halve after a validation that does not improve)", ("constant", "cosine", "linear", "plateau"))
    warmup_steps: int = option(0, "linear learning-rate warm-up steps")
    clip_norm: float = option(1.0, "clip the gradient norm to this (0 = off)")
    clip_value: float = option(0.0, "clip every gradient element to [-v, v] (0 = off)")
    ema: float = option(0.0, "keep an exponential moving average of the weights with this decay per step (e.g. "
                        "0.999); validation, checkpoints' model and the trained model are the average (0 = off)")
    swa: float = option(0.0, "stochastic weight averaging: from this fraction of the budget on (e.g. 0.5) average "
                        "the weights after every step, all alike; validation, checkpoints' model and the trained "
                        "model are the average, and each averaged checkpoint is the best so far (0 = off)")
    data_fraction: float = option(1.0, "train on this seeded fraction (0 < F <= 1) of the training split only "
                                  "(validation and test stay whole): quick cycles, learning curves")
    patience: int = option(0, "early stopping: stop after this many validations without improvement (0 = off)")
    eval_every: int = option(100, "validate (and checkpoint) every this many steps; also at the end")
    log_every: int = option(10, "write a training row to the metrics log every this many steps")
    seed: int = option(0, "random seed: data order, initialization, dropout")
    device: str = option("auto", "cpu, cuda, cuda:N or auto (a GPU when there is one)")
    tensorboard: bool = option(False, "also write TensorBoard event files to RUN/tensorboard "
                               "(pip install 'rnnkit[tensorboard]')")
    precision: str = option("auto", "fp32, bf16 (mixed precision by autocast: GPUs from Ampere on and CPUs "
                            "with AMX or AVX512-BF16 only) or auto (bf16 on such GPUs and "
                            "CPUs, fp32 elsewhere)", ("auto", "fp32", "bf16"))
    compile: bool = option(False, "compile the model with torch.compile (helps most on a GPU; the first steps "
                           "are slow while it compiles)")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("batch_size", "eval_every", "log_every"):
            require(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        for name in ("epochs", "steps"):
            v = getattr(self, name)
            require(v is None or v >= 1, name, f"must be at least 1, got {v}")
        require(self.max_time is None or self.max_time > 0, "max_time", f"must be positive, got {self.max_time}")
        require(self.lr > 0, "lr", f"must be positive, got {self.lr}")
        require(0 < self.data_fraction <= 1, "data_fraction", f"must be in (0, 1], got {self.data_fraction}")
        require(0 <= self.ema < 1, "ema", f"must be in [0, 1) (0 = off), got {self.ema}")
        require(0 <= self.swa < 1, "swa", f"must be in [0, 1) (0 = off), got {self.swa}")
        if self.ema and self.swa:
            raise RnnkitError("--ema and --swa both average the weights; choose one (set the other to 0)")
        for name in ("weight_decay", "momentum", "clip_norm", "clip_value", "warmup_steps", "patience"):
            require(getattr(self, name) >= 0, name, f"must be 0 or more, got {getattr(self, name)}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise RnnkitError(f"--device: unknown device {self.device!r}; use cpu, cuda, cuda:N or auto")

    def budget_epochs(self) -> int | None:
        """Epochs to run: as given, or 10 when no step, epoch or time limit is set."""
        if self.epochs is None and self.steps is None and self.max_time is None:
            return 10
        return self.epochs


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise RnnkitError(f"--device: unknown device {name!r}; use cpu, cuda, cuda:N or auto")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RnnkitError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RnnkitError(f"--device: cannot parse {name!r}; use cpu, cuda, cuda:N or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RnnkitError(f"--device {name}: there are only {torch.cuda.device_count()} GPUs here")
    return device


def cpu_has_native_bf16() -> bool:
    """True on CPUs whose matrix units compute in bf16 (Intel AMX or AVX512-BF16)."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(check is not None and check() for check in checks)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` means bf16 where it is fast and safe to assume (GPUs and CPUs with native bf16), else fp32."""
    gpu_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    if name == "bf16" and device.type == "cuda" and not gpu_bf16:
        raise RnnkitError(f"--precision bf16: the GPU {torch.cuda.get_device_name(device)} has no native bf16; "
                          f"use --precision fp32 or auto")
    if name == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        # There oneDNN has no bf16 LSTM ("could not create a primitive descriptor") and the rest runs slower than fp32.
        raise RnnkitError("--precision bf16: this CPU has no native bf16 (Intel AMX or AVX512-BF16); "
                          "use --precision fp32 or auto")
    if name != "auto":
        return name
    return "bf16" if gpu_bf16 or (device.type == "cpu" and cpu_has_native_bf16()) else "fp32"


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch tensor on ``device``: to a GPU from pinned memory without waiting (the copy overlaps
    the GPU's work on the previous step), elsewhere a plain move."""
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class Task(Protocol):
    """What the loop needs from a task. Batches must be deterministic given (seed, epoch).

    Data-parallel (several ranks, see ``distributed.py``): the loop calls ``shard(rank, world)``
    before training; from then on ``batches`` yields this rank's rows of every batch (the
    same number of batches on every rank), ``validate`` may score only this rank's share
    of the validation data, and ``model`` is the DDP-wrapped model during training steps.
    A carry holds tensors ``(layers, B, H)``: this rank's rows of the batch on dimension 1.
    """

    model: nn.Module
    progress: float  # fraction of the budget used, set by the loop before each step (for task schedules)

    def steps_per_epoch(self) -> int: ...
    def batches(self, epoch: int, start: int) -> Iterator[Any]: ...
    def loss(self, batch: Any, carry: Carry) -> tuple[torch.Tensor, Carry, int]:
        """Mean loss of ``batch``, the (detached) carry for the next batch, targets predicted."""
    def validate(self) -> float | tuple[float, int]:
        """Mean validation loss (the model is already in eval mode), or ``(mean, count)``: the
        mean over this rank's share and the number of targets it averages (the loop combines ranks)."""
    def shard(self, rank: int, world: int) -> None:
        """Read only this rank's rows of every batch from now on (data-parallel training)."""
    def checkpoint_meta(self) -> dict:
        """JSON stored in every checkpoint: ``kind``, config, vocabulary, split, ..."""
    def checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors the task stores beside the weights (e.g. a tokenizer model as bytes)."""


@dataclass
class Event:
    """One progress report: after a logged step (``kind='train'``) or a validation (``'val'``)."""

    kind: str
    step: int
    epoch: int
    elapsed: float
    remaining: float | None
    fraction: float | None
    train_loss: float | None = None
    val_loss: float | None = None
    best_val: float | None = None
    tokens_per_s: float | None = None
    lr: float | None = None
    clipped: int = 0  # clipped steps so far (cumulative)
    grad_norm: float | None = None  # train events: mean gradient norm before clipping over the logging interval
    clip_rate: float | None = None  # train events: share of the interval's steps that were clipped


@dataclass
class TrainResult:
    """What a finished (or cut short) training call reports; tasks extend it."""

    run_dir: Path
    steps: int
    epochs: int
    best_val: float
    stopped: str
    clipped_steps: int
    elapsed: float
    tokens: int  # training tokens (targets) processed


@dataclass
class FitResult:
    state: LoopState
    history: list[dict]  # the metrics log's rows


def fit(task: Task, cfg: TrainConfig, run_dir: Path, device: torch.device,
        resume_from: Path | None = None, on_event: Callable[[Event], None] | None = None,
        stop_after: int | None = None) -> FitResult:
    """Train ``task.model`` under ``cfg``, writing checkpoints and the metrics log to ``run_dir``.

    ``resume_from`` continues from a checkpoint written by this function; ``stop_after``
    ends the call after that many steps as if killed (for tests of resuming). Started by
    torchrun (``distributed.setup`` done), every rank calls it and trains its shard.
    """
    model = task.model.to(device)
    optimizer = make_optimizer(cfg, model.parameters())
    if distributed.world() > 1:
        _shard(task, cfg.seed)
    if resume_from is not None:
        st, carry, average = restore(resume_from, run_dir, model, optimizer, device, cfg.ema, cfg.swa)
    else:
        st, carry, average = LoopState(), None, WeightAverage(model, cfg.ema) if cfg.ema else None
    precision, runtime = _precision_and_runtime(model, cfg, device, run_dir)
    train_model = distributed.wrap(model, device)
    if cfg.compile:
        train_model = torch.compile(train_model)
    main = distributed.is_main()
    board = None
    if cfg.tensorboard and main:
        board = TensorBoardLog(run_dir, st.step + 1 if resume_from is not None else None)
    log = MetricsLog(run_dir / METRICS_FILE, keep_until=st.step, write=main, mirror=board)
    loop = _Loop(task=task, cfg=cfg, run_dir=run_dir, device=device, model=model, train_model=train_model,
                 optimizer=optimizer, st=st, carry=carry, average=average, log=log, runtime=runtime,
                 bf16=precision == "bf16", on_event=on_event if main else None)
    try:
        loop.run(stop_after)
    finally:
        log.close()
        task.model = model
    return FitResult(loop.st, log.rows)


def _shard(task: Task, seed: int) -> None:
    """Data-parallel: the task reads only this rank's rows, and each rank draws its own dropout masks."""
    if not hasattr(task, "shard"):
        raise RnnkitError(f"{type(task).__name__} cannot train data-parallel; start it without torchrun")
    task.shard(distributed.rank(), distributed.world())
    torch.manual_seed(distributed.rank_seed(seed))


def _precision_and_runtime(model: nn.Module, cfg: TrainConfig, device: torch.device, run_dir: Path) -> tuple[str, dict]:
    """The precision to train in and the runtime's description (world size, device, threads, ...)."""
    precision = resolve_precision(cfg.precision, device)
    runtime, notes = runtime_info(model, cfg, device, precision)
    if distributed.world() > 1 or device.type == "cuda" or cfg.compile:  # a single CPU process keeps its config.json as it was
        write_runtime(run_dir, runtime)
    if distributed.is_main():
        for note in notes:
            print(f"rnnkit: note: {note}", file=sys.stderr)
    return precision, runtime


@dataclass
class _Loop:
    """One call of :func:`fit`: what the loop carries from step to step, and the loop over its parts."""

    task: Task
    cfg: TrainConfig
    run_dir: Path
    device: torch.device
    model: nn.Module  # the plain model: validated and checkpointed
    train_model: nn.Module  # the model the steps go through: DDP-wrapped, compiled
    optimizer: torch.optim.Optimizer
    st: LoopState
    carry: Carry
    average: WeightAverage | None  # --ema from the start, --swa once the budget says (None before)
    log: MetricsLog
    runtime: dict  # stored in data-parallel checkpoints
    bf16: bool
    on_event: Callable[[Event], None] | None  # rank 0's progress reports
    per_epoch: int = field(init=False)
    budget: Budget = field(init=False)
    clock: Clock = field(init=False)
    window: LogWindow = field(init=False)
    sec_per_step: float = 0.0  # measured over the last logging window

    def __post_init__(self) -> None:
        self.per_epoch = self.task.steps_per_epoch()
        self.budget = Budget.of(self.cfg.steps, self.cfg.budget_epochs(), self.cfg.max_time, self.per_epoch)
        self.clock = Clock(self.cfg.max_time, self.st.elapsed, distributed.world())
        self.window = LogWindow(self.st, self.device)

    def run(self, stop_after: int | None) -> None:
        """Train until the budget is spent or early stopping; after ``stop_after`` steps of this call,
        return as a kill would (without the last validation and checkpoint)."""
        st, cfg = self.st, self.cfg
        self.model.train()
        self.task.model = self.train_model
        steps_this_call = 0
        while not st.stopped:
            st.stopped = self.budget.spent(st.epoch, st.step) or ("max_time" if self.clock.out_of_time() else "")
            if st.stopped:
                break
            for batch in self.task.batches(st.epoch, st.batch_index):
                lr = self._step(batch)
                steps_this_call += 1
                done_steps, elapsed = self.budget.steps_done(st.step), self.clock.elapsed()
                done_time = self.clock.out_of_time()
                if st.step % cfg.log_every == 0 or done_steps or done_time:
                    self._log_train(lr, elapsed)
                if st.step % cfg.eval_every == 0 or done_steps or done_time:
                    self._evaluate_and_save()
                    self.window.start = time.perf_counter()  # validating is no training time
                if done_steps or done_time:
                    st.stopped = self.budget.step_limit if done_steps else "max_time"
                if stop_after is not None and steps_this_call >= stop_after:
                    return
                if st.stopped:
                    break
        self._finish()

    def _step(self, batch: Any) -> float:
        """One optimizer step on ``batch``; returns its learning rate."""
        st, cfg = self.st, self.cfg
        self.task.progress = self.budget.progress(st.step, self.clock.elapsed())
        if cfg.swa and self.average is None and self.clock.agreed(self.task.progress >= cfg.swa):
            self.average = WeightAverage(self.model, None)
        lr = cfg.lr * lr_factor(cfg, st.step, self.task.progress, st.plateau_scale)
        set_lr(self.optimizer, lr)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            loss, self.carry, units = self.task.loss(batch, self.carry)
        if distributed.world() > 1:
            loss, units = _weigh_by_targets(loss, units)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm, clipped = clip_gradients(params, cfg.clip_norm, cfg.clip_value)
        self.optimizer.step()
        if self.average:
            self.average.update()
        self.window.add(loss, units, norm, clipped)
        if st.advance(units, clipped, self.per_epoch):
            self.carry = None  # the next epoch starts fresh
        return lr

    def _log_train(self, lr: float, elapsed: float) -> None:
        st, w = self.st, self.window.take()
        _check_finite("training loss", w.loss, f"by step {st.step}", self.run_dir)
        self.sec_per_step = w.sec_per_step
        self.log.write({"kind": "train", "step": st.step, "epoch": st.epoch, "loss": w.loss, "lr": lr,
                        "tokens_per_s": w.tokens_per_s, "elapsed": elapsed, "clipped": st.clipped,
                        "grad_norm": w.grad_norm, "clip_rate": w.clip_rate})
        if self.on_event:
            self.on_event(Event("train", st.step, st.epoch, elapsed, *self._eta(elapsed), train_loss=w.loss,
                                best_val=_finite(st.best_val), val_loss=st.last_val, tokens_per_s=w.tokens_per_s,
                                lr=lr, clipped=st.clipped, grad_norm=w.grad_norm, clip_rate=w.clip_rate))

    def _evaluate_and_save(self) -> None:
        """Validate, enter the score (best, early stopping, plateau), write its row and the checkpoints."""
        st, cfg = self.st, self.cfg
        val = validate(self.task, self.model, self.average)
        _check_finite("validation loss", val, f"at step {st.step}", self.run_dir)
        improved = record(st, val, cfg.patience, plateau=cfg.lr_schedule == "plateau",
                          latest_is_best=bool(cfg.swa and self.average))
        st.elapsed = self.clock.elapsed()
        self.log.write({"kind": "val", "step": st.step, "epoch": st.epoch, "val_loss": val, "best_val": st.best_val,
                        "elapsed": st.elapsed})
        if improved:
            self._save(self.run_dir / BEST)
        self._save(self.run_dir / LAST)
        if self.on_event:
            self.on_event(Event("val", st.step, st.epoch, st.elapsed, *self._eta(st.elapsed), val_loss=val,
                                best_val=st.best_val, clipped=st.clipped))

    def _save(self, path: Path) -> None:
        """A checkpoint at ``path``. Every rank calls it (its tensors are gathered from all); rank 0 writes."""
        st = self.st
        self.window.store(st)
        st.ema_updates = self.average.updates if self.average else 0
        tensors, opt_info = state_tensors(self.model, self.average, self.optimizer, self.carry, self.device)
        tensors.update(self.task.checkpoint_tensors())
        if not distributed.is_main():
            return
        meta = {**self.task.checkpoint_meta(), "train": dataclasses.asdict(self.cfg), "optimizer": opt_info,
                "loop": dataclasses.asdict(st), "metrics": {"val_loss": st.last_val, "best_val": _finite(st.best_val)}}
        if distributed.world() > 1:
            meta["runtime"] = self.runtime
        checkpoint.save(path, tensors, meta)

    def _finish(self) -> None:
        """The last validation (unless the budget ended on one) and checkpoint; the model is left
        holding the weights its checkpoints hold."""
        last = self.log.rows[-1] if self.log.rows else {}
        if last.get("kind") != "val" or last.get("step") != self.st.step:
            self._evaluate_and_save()
        self.st.elapsed = self.clock.elapsed()
        self._save(self.run_dir / LAST)
        if self.average:
            self.average.apply()

    def _eta(self, elapsed: float) -> tuple[float | None, float]:
        """A progress event's seconds left and fraction of the budget used."""
        return (self.budget.remaining(self.st.step, elapsed, self.sec_per_step),
                self.budget.progress(self.st.step, elapsed))


def _weigh_by_targets(loss: torch.Tensor, units: int) -> tuple[torch.Tensor, int]:
    """DDP averages the ranks' gradients: weigh each rank's loss by its share of the batch's targets
    (so the step is the one a single process takes); returns it and the whole batch's targets."""
    world = distributed.world()
    local_units, units = units, int(distributed.all_reduce_sum([units])[0])
    return loss * (local_units * world / max(units, 1)), units


def _check_finite(what: str, value: float, when: str, run_dir: Path) -> None:
    if not math.isfinite(value):
        raise TrainingDiverged(f"{what} became {value} {when}; the last good checkpoint is kept in {run_dir}; "
                               "lower --lr or set --clip-norm")


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
