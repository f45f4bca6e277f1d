"""``rnnkit serve`` for translators: ``POST /v1/models/NAME/translate``.

Requests with the same search options share one pass: their sentences are translated together (sorted into
batches by length, as ``rnnkit translate`` does) and the results handed back to each request.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from ..serve.verbs import Body, Verb, check_items, check_text, config_of, load_backend


class TranslateBody(Body):
    sentences: list[str] = Field(description="sentences to translate (one result each, in order)")
    beam: int | None = Field(None, ge=1, le=32, description="beam size (1: greedy); default: the run's")
    n_best: int | None = Field(None, ge=1, le=32, description="translations per sentence, best first (at most beam)")
    length_penalty: float | None = Field(None, ge=0, le=10, description="GNMT length penalty alpha (beam search)")
    attention: bool = Field(False, description="also return the attention matrix of each (greedy) translation")

    @field_validator("sentences")
    @classmethod
    def _sized(cls, sentences: list[str], info: ValidationInfo) -> list[str]:
        config = config_of(info)
        for i, s in enumerate(check_items(sentences, "the list", config)):
            check_text(s, f"sentence {i}", config)
        return sentences


class TorchTranslator:
    """A PyTorch translator with the export runtime's interface (``translate(sentences, **options)``, ``pieces``)."""

    def __init__(self, tr):
        from . import api

        self.tr, self.api, self.search = tr, api, tr.config.search

    def translate(self, sentences: list[str], attention: bool = False, **options: Any):
        from ..core.config import from_dict
        from .decoding import SearchConfig

        given = {k: v for k, v in options.items() if v is not None}
        search = from_dict(SearchConfig, {**dataclasses.asdict(self.search), **given}, "translate options")
        return self.api.translate(self.tr, sentences, search, attention)

    def pieces(self, text: str) -> list[str]:
        return self.tr.codec.pieces("source", self.api._normalize(self.tr, text))


def load(run: Path, backend: str, threads: int):
    return load_backend(run, backend, threads, _load_torch)


def _load_torch(run: Path) -> TorchTranslator:
    from . import api

    return TorchTranslator(api.load(run))


def describe(model) -> dict:
    return {"defaults": {k: getattr(model.search, k) for k in ("beam", "n_best", "length_penalty")}}


def _key(body: TranslateBody) -> tuple:
    return body.beam, body.n_best, body.length_penalty, body.attention


def translate(model, requests: list[TranslateBody]) -> list[dict]:
    """One pass over every sentence of ``requests`` (equal options); one answer per request."""
    first = requests[0]
    sentences = [s for r in requests for s in r.sentences]
    results = model.translate(sentences, beam=1 if first.attention else first.beam, n_best=first.n_best,
                              length_penalty=first.length_penalty, attention=first.attention)
    answers, at = [], 0
    for r in requests:
        mine = results[at : at + len(r.sentences)]
        answers.append({"results": [_result(model, s, hyps, r.attention) for s, hyps in zip(r.sentences, mine)]})
        at += len(r.sentences)
    return answers


def _result(model, source: str, hyps, attention: bool) -> dict:
    out = {"source": source, "translations": [{"text": h.text, "score": float(h.score)} for h in hyps]}
    if attention and hyps and hyps[0].attention is not None:
        out["translations"][0].update(attention=hyps[0].attention.astype(float).round(4).tolist(), target_pieces=list(hyps[0].tokens),
                                      source_pieces=model.pieces(source))
    return out


VERBS = {"translate": Verb("translate sentences (beam search or greedy; attention matrices on request)",
                           TranslateBody, translate, _key)}
