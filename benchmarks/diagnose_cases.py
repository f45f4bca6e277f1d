"""Labelled cases for ``rnnkit diagnose``: runs whose right verdict is known by construction.

    python benchmarks/diagnose_cases.py                      # the full suite on alice.txt (seed cleaning)
    python benchmarks/diagnose_cases.py --scale 0.01 --curve-seeds 1   # a quick check of the script
    python benchmarks/diagnose_cases.py --data ../shared/data/tinyshakespeare.txt   # other data

Cases (step budgets, so results do not depend on the machine's load; each about 3 minutes or
less on 2 CPU cores at --scale 1):

* tiny: a GRU of 8 units cannot fit the text -> high bias;
* memorizer: a 2x256 LSTM without dropout, trained long on 5% of the training split -> high
  variance (the reference n-gram is counted on the same 5%);
* default: rnnkit's default configuration (2x512 LSTM, dropout 0.3) stopped after 80 steps,
  about two passes over the training text -> high bias: a character LSTM needs thousands of
  steps to beat a Kneser-Ney n-gram, and with dropout two passes are too few to memorize the
  text (a label fixed by the case's design, not read off its own numbers).

Then a learning curve of a GRU of 64 units, 300 steps (fractions 0.1 0.25 0.5 1, --curve-seeds
seeds each; 8 runs, about 4 minutes): its validation error should fall with data. Prints Markdown tables; runs go to --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import rnnkit
from rnnkit import tasks
from rnnkit.core.config import from_dict
from rnnkit.diagnose.bias_variance import HIGH_BIAS, HIGH_VARIANCE
from rnnkit.diagnose.diagnosis import diagnose
from rnnkit.diagnose.learning_curve import learning_curve
from rnnkit.text.language_model import LMConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alice.txt"


def config(data: str, rnn: dict, train: dict) -> LMConfig:
    return from_dict(LMConfig, {"data": {"data": data, "text_clean": "seed"}, "rnn": rnn, "mix": {"mix_order": 0},
                                "train": {"device": "cpu", "eval_every": 100, **train}})


def cases(data: str, scale: float) -> dict[str, tuple[str, str, LMConfig]]:
    """{key: (description, expected verdict, configuration)}."""
    steps = lambda n: max(2, round(n * scale))  # noqa: E731
    return {
        "tiny": ("tiny GRU, 8 units", HIGH_BIAS,
                 config(data, {"cell": "gru", "layers": 1, "hidden_size": 8, "embedding_size": 8, "dropout": 0.0},
                        {"steps": steps(800), "lr": 1e-2})),
        "memorizer": ("2x256 LSTM, no dropout, 5% of the training split, ~50 epochs", HIGH_VARIANCE,
                      config(data, {"cell": "lstm", "layers": 2, "hidden_size": 256, "dropout": 0.0},
                             {"steps": steps(200), "data_fraction": 0.05, "batch_size": 16})),
        "default": ("default configuration, 80 steps", HIGH_BIAS, config(data, {}, {"steps": steps(80)})),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA), help="text file (default: ../shared/data/alice.txt)")
    p.add_argument("--out", type=Path, default=Path("runs/diagnose-cases"), help="folder for the runs")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every step budget (0.02: a quick check)")
    p.add_argument("--curve-seeds", type=int, default=2, help="seeds per fraction of the learning curve")
    p.add_argument("--cases", nargs="*", default=["tiny", "memorizer", "default"], help="which cases (none: only the curve)")
    p.add_argument("--skip-curve", action="store_true", help="only the labelled cases")
    args = p.parse_args()
    if not Path(args.data).is_file():
        sys.exit(f"{args.data} not found (the shared data folder sits beside the project checkout)")

    print("| case | expected | verdict | train | val | reference | unit | seconds | right? |")
    print("|---|---|---|---:|---:|---:|---|---:|---|")
    right = []
    table = cases(args.data, args.scale)
    for key in args.cases:
        name, expected, cfg = table[key]
        run = args.out / key
        t0 = time.perf_counter()
        rnnkit.train(cfg, run, overwrite=True)
        d = diagnose(run)
        seconds = time.perf_counter() - t0
        ok = d.verdict == expected
        right.append(ok)
        print(f"| {name} | {expected} | {d.verdict} | {d.train:.3f} | {d.validation:.3f} | "
              f"{d.reference:.3f} | {d.unit} | {seconds:.0f} | {'yes' if ok else 'NO'} |", flush=True)
    print(f"\n{sum(right)} of {len(right)} verdicts right; thresholds: 5% of each run's validation error")

    if args.skip_curve:
        return
    cfg = config(args.data, {"cell": "gru", "layers": 1, "hidden_size": 64, "dropout": 0.0},
                 {"steps": max(2, round(300 * args.scale))})
    t0 = time.perf_counter()
    curve = learning_curve(tasks.TASKS["lm"], cfg, args.out / "learning-curve", [0.1, 0.25, 0.5, 1.0],
                           args.curve_seeds, on_run=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"\nlearning curve (GRU 64, {cfg.train.steps} steps, {args.curve_seeds} seeds per fraction, "
          f"{time.perf_counter() - t0:.0f} s):\n")
    print(f"| fraction | train ({curve.unit}) | validation ({curve.unit}) |\n|---:|---:|---:|")
    for r in curve.summary:
        print(f"| {r['fraction']:g} | {r['train_mean']:.3f} ± {r['train_std']:.3f} | "
              f"{r['validation_mean']:.3f} ± {r['validation_std']:.3f} |")
    vals = [r["validation_mean"] for r in curve.summary]
    falls = all(b < a for a, b in zip(vals, vals[1:]))
    print(f"\nvalidation error falls with data at every fraction: {'yes' if falls else 'NO'}; {curve.conclusion}")


if __name__ == "__main__":
    main()
