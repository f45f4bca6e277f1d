"""Run directories: what a training run writes, and the rules for reusing one.

A run directory holds ``config.json`` (the exact configuration used), ``vocab.json``,
``split.json``, ``tokens.bin`` (the encoded corpus), ``metrics.jsonl`` and the checkpoints
``last.safetensors`` and ``best.safetensors``. An existing run is never replaced unless the
user asks (``--overwrite``) or continued unless asked (``--resume``), and a new run is
prepared in a sibling folder first, so bad input leaves the old run and the folder untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

from .errors import RnnkitError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LAST = "last.safetensors"
BEST = "best.safetensors"


def read_metrics(run_dir: Path) -> list[dict]:
    """The rows of a run's ``metrics.jsonl`` ([] without one); a line cut by a kill is skipped, the rest is good."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def is_run(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def check_new(out: Path, overwrite: bool) -> None:
    """May a new run be written to ``out``? Nothing is touched yet."""
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"{out} is a file; pass a directory path to --out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise RnnkitError(f"{out} already exists; pass --resume to continue that run or --overwrite to replace it")
        if not is_run(out):
            raise RnnkitError(f"{out} is not an rnnkit run directory, so --overwrite will not delete it; choose another --out")


def staging(out: Path) -> Path:
    """A fresh sibling folder where a new run is prepared before it replaces ``out``."""
    tmp = out.parent / f".{out.name}.preparing"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


@contextlib.contextmanager
def preparing(out: Path) -> Iterator[Path]:
    """``with preparing(out) as tmp:`` write a new run's files into ``tmp``; when the block ends they
    replace ``out`` (:func:`commit`), and if it raises they are removed and ``out`` is left as it was."""
    tmp = staging(out)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    commit(tmp, out)


def commit(tmp: Path, out: Path) -> None:
    """Put the prepared run in place; the old run (checked by :func:`check_new`) goes only now."""
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def check_target(out: Path, resume: bool, overwrite: bool) -> None:
    """May a training call write to ``out``: continue its run (``resume``) or start one there?"""
    if resume and overwrite:
        raise RnnkitError("--resume and --overwrite contradict each other; pass one of them")
    if resume:
        check_resumable(out)
    else:
        check_new(out, overwrite)


def check_resumable(out: Path) -> None:
    if not (is_run(out) and (out / LAST).is_file()):
        raise RnnkitError(f"there is no run to resume in {out} (no {CONFIG_FILE} and {LAST}); start it without --resume")


def checkpoint_path(path: Path, which: str = "best") -> Path:
    """A checkpoint file, given a run directory (``best`` or ``last``) or the file itself."""
    path = Path(path)
    if path.is_dir():
        if not is_run(path) and not (path / LAST).exists():
            raise RnnkitError(f"{path} is not an rnnkit run directory (no {CONFIG_FILE}); pass the --out of a training run")
        chosen = path / (BEST if which == "best" else LAST)
        if which == "best" and not chosen.exists() and (path / LAST).exists():
            chosen = path / LAST
        return chosen
    if not path.exists():
        raise RnnkitError(f"{path} not found; pass a run directory or a .safetensors checkpoint")
    return path
