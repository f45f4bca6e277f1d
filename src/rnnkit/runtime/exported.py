"""The base of every task's exported model: the manifest, the folder's data and its ONNX sessions.

A task's runtime class (``rnnkit/<task>/runtime.py``) subclasses ``Exported`` and adds the task's
verbs (``sample``, ``translate``, ``tag``, ...) in numpy. Imports numpy and onnxruntime only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import RnnkitError


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise RnnkitError("running an export needs onnxruntime; pip install 'rnnkit[runtime]'") from None
    onnxruntime.set_default_logger_severity(3)  # errors only: no shape-inference chatter on stderr
    return onnxruntime


class Exported:
    """An export folder, loaded: ``manifest`` (dict), ``data`` (its ``data`` section: vocabularies, label
    names, scalers, ...), ``folder``, and ``run(graph, **inputs)`` that runs one of its ONNX graphs."""

    # Whether onnxruntime's pool threads busy-wait between calls. Off by default: the verbs' numpy work runs
    # between graph calls and spinning threads took its cores (2 threads on 2 cores: greedy translation at
    # batch 64 went from 685 to 1,510 sentences/s without it). A runtime whose calls come back to back (the
    # language model's one-token steps: 1,760 -> 2,240 characters/s with it) turns it on.
    spinning = False

    def __init__(self, folder: Path, manifest: dict, threads: int | None = None):
        self.folder = Path(folder)
        self.manifest = manifest
        self.data: dict[str, Any] = manifest.get("data", {})
        self.threads = threads
        self._sessions: dict[str, Any] = {}

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def metrics(self) -> dict:
        """The run's test metrics as recorded when it was exported ({} when the run had no test split)."""
        return self.manifest.get("metrics", {})

    def session(self, graph: str):
        """The onnxruntime session of ``graph`` (a name in the manifest's ``graphs``), made on first use."""
        if graph not in self._sessions:
            spec = self.manifest.get("graphs", {}).get(graph)
            if spec is None:
                raise RnnkitError(f"the export in {self.folder} has no {graph!r} graph; export the run again")
            ort = _onnxruntime()
            options = ort.SessionOptions()
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
            if self.threads:
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
            self._sessions[graph] = ort.InferenceSession(str(self.folder / spec["file"]), options,
                                                         providers=["CPUExecutionProvider"])
        return self._sessions[graph]

    def run(self, graph: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run ``graph`` on named inputs; its outputs by name."""
        session = self.session(graph)
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs)))

    def json(self, name: str) -> Any:
        """A JSON file of the export folder (checked against the manifest when the folder was loaded)."""
        return json.loads((self.folder / name).read_text(encoding="utf-8"))
