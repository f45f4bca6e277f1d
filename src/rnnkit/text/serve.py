"""``rnnkit serve`` for language models: ``POST /v1/models/NAME/sample`` and ``.../fill``.

``sample`` generates text after a prime (``"stream": true``: server-sent events, one per generated token);
``fill`` ranks the tokens for the one blank ``___`` of a text (runs trained with ``--objective infill``).
Both backends give the same interface (:class:`TorchLanguageModel` wraps :mod:`rnnkit.text.api` as the
export's ``ExportedLanguageModel``): ``defaults``, ``vocab``, ``generate(cfg, on_token)``, ``fill(text, top_k)``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from pydantic import Field, ValidationInfo, field_validator

from ..serve.verbs import Body, Verb, check_text, config_of, load_backend
from .blanks import BLANK
from .sampling import SampleConfig


CONTEXT = 8  # tokens a streamed token is decoded after: how it joins the text before it (a space, or none)


class SampleBody(Body):
    prime: str | None = Field(None, description="text the model reads first; each sample starts with it; "
                                                "default: the run's")
    length: int | None = Field(None, ge=1, description="tokens to generate; default: the run's")
    temperature: float | None = Field(None, description="softmax temperature (> 0); default: the run's")
    top_k: int | None = Field(None, ge=0, description="sample among the k most likely tokens (0: all)")
    top_p: float | None = Field(None, gt=0, le=1, description="sample from the smallest set with this probability")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="random seed (the same seed gives the same text); default: the run's")
    num_samples: int | None = Field(None, ge=1, description="independent samples; default: the run's (1 to stream)")
    greedy: bool | None = Field(None, description="always take the most likely token")
    stream: bool = Field(False, description="send the text as server-sent events, one per token (num_samples 1)")

    @field_validator("prime")
    @classmethod
    def _prime(cls, prime: str | None, info: ValidationInfo) -> str | None:
        limit = config_of(info).max_chars
        if prime is not None and len(prime) > limit:
            raise ValueError(f"the prime has {len(prime)} characters; the limit is {limit} (--max-chars)")
        return prime

    @field_validator("length", "num_samples")
    @classmethod
    def _limited(cls, n: int | None, info: ValidationInfo) -> int | None:
        config = config_of(info)
        limit, what, flag = ((config.max_length, "tokens", "--max-length") if info.field_name == "length"
                             else (config.max_items, "samples", "--max-items"))
        if n is not None and n > limit:
            raise ValueError(f"{n} {what} asked for; the limit is {limit} per request ({flag})")
        return n

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, temperature: float | None) -> float | None:
        if temperature is not None and not temperature > 0:
            raise ValueError(f"must be positive, got {temperature}; for the most likely token each step send "
                             f"\"greedy\": true")
        return temperature

    @field_validator("stream")
    @classmethod
    def _stream(cls, stream: bool, info: ValidationInfo) -> bool:
        if stream and (info.data.get("num_samples") or 1) > 1:
            raise ValueError(f"a stream carries one sample; send num_samples 1 (got {info.data['num_samples']}) "
                             f"or \"stream\": false")
        return stream


class FillBody(Body):
    text: str = Field(description="a text with one blank ___ (three underscores) standing for one token")
    top_k: int = Field(5, ge=1, le=1000, description="how many fillers, most likely first")

    @field_validator("text")
    @classmethod
    def _one_blank(cls, text: str, info: ValidationInfo) -> str:
        blanks = len(BLANK.findall(check_text(text, "the text", config_of(info))))
        if blanks != 1:
            raise ValueError(f"has {blanks} blanks; mark the one missing token with ___ (three underscores)")
        return text


class TorchLanguageModel:
    """A PyTorch language model with the export runtime's interface (``defaults``, ``vocab``, ``generate``,
    ``sample``, ``fill``)."""

    def __init__(self, lm):
        from . import api

        self.lm, self.api, self.vocab, self.defaults = lm, api, lm.vocab, lm.config.sample
        self.infill = api.is_infill(lm)
        # rnnkit.text.sample packs the int8 weights at every call (~50 ms for the default model); a server packs
        # them once, into a view it samples from as that call would
        view = lm.model.int8_steps() if hasattr(lm.model, "int8_steps") and lm.device.type == "cpu" else lm.model
        self.int8 = dataclasses.replace(lm, model=view)

    def generate(self, cfg: SampleConfig,
                 on_token: Callable[[list[int]], None] | None = None) -> list[tuple[str, list[int]]]:
        """``(text with the prime, generated ids)`` per sample, as ``rnnkit.text.sample`` draws them."""
        lm, cfg = (self.int8, dataclasses.replace(cfg, int8=False)) if cfg.int8 else (self.lm, cfg)
        texts, ids = self.api._generate(lm, cfg, on_token)
        return list(zip(texts, ids))

    def sample(self, prime: str | None = None, length: int | None = None, **options: Any) -> list[str]:
        given = {"prime": prime, "length": length, **options}
        cfg = dataclasses.replace(self.defaults, **{k: v for k, v in given.items() if v is not None})
        return [text for text, _ in self.generate(cfg)]

    def fill(self, text: str, top_k: int = 5):
        return self.api.fill(self.lm, text, top_k)


def load(run: Path, backend: str, threads: int):
    from . import api

    return load_backend(run, backend, threads, lambda r: TorchLanguageModel(api.load(r)))


def describe(model) -> dict:
    d = model.defaults
    return {"level": model.vocab.level, "infill": model.infill,
            "defaults": {k: getattr(d, k) for k in ("length", "temperature", "top_k", "top_p", "num_samples",
                                                    "seed", "greedy", "prime")}}


def _config(model, body: SampleBody) -> SampleConfig:
    """The run's sampling settings with the request's changes (one sample when streaming)."""
    given = {k: getattr(body, k) for k in ("prime", "length", "temperature", "top_k", "top_p", "seed",
                                           "num_samples", "greedy")}
    given = {k: v for k, v in given.items() if v is not None}
    if body.stream:
        given["num_samples"] = 1
    return dataclasses.replace(model.defaults, **given)


def sample(model, requests: list[SampleBody]) -> list[dict]:
    """Each request alone (``key=id``: a batch holds one): every one has its own prime and seed (its own random
    generator), so sharing a pass would change its text, and a short request must not wait for a long one."""
    return [{"samples": [text for text, _ in model.generate(_config(model, r))]} for r in requests]


def stream(model, request: SampleBody, emit: Callable[[str], None]) -> dict:
    """Generate one sample, calling ``emit`` with the text each token adds (the prime is not sent again)."""
    cfg = _config(model, request)
    tail = model.vocab.encode(cfg.prime, "the prime text")[-CONTEXT:] if cfg.prime else []

    def on_token(new: list[int]) -> None:  # the text so far minus what was sent, over the last few tokens only
        nonlocal tail
        before, text = model.vocab.decode(tail), model.vocab.decode(tail + new[:1])
        if text.startswith(before) and len(text) > len(before):
            emit(text[len(before) :])
        tail = (tail + new[:1])[-CONTEXT:]

    return {"samples": [model.generate(cfg, on_token)[0][0]]}


def fill(model, requests: list[FillBody]) -> list[dict]:
    """Each text alone (a text's row is as long as its context; fills are one model call each)."""
    return [{"fillers": [{"token": f.token, "probability": f.probability} for f in model.fill(r.text, r.top_k)]}
            for r in requests]


VERBS = {
    "sample": Verb("generate text after a prime (\"stream\": true sends it token by token as server-sent events)",
                   SampleBody, sample, key=id, stream=stream),  # each alone: see sample
    "fill": Verb("the most likely tokens for the one blank ___ of a text (runs trained with --objective infill)",
                 FillBody, fill),
}
