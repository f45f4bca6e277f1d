"""Spanish -> English quality under a wall-clock budget: the default translator and variants.

Each variant is ``rnnkit train --task translate`` on ``../shared/data/spa-eng.txt`` (source
column 2, target column 1) with the defaults plus the variant's flags, for the same
``--max-time``; then ``rnnkit evaluate --split test`` greedily (``--beam 1``) and with beam 5.
BLEU (sacrebleu 13a, case-sensitive) and chrF are scored against all references of each
test source. The runs are kept under ``--out``.

    python benchmarks/translate_quality.py                                   # default, 1800 s
    python benchmarks/translate_quality.py --max-time 300 --variants default no-attention unidirectional bahdanau
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from quality import rnnkit  # runs `python -m rnnkit.cli`, exits with its error

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "spa-eng.txt"
VARIANTS = {
    "default": [],
    "no-attention": ["--attention", "none"],
    "unidirectional": ["--no-bidirectional"],
    "bahdanau": ["--attention", "bahdanau"],
    "word-tokens": ["--tokens", "word"],
    "lstm": ["--cell", "lstm"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--source-column", default="2")
    ap.add_argument("--target-column", default="1")
    ap.add_argument("--max-time", type=float, default=1800)
    ap.add_argument("--variants", nargs="+", default=["default"], choices=sorted(VARIANTS))
    ap.add_argument("--out", type=Path, default=Path("runs/translate-quality"))
    ap.add_argument("extra", nargs="*", help="flags passed to every rnnkit train (after --)")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is absent; this benchmark reads the shared data folder")
    print(f"rnnkit train --task translate --data {args.data.name} --source-column {args.source_column} "
          f"--target-column {args.target_column} --max-time {args.max_time:g} {' '.join(args.extra)}")
    print("| variant | steps | epochs | val loss | test BLEU greedy | test BLEU beam 5 | test chrF greedy "
          "| test chrF beam 5 | test accuracy | sentences | greedy s | beam 5 s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.variants:
        out = args.out / name
        log = rnnkit("train", "--task", "translate", "--data", str(args.data), "--source-column", args.source_column,
                     "--target-column", args.target_column, "--out", str(out), "--overwrite",
                     "--max-time", str(args.max_time), *VARIANTS[name], *args.extra)
        steps = log.split("trained ")[1].split(" ")[0]
        epochs = log.split("(")[1].split(" full")[0]
        val = float(log.split("best validation loss ")[1].split(" ")[0])
        scores, seconds = {}, {}
        for beam in (1, 5):
            t0 = time.perf_counter()
            scores[beam] = json.loads(rnnkit("evaluate", str(out), "--split", "test", "--json", "--beam", str(beam)))
            seconds[beam] = time.perf_counter() - t0
        g, b = scores[1], scores[5]
        print(f"| {name} | {steps} | {epochs} | {val:.3f} | {g['bleu']:.2f} | {b['bleu']:.2f} | {g['chrf']:.2f} "
              f"| {b['chrf']:.2f} | {g['accuracy']:.1%} | {g['sentences']:,} | {seconds[1]:.0f} | {seconds[5]:.0f} |",
              flush=True)
    print(f"signatures: BLEU {g['signature']['bleu']}; chrF {g['signature']['chrf']}")


if __name__ == "__main__":
    main()
