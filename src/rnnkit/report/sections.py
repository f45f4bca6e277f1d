"""What a report holds, independent of how it is rendered: titled sections of text, tables,
preformatted blocks and PNG images, and the part of a report each task contributes.

Every task's API module has ``report_view(loaded, run_dir) -> TaskReport`` (the registry in
``tasks.py`` finds it), so the report never branches on task names.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class Image:
    alt: str  # what the picture shows (the page's alt text and caption)
    png: bytes


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)  # paragraphs of plain text
    table: list[list[str]] = field(default_factory=list)  # rows; the first is the header
    pre: list[str] = field(default_factory=list)  # preformatted blocks (samples, commands)
    images: list[Image] = field(default_factory=list)


@dataclass
class TaskReport:
    """A task's part of a run's report: its data split, its test metrics and its own view."""

    split: Section
    test: Section
    view: list[Section] = field(default_factory=list)


def figure_image(fig, alt: str, dpi: int = 100) -> Image:
    """A matplotlib figure as an embedded PNG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image(alt, buf.getvalue())


def drawn_image(draw: Callable[[Path], Any], alt: str) -> Image:
    """The PNG that ``draw(path)`` writes (the tasks' plot functions write files), read back."""
    with tempfile.TemporaryDirectory(prefix="rnnkit-report-") as tmp:
        path = Path(tmp) / "figure.png"
        draw(path)
        return Image(alt, path.read_bytes())


def key_values(values: dict[str, Any], header: tuple[str, str] = ("metric", "value")) -> list[list[str]]:
    """A two-column table of a flat dict (nested dicts flattened as ``outer.inner``)."""
    rows = [list(header)]

    def add(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, inner in v.items():
                add(f"{prefix}.{k}" if prefix else str(k), inner)
        else:
            rows.append([prefix, number(v)])

    add("", values)
    return rows


def number(v: Any) -> str:
    """Floats to 4 significant digits, everything else as is."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def unavailable(title: str, reason: str) -> Section:
    """A section that could not be computed, and why (the rest of the report still renders)."""
    return Section(title, text=[f"Not available: {reason}"])
