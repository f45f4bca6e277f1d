"""Data-parallel scaling of the default language model, and the GPU path.

    python benchmarks/scaling.py [--data PATH] [--steps 60] [--loss-steps 400] [--repeats 2] [--batch-size 32] [--out DIR]

* speed: training tokens per second of 1 process with 1 thread against 2 gloo processes with
  1 thread each (``torchrun --nproc-per-node 2 -m rnnkit train``), the same effective batch
  (``--batch-size`` is global), a step budget; measured from the runs' metrics logs after the
  first logged window (warm-up), alternating the settings to spread machine noise; beside them
  the ceiling: two independent processes with half the batch each, at once, no communication;
* loss: the validation loss reached by 1 and 2 processes after ``--loss-steps`` steps with the
  same effective batch and seed (the ranks draw their own dropout masks, so the runs agree
  within noise, not bit for bit);
* gpu: where CUDA is available, tokens per second in fp32 and bf16 and the share of the loop's
  time spent producing batches on the host (an upper bound on the GPU's wait for data);
  otherwise it prints "not measured: no GPU".

Prints Markdown tables; runs go to ``--out`` (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnkit.text.corpora import BUILTIN

FLAGS: list[str] = []  # --flags
BATCH = 32  # --batch-size: the effective (global) batch of every run; the default model's
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "alice.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_command(procs: int, out: Path, data: str, steps: int, extra: list[str], batch: int | None = None) -> list[str]:
    """The CLI command of the default language model, under torchrun for several processes;
    ``batch`` is the run's (global) batch, ``BATCH`` unless given."""
    flags = ["train", "--data", data, "--out", str(out), "--overwrite", "--steps", str(steps), "--eval-every",
             str(steps), "--log-every", "10", "--mix-order", "0", "--device", "cpu",
             "--batch-size", str(BATCH if batch is None else batch), *FLAGS, *extra]
    if procs == 1:
        return [sys.executable, "-m", "rnnkit", *flags]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "--master-port",
            str(free_port()), "-m", "rnnkit", *flags]


def run(procs: int, out: Path, data: str, steps: int, extra: list[str] = ()) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per process, in both settings
    p = subprocess.run(train_command(procs, out, data, steps, list(extra)), capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"training with {procs} process(es) failed:\n{p.stderr[-3000:]}")
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def steady_tps(rows: list[dict]) -> float:
    """Tokens per second over the logged windows after the first (compilation, allocation, caches)."""
    tps = [r["tokens_per_s"] for r in rows if r["kind"] == "train"][1:]
    return statistics.median(tps)


def pair_tps(out: Path, data: str, steps: int) -> float:
    """Two single processes at once, each with half the batch and no communication: the most
    that two data-parallel processes could reach on this machine (the sum of their tokens/s)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(train_command(1, out / f"pair-{i}", data, steps, ["--seed", str(i)], BATCH // 2),
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        if p.wait() != 0:
            sys.exit(f"a process of the pair failed:\n{p.stderr.read()[-3000:]}")
    return sum(steady_tps([json.loads(line) for line in (out / f"pair-{i}" / "metrics.jsonl").read_text().splitlines()])
               for i in range(2))


def part_speed(args, out: Path) -> None:
    results: dict[str, list[float]] = {"1": [], "2": [], "pair": []}
    for rep in range(args.repeats):
        for procs in ("1", "2", "pair") if rep % 2 == 0 else ("pair", "2", "1"):
            results[procs].append(pair_tps(out, args.data, args.steps) if procs == "pair" else
                                  steady_tps(run(int(procs), out / f"speed-{procs}", args.data, args.steps)))
    one = statistics.median(results["1"])
    model = f"flags {' '.join(FLAGS)}" if FLAGS else "default language model"
    print(f"\n### Throughput: {model}, {args.steps} steps, effective batch {BATCH}, {os.cpu_count()} CPU cores\n")
    print("| processes x threads | tokens/s (median of repeats) | each repeat | speed-up |\n|---|---:|---|---:|")
    names = {"1": "1 x 1", "2": "2 x 1 (torchrun, DDP over gloo)",
             "pair": f"2 separate x 1, batch {BATCH // 2} each, no communication (the ceiling)"}
    for key, values in results.items():
        value = statistics.median(values)
        print(f"| {names[key]} | {value:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} | {value / one:.2f}x |")


def part_loss(args, out: Path) -> None:
    print(f"\n### Validation loss after {args.loss_steps} steps, effective batch {BATCH}, seed 0\n")
    print("| processes | final validation loss (nats/char) | best | training s |\n|---|---:|---:|---:|")
    for procs in (1, 2):
        rows = run(procs, out / f"loss-{procs}", args.data, args.loss_steps, ["--eval-every", str(args.loss_steps // 4)])
        val = [r for r in rows if r["kind"] == "val"]
        print(f"| {procs} | {val[-1]['val_loss']:.4f} | {min(r['val_loss'] for r in val):.4f} | {val[-1]['elapsed']:.0f} |")


def part_gpu(args, out: Path) -> None:
    print("\n### GPU\n")
    if not torch.cuda.is_available():
        print("not measured: no GPU")
        return
    import rnnkit
    from rnnkit.text.language_model import LMTask

    host = {"s": 0.0}
    real = LMTask.batches

    def timed(self, epoch, start):  # time spent on the host making each batch and queueing its copy
        it = real(self, epoch, start)
        while True:
            t = time.perf_counter()
            try:
                b = next(it)
            except StopIteration:
                return
            host["s"] += time.perf_counter() - t
            yield b

    LMTask.batches = timed
    name = torch.cuda.get_device_name()
    print(f"{name}; default language model, batch {BATCH}, {args.gpu_steps} steps\n")
    print("| precision | tokens/s | host time making batches, share of the loop |\n|---|---:|---:|")
    for precision in ("fp32", "bf16"):
        if precision == "bf16" and not torch.cuda.is_bf16_supported(including_emulation=False):
            print("| bf16 | not measured: no native bf16 on this GPU | |")
            continue
        cfg = rnnkit.LMConfig()
        cfg.data.data = args.data
        cfg.train.device, cfg.train.precision, cfg.train.batch_size = "cuda", precision, BATCH
        cfg.train.steps, cfg.train.eval_every, cfg.train.log_every = args.gpu_steps, 10**9, 10
        cfg.mix.mix_order = 0
        if FLAGS:
            sys.exit("--flags applies to the CPU parts; run --parts gpu without it")
        host["s"] = 0.0
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        rnnkit.train(cfg, out / f"gpu-{precision}", overwrite=True)
        total = time.perf_counter() - t0
        rows = [json.loads(r) for r in (out / f"gpu-{precision}" / "metrics.jsonl").read_text().splitlines()]
        print(f"| {precision} | {steady_tps(rows):,.0f} | {host['s'] / total:.1%} |")


def main() -> None:
    global BATCH
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED) if SHARED.exists() else BUILTIN,
                    help="text file or corpus name (default: ../shared/data/alice.txt)")
    ap.add_argument("--steps", type=int, default=60, help="steps per throughput run")
    ap.add_argument("--repeats", type=int, default=2, help="throughput runs per setting")
    ap.add_argument("--loss-steps", type=int, default=400, help="steps of the runs that compare validation losses")
    ap.add_argument("--gpu-steps", type=int, default=200, help="steps per GPU run")
    ap.add_argument("--parts", nargs="+", default=["speed", "loss", "gpu"], choices=["speed", "loss", "gpu"])
    ap.add_argument("--flags", default="", help="extra training flags for every run, e.g. \"--hidden-size 64\" "
                    "for a quick check (default: none, the default model)")
    ap.add_argument("--batch-size", type=int, default=BATCH, help="effective batch of every run, split over the "
                    "processes (default: %(default)s, the default model's)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    args = ap.parse_args()
    if args.batch_size < 2 or args.batch_size % 2:
        sys.exit(f"--batch-size must be an even number of 2 or more (2 processes share it), got {args.batch_size}")
    if "--batch-size" in args.flags.split():
        sys.exit("give the batch with the benchmark's own --batch-size, not inside --flags")
    BATCH = args.batch_size
    FLAGS.extend(args.flags.split())
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        for part in args.parts:
            {"speed": part_speed, "loss": part_loss, "gpu": part_gpu}[part](args, out)


if __name__ == "__main__":
    main()
