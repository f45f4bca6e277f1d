"""Tagged sentences read from, and written back to, CoNLL-U and CoNLL column files.

=========== ============================================================ ====================
format      one sentence is                                               chosen without
                                                                          ``--format`` when
=========== ============================================================ ====================
``conllu``  a block of 10-column word lines under ``#`` comments; the     the name ends in
            tag is ``--tag-column`` (``upos`` by default)                 ``.conllu``
``conll``   a block of ``token ... tag`` lines (tab-separated, or by      ``.conll``
            spaces when a line has no tab); the tag is the last column
=========== ============================================================ ====================

A blank or whitespace-only line ends a sentence (WNUT17 separates its sentences with a lone
tab). Documents, where a file marks them (CoNLL-U ``# newdoc``, CoNLL ``-DOCSTART-`` lines),
number the sentences' ``doc`` so a split can keep a document on one side. CoNLL-U
multiword-token ranges (``1-2``) and empty nodes (``8.1``) are not tagged, the syntactic words
are; they are kept, with the comments, so that writing a file back gives its own layout with
the predicted column. ``rnnkit tag --format json`` reads one object per line instead:
``{"tokens": [...]}`` or ``{"text": "..."}`` (split by :mod:`rnnkit.tag.tokenize`), with
optional ``"tags"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import conllu
from conllu.exceptions import ParseException

from ..core.config import check_choices, check_encoding, check_split_fractions, option, require
from ..core.errors import RnnkitError
from ..core.fileio import read_text

FORMATS = ("conllu", "conll")
CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_EXTENSIONS = {".conllu": "conllu", ".conll": "conll"}
_DOCSTART = "-DOCSTART-"
_WANTED = "a CoNLL-U or CoNLL file (one token per line, a blank line between sentences)"
# every column but the id kept as written, so feats read "Number=Sing|Person=3" and write back unchanged
_RAW = {name: (lambda cols, i: cols[i]) for name in CONLLU_COLUMNS[1:]}
_COMMENTS = {"__fallback__": lambda key, value: (key, value)}  # keep comments without "=", too


@dataclass
class TagDataConfig:
    data: str = option("", "training file: CoNLL-U (.conllu) or CoNLL columns (.conll: token ... tag per line, "
                           "a blank line between sentences)")
    validation: str = option("", "validation file (default: carved from --data by sentence, or by document "
                                 "where the file marks documents)")
    test: str = option("", "test file (default: carved from --data like the validation part)")
    format: str = option("auto", "auto (from the extension: .conllu, .conll), conllu or conll",
                         ("auto", *FORMATS))
    tag_column: str = option("", "the column to learn: conllu: upos (default), xpos, deprel, feats, or a 0-based "
                                 "index; conll: a 0-based index (default: the last column)")
    token_column: int = option(0, "conll: 0-based index of the token column")
    scheme: str = option("auto", "tag scheme: auto (detect BIO/IOBES prefixes, else none), iob2, iob2-strict "
                                 "(an I-X must follow B-X or I-X), iobes, none",
                         ("auto", "iob2", "iob2-strict", "iobes", "none"))
    encoding: str = option("utf-8", "text encoding of the files")
    val_fraction: float = option(0.1, "fraction of --data's sentences (or documents) for validation when no "
                                      "--validation file is given")
    test_fraction: float = option(0.1, "fraction of --data's sentences (or documents) for test when no --test "
                                       "file is given")
    # None, not a fixed number, as in the other tasks: by default the split follows --seed
    split_seed: int | None = option(None, "seed of the split (default: --seed)")

    def __post_init__(self) -> None:
        check_choices(self)
        check_split_fractions(self.val_fraction, self.test_fraction)
        check_encoding(self.encoding)
        require(self.token_column >= 0, "token_column", f"must be a 0-based index, got {self.token_column}")
        known = self.tag_column in ("", *CONLLU_COLUMNS) or self.tag_column.isdigit()
        require(known, "tag_column", f"unknown column {self.tag_column!r}; use {', '.join(CONLLU_COLUMNS)} "
                                     f"(CoNLL-U) or a 0-based column index")
        require(self.format != "conll" or not self.tag_column or self.tag_column.isdigit(), "tag_column",
                f"{self.tag_column!r} names a CoNLL-U column, but --format conll files have no column names; "
                f"pass a 0-based index")


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str] | None  # None when the file has no tag column / no tags (input to `rnnkit tag`)
    lines: list[int]  # 1-based line number of each token's row in its file
    doc: int  # index of its document in the file; 0 when none marked (JSON Lines: the object's index)
    source: Any = None  # what write-back needs: the conllu.TokenList, a ConllRows, or a JSON Lines object


@dataclass
class ConllRows:
    """A CoNLL sentence as written: its rows (lists of columns) and the lines above it."""
    rows: list[list[str]]
    tag: int | None  # the index of the tag column; None when the file has no tags
    separator: str  # "\t", or " " for a file whose columns are separated by spaces
    before: list[str] = field(default_factory=list)  # blank, separator and -DOCSTART- lines since the last sentence


def detect_format(path: str | Path, cfg: TagDataConfig) -> str:
    """``cfg.format`` unless it is ``auto``; else the format the file's extension says."""
    if cfg.format != "auto":
        return cfg.format
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise RnnkitError(f"cannot tell the format of {path} from its name; pass --format, one of "
                          f"{', '.join(FORMATS)} (CoNLL-U: 10 columns; CoNLL: token ... tag per line)")
    return _EXTENSIONS[suffix]


def read_sentences(path: str | Path, cfg: TagDataConfig, labelled: bool = True) -> list[Sentence]:
    """Every sentence of the file at ``path``.

    ``labelled``: tags are required; without it they are read when the file has them (a CoNLL
    file of one column, or a CoNLL-U tag column of only ``_``, gives ``tags`` None).
    """
    path = Path(path).expanduser()
    fmt = detect_format(path, cfg)
    text = read_text(path, cfg.encoding, _WANTED)
    if fmt == "conllu":
        column = _conllu_column(cfg.tag_column)
        return _untagged_if_blank(path, _conllu_sentences(path, text, column), column, labelled)
    if cfg.tag_column and not cfg.tag_column.isdigit():
        raise RnnkitError(f"--tag-column {cfg.tag_column!r} names a CoNLL-U column, but {path} is read as a CoNLL "
                          f"column file; pass a 0-based column index, or --format conllu")
    return _conll_sentences(path, text, cfg, labelled)


# -- CoNLL-U ---------------------------------------------------------------------------------------
def _conllu_column(spec: str) -> str:
    """The CoNLL-U column name ``spec`` gives (a name or an index 0-9; "" is upos)."""
    if not spec:
        return "upos"
    if spec.isdigit():
        if int(spec) >= len(CONLLU_COLUMNS):
            raise RnnkitError(f"--tag-column {spec} is beyond the 10 columns of CoNLL-U; pass an index from 0 to 9 "
                              f"or a name: {', '.join(CONLLU_COLUMNS)}")
        return CONLLU_COLUMNS[int(spec)]
    if spec not in CONLLU_COLUMNS:
        raise RnnkitError(f"--tag-column: unknown CoNLL-U column {spec!r}; use one of {', '.join(CONLLU_COLUMNS)} "
                          f"or a 0-based index")
    return spec


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """The sentence blocks of a CoNLL-U text: lists of ``(line number, line)``."""
    blocks, block = [], []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            block.append((n, line.rstrip("\r")))
        elif block:
            blocks.append(block)
            block = []
    return blocks + [block] if block else blocks


def _parse_block(path: Path, block: list[tuple[int, str]]) -> tuple[conllu.TokenList, list[int]]:
    """The block as a TokenList, and the line number of each of its word lines."""
    words = [(n, line) for n, line in block if not line.strip().startswith("#")]
    for n, line in words:
        count = len(line.split("\t"))
        if count != len(CONLLU_COLUMNS):
            raise RnnkitError(f"{path} line {n} has {count} tab-separated columns; a CoNLL-U word line has 10 "
                              f"({' '.join(c.upper() for c in CONLLU_COLUMNS)}), '_' where a value is missing")
    try:
        tokens = conllu.parse_token_and_metadata("\n".join(line for _, line in block), field_parsers=_RAW,
                                                 metadata_parsers=_COMMENTS)
    except ParseException as e:
        n = next((n for n, line in words if not _parses(line)), block[0][0])
        raise RnnkitError(f"{path} line {n} is not valid CoNLL-U ({e}); fix the line (IDs are 1, 2, ..., "
                          f"ranges 1-2, empty nodes 8.1)")
    return tokens, [n for n, _ in words]


def _parses(line: str) -> bool:
    try:
        conllu.parse_token_and_metadata(line, field_parsers=_RAW)
        return True
    except ParseException:
        return False


def _starts_document(tokens: conllu.TokenList) -> bool:
    return any(key == "newdoc" or key.startswith("newdoc ") for key in tokens.metadata)


def _conllu_sentences(path: Path, text: str, column: str) -> list[Sentence]:
    sentences, doc = [], 0
    for block in _blocks(text):
        tokens, lines = _parse_block(path, block)
        if _starts_document(tokens) and sentences and sentences[-1].doc == doc:
            doc += 1
        words = [(t, n) for t, n in zip(tokens, lines) if isinstance(t["id"], int)]  # not 1-2 or 8.1
        if not lines:
            continue  # a block of comments alone: no sentence, and not written back
        if not words:
            raise RnnkitError(f"{path} line {block[0][0]}: the sentence has no word lines (IDs 1, 2, ...); "
                              f"add its words or remove the block")
        sentences.append(Sentence([t["form"] for t, _ in words], [str(t[column]) for t, _ in words],
                                  [n for _, n in words], doc, tokens))
    if not sentences:
        raise RnnkitError(f"{path} has only comments, no sentences; pass {_WANTED}")
    return sentences


def _untagged_if_blank(path: Path, sentences: list[Sentence], column: str, labelled: bool) -> list[Sentence]:
    """The sentences with ``tags`` None when the tag column holds only ``_`` (an error when labelled)."""
    if any(tag != "_" for s in sentences for tag in s.tags):
        return sentences
    if labelled:
        raise RnnkitError(f"{path}: the tag column {column} holds only '_' (no tags); pass another --tag-column, "
                          f"or a file annotated in that column")
    for s in sentences:
        s.tags = None
    return sentences


def write_conllu(sentences: list[Sentence], predicted: list[list[str]], column: str) -> str:
    """The sentences in CoNLL-U with ``predicted`` in ``column`` (a name or an index 0-9).

    Sentences read from CoNLL-U keep their comments, ranges and empty nodes; others (raw text)
    get ``_`` in every column but ID, FORM and the predicted one.
    """
    name = _conllu_column(column)
    out = []
    for sentence, tags in zip(sentences, predicted, strict=True):
        _check_length(sentence, tags)
        if isinstance(sentence.source, conllu.TokenList):
            tokens = conllu.TokenList([conllu.Token(t) for t in sentence.source], sentence.source.metadata)
            words = iter(tags)
            for t in tokens:
                if isinstance(t["id"], int):
                    t[name] = next(words)
        else:
            tokens = conllu.TokenList([{**dict.fromkeys(CONLLU_COLUMNS, "_"), "id": i, "form": form}
                                       for i, form in enumerate(sentence.tokens, 1)])
            for t, tag in zip(tokens, tags):
                t[name] = tag
        out.append(tokens.serialize())
    return "".join(out)


def _check_length(sentence: Sentence, tags: list[str]) -> None:
    if len(tags) != len(sentence.tokens):  # the caller's bug, not the user's input
        raise ValueError(f"{len(tags)} tags for a sentence of {len(sentence.tokens)} tokens "
                         f"(line {sentence.lines[0] if sentence.lines else '?'})")


# -- CoNLL columns -----------------------------------------------------------------------------------
def _columns(line: str) -> tuple[list[str], str]:
    """A row's columns and their separator: tabs when the line has one, else runs of spaces.

    A row of one column is written back with a tab before the appended tag, as WNUT17 has it.
    """
    if "\t" in line:
        return line.split("\t"), "\t"
    cols = line.split()
    return cols, " " if len(cols) > 1 else "\t"


def _conll_blocks(path: Path, text: str) -> list[tuple[ConllRows, list[int], int]]:
    """Every sentence as ``(rows, line numbers, doc)``; rows checked to have the first row's width."""
    blocks, rows, lines, before, doc, first = [], [], [], [], 0, None
    separator = "\t"  # of the rows read so far (set with the first row; a block is only closed after one)
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        starts_doc = line.split(None, 1)[:1] == [_DOCSTART]
        if not line.strip() or starts_doc:
            if rows:
                blocks.append((ConllRows(rows, None, separator, before), lines, doc))
                rows, lines, before = [], [], []
            if starts_doc and blocks and blocks[-1][2] == doc:
                doc += 1
            before.append(line)
            continue
        cols, separator = _columns(line)
        first = first or (n, len(cols))
        if len(cols) != first[1]:
            raise RnnkitError(f"{path} line {n} has {len(cols)} columns but line {first[0]} has {first[1]}; give "
                              f"every token line the same columns (tab-separated, or by spaces in a file without tabs)")
        rows.append(cols)
        lines.append(n)
    if rows:
        blocks.append((ConllRows(rows, None, separator, before), lines, doc))
    if not blocks:
        raise RnnkitError(f"{path} has no sentences (only blank and {_DOCSTART} lines); pass {_WANTED}")
    return blocks


def _conll_tag_index(path: Path, cfg: TagDataConfig, width: int, labelled: bool) -> int | None:
    """The tag column's index in rows of ``width`` columns; None for an unlabelled file of tokens only."""
    if not cfg.tag_column and width == 1:
        if labelled:
            raise RnnkitError(f"{path} has one column (tokens only); labelled data needs a tag column: "
                              f"token TAB tag on each line")
        return None
    index = int(cfg.tag_column) if cfg.tag_column else width - 1
    for flag, i in (("--tag-column", index), ("--token-column", cfg.token_column)):
        if i >= width:
            raise RnnkitError(f"{flag} {i} is beyond the {width} columns of {path}; pass an index from 0 to "
                              f"{width - 1}")
    if index == cfg.token_column:
        raise RnnkitError(f"--tag-column and --token-column are both column {index} of {path}; the tag must be "
                          f"another column (by default the last one)")
    return index


def _conll_sentences(path: Path, text: str, cfg: TagDataConfig, labelled: bool) -> list[Sentence]:
    blocks = _conll_blocks(path, text)
    tag = _conll_tag_index(path, cfg, len(blocks[0][0].rows[0]), labelled)
    sentences = []
    for source, lines, doc in blocks:
        source.tag = tag
        tokens = [row[cfg.token_column].strip() for row in source.rows]
        if "" in tokens:
            n = lines[tokens.index("")]
            raise RnnkitError(f"{path} line {n} has an empty token (column {cfg.token_column}); write the token, "
                              f"or pass the token's column as --token-column")
        tags = None if tag is None else [row[tag].strip() for row in source.rows]
        sentences.append(Sentence(tokens, tags, lines, doc, source))
    return sentences


def write_conll(sentences: list[Sentence], predicted: list[list[str]]) -> str:
    """The sentences as CoNLL rows with ``predicted`` as their tag column.

    The tag replaces the file's tag column, or is appended to rows without one; the blank,
    separator and ``-DOCSTART-`` lines above each sentence are kept. Sentences not read from
    a CoNLL file are written ``token TAB tag``.
    """
    lines = []
    for sentence, tags in zip(sentences, predicted, strict=True):
        _check_length(sentence, tags)
        source = sentence.source
        if not isinstance(source, ConllRows):
            source = ConllRows([[token] for token in sentence.tokens], None, "\t", [""])
        lines += source.before if lines else _after_blank_lines(source.before)
        for row, tag in zip(source.rows, tags):
            cols = list(row)
            if source.tag is None:
                cols.append(tag)
            else:
                cols[source.tag] = tag
            lines.append(source.separator.join(cols))
    return "\n".join(lines) + "\n"


def _after_blank_lines(before: list[str]) -> list[str]:
    """``before`` without its leading blank lines: a written file starts with a document line or a row."""
    while before and not before[0].strip():
        before = before[1:]
    return before


# -- JSON Lines ------------------------------------------------------------------------------------
def read_json_lines(path: str | Path, encoding: str) -> list[Sentence]:
    """The sentences of a file of JSON objects, one a line: ``{"tokens": [...]}`` or ``{"text": "..."}``.

    A ``text`` may hold several sentences (:func:`rnnkit.tag.tokenize.split`); ``doc`` is the
    object's 0-based index, so output can be put back together per line. ``tags`` (optional)
    go with ``tokens`` only: they cannot be aligned with tokens the tokenizer chose.
    """
    path = Path(path).expanduser()
    text = read_text(path, encoding, 'a JSON Lines file: {"tokens": [...]} or {"text": "..."} on each line')
    sentences, doc = [], 0
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            sentences += _json_sentences(path, n, line, doc)
            doc += 1
    return sentences


def _json_sentences(path: Path, n: int, line: str, doc: int) -> list[Sentence]:
    where = f"{path} line {n}"
    try:
        record = json.loads(line)
    except ValueError as e:
        raise RnnkitError(f"{where} is not valid JSON ({getattr(e, 'msg', e)}); write one JSON object per line")
    if not isinstance(record, dict) or ("tokens" in record) == ("text" in record):
        raise RnnkitError(f'{where} needs an object with either "tokens" (a list of strings) or "text" (a string), '
                          f'e.g. {{"text": "Raw text."}}')
    if "text" in record:
        from .tokenize import split
        if not isinstance(record["text"], str) or "tags" in record:
            raise RnnkitError(f'{where}: "text" must be a string, without "tags" (tags need "tokens" to align '
                              f'with); write {{"tokens": [...], "tags": [...]}} for tagged input')
        sentences = split(record["text"])
        if not sentences:
            raise RnnkitError(f'{where} has an empty "text"; write the text, or remove the line')
        return [Sentence(tokens, None, [n] * len(tokens), doc, record) for tokens in sentences]
    tokens, tags = record["tokens"], record.get("tags")
    if not _strings(tokens) or not tokens:
        raise RnnkitError(f'{where}: "tokens" must be a non-empty list of non-empty strings')
    if tags is not None and (not _strings(tags) or len(tags) != len(tokens)):
        raise RnnkitError(f'{where}: "tags" must be a list of strings, one per token ({len(tokens)} tokens); '
                          f'fix it or leave "tags" out')
    return [Sentence(tokens, tags, [n] * len(tokens), doc, record)]


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) and v.strip() for v in values)
