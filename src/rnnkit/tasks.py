"""The task registry: from a task's name (``--task``) or a checkpoint's ``kind`` to its code.

Every task has a typed configuration with named sections (each section becomes a group of
``rnnkit train`` flags and a table of a config file), the options a resumed run may change,
and its Python API module (``train``, ``load``, ``evaluate``, and ``report_view``: its part
of ``rnnkit report``). Shared verbs (``train``,
``evaluate``) look the task up here; nothing in a task imports this module.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from .core import rundir
from .core.config import add_arguments, from_dict, merge
from .core.errors import RnnkitError
from .core.fileio import read_json

# Options a resumed run may change: the budget and how often it reports.
BUDGET = {"epochs", "steps", "max_time", "device", "precision", "patience", "eval_every", "log_every", "tensorboard"}
# (device and precision: a run moved to another machine may need others)


def resolve(ref: str) -> Any:
    """``"rnnkit.x.y:Name"`` -> that object, importing its module now (tasks load when first used)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name) if name else importlib.import_module(module)


@dataclass(frozen=True)
class TaskSpec:
    """A task's code, named by ``module:attribute`` references that are imported on first use, so the
    registry (and ``rnnkit --help``) loads no task, and no torch, until a verb needs one."""

    name: str  # the value of --task
    kind: str  # the ``kind`` its checkpoints record (its task module's KIND; a test checks they agree)
    config_ref: str  # the top-level config dataclass
    api_ref: str  # train(config, out, ...), load(path, ...), evaluate(loaded, split, run_dir, ...), report_view(loaded, run_dir)
    resumable: dict[str, set[str]]  # section -> options a resumed run may change
    unit: str  # what the progress line counts per second
    use_verb: str  # the verb that uses a trained model
    use_section: str  # the config section of the use verb's defaults (set in a config file, flags of the use verb)
    # rnnkit diagnose: measure(run_dir, reference: bool, device) -> diagnose.bias_variance.Measurement, errors in
    # the task's unit; ``baseline`` names the reference it computes itself ("" = none: the user passes --reference)
    measure_ref: str
    baseline: str
    # a saved run's configuration -> the same with options added since it was written set to what it did then
    upgrade_ref: str = ""
    # rnnkit export: the task's ``export``/``parity`` module (see rnnkit.export.exporter); "" = not exportable yet
    export_ref: str = ""
    # rnnkit serve: the task's ``serve`` module (VERBS, load, describe; see rnnkit.serve.verbs); "" = not served yet
    serve_ref: str = ""

    @property
    def config(self) -> type:
        return resolve(self.config_ref)

    @property
    def api(self) -> ModuleType:
        return resolve(self.api_ref)

    @property
    def measure(self) -> Callable[..., Any]:
        return resolve(self.measure_ref)

    @property
    def upgrade(self) -> Callable[[dict], dict]:
        return resolve(self.upgrade_ref) if self.upgrade_ref else (lambda saved: saved)

    @property
    def sections(self) -> dict[str, type]:
        """Config sections (``{name: dataclass}``) in declaration order that ``train`` has flags for."""
        hints = typing.get_type_hints(self.config)
        return {f.name: hints[f.name] for f in dataclasses.fields(self.config)
                if dataclasses.is_dataclass(hints[f.name]) and f.name != self.use_section}

    def add_arguments(self, parser) -> None:
        """Add a flag group per section to ``parser`` (``rnnkit train --task NAME`` and its kin)."""
        for section, cls in self.sections.items():
            add_arguments(parser, cls, section)


TASKS = {
    "lm": TaskSpec("lm", "language-model", "rnnkit.text.language_model:LMConfig", "rnnkit.text.api",
                   {"train": BUDGET, "mix": {"mix_order", "mix_max_tokens"}}, "tokens", "sample", "sample",
                   "rnnkit.text.diagnosis:measure", "the best Kneser-Ney n-gram", export_ref="rnnkit.text.export",
                    serve_ref="rnnkit.text.serve"),
    "translate": TaskSpec("translate", "translation", "rnnkit.translate.task:TranslateConfig", "rnnkit.translate.api",
                          {"train": BUDGET}, "target tokens", "translate", "search",
                          "rnnkit.translate.diagnosis:measure", "", export_ref="rnnkit.translate.export",
                    serve_ref="rnnkit.translate.serve"),
    "forecast": TaskSpec("forecast", "forecast", "rnnkit.forecast.task:ForecastConfig", "rnnkit.forecast.api",
                         {"train": BUDGET}, "target values", "forecast", "forecast",
                         "rnnkit.forecast.diagnosis:measure", "seasonal naive", export_ref="rnnkit.forecast.export",
                    serve_ref="rnnkit.forecast.serve"),
    "audio": TaskSpec("audio", "audio-classifier", "rnnkit.audio.task:AudioConfig", "rnnkit.audio.api",
                      {"train": BUDGET}, "clips", "classify", "classify", "rnnkit.audio.diagnosis:measure",
                      "a linear classifier on pooled log-mel features", "rnnkit.audio.task:upgrade",
                      export_ref="rnnkit.audio.export",
                    serve_ref="rnnkit.audio.serve"),
    "classify": TaskSpec("classify", "sequence-classifier", "rnnkit.classify.task:ClassifyConfig", "rnnkit.classify.api",
                         {"train": BUDGET}, "sequences", "predict", "predict", "rnnkit.classify.diagnosis:measure",
                         "TF-IDF + logistic regression (text) or 1-nearest neighbour (numeric)",
                         export_ref="rnnkit.classify.export",
                    serve_ref="rnnkit.classify.serve", upgrade_ref="rnnkit.classify.task:upgrade"),
    "tag": TaskSpec("tag", "sequence-tagger", "rnnkit.tag.task:TagConfig", "rnnkit.tag.api", {"train": BUDGET},
                    "tokens", "tag", "tag", "rnnkit.tag.diagnosis:measure",
                    "each word's most frequent training tag (entities: a per-token logistic regression)",
                    export_ref="rnnkit.tag.export",
                    serve_ref="rnnkit.tag.serve"),
}
DEFAULT = "lm"


def by_kind(kind: str) -> TaskSpec:
    for spec in TASKS.values():
        if spec.kind == kind:
            return spec
    raise RnnkitError(f"the checkpoint holds a {kind!r} model, which this rnnkit does not know; upgrade rnnkit")


def of_run(path: Path, which: str = "best") -> TaskSpec:
    """The task of a run directory or checkpoint file (read from the checkpoint's header only)."""
    from .core import checkpoint  # imports torch

    return by_kind(checkpoint.read_kind(rundir.checkpoint_path(Path(path), which)))


def resume_config(spec: TaskSpec, run_dir: Path, given: dict[str, Any]) -> Any:
    """The saved configuration of ``run_dir`` with the options in ``given`` applied.

    ``given`` may repeat the original command line: an option equal to its saved value is
    fine, a budget option (see ``spec.resumable``) may change, any other change is an error.
    """
    rundir.check_resumable(Path(run_dir))
    saved = spec.upgrade(read_json(Path(run_dir) / rundir.CONFIG_FILE))
    saved.pop("runtime", None)  # how the run executed (processes, device), not an option
    changed = []
    for section, values in given.items():
        if not isinstance(values, dict):
            if saved.get(section) != values:
                changed.append(f"--{section} ({saved.get(section)!r} -> {values!r})")
            continue
        for name, value in values.items():
            old = saved.get(section, {}).get(name)
            if old != value and name not in spec.resumable.get(section, set()):
                changed.append(f"--{name.replace('_', '-')} ({old!r} -> {value!r})")
    if changed:
        allowed = sorted(set().union(*spec.resumable.values()))
        raise RnnkitError(f"--resume continues the saved configuration, but {', '.join(changed)} cannot change "
                          f"(only {', '.join('--' + o.replace('_', '-') for o in allowed)} can); "
                          f"start a new run with another --out to change it")
    return from_dict(spec.config, merge(saved, given), "config")
