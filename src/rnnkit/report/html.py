"""Rendering report sections as one self-contained HTML page.

Everything is inside the file: images are ``data:image/png;base64`` URIs and the style sheet is
inline; there is no script and no reference to any network resource, so the page opens
offline, can be mailed, and shows the same thing years later.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Callable

from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes, check_writable

from .sections import Section

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
pre { background: #f7f7f7; padding: .8em; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .9em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .9em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
nav a { margin-right: 1em; }
"""


def render(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page: a title, a table of contents and the sections in order."""
    anchors = [f"s{i}" for i in range(len(sections))]
    toc = " ".join(f'<a href="#{a}">{escape(s.title)}</a>' for a, s in zip(anchors, sections))
    body = "\n".join(_section(a, s) for a, s in zip(anchors, sections))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n<p>{escape(subtitle)}</p>\n"
            f"<nav>{toc}</nav>\n{body}\n</body>\n</html>\n")


def _section(anchor: str, s: Section) -> str:
    parts = [f'<section id="{anchor}">\n<h2>{escape(s.title)}</h2>']
    parts += [f"<p>{escape(t)}</p>" for t in s.text]
    if s.table:
        head, *rows = s.table
        parts.append("<table><thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in head) + "</tr></thead><tbody>"
                     + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                     + "</tbody></table>")
    parts += [f"<pre>{escape(p)}</pre>" for p in s.pre]
    for im in s.images:
        data = base64.b64encode(im.png).decode("ascii")
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{escape(im.alt)}">'
                     f"<figcaption>{escape(im.alt)}</figcaption></figure>")
    parts.append("</section>")
    return "\n".join(parts)


def write_page(path: Path, build: Callable[[], str]) -> Path:
    """Check that ``path`` can be written, then build the page (which may take a while) and write
    it atomically; returns ``path``."""
    check_writable(path)  # before the building, not after
    page = build()
    try:
        atomic_write_bytes(path, page.encode("utf-8"))
    except OSError as e:
        raise RnnkitError(f"cannot write the report to {path} ({e.strerror or e}); pass another --out")
    return path
