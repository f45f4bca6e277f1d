"""How long a training run may go: a number of optimizer steps, of epochs, of seconds, or several
(the first one reached ends the run), and the clock that counts the seconds.

The fraction of the budget used (0 at the start, 1 at its end) drives the learning-rate schedule
and the start of SWA; the seconds left are the progress bar's estimate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import distributed


@dataclass(frozen=True)
class Budget:
    """The limits of one run. ``total_steps`` is the smaller of ``--steps`` and ``--epochs`` times the
    steps of an epoch; ``step_limit`` names which (the reason a run that reaches it stops)."""

    total_steps: int | None
    step_limit: str
    epochs: int | None
    max_time: float | None

    @classmethod
    def of(cls, steps: int | None, epochs: int | None, max_time: float | None, per_epoch: int) -> Budget:
        limits = [(n, why) for n, why in ((steps, "steps"), (epochs * per_epoch if epochs else None, "epochs"))
                  if n is not None]
        total_steps, step_limit = min(limits) if limits else (None, "")
        return cls(total_steps, step_limit, epochs, max_time)

    def progress(self, step: int, elapsed: float) -> float:
        """The fraction used after ``step`` steps and ``elapsed`` seconds: the larger of the two (0 unbounded)."""
        parts = []
        if self.total_steps:
            parts.append(step / self.total_steps)
        if self.max_time:
            parts.append(elapsed / self.max_time)
        return max(parts) if parts else 0.0

    def remaining(self, step: int, elapsed: float, sec_per_step: float) -> float | None:
        """Seconds left at ``sec_per_step``, by whichever limit comes first; None without a limit."""
        options = []
        if self.total_steps:
            options.append((self.total_steps - step) * sec_per_step)
        if self.max_time:
            options.append(max(self.max_time - elapsed, 0.0))
        return min(options) if options else None

    def steps_done(self, step: int) -> bool:
        return self.total_steps is not None and step >= self.total_steps

    def spent(self, epoch: int, step: int) -> str:
        """Why no epoch may start at ``(epoch, step)`` ("epochs" or the step limit), or "" (the clock aside)."""
        if self.epochs is not None and epoch >= self.epochs:
            return "epochs"
        if self.steps_done(step):
            return self.step_limit
        return ""


class Clock:
    """Seconds of training, those before a resume included.

    Each rank of a data-parallel run reads its own clock, so a decision taken from it (out of time,
    SWA starts) is agreed by all of them when there is a time limit: were only some ranks to stop or
    save, the others would wait for them in a collective forever.
    """

    def __init__(self, max_time: float | None, elapsed: float = 0.0, world: int = 1):
        self.max_time, self.world = max_time, world
        self.start = time.perf_counter() - elapsed

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def agreed(self, flag: bool) -> bool:
        """``flag`` as read off this rank's clock, true on every rank when it is true on any."""
        return distributed.any_rank(flag) if self.world > 1 and self.max_time is not None else flag

    def out_of_time(self) -> bool:
        return self.agreed(self.max_time is not None and self.elapsed() >= self.max_time)
