"""The ``diagnose`` and ``learning-curve`` verbs: parsers and thin command functions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import tasks
from ..core.config import from_dict, load_file, merge, overrides_from_args
from ..core.errors import RnnkitError
from . import bias_variance
from .diagnosis import diagnose, format_text


def _finite_float(text: str) -> float:
    """argparse type for --reference: a number; a non-finite one is refused with one line later."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (an error in the task's unit), got {text!r}")


def add_parsers(sub, task: str = tasks.DEFAULT) -> dict:
    """Add the verbs to ``sub``; ``task`` picks the training options of ``learning-curve``."""
    d = sub.add_parser("diagnose", help="bias/variance verdict of a run, with advice as rnnkit command lines",
                       description="Measure a run's error on a sample of its training split (evaluation mode), on "
                                   "its validation split, and a reference (--reference, or the task's baseline), and "
                                   "print the verdict of improving-your-rnn.md: high bias, high variance, both, or a "
                                   "good fit, with what to try next.")
    d.add_argument("run", type=Path, help="run directory of any task")
    d.add_argument("--reference", type=_finite_float, default=None,
                   help="the best achievable error in the task's unit (e.g. human error); default: the task's baseline "
                        "(lm: best Kneser-Ney n-gram; forecast: seasonal naive; audio: a linear classifier; "
                        "translate: none, pass one)")
    d.add_argument("--bias-threshold", type=float, default=None, help="avoidable bias above this is high "
                   "(default: the task's: lm and translate 5%% of the validation error, forecast 0.1 MASE, audio 2 points)")
    d.add_argument("--variance-threshold", type=float, default=None, help="variance above this is high (default: as bias)")
    d.add_argument("--learning-curve", type=Path, default=None, metavar="DIR",
                   help="an rnnkit learning-curve output whose prediction goes into the advice")
    d.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    d.add_argument("--json", action="store_true", help="print one JSON object")

    spec = tasks.TASKS[task]
    lc = sub.add_parser("learning-curve", help="train at several fractions of the data; plot train and validation error",
                        description="Train the same configuration and budget on each fraction of the training split "
                                    "with several seeds, plot train (evaluation mode) and validation error against the "
                                    "fraction with their spread, write CSV/JSON, and say whether more data is likely "
                                    f"to help. These are the training options of --task {spec.name}.")
    lc.add_argument("--task", choices=sorted(tasks.TASKS), default=None, help=f"the task (default {tasks.DEFAULT})")
    lc.add_argument("--config", type=Path, help="TOML, YAML or JSON file with the training options (flags override it); "
                                                "a run's config.json works")
    lc.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0], metavar="F",
                    help="fractions of the training split, each in (0, 1] (default: 0.1 0.25 0.5 1)")
    lc.add_argument("--seeds", type=int, default=3, help="seeds per fraction (default: 3)")
    lc.add_argument("--out", type=Path, default=Path("runs/learning-curve"),
                    help="output folder: learning_curve.json/.csv/.png and the runs (default: runs/learning-curve)")
    lc.add_argument("--json", action="store_true", help="print one JSON object")
    lc.later(spec.add_arguments)  # rnnkit.cli.Parser: the task's config is imported when the verb is parsed
    return COMMANDS


def cmd_diagnose(args: argparse.Namespace) -> None:
    if args.reference is not None:
        bias_variance.check_reference(args.reference)
    d = diagnose(args.run, args.reference, args.bias_threshold, args.variance_threshold, args.device,
                 args.learning_curve)
    print(json.dumps(d.to_dict()) if args.json else format_text(d))


def cmd_learning_curve(args: argparse.Namespace) -> None:
    from .learning_curve import learning_curve

    spec = tasks.TASKS[args.task or tasks.DEFAULT]
    given = merge(load_file(args.config) if args.config else {}, overrides_from_args(args))
    if not given.get("data", {}).get("data"):
        raise RnnkitError("learning-curve needs data: pass --data or a --config that names it")
    config = from_dict(spec.config, given, str(args.config or "options"))
    say = None if args.json else (lambda line: print(line, flush=True))
    curve = learning_curve(spec, config, args.out, args.fractions, args.seeds, on_run=say)
    if args.json:
        print(json.dumps(curve.to_dict()))
        return
    print(f"\nfraction | train ({curve.unit}) | validation ({curve.unit})")
    for r in curve.summary:
        print(f"{r['fraction']:>8g} | {r['train_mean']:.4f} ± {r['train_std']:.4f} | "
              f"{r['validation_mean']:.4f} ± {r['validation_std']:.4f}")
    print(f"\n{curve.conclusion}")
    print(f"plot: {args.out / 'learning_curve.png'}; numbers: {args.out / 'learning_curve.csv'}, "
          f"{args.out / 'learning_curve.json'}")


COMMANDS = {"diagnose": cmd_diagnose, "learning-curve": cmd_learning_curve}
