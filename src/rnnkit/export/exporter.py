"""``rnnkit export RUN --out DIR``: a run's model as ONNX graphs plus the data to use them, checked.

Every task that exports has a module ``rnnkit/<task>/export.py`` (named by the registry's
``export_ref``) with two functions::

    export(loaded, draft) -> None        # write the graphs (draft.graph) and data (draft.data, draft.file)
    parity(loaded, exported) -> dict     # case -> max |runtime - PyTorch| on generated inputs
                                         # (two or more lengths and batch sizes)

and optionally ``quantized_cost(loaded, exported_fp32, exported_int8, run_dir) -> dict`` (the validation
metrics of both). The folder is built under a temporary name beside ``--out`` and renamed into place
only after the runtime, loading it as a user would, agrees with the PyTorch model within the tolerance.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import __version__, tasks
from ..core import rundir
from ..core.errors import RnnkitError
from ..core.fileio import sha256
from ..runtime import manifest as manifest_file
from . import graph as graphs

TOLERANCE = 1e-4  # max |runtime - PyTorch| allowed on log-probabilities and outputs in fp32


@dataclass
class ExportConfig:
    format: str = "onnx"
    opset: int = graphs.DEFAULT_OPSET
    quantize: str = ""  # "" or "int8": onnxruntime's dynamic int8 quantization of the weights
    overwrite: bool = False
    which: str = "best"  # the run's best or last checkpoint
    tolerance: float = TOLERANCE


@dataclass
class Draft:
    """The export folder while it is being written: graphs, files and the manifest's ``data``."""

    folder: Path
    config: ExportConfig
    graphs: dict[str, dict] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # JSON: vocabularies, label names, scalers, options
    metrics: dict[str, Any] = field(default_factory=dict)  # the run's test metrics, when it has them

    def graph(self, name: str, module: torch.nn.Module, args: tuple[torch.Tensor, ...], inputs: list[str],
              outputs: list[str], dynamic: dict[str, dict[int, str]]) -> None:
        """Export ``module(*args)`` as ``name.onnx`` (see ``graph.to_onnx`` for the arguments)."""
        self.graphs[name] = graphs.to_onnx(module, args, self.folder / f"{name}.onnx", inputs, outputs, dynamic,
                                           self.config.opset)

    def file(self, name: str, content: bytes | str | Path) -> None:
        """Put a file into the folder: bytes, text, or a copy of an existing file (e.g. a SentencePiece model)."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _target(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise RnnkitError(f"{out} already exists; pass --overwrite to replace it or another --out")
    if out.exists() and not (out / manifest_file.MANIFEST).is_file():
        raise RnnkitError(f"{out} exists and is not an rnnkit export, so --overwrite will not replace it; "
                          f"pass another --out")


def export(run: str | Path, out: str | Path, config: ExportConfig | None = None) -> dict:
    """Export the run in ``run`` to the folder ``out``; the manifest written (a dict)."""
    config = config or ExportConfig()
    run, out = Path(run), Path(out)
    if config.format != "onnx":
        raise RnnkitError(f"--format {config.format} is not supported; pass --format onnx")
    if config.quantize not in ("", "int8"):
        raise RnnkitError(f"--quantize {config.quantize} is not supported; pass --quantize int8 or leave it out")
    graphs.check_opset(config.opset)
    _target(out, config.overwrite)
    spec = tasks.of_run(run, config.which)
    if not spec.export_ref:
        raise RnnkitError(f"rnnkit export does not know {spec.kind} runs yet; upgrade rnnkit")
    module = tasks.resolve(spec.export_ref)
    loaded = spec.api.load(run, device="cpu", which=config.which)
    out.parent.mkdir(parents=True, exist_ok=True)
    draft = Draft(Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)), config)
    try:
        written = _build(module, loaded, draft, spec, run)
        _replace(draft.folder, out)
    except BaseException:
        shutil.rmtree(draft.folder, ignore_errors=True)
        raise
    return written


def _build(module: Any, loaded: Any, draft: Draft, spec: tasks.TaskSpec, run: Path) -> dict:
    from .. import runtime

    module.export(loaded, draft)
    checkpoint = rundir.checkpoint_path(run, draft.config.which)
    manifest = {"task": spec.kind, "rnnkit_version": __version__, "opset": draft.config.opset,
                "torch_version": torch.__version__, "graphs": draft.graphs, "data": draft.data,
                "metrics": draft.metrics, "source": {"run": str(run.resolve()), "checkpoint": checkpoint.name,
                           "sha256": sha256(checkpoint)}}
    manifest_file.write(draft.folder, manifest)
    diffs = module.parity(loaded, runtime.load(draft.folder))
    worst = max(diffs.values(), default=0.0)
    manifest["parity"] = {"max_abs_diff": worst, "tolerance": draft.config.tolerance, "cases": diffs}
    if not worst <= draft.config.tolerance:  # also catches NaN
        raise RnnkitError(f"the export disagrees with the PyTorch model (max |difference| {worst:.3g} > "
                          f"{draft.config.tolerance:g}), so it was not written; report it with the run's config.json")
    if draft.config.quantize:
        from .quantize import quantize

        manifest["quantized"] = quantize(module, loaded, draft, run)
    manifest_file.write(draft.folder, manifest)
    return manifest


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished folder to ``out``; an old export there is removed only after the new one is whole."""
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
