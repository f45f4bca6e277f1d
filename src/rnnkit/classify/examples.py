"""Labelled sequences for classification: every input format read into one :class:`Examples`.

An example is one whole sequence with one label: a text (a review, a question) or a numeric
series of ``C`` channels (``(T, C)`` frames of an utterance). The formats (``--format``):

=============== ============================================= ==================================
format          one example is                                chosen without ``--format`` when
=============== ============================================= ==================================
``csv``/``tsv`` a row under a header (``--text-column``,      the name ends in ``.csv``/``.tsv``
                ``--label-column``; a name or 0-based index)
``jsonl``       a line ``{"text": ..., "label": ...}``        ``.jsonl`` or ``.ndjson``
``fasttext``    a line ``__label__pos some text``             the first line starts ``__label__``
``label-first`` a line ``pos some text`` (SST-2, TREC)        never: pass ``--format label-first``
``ts``          a UEA/UCR line ``ch0:ch1:...:label``          ``.ts``
``long-csv``    the rows of one ``--id-column`` value         ``.csv`` with ``--id-column`` and no
                (one row per time step)                       ``--text-column`` column
=============== ============================================= ==================================

``label-first`` is not guessed: every line of plain prose also starts with a word, so a guess
would read an unlabelled text file as labelled. fastText's multi-label lines (two
``__label__`` prefixes) are an error, not silently cut to their first label.

A file is decoded whole with ``--encoding`` first, so a bad byte is reported with its line.
Every example gets an id: its ``--id-column`` value, else ``<file name>:<line>`` (1-based).
A label column with a single class is the caller's check (a validation file may hold one).
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.config import check_choices, check_encoding, check_split_fractions, flag_name, option
from ..core.errors import RnnkitError
from ..core.fileio import read_text

if TYPE_CHECKING:
    import pandas as pd  # imported where a table is read: it takes half a second, and line formats never need it

FORMATS = ("csv", "tsv", "jsonl", "fasttext", "label-first", "ts", "long-csv")
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".ts": "ts"}
_FASTTEXT = "__label__"
_DELIMITERS = ",;\t|"
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # numeric cells, compared lowercased


@dataclass
class DataConfig:
    data: str = option("", "training file (text: CSV/TSV/JSON Lines/fastText/'LABEL text' lines; "
                           "numeric: UEA/UCR .ts or long CSV)")
    validation: str = option("", "validation file (default: carved from --data, stratified)")
    test: str = option("", "test file (default: carved from --data, stratified)")
    format: str = option("auto", "format of the files (auto: from the extension, or a first line starting "
                                 "__label__; 'LABEL text' lines need --format label-first)", ("auto", *FORMATS))
    text_column: str = option("text", "CSV/TSV/JSON Lines: the column with the text (name, or 0-based index)")
    label_column: str = option("label", "the column with the label (name or 0-based index)")
    id_column: str = option("", "long CSV: the column naming the sequence each row belongs to; "
                                "text files: an optional id column")
    time_column: str = option("", "long CSV: the column ordering rows within a sequence (default: file order)")
    feature_columns: str = option("", "long CSV: comma-separated feature columns (default: every other "
                                      "numeric column)")
    group_column: str = option("", "keep rows with the same value of this column on one side of the split")
    encoding: str = option("utf-8", "text encoding of the files")
    val_fraction: float = option(0.1, "fraction of --data for validation when no --validation file is given")
    test_fraction: float = option(0.1, "fraction of --data for test when no --test file is given")
    # None, not a fixed number, as in the other tasks: by default the split follows --seed
    split_seed: int | None = option(None, "seed of the split (default: --seed)")

    def __post_init__(self) -> None:
        check_choices(self)
        check_split_fractions(self.val_fraction, self.test_fraction)
        check_encoding(self.encoding)


@dataclass
class Examples:
    kind: str  # "text" or "numeric"
    inputs: list  # text: list[str]; numeric: list[np.ndarray], each (T_i, C) float32, NaN where missing
    labels: list[str] | None  # None: the file has no labels (an input to predict)
    ids: list[str]  # the id column, else "<file name>:<line>"
    groups: list[str] | None  # the --group-column values; None without it
    channels: list[str]  # numeric: one name per channel; text: []


@dataclass
class _Table:
    """A CSV/TSV/JSON Lines file as strings: ``frame`` (N rows, "" where empty) and ``lines`` (N,)."""
    path: Path
    frame: pd.DataFrame
    lines: np.ndarray  # the 1-based line each row starts on
    delimiter: str  # "" for JSON Lines


# -- the file --------------------------------------------------------------------------------
def _check_file(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise RnnkitError(f"{path} is a directory; pass a data file")
    if not path.is_file():
        raise RnnkitError(f"data file {path} not found; pass an existing file")
    if path.stat().st_size == 0:
        raise RnnkitError(f"{path} is empty; pass a file with one example per line or row")
    return path


def detect_format(path: str | Path, given: str = "auto") -> str:
    """``given`` unless it is ``auto``; else the format the file name (or a ``__label__`` start) says."""
    if given != "auto":
        if given not in FORMATS:
            raise RnnkitError(f"--format: unknown value {given!r}; choose one of auto, {', '.join(FORMATS)}")
        return given
    path = Path(path)
    if path.suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[path.suffix.lower()]
    with _check_file(path).open("rb") as f:
        head = f.read(65536).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if head.startswith(_FASTTEXT):
        return "fasttext"
    raise RnnkitError(f"cannot tell the format of {path} from its name; pass --format, one of "
                      f"{', '.join(FORMATS)} ('LABEL text' lines, as in SST-2 and TREC, need --format label-first)")


def read_examples(path: str | Path, cfg: DataConfig, labelled: bool = True) -> Examples:
    """Every example of the file at ``path``.

    ``labelled``: labels are required; without it they are read when the file has them
    (``label-first`` files have no way to say so: every line is then read as text).
    """
    path = _check_file(path)
    fmt = detect_format(path, cfg.format)
    text = read_text(path, cfg.encoding, "a text file with one example per line or row")
    if fmt in ("fasttext", "label-first", "ts"):
        for name in ("id_column", "group_column"):
            if getattr(cfg, name):
                raise RnnkitError(f"{flag_name(name)} needs a file with columns, and a {fmt} file has none; "
                                  f"use a CSV, TSV or JSON Lines file, or leave {flag_name(name)} out")
        if fmt == "ts":
            return _ts_examples(path, text, labelled)
        return _line_examples(path, text, fmt, labelled)
    table = _jsonl_table(path, text) if fmt == "jsonl" else _csv_table(path, text, fmt)
    names = list(table.frame.columns)
    guessed_long = cfg.format == "auto" and cfg.id_column and _column(names, cfg.text_column) is None
    if fmt == "long-csv" or (fmt == "csv" and guessed_long):
        return _long_examples(table, cfg, labelled)
    return _text_examples(table, cfg, labelled)


def check_labels(train_labels: list[str], other: list[str], where: str) -> None:
    """Every label of ``other`` (a validation or test part) must have been seen in training."""
    unseen = sorted(set(other) - set(train_labels))
    if unseen:
        shown = ", ".join(map(repr, unseen[:5])) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
        raise RnnkitError(f"{where} has labels never seen in training: {shown}; the model cannot predict them, "
                          f"so {where} cannot be scored on them: add them to the training data or drop them")


# -- lines: fastText and label-first ------------------------------------------------------------
def _fasttext_line(path: Path, n: int, line: str) -> tuple[str | None, str]:
    """``(label or None, text)`` of a fastText line."""
    if not line.startswith(_FASTTEXT):
        return None, line
    first, body = (line.split(None, 1) + [""])[:2]
    if body.startswith(_FASTTEXT):
        raise RnnkitError(f"{path} line {n} has several {_FASTTEXT} labels; multi-label classification is not "
                          f"supported: keep one label per line")
    if first == _FASTTEXT:
        raise RnnkitError(f"{path} line {n}: {_FASTTEXT} has no label after it; write e.g. {_FASTTEXT}pos")
    return first[len(_FASTTEXT):], body


def _line_examples(path: Path, text: str, fmt: str, labelled: bool) -> Examples:
    texts, labels, lines = [], [], []
    for n, line in enumerate(text.split("\n"), 1):  # "\n" only, as editors count lines
        line = line.strip()
        if not line:
            continue
        if fmt == "fasttext":
            label, body = _fasttext_line(path, n, line)
        elif labelled:
            label, body = (line.split(None, 1) + [""])[:2]
        else:
            label, body = None, line
        if not body:
            raise RnnkitError(f"{path} line {n} has an empty text; write the text after the label or remove the line")
        texts.append(body)
        labels.append(label)
        lines.append(n)
    if not texts:
        raise RnnkitError(f"{path} has only blank lines; pass a file with one example per line")
    unlabelled = [n for n, label in zip(lines, labels) if label is None]
    if fmt == "fasttext" and unlabelled and (labelled or len(unlabelled) < len(lines)):
        raise RnnkitError(f"{path} line {unlabelled[0]} has no {_FASTTEXT} label; "
                          f"{'every line needs one' if labelled else 'label every line or none'} "
                          f"(e.g. {_FASTTEXT}pos some text)")
    ids = [f"{path.name}:{n}" for n in lines]
    return Examples("text", texts, None if unlabelled else labels, ids, None, [])


# -- tables: CSV, TSV, JSON Lines -----------------------------------------------------------------
def _sniff_delimiter(header: str) -> str:
    """The delimiter that cuts the header row into the most columns (a comma when none cuts it)."""
    widths = {d: len(next(csv.reader([header], delimiter=d))) for d in _DELIMITERS}
    return max(widths, key=lambda d: widths[d])  # ties keep the first, the comma


def _csv_table(path: Path, text: str, fmt: str) -> _Table:
    import pandas as pd
    header_start = re.match(r"\s*", text).group().rfind("\n") + 1  # the first line with something on it
    skip = text.count("\n", 0, header_start)  # blank lines above the header
    header_end = text.find("\n", header_start)
    header = text[header_start: header_end if header_end >= 0 else len(text)].strip()
    delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(header)
    try:  # index_col=False and the warning as an error: a row with an extra field is an error, not dropped data
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, na_filter=False, skiprows=skip,
                                skip_blank_lines=False, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning) as e:
        raise RnnkitError(f"{path} is not valid {fmt.upper()} ({str(e).strip().splitlines()[-1]}); quote the "
                          f"fields that hold the delimiter, and close every quote")
    # a row starts one line below the previous one, plus the line breaks inside its quoted fields
    breaks = sum((frame[c].str.count("\n").to_numpy() for c in frame.columns), np.zeros(len(frame), np.int64))
    lines = skip + 2 + np.arange(len(frame)) + np.concatenate([[0], np.cumsum(breaks)[:-1]]).astype(np.int64)
    filled = (frame != "").any(axis=1).to_numpy()  # blank lines come back as rows of ""
    if not filled.any():
        raise RnnkitError(f"{path} has a header but no rows; add the examples below the header")
    return _Table(path, frame[filled].reset_index(drop=True), lines[filled], delimiter)


def _json_cell(value: object) -> str:
    if value is None:  # null, or a key this line lacks
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _jsonl_table(path: Path, text: str) -> _Table:
    import pandas as pd
    records, lines = [], []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise RnnkitError(f"{path} line {n} is not valid JSON ({getattr(e, 'msg', e)}); write one JSON "
                              f"object per line")
        if not isinstance(record, dict):
            raise RnnkitError(f"{path} line {n} is a JSON {type(record).__name__}, not an object; write one "
                              f"object per line, e.g. {{\"text\": \"...\", \"label\": \"...\"}}")
        records.append(record)
        lines.append(n)
    columns = dict.fromkeys(key for record in records for key in record)  # in first-seen order
    frame = pd.DataFrame({c: [_json_cell(r.get(c)) for r in records] for c in columns})
    return _Table(path, frame, np.array(lines), "")


def _column(names: list[str], spec: str) -> str | None:
    """The column ``spec`` names: a header name, else a 0-based index; None when there is none."""
    if spec in names:
        return spec
    if spec.isdigit() and int(spec) < len(names):
        return names[int(spec)]
    return None


def _need(table: _Table, spec: str, flag: str) -> str:
    names = [str(c) for c in table.frame.columns]
    name = _column(names, spec)
    if name is not None:
        return name
    if len(names) == 1 and table.delimiter:  # the whole header in one column: a delimiter it does not use
        tsv = table.delimiter == "\t"
        none = "no tab" if tsv else "no ',', ';', tab or '|'"
        raise RnnkitError(f"{table.path}: the delimiter cannot be found: the header {names[0][:60]!r} has {none}; "
                          f"separate the columns with {'tabs, or pass --format csv' if tsv else 'commas'}")
    raise RnnkitError(f"{table.path} has no column {spec!r} for {flag}; its columns are "
                      f"{', '.join(map(repr, names))}: pass {flag} with a name or a 0-based index")


def _cells(table: _Table, column: str, what: str, fix: str) -> pd.Series:
    """The stripped cells of ``column``; an empty one is an error naming its line."""
    cells = table.frame[column].str.strip()
    empty = (cells == "").to_numpy()
    if empty.any():
        raise RnnkitError(f"{table.path} line {table.lines[np.argmax(empty)]} has no {what} (column {column!r}); "
                          f"{fix}")
    return cells


def _labels(table: _Table, cfg: DataConfig, labelled: bool) -> pd.Series | None:
    names = [str(c) for c in table.frame.columns]
    if _column(names, cfg.label_column) is None and not labelled:
        return None
    column = _need(table, cfg.label_column, "--label-column")
    return _cells(table, column, "label", "write its label or remove the row")


def _groups(table: _Table, cfg: DataConfig) -> pd.Series | None:
    if not cfg.group_column:
        return None
    column = _need(table, cfg.group_column, "--group-column")
    return _cells(table, column, "group", "write its group or remove the row")


def _ids(table: _Table, cfg: DataConfig) -> list[str]:
    if not cfg.id_column:
        return [f"{table.path.name}:{n}" for n in table.lines]
    ids = _cells(table, _need(table, cfg.id_column, "--id-column"), "id", "write its id or remove the row")
    again = ids.duplicated().to_numpy()
    if again.any():
        second = int(np.argmax(again))
        first = int(np.argmax((ids == ids.iloc[second]).to_numpy()))
        raise RnnkitError(f"{table.path}: the id {ids.iloc[second]!r} is on lines {table.lines[first]} and "
                          f"{table.lines[second]}; ids must be unique, so fix one of them")
    return ids.tolist()


def _text_examples(table: _Table, cfg: DataConfig, labelled: bool) -> Examples:
    texts = _cells(table, _need(table, cfg.text_column, "--text-column"), "text", "write the text or remove the row")
    labels, groups = _labels(table, cfg, labelled), _groups(table, cfg)
    return Examples("text", texts.tolist(), None if labels is None else labels.tolist(), _ids(table, cfg),
                    None if groups is None else groups.tolist(), [])


# -- long CSV: one row per time step ------------------------------------------------------------
def _numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(values, bad)``, both ``(N,)``: float64 with NaN where missing, and where a cell is not a number."""
    import pandas as pd
    values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64, copy=True)
    bad = np.isnan(values) & ~cells.str.strip().str.lower().isin(_MISSING).to_numpy()
    return values, bad


def _features(table: _Table, cfg: DataConfig, used: set[str]) -> list[str]:
    if cfg.feature_columns:
        return [_need(table, s.strip(), "--feature-columns") for s in cfg.feature_columns.split(",") if s.strip()]
    names = [str(c) for c in table.frame.columns]
    numeric = [c for c in names if c not in used and not _numbers(table.frame[c])[1].any()]
    if not numeric:
        raise RnnkitError(f"{table.path} has no numeric column besides {', '.join(map(repr, sorted(used)))}; its "
                          f"columns are {', '.join(map(repr, names))}: pass --feature-columns")
    return numeric


def _feature_values(table: _Table, features: list[str]) -> np.ndarray:
    """``(N, C)`` float64, NaN where a value is missing."""
    out = np.empty((len(table.frame), len(features)))
    for c, name in enumerate(features):
        out[:, c], bad = _numbers(table.frame[name])
        if bad.any():
            i = int(np.argmax(bad))
            raise RnnkitError(f"{table.path} line {table.lines[i]}: {table.frame[name].iloc[i]!r} in feature column "
                              f"{name!r} is not a number; fix it, or leave the column out of --feature-columns")
    return out


def _times(table: _Table, column: str) -> np.ndarray:
    """``(N,)`` sortable times: the numbers of ``column``, else its dates as int64 ticks."""
    import pandas as pd
    cells = _cells(table, column, "time", "write its time or remove the row")
    values, bad = _numbers(cells)
    if not bad.any():
        if np.isnan(values).any():
            i = int(np.argmax(np.isnan(values)))
            raise RnnkitError(f"{table.path} line {table.lines[i]}: the time {cells.iloc[i]!r} (column {column!r}) "
                              f"is missing; write its time or remove the row")
        return values
    with warnings.catch_warnings():  # pandas warns when it infers the date format from the first cell
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(cells, errors="coerce", utc=True)  # UTC: one instant sorts the same in any zone
    if dates.isna().any():
        i = int(np.argmax(dates.isna().to_numpy()))
        raise RnnkitError(f"{table.path} line {table.lines[i]}: the time {cells.iloc[i]!r} (column {column!r}) is "
                          f"neither a number nor a date like the others; fix it or pass another --time-column")
    return dates.dt.tz_localize(None).to_numpy().astype(np.int64)  # in pandas' unit: only the order matters


def _same_within(table: _Table, values: np.ndarray, seq: np.ndarray, order: np.ndarray, what: str,
                 fix: str) -> None:
    """Raise where two rows of one sequence (consecutive in ``order``) differ in ``values``."""
    a, b = order[:-1], order[1:]
    wrong = (seq[a] == seq[b]) & (values[a] != values[b])
    if wrong.any():
        i, j = a[np.argmax(wrong)], b[np.argmax(wrong)]
        raise RnnkitError(f"{table.path}: sequence {seq[i]!r} has {what} {values[i]!r} on line {table.lines[i]} "
                          f"and {values[j]!r} on line {table.lines[j]}; {fix}")


def _row_order(table: _Table, time_column: str | None, codes: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """``(N,)`` the rows sequence by sequence, each in time order (file order without a time column)."""
    if time_column is None:
        return np.argsort(codes, kind="stable")
    times = _times(table, time_column)
    order = np.lexsort((times, codes))
    a, b = order[:-1], order[1:]
    twice = (codes[a] == codes[b]) & (times[a] == times[b])
    if twice.any():
        i, j = a[np.argmax(twice)], b[np.argmax(twice)]
        raise RnnkitError(f"{table.path}: sequence {seq[i]!r} has two rows at time "
                          f"{table.frame[time_column].iloc[i].strip()!r} (lines {table.lines[i]} and "
                          f"{table.lines[j]}); keep one row per time step, or pass another --time-column")
    return order


def _long_examples(table: _Table, cfg: DataConfig, labelled: bool) -> Examples:
    import pandas as pd
    if not cfg.id_column:
        raise RnnkitError("--format long-csv needs --id-column, the column naming the sequence of each row")
    id_column = _need(table, cfg.id_column, "--id-column")
    seq = _cells(table, id_column, "sequence id", "write its id or remove the row").to_numpy()
    time_column = _need(table, cfg.time_column, "--time-column") if cfg.time_column else None
    labels, groups = _labels(table, cfg, labelled), _groups(table, cfg)
    used = {id_column, time_column, *(s.name for s in (labels, groups) if s is not None)} - {None}
    features = _features(table, cfg, used)
    values = _feature_values(table, features)
    codes, uniques = pd.factorize(seq)  # sequences in the order they first appear
    order = _row_order(table, time_column, codes, seq)
    starts = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])
    out = [np.ascontiguousarray(values[rows], np.float32) for rows in np.split(order, starts[1:])]
    per_seq = {}
    for name, cells in (("label", labels), ("group", groups)):
        if cells is not None:
            cells = cells.to_numpy()
            _same_within(table, cells, seq, order, f"the {name}",
                         f"a sequence has one {name}: make it the same on all of its rows")
            per_seq[name] = cells[order[starts]].tolist()
    return Examples("numeric", out, per_seq.get("label"), [str(u) for u in uniques], per_seq.get("group"), features)


# -- UEA/UCR .ts ---------------------------------------------------------------------------------
_TS_LAYOUT = "a .ts file has its @ header lines, then @data, then one example per line"


def _ts_header(path: Path, rows: list[str]) -> tuple[dict[str, str], int]:
    """The ``@key value`` lines (keys lowercased) and the index of the first row after ``@data``."""
    meta = {}
    for i, row in enumerate(rows):
        row = row.strip()
        if not row or row.startswith("#"):
            continue
        if not row.startswith("@"):
            raise RnnkitError(f"{path} line {i + 1} comes before the @data line; {_TS_LAYOUT}")
        key, _, value = row[1:].partition(" ")
        if key.lower() == "data":
            return meta, i + 1
        meta[key.lower()] = value.strip()
    raise RnnkitError(f"{path} has no @data line; {_TS_LAYOUT}")


def _ts_classes(path: Path, meta: dict[str, str], labelled: bool) -> list[str] | None:
    """The labels ``@classLabel`` declares; None when the lines have no label."""
    if meta.get("timestamps", "false").lower() != "false":
        raise RnnkitError(f"{path}: @timeStamps true (values with time stamps) is not supported; write the values "
                          f"without time stamps and set @timeStamps false")
    if "classlabel" not in meta:
        raise RnnkitError(f"{path} has no @classLabel line; add '@classLabel true LABEL1 LABEL2 ...' "
                          f"(or '@classLabel false' for a file without labels)")
    has, *classes = meta["classlabel"].split() or [""]
    if has.lower() == "true" and classes:
        return classes
    if has.lower() == "false" and not labelled:
        return None
    if has.lower() == "false":
        raise RnnkitError(f"{path} has no labels (@classLabel false); training and scoring need a labelled file")
    raise RnnkitError(f"{path}: @classLabel {meta['classlabel']!r} is not 'true' followed by the labels, or 'false'")


def _ts_line(path: Path, n: int, fields: list[str]) -> np.ndarray:
    """``(T, C)`` float32 from the channels of one line (``?`` is a missing value)."""
    channels = []
    for c, field in enumerate(fields):
        try:
            channels.append(np.array(field.replace("?", "nan").split(","), dtype=np.float64))
        except ValueError:
            raise RnnkitError(f"{path} line {n}: channel {c} ({field[:40]!r}) is not comma-separated numbers; "
                              f"fix the line (':' separates channels, ',' values, '?' marks a missing value)")
    lengths = sorted({len(x) for x in channels})
    if len(lengths) > 1:
        raise RnnkitError(f"{path} line {n}: its channels have different lengths ({lengths[0]} to {lengths[-1]} "
                          f"values); give every channel of an example the same number of values")
    return np.stack(channels, axis=1).astype(np.float32)


def _ts_examples(path: Path, text: str, labelled: bool) -> Examples:
    rows = text.split("\n")
    meta, start = _ts_header(path, rows)
    classes = _ts_classes(path, meta, labelled)
    inputs, labels, ids, first = [], [], [], 0
    for i in range(start, len(rows)):
        row, n = rows[i].strip(), i + 1
        if not row or row.startswith("#"):
            continue
        fields = row.split(":")
        label = fields.pop().strip() if classes is not None else None
        if label is not None and label not in classes:
            raise RnnkitError(f"{path} line {n}: the label {label[:40]!r} is not among the @classLabel labels "
                              f"({' '.join(classes)}); fix the line or the @classLabel line")
        series = _ts_line(path, n, fields)
        if inputs and series.shape[1] != inputs[0].shape[1]:
            raise RnnkitError(f"{path} line {n} has {series.shape[1]} channels but line {first} has "
                              f"{inputs[0].shape[1]}; every example needs the same channels")
        first = first or n
        inputs.append(series)
        labels.append(label)
        ids.append(f"{path.name}:{n}")
    if not inputs:
        raise RnnkitError(f"{path} has no examples after @data; {_TS_LAYOUT}")
    channels = [f"dim_{c}" for c in range(inputs[0].shape[1])]
    return Examples("numeric", inputs, None if classes is None else labels, ids, None, channels)
