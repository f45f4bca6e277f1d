"""How a training run executes, as its ``config.json`` records it (``runtime``).

The options say what to learn; this says how it ran: the number of processes and how the
batch was split over them (``--batch-size`` is always the global batch, so the learning rate
is not scaled), the device, the precision, ``torch.compile``, and notes about slow paths an
option chose on a GPU (explicit cells instead of cuDNN's fused layers). A single CPU process
writes none of it, so its ``config.json`` stays the options alone; ``--resume`` ignores it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from . import distributed
from .fileio import read_json, write_json
from .rundir import CONFIG_FILE
from ..nn.cells import ExplicitRecurrent

if TYPE_CHECKING:
    from .trainer import TrainConfig


def runtime_info(model: nn.Module, cfg: "TrainConfig", device: torch.device, precision: str) -> tuple[dict, list[str]]:
    """How this run executes (processes, batch split, learning-rate scaling, device, precision), for the
    run's ``config.json``; and notes for the user about slow paths chosen by an option."""
    world = distributed.world()
    info = {"world_size": world, "backend": distributed.backend(), "batch_per_process": cfg.batch_size // world,
            "effective_batch": cfg.batch_size,
            "lr_scaling": "none: --batch-size is the global batch, split over the processes, and DDP averages "
                          "their gradients, so each step is a step on the whole batch at --lr",
            "device": str(device), "precision": precision, "compile": cfg.compile}
    notes = []
    if device.type == "cuda":
        if any(isinstance(m, ExplicitRecurrent) for m in model.modules()):
            notes.append("the recurrent layers run as explicit cells (--impl explicit), several times slower on a GPU "
                         "than cuDNN's fused layers (--impl fused)")
        weight_drop = getattr(getattr(model, "cfg", None), "weight_drop", 0)
        if weight_drop:
            notes.append("--weight-drop hands cuDNN fresh (dropped) weights every step, which it copies into one "
                         "block each time: slower than without")
    info["notes"] = notes
    return info, notes


def write_runtime(run_dir: Path, info: dict) -> None:
    """Add ``info`` to the run's ``config.json`` as its ``runtime`` table (rank 0 only)."""
    path = run_dir / CONFIG_FILE
    if distributed.is_main() and path.is_file():
        write_json(path, {**read_json(path), "runtime": info})
