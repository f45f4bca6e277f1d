"""Writing files so that a kill never leaves half of one, and reading the JSON files of a run."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .errors import RnnkitError

_UMASK = os.umask(0)  # read once: the mode a plain ``open(path, "w")`` would give
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)  # mkstemp makes files private (0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: Path, flag: str = "--out") -> None:
    """Fail before any work when ``path`` cannot be written (a file in the way, no permission)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RnnkitError(f"cannot write {path} ({e.strerror or e}); pass another {flag}")
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        why = "it is a directory" if path.is_dir() else f"{path.parent} is not writable"
        raise RnnkitError(f"cannot write {path} ({why}); pass another {flag}")


def read_text(path: Path, encoding: str, wanted: str) -> str:
    """The whole text of a data file, without a byte-order mark.

    A binary, undecodable or blank file is a one-line error; an undecodable one names its line.
    ``wanted`` says what to pass instead (e.g. "a CSV file with a date column").
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise RnnkitError(f"{path} could not be read ({e.strerror}); check that the file is readable")
    wide = encoding.lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32"))
    if b"\x00" in raw[:8192] and not wide:
        raise RnnkitError(f"{path} looks like a binary file (it contains NUL bytes); pass {wanted}")
    try:
        text = raw.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise RnnkitError(f"{path} line {line} is not valid {encoding} text ({e.reason}); "
                          f"pass --encoding with the file's encoding, e.g. --encoding latin-1")
    if not text.strip():
        raise RnnkitError(f"{path} is empty; pass {wanted}")
    return text


def save_figure(fig, path: Path, dpi: int = 100) -> None:
    """Write a matplotlib figure as PNG atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RnnkitError(f"{path} could not be read ({e}); the run directory is damaged")
    if not isinstance(data, dict):
        raise RnnkitError(f"{path} does not hold a JSON object; the run directory is damaged")
    return data


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (a run records its data files' to refuse a changed one later)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_unchanged(recorded: dict[str, str], path_of: dict[str, str], what: str) -> None:
    """Refuse a run's data file that is gone or whose SHA-256 differs from the one ``recorded`` at training
    (``option -> digest``; ``path_of``: option -> the file now; ``what``: what is read again, e.g. "examples")."""
    for option, digest in recorded.items():
        path = path_of[option]
        if not Path(path).is_file():
            raise RnnkitError(f"the run's {option} file {path} is not there; evaluation reads its {what} again")
        if sha256(path) != digest:
            raise RnnkitError(f"the run's {option} file {path} has changed since training; restore it or train anew")
