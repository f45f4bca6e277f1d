"""rnnkit: recurrent neural networks for modeling sequences.

Every task is a subpackage with the same verbs plus its own use verb: ``from rnnkit import
forecast`` (``forecast.train``, ``forecast.load``, ``forecast.forecast``, ``forecast.evaluate``), and
likewise ``translate`` (``translate.translate``), ``audio`` (``audio.classify``) and ``text``
(``text.sample``, ``text.fill``). ``rnnkit.load(RUN)`` loads a run of any task (its checkpoint's
``kind`` picks the task's ``load``). Language modeling is also at the top level (``rnnkit.train``,
``rnnkit.sample``, ``rnnkit.evaluate``, ``rnnkit.fill``, ``rnnkit.LMConfig``, ...).

Names are imported on first use (PEP 562), so ``import rnnkit`` loads neither torch nor any task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .core.errors import RnnkitError, TrainingDiverged
from .core.lazy import exports

__version__ = "0.2.0"

_WHERE = {
    "TrainConfig": ".core.trainer",
    **{name: ".text" for name in ("DataConfig", "LMConfig", "LMTrainConfig", "LoadedModel", "Metrics", "RNNConfig",
                                  "RNNLanguageModel", "SampleConfig", "TrainResult", "evaluate", "fill",
                                  "resume_config", "sample", "train")},
    **{task: "." + task for task in ("audio", "forecast", "text", "translate")},  # the task subpackages
}


def load(path: str | Path, device: str = "cpu", which: str = "best", **options: Any) -> Any:
    """A trained run of any task, ready to use, on ``device`` (``which``: its best or last checkpoint).

    The checkpoint's ``kind`` picks the task's ``load``: a language model's ``LoadedModel`` (``options``:
    ``mix``), a ``translate.Translator``, a ``forecast.ForecastRun`` or an ``audio.Classifier``.
    """
    from . import tasks

    return tasks.of_run(Path(path), which).api.load(path, device=device, which=which, **options)


__all__ = sorted([*_WHERE, "RnnkitError", "TrainingDiverged", "load"])
__getattr__, __dir__ = exports(__name__, _WHERE)
