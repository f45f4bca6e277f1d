"""Live training progress for the command line: step, losses, tokens/s, time left.

On a terminal it is a single updating line (rich); elsewhere (CI, a log file) one plain line
per validation, so logs stay short.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.text import Text

from .trainer import Event


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def describe(e: Event, unit: str) -> str:
    parts = [f"step {e.step}", f"epoch {e.epoch}"]
    if e.fraction is not None:
        parts[0] += f" ({100 * min(e.fraction, 1):.0f}%)"
    if e.train_loss is not None:
        parts.append(f"train {e.train_loss:.3f}")
    if e.val_loss is not None:
        parts.append(f"val {e.val_loss:.3f}")
    if e.best_val is not None:
        parts.append(f"best {e.best_val:.3f}")
    if e.tokens_per_s is not None:
        parts.append(f"{e.tokens_per_s:,.0f} {unit}/s")
    parts.append(f"elapsed {_fmt_time(e.elapsed)}")
    if e.remaining is not None:
        parts.append(f"left {_fmt_time(e.remaining)}")
    if e.clipped:
        parts.append(f"clipped {e.clipped}")
    return "  ".join(parts)


class ProgressDisplay:
    """Use as ``with ProgressDisplay("chars") as show: train(..., on_event=show)``."""

    def __init__(self, unit: str = "tokens", stream=None):
        self.unit = unit
        self.console = Console(file=stream or sys.stderr)
        self.live: Live | None = None
        self.last_tps: float | None = None

    def __enter__(self) -> "ProgressDisplay":
        if self.console.is_terminal:
            self.live = Live(Text(""), console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def note(self, text: str) -> None:
        """A line of its own (above the live line on a terminal)."""
        self.console.print(text, highlight=False, soft_wrap=True)

    def __call__(self, e: Event) -> None:
        if e.tokens_per_s is not None:
            self.last_tps = e.tokens_per_s
        elif e.kind == "val":
            e.tokens_per_s = self.last_tps
        line = describe(e, self.unit)
        if self.live is not None:
            self.live.update(Text(line))
        elif e.kind == "val":
            self.console.print(line, highlight=False, soft_wrap=True)
