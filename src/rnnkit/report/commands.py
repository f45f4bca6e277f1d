"""The verbs of this package and of gradient-flow measurement: ``rnnkit report`` and
``rnnkit gradient-flow`` (parsers and thin command functions over the library)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core import rundir
from ..core.config import add_arguments, from_dict, overrides_from_args
from ..core.errors import RnnkitError
from ..core.fileio import check_writable


def add_parsers(sub) -> dict:
    """Add ``report`` and ``gradient-flow`` to the CLI's subparsers; returns ``{verb: command}``."""
    r = sub.add_parser("report", help="write one self-contained HTML page about a run (any task) or a tune folder",
                       description="Of a run: configuration, data split, loss curves against steps and wall time, "
                                   "learning rate, gradient norms, the bias/variance diagnosis, the task's own view "
                                   "(samples, translations, forecast, confusion matrix) and the test metrics. Of a "
                                   "folder written by rnnkit tune: the study's set-up, the best trial, importances, "
                                   "every trial's validation curve, Optuna's plots and the trials. One HTML page with "
                                   "its images embedded.")
    r.add_argument("run", type=Path, help="run directory, or the --out of rnnkit tune")
    r.add_argument("--out", type=Path, default=None, help="HTML file to write (default: RUN/report.html)")
    r.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    r.add_argument("--reference", type=float, default=None,
                   help="the diagnosis's reference error, as for rnnkit diagnose (default: the task's baseline)")
    r.add_argument("--no-diagnosis", dest="diagnosis", action="store_false",
                   help="leave out the bias/variance diagnosis (it trains the task's baseline)")

    g = sub.add_parser("gradient-flow", help="measure how the gradient of a last-step loss fades through time",
                       description="For a loss at the last step of a sequence, the norm of its gradient with respect to "
                                   "the hidden state at each earlier step, averaged over sequences, plotted on a log "
                                   "scale: of a trained language-model RUN, or of one model per --cells on --data "
                                   "(untrained, or trained --steps steps).")
    g.add_argument("run", type=Path, nargs="?", default=None, help="a language-model run directory (or use --cells)")
    g.add_argument("--cells", nargs="+", choices=["rnn", "lstm", "gru"], default=None,
                   help="measure fresh models of these cells on --data instead of a run")
    g.add_argument("--steps", type=int, default=0, help="--cells: train each model this many steps first (default: 0)")
    g.add_argument("--hidden-size", type=int, default=128, help="--cells: hidden units (default: 128)")
    g.add_argument("--layers", type=int, default=1, help="--cells: recurrent layers (default: 1)")
    g.add_argument("--batch-size", type=int, default=32, help="--cells with --steps: sequences per batch (default: 32)")
    g.add_argument("--length", type=int, default=100, help="sequence length: steps from the first input to the loss "
                                                           "(default: 100)")
    g.add_argument("--sequences", type=int, default=16, help="sequences averaged over (default: 16)")
    g.add_argument("--seed", type=int, default=0, help="seed of the models and of the sequences' places (default: 0)")
    g.add_argument("--out", type=Path, default=None,
                   help="PNG file for the plot (default: RUN/gradient_flow.png, or gradient_flow.png)")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    g.later(_data_arguments)  # rnnkit.cli.Parser: added when the verb is parsed (DataConfig's module imports numpy)
    return {"report": cmd_report, "gradient-flow": cmd_gradient_flow}


def _data_arguments(g: argparse.ArgumentParser) -> None:
    from ..text.textdata import DataConfig

    add_arguments(g, DataConfig, "data")


def cmd_report(args: argparse.Namespace) -> None:
    from ..tune.api import is_tune_folder
    from . import run_report

    if is_tune_folder(args.run):
        if args.reference is not None:
            raise RnnkitError("--reference is for a run's diagnosis; a tune folder's report has none "
                              "(report the best trial's run for one)")
        from .tune_report import write_tune_report

        print(f"report written to {write_tune_report(args.run, args.out)}")
        return
    check_writable(args.out or args.run / run_report.REPORT_FILE)  # before any measuring
    diagnosis = _diagnosis(args.run, args.reference, args.device) if args.diagnosis else None
    out = run_report.write_report(args.run, args.out, diagnosis=diagnosis, device=args.device)
    print(f"report written to {out}")


def _diagnosis(run: Path, reference: float | None, device: str) -> dict | None:
    """``rnnkit diagnose``'s measurement for the report, or None (with a note) where it cannot be made:
    a task without a baseline and no ``--reference``, or a run without a finished validation."""
    from ..diagnose.diagnosis import diagnose

    if not (run.is_dir() and rundir.is_run(run)):
        return None  # write_report names the problem
    try:
        return diagnose(run, reference=reference, device=device).to_dict()
    except RnnkitError as e:
        print(f"rnnkit: note: the report has no diagnosis: {e}", file=sys.stderr)
        return None


def cmd_gradient_flow(args: argparse.Namespace) -> None:
    from ..diagnose import gradient_flow

    data = overrides_from_args(args).get("data", {})
    if (args.run is None) == (args.cells is None):
        raise RnnkitError("gradient-flow measures either a run or --cells, not both" if args.run is not None
                          else "pass a run directory or --cells rnn lstm gru (with --data)")
    if args.run is not None and data:
        raise RnnkitError("--data and its options are for --cells; a run is measured on its own data")
    for name, least in (("length", 2), ("sequences", 1), ("hidden_size", 1), ("layers", 1), ("batch_size", 1)):
        if getattr(args, name) < least:
            raise RnnkitError(f"--{name.replace('_', '-')} must be at least {least}, got {getattr(args, name)}")
    if args.steps < 0:
        raise RnnkitError(f"--steps must be 0 or more, got {args.steps}")
    out = args.out or (args.run / "gradient_flow.png" if args.run is not None and args.run.is_dir()
                       else Path("gradient_flow.png"))
    check_writable(out)
    if args.run is not None:
        flow = gradient_flow.of_run(args.run, args.length, args.sequences, args.seed)
    else:
        from ..text.language_model import LMConfig

        cfg = from_dict(LMConfig, {"data": data, "rnn": {"hidden_size": args.hidden_size, "layers": args.layers,
                                                         "dropout": 0.0},
                                   "train": {"batch_size": args.batch_size, "seed": args.seed, "log_every": 10,
                                             "eval_every": max(args.steps, 1), "device": "cpu"}}, "options")
        flow = gradient_flow.of_cells(args.cells, cfg, args.steps, args.length, args.sequences, args.seed)
    flow.plot(out)
    if args.json:
        print(json.dumps({**flow.to_dict(), "plot": str(out)}))
        return
    print(f"gradient norm k steps back from a loss at the last of {flow.length} steps, mean of {flow.sequences} "
          f"sequences ({flow.source}):\n")
    print(flow.table())
    print(f"\nplot: {out}", file=sys.stderr)
