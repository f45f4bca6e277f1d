"""What a training checkpoint holds so that a killed run resumes exactly where it was.

Besides the weights: the loop's counters and scores (:class:`LoopState`, JSON), the optimizer's
state, the random streams, the hidden state carried into the next batch and, with --ema or
--swa, both the average (``model/``, what every command loads) and the raw weights training goes
on from (``raw/``). Data-parallel, every rank's random stream is stored and the carry of the whole
batch, so that the same number of ranks resumes each with its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint, distributed
from .ema import WeightAverage
from .errors import RnnkitError

Carry = Any  # whatever a task carries from one batch to the next (a hidden state, or None)


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

    def advance(self, units: int, clipped: bool, per_epoch: int) -> bool:
        """Count one optimizer step over ``units`` targets; True when it completed an epoch (the next
        one starts from its first batch with no carry)."""
        self.clipped += int(clipped)
        self.step += 1
        self.batch_index += 1
        epoch_done = self.batch_index >= per_epoch
        if epoch_done:
            self.epoch, self.batch_index = self.epoch + 1, 0
        self.tokens += units
        return epoch_done


def state_tensors(model: nn.Module, average: WeightAverage | None, optimizer: torch.optim.Optimizer,
                  carry: Carry, device: torch.device) -> tuple[dict[str, torch.Tensor], dict]:
    """A checkpoint's tensors (weights, optimizer, carry, random streams) and the optimizer's scalar
    state (for the JSON). Data-parallel, every rank calls it: the carry and streams are gathered."""
    opt_tensors, opt_info = checkpoint.split_optimizer_state(optimizer.state_dict())
    tensors = {
        **checkpoint.with_prefix("model", average.state_dict() if average else model.state_dict()),
        **(checkpoint.with_prefix("raw", model.state_dict()) if average else {}),
        **checkpoint.with_prefix("optim", opt_tensors),
        **checkpoint.with_prefix("carry", _carry_tensors(carry)),
        **_rng_tensors(device),
    }
    return tensors, opt_info


def restore(path: Path, run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
            ema: float, swa: float) -> tuple[LoopState, Carry, WeightAverage | None]:
    """Load the checkpoint at ``path`` into ``model``, ``optimizer`` and the random streams; return the
    loop's state, the carry and the weight average (--ema ``ema`` or --swa ``swa``) to go on with."""
    tensors, meta = checkpoint.load(path)
    world = distributed.world()
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
    average = None
    if ema:  # resumed as saved; a run that had no average starts one from its weights
        average = WeightAverage(model, ema, checkpoint.section(tensors, "model") if raw else None,
                                st.ema_updates if raw else 0)
    elif swa and raw:  # a run killed before its average began starts it when the budget says
        average = WeightAverage(model, None, checkpoint.section(tensors, "model"), st.ema_updates)
    return st, carry, average


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
