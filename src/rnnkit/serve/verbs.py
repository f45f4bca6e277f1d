"""What a task offers ``rnnkit serve``: its verbs (one POST endpoint each) and how a run is loaded.

A task's ``serve`` module (``TaskSpec.serve_ref``, e.g. ``rnnkit.translate.serve``) holds

* ``VERBS``: ``{name: Verb}``, each with the pydantic schema of its JSON body (validated before the
  request is queued, with the server's limits in the validation context) and ``run(model, requests)``,
  which answers a whole batch of requests in one pass;
* ``load(run, backend, threads) -> model``: the run ready for ``run`` (PyTorch, or its ONNX export);
* ``describe(model) -> dict``: what ``GET /v1/models`` shows beside the run's options and metrics
  (:func:`summary`): the defaults a request may change, labels, what the page needs to draw.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Hashable

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

from ..core.errors import RnnkitError
from .config import ServeConfig


class Body(BaseModel):
    """A request body: unknown fields and wrong JSON types are errors (422), never guessed at."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _no_key(request: Any) -> Hashable:
    return None


@dataclass(frozen=True)
class Verb:
    """One endpoint, ``POST /v1/models/{name}/{verb}``."""

    summary: str  # one line for the OpenAPI docs
    request: type[BaseModel]  # the body's schema; an ``upload`` verb gets the query's fields and ``data`` (bytes)
    run: Callable[[Any, list[Any]], list[dict]]  # (model, requests) -> one JSON-able answer per request
    key: Callable[[Any], Hashable] = _no_key  # requests share a pass only when their keys are equal
    stream: Callable[[Any, Any, Callable[[str], None]], dict] | None = None  # (model, request, emit) -> final answer
    upload: str = ""  # the media type of a raw-body upload (``audio/wav``) instead of a JSON body


def config_of(info: ValidationInfo) -> ServeConfig:
    """The server's configuration, which validators read their limits from (a default one outside a server)."""
    return (info.context or {}).get("config") or ServeConfig()


def check_text(text: str, what: str, config: ServeConfig) -> str:
    """A non-empty text within ``--max-chars``, or a ValueError naming the limit."""
    if not text.strip():
        raise ValueError(f"{what} is empty")
    if len(text) > config.max_chars:
        raise ValueError(f"{what} has {len(text)} characters; the limit is {config.max_chars} (--max-chars)")
    return text


def check_items(items: list, what: str, config: ServeConfig) -> list:
    if not items:
        raise ValueError(f"{what} is empty; send at least one")
    if len(items) > config.max_items:
        raise ValueError(f"{what} has {len(items)} items; the limit is {config.max_items} per request (--max-items)")
    return items


def error_message(error: ValidationError) -> str:
    """A pydantic error as one line naming the field: ``field 'sentences.0': is empty``."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "json_invalid":
        return f"the body is not valid JSON ({first.get('ctx', {}).get('error', message)}); send a JSON object"
    if first["type"] == "model_type" or not where:
        return f"the body must be a JSON object with the verb's fields ({message})"
    more = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    return f"field '{where}': {message}{more}"


def parse(verb: Verb, raw: bytes, query: dict[str, str], config: ServeConfig) -> Any:
    """The validated request of ``verb`` from a body (and, for an upload, the query string); ValidationError if bad."""
    if verb.upload:
        return verb.request.model_validate({**query, "data": raw}, context={"config": config}, strict=False)
    return verb.request.model_validate_json(raw, context={"config": config})


@dataclass
class Served:
    """One model the server serves: its name in the URLs, its run, its task's serve module; ``model`` once loaded."""

    name: str
    run: Path
    task: str  # the task's --task name
    backend: str
    module: ModuleType
    model: Any = None
    info: dict = field(default_factory=dict)

    @property
    def verbs(self) -> dict[str, Verb]:
        return self.module.VERBS

    def load(self, threads: int) -> None:
        """Load the run (in a worker thread: it may take seconds)."""
        self.model = self.module.load(self.run, self.backend, threads)
        self.info = {"name": self.name, "task": self.task, "backend": self.backend, "verbs": list(self.verbs),
                     **summary(self.run, self.backend), **self.module.describe(self.model)}


def served(name: str, run: Path, backend: str) -> Served:
    """The model ``name`` for ``run``, its task read from its checkpoint or export manifest (nothing loaded yet)."""
    from .. import tasks

    if not Path(run).is_dir():
        raise RnnkitError(f"{name}={run}: no such run directory; pass a directory written by rnnkit train")
    if backend == "onnx":
        from ..runtime import default_folder, manifest

        folder = default_folder(run)
        if not (folder / manifest.MANIFEST).is_file():
            raise RnnkitError(f"no export at {folder}; run rnnkit export {run} first, or serve with --backend torch")
        spec = tasks.by_kind(manifest.read(folder).get("task", ""))
    else:
        spec = tasks.of_run(Path(run))
    if not spec.serve_ref:
        raise RnnkitError(f"{run} is a {spec.name} run, which rnnkit serve cannot serve yet")
    return Served(name, Path(run), spec.name, backend, importlib.import_module(spec.serve_ref))


def named_runs(items: list[str]) -> dict[str, Path]:
    """``["runs/fr", "de=runs/de"]`` -> ``{"fr": runs/fr, "de": runs/de}``: a bare run is named after its folder."""
    out: dict[str, Path] = {}
    for item in items:
        name, sep, run = item.partition("=")
        name, run = (name, run) if sep else (Path(item).name, item)
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise RnnkitError(f"{item!r}: a model name may hold letters, digits, '-', '_' and '.'; "
                              f"name it with NAME=RUN")
        if name in out:
            raise RnnkitError(f"two models are named {name!r}; name them apart with NAME=RUN")
        out[name] = Path(run)
    return out


def load_backend(run: Path, backend: str, threads: int, load_torch: Callable[[Path], Any]) -> Any:
    """``run``'s ONNX export (``--backend onnx``) or ``load_torch(run)`` on the CPU, with ``threads`` threads (0: default)."""
    if backend == "onnx":
        from ..runtime import for_run

        return for_run(run, threads or None)
    import torch

    if threads:
        torch.set_num_threads(threads)
    return load_torch(run)


def summary(run: Path, backend: str) -> dict:
    """What ``GET /v1/models`` says of a run: its model options and its metrics (the test metrics stored in its
    export where there is one, else the best validation loss the training logged)."""
    from ..core import rundir
    from ..core.fileio import read_json
    from ..runtime import default_folder, manifest

    config = read_json(run / rundir.CONFIG_FILE) if (run / rundir.CONFIG_FILE).is_file() else {}
    options = {k: v for section in ("model", "rnn") if isinstance(config.get(section), dict)
               for k, v in config[section].items()}
    exported = default_folder(run) / manifest.MANIFEST
    metrics: dict = read_json(exported).get("metrics", {}) if exported.is_file() else {}
    val = [r for r in rundir.read_metrics(run) if r.get("kind") == "val"]
    if not metrics and val:
        metrics = {"validation": {"best_val_loss": val[-1].get("best_val"), "steps": val[-1].get("step")}}
    return {"options": options, "metrics": metrics}
