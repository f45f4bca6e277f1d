"""``rnnkit serve`` for audio classifiers: ``POST /v1/models/NAME/classify`` with a WAV file as the body.

The upload is decoded (and refused with a 422 naming the field ``data``) while the request is validated;
each batch of clips is resampled to the model's rate and classified in one pass, as ``rnnkit classify``
classifies files (the ONNX export with numpy's resampler, PyTorch with torch's).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator

from ..core.confusion import check_top_k, top_labels
from ..core.errors import RnnkitError
from ..serve.verbs import Body, Verb, config_of, load_backend
from .wav import MIN_SECONDS, SUPPORTED_SUBTYPES, check_audible, decode_wav

SEND = f"send a WAV file ({', '.join(SUPPORTED_SUBTYPES.values())}) as the request body, Content-Type audio/wav"
NAME = "the upload"


class Upload:
    """A decoded upload: a mono float32 wave ``(samples,)`` at ``rate`` Hz (the file's own rate)."""

    def __init__(self, wave: np.ndarray, rate: int):
        self.wave, self.rate = wave, rate

    @property
    def seconds(self) -> float:
        return len(self.wave) / self.rate


class ClassifyBody(Body):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    data: Annotated[Upload, WithJsonSchema({"type": "string", "format": "binary"})] = Field(
        description="the WAV file: the request's raw body")
    top_k: int | None = Field(None, ge=1, le=1000, description="labels to return, most likely first "
                                                               "(query ?top_k=K); default: the run's")

    @field_validator("data", mode="before")
    @classmethod
    def _decoded(cls, data: object, info: ValidationInfo) -> Upload:
        if not isinstance(data, bytes):
            raise ValueError(f"expected the WAV file's bytes; {SEND}")
        clip = decode(data)
        limit = config_of(info).max_audio_s
        if clip.seconds > limit:
            raise ValueError(f"the clip is {clip.seconds:.2f} s long; the limit is {limit:g} s (--max-audio-s)")
        return clip


def decode(data: bytes) -> Upload:
    """The clip of a WAV file's bytes, checked as ``rnnkit classify`` checks files; ValueError if unusable."""
    if not data:
        raise ValueError(f"the body is empty; {SEND}")
    try:
        wave, rate = decode_wav(io.BytesIO(data), NAME, SEND, SEND)
        if len(wave) < max(1, round(MIN_SECONDS * rate)):
            raise ValueError(f"the clip is {len(wave) / rate * 1000:.0f} ms long, under {MIN_SECONDS * 1000:.0f} ms; "
                             f"send a longer clip")
        check_audible(wave, Path(NAME), NAME, "send a clip with sound in it")
    except RnnkitError as e:
        raise ValueError(str(e)) from None
    return Upload(wave, rate)


class TorchAudioClassifier:
    """A PyTorch audio classifier with the export runtime's interface (``labels``, ``sample_rate``, ``defaults``,
    ``at_rate(wave, rate)``, ``log_probabilities(waves)``)."""

    def __init__(self, clf):
        from . import api

        self.clf, self.api = clf, api
        self.labels: list[str] = clf.labels
        self.sample_rate: int = clf.config.features.sample_rate
        self.defaults = {"top_k": clf.config.classify.top_k, "batch_size": clf.config.classify.batch_size}

    def at_rate(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.api.at_rate(self.clf, wave, sample_rate)

    def log_probabilities(self, waves: list[np.ndarray]) -> np.ndarray:
        """``(N, classes)`` log-probabilities of waves at :attr:`sample_rate`."""
        with np.errstate(divide="ignore"):
            return np.log(self.api.probabilities(self.clf, waves))


def load(run: Path, backend: str, threads: int):
    """The run's ONNX export (``--backend onnx``: torch is never imported) or its PyTorch model."""
    return load_backend(run, backend, threads, _load_torch)


def _load_torch(run: Path) -> TorchAudioClassifier:
    from . import api

    return TorchAudioClassifier(api.load(run))


def describe(model) -> dict:
    return {"defaults": {"top_k": model.defaults["top_k"]}, "labels": list(model.labels),
            "sample_rate": model.sample_rate}


def classify(model, requests: list[ClassifyBody]) -> list[dict]:
    """One pass over every clip of ``requests`` (resampled to the model's rate); each its ``top_k`` labels."""
    probs = np.exp(model.log_probabilities([_at_rate(model, r.data) for r in requests]))
    answers = []
    for r, row in zip(requests, probs):
        k = check_top_k(r.top_k or model.defaults["top_k"], len(model.labels))
        [best] = top_labels(row[None], model.labels, k)
        answers.append({"labels": [{"label": label, "probability": p} for label, p in best]})
    return answers


def _at_rate(model, clip: Upload) -> np.ndarray:
    """The clip at the model's rate; a rate that cannot be converted is an error naming the field."""
    try:
        return model.at_rate(clip.wave, clip.rate)
    except RnnkitError as e:
        raise RnnkitError(f"field 'data': {e}") from None


VERBS = {"classify": Verb("classify a WAV file (the raw request body, Content-Type audio/wav; ?top_k=K)",
                          ClassifyBody, classify, upload="audio/wav")}
