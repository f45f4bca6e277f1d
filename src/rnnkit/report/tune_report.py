"""A study's report: what was searched, how, the trials, the winner, and every trial's curve.

>>> from rnnkit.report.tune_report import write_tune_report
>>> write_tune_report("runs/tune")                  # runs/tune/report.html

One self-contained page (see ``html.py``) of a folder written by ``rnnkit tune``: the study's
set-up (task, objective, sampler, target, search space, base configuration), the best trial
and the command that trains it again, the option importances, the table of trials, the
validation curves of all trials on one plot (the "caviar" picture of
seeds/improving-your-rnn.md: many models trained side by side, seen at once), and Optuna's
own plots (optimization history, importances, parallel coordinates, slices).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..tune import api as tune_api
from ..tune import results
from . import html
from .run_report import REPORT_FILE, configuration, read_metrics
from .sections import Image, Section, figure_image, number

MAX_CURVES_LABELLED = 12  # a legend beyond this many trials is unreadable; the best is always named


def study_section(study, setup) -> Section:
    counts = ", ".join(f"{n} {state}" for state, n in results.state_counts(study).items()) or "none yet"
    sampler = setup.sampler_config()
    text = [f"Task {setup.task}; objective: {results.objective_name(setup)} ({setup.direction}).",
            f"Sampler {sampler.sampler} (seed {sampler.seed}, {sampler.startup_trials} start-up trials for tpe/gp), "
            f"pruner {sampler.prune}; target {setup.target} trials; trials so far: {counts}.",
            "Each trial's budget: " + (f"{setup.trial_time:g} s of training (train.max_time)." if setup.trial_time
                                       else "the base configuration's.")]
    table = [["option", "searched over"]] + [[p["key"], _describe(p)] for p in setup.space]
    return Section("Study", text=text, table=table)


def _describe(param: dict) -> str:
    """A space entry (``Space.to_json()``) in words."""
    if "choices" in param:
        return "one of " + ", ".join(json.dumps(c) for c in param["choices"])
    words = f"{param['low']:g} to {param['high']:g}"
    if param.get("step"):
        words += f" in steps of {param['step']:g}"
    return words + (", log scale" if param.get("log") else "")


def best_section(study, setup, out: Path) -> Section:
    best = results.best_trial(study)
    if best is None:
        return Section("Best trial", text=["No trial has completed yet."])
    keys = [p["key"] for p in setup.space]
    text = [f"Trial {best.number}: {results.objective_name(setup)} {best.value:.6g}.",
            f"Its run: {best.user_attrs.get('run_dir', '')} (rnnkit report / diagnose work on it like any run)."]
    table = [["option", "value"]] + [[k, number(best.params[k])] for k in keys if k in best.params]
    pre = []
    if (out / "best.toml").is_file():
        pre.append(f"rnnkit train --task {setup.task} --config {out / 'best.toml'} --out runs/best")
    imp = results.importances(study)
    if imp:
        text.append("Importances (fANOVA): " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()) + ".")
    return Section("Best trial", text=text, table=table, pre=pre)


def trials_section(study, setup) -> Section:
    keys = [p["key"] for p in setup.space]
    cols = ["number", "state", "value", "chosen_by", *keys, "last_step", "seconds", "error"]
    table = [["#" if c == "number" else c.replace("_", " ") for c in cols]]
    table += [[number(r[c]) if r[c] not in (None, "") else "" for c in cols] for r in results.rows(study, setup)]
    return Section("Trials", table=table)


def curves_image(study, setup) -> Image | None:
    """Validation loss against step of every trial that logged one, the best in bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = results.best_trial(study)
    curves = []
    for t in study.get_trials(deepcopy=False):
        run_dir = t.user_attrs.get("run_dir")
        if not run_dir:
            continue
        val = [(r["step"], r["val_loss"]) for r in read_metrics(Path(run_dir))
               if r.get("kind") == "val" and r.get("val_loss") is not None]
        if val:
            curves.append((t, val))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for t, val in curves:
        is_best = best is not None and t.number == best.number
        label = (f"trial {t.number} ({t.state.name.lower()})" + (", best" if is_best else "")
                 if is_best or len(curves) <= MAX_CURVES_LABELLED else None)
        ax.plot(*zip(*val), lw=2.5 if is_best else 1, alpha=1 if is_best else 0.6, marker=".", label=label,
                color="black" if is_best else None, zorder=3 if is_best else 2)
    ax.set_title(f"validation loss of every trial ({len(curves)})")
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_image(fig, "validation loss against step of every trial; the best trial in bold")


CAPTIONS = {"history.png": "optimization history: each trial's objective and the best so far",
            "importances.png": "hyperparameter importances (fANOVA)",
            "parallel.png": "parallel coordinates: each trial's options and objective",
            "slices.png": "slices: the objective against each option"}


def build_tune_report(out: str | Path) -> str:
    """The HTML page of the tune folder ``out`` (a string; see :func:`write_tune_report`)."""
    out = Path(out)
    study, setup = tune_api.open_study(out)
    curves = curves_image(study, setup)
    learning = Section("Learning curves of all trials",
                       text=[] if curves else ["No trial has logged a validation loss yet."],
                       images=[curves] if curves else [])
    optuna_plots = [figure_image(fig, CAPTIONS[name]) for name, fig in results.figures(study)]
    plots = Section("Optuna's plots", images=optuna_plots,
                    text=[] if optuna_plots else ["They need at least one complete trial (two for all but the history)."])
    base = configuration(setup.base)
    base.title = "Base configuration"
    sections = [study_section(study, setup), best_section(study, setup, out), learning, plots,
                trials_section(study, setup), base]
    return html.render(f"rnnkit tune report: {out.name}", f"study {study.study_name} in {out.resolve()}", sections)


def write_tune_report(out: str | Path, page_path: str | Path | None = None) -> Path:
    """Write the report of the tune folder ``out`` to ``page_path`` (default ``OUT/report.html``)
    atomically; returns the path."""
    page_path = Path(page_path) if page_path is not None else Path(out) / REPORT_FILE
    return html.write_page(page_path, lambda: build_tune_report(out))
