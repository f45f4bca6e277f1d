"""What the reference pages are generated from, so that they cannot drift from the code.

* ``parser_<task>()``: rnnkit's real argument parser (``cli.build_parser``) for sphinx-argparse,
  with every option group added: the CLI adds a task's option groups only when a verb is parsed or
  shown (``Parser.later``, so that ``rnnkit --help`` imports no torch), and sphinx-argparse reads the
  parser without doing either, so each subparser's help is formatted once first.
* the ``rnnkit-options`` directive: one table per config section of every task in the registry,
  read from the typed dataclasses (``core/config.option``: default, help, choices).
"""

from __future__ import annotations

import dataclasses
import typing

from docutils import nodes
from docutils.parsers.rst import Directive

from rnnkit import tasks
from rnnkit.cli import build_parser
from rnnkit.core.config import flag_name


def _complete(parser):
    """``parser`` with the deferred option groups of every verb added (formatting help adds them)."""
    parser.format_help()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for sub in getattr(action, "choices", {}).values():
            sub.format_help()
    return parser


def parser_lm():
    return _complete(build_parser("lm"))


def parser_translate():
    return _complete(build_parser("translate"))


def parser_forecast():
    return _complete(build_parser("forecast"))


def parser_audio():
    return _complete(build_parser("audio"))


def parser_classify():
    return _complete(build_parser("classify"))


def parser_tag():
    return _complete(build_parser("tag"))


def _type_name(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args and len(args) < len(typing.get_args(tp)):
        return f"{_type_name(args[0])} or empty"
    return getattr(tp, "__name__", str(tp))


def _cell(text: str, literal: bool = False) -> nodes.entry:
    inner = nodes.literal(text=text) if literal else nodes.Text(text)
    return nodes.entry("", nodes.paragraph("", "", inner))


def _table(rows: list[list[nodes.entry]], header: list[str], widths: list[int]) -> nodes.table:
    group = nodes.tgroup(cols=len(header))
    group += [nodes.colspec(colwidth=w) for w in widths]
    group += nodes.thead("", nodes.row("", *[_cell(h) for h in header]))
    group += nodes.tbody("", *[nodes.row("", *cells) for cells in rows])
    return nodes.table("", group, classes=["rnnkit-options"])


def section_rows(cls: type, section: str) -> list[list[nodes.entry]]:
    """One row per field: config-file key, flag, type, default, what it does (and its choices)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        help_text = f.metadata.get("help", "")
        if f.metadata.get("choices"):
            help_text += f" (one of: {', '.join(f.metadata['choices'])})"
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rows.append([_cell(f"{section}.{f.name}", literal=True), _cell(flag_name(f.name), literal=True),
                     _cell(_type_name(hints[f.name])), _cell(repr(default), literal=True), _cell(help_text)])
    return rows


class OptionsDirective(Directive):
    """``rnnkit-options TASK``: the tables of every config section of that task."""

    required_arguments = 1
    has_content = False

    def run(self):
        spec = tasks.TASKS[self.arguments[0]]
        hints = typing.get_type_hints(spec.config)
        top = [f for f in dataclasses.fields(spec.config) if not dataclasses.is_dataclass(hints[f.name])]
        out = []
        if top:  # options outside any section (lm's model = "rnn" | "ngram")
            rows = [[_cell(f.name, literal=True), _cell(flag_name(f.name), literal=True), _cell(_type_name(hints[f.name])),
                     _cell(repr(f.default), literal=True), _cell(f.metadata.get("help", ""))] for f in top]
            out += [nodes.rubric(text="top level: flags of rnnkit train"),
                    _table(rows, ["config file", "flag", "type", "default", "what"], [14, 14, 8, 10, 54])]
        for f in dataclasses.fields(spec.config):
            cls = hints[f.name]
            if not dataclasses.is_dataclass(cls):
                continue
            verb = spec.use_verb if f.name == spec.use_section else "train"
            title = nodes.rubric(text=f"[{f.name}]: flags of rnnkit {verb}")
            out += [title, _table(section_rows(cls, f.name), ["config file", "flag", "type", "default", "what"],
                                  [14, 14, 8, 10, 54])]
        return out


def setup(app):
    app.add_directive("rnnkit-options", OptionsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
