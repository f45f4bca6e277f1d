"""What a study shows and leaves behind: the live table, ``trials.csv``, ``best.toml``, plots.

``best.toml`` is the winning trial's configuration as a config file (the base configuration with
the trial's values and budget), so ``rnnkit train --config best.toml --out RUN`` trains the
winner again. The plots are Optuna's own matplotlib visualizations.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes, save_figure
from .study import Setup

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
PLOTS = {
    "history.png": "plot_optimization_history",
    "importances.png": "plot_param_importances",
    "parallel.png": "plot_parallel_coordinate",
    "slices.png": "plot_slice",
}
# fANOVA (the importances and their plot) fits scikit-learn's random forest; rnnkit does not require
# it (the extra rnnkit[tune] brings it), so without it a study leaves the importances out and says so.
NO_FANOVA = ("importances (fANOVA) left out: they need scikit-learn "
             "(pip install scikit-learn, or install rnnkit[tune])")


def how_chosen(t: FrozenTrial) -> str:
    """hand (``--try``), retry (of a trial whose worker died) or the sampler."""
    if "surplus" in t.user_attrs:
        return "surplus"
    if "repeat_of" in t.user_attrs:
        return f"repeat of {t.user_attrs['repeat_of']}"
    if "failed_trial" in t.system_attrs:
        return f"retry of {t.system_attrs['failed_trial']}"
    return "hand" if t.user_attrs.get("hand_chosen") else "sampler"


def row(t: FrozenTrial, keys: list[str]) -> dict[str, Any]:
    last = max(t.intermediate_values) if t.intermediate_values else None
    seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
    return {"number": t.number, "state": t.state.name.lower(), "value": t.value, "chosen_by": how_chosen(t),
            **{k: t.params.get(k) for k in keys}, "last_step": last,
            "last_val_loss": t.intermediate_values[last] if last is not None else None,
            "seconds": round(seconds, 2) if seconds is not None else None,
            "run_dir": t.user_attrs.get("run_dir", ""), "worker": t.user_attrs.get("worker", ""),
            "error": t.user_attrs.get("error", t.user_attrs.get("surplus", ""))}


def rows(study: optuna.Study, setup: Setup) -> list[dict[str, Any]]:
    keys = [p["key"] for p in setup.space]
    return [row(t, keys) for t in study.get_trials(deepcopy=False) if t.state in FINISHED or t.state == TrialState.RUNNING]


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state; surplus trials (stood down without training, see ``study.surplus``) and
    repeats (a sampler's values tried before, see ``study.repeat_of``) apart."""
    names = ["surplus" if "surplus" in t.user_attrs else "repeat" if "repeat_of" in t.user_attrs
             else t.state.name.lower() for t in study.get_trials(deepcopy=False)]
    return {n: names.count(n) for n in [*(s.name.lower() for s in TrialState), "surplus", "repeat"] if names.count(n)}


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    return study.best_trial if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) else None


def write_csv(path: Path, table: list[dict]) -> None:
    buf = io.StringIO()
    if table:
        w = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(table)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def _toml_value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x, where) for x in v) + "]"
    raise RnnkitError(f"best.toml: option {where} is {v!r}, which TOML cannot hold; remove it from the base config")


def to_toml(data: dict, prefix: str = "") -> str:
    """A config dict (scalars, then tables of options) as TOML."""
    lines = [f"{k} = {_toml_value(v, prefix + k)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"\n[{prefix}{k}]")
            lines.append(to_toml(v, f"{prefix}{k}.").strip("\n"))
    return "\n".join(line for line in lines if line) + "\n"


def best_config(setup: Setup, t: FrozenTrial) -> dict:
    return setup.config_dict(t.params)


def write_best(path: Path, setup: Setup, t: FrozenTrial) -> None:
    head = (f"# rnnkit tune: the best trial ({t.number}, {objective_name(setup)} {t.value:.6g}) of task {setup.task}\n"
            f"# train it: rnnkit train --task {setup.task} --config {path.name} --out runs/best\n")
    atomic_write_bytes(path, (head + to_toml(best_config(setup, t))).encode("utf-8"))


def objective_name(setup: Setup) -> str:
    """What a study's values are: a task metric, or the trainer's validation score, which is the error
    under ``train.select = "error"`` (the tagger's default) and the loss otherwise."""
    if setup.metric != "val_loss":
        return f"validation {setup.metric}"
    if any(p["key"] == "train.select" for p in setup.space):
        return "best validation score (loss or error, as each trial's train.select)"
    select = getattr(from_dict(setup.spec.config, setup.base, "base config").train, "select", "loss")
    return "best validation error" if select == "error" else "best validation loss"


def figures(study: optuna.Study) -> Iterator[tuple[str, Any]]:
    """``(file name, matplotlib figure)`` of each of Optuna's plots that the study has enough
    finished trials for (the caller saves or embeds, then closes, each figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from optuna.visualization import matplotlib as vis

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for name, fn in PLOTS.items():
        if len(complete) < (2 if name != "history.png" else 1) or (name == "importances.png" and not has_fanova()):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # the importances plot with importances()'s seeded evaluator, so both give the same numbers
                kw = {"evaluator": _fanova()} if name == "importances.png" else {}
                ax = getattr(vis, fn)(study, **kw)
            except (ValueError, RuntimeError):  # e.g. importances when no parameter varied
                continue
        fig = np.atleast_1d(ax).flat[0].figure
        fig.set_size_inches(max(fig.get_size_inches()[0], 8), max(fig.get_size_inches()[1], 5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tight_layout warns about the colour bar of parallel coordinates
            fig.tight_layout()
        yield name, fig


def write_plots(folder: Path, study: optuna.Study) -> list[Path]:
    """Optuna's matplotlib plots of the study as PNG files; those that need more finished trials are left out."""
    written = []
    for name, fig in figures(study):
        save_figure(fig, folder / name)
        written.append(folder / name)
    return written


def has_fanova() -> bool:
    """Whether Optuna's fANOVA evaluator can run (scikit-learn imports)."""
    try:
        import sklearn.ensemble  # noqa: F401
    except ImportError:
        return False
    return True


def _fanova() -> optuna.importance.FanovaImportanceEvaluator:
    return optuna.importance.FanovaImportanceEvaluator(seed=0)  # seeded: the same importances every time


def importances(study: optuna.Study) -> dict[str, float] | None:
    """fANOVA importance of each option (Optuna's default evaluator), or None with too few trials
    or without scikit-learn (see ``NO_FANOVA``)."""
    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2 or not has_fanova():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return optuna.importance.get_param_importances(study, evaluator=_fanova())
        except (ValueError, RuntimeError):
            return None


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def rich_table(table: list[dict], keys: list[str], title: str = "") -> Table:
    t = Table(title=title or None)
    for col in ("number", "state", "value", "chosen_by", *keys, "last_step", "seconds"):
        t.add_column("#" if col == "number" else col, justify="right" if col not in ("state", "chosen_by") else "left")
    for r in table:
        t.add_row(*(_fmt(r[c]) for c in ("number", "state", "value", "chosen_by", *keys, "last_step", "seconds")))
    return t


def describe(study: optuna.Study, setup: Setup) -> str:
    """The study as text: every trial, the best one, importances (``rnnkit tune --show``)."""
    keys = [p["key"] for p in setup.space]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(rich_table(rows(study, setup), keys,
                             f"study {study.study_name}: task {setup.task}, {objective_name(setup)} ({setup.direction})"))
    counts = ", ".join(f"{n} {state}" for state, n in state_counts(study).items())
    lines = [console.file.getvalue().rstrip(), f"trials: {counts or 'none'}; target {setup.target}"]
    best = best_trial(study)
    if best is None:
        lines.append("best: no complete trial yet")
    else:
        params = " ".join(f"{k}={best.params[k]}" for k in keys if k in best.params)
        lines.append(f"best: trial {best.number}, {objective_name(setup)} {best.value:.6g}: {params}")
    imp = importances(study)
    if imp:
        lines.append("importances (fANOVA): " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()))
    elif not has_fanova():
        lines.append(NO_FANOVA)
    else:
        lines.append("importances: need at least 2 complete trials that vary an option")
    return "\n".join(lines)


class TrialTable:
    """The live table of finished trials: redrawn on a terminal, one plain line per trial elsewhere."""

    def __init__(self, setup: Setup, stream=None):
        self.setup = setup
        self.keys = [p["key"] for p in setup.space]
        self.console = Console(file=stream or sys.stderr)
        self.live: Live | None = None
        self.shown: set[int] = set()

    def __enter__(self) -> "TrialTable":
        if self.console.is_terminal:
            self.live = Live(rich_table([], self.keys), console=self.console, refresh_per_second=2)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, study: optuna.Study) -> None:
        finished = [t for t in study.get_trials(deepcopy=False) if t.state in FINISHED]
        table = [row(t, self.keys) for t in finished]
        if self.live is not None:
            self.live.update(rich_table(table[-30:], self.keys))
            return
        for r in table:
            if r["number"] in self.shown:
                continue
            self.shown.add(r["number"])
            params = " ".join(f"{k}={_fmt(r[k])}" for k in self.keys)
            extra = f" ({r['error']})" if r["error"] else (f" at step {r['last_step']}" if r["state"] == "pruned" else "")
            self.console.print(f"trial {r['number']:>3} {r['state']}{extra}: value {_fmt(r['value'])}  {params}  "
                               f"({r['chosen_by']}, {_fmt(r['seconds'])} s)", highlight=False, markup=False, soft_wrap=True)
