"""Test-split quality of rnnkit's default configuration under a wall-clock budget.

For each corpus: ``rnnkit train`` with the defaults (plus any ``--flag`` you pass through)
for ``--max-time`` seconds, then ``rnnkit evaluate --split test`` on the last 10% of the text:
the default model (the RNN mixed with a Kneser-Ney n-gram after training) and, with
``--no-mix``, the RNN alone.

    python benchmarks/quality.py                      # alice (seed cleaning), 120 s
    python benchmarks/quality.py --corpora alice tinyshakespeare nottingham-jigs -- --cell lstm
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"alice": "alice.txt", "tinyshakespeare": "tinyshakespeare.txt", "nottingham-jigs": "nottingham-jigs.txt"}


def rnnkit(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "rnnkit.cli", *args], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr)
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", nargs="+", default=["alice"], choices=sorted(FILES))
    ap.add_argument("--max-time", type=float, default=120)
    ap.add_argument("--text-clean", default=None, help="cleaning for every corpus (default: seed for alice, "
                    "as in the target, none for the others)")
    ap.add_argument("extra", nargs="*", help="flags passed to rnnkit train (after --)")
    args = ap.parse_args()
    print(f"rnnkit train --max-time {args.max_time:g} {' '.join(args.extra)}")
    print("| corpus | cleaning | steps | n-gram weight | test nats/char | test bits/char | test accuracy "
          "| RNN alone: test nats/char | test chars |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.corpora:
            path = SHARED / FILES[name]
            if not path.exists():
                sys.exit(f"{path} is absent; this benchmark reads the shared data folder")
            out = Path(tmp) / name
            clean = args.text_clean or ("seed" if name == "alice" else "none")
            log = rnnkit("train", "--data", str(path), "--out", str(out), "--text-clean", clean,
                         "--max-time", str(args.max_time), *args.extra)
            steps = log.split("trained ")[1].split(" ")[0]
            weight = log.split(" at weight ")[1].split(":")[0] if " at weight " in log else "-"
            m = json.loads(rnnkit("evaluate", str(out), "--split", "test", "--json"))
            alone = json.loads(rnnkit("evaluate", str(out), "--split", "test", "--json", "--no-mix"))
            print(f"| {name} | {clean} | {steps} | {weight} | {m['loss']:.3f} | {m['bits_per_char']:.3f} | {m['accuracy']:.1%} "
                  f"| {alone['loss']:.3f} | {m['tokens']:,} |", flush=True)


if __name__ == "__main__":
    main()
