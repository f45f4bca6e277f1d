"""Training throughput: rnnkit's training loop against a minimal hand-written PyTorch loop.

Both run the same model on the same batches (same seed, same optimizer, same clipping) for
the same steps; the table gives characters per second for each and their ratio. Measured
after a warm-up, alternating the two loops to spread machine noise.

    python benchmarks/throughput.py [--data PATH] [--steps 60] [--repeats 2]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

import rnnkit
from rnnkit.text import textdata
from rnnkit.text.batching import StreamBatches
from rnnkit.text.language_model import LMTask, build_model
from rnnkit.text.rnn_lm import detach_state
from rnnkit.core.trainer import fit

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "alice.txt"
SIZES = [("lstm", 128, 1), ("lstm", 512, 1), ("gru", 512, 1), ("lstm", 384, 2), ("lstm", 1024, 1)]


def config(data: str, cell: str, hidden: int, layers: int, steps: int, precision: str) -> rnnkit.LMConfig:
    cfg = rnnkit.LMConfig()
    cfg.train.precision = precision
    cfg.data.data, cfg.data.text_clean = data, "seed"
    cfg.rnn.cell, cfg.rnn.hidden_size, cfg.rnn.layers = cell, hidden, layers
    cfg.train.steps, cfg.train.eval_every, cfg.train.log_every = steps, 10**9, 10
    cfg.train.device = "cpu"
    return cfg


def rnnkit_loop(cfg, corpus, warmup: int, run_dir: Path) -> float:
    """Characters/s of rnnkit's fit() between the warm-up step and the last step."""
    torch.manual_seed(cfg.train.seed)
    task = LMTask(build_model(cfg, len(corpus.vocab)), corpus, cfg, torch.device("cpu"))
    marks = {}

    def on_event(e):
        if e.kind == "train":
            marks[e.step] = time.perf_counter()

    fit(task, cfg.train, run_dir, torch.device("cpu"), on_event=on_event)
    steps = cfg.train.steps - warmup
    return steps * cfg.train.batch_size * cfg.train.seq_len / (marks[cfg.train.steps] - marks[warmup])


def minimal_loop(cfg, corpus, warmup: int) -> float:
    """The loop a careful user would write by hand: no logging, no checks, no checkpoints."""
    bf16 = cfg.train.precision == "bf16"
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, len(corpus.vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    batches = StreamBatches(corpus.part("train"), cfg.train.batch_size, cfg.train.seq_len, cfg.train.seed)
    state, step, epoch = None, 0, 0
    t0 = None
    while step < cfg.train.steps:
        for b in batches.epoch(epoch):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits, state = model(b.inputs, state)
                loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), b.targets.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip_norm)
            opt.step()
            state = detach_state(state)  # (what every truncated-BPTT loop does)
            step += 1
            if step == warmup:
                t0 = time.perf_counter()
            if step == cfg.train.steps:
                break
        epoch, state = epoch + 1, None
    steps = cfg.train.steps - warmup
    return steps * cfg.train.batch_size * cfg.train.seq_len / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(SHARED) if SHARED.exists() else "python-docs")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {args.data}, batch 32 x 100 chars")
    print("| model | precision | minimal loop chars/s | rnnkit chars/s | rnnkit / minimal |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for (cell, hidden, layers), precision in itertools.product(SIZES, args.precision):
            cfg = config(args.data, cell, hidden, layers, args.steps, precision)
            corpus = textdata.prepare(cfg.data, Path(tmp) / "data")
            mine, ref = [], []
            for r in range(args.repeats):
                run = Path(tmp) / f"run{r}"
                run.mkdir(exist_ok=True)
                ref.append(minimal_loop(cfg, corpus, args.warmup))
                mine.append(rnnkit_loop(cfg, corpus, args.warmup, run))
            m, k = max(ref), max(mine)
            print(f"| {layers}x{cell.upper()}-{hidden} | {precision} | {m:,.0f} | {k:,.0f} | {k / m:.3f} |", flush=True)


if __name__ == "__main__":
    main()
