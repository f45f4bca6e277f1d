"""What ``rnnkit tag`` reads and prints: raw text, CoNLL-U, CoNLL columns or JSON Lines, tagged.

Raw text (arguments, or each line of a ``--format text`` file) is split into sentences and tokens
by ``tokenize.py`` and printed one sentence a line as ``token/TAG`` pairs, or with ``--json`` as
``{"tokens", "tags", "spans"}`` objects (``spans``: ``{"type", "start", "end", "text"}`` with
``end`` exclusive, for BIO/IOBES taggers). CoNLL-U and CoNLL input keep their tokens and layout
and come back with the predicted tags in the run's tag column.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..core.errors import RnnkitError
from ..core.fileio import read_text
from .formats import Sentence, read_json_lines, read_sentences, write_conll, write_conllu
from .scheme import ENTITY_SCHEMES, to_iob2
from .tokenize import split

_EXTENSIONS = {".conllu": "conllu", ".conll": "conll", ".jsonl": "json", ".ndjson": "json"}


def input_format(path: Path, given: str) -> str:
    return _EXTENSIONS.get(Path(path).suffix.lower(), "text") if given == "auto" else given


def from_texts(texts: list[str], lines: list[int] | None = None) -> list[Sentence]:
    """Raw texts split into sentences of tokens; ``doc`` is the text's index."""
    out = []
    for k, text in enumerate(texts):
        for tokens in split(text):
            out.append(Sentence(tokens, None, [lines[k] if lines else 1] * len(tokens), k))
    if not out:
        raise RnnkitError("the text is empty; pass some words to tag")
    return out


def read_input(tagger, path: Path, fmt: str) -> list[Sentence]:
    if fmt == "json":
        return read_json_lines(path, tagger.config.data.encoding)
    if fmt == "text":
        text = read_text(Path(path), tagger.config.data.encoding, "a text file to tag")
        numbered = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
        return from_texts([line for _, line in numbered], [n for n, _ in numbered])
    cfg = dataclasses.replace(tagger.config.data, format=fmt)
    if fmt == "conll":  # the input's tags, if any, are in its last column, whatever the training file had
        cfg = dataclasses.replace(cfg, tag_column="", token_column=0)
    return read_sentences(path, cfg, labelled=False)


def spans(tokens: list[str], tags: list[str]) -> list[dict]:
    from seqeval.metrics.sequence_labeling import get_entities

    return [{"type": kind, "start": start, "end": end + 1, "text": " ".join(tokens[start:end + 1])}
            for kind, start, end in get_entities(to_iob2(tags))]


def render(tagger, sentences: list[Sentence], predicted: list[list[str]], fmt: str, as_json: bool) -> str:
    if fmt == "conllu":
        return write_conllu(sentences, predicted, tagger.config.data.tag_column or "upos")
    if fmt == "conll":
        return write_conll(sentences, predicted)
    lines = []
    for s, tags in zip(sentences, predicted):
        if as_json:
            record = {"tokens": s.tokens, "tags": tags}
            if tagger.scheme in ENTITY_SCHEMES:
                record["spans"] = spans(s.tokens, tags)
            lines.append(json.dumps(record, ensure_ascii=False))
        else:
            lines.append(" ".join(f"{w}/{t}" for w, t in zip(s.tokens, tags)))
    return "\n".join(lines) + "\n"
