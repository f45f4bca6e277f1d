"""The search space: which options of a task's configuration a study varies, and over what.

A space is a TOML table ``[space]`` beside a base configuration, one entry per option, named
``section.option`` as in a config file (``"rnn.hidden_size"``; top-level options such as the
language model's ``model`` have no section)::

    [space]
    "rnn.cell" = { choices = ["lstm", "gru"] }          # categorical
    "train.lr" = { low = 3e-4, high = 1e-2, log = true } # a continuous range (log scale)
    "rnn.dropout" = { low = 0.0, high = 0.5, step = 0.1 } # a range on a grid of steps

Every entry is checked against the task's typed configuration (``tasks.py``) before any trial
runs, so a typo or a value of the wrong type is a one-line error, not a failed trial an hour in.
Each entry becomes one Optuna distribution; the grid sampler needs every range to have a step.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from ..core.config import _convert, _scalar_type, load_file, parse_scalar
from ..core.errors import RnnkitError
from ..tasks import TaskSpec

RANGE_KEYS = {"low", "high", "log", "step"}


@dataclass(frozen=True)
class Param:
    """One searched option: ``choices``, or a ``low``..``high`` range (``log`` scale or ``step``)."""

    key: str  # "section.option" (or "option" for a top-level one)
    type: type  # int, float, str or bool: the option's type in the config class
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    def distribution(self) -> optuna.distributions.BaseDistribution:
        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.type is int:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log,
                                                        step=int(self.step or 1))
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def suggest(self, trial: optuna.Trial) -> Any:
        """This option's value in ``trial`` (sampled, or fixed by an enqueued trial)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.type is int:
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list:
        """The values the grid sampler tries: the choices, or ``low, low + step, ..., high``."""
        if self.choices is not None:
            return list(self.choices)
        if self.step is None and self.type is not int:
            raise RnnkitError(f"space: {self.key!r} is a continuous range; the grid sampler needs a step "
                              f"(add step = ... to it) or choices, or use --sampler random, tpe or gp")
        step = self.step or 1
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        values = [self.low + i * step for i in range(n)]
        return [int(round(v)) for v in values] if self.type is int else [round(v, 12) for v in values]

    def to_json(self) -> dict:
        out: dict[str, Any] = {"key": self.key}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log, step=self.step)
        return out


@dataclass(frozen=True)
class Space:
    params: tuple[Param, ...]

    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {p.key: p.distribution() for p in self.params}

    def grid(self) -> dict[str, list]:
        """The grid sampler's search space: every option's values (their product is the grid)."""
        return {p.key: p.grid_values() for p in self.params}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask the trial for one value per option (the sampler, or an enqueued trial, decides)."""
        return {p.key: p.suggest(trial) for p in self.params}

    def to_json(self) -> list[dict]:
        return [p.to_json() for p in self.params]


def _fields(cls: type, prefix: str = "") -> dict[str, type]:
    out: dict[str, type] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(_fields(tp, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = tp
    return out


def options_of(spec: TaskSpec) -> dict[str, type]:
    """Every training option of a task as ``{"section.option": type}`` (``"option"`` at the top).

    The section of the task's use verb (sampling, searching, forecasting defaults) is left out:
    it does not change the trained model, so it cannot change the objective.
    """
    skip = {spec.use_section}
    hints = typing.get_type_hints(spec.config)
    out: dict[str, type] = {}
    for f in dataclasses.fields(spec.config):
        if f.name in skip:
            continue
        tp = hints[f.name]
        out.update(_fields(tp, f"{f.name}.") if dataclasses.is_dataclass(tp) else {f.name: tp})
    return out


def _choices_meta(config_cls: type, key: str) -> tuple | None:
    """The allowed values declared for a string option (``option(..., choices)``), if any."""
    cls, *path, name = [config_cls, *key.split(".")]
    for part in path:
        cls = typing.get_type_hints(cls)[part]
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return field.metadata.get("choices")


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """``{"rnn.cell": "gru"}`` -> ``{"rnn": {"cell": "gru"}}``: overrides for a config dict."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        *sections, name = key.split(".")
        d = out
        for s in sections:
            d = d.setdefault(s, {})
        d[name] = value
    return out


def _check_key(key: str, options: dict[str, type], where: str) -> None:
    if key not in options:
        raise RnnkitError(f"{where}: {key!r} is not an option of this task; valid options are "
                          f"{', '.join(sorted(options))}")


def _value(value: Any, tp: type, where: str, allowed: tuple | None) -> Any:
    converted = _convert(value, tp, where)
    if allowed and converted not in allowed:
        raise RnnkitError(f"{where}: unknown value {converted!r}; choose from {', '.join(map(str, allowed))}")
    return converted


def parse_param(key: str, entry: Any, spec: TaskSpec) -> Param:
    """Check one ``[space]`` entry against the option it names; one-line errors say how to fix it."""
    options = options_of(spec)
    where = f"space: {key!r}"
    _check_key(key, options, "space")
    base, _ = _scalar_type(options[key])
    if not isinstance(entry, dict):
        raise RnnkitError(f"{where}: expected a table such as {{ choices = [...] }} or {{ low = ..., high = ... }}, "
                          f"got {entry!r}")
    allowed = _choices_meta(spec.config, key)
    if "choices" in entry:
        if set(entry) != {"choices"}:
            raise RnnkitError(f"{where}: give either choices or low/high, not both")
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices:
            raise RnnkitError(f"{where}: choices must be a non-empty list of values")
        values = tuple(_value(v, base, where, allowed) for v in choices)
        if len(set(values)) != len(values):
            raise RnnkitError(f"{where}: choices repeat a value ({list(values)}); list each once")
        return Param(key, base, choices=values)
    unknown = set(entry) - RANGE_KEYS
    if unknown:
        raise RnnkitError(f"{where}: unknown field {sorted(unknown)[0]!r}; use choices, or low, high, log, step")
    if base not in (int, float):
        raise RnnkitError(f"{where}: a {base.__name__} option takes choices = [...], not a low/high range")
    if "low" not in entry or "high" not in entry:
        raise RnnkitError(f"{where}: a range needs both low and high")
    low, high = (_convert(entry[k], base, f"{where}.{k}") for k in ("low", "high"))
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise RnnkitError(f"{where}.log: expected true or false, got {log!r}")
    step = entry.get("step")
    if step is not None:
        step = _convert(step, base, f"{where}.step")
        if step <= 0:
            raise RnnkitError(f"{where}: step must be positive, got {step}")
        if log:
            raise RnnkitError(f"{where}: a range takes log = true or a step, not both")
    if low >= high:
        raise RnnkitError(f"{where}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise RnnkitError(f"{where}: a log range must be above 0 (low is {low}); raise low or drop log = true")
    return Param(key, base, low=low, high=high, log=log, step=step)


def from_table(table: Any, spec: TaskSpec, where: str = "space") -> Space:
    if not isinstance(table, dict) or not table:
        raise RnnkitError(f"{where}: expected a [space] table with at least one option, e.g. "
                          f"\"rnn.hidden_size\" = {{ choices = [256, 512] }}")
    return Space(tuple(parse_param(k, v, spec) for k, v in table.items()))


def load_space(path: Path, spec: TaskSpec) -> Space:
    """Read and check the ``[space]`` table of a TOML (or YAML/JSON) file."""
    if not Path(path).is_file():
        raise RnnkitError(f"--space: {path} not found; pass a TOML file with a [space] table")
    data = load_file(path)
    if set(data) != {"space"}:
        extra = sorted(set(data) - {"space"})
        raise RnnkitError(f"{path}: expected only a [space] table" + (f", found {extra[0]!r}" if extra else "")
                          + "; put the base options in the --config file")
    return from_table(data["space"], spec, f"{path}")


def from_json(items: list[dict], spec: TaskSpec) -> Space:
    """The space a study stored (see :meth:`Space.to_json`), checked again against this rnnkit."""
    table = {}
    for item in items:
        item = dict(item)
        key = item.pop("key")
        if "choices" not in item:
            item = {k: v for k, v in item.items() if v is not None and not (k == "log" and v is False)}
        table[key] = item
    return from_table(table, spec)


def parse_try(text: str, space: Space) -> dict[str, Any]:
    """``"rnn.hidden_size=768 train.lr=2e-3"`` -> ``{key: value}`` checked against the space.

    A hand-chosen trial sets options of the space only (the samplers learn from it), within
    their ranges or among their choices: Optuna cannot widen a running study's distributions.
    """
    params = {p.key: p for p in space.params}
    values: dict[str, Any] = {}
    for item in text.split():
        key, eq, raw = item.partition("=")
        if not eq or not key or not raw:
            raise RnnkitError(f"--try: {item!r} is not key=value; write e.g. --try \"rnn.hidden_size=512 train.lr=2e-3\"")
        if key not in params:
            raise RnnkitError(f"--try: {key!r} is not an option of the study's space; use one of {', '.join(params)}")
        p = params[key]
        where = f"--try {key}"
        value = _convert(parse_scalar(raw), p.type, where)
        if p.choices is not None and value not in p.choices:
            raise RnnkitError(f"{where}: {value!r} is not among the space's choices "
                              f"({', '.join(map(str, p.choices))}); Optuna cannot add a choice to a running study, "
                              f"so start a new study with it among the choices")
        if p.choices is None and not p.distribution()._contains(p.distribution().to_internal_repr(value)):
            raise RnnkitError(f"{where}: {value!r} is outside the space's range {p.low}..{p.high}"
                              + (f" (step {p.step})" if p.step else "") + "; start a new study with a wider range")
        values[key] = value
    if not values:
        raise RnnkitError("--try: give at least one key=value, e.g. --try \"train.lr=2e-3\"")
    return values
