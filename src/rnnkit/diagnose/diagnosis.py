"""``rnnkit diagnose RUN``: measure a run of any task, read the seed's verdict, write the advice.

The task registry gives each task's measurement (its unit, its reference baseline and its
thresholds; see ``bias_variance.Measurement``); this module checks the run, applies the verdict
and turns it into ``rnnkit train`` command lines built from the run's saved configuration.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import tasks
from ..core import rundir
from ..core.errors import RnnkitError
from ..core.fileio import read_json
from . import bias_variance
from .bias_variance import HIGH_BIAS, HIGH_VARIANCE, BOTH, Thresholds

LEARNING_CURVE_FILE = "learning_curve.json"


@dataclass
class Diagnosis:
    """A run's errors, gaps, verdict and advice; errors and gaps in ``unit``."""

    run: str
    task: str
    verdict: str
    train: float
    validation: float
    reference: float
    reference_source: str  # "--reference" or what the task's baseline is
    avoidable_bias: float  # train - reference
    variance: float  # validation - train
    unit: str
    thresholds: dict[str, float]  # {"bias": ..., "variance": ...}
    advice: list[str]
    train_items: int
    validation_items: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_finished(run_dir: Path) -> None:
    """A run can be diagnosed once it has a best checkpoint and a validation in its metrics log."""
    run_dir = Path(run_dir)
    if not rundir.is_run(run_dir):
        raise RnnkitError(f"{run_dir} is not a run directory (no config.json); pass the --out of rnnkit train")
    rows = rundir.read_metrics(run_dir)
    if not (run_dir / rundir.BEST).is_file() or not any(r.get("kind") == "val" for r in rows):
        raise RnnkitError(f"{run_dir} has no finished validation yet; train it until its first validation "
                          f"(--eval-every) and diagnose it then")


def diagnose(run_dir: str | Path, reference: float | None = None, bias_threshold: float | None = None,
             variance_threshold: float | None = None, device: str = "cpu",
             learning_curve: str | Path | None = None) -> Diagnosis:
    """Diagnose the run in ``run_dir``: train error (evaluation mode, training split), validation
    error, and ``reference`` (default: the task's own baseline); thresholds default to the task's.

    ``learning_curve`` is a ``rnnkit learning-curve`` output folder (or its JSON) whose prediction
    goes into the advice; by default the one the run was trained in, if any.
    """
    run_dir = Path(run_dir)
    if reference is not None:
        reference = bias_variance.check_reference(reference)
    check_finished(run_dir)
    spec = tasks.of_run(run_dir)
    if reference is None and not spec.baseline:
        raise RnnkitError(f"the {spec.name} task has no built-in baseline to compare with; pass --reference VALUE "
                          f"(the best error you expect on this data, in the task's unit)")
    m = spec.measure(run_dir, reference=reference is None, device=device)
    ref = reference if reference is not None else m.reference
    source = "--reference" if reference is not None else m.reference_name
    th = Thresholds(m.thresholds.bias if bias_threshold is None else bias_threshold,
                    m.thresholds.variance if variance_threshold is None else variance_threshold)
    verdict = bias_variance.verdict(m.train, m.validation, ref, th)
    saved = read_json(run_dir / rundir.CONFIG_FILE)
    config = spec.upgrade(saved)
    curve = _learning_curve(run_dir, learning_curve)
    return Diagnosis(str(run_dir), spec.name, verdict, m.train, m.validation, ref, source, m.train - ref,
                     m.validation - m.train, m.unit, dataclasses.asdict(th),
                     advice(verdict, spec.name, run_dir, config, m.variance_flags, curve, _pinned(saved, config)),
                     m.train_items, m.validation_items)


def _pinned(saved: dict, config: dict) -> str:
    """Flags for the options a run predates (in ``config``, its upgraded configuration, but not in
    ``saved``): set to what the run did, so a command built on its config.json changes only what it says."""
    return " ".join(_flag(name, value) for section, values in config.items() if isinstance(values, dict)
                    for name, value in values.items() if name not in (saved.get(section) or {}))


def _learning_curve(run_dir: Path, given: str | Path | None) -> dict | None:
    if given is not None:
        path = Path(given)
        path = path / LEARNING_CURVE_FILE if path.is_dir() else path
        if not path.is_file():
            raise RnnkitError(f"--learning-curve: {path} not found; pass the --out folder of rnnkit learning-curve")
        return read_json(path)
    found = run_dir.resolve().parent.parent / LEARNING_CURVE_FILE  # a run trained by rnnkit learning-curve
    return read_json(found) if found.is_file() else None


def _find(config: dict, name: str) -> tuple[str, Any] | None:
    """(section, value) of the option ``name`` in a saved configuration, if the task has it."""
    for section, values in config.items():
        if isinstance(values, dict) and name in values:
            return section, values[name]
    return None


def _flag(name: str, value: Any) -> str:
    return f"--{name.replace('_', '-')} {value:g}" if isinstance(value, float) else f"--{name.replace('_', '-')} {value}"


def advice(verdict: str, task: str, run_dir: Path, config: dict, variance_flags: tuple[str, ...] = (),
           curve: dict | None = None, pinned: str = "") -> list[str]:
    """What to try next for ``verdict``: one line each, most with a runnable ``rnnkit train`` command
    that starts from the run's saved configuration (plus ``pinned``, flags that keep options added
    since the run was saved as they were for it) and changes one thing."""
    base = f"rnnkit train --task {task} --config {shlex.quote(str(run_dir / rundir.CONFIG_FILE))}"
    base += f" {pinned}" if pinned else ""

    def command(why: str, flags: str, suffix: str) -> str:
        return f"{why}: {base} {flags} --out {shlex.quote(str(run_dir) + '-' + suffix)}"

    get = lambda name: (_find(config, name) or (None, None))[1]  # noqa: E731
    out: list[str] = []
    if verdict in (HIGH_BIAS, BOTH):
        if get("hidden_size"):
            out.append(command("more units", _flag("hidden_size", 2 * get("hidden_size")), "units"))
        if get("layers"):
            out.append(command("more layers", _flag("layers", get("layers") + 1), "layers"))
        budget = next(((n, get(n)) for n in ("steps", "epochs", "max_time") if get(n)), None)
        if budget:
            out.append(command("a longer budget", _flag(budget[0], 2 * budget[1]), "longer"))
        if get("dropout"):
            out.append(command("less dropout", _flag("dropout", round(get("dropout") / 2, 3)), "less-dropout"))
    if verdict in (HIGH_VARIANCE, BOTH):
        fraction = get("data_fraction") or 1.0
        if curve is not None:
            out.append(f"more data: the learning curve says {curve.get('conclusion', '')}")
        if fraction < 1:
            out.append(command("more data (the run used a fraction of its training split)",
                               _flag("data_fraction", min(1.0, round(2 * fraction, 3))), "more-data"))
        elif curve is None:
            out.append("more data: collect or augment more training data; rnnkit learning-curve shows how much "
                       "the validation error gains from it")
        if get("dropout") is not None and get("dropout") < 0.5:
            out.append(command("more dropout", _flag("dropout", round(min(0.5, get("dropout") + 0.2), 3)),
                               "dropout"))
        wd = get("weight_decay")
        if wd is not None:
            out.append(command("weight decay", _flag("weight_decay", 0.01 if wd == 0 else 10 * wd), "weight-decay"))
        for i, flags in enumerate(variance_flags):
            out.append(command("data noising (Xie et al. 2017)", flags, f"noise{i or ''}"))
        if get("patience") == 0:
            out.append(command("early stopping (the best checkpoint is kept)", "--patience 3", "early-stop"))
    if not out:
        out.append(f"good fit: check the test split once, rnnkit evaluate {shlex.quote(str(run_dir))} --split test")
    return out


def format_text(d: Diagnosis) -> str:
    """The verdict, the errors, the gaps against their thresholds, and the advice, for a terminal."""
    gap = lambda v, t: f"{v:+.4g} {d.unit} ({'above' if v > t else 'within'} the threshold {t:.4g})"  # noqa: E731
    lines = [f"{d.run} ({d.task}): {d.verdict}",
             f"  train error      {d.train:.4g} {d.unit} (training split, evaluation mode, {d.train_items} items)",
             f"  validation error {d.validation:.4g} {d.unit} ({d.validation_items} items)",
             f"  reference        {d.reference:.4g} {d.unit} ({d.reference_source})",
             f"  avoidable bias   {gap(d.avoidable_bias, d.thresholds['bias'])}",
             f"  variance         {gap(d.variance, d.thresholds['variance'])}",
             "advice:"]
    return "\n".join(lines + [f"  - {a}" for a in d.advice])
