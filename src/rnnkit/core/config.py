"""Typed dataclass configuration: strict loading, validation helpers, CLI flags.

Every option of rnnkit is a field of a dataclass, declared once with its default and its
help text (``option(default, "help")``). The same declaration gives

* the command-line flag (``hidden_size`` -> ``--hidden-size``, help from the field),
* the key in a TOML or YAML config file (unknown keys are errors, never ignored),
* the JSON written into every run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import RnnkitError

T = TypeVar("T")


def option(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """Declare a config field with its default, its help text and (for strings) its choices."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def require(ok: bool, name: str, message: str) -> None:
    """Raise a one-line error naming the option (as its CLI flag) when ``ok`` is false."""
    if not ok:
        raise RnnkitError(f"{flag_name(name)}: {message}")


def check_encoding(encoding: str) -> None:
    """An ``--encoding`` must name a text codec Python knows."""
    import codecs

    try:
        codecs.lookup(encoding)
        "\n".encode(encoding)  # also rejects codecs that are not text encodings (rot13)
    except LookupError:
        raise RnnkitError(f"--encoding: unknown encoding {encoding!r}; use e.g. utf-8 or latin-1")


def check_split_fractions(val_fraction: float, test_fraction: float) -> None:
    """Validation and test fractions must each be in (0, 1) and leave some data for training."""
    require(0 < val_fraction < 1, "val_fraction", f"must be in (0, 1), got {val_fraction}")
    require(0 < test_fraction < 1, "test_fraction", f"must be in (0, 1), got {test_fraction}")
    require(val_fraction + test_fraction < 1, "val_fraction",
            "validation and test fractions together must leave some data for training")


def check_choices(cfg: Any) -> None:
    """Check every string field declared with choices; call from ``__post_init__``."""
    for f in dataclasses.fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices and value not in choices:
            raise RnnkitError(
                f"{flag_name(f.name)}: unknown value {value!r}; choose one of {', '.join(choices)}"
            )


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _scalar_type(tp: Any) -> tuple[type, bool]:
    """(base type, optional?) of an annotation such as ``int | None``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _convert(value: Any, tp: Any, where: str) -> Any:
    base, optional = _scalar_type(tp)
    if value is None:
        if optional:
            return None
        raise RnnkitError(f"{where}: must not be empty")
    if base is bool:
        if isinstance(value, bool):
            return value
        raise RnnkitError(f"{where}: expected true or false, got {value!r}")
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise RnnkitError(f"{where}: expected a whole number, got {value!r}")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RnnkitError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise RnnkitError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r}")  # a bug in a config class


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build a (possibly nested) config dataclass from plain data; unknown keys are errors."""
    if not isinstance(data, dict):
        raise RnnkitError(f"{where}: expected a table of options, got {type(data).__name__}")
    hints = _field_types(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RnnkitError(
            f"{where}: unknown option {unknown[0]!r}; known options are {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, value, f"{where}.{name}")
        else:
            kwargs[name] = _convert(value, tp, f"{where}.{name}")
    return cls(**kwargs)


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) config file into plain data."""
    path = Path(path)
    if not path.is_file():
        raise RnnkitError(f"config file {path} not found; pass an existing .toml or .yaml file")
    try:
        if path.suffix == ".toml":
            import tomllib

            with path.open("rb") as f:
                data = tomllib.load(f)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            with path.open(encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise RnnkitError(f"config file {path}: unknown format; use .toml, .yaml or .json")
    except RnnkitError:
        raise
    except Exception as e:  # parse errors from tomllib / yaml / json
        raise RnnkitError(f"config file {path} could not be parsed: {str(e).splitlines()[0]}")
    if not isinstance(data, dict):
        raise RnnkitError(f"config file {path}: expected a table of options at the top level")
    return data


def add_arguments(parser: argparse.ArgumentParser | Any, cls: type, section: str) -> None:
    """Add one ``--flag`` per field of ``cls``; parsed values land as ``section.field``.

    Defaults are ``None`` so that only flags the user typed override the config file.
    """
    hints = _field_types(cls)
    group = parser.add_argument_group(section)
    for f in dataclasses.fields(cls):
        base, _ = _scalar_type(hints[f.name])
        kw: dict[str, Any] = {"dest": f"{section}.{f.name}", "default": None}
        help_text = f.metadata.get("help", "")
        default = f.default
        if base is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = base
            kw["metavar"] = base.__name__.upper()
            if f.metadata.get("choices"):
                kw["choices"] = f.metadata["choices"]
                del kw["metavar"]
        kw["help"] = f"{help_text} (default: {default})".replace("%", "%%")  # argparse formats help with %
        group.add_argument(flag_name(f.name), **kw)


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Collect the flags the user typed as ``{section: {field: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if "." in key and value is not None:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
    return out


def parse_scalar(text: str) -> Any:
    """A value typed on a command line, read as TOML reads it (``2e-3``, ``768``, ``true``,
    ``[1, 2]``); a bare word is a string (``gru``)."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def settings(items: list[str], where: str = "--set") -> dict[str, dict[str, Any]]:
    """``["model.cell=lstm", "train.lr=2e-3"]`` -> ``{"model": {"cell": "lstm"}, "train": {"lr": 0.002}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not (eq and dot and section and name and raw):
            raise RnnkitError(f"{where}: {item!r} is not SECTION.OPTION=VALUE; write e.g. {where} train.lr=2e-3")
        out.setdefault(section, {})[name] = parse_scalar(raw)
    return out


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base``."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out
