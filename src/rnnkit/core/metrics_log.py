"""The run's ``metrics.jsonl`` and the window of training steps its next training row will sum up."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import distributed, fileio
from .resume import LoopState


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
        if write:  # looked up in fileio at each call, so that a test's spy on the writer sees this file
            fileio.atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))
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


@dataclass
class WindowMeans:
    """One training row's figures: means over the window's steps (the loss over every rank's)."""

    loss: float
    tokens_per_s: float
    sec_per_step: float
    grad_norm: float  # before clipping
    clip_rate: float  # share of the steps that were clipped


class LogWindow:
    """The training steps since the last training row: their summed loss and gradient norm (tensors
    on the device, so that a step never waits for the GPU), clipped steps, targets and time.
    A checkpoint stores the sums in :class:`LoopState` (a resumed run writes the same next row)."""

    def __init__(self, st: LoopState, device: torch.device):
        self.start, self.tokens, self.steps = time.perf_counter(), 0, st.log_steps
        self.loss = torch.tensor(st.log_loss_sum, device=device)
        self.norm, self.clipped = torch.tensor(st.log_norm_sum, device=device), st.log_clipped

    def add(self, loss: torch.Tensor, units: int, norm: torch.Tensor, clipped: bool) -> None:
        """One step: its mean loss over ``units`` targets and its gradient norm before clipping."""
        self.norm += norm.detach().float()
        self.clipped += int(clipped)
        self.loss += loss.detach()
        self.tokens += units
        self.steps += 1

    def take(self) -> WindowMeans:
        """The window's means; the next window starts now."""
        world = distributed.world()
        loss_sum = self.loss.item() if world == 1 else distributed.all_reduce_sum([self.loss.item()])[0] / world
        now = time.perf_counter()
        means = WindowMeans(loss_sum / self.steps, self.tokens / max(now - self.start, 1e-9),
                            (now - self.start) / self.steps, self.norm.item() / self.steps, self.clipped / self.steps)
        self.loss.zero_()
        self.norm.zero_()
        self.clipped = 0
        self.start, self.tokens, self.steps = now, 0, 0
        return means

    def store(self, st: LoopState) -> None:
        """Keep the window in ``st`` for a checkpoint. Every rank calls it: the ranks' losses become
        their mean (the same on every rank from here on)."""
        world = distributed.world()
        if world > 1:
            self.loss = torch.tensor(distributed.all_reduce_sum([self.loss.item()])[0] / world, device=self.loss.device)
        st.log_loss_sum, st.log_steps = self.loss.item(), self.steps
        st.log_norm_sum, st.log_clipped = self.norm.item(), self.clipped
