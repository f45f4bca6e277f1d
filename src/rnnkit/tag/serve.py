"""``rnnkit serve`` for sequence taggers: ``POST /v1/models/NAME/tag``.

A request holds raw text (split into sentences and tokens as ``rnnkit tag "TEXT"`` splits it) or
sentences already split into tokens; the sentences of a whole batch of requests are tagged in one pass
and handed back to each request.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from ..serve.verbs import Body, Verb, check_items, check_text, config_of, load_backend
from .tokenize import split

ONE_OF = "send exactly one of 'text' (raw text) and 'sentences' (lists of tokens)"


class TagBody(Body):
    text: str | None = Field(None, description="raw text, split into sentences and tokens as rnnkit tag splits it")
    sentences: list[list[str]] | None = Field(None, validate_default=True,
                                              description="sentences already split into tokens")

    @field_validator("text")
    @classmethod
    def _text(cls, text: str | None, info: ValidationInfo) -> str | None:
        return None if text is None else check_text(text, "the text", config_of(info))

    @field_validator("sentences")
    @classmethod
    def _sentences(cls, sentences: list[list[str]] | None, info: ValidationInfo) -> list[list[str]] | None:
        if "text" not in info.data:  # the text was refused already
            return sentences
        if (sentences is None) == (info.data["text"] is None):
            raise ValueError(f"{'both are given' if sentences is not None else 'neither is given'}; {ONE_OF}")
        if sentences is None:
            return None
        config = config_of(info)
        for i, s in enumerate(check_items(sentences, "the list", config)):
            if not s or not all(s):
                raise ValueError(f"sentence {i} is empty or holds an empty token; send each sentence as a list of "
                                 f"non-empty tokens")
            check_text(" ".join(s), f"sentence {i}", config)
        return sentences

    def split(self) -> list[list[str]]:
        """The request's sentences of tokens (the text split as ``rnnkit tag`` splits it)."""
        return self.sentences if self.sentences is not None else split(self.text)


class TorchTagger:
    """A PyTorch tagger with the export runtime's interface (``tag(sentences)``, ``tags``, ``scheme``)."""

    def __init__(self, tagger):
        from . import api

        self.tagger, self.api = tagger, api
        self.scheme: str = tagger.scheme

    @property
    def tags(self) -> list[str]:
        return self.tagger.tags

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        return self.api.tag(self.tagger, sentences)


def load(run: Path, backend: str, threads: int):
    """The run's ONNX export (``--backend onnx``: torch is never imported) or its PyTorch model."""
    return load_backend(run, backend, threads, _load_torch)


def _load_torch(run: Path) -> TorchTagger:
    from . import api

    return TorchTagger(api.load(run))


def describe(model) -> dict:
    return {"tags": list(model.tags), "scheme": model.scheme}


def tag(model, requests: list[TagBody]) -> list[dict]:
    """One pass over every sentence of ``requests``; one answer per request."""
    mine = [r.split() for r in requests]
    tags = model.tag([s for sentences in mine for s in sentences])
    answers, at = [], 0
    for sentences in mine:
        answers.append({"sentences": [{"tokens": s, "tags": t} for s, t in zip(sentences, tags[at:at + len(sentences)])]})
        at += len(sentences)
    return answers


VERBS = {"tag": Verb("tag raw text or sentences of tokens (one tag per token)", TagBody, tag)}
