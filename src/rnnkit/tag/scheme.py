"""Tag schemes: which tag may follow which, detected from the training tags or given (``--scheme``).

* ``iob2``: ``O``, ``B-X`` (a span of type X begins), ``I-X`` (it goes on). An ``I-X`` after ``O``
  or after another type is invalid; the file is still read (reported, with line numbers), and
  scored as conlleval scores it (such an ``I-X`` begins a span).
* ``iob2-strict``: the same, but an invalid sequence in a file is an error.
* ``iobes``: also ``E-X`` (a span's last token) and ``S-X`` (a one-token span).
* ``none``: any tag may follow any (part of speech, dependency relations).

``auto`` picks ``iobes`` when every tag is ``O`` or ``B/I/E/S-X`` and some ``E-``/``S-`` tag is
there, ``iob2`` when every tag is ``O`` or ``B/I-X``, else ``none``.
``allowed`` gives the transitions as boolean masks: the CRF makes the others impossible, so
Viterbi decoding can never return an invalid sequence.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import RnnkitError

ENTITY_SCHEMES = ("iob2", "iob2-strict", "iobes")


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``; anything else -> ``("", tag)``."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "", tag


def detect(tags: set[str]) -> str:
    prefixes = {split_tag(t)[0] for t in tags}
    if "" in prefixes:
        return "none"
    if prefixes & {"E", "S"}:
        return "iobes"
    return "iob2"


def resolve(given: str, tags: set[str]) -> str:
    """The scheme to use: ``given``, or the detected one for ``auto``; a tag the scheme cannot hold is an error."""
    scheme = detect(tags) if given == "auto" else given
    if scheme in ENTITY_SCHEMES:
        allowed_prefixes = set("OBIES") if scheme == "iobes" else set("OBI")
        odd = sorted(t for t in tags if split_tag(t)[0] not in allowed_prefixes)
        if odd:
            raise RnnkitError(f"--scheme {scheme} has no tag {odd[0]!r} (tags are O or {'/'.join(sorted(allowed_prefixes - {'O'}))}"
                              f"-TYPE); pass --scheme none or the scheme of the file")
    return scheme


def _follows(scheme: str, prev: str, tag: str) -> bool:
    """May ``tag`` come right after ``prev`` ("" = the sentence's start or end)?"""
    (p, pt), (t, tt) = split_tag(prev) if prev else ("O", ""), split_tag(tag) if tag else ("O", "")
    if scheme in ("iob2", "iob2-strict"):
        return t != "I" or (p in ("B", "I") and pt == tt)
    inside = p in ("B", "I")  # iobes: a span that is open must be continued (I) or closed (E) by the same type
    if inside:
        return t in ("I", "E") and pt == tt
    return t not in ("I", "E")


def allowed(tags: list[str], scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks ``start (T,)``, ``transitions (T, T)`` (row: previous tag) and ``end (T,)``."""
    T = len(tags)
    if scheme not in ENTITY_SCHEMES:
        return np.ones(T, bool), np.ones((T, T), bool), np.ones(T, bool)
    start = np.array([_follows(scheme, "", t) for t in tags])
    trans = np.array([[_follows(scheme, a, b) for b in tags] for a in tags])
    end = np.array([_follows(scheme, t, "") for t in tags])
    return start, trans, end


def invalid_positions(tags: list[str], scheme: str) -> list[int]:
    """Indices ``i`` where ``tags[i]`` may not follow ``tags[i-1]``, and ``len(tags)`` when the last tag may not end."""
    if scheme not in ENTITY_SCHEMES:
        return []
    bad = [i for i, t in enumerate(tags) if not _follows(scheme, tags[i - 1] if i else "", t)]
    if tags and not _follows(scheme, tags[-1], ""):
        bad.append(len(tags))
    return bad


def to_iob2(tags: list[str]) -> list[str]:
    """IOBES tags as IOB2 (``E-X`` -> ``I-X``, ``S-X`` -> ``B-X``), the scheme conlleval scores."""
    out = []
    for t in tags:
        prefix, kind = split_tag(t)
        out.append({"E": "I-", "S": "B-"}[prefix] + kind if prefix in ("E", "S") else t)
    return out
