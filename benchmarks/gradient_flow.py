"""Gradient flow through time on alice.txt (seed cleaning): rnn, lstm and gru, untrained and
briefly trained; the issue's target is the vanilla RNN's gradient 50 steps back at least 100x
smaller than the LSTM's.

    python benchmarks/gradient_flow.py                                  # 128 units, 0 and 300 steps
    python benchmarks/gradient_flow.py --hidden-size 512 --layers 2 --steps 0 200

Needs ../shared/data/alice.txt. Prints a Markdown table; plots go to --out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnkit.core.config import from_dict
from rnnkit.diagnose import gradient_flow
from rnnkit.text.language_model import LMConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alice.txt"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[0, 300], help="training steps per measurement")
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--sequences", type=int, default=32)
    p.add_argument("--out", type=Path, default=Path("runs/gradient_flow"))
    args = p.parse_args()
    print("| training steps | cell | 1 back | 10 back | 25 back | 50 back | lstm / this at 50 back | seconds |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    verdicts = []
    for steps in args.steps:
        cfg = from_dict(LMConfig, {"data": {"data": str(DATA), "text_clean": "seed"},
                                   "rnn": {"hidden_size": args.hidden_size, "layers": args.layers, "dropout": 0.0},
                                   "train": {"device": "cpu", "eval_every": max(steps, 1), "log_every": 50}})
        t0 = time.perf_counter()
        flow = gradient_flow.of_cells(["rnn", "lstm", "gru"], cfg, steps, args.length, args.sequences)
        seconds = time.perf_counter() - t0
        flow.plot(args.out / f"steps{steps}.png")
        lstm50 = flow.at("lstm", 50)
        for cell in flow.norms:
            row = " | ".join(f"{flow.at(cell, k):.3g}" for k in (1, 10, 25, 50))
            print(f"| {steps} | {cell} | {row} | {lstm50 / flow.at(cell, 50):.3g} | {seconds:.0f} |")
        verdicts.append((steps, lstm50 / flow.at("rnn", 50)))
    for steps, ratio in verdicts:
        print(f"\n{steps} steps: the LSTM's gradient 50 steps back is {ratio:.3g}x the vanilla RNN's "
              f"({'meets' if ratio >= 100 else 'MISSES'} the 100x target)")


if __name__ == "__main__":
    main()
