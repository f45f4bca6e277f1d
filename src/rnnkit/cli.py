"""The ``rnnkit`` command: a thin layer of verbs over the Python API.

    rnnkit demo                                  train on the built-in corpus for ~2 minutes
    rnnkit train --data PATH_OR_NAME --out RUN   train a language model
    rnnkit sample RUN                            generate text
    rnnkit evaluate RUN --split test             score a split
    rnnkit compare --data PATH_OR_NAME           baselines and recurrent models side by side

Errors the user can fix print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from . import api
from .config import add_arguments, from_dict, load_file, merge, overrides_from_args
from .errors import RnnkitError
from .compare import CompareConfig, markdown, run_comparison
from .corpora import BUILTIN
from .language_model import LMConfig
from .ngram import NGramConfig
from .presets import PRESETS, preset
from .progress import ProgressDisplay
from .rnn_lm import RNNConfig
from .mixture import MixConfig
from .sampling import SampleConfig
from .textdata import SPLITS, DataConfig
from .trainer import TrainConfig

SECTIONS = {"data": DataConfig, "rnn": RNNConfig, "ngram": NGramConfig, "mix": MixConfig, "train": TrainConfig}


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a language model", description="Train a language model on a text file.")
    p.add_argument("--out", required=True, type=Path, help="run directory to create (checkpoints, metrics, config)")
    p.add_argument("--config", type=Path, help="TOML or YAML file with the same options (flags override it)")
    p.add_argument("--model", choices=["rnn", "ngram"], default=None,
                   help="model family: rnn (recurrent) or ngram (counted; see --order, --smoothing); default rnn")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="start from a named setup: seed = the seed article's Keras SimpleRNN (config file and flags override it)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    for section, cls in SECTIONS.items():
        add_arguments(p, cls, section)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (the usage is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"rnnkit: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rnnkit", description="Recurrent neural networks for sequences.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)

    d = sub.add_parser("demo", help="train a character model on the built-in corpus and show samples")
    d.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory (default: runs/demo)")
    d.add_argument("--max-time", type=float, default=120.0, help="training seconds (default: 120)")
    d.add_argument("--data", default=BUILTIN, help=f"text file or corpus name (default: {BUILTIN}, built in)")

    _train_parser(sub)

    s = sub.add_parser("sample", help="generate text from a trained model")
    s.add_argument("run", type=Path, help="run directory or checkpoint file")
    s.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    s.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    s.add_argument("--no-mix", dest="mix", action="store_false",
                   help="use the recurrent model alone, without the n-gram it was mixed with after training")
    s.add_argument("--stats", action="store_true",
                   help="also report how much of the samples is copied from the training text, and their diversity")
    add_arguments(s, SampleConfig, "sample")

    c = sub.add_parser("compare", help="train several models on the same data and budget; table and plot",
                       description="Train unigram, n-gram, the seed's model and recurrent models on the same data "
                                   "and split under the same time budget, and compare them on the test split.")
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

    e = sub.add_parser("evaluate", help="score a trained model on a split of its corpus")
    e.add_argument("run", type=Path, help="run directory")
    e.add_argument("--split", choices=SPLITS, default="test", help="which split (default: test)")
    e.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    e.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    e.add_argument("--no-mix", dest="mix", action="store_false",
                   help="score the recurrent model alone, without the n-gram it was mixed with after training")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _train_config(args: argparse.Namespace) -> LMConfig:
    overrides = overrides_from_args(args)
    if args.model:
        overrides["model"] = args.model
    if args.resume:
        if args.config or args.preset:
            raise RnnkitError("--resume continues the saved configuration; drop --config and --preset")
        return api.resume_config(args.out, overrides)
    base = merge(preset(args.preset), load_file(args.config) if args.config else {})
    return from_dict(LMConfig, merge(base, overrides), str(args.config or "options"))


def _summary(result: api.TrainResult) -> str:
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


def _next_steps(run: Path) -> str:
    return (f"run directory: {run}\n"
            f"next: rnnkit sample {run} --prime 'The ' --temperature 0.8\n"
            f"      rnnkit evaluate {run} --split test")


def cmd_train(args: argparse.Namespace) -> None:
    cfg = _train_config(args)
    unit = "chars" if cfg.data.level == "char" else "words"
    with ProgressDisplay(unit) as show:
        result = api.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite, on_event=show)
    print(_summary(result))
    print(_next_steps(args.out))


def cmd_demo(args: argparse.Namespace) -> None:
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
    lm = api.load(args.run, device=args.device, which=args.checkpoint, mix=args.mix)
    typed = overrides_from_args(args).get("sample", {})  # flags override the run's sampling defaults
    cfg = from_dict(SampleConfig, merge(dataclasses.asdict(lm.config.sample), typed), "options")
    texts, stats = api.sample_with_stats(lm, cfg) if args.stats else (api.sample(lm, cfg), None)
    for i, text in enumerate(texts):
        if len(texts) > 1:
            print(f"--- sample {i + 1} ---")
        print(text)
    if stats is not None:
        print("--- statistics of the generated text (prime excluded) ---")
        print(stats.describe("chars" if lm.vocab.level == "char" else "words"))


def cmd_compare(args: argparse.Namespace) -> None:
    data = from_dict(DataConfig, overrides_from_args(args).get("data", {}), "options")
    cmp = CompareConfig(data=data, models=tuple(args.models), budget=args.budget, seed=args.seed,
                        device=args.device, sample_length=args.sample_length)
    with ProgressDisplay("tokens") as show:
        rows = run_comparison(cmp, args.out, on_model=lambda name: show.note(f"== {name}"), on_event=show)
    print()
    print(markdown(rows))
    print(f"table: {args.out / 'compare.md'} and {args.out / 'compare.csv'}; plot: {args.out / 'val_loss.png'}; "
          f"runs: {args.out / 'runs'}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    lm = api.load(args.run, device=args.device, which=args.checkpoint, mix=args.mix)
    run_dir = args.run if args.run.is_dir() else args.run.parent  # a checkpoint file inside its run
    m = api.evaluate(lm, args.split, run_dir)
    if args.json:
        print(json.dumps(m.to_json()))
    else:
        print(f"{args.split}: {m.loss:.4f} nats/token, {m.bits_per_char:.4f} bits/char, "
              f"perplexity {m.perplexity:.3f}, accuracy {m.accuracy:.2%}, {m.tokens} tokens")


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate,
            "compare": cmd_compare}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.verb](args)
    except RnnkitError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted; a training run continues from its last checkpoint with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
