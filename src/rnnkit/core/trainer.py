"""The one training loop every rnnkit task shares.

A task (language modeling, translation, forecasting, audio) gives the loop a model, seeded
batches, a loss and a validation score through the small :class:`Task` protocol. The loop
owns everything else: optimizer and schedule, gradient clipping by norm and by value
(counting clipped steps), an optional average of the weights (``ema.py``: --ema or --swa), the
step/epoch/wall-clock budget, validation, early stopping, NaN detection, the metrics log,
progress events and atomic checkpoints that let a killed run resume exactly (RNG state, data
position and the carried hidden state included).
Started by torchrun, the same loop trains data-parallel (see ``distributed.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import nn

from . import checkpoint, distributed
from .ema import WeightAverage
from .config import check_choices, option, require
from .errors import RnnkitError, TrainingDiverged
from .fileio import atomic_write_bytes
from .rundir import BEST, LAST, METRICS_FILE
from .tensorboard import TensorBoardLog
from .runtime import runtime_info, write_runtime

Carry = Any  # whatever a task carries from one batch to the next (a hidden state, or None)


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


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    params = list(params)
    if cfg.optimizer in ("adam", "adamw"):
        # PyTorch's fused kernel: one pass over each tensor instead of ~6 (10-15% of a translation
        # step on a CPU); the same update, rounded differently in the last bits.
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        try:
            return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        except (RuntimeError, TypeError):  # a device or a PyTorch without the fused kernel
            return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":  # Keras' RMSprop (rho 0.9, eps 1e-7), which the seed compiles with
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, eps=1e-7, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_factor(cfg: TrainConfig, step: int, progress: float, plateau_scale: float) -> float:
    """Learning-rate multiplier at ``step`` with ``progress`` in [0, 1] of the budget used."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    p = min(max(progress, 0.0), 1.0)
    if cfg.lr_schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * p))
    if cfg.lr_schedule == "linear":
        return warm * (1 - p)
    if cfg.lr_schedule == "plateau":
        return warm * plateau_scale
    return warm


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
class LoopState:
    """Everything besides tensors that a resumed run needs; stored as JSON in the checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    elapsed: float = 0.0
    tokens: int = 0
    best_val: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    clipped: int = 0
    plateau_scale: float = 1.0
    last_val: float | None = None
    stopped: str = ""
    log_loss_sum: float = 0.0  # the training-loss window not yet written to the log
    log_steps: int = 0
    log_norm_sum: float = 0.0  # the same window's gradient norms (before clipping) and clipped steps
    log_clipped: int = 0
    ema_updates: int = 0  # steps the weight average (--ema or --swa) has taken


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


class MetricsLog:
    """``metrics.jsonl``: one JSON object per logged step and per validation.

    On resume the rows after the checkpoint's step are dropped, since those steps run again.
    ``mirror`` (a :class:`~rnnkit.core.tensorboard.TensorBoardLog`) gets every new row too.
    With ``write=False`` (data-parallel ranks other than 0) the rows are kept in memory only.
    """

    def __init__(self, path: Path, keep_until: int | None, write: bool = True, mirror=None):
        self.path, self.mirror = path, mirror
        rows = []
        if keep_until is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill
                if row.get("step", 0) <= keep_until:
                    rows.append(row)
        self.rows = rows
        self.file = None
        if write:
            atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))
            self.file = path.open("a", encoding="utf-8")

    def write(self, row: dict) -> None:
        self.rows.append(row)
        if self.file is not None:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()
        if self.mirror is not None:
            self.mirror.write(row)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.mirror is not None:
            self.mirror.close()


def _carry_tensors(carry: Carry) -> dict[str, torch.Tensor]:
    """The carry as named tensors; with several ranks, every rank's rows joined on dimension 1
    (so the checkpoint holds the carry of the whole batch, as a single process has it)."""
    if carry is None:
        return {}
    parts = carry if isinstance(carry, tuple) else (carry,)
    if distributed.active():
        parts = tuple(torch.cat(distributed.gather(t), dim=1) for t in parts)
    return {str(i): t for i, t in enumerate(parts)}


def _carry_from(tensors: dict[str, torch.Tensor], device: torch.device) -> Carry:
    if not tensors:
        return None
    parts = [tensors[str(i)] for i in range(len(tensors))]
    if distributed.active():  # this rank's rows of the whole batch's carry
        parts = [t.chunk(distributed.world(), dim=1)[distributed.rank()] for t in parts]
    parts = [t.to(device) for t in parts]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _rng_tensors(device: torch.device) -> dict[str, torch.Tensor]:
    """The random streams to restore on resume: the CPU generator, and the GPU's when training on one;
    with several ranks, every rank's own (``state/rank<r>/...``)."""
    local = {"torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        local["cuda_rng"] = torch.cuda.get_rng_state(device)
    if not distributed.active():
        return {f"state/{k}": v for k, v in local.items()}
    out = {}
    for name, t in local.items():
        for r, part in enumerate(distributed.gather(t)):
            out[f"state/rank{r}/{name}"] = part
    return out


def _restore_rng(tensors: dict[str, torch.Tensor], device: torch.device) -> None:
    prefix = f"state/rank{distributed.rank()}/" if distributed.active() else "state/"
    torch.set_rng_state(tensors[prefix + "torch_rng"])
    if device.type == "cuda" and prefix + "cuda_rng" in tensors:
        torch.cuda.set_rng_state(tensors[prefix + "cuda_rng"], device)


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
    world, main = distributed.world(), distributed.is_main()
    if world > 1:
        if not hasattr(task, "shard"):
            raise RnnkitError(f"{type(task).__name__} cannot train data-parallel; start it without torchrun")
        task.shard(distributed.rank(), world)
        torch.manual_seed(distributed.rank_seed(cfg.seed))  # each rank its own dropout masks
    st = LoopState()
    carry: Carry = None
    average: WeightAverage | None = WeightAverage(model, cfg.ema) if cfg.ema else None
    if resume_from is not None:
        tensors, meta = checkpoint.load(resume_from)
        saved_world = meta.get("runtime", {}).get("world_size", 1)
        if saved_world != world:
            raise RnnkitError(
                f"--resume: {run_dir} was trained by {saved_world} process{'es' if saved_world > 1 else ''} and "
                f"this is {world}; each process has its own random stream, so resume it with "
                + (f"torchrun --nproc-per-node {saved_world}" if saved_world > 1 else "a single process (no torchrun)"))
        # With an average a checkpoint's model is the average and ``raw/`` the weights training goes on from.
        raw = checkpoint.section(tensors, "raw")
        model.load_state_dict(raw or checkpoint.section(tensors, "model"))
        optimizer.load_state_dict(checkpoint.join_optimizer_state(checkpoint.section(tensors, "optim"), meta["optimizer"]))
        _restore_rng(tensors, device)
        carry = _carry_from(checkpoint.section(tensors, "carry"), device)
        st = LoopState(**meta["loop"])
        st.stopped = ""
        if cfg.ema:  # resumed as saved; a run that had no average starts one from its weights
            average = WeightAverage(model, cfg.ema, checkpoint.section(tensors, "model") if raw else None,
                                    st.ema_updates if raw else 0)
        elif cfg.swa and raw:  # a run killed before its average began starts it when the budget says
            average = WeightAverage(model, None, checkpoint.section(tensors, "model"), st.ema_updates)
    precision = resolve_precision(cfg.precision, device)
    runtime, notes = runtime_info(model, cfg, device, precision)
    if world > 1 or device.type == "cuda" or cfg.compile:  # a single CPU process keeps its config.json as it was
        write_runtime(run_dir, runtime)
    if main:
        for note in notes:
            print(f"rnnkit: note: {note}", file=sys.stderr)
    train_model = distributed.wrap(model, device)
    if cfg.compile:
        train_model = torch.compile(train_model)
    board = None
    if cfg.tensorboard and main:
        board = TensorBoardLog(run_dir, st.step + 1 if resume_from is not None else None)
    log = MetricsLog(run_dir / METRICS_FILE, keep_until=st.step, write=main, mirror=board)
    per_epoch = task.steps_per_epoch()
    epochs = cfg.budget_epochs()
    limits = [(n, why) for n, why in ((cfg.steps, "steps"), (epochs * per_epoch if epochs else None, "epochs"))
              if n is not None]
    total_steps, step_limit = min(limits) if limits else (None, "")

    def progress(elapsed: float) -> float:
        parts = []
        if total_steps:
            parts.append(st.step / total_steps)
        if cfg.max_time:
            parts.append(elapsed / cfg.max_time)
        return max(parts) if parts else 0.0

    def remaining(elapsed: float, sec_per_step: float) -> float | None:
        options = []
        if total_steps:
            options.append((total_steps - st.step) * sec_per_step)
        if cfg.max_time:
            options.append(max(cfg.max_time - elapsed, 0.0))
        return min(options) if options else None

    def save(path: Path) -> None:
        nonlocal running
        if world > 1:  # the ranks' windows of training loss as one (the same on every rank from here on)
            running = torch.tensor(distributed.all_reduce_sum([running.item()])[0] / world, device=device)
        st.log_loss_sum, st.log_steps = running.item(), window_steps
        st.log_norm_sum, st.log_clipped = norm_sum.item(), window_clipped
        opt_tensors, opt_info = checkpoint.split_optimizer_state(optimizer.state_dict())
        st.ema_updates = average.updates if average else 0
        tensors = {
            **checkpoint.with_prefix("model", average.state_dict() if average else model.state_dict()),
            **(checkpoint.with_prefix("raw", model.state_dict()) if average else {}),
            **checkpoint.with_prefix("optim", opt_tensors),
            **checkpoint.with_prefix("carry", _carry_tensors(carry)),
            **_rng_tensors(device),
            **task.checkpoint_tensors(),
        }
        if not main:
            return  # the collectives above are done; rank 0 writes
        meta = {**task.checkpoint_meta(), "train": dataclasses.asdict(cfg), "optimizer": opt_info,
                "loop": dataclasses.asdict(st), "metrics": {"val_loss": st.last_val, "best_val": st.best_val
                                                            if math.isfinite(st.best_val) else None}}
        if world > 1:
            meta["runtime"] = runtime
        checkpoint.save(path, tensors, meta)

    def validate() -> float:
        model.eval()
        task.model = model  # no DDP for scoring: ranks may score different amounts
        with average.applied() if average else contextlib.nullcontext():
            v = task.validate()
        task.model = train_model
        model.train()
        mean, count = v if isinstance(v, tuple) else (v, 1)
        if world > 1:
            total, n = distributed.all_reduce_sum([mean * count, count])
            mean = total / max(n, 1)
        if not math.isfinite(mean):
            raise TrainingDiverged(
                f"validation loss became {mean} at step {st.step}; the last good checkpoint is kept in "
                f"{run_dir}; lower --lr or set --clip-norm"
            )
        return mean

    def clock_agreed(flag: bool) -> bool:
        # a decision read off a rank's own clock: the ranks agree, or only some would save (and hang)
        return distributed.any_rank(flag) if world > 1 and cfg.max_time is not None else flag

    def out_of_time() -> bool:
        return clock_agreed(cfg.max_time is not None and time.perf_counter() - start >= cfg.max_time)

    def evaluate_and_save() -> None:
        _evaluate_and_save(st, cfg, validate, save, log, run_dir, on_event if main else None, start,
                           bool(cfg.swa and average), lambda e: remaining(e, sec_per_step), progress)

    bf16 = precision == "bf16"
    model.train()
    task.model = train_model
    start = time.perf_counter() - st.elapsed
    window_start, window_tokens, window_steps = time.perf_counter(), 0, st.log_steps
    running = torch.tensor(st.log_loss_sum, device=device)
    norm_sum, window_clipped = torch.tensor(st.log_norm_sum, device=device), st.log_clipped
    sec_per_step = 0.0
    steps_this_call = 0
    try:
        while not st.stopped:
            if epochs is not None and st.epoch >= epochs:
                st.stopped = "epochs"
                break
            if total_steps is not None and st.step >= total_steps:
                st.stopped = step_limit
                break
            if out_of_time():
                st.stopped = "max_time"
                break
            for batch in task.batches(st.epoch, st.batch_index):
                elapsed = time.perf_counter() - start
                task.progress = progress(elapsed)
                if cfg.swa and average is None and clock_agreed(task.progress >= cfg.swa):
                    average = WeightAverage(model, None)
                lr = cfg.lr * lr_factor(cfg, st.step, task.progress, st.plateau_scale)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss, carry, units = task.loss(batch, carry)
                if world > 1:  # DDP averages the ranks' gradients; weigh each by its share of the targets
                    local_units, units = units, int(distributed.all_reduce_sum([units])[0])
                    loss = loss * (local_units * world / max(units, 1))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                params = [p for p in model.parameters() if p.grad is not None]
                clipped = False
                # The total gradient norm before any clipping (logged per interval, see issue 10):
                # clip_grad_norm_ returns it when it clips first; otherwise it is measured alone.
                norm = None
                if cfg.clip_value:
                    norm = torch.nn.utils.get_total_norm([p.grad for p in params])
                    clipped = any(bool((p.grad.abs() > cfg.clip_value).any()) for p in params)
                    torch.nn.utils.clip_grad_value_(params, cfg.clip_value)
                if cfg.clip_norm:
                    after_value = torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
                    norm = after_value if norm is None else norm
                    clipped = clipped or bool(after_value > cfg.clip_norm)
                if norm is None:
                    norm = torch.nn.utils.get_total_norm([p.grad for p in params])
                norm_sum += norm.detach().float()
                window_clipped += int(clipped)
                optimizer.step()
                if average:
                    average.update()
                st.clipped += int(clipped)
                st.step += 1
                st.batch_index += 1
                if st.batch_index >= per_epoch:  # the epoch is complete: the next starts fresh
                    st.epoch, st.batch_index, carry = st.epoch + 1, 0, None
                st.tokens += units
                running += loss.detach()
                window_tokens += units
                window_steps += 1
                steps_this_call += 1
                done_steps = total_steps is not None and st.step >= total_steps
                elapsed = time.perf_counter() - start
                done_time = out_of_time()
                if st.step % cfg.log_every == 0 or done_steps or done_time:
                    window_loss = running.item() if world == 1 else distributed.all_reduce_sum([running.item()])[0] / world
                    train_loss = window_loss / window_steps
                    if not math.isfinite(train_loss):
                        raise TrainingDiverged(
                            f"training loss became {train_loss} by step {st.step}; the last good checkpoint is "
                            f"kept in {run_dir}; lower --lr or set --clip-norm"
                        )
                    now = time.perf_counter()
                    tps = window_tokens / max(now - window_start, 1e-9)
                    sec_per_step = (now - window_start) / window_steps
                    grad_norm, clip_rate = norm_sum.item() / window_steps, window_clipped / window_steps
                    row = {"kind": "train", "step": st.step, "epoch": st.epoch, "loss": train_loss, "lr": lr,
                           "tokens_per_s": tps, "elapsed": elapsed, "clipped": st.clipped,
                           "grad_norm": grad_norm, "clip_rate": clip_rate}
                    log.write(row)
                    if on_event and main:
                        on_event(Event("train", st.step, st.epoch, elapsed, remaining(elapsed, sec_per_step),
                                       progress(elapsed), train_loss=train_loss, best_val=_finite(st.best_val),
                                       val_loss=st.last_val, tokens_per_s=tps, lr=lr, clipped=st.clipped,
                                       grad_norm=grad_norm, clip_rate=clip_rate))
                    running.zero_()
                    norm_sum.zero_()
                    window_clipped = 0
                    window_start, window_tokens, window_steps = now, 0, 0
                if st.step % cfg.eval_every == 0 or done_steps or done_time:
                    evaluate_and_save()
                    window_start = time.perf_counter()
                if done_steps:
                    st.stopped = step_limit
                elif done_time:
                    st.stopped = "max_time"
                if stop_after is not None and steps_this_call >= stop_after:
                    return FitResult(st, log.rows)  # simulated kill: no final checkpoint
                if st.stopped:
                    break
        last = log.rows[-1] if log.rows else {}
        if last.get("kind") != "val" or last.get("step") != st.step:  # the budget ended between validations
            evaluate_and_save()
        st.elapsed = time.perf_counter() - start
        save(run_dir / LAST)
        if average:  # the run ends with the model its checkpoints hold
            average.apply()
    finally:
        log.close()
        task.model = model
    return FitResult(st, log.rows)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _evaluate_and_save(st: LoopState, cfg: TrainConfig, validate, save, log: MetricsLog, run_dir: Path,
                       on_event, start: float, latest_is_best: bool, remaining, progress) -> None:
    """Validate, update best/early-stopping/plateau state, write the log row and checkpoints.

    ``latest_is_best``: the weights are an SWA average, which only gets better with more steps, so the
    checkpoint is the best whatever its validation loss (a held-out loss tends to favour the first,
    short averages; on FSDD's unseen speakers the full one did better)."""
    val = validate()
    st.last_val = val
    improved = latest_is_best or val < st.best_val
    if improved:
        st.best_val, st.best_step, st.bad_evals = val, st.step, 0
    else:
        st.bad_evals += 1
        if cfg.lr_schedule == "plateau":
            st.plateau_scale *= 0.5
        if cfg.patience and st.bad_evals >= cfg.patience:
            st.stopped = "early_stopping"
    st.elapsed = time.perf_counter() - start
    log.write({"kind": "val", "step": st.step, "epoch": st.epoch, "val_loss": val, "best_val": st.best_val,
               "elapsed": st.elapsed})
    if improved:
        save(run_dir / BEST)
    save(run_dir / LAST)
    if on_event:
        on_event(Event("val", st.step, st.epoch, st.elapsed, remaining(st.elapsed), progress(st.elapsed),
                       val_loss=val, best_val=st.best_val, clipped=st.clipped))
