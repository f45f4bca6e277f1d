"""``rnnkit serve`` for sequence classifiers: ``POST /v1/models/NAME/predict``.

A request holds texts (text models) or numeric sequences ``[[value per channel] per step]`` (numeric
models); the inputs of a whole batch of requests are classified in one pass, as ``rnnkit predict``
classifies a file's, and handed back to each request with its ``top_k`` labels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from ..core.confusion import check_top_k, top_labels
from ..core.errors import RnnkitError
from ..serve.config import ServeConfig
from ..serve.verbs import Body, Verb, check_items, check_text, config_of, load_backend

Sequence = list[list[float]]  # (steps, channels)


class PredictBody(Body):
    inputs: list[str] | list[Sequence] = Field(
        description="texts (text models), or sequences [[value per channel] per step] (numeric models)")
    top_k: int | None = Field(None, ge=1, le=1000, description="labels per input, most likely first; default: the run's")

    @field_validator("inputs", mode="before")
    @classmethod
    def _checked(cls, inputs: Any, info: ValidationInfo) -> Any:
        config = config_of(info)
        if not isinstance(inputs, list):
            raise ValueError("expected a list of texts or of sequences [[value per channel] per step]")
        check_items(inputs, "the list", config)
        texts = isinstance(inputs[0], str)
        for i, x in enumerate(inputs):
            if isinstance(x, str) != texts:
                raise ValueError(f"input {i} is not a {'text' if texts else 'sequence'} like input 0; "
                                 f"send only texts or only sequences")
            if texts:
                check_text(x, f"input {i}", config)
            else:
                check_sequence(x, f"input {i}", config)
        return inputs


def check_sequence(x: Any, what: str, config: ServeConfig) -> None:
    """A ValueError unless ``x`` is 1..max_chars steps of the same number (at least one) of finite numbers."""
    if not isinstance(x, list) or not x:
        raise ValueError(f"{what} is not a non-empty list of steps; send [[value per channel] per step]")
    if len(x) > config.max_chars:
        raise ValueError(f"{what} has {len(x)} steps; the limit is {config.max_chars} (--max-chars)")
    channels = len(x[0]) if isinstance(x[0], list) else 0
    for t, step in enumerate(x):
        if not isinstance(step, list) or len(step) != channels or not channels:
            raise ValueError(f"{what}, step {t} is not a list of {channels or 'some'} numbers (one per channel, "
                             f"as in step 0); send [[value per channel] per step]")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in step):
            raise ValueError(f"{what}, step {t} holds a value that is not a finite number")


class TorchClassifier:
    """A PyTorch sequence classifier with the export runtime's interface (``kind``, ``labels``, ``top_k``,
    ``encoder``, ``probabilities(inputs)``)."""

    def __init__(self, clf):
        from . import api

        self.clf, self.api = clf, api
        self.kind: str = clf.kind
        self.labels: list[str] = clf.labels
        self.top_k: int = clf.config.predict.top_k
        self.encoder = clf.encoder

    def probabilities(self, inputs: list) -> np.ndarray:
        """``(N, classes)`` class probabilities of texts or ``(T, C)`` arrays."""
        return self.api.probabilities(self.clf, inputs)


def load(run: Path, backend: str, threads: int):
    """The run's ONNX export (``--backend onnx``: torch is never imported) or its PyTorch model."""
    return load_backend(run, backend, threads, _load_torch)


def _load_torch(run: Path) -> TorchClassifier:
    from . import api

    return TorchClassifier(api.load(run))


def channels(model) -> int | None:
    """The channels a numeric model reads (None for a text model)."""
    return None if model.kind == "text" else len(model.encoder.mean)


def describe(model) -> dict:
    return {"defaults": {"top_k": model.top_k}, "labels": list(model.labels), "input": model.kind,
            "channels": channels(model)}


def _inputs(model, body: PredictBody) -> list:
    """The body's inputs as the model takes them (texts, or ``(T, C)`` float64 arrays); RnnkitError if the kind
    or the channel count is not the model's."""
    texts = isinstance(body.inputs[0], str)
    if texts != (model.kind == "text"):
        raise RnnkitError(f"field 'inputs': this model classifies {model.kind} inputs; send "
                          + ("texts (strings)" if model.kind == "text" else "sequences [[value per channel] per step]"))
    if texts:
        return list(body.inputs)
    want = channels(model)
    for i, x in enumerate(body.inputs):
        if len(x[0]) != want:
            raise RnnkitError(f"field 'inputs.{i}': each step has {len(x[0])} values; the model reads {want} "
                              f"channels, send {want} values per step")
    return [np.asarray(x, dtype=np.float64) for x in body.inputs]


def predict(model, requests: list[PredictBody]) -> list[dict]:
    """One pass over every input of ``requests``; one answer per request, each input its ``top_k`` labels."""
    mine = [_inputs(model, r) for r in requests]
    probs = model.probabilities([x for inputs in mine for x in inputs])
    answers, at = [], 0
    for r, inputs in zip(requests, mine):
        k = check_top_k(r.top_k or model.top_k, len(model.labels))
        tops = top_labels(probs[at:at + len(inputs)], model.labels, k)
        answers.append({"results": [{"label": top[0][0], "probability": top[0][1],
                                     "top": [{"label": label, "probability": p} for label, p in top]}
                                    for top in tops]})
        at += len(inputs)
    return answers


VERBS = {"predict": Verb("classify texts or numeric sequences (each input its top-k labels)", PredictBody, predict)}
