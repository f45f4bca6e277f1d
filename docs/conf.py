"""Sphinx configuration: MyST Markdown pages, the furo theme, and reference pages generated from the
code (CLI from ``cli.build_parser`` by sphinx-argparse, options from the typed configs by
``_ext/rnnkit_docs.py``, the Python API by autodoc). Build: ``sphinx-build -W docs docs/_build/html``."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))  # document the checkout, installed or not

project = "rnnkit"
author = "the rnnkit authors"
copyright = "2026, the rnnkit authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinxarg.ext",
    "rnnkit_docs",
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links, as on a code host
source_suffix = {".md": "markdown"}
smartquotes = False  # keep "--flag" in generated help text as typed, not as an en dash
exclude_patterns = ["_build", "_ext", "figures/README.md"]

html_theme = "furo"
html_title = "rnnkit"
html_static_path = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_generate = False
# myst.domains: sphinx-argparse's domain cannot resolve "any" links, which MyST asks every domain about
suppress_warnings = ["myst.domains"]
