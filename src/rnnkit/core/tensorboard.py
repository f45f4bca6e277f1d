"""TensorBoard event files beside a run (``--tensorboard``): ``RUN/tensorboard/``.

The training loop writes every row of ``metrics.jsonl`` here too (see ``MetricsLog``), so
``tensorboard --logdir runs`` shows the same numbers as the log: training and validation
loss, learning rate, throughput and, when the loop logs them, the gradient norm before
clipping and the clip rate. Tasks may add text (a language model's sample at the end).
TensorBoard is an optional extra: ``pip install 'rnnkit[tensorboard]'``.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import RnnkitError

DIR = "tensorboard"

# (row kind, metrics-log key) -> TensorBoard tag
SCALARS = {
    ("train", "loss"): "loss/train",
    ("val", "val_loss"): "loss/validation",
    ("val", "best_val"): "loss/best_validation",
    ("train", "lr"): "learning_rate",
    ("train", "grad_norm"): "gradients/norm_before_clipping",
    ("train", "clip_rate"): "gradients/clip_rate",
    ("train", "tokens_per_s"): "throughput/units_per_second",
}


def summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RnnkitError("--tensorboard needs the tensorboard package: pip install 'rnnkit[tensorboard]'")
    return SummaryWriter


class TensorBoardLog:
    """Metrics-log rows and texts written as TensorBoard events to ``run_dir/tensorboard``.

    ``purge_step``: a resumed run drops the events from this step on, since those steps run again.
    """

    def __init__(self, run_dir: Path, purge_step: int | None = None):
        self.writer = summary_writer_class()(log_dir=str(Path(run_dir) / DIR), purge_step=purge_step)

    def write(self, row: dict) -> None:
        for (kind, key), tag in SCALARS.items():
            value = row.get(key)
            if row.get("kind") == kind and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(tag, value, row["step"])
        self.writer.flush()

    def text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
