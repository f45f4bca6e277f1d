"""Scoring the model on the validation split during training, and what each score decides: the best
checkpoint, early stopping (--patience) and the plateau schedule's halving of the learning rate."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from torch import nn

from . import distributed
from .ema import WeightAverage

if TYPE_CHECKING:
    from .resume import LoopState


def validate(task: Any, model: nn.Module, average: WeightAverage | None) -> float:
    """The task's mean validation loss of ``model`` in eval mode (of the average's weights with --ema
    or --swa), over every rank's share of the validation data; ``task.model`` is left as it was."""
    training = task.model
    model.eval()
    task.model = model  # no DDP for scoring: ranks may score different amounts
    with average.applied() if average else contextlib.nullcontext():
        v = task.validate()
    task.model = training
    model.train()
    mean, count = v if isinstance(v, tuple) else (v, 1)
    if distributed.world() > 1:
        total, n = distributed.all_reduce_sum([mean * count, count])
        mean = total / max(n, 1)
    return mean


def record(st: LoopState, val: float, patience: int, plateau: bool, latest_is_best: bool) -> bool:
    """Enter validation loss ``val`` into ``st``: the best so far, the validations without improvement,
    the plateau schedule's scale (halved on each of those when ``plateau``) and ``st.stopped`` once
    ``patience`` of them (0 = never) have passed. True when ``val`` is the new best.

    ``latest_is_best``: the weights are an SWA average, which only gets better with more steps, so the
    latest is the best whatever its validation loss (a held-out loss tends to favour the first, short
    averages; on FSDD's unseen speakers the full one did better)."""
    st.last_val = val
    improved = latest_is_best or val < st.best_val
    if improved:
        st.best_val, st.best_step, st.bad_evals = val, st.step, 0
    else:
        st.bad_evals += 1
        if plateau:
            st.plateau_scale *= 0.5
        if patience and st.bad_evals >= patience:
            st.stopped = "early_stopping"
    return improved
