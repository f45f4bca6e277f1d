"""An export folder's ``manifest.json``: what the folder holds and the SHA-256 of every file in it.

Written by ``rnnkit export`` (``rnnkit.export``), read by the runtime, which refuses a folder whose
files do not match their checksums before running any of them. Imports no torch and no numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import RnnkitError
from ..core.fileio import sha256

MANIFEST = "manifest.json"
FORMAT = "rnnkit-export"
VERSION = 1


def checksums(folder: Path) -> dict[str, str]:
    """``relative path -> SHA-256`` of every file under ``folder`` except the manifest itself."""
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def read(folder: str | Path) -> dict:
    """The manifest of an export folder, after checking that every file it lists is there, unchanged, and
    that the folder holds no file it does not list. Any mismatch is a one-line ``RnnkitError``."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise RnnkitError(f"{folder} is not an rnnkit export (no {MANIFEST}); make one with rnnkit export RUN --out DIR")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RnnkitError(f"{path} could not be read ({e}); export the run again")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RnnkitError(f"{path} is not an rnnkit export manifest; make one with rnnkit export RUN --out DIR")
    if manifest.get("version", 0) > VERSION:
        raise RnnkitError(f"{folder} was exported by a newer rnnkit (manifest version {manifest['version']}); "
                          f"upgrade rnnkit")
    listed = manifest.get("files", {})
    found = checksums(folder)
    for name, expected in listed.items():
        if name not in found:
            raise RnnkitError(f"{folder / name} is missing from the export; export the run again")
        if found[name] != expected:
            raise RnnkitError(f"{folder / name} does not match its checksum in {MANIFEST}: the export was changed "
                              f"after it was made, so it is not run; export the run again")
    extra = sorted(set(found) - set(listed))
    if extra:
        raise RnnkitError(f"{folder / extra[0]} is not listed in {MANIFEST}; remove it or export the run again")
    return manifest


def write(folder: Path, manifest: dict) -> None:
    """Write ``manifest`` (with ``files`` set to the folder's checksums now) into ``folder``."""
    manifest = {"format": FORMAT, "version": VERSION, **manifest, "files": checksums(folder)}
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
