"""Peak memory and preparation time of training on a 100 MB text corpus.

Builds a ~100 MB file (tiny Shakespeare repeated, or the built-in Python docs when the shared
data is absent) in a temporary folder, then runs ``rnnkit train`` on it in a child process
for a few steps and reports the child's peak resident memory (ru_maxrss) and timings.

    python benchmarks/memory.py [--mb 100] [--steps 20]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    if SHARED.exists():
        piece = SHARED.read_bytes()
    else:
        from rnnkit.text.corpora import builtin_text

        piece = builtin_text().encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        reps = int(args.mb * 1e6 / len(piece)) + 1
        with big.open("wb") as f:
            for _ in range(reps):
                f.write(piece)
        size = big.stat().st_size
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "rnnkit.cli", "train", "--data", str(big), "--out", str(out),
               "--steps", str(args.steps), "--eval-every", str(args.steps), "--device", "cpu"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode:
            sys.exit(proc.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        tokens_mb = (out / "tokens.bin").stat().st_size / 1e6
        print("| corpus | token file | steps | wall time (prepare + train + validate + checkpoints) | peak RSS |")
        print("|---:|---:|---:|---:|---:|")
        print(f"| {size / 1e6:.0f} MB | {tokens_mb:.0f} MB (uint16, memory-mapped) | {args.steps} | {wall:.0f} s | {peak_mb:,.0f} MB |")


if __name__ == "__main__":
    main()
