"""``rnnkit learning-curve``: train and validation error against the amount of training data.

The same configuration and budget are trained at each ``--data-fraction`` of the training
split, with several seeds (each seed draws its own fraction and initialization). The split
itself stays the one of the configuration's ``--split-seed`` (or first seed) for every run, so the
spread over seeds is the training's, not a mix with that of different validation sets. Each run's
train error (evaluation mode) and validation error are measured as ``rnnkit diagnose`` does, in
the task's unit. More data is likely to help while the validation error still falls between the
two largest fractions by more than its spread over seeds (``improving-your-rnn.md``: more data
lowers variance, it does not lower bias).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes, save_figure, write_json
from .diagnosis import LEARNING_CURVE_FILE

RUNS_DIR = "runs"


@dataclass
class Point:
    fraction: float
    seed: int
    train: float
    validation: float
    run: str


@dataclass
class LearningCurve:
    task: str
    unit: str
    fractions: list[float]
    seeds: list[int]
    points: list[Point]
    summary: list[dict[str, float]]  # per fraction: mean and standard deviation of train and validation
    more_data_helps: bool
    conclusion: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_fractions(fractions: list[float]) -> list[float]:
    """At least two distinct fractions, each in (0, 1]; returned sorted."""
    for f in fractions:
        if not (math.isfinite(f) and 0 < f <= 1):
            raise RnnkitError(f"--fractions: each fraction must be in (0, 1], got {f:g}")
    distinct = sorted(set(fractions))
    if len(distinct) < 2:
        raise RnnkitError(f"--fractions: a curve needs at least 2 different fractions, got {len(distinct)}")
    return distinct


def summarize(points: list[Point], fractions: list[float]) -> list[dict[str, float]]:
    rows = []
    for f in fractions:
        tr = np.array([p.train for p in points if p.fraction == f])
        va = np.array([p.validation for p in points if p.fraction == f])
        rows.append({"fraction": f, "train_mean": float(tr.mean()), "train_std": float(tr.std()),
                     "validation_mean": float(va.mean()), "validation_std": float(va.std())})
    return rows


def conclude(summary: list[dict[str, float]], unit: str) -> tuple[bool, str]:
    """Is the validation error still falling at the largest fraction, beyond its spread over seeds?"""
    a, b = summary[-2], summary[-1]
    drop = a["validation_mean"] - b["validation_mean"]
    spread = max(a["validation_std"], b["validation_std"])
    gap = b["validation_mean"] - b["train_mean"]
    said = (f"validation error {a['validation_mean']:.4g} -> {b['validation_mean']:.4g} {unit} from fraction "
            f"{a['fraction']:g} to {b['fraction']:g} (spread over seeds {spread:.2g}; train-validation gap "
            f"{gap:.3g} at {b['fraction']:g})")
    if drop > spread and drop > 0:
        return True, f"{said}: still falling beyond its spread, so more data is likely to help"
    return False, f"{said}: not falling beyond its spread, so more data alone is unlikely to help"


def fixed_split(config: Any, seed: int) -> Any:
    """``config`` with its split seed pinned to ``seed`` unless it names one, for tasks whose split is
    drawn at random (translation, audio: ``data.split_seed``); a split by time or position (forecast,
    language model) has no seed and is returned unchanged."""
    data = getattr(config, "data", None)
    if not hasattr(data, "split_seed") or data.split_seed is not None:
        return config
    return dataclasses.replace(config, data=dataclasses.replace(data, split_seed=seed))


def learning_curve(spec, config: Any, out: str | Path, fractions: list[float], seeds: int = 3,
                   device: str = "cpu", on_run: Callable[[str], None] | None = None) -> LearningCurve:
    """Train ``config`` (a ``spec.config``) at each fraction with ``seeds`` seeds under ``out/runs``;
    write ``learning_curve.{json,csv,png}`` to ``out`` and return the curve."""
    fractions = check_fractions(fractions)
    if seeds < 1:
        raise RnnkitError(f"--seeds: must be at least 1, got {seeds}")
    out = Path(out)
    base_seed = config.train.seed
    config = fixed_split(config, base_seed)  # what the first seed's run would split by anyway
    points, unit = [], ""
    for f in fractions:
        for k in range(seeds):
            seed = base_seed + k
            run = out / RUNS_DIR / f"fraction{f:g}-seed{seed}"
            if on_run:
                on_run(f"training at fraction {f:g}, seed {seed}: {run}")
            cfg = dataclasses.replace(config, train=dataclasses.replace(config.train, data_fraction=f, seed=seed))
            spec.api.train(cfg, run, overwrite=True)
            m = spec.measure(run, reference=False, device=device)
            unit = m.unit
            points.append(Point(f, seed, m.train, m.validation, str(run)))
    summary = summarize(points, fractions)
    helps, conclusion = conclude(summary, unit)
    curve = LearningCurve(spec.name, unit, fractions, [base_seed + k for k in range(seeds)], points, summary,
                          helps, conclusion)
    write_json(out / LEARNING_CURVE_FILE, curve.to_dict())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["fraction", "seed", "train", "validation", "unit", "run"])
    for p in points:
        w.writerow([p.fraction, p.seed, p.train, p.validation, unit, p.run])
    atomic_write_bytes(out / "learning_curve.csv", buf.getvalue().encode("utf-8"))
    plot(curve, out / "learning_curve.png")
    return curve


def plot(curve: LearningCurve, path: Path) -> None:
    """Train and validation error (mean, with the spread over seeds as a band) against the fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.array([r["fraction"] for r in curve.summary])
    for key, label in (("train", "train (evaluation mode)"), ("validation", "validation")):
        mean = np.array([r[f"{key}_mean"] for r in curve.summary])
        std = np.array([r[f"{key}_std"] for r in curve.summary])
        ax.plot(x, mean, marker="o", label=label)
        ax.fill_between(x, mean - std, mean + std, alpha=0.25)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{f:g}" for f in x])
    ax.set_xlabel("fraction of the training split (log scale)")
    ax.set_ylabel(f"error ({curve.unit})")
    ax.set_title(f"learning curve, {len(curve.seeds)} seed(s) per fraction")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
