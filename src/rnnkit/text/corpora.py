"""Named corpora: a built-in one that ships with Python, and public ones downloaded once.

``python-docs`` is CPython's own reference documentation (the ``pydoc_data`` package of the
standard library), so it needs no download and no data folder. ``alice`` and
``tinyshakespeare`` are fetched once from their public sources into the cache
(``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``), checked against a SHA-256, and written atomically.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes

BUILTIN = "python-docs"


@dataclass(frozen=True)
class NamedCorpus:
    name: str
    url: str
    sha256: str
    description: str


CORPORA: dict[str, NamedCorpus] = {
    c.name: c
    for c in [
        NamedCorpus(
            "alice",
            "https://raw.githubusercontent.com/sujitpal/intro-dl-talk-code/master/data/alice_in_wonderland.txt",
            "6b95b094df1aea86711b656a8d80cf9e76ee019d7606f6a905360f47cda88fe6",
            "Lewis Carroll, Alice's Adventures in Wonderland (the seed article's text), 148 KB",
        ),
        NamedCorpus(
            "tinyshakespeare",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            "40,000 lines of Shakespeare's plays (the char-rnn corpus), 1.1 MB",
        ),
    ]
}


def cache_dir() -> Path:
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit")


def names() -> list[str]:
    return [BUILTIN, *CORPORA]


def builtin_text() -> str:
    """CPython's reference documentation topics, in a fixed (sorted) order."""
    from pydoc_data import topics

    return "\n\n".join(topics.topics[k] for k in sorted(topics.topics))


def download(corpus: NamedCorpus, dest: Path, timeout: float = 60.0) -> Path:
    """Fetch ``corpus`` to ``dest`` unless a file with the right checksum is already there."""
    if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == corpus.sha256:
        return dest
    try:
        with urllib.request.urlopen(corpus.url, timeout=timeout) as r:
            data = r.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RnnkitError(
            f"could not download corpus {corpus.name!r} from {corpus.url} ({reason}); "
            f"check the network, or download it yourself and pass its path to --data"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != corpus.sha256:
        raise RnnkitError(
            f"download of corpus {corpus.name!r} failed its checksum (got {digest[:12]}..., "
            f"expected {corpus.sha256[:12]}...); nothing was saved; try again later or pass a local path"
        )
    atomic_write_bytes(dest, data)
    return dest


def resolve(data: str) -> Path:
    """Turn ``--data`` (a path or a corpus name) into a local file path."""
    path = Path(data).expanduser()
    if path.exists():
        return path
    if data == BUILTIN:
        dest = cache_dir() / "python-docs.txt"
        text = builtin_text().encode("utf-8")
        if not dest.is_file() or dest.read_bytes() != text:
            atomic_write_bytes(dest, text)
        return dest
    if data in CORPORA:
        return download(CORPORA[data], cache_dir() / f"{data}.txt")
    if os.sep in data or "." in data:
        raise RnnkitError(f"data file {data} not found; pass an existing text file")
    raise RnnkitError(
        f"{data!r} is neither a file nor a known corpus; pass a text file path or one of "
        f"{', '.join(names())}"
    )
