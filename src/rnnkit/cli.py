"""The ``rnnkit`` command: a thin layer of verbs over the Python API.

    rnnkit demo                                  train on the built-in corpus for ~2 minutes
    rnnkit train --data PATH_OR_NAME --out RUN   train a language model (--task translate: a translator)
    torchrun --nproc-per-node N -m rnnkit train ...   the same, data-parallel over N processes (or GPUs)
    rnnkit sample RUN                            generate text
    rnnkit fill RUN "i am ___ hungry"            fill a blank from both sides (--objective infill runs)
    rnnkit translate RUN "sentence" ...          translate sentences (or standard input)
    rnnkit forecast RUN --plot f.png             forecast a series from its end (--task forecast runs)
    rnnkit backtest --task forecast --data CSV   rolling-origin backtest against baselines
    rnnkit evaluate RUN --split test             score a split (any task)
    rnnkit compare --data PATH_OR_NAME           baselines and recurrent models side by side
    rnnkit report RUN                            one self-contained HTML page about a run (any task)
    rnnkit gradient-flow RUN | --cells rnn lstm  gradient norm through time, per step back
    rnnkit tune --config B --space S --out DIR   search hyperparameters of any task (Optuna); tune-worker joins
    rnnkit diagnose RUN                          bias/variance verdict and advice (any task)
    rnnkit learning-curve --data PATH_OR_NAME    train and validation error against data size

``train`` and ``evaluate`` work on every task of the registry (``tasks.py``): ``--task`` picks
it for a new run, the checkpoint's ``kind`` for an existing one.

Errors the user can fix print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

# Only light modules here: a verb imports the task code it runs (and with it torch), so that
# `rnnkit --help` answers at once. The option groups read from config classes that live beside torch
# code are added when their verb is parsed (Parser.later).
from . import tasks
from .core import rundir
from .core.config import add_arguments, from_dict, load_file, merge, overrides_from_args
from .core.errors import RnnkitError
from .core.fileio import atomic_write_bytes
from .diagnose import commands as diagnose_commands
from .export import commands as export_commands
from .text.presets import PRESETS, preset
from .report import commands as report_commands
from .serve import commands as serve_commands
from .tune import commands as tune_commands

if TYPE_CHECKING:
    from .text.api import TrainResult
    from .translate.task import SearchConfig


def _train_parser(sub, spec: tasks.TaskSpec) -> None:
    p = sub.add_parser("train", help="train a model of any task (--task)",
                       description=f"Train a model; these are the options of --task {spec.name}. "
                                   f"Other tasks: {', '.join(f'rnnkit train --task {n} --help' for n in tasks.TASKS if n != spec.name)}.")
    p.add_argument("--task", choices=sorted(tasks.TASKS), default=None,
                   help=f"what to learn: lm (a language model of a text), translate (sentence pairs), forecast "
                        f"(a time series in a CSV file), audio (a folder of labelled WAV clips), classify "
                        f"(labelled texts or numeric sequences in a file) or tag (sentences with a tag per token: "
                        f"CoNLL-U or CoNLL columns); default "
                        f"{tasks.DEFAULT}, or the task of the run when resuming")
    p.add_argument("--out", required=True, type=Path, help="run directory to create (checkpoints, metrics, config)")
    p.add_argument("--config", type=Path, help="TOML or YAML file with the same options (flags override it)")
    if spec.name == "lm":
        p.add_argument("--model", choices=["rnn", "ngram"], default=None,
                       help="model family: rnn (recurrent) or ngram (counted; see --order, --smoothing); default rnn")
        p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="start from a named setup: seed = the seed article's Keras SimpleRNN (config file and flags override it)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (the original command line is accepted; "
                        "only budget options may change)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.later(spec.add_arguments)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (the usage is one ``--help`` away), and flags
    that need a task's code are added (``later``) only when their verb is parsed or shown: the config
    classes they come from live beside torch code, which ``rnnkit --help`` should not import."""

    def later(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Call ``add(self)`` before this parser first parses or prints its help."""
        self.__dict__.setdefault("_later", []).append(add)

    def _add_deferred(self) -> None:
        for add in self.__dict__.pop("_later", []):
            add(self)

    def parse_known_args(self, args=None, namespace=None):
        self._add_deferred()
        if self.__dict__.get("intermixed") and not self.__dict__.get("_mixing"):
            # RUN, then TEXT...: texts after a flag too (``rnnkit tag RUN --json "text"``), which plain argparse refuses
            self._mixing = True
            try:
                return super().parse_known_intermixed_args(args, namespace)
            finally:
                self._mixing = False
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._add_deferred()
        return super().format_help()

    def error(self, message: str):
        self.exit(2, f"rnnkit: error: {message} (see {self.prog} --help)\n")


def _flags(ref: str, section: str) -> Callable[[argparse.ArgumentParser], None]:
    """Adds the flags of config class ``ref`` (``"module:Class"``, imported then) as group ``section``."""
    return lambda parser: add_arguments(parser, tasks.resolve(ref), section)


def _demo_data_argument(d: argparse.ArgumentParser) -> None:
    from .text.corpora import BUILTIN  # imports urllib's HTTP client

    d.add_argument("--data", default=BUILTIN, help=f"text file or corpus name (default: {BUILTIN}, built in)")


def _split_argument(e: argparse.ArgumentParser) -> None:
    from .text.textdata import SPLITS  # imports numpy

    e.add_argument("--split", choices=SPLITS, default="test", help="which split (default: test)")


def _compare_arguments(c: argparse.ArgumentParser) -> None:
    from .text.compare import CompareConfig
    from .text.textdata import DataConfig

    c.add_argument("--out", type=Path, default=Path("runs/compare"), help="output folder (default: runs/compare)")
    c.add_argument("--budget", type=float, default=CompareConfig.budget,
                   help=f"training seconds per model (default: {CompareConfig.budget:g})")
    c.add_argument("--models", nargs="+", default=list(CompareConfig.models), metavar="MODEL",
                   help=f"models to compare (default: {' '.join(CompareConfig.models)}); also trigram, <N>gram, "
                        f"<N>gram-addk, rnn+ngram, gru+ngram")
    c.add_argument("--seed", type=int, default=CompareConfig.seed, help="random seed for every model")
    c.add_argument("--device", default=CompareConfig.device, help="cpu, cuda or auto")
    c.add_argument("--sample-length", type=int, default=CompareConfig.sample_length,
                   help="characters/words sampled per model")
    add_arguments(c, DataConfig, "data")


def build_parser(task: str = tasks.DEFAULT) -> argparse.ArgumentParser:
    """The whole command line; ``task`` picks the option groups of ``train``."""
    parser = Parser(prog="rnnkit", description="Recurrent neural networks for sequences.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)

    d = sub.add_parser("demo", help="train a character model on the built-in corpus and show samples")
    d.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory (default: runs/demo)")
    d.add_argument("--max-time", type=float, default=120.0, help="training seconds (default: 120)")
    d.later(_demo_data_argument)

    _train_parser(sub, tasks.TASKS[task])

    s = sub.add_parser("sample", help="generate text from a trained model")
    s.add_argument("run", type=Path, help="run directory or checkpoint file")
    s.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    s.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    s.add_argument("--no-mix", dest="mix", action="store_false",
                   help="use the recurrent model alone, without the n-gram it was mixed with after training")
    s.add_argument("--stats", action="store_true",
                   help="also report how much of the samples is copied from the training text, and their diversity")
    s.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                        "onnxruntime; the same next-token distributions, drawn by numpy's generator)")
    s.later(_flags("rnnkit.text.sampling:SampleConfig", "sample"))

    fl = sub.add_parser("fill", help="fill a blank ___ in a text from both sides (--objective infill runs)",
                        description="Print the most likely fillers of the blank ___ (one word, or one character for a "
                                    "character-level run) with their probabilities, read from the text on both sides.")
    fl.add_argument("run", type=Path, help="run directory or checkpoint file of a run trained with --objective infill")
    fl.add_argument("texts", nargs="+", metavar="TEXT", help="text with one blank ___, e.g. \"i am ___ hungry\"")
    fl.add_argument("--top-k", type=int, default=5, help="how many fillers to print (default: 5)")
    fl.add_argument("--json", action="store_true", help="print one JSON object per text")
    fl.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    fl.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    fl.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                         "onnxruntime; the same fillers)")

    c = sub.add_parser("compare", help="train several models on the same data and budget; table and plot",
                       description="Train unigram, n-gram, the seed's model and recurrent models on the same data "
                                   "and split under the same time budget, and compare them on the test split.")
    c.later(_compare_arguments)

    e = sub.add_parser("evaluate", help="score a trained model on a split of its corpus")
    e.add_argument("run", type=Path, help="run directory")
    e.later(_split_argument)
    e.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    e.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    e.add_argument("--no-mix", dest="mix", action="store_false",
                   help="score the recurrent model alone, without the n-gram (language models) or TF-IDF classifier "
                        "(text classifiers) it was mixed with after training")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--beam", type=int, default=None, help="translation: beam size (1 = greedy; default: the run's, 5)")
    e.add_argument("--length-penalty", type=float, default=None, help="translation: beam search length penalty alpha")
    e.add_argument("--season", type=int, default=None,
                   help="forecast: the season of MASE's seasonal naive scale (default: the data's, 12 for monthly)")
    e.add_argument("--plot", type=Path, default=None, metavar="OUT.png",
                   help="audio, classify and tag: draw the confusion matrix (tag: of the 20 most frequent tags)")

    cl = sub.add_parser("classify", help="label WAV files with a trained audio classifier",
                        description="Label WAV files (a folder: every WAV file in it) with a trained audio classifier.")
    cl.add_argument("run", type=Path, help="run directory or checkpoint file")
    cl.add_argument("files", nargs="+", type=Path, metavar="FILE_OR_DIR", help="WAV files or folders of them")
    cl.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    cl.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    cl.add_argument("--json", action="store_true",
                    help='print one JSON object per file and label: {"file", "label", "probability"}')
    cl.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                         "onnxruntime and numpy; the same labels)")
    cl.later(_flags("rnnkit.audio.task:ClassifyConfig", "classify"))

    if task == "audio":
        cv = sub.add_parser("crossval", help="leave-one-group-out cross-validation of an audio classifier",
                            description="Train one model per group (e.g. speaker) with that group held out, and "
                                        "print each group's test accuracy, the mean and the worst.")
        cv.add_argument("--task", choices=["audio"], required=True, help="the task to cross-validate (audio)")
        cv.add_argument("--folds", choices=["group"], default="group", help="group: leave one group out (default)")
        cv.add_argument("--out", type=Path, default=Path("runs/crossval"), help="folder for the runs (default: runs/crossval)")
        cv.add_argument("--config", type=Path, help="TOML or YAML file with the options (flags override it)")
        cv.add_argument("--json", action="store_true", help="print one JSON object")
        cv.later(tasks.TASKS["audio"].add_arguments)

    pr = sub.add_parser("predict", help="label sequences (texts, or a file) with a trained sequence classifier",
                        description="Label each text given as an argument, or each example of --input FILE (any "
                                    "format of training, with or without labels): one line per input.")
    pr.add_argument("run", type=Path, help="run directory or checkpoint file")
    pr.add_argument("texts", nargs="*", metavar="TEXT", help="texts to label (or --input FILE)")
    pr.intermixed = True
    pr.add_argument("--input", type=Path, default=None, metavar="FILE", help="a file of sequences to label")
    pr.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    pr.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    pr.add_argument("--json", action="store_true",
                    help='print one JSON object per input: {"input" or "id", "label", "probability", "top"}')
    pr.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                         "onnxruntime; the same labels)")
    pr.later(_flags("rnnkit.classify.task:PredictConfig", "predict"))

    tg = sub.add_parser("tag", help="tag every token of texts or of a file with a trained sequence tagger",
                        description="Tag each text given as an argument, or the sentences of --input FILE. Raw text "
                                    "(arguments, --format text: each line) is split into sentences after . ! ? and "
                                    "into tokens as Universal Dependencies English does (punctuation apart, clitics "
                                    "like n't 's 'm apart; numbers, URLs, e-mail addresses, @mentions and #hashtags "
                                    "whole); see rnnkit.tag.tokenize. CoNLL-U and CoNLL input keep their tokens and "
                                    "come back in the same layout with the predicted tags in the tag column.")
    tg.add_argument("run", type=Path, help="run directory or checkpoint file")
    tg.add_argument("texts", nargs="*", metavar="TEXT", help="raw texts to tag (or --input FILE)")
    tg.intermixed = True
    tg.add_argument("--input", type=Path, default=None, metavar="FILE", help="a file to tag")
    tg.add_argument("--format", choices=["auto", "text", "conllu", "conll", "json"], default="auto",
                    help="--input's format: text (raw, each line), conllu, conll, json (JSON Lines: {\"tokens\": [...]} "
                         "or {\"text\": \"...\"}); auto: from the extension (.conllu, .conll, .jsonl), else text")
    tg.add_argument("--output", type=Path, default=None, metavar="FILE", help="write the result here (default: print it)")
    tg.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    tg.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    tg.add_argument("--json", action="store_true",
                    help='text and json input: print one JSON object per sentence: {"tokens", "tags", "spans"}')
    tg.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                         "onnxruntime; the same tags)")
    tg.later(_flags("rnnkit.tag.task:TagUseConfig", "tag"))

    fc = sub.add_parser("forecast", help="forecast a series from its end with a trained forecaster",
                        description="Forecast the steps after the last point of the run's series, with 80%% and 95%% "
                                    "intervals.")
    fc.add_argument("run", type=Path, help="run directory or checkpoint file")
    fc.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    fc.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    fc.add_argument("--csv", type=Path, default=None, metavar="OUT.csv", help="also write the forecast to this CSV file")
    fc.add_argument("--plot", type=Path, default=None, metavar="OUT.png",
                    help="draw history, forecast and intervals to this PNG file")
    fc.add_argument("--json", action="store_true", help="print one JSON object per forecast step")
    fc.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                         "onnxruntime; the same forecasts)")
    fc.later(_flags("rnnkit.forecast.task:ForecastUseConfig", "forecast"))

    if task == "forecast":
        bt = sub.add_parser("backtest", help="rolling-origin backtest of a forecaster against baselines",
                            description="Train on everything before each of --origins origins at the end of the series, "
                                        "forecast the next --horizon points, and score rnnkit's model against naive, "
                                        "seasonal naive, drift, AR(p) (and AutoETS, AutoARIMA with rnnkit[forecast]).")
        bt.add_argument("--task", choices=["forecast"], required=True, help="the task to backtest (forecast)")
        bt.add_argument("--origins", type=int, default=5, help="forecast origins at the end of the series (default: 5)")
        bt.add_argument("--season", type=int, default=None,
                        help="season of seasonal naive and of MASE's scale (default: the data's, 12 for monthly)")
        bt.add_argument("--out", type=Path, default=Path("runs/backtest"),
                        help="folder for the tables, the plot and each origin's run (default: runs/backtest)")
        bt.add_argument("--config", type=Path, help="TOML or YAML file with the model's options (flags override it)")
        bt.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
        bt.add_argument("--intervals", choices=["model", "conformal"], default=None,
                        help="rnnkit's intervals: model or conformal (default: conformal); both are scored")
        bt.add_argument("--levels", default=None, help="comma-separated interval levels in percent (default: 80,95)")
        bt.later(tasks.TASKS["forecast"].add_arguments)

    tr = sub.add_parser("translate", help="translate sentences with a trained translator",
                        description="Translate the sentences given as arguments, or one per line of standard input.")
    tr.add_argument("run", type=Path, help="run directory or checkpoint file")
    tr.add_argument("sentences", nargs="*", help="sentences to translate (none: read standard input)")
    tr.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    tr.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    tr.add_argument("--attention-plot", type=Path, default=None, metavar="FILE.png",
                    help="draw the attention matrix of the (first) sentence, decoded greedily, to this PNG file")
    tr.add_argument("--json", action="store_true", help="print one JSON object per sentence")
    tr.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                    help="torch (the checkpoint) or onnx (the export in RUN/onnx made by rnnkit export RUN, run with "
                         "onnxruntime; the same translations)")
    tr.later(_flags("rnnkit.translate.task:SearchConfig", "search"))
    COMMANDS.update(report_commands.add_parsers(sub))
    COMMANDS.update(tune_commands.add_parsers(sub))
    COMMANDS.update(diagnose_commands.add_parsers(sub, task))
    COMMANDS.update(export_commands.add_parsers(sub))
    COMMANDS.update(serve_commands.add_parsers(sub))
    return parser


def _task_of(argv: list[str]) -> str:
    """The task whose options the command line's verb needs: ``train``'s (see below) or ``backtest``'s."""
    if argv[:1] in (["train"], ["learning-curve"]):
        return _task_of_train(argv)
    if argv[:1] == ["backtest"]:
        return "forecast"
    if argv[:1] == ["crossval"]:
        return "audio"
    return tasks.DEFAULT


def _task_of_train(argv: list[str]) -> str:
    """``--task`` of a ``train`` command line; for ``--resume`` without it, the saved run's task."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task", choices=sorted(tasks.TASKS), default=None)
    pre.add_argument("--out", type=Path, default=None)
    pre.add_argument("--resume", action="store_true")
    known, _ = pre.parse_known_args(argv)
    if known.task is None and known.resume and known.out is not None:
        try:
            return tasks.of_run(known.out, "last").name
        except RnnkitError:
            pass  # train reports the missing run with its own message
    return known.task or tasks.DEFAULT


def _train_config(args: argparse.Namespace, spec: tasks.TaskSpec):
    given = overrides_from_args(args)
    if getattr(args, "model", None):
        given["model"] = args.model
    base = merge(preset(getattr(args, "preset", None)), load_file(args.config) if args.config else {})
    given = merge(base, given)
    if args.resume:
        rundir.check_resumable(args.out)
        saved = tasks.of_run(args.out, "last")
        if saved.name != spec.name:
            raise RnnkitError(f"--resume: {args.out} holds a {saved.name} run, not --task {spec.name}; drop --task")
        return tasks.resume_config(spec, args.out, given)
    return from_dict(spec.config, given, str(args.config or "options"))


def _summary(result: TrainResult) -> str:
    if result.stopped == "counted":
        return (f"counted the n-grams of {result.tokens:,} training tokens in {result.elapsed:.1f} s; "
                f"validation loss {result.best_val:.4f} nats/token")
    text = (
        f"trained {result.steps} steps ({result.epochs} full epochs) in {result.elapsed:.0f} s, stopped by {result.stopped}; "
        f"best validation loss {result.best_val:.4f} nats/token; gradient clipped on {result.clipped_steps} of {result.steps} steps"
    )
    if result.mix:
        m = result.mix
        text += (f"\nmixed with a {m.order}-gram (Kneser-Ney, {m.val_ngram:.4f} alone) at weight {m.weight:.2f}: "
                 f"validation {m.val_rnn:.4f} -> {m.val_mixed:.4f} nats/token (rnnkit sample/evaluate --no-mix: the RNN alone)")
    elif result.mix_note:
        text += "\n" + result.mix_note
    return text


def _next_steps(run: Path, infill: bool = False) -> str:
    use = (f"rnnkit fill {run} 'a text with one ___ in it'" if infill
           else f"rnnkit sample {run} --prime 'The ' --temperature 0.8")
    return (f"run directory: {run}\n"
            f"next: {use}\n"
            f"      rnnkit evaluate {run} --split test")


def cmd_train(args: argparse.Namespace) -> None:
    from .audio import api as audio_api
    from .core import distributed
    from .core.progress import ProgressDisplay
    from .forecast import api as forecast_api
    from .forecast.series import read_series
    from .text import api
    from .translate import api as translate_api

    distributed.quiet_unless_main()  # torchrun: one summary, from rank 0
    spec = tasks.TASKS[_task_of_train(args.argv)]
    cfg = _train_config(args, spec)
    if spec.name == "translate":
        with ProgressDisplay("target tokens") as show:
            result = translate_api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show)
        print(f"trained {result.steps} steps ({result.epochs} full epochs over {result.pairs:,} sentence pairs) in "
              f"{result.elapsed:.0f} s, stopped by {result.stopped}; best validation loss {result.best_val:.4f} "
              f"nats/target token; gradient clipped on {result.clipped_steps} of {result.steps} steps")
        print(f"run directory: {args.out}\n"
              f"next: rnnkit translate {args.out} \"<a sentence>\"\n"
              f"      rnnkit evaluate {args.out} --split test")
        return
    if spec.name == "audio":
        with ProgressDisplay("clips") as show:
            result = audio_api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show)
        if result.skipped:
            print(f"skipped {len(result.skipped)} bad files (--skip-bad-files):")
            for line in result.skipped:
                print(f"  {line}")
        c = result.clips
        print(f"trained {result.steps} steps ({result.epochs} full epochs over {c['train']:,} clips; {c['val']} for "
              f"validation, {c['test']} for test) in {result.elapsed:.0f} s, stopped by {result.stopped}; best validation "
              f"loss {result.best_val:.4f}")
        print(f"run directory: {args.out}\n"
              f"next: rnnkit classify {args.out} <file.wav or folder>\n"
              f"      rnnkit evaluate {args.out} --split test --plot {args.out / 'confusion.png'}")
        return
    if spec.name == "classify":
        _train_classifier(cfg, args)
        return
    if spec.name == "tag":
        _train_tagger(cfg, args)
        return
    if spec.name == "forecast":
        series = None
        if not args.resume:
            series = read_series(cfg.data)
            print(f"{cfg.data.data}: {len(series):,} points from {series.dates[0]} to {series.dates[-1]}")
            for line in series.report:
                print(f"  {line}")
        with ProgressDisplay("target values") as show:
            result = forecast_api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show,
                                        series=series)
        print(f"trained {result.steps} steps ({result.epochs} full epochs over {result.windows:,} windows of "
              f"{result.window} steps, horizon {result.horizon}) in {result.elapsed:.0f} s, stopped by {result.stopped}; "
              f"best validation loss {result.best_val:.4f}")
        print(f"run directory: {args.out}\n"
              f"next: rnnkit forecast {args.out} --plot {args.out / 'forecast.png'}\n"
              f"      rnnkit evaluate {args.out} --split test")
        return
    unit = "chars" if cfg.data.level == "char" else "words"
    with ProgressDisplay(unit) as show:
        result = api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show)
    print(_summary(result))
    print(_next_steps(args.out, cfg.train.objective == "infill"))


def _train_classifier(cfg, args: argparse.Namespace) -> None:
    from .classify import api as classify_api
    from .core.progress import ProgressDisplay

    with ProgressDisplay("sequences") as show:
        result = classify_api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show)
    c = result.examples
    print(f"trained {result.steps} steps ({result.epochs} full epochs over {c['train']:,} {result.kind} sequences; "
          f"{c['val']:,} for validation, {c['test']:,} for test) in {result.elapsed:.0f} s, stopped by {result.stopped}; "
          f"best validation {_selection(cfg, 'error (1 - accuracy)', 'loss')} {result.best_val:.4f}")
    if result.transferred is not None:
        print(f"--encoder-from: {result.transferred:,} of the classifier's units started from the language model's "
              f"embedding, and its recurrent layers from the language model's")
    if result.mix:
        m = result.mix
        print(f"mixed with a TF-IDF + logistic regression ({m['val_loss_reference']:.4f} alone) at weight "
              f"{m['weight']:.2f}: validation loss {m['val_loss_rnn']:.4f} -> {m['val_loss_mixed']:.4f}, accuracy "
              f"{m['val_accuracy_rnn']:.2%} -> {m['val_accuracy_mixed']:.2%} (rnnkit evaluate --no-mix: the RNN alone)")
    elif result.mix_note:
        print(result.mix_note)
    use = '"<a text>"' if result.kind == "text" else "--input FILE"
    print(f"run directory: {args.out}\n"
          f"next: rnnkit predict {args.out} {use}\n"
          f"      rnnkit evaluate {args.out} --split test --plot {args.out / 'confusion.png'}")


def _selection(cfg, error: str, loss: str) -> str:
    """What a classifier's or tagger's validation score is (``--select``): ``error`` or ``loss`` described."""
    return loss if cfg.train.select == "loss" else error


def _tag_error(scheme: str) -> str:
    from .tag.scheme import ENTITY_SCHEMES

    return "error (1 - entity span F1)" if scheme in ENTITY_SCHEMES else "error (token error rate)"


def _train_tagger(cfg, args: argparse.Namespace) -> None:
    from .core.progress import ProgressDisplay
    from .tag import api as tag_api

    with ProgressDisplay("tokens") as show:
        result = tag_api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show)
    c = result.sentences
    for note in result.notes:
        print(f"note: {note}")
    print(f"trained {result.steps} steps ({result.epochs} full epochs over {c['train']:,} sentences; {c['val']:,} for "
          f"validation, {c['test']:,} for test; tag scheme {result.scheme}) in {result.elapsed:.0f} s, stopped by "
          f"{result.stopped}; best validation {_selection(cfg, _tag_error(result.scheme), 'loss (nats/token)')} "
          f"{result.best_val:.4f}")
    print(f"run directory: {args.out}\n"
          f"next: rnnkit tag {args.out} \"<a sentence>\"\n"
          f"      rnnkit evaluate {args.out} --split test")


def cmd_demo(args: argparse.Namespace) -> None:
    from .core.progress import ProgressDisplay
    from .text import api
    from .text.language_model import LMConfig
    from .text.sampling import SampleConfig

    cfg = LMConfig()
    cfg.data.data = args.data
    cfg.train.max_time = args.max_time
    overwrite = (args.out / "config.json").is_file()  # the demo may replace its own earlier run
    print(f"rnnkit demo: a {cfg.rnn.layers}-layer {cfg.rnn.cell.upper()} with {cfg.rnn.hidden_size} units learns "
          f"{args.data} character by character for {args.max_time:.0f} s", flush=True)
    with ProgressDisplay("chars") as show:
        result = api.train(cfg, args.out, overwrite=overwrite, on_event=show)
    print(_summary(result))
    lm = api.load(args.out)
    weights = sum(p.numel() for p in lm.model.parameters())
    mixed = f", mixed with a {result.mix.order}-gram of {lm.model.ngram.num_parameters():,} entries" if result.mix else ""
    print(f"model: {weights:,} weights{mixed}, vocabulary of {len(lm.vocab)} characters")
    for i, text in enumerate(api.sample(lm, SampleConfig(length=400, temperature=0.8, num_samples=2, seed=1))):
        print(f"\n--- sample {i + 1} (temperature 0.8) ---\n{text.strip()}")
    test = api.evaluate(lm, "test", args.out)
    print(f"\ntest split: {test.loss:.3f} nats/char, {test.bits_per_char:.3f} bits/char, accuracy {test.accuracy:.1%}")
    print(_next_steps(args.out))
    print("      rnnkit train --data alice --text-clean seed --out runs/alice --max-time 120")


def cmd_sample(args: argparse.Namespace) -> None:
    from .text import api

    _require_task(args.run, args.checkpoint, "lm", "sample")
    if args.backend == "onnx":
        from .runtime import for_run

        lm = for_run(args.run)
        lm.mix = lm.mix and args.mix
        cfg = _use_options(lm.defaults, args, "sample")
        texts, outs = zip(*lm.generate(cfg))
        stats = api.generated_stats(lm.vocab, api.run_training_tokens(args.run, lm.vocab), outs) if args.stats else None
    else:
        lm = api.load(args.run, device=args.device, which=args.checkpoint, mix=args.mix)
        cfg = _use_options(lm.config.sample, args, "sample")
        texts, stats = api.sample_with_stats(lm, cfg) if args.stats else (api.sample(lm, cfg), None)
    for i, text in enumerate(texts):
        if len(texts) > 1:
            print(f"--- sample {i + 1} ---")
        print(text)
    if stats is not None:
        print("--- statistics of the generated text (prime excluded) ---")
        print(stats.describe("chars" if lm.vocab.level == "char" else "words"))


def cmd_fill(args: argparse.Namespace) -> None:
    from .text import api

    _require_task(args.run, args.checkpoint, "lm", "fill")
    if args.backend == "onnx":
        from .runtime import for_run

        fill = for_run(args.run).fill
    else:
        lm = api.load(args.run, device=args.device, which=args.checkpoint)
        fill = lambda text, top_k: api.fill(lm, text, top_k)  # noqa: E731
    results = [(text, fill(text, args.top_k)) for text in args.texts]  # any bad text before any output
    for n, (text, fillers) in enumerate(results):
        if args.json:
            print(json.dumps({"text": text, "fillers": [dataclasses.asdict(f) for f in fillers]}, ensure_ascii=False))
            continue
        print(("\n" if n else "") + text)
        for k, f in enumerate(fillers):
            shown = f.token if f.token.isprintable() and f.token.strip() == f.token else repr(f.token)
            print(f"{k + 1:>3}  {f.probability:7.2%}  {shown:<14} {f.text}")


def cmd_compare(args: argparse.Namespace) -> None:
    from .core.progress import ProgressDisplay
    from .text.compare import CompareConfig, markdown, run_comparison
    from .text.textdata import DataConfig

    data = from_dict(DataConfig, overrides_from_args(args).get("data", {}), "options")
    cmp = CompareConfig(data=data, models=tuple(args.models), budget=args.budget, seed=args.seed,
                        device=args.device, sample_length=args.sample_length)
    with ProgressDisplay("tokens") as show:
        rows = run_comparison(cmp, args.out, on_model=lambda name: show.note(f"== {name}"), on_event=show)
    print()
    print(markdown(rows))
    print(f"table: {args.out / 'compare.md'} and {args.out / 'compare.csv'}; plot: {args.out / 'val_loss.png'}; "
          f"runs: {args.out / 'runs'}")


def _use_options(saved: Any, args: argparse.Namespace, section: str) -> Any:
    """A use verb's options: the run's saved defaults (a config section, ``saved``) with the flags given over them."""
    return from_dict(type(saved), merge(dataclasses.asdict(saved), overrides_from_args(args).get(section, {})), "options")


def _require_task(run: Path, which: str, name: str, verb: str) -> None:
    spec = tasks.of_run(run, which)
    if spec.name != name:
        raise RnnkitError(f"{run} is a {spec.kind} run; `rnnkit {verb}` is for {tasks.TASKS[name].kind} runs "
                          f"(use rnnkit {spec.use_verb})")


def _search_config(run_search: SearchConfig, typed: dict) -> SearchConfig:
    from .translate.task import SearchConfig

    return from_dict(SearchConfig, merge(dataclasses.asdict(run_search), typed), "options")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .audio import api as audio_api
    from .forecast import api as forecast_api
    from .text import api
    from .translate import api as translate_api

    spec = tasks.of_run(args.run, args.checkpoint)
    run_dir = args.run if args.run.is_dir() else args.run.parent  # a checkpoint file inside its run
    if args.plot is not None and spec.name not in ("audio", "classify", "tag"):
        raise RnnkitError(f"--plot is for audio, classify and tag runs (a confusion matrix); drop it for a {spec.kind} run")
    if spec.name == "classify":
        _evaluate_classifier(args, run_dir)
        return
    if spec.name == "tag":
        _evaluate_tagger(args, run_dir)
        return
    if spec.name == "audio":
        ev = audio_api.evaluate(audio_api.load(args.run, device=args.device, which=args.checkpoint), args.split, run_dir)
        if args.plot is not None:
            audio_api.plot_confusion(ev, args.plot)
        if args.json:
            print(json.dumps(ev.to_json()))
        else:
            worst = min(ev.per_class.items(), key=lambda kv: kv[1])
            print(f"{args.split}: accuracy {ev.accuracy:.2%} ({ev.clips} clips), loss {ev.loss:.4f}; "
                  f"worst class {worst[0]!r} {worst[1]:.1%}")
        return
    if spec.name == "translate":
        tr = translate_api.load(args.run, device=args.device, which=args.checkpoint)
        typed = {k: v for k, v in (("beam", args.beam), ("length_penalty", args.length_penalty)) if v is not None}
        m = translate_api.evaluate(tr, args.split, run_dir, _search_config(tr.config.search, typed))
        if args.json:
            print(json.dumps(m.to_json()))
        else:
            print(f"{args.split}: BLEU {m.bleu:.2f}, chrF {m.chrf:.2f} ({m.sentences} source sentences, beam {m.beam}); "
                  f"{m.loss:.4f} nats/target token, accuracy {m.accuracy:.2%} (teacher-forced)\n"
                  f"BLEU {m.signature['bleu']}\nchrF {m.signature['chrf']}")
        return
    if args.beam is not None or args.length_penalty is not None:
        raise RnnkitError(f"--beam and --length-penalty are for translation runs; drop them for a {spec.kind} run")
    if spec.name == "forecast":
        ev = forecast_api.evaluate(forecast_api.load(args.run, device=args.device, which=args.checkpoint), args.split,
                                   args.season, with_baselines=args.json)
        if args.json:
            print(json.dumps(ev.to_json()))
        else:
            s = ev.scores
            print(f"{args.split}: MASE {s['mase']:.3f} (season {ev.season}), sMAPE {s['smape']:.2f}, MAE {s['mae']:.4g}, "
                  f"RMSE {s['rmse']:.4g} over {ev.origins} forecast(s) of {ev.horizon} steps; interval coverage "
                  f"80%: {ev.coverage80:.0%}, 95%: {ev.coverage95:.0%}")
        return
    if args.season is not None:
        raise RnnkitError(f"--season is for forecast runs; drop it for a {spec.kind} run")
    lm = api.load(args.run, device=args.device, which=args.checkpoint, mix=args.mix)
    m = api.evaluate(lm, args.split, run_dir)
    if args.json:
        print(json.dumps(m.to_json()))
    elif api.is_infill(lm):
        print(m.describe(args.split))
    else:
        print(f"{args.split}: {m.loss:.4f} nats/token, {m.bits_per_char:.4f} bits/char, "
              f"perplexity {m.perplexity:.3f}, accuracy {m.accuracy:.2%}, {m.tokens} tokens "
              f"({m.unknown} of them <unk>: outside the vocabulary)")


def _evaluate_classifier(args: argparse.Namespace, run_dir: Path) -> None:
    from .classify import api as classify_api

    ev = classify_api.evaluate(classify_api.load(args.run, device=args.device, which=args.checkpoint, mix=args.mix),
                               args.split, run_dir)
    if args.plot is not None:
        classify_api.plot_confusion(ev, args.plot)
    if args.json:
        print(json.dumps(ev.to_json()))
        return
    worst = min(ev.per_class.items(), key=lambda kv: kv[1]["f1"])
    print(f"{args.split}: accuracy {ev.accuracy:.2%}, macro F1 {ev.macro_f1:.4f} ({ev.examples} examples), loss "
          f"{ev.loss:.4f}; worst class {worst[0]!r} F1 {worst[1]['f1']:.3f}")


def _evaluate_tagger(args: argparse.Namespace, run_dir: Path) -> None:
    from .tag import api as tag_api

    ev = tag_api.evaluate(tag_api.load(args.run, device=args.device, which=args.checkpoint), args.split, run_dir,
                          args.plot)
    if args.json:
        print(json.dumps(ev))
        return
    text = f"{args.split}: token accuracy {ev['accuracy']:.2%} ({ev['tokens']:,} tokens, {ev['sentences']:,} sentences)"
    if "spans" in ev:
        sp = ev["spans"]
        text += f"; entity spans precision {sp['precision']:.2%}, recall {sp['recall']:.2%}, F1 {sp['f1']:.2%}"
    top = ev["confusions"][:3]
    if top:
        text += "; commonest errors " + ", ".join(f"{c['gold']}->{c['predicted']} {c['count']}" for c in top)
    print(text)


def cmd_predict(args: argparse.Namespace) -> None:
    from .classify import api as classify_api

    _require_task(args.run, args.checkpoint, "classify", "predict")
    if bool(args.texts) == bool(args.input):
        raise RnnkitError("give texts to label or --input FILE (one of them)")
    from functools import partial

    if args.backend == "onnx":
        from .classify.task import PredictConfig
        from .runtime import for_run

        clf = for_run(args.run)
        use = _use_options(from_dict(PredictConfig, clf.data["config"]["predict"], "export"), args, "predict")
        clf.batch_size = use.batch_size
        read_input, predict = clf.read_input, clf.predict
    else:
        clf = classify_api.load(args.run, device=args.device, which=args.checkpoint)
        use = clf.config.predict = _use_options(clf.config.predict, args, "predict")
        read_input, predict = partial(classify_api.read_input, clf), partial(classify_api.predict, clf)
    if args.input:
        examples = read_input(args.input)
        names, key = examples.ids, "id"
    else:
        if clf.kind != "text":
            raise RnnkitError("this model classifies numeric sequences; pass them with --input FILE")
        examples, names, key = list(args.texts), list(args.texts), "input"
    for name, top in zip(names, predict(examples, use.top_k)):
        if args.json:
            print(json.dumps({key: name, "label": top[0][0], "probability": top[0][1],
                              "top": [{"label": lab, "probability": p} for lab, p in top]}))
        else:
            print(f"{name}\t" + "\t".join(f"{lab} {p:.3f}" for lab, p in top))


def cmd_tag(args: argparse.Namespace) -> None:
    from .core.fileio import atomic_write_bytes, check_writable
    from .tag import api as tag_api
    from .tag import inputs as tag_io

    _require_task(args.run, args.checkpoint, "tag", "tag")
    if bool(args.texts) == bool(args.input):
        raise RnnkitError("give texts to tag or --input FILE (one of them)")
    if args.output is not None:
        check_writable(args.output, "--output")
    from functools import partial

    if args.backend == "onnx":
        from .runtime import for_run
        from .tag.task import TagConfig

        exported = for_run(args.run)
        tagger = types.SimpleNamespace(config=from_dict(TagConfig, exported.data["config"], "export"),
                                       scheme=exported.scheme)  # what reading and writing the files need
        use = _use_options(tagger.config.tag, args, "tag")
        tag = partial(exported.tag, batch_size=use.batch_size)
    else:
        tagger = tag_api.load(args.run, device=args.device, which=args.checkpoint)
        tagger.config.tag = _use_options(tagger.config.tag, args, "tag")
        tag = partial(tag_api.tag, tagger)
    fmt = tag_io.input_format(args.input, args.format) if args.input else "text"
    sentences = tag_io.read_input(tagger, args.input, fmt) if args.input else tag_io.from_texts(args.texts)
    text = tag_io.render(tagger, sentences, tag([s.tokens for s in sentences]), fmt, args.json)
    if args.output is None:
        print(text, end="")
    else:
        atomic_write_bytes(args.output, text.encode("utf-8"))


def _translator(args: argparse.Namespace):
    """``--backend``'s ``(run's search settings, translate(sentences, search), plot(sentence, path))``."""
    from .translate import api as translate_api

    if args.backend == "torch":
        tr = translate_api.load(args.run, device=args.device, which=args.checkpoint)
        return (tr.config.search, lambda sentences, search: translate_api.translate(tr, sentences, search),
                lambda sentence, path: translate_api.plot_attention(tr, sentence, path))
    from . import runtime

    model = runtime.for_run(args.run)

    def plot(sentence: str, path: Path) -> None:
        greedy = model.translate([sentence], beam=1, n_best=1, attention=True)[0][0]
        translate_api.draw_attention(model.pieces(sentence), greedy, path)

    return model.search, lambda sentences, search: model.translate(sentences, **dataclasses.asdict(search)), plot


def cmd_translate(args: argparse.Namespace) -> None:
    _require_task(args.run, args.checkpoint, "translate", "translate")
    run_search, translate, plot = _translator(args)
    search = _search_config(run_search, overrides_from_args(args).get("search", {}))
    sentences = args.sentences or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    if not sentences:
        raise RnnkitError("no sentence to translate; pass sentences as arguments or one per line on standard input")
    if args.attention_plot is not None:
        plot(sentences[0], args.attention_plot)
        print(f"attention of sentence 1 (greedy) drawn to {args.attention_plot}", file=sys.stderr)
    results = translate(sentences, search)
    for source, hyps in zip(sentences, results):
        if args.json:
            print(json.dumps({"source": source, "translations": [{"text": h.text, "score": h.score} for h in hyps]},
                             ensure_ascii=False))
        elif len(hyps) == 1:
            print(hyps[0].text)
        else:
            for k, h in enumerate(hyps):
                print(f"{k + 1}\t{h.score:.4f}\t{h.text}")


def cmd_forecast(args: argparse.Namespace) -> None:
    from .forecast import api as forecast_api

    _require_task(args.run, args.checkpoint, "forecast", "forecast")
    if args.backend == "onnx":
        from .forecast.task import ForecastUseConfig
        from .runtime import for_run

        run = for_run(args.run)
        use = _use_options(from_dict(ForecastUseConfig, run.use, "export"), args, "forecast")
        run.use = dataclasses.asdict(use)  # e.g. --conformal-score
        f = run.forecast(use.horizon, use.samples, intervals=use.intervals, levels=use.level_values)
    else:
        run = forecast_api.load(args.run, device=args.device, which=args.checkpoint)
        use = _use_options(run.config.forecast, args, "forecast")
        run.config.forecast = use  # e.g. --conformal-score
        f = forecast_api.forecast(run, use.horizon, use.samples, intervals=use.intervals, levels=use.level_values)
    rows = f.rows()
    if args.csv is not None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write_bytes(args.csv, buf.getvalue().encode("utf-8"))
    if args.plot is not None:
        forecast_api.plot(run, f, args.plot)
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        levels = [f"{lv:g}" for lv in f.bounds]
        print(f"{'date':<20} {'forecast':>12}" + "".join(f" {lv + '% ' + f.method:>27}" for lv in levels))
        for r in rows:
            print(f"{r['date']:<20} {r['forecast']:>12.5g}" +
                  "".join(f" {r['lo' + lv]:>13.5g}..{r['hi' + lv]:<13.5g}" for lv in levels))
    written = [str(p) for p in (args.csv, args.plot) if p is not None]
    if written:
        print(f"written: {', '.join(written)}", file=sys.stderr)


def cmd_classify(args: argparse.Namespace) -> None:
    from .audio import api as audio_api

    _require_task(args.run, args.checkpoint, "audio", "classify")
    files = audio_api.wav_paths(args.files)
    if args.backend == "onnx":
        from .audio.task import ClassifyConfig
        from .runtime import for_run

        exported = for_run(args.run)
        use = _use_options(from_dict(ClassifyConfig, exported.defaults, "export"), args, "classify")
        exported.defaults = dataclasses.asdict(use)
        results = exported.classify(files, top_k=use.top_k)
    else:
        clf = audio_api.load(args.run, device=args.device, which=args.checkpoint)
        use = _use_options(clf.config.classify, args, "classify")
        clf.config.classify = use
        results = audio_api.classify(clf, files, use.top_k)
    for f, labels in zip(files, results):
        if args.json:
            for label, p in labels:
                print(json.dumps({"file": str(f), "label": label, "probability": p}))
        else:
            print(f"{f}\t" + "\t".join(f"{label} {p:.3f}" for label, p in labels))


def cmd_crossval(args: argparse.Namespace) -> None:
    from .audio import api as audio_api

    given = merge(load_file(args.config) if args.config else {}, overrides_from_args(args))
    cfg = from_dict(tasks.TASKS["audio"].config, given, str(args.config or "options"))
    quiet = args.json
    results = audio_api.crossval(cfg, args.out, on_fold=None if quiet else lambda m: print(m, file=sys.stderr, flush=True))
    accs = [r.accuracy for r in results]
    worst = min(results, key=lambda r: r.accuracy)
    if args.json:
        print(json.dumps({"folds": {r.group: r.accuracy for r in results}, "mean": float(sum(accs) / len(accs)),
                          "worst": {"group": worst.group, "accuracy": worst.accuracy}}))
        return
    print("| held-out group | test clips | accuracy |\n|---|---:|---:|")
    for r in results:
        print(f"| {r.group} | {r.clips} | {r.accuracy:.2%} |")
    print(f"\nmean {sum(accs) / len(accs):.2%}, worst {worst.accuracy:.2%} ({worst.group}); runs: {args.out}")


def cmd_backtest(args: argparse.Namespace) -> None:
    from .forecast import backtest as forecast_backtest

    spec = tasks.TASKS["forecast"]
    given = merge(load_file(args.config) if args.config else {}, overrides_from_args(args))
    given = merge(given, {"forecast": {k: getattr(args, k) for k in ("intervals", "levels") if getattr(args, k)}})
    cfg = from_dict(spec.config, given, str(args.config or "options"))
    if not cfg.data.data:
        raise RnnkitError("--data is required: the CSV file of the series to backtest")
    quiet = args.json
    res = forecast_backtest.backtest(cfg, args.out, args.origins, args.season,
                                     on_origin=None if quiet else lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps({"models": res.scores, "horizon": res.horizon, "season": res.season, "origins": res.origins,
                          "levels": list(res.levels), "intervals": cfg.forecast.intervals, "seconds": res.seconds,
                          "coverage80": res.coverage80, "coverage95": res.coverage95}))
        return
    for note in res.notes:
        print(f"note: {note}")
    own = res.scores.get("rnnkit", {})
    print(f"{res.series}: {len(res.origins)} origins, horizon {res.horizon}, MASE season {res.season}; rnnkit's "
          f"{cfg.forecast.intervals} interval coverage " +
          ", ".join(f"{lv:g}%: {own.get(f'coverage{lv:g}', float('nan')):.0%}" for lv in res.levels) + "\n")
    print(forecast_backtest.markdown(res))
    print(f"\ntables: {args.out / 'backtest.md'}, {args.out / 'backtest.csv'}; plot: {args.out / 'backtest.png'}; "
          f"runs: {args.out / 'runs'}")


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "sample": cmd_sample, "fill": cmd_fill, "evaluate": cmd_evaluate,
            "translate": cmd_translate, "compare": cmd_compare, "forecast": cmd_forecast, "backtest": cmd_backtest,
            "classify": cmd_classify, "crossval": cmd_crossval, "predict": cmd_predict, "tag": cmd_tag}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_task_of(argv)).parse_args(argv)
    args.argv = argv
    try:
        COMMANDS[args.verb](args)
        code = 0
    except RnnkitError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted; a training run continues from its last checkpoint with --resume", file=sys.stderr)
        code = 130
    if "torch.distributed" in sys.modules:  # a process group exists only where the verb loaded torch
        from .core import distributed

        distributed.finish(code)  # torchrun: leave the group and exit here, not in the interpreter's teardown
    return code


if __name__ == "__main__":
    sys.exit(main())
