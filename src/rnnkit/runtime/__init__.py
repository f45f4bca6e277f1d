"""Run an exported model without PyTorch: ``rnnkit.runtime.load(DIR)``.

``rnnkit export RUN --out DIR`` writes ONNX graphs, the data they need and a ``manifest.json`` with a
SHA-256 per file. ``load`` checks every checksum (a changed folder is never run), then returns the
task's runtime object with the task's verbs, computed with numpy and onnxruntime alone::

    from rnnkit import runtime
    model = runtime.load("exports/sst2")
    print(model.predict(["a gripping, funny film"]))

This package imports numpy, onnxruntime (and sentencepiece for subword models), never torch; it
works where torch is not installed (``pip install 'rnnkit[runtime]'``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..core.errors import RnnkitError
from ..core.fileio import sha256
from . import manifest as _manifest
from .exported import Exported

# the manifest's ``task`` (a checkpoint kind) -> its runtime class, imported on first use
RUNTIMES = {
    "language-model": "rnnkit.text.runtime:ExportedLanguageModel",
    "translation": "rnnkit.translate.runtime:ExportedTranslator",
    "forecast": "rnnkit.forecast.runtime:ExportedForecaster",
    "audio-classifier": "rnnkit.audio.runtime:ExportedAudioClassifier",
    "sequence-classifier": "rnnkit.classify.runtime:ExportedClassifier",
    "sequence-tagger": "rnnkit.tag.runtime:ExportedTagger",
}


FOLDER = "onnx"  # rnnkit export RUN writes RUN/onnx unless --out says otherwise; --backend onnx reads it


def default_folder(run: str | Path) -> Path:
    """Where ``rnnkit export RUN`` puts the export by default, and where ``--backend onnx`` looks: ``RUN/onnx``."""
    return Path(run) / FOLDER


def for_run(run: str | Path, threads: int | None = None) -> Exported:
    """The export of ``run`` in its default folder (``--backend onnx``); a one-line error when there is none."""
    folder = default_folder(run)
    if not (folder / _manifest.MANIFEST).is_file():
        raise RnnkitError(f"no export at {folder}; run rnnkit export {run} first")
    exported = load(folder, threads)
    source = exported.manifest.get("source", {})
    checkpoint = Path(run) / source.get("checkpoint", "")
    if source.get("sha256") and checkpoint.is_file() and sha256(checkpoint) != source["sha256"]:
        raise RnnkitError(f"the export in {folder} was made from an earlier {checkpoint.name}; "
                          f"run rnnkit export {run} --overwrite")
    return exported


def load(folder: str | Path, threads: int | None = None) -> Exported:
    """The exported model in ``folder``, checked against its manifest (``threads``: onnxruntime's intra-op
    threads, default: its own choice)."""
    folder = Path(folder)
    manifest = _manifest.read(folder)
    ref = RUNTIMES.get(manifest.get("task", ""))
    if ref is None:
        raise RnnkitError(f"{folder} holds a {manifest.get('task')!r} export, which this rnnkit cannot run; "
                          f"upgrade rnnkit")
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)(folder, manifest, threads)


__all__ = ["Exported", "FOLDER", "RUNTIMES", "default_folder", "for_run", "load"]
