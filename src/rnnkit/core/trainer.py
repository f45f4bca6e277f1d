"""The one training loop every rnnkit task shares.

A task (language modeling now; translation, forecasting and audio later) gives the loop a
model, seeded batches, a loss and a validation score through the small :class:`Task`
protocol. The loop owns everything else: optimizer and schedule, gradient clipping by norm
and by value (counting clipped steps), the step/epoch/wall-clock budget, validation, early
stopping, NaN detection, the metrics log, progress events and atomic checkpoints that let a
killed run resume exactly (RNG state, data position and the carried hidden state included).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import nn

from . import checkpoint
from .config import check_choices, option, require
from .errors import RnnkitError, TrainingDiverged
from .fileio import atomic_write_bytes
from .rundir import BEST, LAST, METRICS_FILE

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
    data_fraction: float = option(1.0, "train on this seeded fraction (0 < F <= 1) of the training split only "
                                  "(validation and test stay whole): quick cycles, learning curves")
    patience: int = option(0, "early stopping: stop after this many validations without improvement (0 = off)")
    eval_every: int = option(100, "validate (and checkpoint) every this many steps; also at the end")
    log_every: int = option(10, "write a training row to the metrics log every this many steps")
    seed: int = option(0, "random seed: data order, initialization, dropout")
    device: str = option("auto", "cpu, cuda, cuda:N or auto (a GPU when there is one)")
    precision: str = option("auto", "fp32, bf16 (mixed precision by autocast: fast on CPUs with AMX or "
                            "AVX512-BF16, slow on others) or auto (bf16 on such CPUs, fp32 elsewhere)",
                            ("auto", "fp32", "bf16"))

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
    """``auto`` means bf16 where it is fast and safe to assume (CPUs with native bf16), else fp32."""
    if name != "auto":
        return name
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


class Task(Protocol):
    """What the loop needs from a task. Batches must be deterministic given (seed, epoch)."""

    model: nn.Module
    progress: float  # fraction of the budget used, set by the loop before each step (for task schedules)

    def steps_per_epoch(self) -> int: ...
    def batches(self, epoch: int, start: int) -> Iterator[Any]: ...
    def loss(self, batch: Any, carry: Carry) -> tuple[torch.Tensor, Carry, int]:
        """Mean loss of ``batch``, the (detached) carry for the next batch, targets predicted."""
    def validate(self) -> float:
        """Mean validation loss (the model is already in eval mode)."""
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
    """

    def __init__(self, path: Path, keep_until: int | None):
        self.path = path
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
        atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))
        self.file = path.open("a", encoding="utf-8")

    def write(self, row: dict) -> None:
        self.rows.append(row)
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _carry_tensors(carry: Carry) -> dict[str, torch.Tensor]:
    if carry is None:
        return {}
    if isinstance(carry, tuple):
        return {str(i): t for i, t in enumerate(carry)}
    return {"0": carry}


def _carry_from(tensors: dict[str, torch.Tensor], device: torch.device) -> Carry:
    if not tensors:
        return None
    parts = [tensors[str(i)].to(device) for i in range(len(tensors))]
    return parts[0] if len(parts) == 1 else tuple(parts)


def fit(task: Task, cfg: TrainConfig, run_dir: Path, device: torch.device,
        resume_from: Path | None = None, on_event: Callable[[Event], None] | None = None,
        stop_after: int | None = None) -> FitResult:
    """Train ``task.model`` under ``cfg``, writing checkpoints and the metrics log to ``run_dir``.

    ``resume_from`` continues from a checkpoint written by this function; ``stop_after``
    ends the call after that many steps as if killed (for tests of resuming).
    """
    model = task.model.to(device)
    optimizer = make_optimizer(cfg, model.parameters())
    st = LoopState()
    carry: Carry = None
    if resume_from is not None:
        tensors, meta = checkpoint.load(resume_from)
        model.load_state_dict(checkpoint.section(tensors, "model"))
        optimizer.load_state_dict(checkpoint.join_optimizer_state(checkpoint.section(tensors, "optim"), meta["optimizer"]))
        torch.set_rng_state(tensors["state/torch_rng"])
        carry = _carry_from(checkpoint.section(tensors, "carry"), device)
        st = LoopState(**meta["loop"])
        st.stopped = ""
    log = MetricsLog(run_dir / METRICS_FILE, keep_until=st.step)
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
        st.log_loss_sum, st.log_steps = running.item(), window_steps
        st.log_norm_sum, st.log_clipped = norm_sum.item(), window_clipped
        opt_tensors, opt_info = checkpoint.split_optimizer_state(optimizer.state_dict())
        tensors = {
            **checkpoint.with_prefix("model", model.state_dict()),
            **checkpoint.with_prefix("optim", opt_tensors),
            **checkpoint.with_prefix("carry", _carry_tensors(carry)),
            "state/torch_rng": torch.get_rng_state(),
            **task.checkpoint_tensors(),
        }
        meta = {**task.checkpoint_meta(), "train": dataclasses.asdict(cfg), "optimizer": opt_info,
                "loop": dataclasses.asdict(st), "metrics": {"val_loss": st.last_val, "best_val": st.best_val
                                                            if math.isfinite(st.best_val) else None}}
        checkpoint.save(path, tensors, meta)

    def validate() -> float:
        model.eval()
        v = task.validate()
        model.train()
        if not math.isfinite(v):
            raise TrainingDiverged(
                f"validation loss became {v} at step {st.step}; the last good checkpoint is kept in "
                f"{run_dir}; lower --lr or set --clip-norm"
            )
        return v

    bf16 = resolve_precision(cfg.precision, device) == "bf16"
    model.train()
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
            if cfg.max_time is not None and time.perf_counter() - start >= cfg.max_time:
                st.stopped = "max_time"
                break
            for batch in task.batches(st.epoch, st.batch_index):
                elapsed = time.perf_counter() - start
                task.progress = progress(elapsed)
                lr = cfg.lr * lr_factor(cfg, st.step, task.progress, st.plateau_scale)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss, carry, units = task.loss(batch, carry)
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
                done_time = cfg.max_time is not None and elapsed >= cfg.max_time
                if st.step % cfg.log_every == 0 or done_steps or done_time:
                    train_loss = running.item() / window_steps
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
                    if on_event:
                        on_event(Event("train", st.step, st.epoch, elapsed, remaining(elapsed, sec_per_step),
                                       progress(elapsed), train_loss=train_loss, best_val=_finite(st.best_val),
                                       val_loss=st.last_val, tokens_per_s=tps, lr=lr, clipped=st.clipped,
                                       grad_norm=grad_norm, clip_rate=clip_rate))
                    running.zero_()
                    norm_sum.zero_()
                    window_clipped = 0
                    window_start, window_tokens, window_steps = now, 0, 0
                if st.step % cfg.eval_every == 0 or done_steps or done_time:
                    _evaluate_and_save(st, cfg, validate, save, log, run_dir, on_event, start,
                                       lambda e: remaining(e, sec_per_step), progress)
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
            _evaluate_and_save(st, cfg, validate, save, log, run_dir, on_event, start,
                               lambda e: remaining(e, sec_per_step), progress)
        st.elapsed = time.perf_counter() - start
        save(run_dir / LAST)
    finally:
        log.close()
    return FitResult(st, log.rows)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _evaluate_and_save(st: LoopState, cfg: TrainConfig, validate, save, log: MetricsLog, run_dir: Path,
                       on_event, start: float, remaining, progress) -> None:
    """Validate, update best/early-stopping/plateau state, write the log row and checkpoints."""
    val = validate()
    st.last_val = val
    improved = val < st.best_val
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
