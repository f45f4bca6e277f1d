"""Spoken digits (FSDD) with the default CRNN: test accuracy on recordings 0-4 (as recorded, and as
recordings unlike FSDD's would be: silence or room noise around the word, noise, a quiet microphone),
leave-one-speaker-out, classification speed, and training throughput against a minimal hand-written loop.

    python benchmarks/audio_fsdd.py --part test --max-time 240       # the standard split
    python benchmarks/audio_fsdd.py --part crossval --max-time 240   # 6 folds, one per speaker
    python benchmarks/audio_fsdd.py --part speed                     # clips/s: classify, train vs minimal loop
    python benchmarks/audio_fsdd.py --part crossval --set augment.vtlp=0.1   # any option changed
    OMP_NUM_THREADS=1 python benchmarks/audio_fsdd.py --part crossval --steps 1500   # a screen: run to run identical

Needs ../shared/data/fsdd. Prints Markdown tables; runs go to --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from rnnkit.audio import api
from rnnkit.audio.task import AudioConfig, Frontend, fit_normalization, pad
from rnnkit.audio.wav import list_wavs, read_wav
from rnnkit.audio.model import build
from rnnkit.core.config import from_dict, merge, settings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd"
BASE = {"data": {"data": str(DATA), "label_pattern": r"^(\d)_", "group_pattern": r"^\d_([a-z]+)_"}}


OVERRIDES: dict = {}  # --set SECTION.FIELD=VALUE and --steps, applied to every configuration


def config(max_time: float, **data) -> AudioConfig:
    tree = {"data": {**BASE["data"], **data}, "train": {"max_time": max_time}}
    return from_dict(AudioConfig, merge(tree, OVERRIDES))


def part_test(args) -> None:
    cfg = config(args.max_time, split="pattern", test_pattern=r"_[0-4]\.wav$")
    t0 = time.perf_counter()
    res = api.train(cfg, args.out / "test", overwrite=True)
    ev = api.evaluate(api.load(args.out / "test"), "test", args.out / "test")
    errors = ev.clips - int(np.trace(np.array(ev.confusion)))
    print("| split | training s | steps | epochs | test clips | errors | test accuracy |\n|---|---:|---:|---:|---:|---:|---:|")
    print(f"| recordings 0-4 | {res.elapsed:.0f} | {res.steps} | {res.epochs} | {ev.clips} | {errors} | {ev.accuracy:.2%} |")
    print(f"(total with reading and evaluation: {time.perf_counter() - t0:.0f} s)")
    clf = api.load(args.out / "test")
    waves, y = api.split_waves(clf, "test", args.out / "test")
    print("\n| the test clips recorded otherwise | test accuracy |\n|---|---:|")
    for name, change in recorded_otherwise(clf.config.features.sample_rate).items():
        rng = np.random.default_rng(0)  # the same noise for every run
        probs = api.probabilities(clf, [change(w, rng) for w in waves])
        print(f"| {name} | {(probs.argmax(1) == y).mean():.2%} |")


def recorded_otherwise(rate: int) -> dict:
    """Changes ``(wave, rng) -> wave`` that FSDD's tightly cut, clean clips never show: what a user's
    own recordings of a digit may look like. Noise levels are relative to each clip's RMS."""

    def noise(x, n, db, rng):
        rms = np.sqrt(np.mean(np.square(x, dtype=np.float64)))
        return (rng.standard_normal(n) * rms * 10 ** (db / 20)).astype(np.float32)

    def around(seconds, db=None):  # silence (or noise) before and after the word
        def change(x, rng):
            z = np.zeros(int(seconds * rate), np.float32)
            out = np.concatenate([z, x, z])
            return out if db is None else out + noise(x, len(out), db, rng)
        return change

    return {
        "as recorded": lambda x, rng: x,
        "0.5 s of digital silence before and after": around(0.5),
        "0.5 s before and after, room noise at -40 dB throughout": around(0.5, -40),
        "1 s before and after, room noise at -40 dB throughout": around(1.0, -40),
        "0.25 s before and after, noise at -30 dB throughout": around(0.25, -30),
        "noise at -20 dB throughout": lambda x, rng: x + noise(x, len(x), -20, rng),
        "20 dB quieter": lambda x, rng: x * np.float32(0.1),
    }


def part_crossval(args) -> None:
    cfg = config(args.max_time)
    res = api.crossval(cfg, args.out / "crossval", on_fold=lambda m: print(m, file=sys.stderr, flush=True))
    print("| held-out speaker | test clips | accuracy |\n|---|---:|---:|")
    for r in res:
        print(f"| {r.group} | {r.clips} | {r.accuracy:.2%} |")
    accs = [r.accuracy for r in res]
    print(f"\nmean {np.mean(accs):.2%}, worst {min(accs):.2%}")




def part_speed(args) -> None:
    torch.set_num_threads(2)
    cfg = config(60.0)
    cfg.augment.augment = False
    files = list_wavs(DATA)[:1024]
    waves = [read_wav(f, 8000) for f in files]
    labels = torch.tensor([int(f.name[0]) for f in files])
    mean, std = fit_normalization(cfg.features, waves)
    front = Frontend(cfg.features, mean, std)
    torch.manual_seed(0)
    model = build(cfg.model, cfg.features.feature_size, 10)
    # classification speed: files already in memory, batches of 64, features included
    clf = api.Classifier(model.eval(), front, [str(i) for i in range(10)], cfg, torch.device("cpu"), Path("."))
    api.probabilities(clf, waves[:64])
    t = time.perf_counter()
    api.probabilities(clf, waves)
    infer = len(waves) / (time.perf_counter() - t)
    # training throughput: rnnkit's task step (pad, features, model, loss, backward, AdamW) vs a minimal loop
    from rnnkit.audio.task import AudioTask
    from rnnkit.core.trainer import make_optimizer

    def minimal_steps(n):
        m = build(cfg.model, cfg.features.feature_size, 10).train()
        opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=1e-2, fused=True)
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        for _ in range(n):
            idx = rng.choice(len(waves), 32, replace=False)
            w, l = pad([waves[i] for i in idx])
            with torch.no_grad():
                x, fr = front(w, l)
            loss = sum(F.cross_entropy(logits, labels[idx]) for logits in m(x, fr, members=True))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return n * 32 / (time.perf_counter() - t)

    def rnnkit_steps(n):
        m = build(cfg.model, cfg.features.feature_size, 10).train()
        task = AudioTask(m, front, waves, labels.numpy(), (None, None, None), cfg, {}, torch.device("cpu"))
        opt = make_optimizer(cfg.train, m.parameters())
        t = time.perf_counter()
        for k, batch in enumerate(task.batches(0, 0)):
            if k == n:
                break
            loss, _, _ = task.loss(batch, None)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), cfg.train.clip_norm)
            opt.step()
        return n * 32 / (time.perf_counter() - t)

    minimal_steps(3), rnnkit_steps(3)
    mins, ours = [], []
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        mins.append(minimal_steps(30))
        ours.append(rnnkit_steps(30))
    print("| measure | clips/s |\n|---|---:|")
    print(f"| classify (batches of 64, features included) | {infer:,.0f} |")
    print(f"| train, minimal hand-written loop (no augmentation) | {np.median(mins):,.0f} |")
    print(f"| train, rnnkit's task step (no augmentation) | {np.median(ours):,.0f} |")
    ratios = np.array(ours) / np.array(mins)  # each repeat's pair, taken back to back
    print(f"\nrnnkit / minimal: {np.median(ours) / np.median(mins):.3f} (medians of {args.repeats} interleaved "
          f"repeats of 30 steps; pairwise {ratios.min():.3f}-{ratios.max():.3f})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["test", "crossval", "speed"], default="test")
    p.add_argument("--max-time", type=float, default=240.0, help="training seconds per model")
    p.add_argument("--steps", type=int, help="train every model this many steps instead of --max-time seconds: "
                   "with OMP_NUM_THREADS=1 every run on one machine gives the same figures, whatever its load (a screen)")
    p.add_argument("--out", type=Path, default=Path("runs/audio-fsdd"))
    p.add_argument("--repeats", type=int, default=7, help="--part speed: interleaved repeats of each training loop")
    p.add_argument("--set", nargs="+", default=[], metavar="SECTION.FIELD=VALUE",
                   help="change an option of every run, e.g. augment.vtlp=0.1 or model.hidden_size=64")
    args = p.parse_args()
    OVERRIDES.update(settings(args.set))
    if args.steps:  # a step budget instead of the time limit
        OVERRIDES.update(merge(OVERRIDES, {"train": {"steps": args.steps, "max_time": None}}))
    if not DATA.is_dir():
        print(f"no data at {DATA}; this benchmark needs ../shared/data/fsdd", file=sys.stderr)
        return 2
    {"test": part_test, "crossval": part_crossval, "speed": part_speed}[args.part](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
