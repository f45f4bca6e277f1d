"""A run's report: configuration, training curves, diagnosis, and the task's own view, on one page.

>>> from rnnkit.report.run_report import write_report
>>> write_report("runs/alice")                     # runs/alice/report.html

The task's part (data split, test metrics, samples / translations / forecast / confusion
matrix) comes from the ``report_view`` function of the task's API module in the registry.
"""

from __future__ import annotations

import json
from pathlib import Path
from .. import tasks
from ..core import rundir
from ..core.errors import RnnkitError
from ..core.fileio import read_json
from . import html, plots
from .sections import Section, number

REPORT_FILE = "report.html"


read_metrics = rundir.read_metrics  # the rows of metrics.jsonl (tune_report imports it from here)


def configuration(config: dict) -> Section:
    rows = [["section", "option", "value"]]
    for section, values in config.items():
        if isinstance(values, dict):
            rows += [[section, name, json.dumps(v)] for name, v in values.items()]
        else:
            rows.append(["", section, json.dumps(values)])
    return Section("Configuration", table=rows)


def training(rows: list[dict], score: str = "loss") -> Section:
    """The training curves; ``score``: what the validation rows hold, ``loss`` or ``error`` (``train.select``)."""
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    text = []
    if train:
        last = train[-1]
        text.append(f"{last['step']} steps in {last.get('elapsed', 0):.1f} s; last training loss "
                    f"{last['loss']:.4f}; gradient clipped on {last.get('clipped', 0)} steps.")
    if val:
        best = min(val, key=lambda r: r["val_loss"])
        text.append(f"{len(val)} validations; best validation {score} {best['val_loss']:.4f} at step {best['step']}.")
    if not any(("grad_norm" in r or "clip_rate" in r) for r in train):
        text.append("This run's metrics log has no gradient norms or clip rates, so they are not plotted.")
    if not rows:
        text = ["The run has no metrics log."]
    return Section("Training", text=text, images=plots.training_images(rows, score))


def diagnosis_section(diagnosis: dict | None) -> Section:
    """The bias/variance diagnosis (``Diagnosis.to_dict()``), or a note that none was measured."""
    if diagnosis is None:
        return Section("Diagnosis", text=["No diagnosis was measured for this report: `rnnkit diagnose RUN` "
                                          "gives the bias/variance verdict with advice."])
    unit = diagnosis.get("unit", "")
    rows = [["quantity", f"value ({unit})" if unit else "value"]]
    for key in ("train", "validation", "reference", "avoidable_bias", "variance"):
        if key in diagnosis:
            rows.append([key.replace("_", " "), number(diagnosis[key])])
    shown = {"verdict", "advice", "unit", "thresholds", "train", "validation", "reference", "avoidable_bias",
             "variance"}
    rows += [[k, number(v)] for k, v in diagnosis.items() if k not in shown and not isinstance(v, (dict, list))]
    text = [f"Verdict: {diagnosis.get('verdict', 'none')}."]
    if isinstance(diagnosis.get("thresholds"), dict):
        text.append("Thresholds: " + ", ".join(f"{k} {number(v)}" for k, v in diagnosis["thresholds"].items()) + ".")
    advice = diagnosis.get("advice") or []
    return Section("Diagnosis", text=text, table=rows, pre=["\n".join(map(str, advice))] if advice else [])


def build_report(run: str | Path, diagnosis: dict | None = None, device: str = "cpu") -> str:
    """The HTML page of the run directory ``run`` (a string; see :func:`write_report`)."""
    run_dir = Path(run)
    if not (run_dir.is_dir() and rundir.is_run(run_dir)):
        raise RnnkitError(f"{run_dir} is not an rnnkit run directory (no {rundir.CONFIG_FILE}); "
                          f"pass the --out of a training run")
    spec = tasks.of_run(run_dir)
    config = spec.upgrade(read_json(run_dir / rundir.CONFIG_FILE))  # options added since, as the run did
    rows = read_metrics(run_dir)
    part = spec.api.report_view(spec.api.load(run_dir, device=device), run_dir)
    score = config.get("train", {}).get("select", "loss")  # tag and classify validate by error by default
    sections = [configuration(config), part.split, training(rows, score), diagnosis_section(diagnosis), *part.view, part.test]
    return html.render(f"rnnkit report: {run_dir.name}", f"{spec.kind} run in {run_dir.resolve()}", sections)


def write_report(run: str | Path, out: str | Path | None = None, diagnosis: dict | None = None,
                 device: str = "cpu") -> Path:
    """Write the report of ``run`` to ``out`` (default ``RUN/report.html``) atomically; returns the path."""
    out = Path(out) if out is not None else Path(run) / REPORT_FILE
    return html.write_page(out, lambda: build_report(run, diagnosis, device))

