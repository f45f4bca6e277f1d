"""Tuning: do TPE and a Gaussian process find the grid's best with half of its trials, and do two
workers finish more trials per hour than one?

Part 1, samplers. A space of 18 grid points (cell lstm/gru x hidden 128/256/512 x learning rate
1e-3/3e-3/1e-2) over a character model of alice.txt (seed cleaning), each trial a fixed step
budget (about 60 s on 2 quiet cores with the defaults). ``rnnkit tune --sampler grid`` trains
all 18. A trial with a fixed step budget and seed is deterministic given its configuration, so
TPE, GP and random search (3 sampler seeds each, 9 trained trials each; as in ``rnnkit tune``, a
proposal of values already trained reuses that result and does not count) read the validation
loss of each configuration they propose from the grid's table instead of training it again; the
output says so, and checks the premise by training the grid's best configuration a second time.
A second table gives the same over 30 sampler seeds. Reported: the median over seeds of the best value each sampler reaches, against the grid's
best (within 1%?), and every sampler's best-so-far curve against trials.

Part 2, workers. The same short grid (8 points) with ``rnnkit tune --workers 1`` and
``--workers 2`` (each worker gets cores // N threads): trials per hour from the first trial's
start to the last one's end, and a check that every grid point ran exactly once (no trial lost
or run twice).

    python benchmarks/tuning.py                      # the full run: ~7-13 min of grid, then ~2-4 min of workers
    python benchmarks/tuning.py --tiny               # a check of the script (a minute or two on quiet cores)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
from optuna.trial import TrialState

from rnnkit.tune import api
from rnnkit.tune.space import load_space
from rnnkit.tune.study import SamplerConfig, make_sampler, repeat_of, search_over
from rnnkit import tasks

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alice.txt"
SPACE = """[space]
"rnn.cell" = {{ choices = ["lstm", "gru"] }}
"rnn.hidden_size" = {{ choices = {hidden} }}
"train.lr" = {{ choices = [0.001, 0.003, 0.01] }}
"""
SHORT_SPACE = """[space]
"rnn.cell" = {{ choices = ["lstm", "gru"] }}
"rnn.hidden_size" = {{ choices = {hidden} }}
"train.lr" = {{ choices = [0.003, 0.01] }}
"""


def base_toml(steps: int, data: Path, val_tokens: int) -> str:
    return (f'[data]\ndata = "{data}"\ntext_clean = "seed"\n[rnn]\nlayers = 1\nembedding_size = 32\ndropout = 0.0\n'
            f'[mix]\nmix_order = 0\n[train]\nsteps = {steps}\neval_every = {max(1, steps // 3)}\nseq_len = 64\n'
            f'batch_size = 32\nseed = 0\nval_tokens = {val_tokens}\nlog_every = {max(1, steps // 10)}\n')


def load_journal(out: Path) -> optuna.Study:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name=out.name, storage=storage)


def grid_table(out: Path, base: Path, space: Path) -> tuple[dict, list[float]]:
    """Train every grid point with rnnkit tune; {(cell, hidden, lr): best validation loss}, seconds per trial."""
    api.tune(out, config=base, space=space, sampler={"sampler": "grid"})
    study = load_journal(out)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    table = {tuple(sorted(t.params.items())): t.value for t in done}
    return table, [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]


def replay(sampler_name: str, seed: int, table: dict, space_path: Path, trials: int, startup: int) -> list[float]:
    """A sampler's study whose objective reads the grid's table; its best-so-far after each trained trial.

    As in ``rnnkit tune``, a proposal of values already trained takes the earlier result and does
    not count (``study.repeat_of``), and the study stops when ``study.search_over`` says so (then
    the curve stays at its last value).
    """
    space = load_space(space_path, tasks.TASKS["lm"])
    cfg = SamplerConfig(sampler=sampler_name, startup_trials=startup, seed=seed)
    study = optuna.create_study(direction="minimize", sampler=make_sampler(cfg, space))

    def objective(trial: optuna.Trial) -> float:
        value = table[tuple(sorted(space.suggest(trial).items()))]
        earlier = repeat_of(trial.study, trial.number, trial.params)
        if earlier is not None:
            trial.set_user_attr("repeat_of", earlier.number)
            return earlier.value
        return value

    curve: list[float] = []
    while len(curve) < trials and not search_over(study, space):
        study.optimize(objective, n_trials=1)
        if "repeat_of" not in study.trials[-1].user_attrs:
            curve.append(min(curve[-1] if curve else float("inf"), study.trials[-1].value))
    return curve + curve[-1:] * (trials - len(curve))


def throughput(out: Path, base: Path, space: Path, workers: int) -> dict:
    """Run the short grid with ``workers`` processes; trials per hour and the once-each check."""
    cmd = [sys.executable, "-m", "rnnkit.cli", "tune", "--config", str(base), "--space", str(space),
           "--sampler", "grid", "--workers", str(workers), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    study = load_journal(out)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    span = (last - first).total_seconds()
    runs = Counter(tuple(sorted(t.params.items())) for t in done)
    return {"workers": workers, "trials": len(done), "span_s": span, "wall_s": wall,
            "per_hour": 3600 * len(done) / span, "twice": sum(n > 1 for n in runs.values()),
            "numbers_unique": len({t.number for t in study.trials}) == len(study.trials),
            "states": Counter(t.state.name.lower() for t in study.trials)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench-tuning"))
    ap.add_argument("--steps", type=int, default=700, help="training steps per sampler-study trial (~60 s on 2 cores)")
    ap.add_argument("--short-steps", type=int, default=400, help="training steps per throughput trial")
    ap.add_argument("--budget", type=int, default=9, help="trials per TPE/GP/random study (half the grid)")
    ap.add_argument("--startup-trials", type=int, default=3, help="TPE/GP: random trials before the model guides")
    ap.add_argument("--seeds", type=int, default=3, help="sampler seeds per sampler")
    ap.add_argument("--robust-seeds", type=int, default=30, help="sampler seeds of the second, wider table")
    ap.add_argument("--grid-from", type=Path, default=None,
                    help="part 1: read the grid's values from this earlier run's grid folder (OUT/grid) instead of "
                         "training it again")
    ap.add_argument("--tiny", action="store_true", help="scale everything down to check the script (a minute)")
    ap.add_argument("--skip-workers", action="store_true", help="part 1 only")
    ap.add_argument("--skip-grid", action="store_true", help="part 2 only (it needs a quiet machine; part 1 does not)")
    args = ap.parse_args()
    hidden, short_hidden, val_tokens = [128, 256, 512], [128, 256], 20_000
    if args.tiny:
        args.steps, args.short_steps, args.budget = 6, 6, 9
        hidden, short_hidden, val_tokens = [8, 16, 24], [8, 16], 2_000
    if not DATA.exists():
        sys.exit(f"{DATA} is absent (the shared data folder)")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    base, space = args.out / "base.toml", args.out / "space.toml"
    base.write_text(base_toml(args.steps, DATA, val_tokens))
    space.write_text(SPACE.format(hidden=hidden))

    print(f"machine: {os.cpu_count()} cores; torch threads per worker = cores // workers")
    if not args.skip_grid:
        print(f"## Part 1: samplers on an 18-point grid (alice.txt, seed cleaning, {args.steps} steps per trial)\n")
        if args.grid_from:  # an earlier run's grid: its trials are deterministic, so their values stand
            study = load_journal(args.grid_from)
            table = {tuple(sorted(t.params.items())): t.value for t in study.trials if t.state == TrialState.COMPLETE}
            grid_best = min(table.values())
            print(f"grid: {len(table)} trials READ FROM {args.grid_from} (trained by an earlier run of this script); "
                  f"best validation loss {grid_best:.4f} nats/char")
        else:
            t0 = time.perf_counter()
            table, seconds = grid_table(args.out / "grid", base, space)
            grid_best = min(table.values())
            print(f"grid: {len(table)} trials trained in {time.perf_counter() - t0:.0f} s (mean "
                  f"{statistics.mean(seconds):.1f} s per trial, {min(seconds):.1f}..{max(seconds):.1f}); best validation "
                  f"loss {grid_best:.4f} nats/char")
            best_params = dict(min(table, key=table.get))
            api.tune(args.out / "grid", tries=[" ".join(f"{k}={v}" for k, v in best_params.items())])
            again = load_journal(args.out / "grid").trials[-1]
            print(f"determinism check: the best configuration trained again (trial {again.number}, hand-chosen) "
                  f"reaches {again.value:.6f} vs {grid_best:.6f}: {'identical' if again.value == grid_best else 'DIFFERENT'}")
        print(f"TPE, GP and random search propose configurations in their own Optuna studies ({args.budget} trials, "
              f"{args.startup_trials} random start-up trials for TPE/GP); each trial's value is READ FROM THE GRID'S TABLE "
              f"(a trial with a fixed step budget and seed is deterministic given its configuration), not trained again.\n")
        curves = {name: [replay(name, seed, table, space, args.budget, args.startup_trials) for seed in range(args.seeds)]
                  for name in ("tpe", "gp", "random")}
        print("| sampler | median best after {0} trials | vs grid best | within 1% | seeds within 1% | median trials to within 1% |"
              .format(args.budget))
        print("|---|---:|---:|:-:|---:|---:|")
        for name, runs in curves.items():
            finals = [c[-1] for c in runs]
            med = statistics.median(finals)
            reach = [next((i + 1 for i, v in enumerate(c) if v <= grid_best * 1.01), None) for c in runs]
            reached = [r for r in reach if r is not None]
            print(f"| {name} | {med:.4f} | {100 * (med / grid_best - 1):+.2f}% | {'yes' if med <= grid_best * 1.01 else 'no'} "
                  f"| {len(reached)}/{len(runs)} | {statistics.median(reached) if len(reached) == len(runs) else '-'} |")
        print(f"| grid (all {len(table)}) | {grid_best:.4f} | 0 | | | {len(table)} |")
        print(f"\nthe same over {args.robust_seeds} sampler seeds (0..{args.robust_seeds - 1}), "
              f"{args.budget} trained trials each:\n")
        print("| sampler | median best | vs grid best | seeds within 1% |\n|---|---:|---:|---:|")
        for name in curves:
            finals = [replay(name, seed, table, space, args.budget, args.startup_trials)[-1]
                      for seed in range(args.robust_seeds)]
            med = statistics.median(finals)
            print(f"| {name} | {med:.4f} | {100 * (med / grid_best - 1):+.2f}% | "
                  f"{sum(v <= grid_best * 1.01 for v in finals)}/{len(finals)} |")
        print("\nbest-so-far validation loss (median over seeds) after each trial:\n")
        print("| trial | " + " | ".join(curves) + " |")
        print("|---:|" + "---:|" * len(curves))
        for i in range(args.budget):
            print(f"| {i + 1} | " + " | ".join(f"{statistics.median(c[i] for c in runs):.4f}" for runs in curves.values()) + " |")

    if args.skip_workers:
        return
    print(f"\n## Part 2: trials per hour with 1 and 2 workers (8-point grid, {args.short_steps} steps per trial)\n")
    short_base, short_space = args.out / "short_base.toml", args.out / "short_space.toml"
    short_base.write_text(base_toml(args.short_steps, DATA, val_tokens))
    short_space.write_text(SHORT_SPACE.format(hidden=short_hidden))
    rows = [throughput(args.out / f"workers{n}", short_base, short_space, n) for n in (1, 2)]
    print("| workers | trials | first start to last end | trials per hour | wall (incl. start-up, plots) | "
          "run twice | numbers unique | states |")
    print("|---:|---:|---:|---:|---:|---:|:-:|---|")
    for r in rows:
        states = ", ".join(f"{n} {s}" for s, n in r["states"].items())
        print(f"| {r['workers']} | {r['trials']} | {r['span_s']:.0f} s | {r['per_hour']:.0f} | {r['wall_s']:.0f} s | "
              f"{r['twice']} | {'yes' if r['numbers_unique'] else 'NO'} | {states} |")
    print(f"\n2 workers / 1 worker: {rows[1]['per_hour'] / rows[0]['per_hour']:.2f}x trials per hour")


if __name__ == "__main__":
    main()
