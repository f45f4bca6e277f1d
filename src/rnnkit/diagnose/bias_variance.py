"""The bias/variance verdict of ``improving-your-rnn.md``, as a pure function of three errors.

The seed reads a run by two gaps against the best achievable error (its "human error"):

    avoidable bias = train error - reference error     (high: the model underfits)
    variance       = validation error - train error    (high: the model overfits)

and its four examples, with a 1.5% reference, are 2%/14% -> high variance, 14%/15% -> high
bias, 14%/30% -> both, 2%/2.4% -> good fit. A gap is "high" when it exceeds a threshold in the
task's own unit; each task states its thresholds (see :class:`Thresholds`), since 0.1 means a
lot in bits per character and little in percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.errors import RnnkitError

HIGH_BIAS, HIGH_VARIANCE, BOTH, GOOD_FIT = "high bias", "high variance", "high bias and high variance", "good fit"
VERDICTS = (HIGH_BIAS, HIGH_VARIANCE, BOTH, GOOD_FIT)


@dataclass(frozen=True)
class Thresholds:
    """The largest avoidable bias and variance still called low, in the errors' unit."""

    bias: float
    variance: float

    def __post_init__(self) -> None:
        for name in ("bias", "variance"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise RnnkitError(f"--{name}-threshold: must be a finite number of 0 or more, got {v}")


@dataclass(frozen=True)
class Measurement:
    """What a task measures on a run for the verdict, all errors in ``unit`` (lower is better).

    ``train`` is measured in evaluation mode (no dropout) on ``train_items`` items of the
    training split the run learned from; ``reference`` is the task's baseline on the
    validation split (None when the task has none: the user must pass one).
    """

    train: float
    validation: float
    reference: float | None
    reference_name: str  # what the reference is, e.g. "best Kneser-Ney n-gram (order 4)"
    unit: str  # e.g. "bits/char", "error rate %", "MASE"
    thresholds: Thresholds
    train_items: int  # items (tokens, windows, clips, pairs) of the training split scored
    validation_items: int
    variance_flags: tuple[str, ...] = ()  # task-specific train flags against variance (e.g. data noising)


def check_reference(value: float) -> float:
    """A user's ``--reference`` must be a finite number."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RnnkitError(f"--reference: must be a finite number (an error in the task's unit), got {value}")
    return float(value)


def verdict(train: float, validation: float, reference: float, thresholds: Thresholds) -> str:
    """The seed's verdict: high bias when ``train - reference`` exceeds ``thresholds.bias``, high
    variance when ``validation - train`` exceeds ``thresholds.variance``, both, or a good fit."""
    for name, v in (("train", train), ("validation", validation), ("reference", reference)):
        if not math.isfinite(v):
            raise RnnkitError(f"the {name} error is {v}, not a finite number; no verdict can be read from it")
    bias, variance = train - reference > thresholds.bias, validation - train > thresholds.variance
    if bias and variance:
        return BOTH
    return HIGH_BIAS if bias else HIGH_VARIANCE if variance else GOOD_FIT
