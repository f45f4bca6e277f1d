"""The ``tune`` and ``tune-worker`` verbs: thin parsers over :mod:`rnnkit.tune.api`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import tasks
from ..core.errors import RnnkitError


def _tune_arguments(t: argparse.ArgumentParser) -> None:
    from . import api
    from .study import PRUNERS, SAMPLERS, SamplerConfig

    t.add_argument("--out", type=Path, default=Path("runs/tune"), help="the study's folder (default: runs/tune)")
    t.add_argument("--task", choices=sorted(tasks.TASKS), default=None, help=f"task to tune (default: {tasks.DEFAULT})")
    t.add_argument("--config", type=Path, help="base configuration (TOML/YAML, as for rnnkit train)")
    t.add_argument("--space", type=Path, help="TOML file with a [space] table: \"section.option\" = "
                                              "{ choices = [...] } or { low = .., high = .., log = true | step = .. }")
    t.add_argument("--sampler", choices=SAMPLERS, default=None,
                   help=f"how trials are chosen (default: {SamplerConfig.sampler}; may change between calls)")
    t.add_argument("--trials", type=int, default=None,
                   help=f"trials the study should reach in all (default: the grid's size for grid, else "
                        f"{api.DEFAULT_TRIALS})")
    t.add_argument("--trial-time", type=float, default=None, metavar="SECONDS",
                   help="training seconds per trial (train.max_time); or set a step budget in the base config")
    t.add_argument("--metric", default=None,
                   help="objective: val_loss (the trainer's best validation score, default: the loss, or the error where "
                        "train.select is error, as by default for classify and tag) or a validation metric of the task "
                        "(lm: accuracy, bits_per_char, ...; translate: bleu, chrf; forecast: mase, smape; audio: accuracy; classify: accuracy, macro_f1; tag: accuracy, f1 (entity spans))")
    t.add_argument("--prune", choices=PRUNERS, default=None,
                   help=f"stop hopeless trials early from their validation losses (default: {SamplerConfig.prune})")
    t.add_argument("--startup-trials", type=int, default=None,
                   help=f"tpe and gp: random trials before the model guides the search (default: "
                        f"{SamplerConfig.startup_trials})")
    t.add_argument("--seed", type=int, default=None, help=f"sampler seed (default: {SamplerConfig.seed})")
    t.add_argument("--workers", type=int, default=1,
                   help="worker processes on this machine, sharing the study (each gets cores/N threads)")
    t.add_argument("--storage", default=None,
                   help="where the study lives: postgresql://user:pass@host/db for workers on several machines "
                        "(default: the journal file OUT/study.journal)")
    t.add_argument("--study", default=None, help="the study's name in --storage (default: the --out folder's name)")
    t.add_argument("--try", dest="tries", action="append", default=[], metavar="\"KEY=VALUE ...\"",
                   help="add a hand-chosen trial that runs next, e.g. \"rnn.hidden_size=512 train.lr=2e-3\" "
                        "(repeatable)")
    t.add_argument("--show", action="store_true", help="print the study (trials, best, importances) and stop")


def add_parsers(sub) -> dict:
    t = sub.add_parser(
        "tune", help="search hyperparameters of any task (grid, random, hand, tpe, gp) with Optuna",
        description="Run a study: each trial trains the task with the base --config and values from the --space "
                    "in OUT/trials/NNN. Run again on the same --out to continue it (a killed tune resumes), "
                    "--try to add a hand-chosen trial, --show to print it.")
    t.later(_tune_arguments)  # rnnkit.cli.Parser: added when the verb is parsed (their defaults import Optuna)

    w = sub.add_parser("tune-worker", help="join a shared study and run its trials (any machine)",
                       description="Run trials of a study started with rnnkit tune --storage URL --study NAME, "
                                   "until it reaches its number of trials.")
    w.add_argument("--storage", required=True, help="the study's storage: postgresql://... or a journal file path")
    w.add_argument("--study", required=True, help="the study's name")
    w.add_argument("--out", type=Path, default=Path("runs/tune"),
                   help="folder for this worker's trial runs (trials/NNN; default: runs/tune)")
    w.add_argument("--threads", type=int, default=None, help="PyTorch threads (default: all cores)")
    w.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)  # set by rnnkit tune --workers
    w.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    w.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return {"tune": cmd_tune, "tune-worker": cmd_tune_worker}


def cmd_tune(args: argparse.Namespace) -> None:
    from . import api

    if args.show:
        given = [f for f, v in (("--try", args.tries), ("--space", args.space), ("--config", args.config),
                                ("--trials", args.trials), ("--sampler", args.sampler)) if v]
        if given:
            raise RnnkitError(f"--show only prints the study; drop {', '.join(given)}")
        print(api.show(args.out))
        return
    sampler = {k: v for k, v in (("sampler", args.sampler), ("prune", args.prune), ("seed", args.seed),
                                 ("startup_trials", args.startup_trials)) if v is not None}
    s = api.tune(args.out, task=args.task, config=args.config, space=args.space, metric=args.metric,
                 trial_time=args.trial_time, trials=args.trials, sampler=sampler, workers_n=args.workers,
                 storage=args.storage, study_name=args.study, tries=args.tries)
    counts = ", ".join(f"{n} {state}" for state, n in s.counts.items())
    print(f"study {s.study}: {counts} (target {s.target})")
    if s.stopped:
        print(f"stopped early: {s.stopped}")
    if s.best_number is not None:
        print(f"best: trial {s.best_number}, {s.objective} {s.best_value:.6g}; its run: "
              f"{s.out / 'trials' / f'{s.best_number:03d}'}")
    print(f"written: {', '.join(str(f) for f in s.files)}")
    for note in s.notes:
        print(f"note: {note}")
    if s.best_number is not None:
        print(f"next: rnnkit train --task {s.task} --config {s.out / 'best.toml'} --out runs/best\n"
              f"      rnnkit tune --out {s.out} --show")


def cmd_tune_worker(args: argparse.Namespace) -> None:
    from . import api
    from .results import row

    def line(study, t) -> None:
        if not args.quiet:
            r = row(t, list(t.params))
            print(f"trial {r['number']} {r['state']}: value {r['value']}  {t.params}", flush=True)

    stopped = api.join(args.storage, args.study, args.out, args.threads, args.worker_index, on_trial=line,
                       parent=args.parent)
    if not args.quiet:
        print(f"study {args.study}: {'stopped early: ' + stopped if stopped else 'reached its target'}; this worker's runs are in {args.out / 'trials'}",
              file=sys.stderr)
