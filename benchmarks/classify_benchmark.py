"""Sequence classification with rnnkit's default classifier against the classic references, on
SST-2, TREC-6, JapaneseVowels or any labelled file; a validation-only screen of options; speed.

    python benchmarks/classify_benchmark.py sst2 trec japanese-vowels      # 600 s text, 300 s numeric
    python benchmarks/classify_benchmark.py --data my.csv --test my_test.csv --set model.hidden_size=64
    python benchmarks/classify_benchmark.py trec --choose --max-time 120    # options scored on validation only
    python benchmarks/classify_benchmark.py --speed                          # sequences/s; predict wall time

Each run trains once with a ``--max-time`` budget (selected on the validation part) and scores the
test part once. The references are fitted on the same training part and scored on the same test
part: TF-IDF + logistic regression and NB-SVM (Wang & Manning 2012) for text, 1-nearest-neighbour
for numeric series. ``--choose`` never reads a test score. Prints Markdown tables; runs go to --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch.nn import functional as F

from rnnkit.classify import api, baseline
from rnnkit.classify import data as rundata
from rnnkit.classify.task import ClassifyConfig, ClassifyTask
from rnnkit.classify.units import Scaler
from rnnkit.core.config import from_dict, merge, parse_scalar, settings
from rnnkit.core.errors import RnnkitError
from rnnkit.core.trainer import fit
from rnnkit.nn.ensemble import Ensemble

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {  # name -> the data section of its configuration
    "sst2": {"data": "sst2/stsa.binary.train", "validation": "sst2/stsa.binary.dev", "test": "sst2/stsa.binary.test",
             "format": "label-first"},
    "trec": {"data": "trec/TREC.train.all", "test": "trec/TREC.test.all", "format": "label-first",
             "encoding": "latin-1"},
    "japanese-vowels": {"data": "japanese-vowels/JapaneseVowels_TRAIN.ts",
                        "test": "japanese-vowels/JapaneseVowels_TEST.ts"},
}
BUDGET = {"text": 600.0, "numeric": 300.0}  # default seconds of training
# --choose: one option changed at a time from the defaults (text-only options skipped for numeric data)
CHOICES = {"model.pooling": ["max", "mean", "attention", "last"], "units.level": ["word", "char"],
           "model.hidden_size": [128, 256]}
TEXT_ONLY = {"units.level"}


def named_data(name: str) -> dict:
    return {k: str(DATA / v) if k in ("data", "validation", "test") else v for k, v in SETS[name].items()}


def make_config(data: dict, overrides: dict, max_time: float | None) -> ClassifyConfig:
    tree = merge({"data": data}, overrides)
    cfg = from_dict(ClassifyConfig, tree)
    if max_time is None:  # the default budget of the data's kind
        kind = rundata.read_files(cfg.data)[0].kind
        cfg.train.max_time = overrides.get("train", {}).get("max_time", BUDGET[kind])
    else:
        cfg.train.max_time = max_time
    return cfg


def describe(cfg: ClassifyConfig, kind: str) -> str:
    m = cfg.model
    units = f", {cfg.units.level}" if kind == "text" else ""
    ensemble = f" x{m.members} ensemble" if m.members > 1 else ""
    return (f"rnnkit {'bi-' if m.bidirectional else ''}{m.cell.upper()}-{m.hidden_size}x{m.layers} {m.pooling}{units}"
            f"{ensemble}")


def train_part(cfg: ClassifyConfig, run: Path) -> tuple[api.TrainResult, api.Classifier]:
    res = api.train(cfg, run, overwrite=True)
    return res, api.load(run)


def nbsvm_predict(train: list[str], y: np.ndarray, test: list[str], classes: int) -> np.ndarray:
    """NB-SVM (Wang & Manning 2012, the logistic-regression form): binarized word uni+bigram counts
    scaled by each class's log-count ratio r = log(p/|p|1) - log(q/|q|1) (alpha 1), one classifier per
    class (one-vs-rest; a binary task needs one), the most confident class."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(ngram_range=(1, 2), binary=True, token_pattern=r"\S+")
    X, Xt = vec.fit_transform(train), vec.transform(test)
    scores = np.zeros((len(test), classes))
    for c in [1] if classes == 2 else range(classes):
        pos = y == c
        p, q = 1 + np.asarray(X[pos].sum(0)).ravel(), 1 + np.asarray(X[~pos].sum(0)).ravel()
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        lr = LogisticRegression(C=4.0, max_iter=2000).fit(X.multiply(r).tocsr(), pos)
        scores[:, c] = lr.decision_function(Xt.multiply(r).tocsr())
    return scores.argmax(1)


def references(kind: str, train: list, y: np.ndarray, test: list, classes: int) -> list[tuple[str, np.ndarray, float]]:
    """(name, test predictions, fitting seconds) of each classic reference."""
    out = []
    t = time.perf_counter()
    if kind == "numeric":
        scaler = Scaler.fit(train)  # training series only, as the classifier's
        pred = baseline.nearest_neighbour(scaler.encode(train), y, scaler.encode(test))
        return [("1-NN (Euclidean, resampled)", pred, time.perf_counter() - t)]
    pred = baseline.tfidf_logistic(train, y).predict(test)
    out.append(("TF-IDF+LR (word 1-2 grams)", pred, time.perf_counter() - t))
    t = time.perf_counter()
    out.append(("NB-SVM (word 1-2 grams, LR)", nbsvm_predict(train, y, test, classes), time.perf_counter() - t))
    return out


def row(data: str, model: str, y: np.ndarray, pred: np.ndarray, seconds: float) -> str:
    return (f"| {data} | {model} | {accuracy_score(y, pred):.2%} | {f1_score(y, pred, average='macro'):.4f} "
            f"| {seconds:.0f} |")


def part_test(name: str, cfg: ClassifyConfig, out: Path) -> list[str]:
    """Train, score the test part once, fit and score the references; the table's rows."""
    run = out / name
    res, clf = train_part(cfg, run)
    ev = api.evaluate(clf, "test", run)
    print(f"{name}: {res.steps} steps, {res.epochs} epochs, {res.elapsed:.0f} s, stopped: {res.stopped}, "
          f"examples {res.examples}", file=sys.stderr, flush=True)
    rows = [f"| {name} | {describe(cfg, clf.kind)}{' + TF-IDF mix' if clf.mix else ''} | {ev.accuracy:.2%} "
            f"| {ev.macro_f1:.4f} | {res.elapsed:.0f} |"]
    if clf.mix:  # the recurrent model alone (rnnkit evaluate --no-mix), and the weight chosen on validation
        alone = api.evaluate(api.load(run, mix=False), "test", run)
        rows.append(f"| {name} | {describe(cfg, clf.kind)} alone (mix weight {clf.mix.weight:.2f}) "
                    f"| {alone.accuracy:.2%} | {alone.macro_f1:.4f} | {res.elapsed:.0f} |")
    saved = rundata.reread(run, cfg.data)
    (train, y), (test, yt) = (api.pick(clf, saved, part) for part in ("train", "test"))
    train, test = train.inputs, test.inputs
    for ref, pred, seconds in references(clf.kind, train, y, test, len(clf.labels)):
        rows.append(row(name, ref, yt, pred, seconds))
    return rows


def variants(kind: str, grid: dict[str, list]) -> list[tuple[str, dict]]:
    """The defaults, then each option of ``grid`` at each of its other values (one at a time)."""
    defaults = ClassifyConfig()
    out = [("defaults", {})]
    for key, values in grid.items():
        if kind == "numeric" and key in TEXT_ONLY:
            continue
        section, option = key.split(".")
        for v in values:
            if v != getattr(getattr(defaults, section), option):
                out.append((f"{key}={v}", {section: {option: v}}))
    return out


def part_choose(name: str, cfg: ClassifyConfig, out: Path, grid: dict[str, list]) -> list[str]:
    """Each variant trained at the same budget, scored on the validation part (the test part is never read)."""
    kind = rundata.read_files(cfg.data)[0].kind
    rows = []
    for label, change in variants(kind, grid):
        tree = merge(dataclasses.asdict(cfg), change)
        run = out / f"choose-{name}-{label.replace('=', '-').replace('.', '_')}"
        res, clf = train_part(from_dict(ClassifyConfig, tree), run)
        ev = api.evaluate(clf, "val", run)
        rows.append(f"| {name} | {label} | {ev.accuracy:.2%} | {ev.macro_f1:.4f} | {res.steps} | {res.elapsed:.0f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def speed_task(cfg: ClassifyConfig) -> tuple[ClassifyTask, int, int]:
    """A classification task on the training part of ``cfg``'s data (encoded once), its vocabulary
    size and number of classes; validation is 64 examples (only run after the timed steps)."""
    new = rundata.prepare(cfg.data, cfg.train.seed)
    examples, parts = new.examples, new.parts
    labels = rundata.check(examples, parts)
    part = np.array(parts)
    idx = np.flatnonzero(part == "train")
    encoder = api.fit_encoder(cfg, examples, idx)
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[examples.labels[i]] for i in idx])
    encoded = encoder.encode([examples.inputs[i] for i in idx])
    model = api.build_model(cfg, examples.kind, encoder, len(labels))
    task = ClassifyTask(model, encoded, y, (encoded[:64], y[:64]), cfg, {}, {}, torch.device("cpu"))
    return task, len(encoder.vocab), len(labels)


def rnnkit_loop(cfg: ClassifyConfig, task: ClassifyTask, vocab: int, classes: int, warmup: int, run: Path) -> float:
    """Sequences/s of rnnkit's fit() between the warm-up step and the last step."""
    torch.manual_seed(cfg.train.seed)
    task.model = api.seqmodel.build(cfg.model, classes, vocab_size=vocab)
    marks = {}
    fit(task, cfg.train, run, torch.device("cpu"),
        on_event=lambda e: marks.__setitem__(e.step, time.perf_counter()) if e.kind == "train" else None)
    batches = task.epoch_batches(0)[warmup:cfg.train.steps]
    return sum(len(b) for b in batches) / (marks[cfg.train.steps] - marks[warmup])


def minimal_loop(cfg: ClassifyConfig, task: ClassifyTask, vocab: int, classes: int, warmup: int) -> float:
    """The loop a careful user writes by hand on the same batches: pad, forward, loss, clip, AdamW."""
    torch.manual_seed(cfg.train.seed)
    model = api.seqmodel.build(cfg.model, classes, vocab_size=vocab).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=True)
    batches = task.epoch_batches(0)[:cfg.train.steps]
    for step, idx in enumerate(batches):
        if step == warmup:
            t0, seen = time.perf_counter(), 0
        seqs = [torch.from_numpy(task.inputs[i]) for i in idx]
        x = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)  # (B, S), zeros after each end
        lengths = torch.tensor([len(s) for s in seqs])
        if isinstance(model, Ensemble):  # each member on its own loss: the sum of their cross-entropies
            loss = sum(F.cross_entropy(m(x, lengths), task.labels[idx]) for m in model.members)
        else:
            loss = F.cross_entropy(model(x, lengths), task.labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip_norm)
        opt.step()
        if step >= warmup:
            seen += len(idx)
    return seen / (time.perf_counter() - t0)


def predict_seconds(run: Path, data: Path, repeats: int) -> list[float]:
    """Wall time of ``rnnkit predict RUN --input FILE`` in a fresh process, loading included."""
    exe = Path(sys.executable).parent / "rnnkit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rnnkit"]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([*cmd, "predict", str(run), "--input", str(data)], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times


def part_speed(args, overrides: dict) -> None:
    steps, warmup = args.steps + 10, 10
    cfg = make_config(named_data("sst2"), merge(overrides, {"train": {"steps": steps, "eval_every": 10**9,
                                                                      "log_every": 10, "max_time": None}}), None)
    cfg.train.max_time = None
    task, vocab, classes = speed_task(cfg)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, SST-2 training part, batch "
          f"{cfg.train.batch_size}, {describe(cfg, 'text')}, {args.steps} timed steps after {warmup}")
    mins, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):  # interleaved, so machine noise hits both alike
            mins.append(minimal_loop(cfg, task, vocab, classes, warmup))
            ours.append(rnnkit_loop(cfg, task, vocab, classes, warmup, Path(tmp) / f"run{r}"))
    ratios = np.array(ours) / np.array(mins)
    print("| measure | sequences/s |\n|---|---:|")
    print(f"| train, minimal hand-written loop | {np.median(mins):,.0f} |")
    print(f"| train, rnnkit's fit() | {np.median(ours):,.0f} |")
    print(f"\nrnnkit / minimal: {np.median(ours) / np.median(mins):.3f} (medians of {args.repeats} interleaved "
          f"repeats; pairwise {ratios.min():.3f}-{ratios.max():.3f})")
    run = args.run or args.out / "sst2"
    if not (run / "config.json").is_file():
        print(f"(no run at {run}: training one for 60 s to time predict)", file=sys.stderr)
        train_part(make_config(named_data("sst2"), overrides, 60.0), run)
    times = predict_seconds(run, DATA / SETS["sst2"]["test"], 3)
    print(f"\n`rnnkit predict {run} --input sst2/stsa.binary.test` (1,821 sentences, loading included): "
          f"{', '.join(f'{t:.2f}' for t in times)} s (median {np.median(times):.2f} s)")


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["model.pooling=max,mean"]`` -> ``{"model.pooling": ["max", "mean"]}``."""
    grid = {}
    for item in items:
        key, eq, values = item.partition("=")
        if not (eq and "." in key and values):
            raise RnnkitError(f"--grid: {item!r} is not SECTION.OPTION=V1,V2; write e.g. --grid model.pooling=max,mean")
        grid[key] = [parse_scalar(v) for v in values.split(",")]
    return grid


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="*", metavar="SET", help=f"named sets: {', '.join(SETS)}")
    p.add_argument("--data", help="a labelled training file of your own (instead of named sets)")
    p.add_argument("--validation", default="", help="its validation file (default: carved from --data)")
    p.add_argument("--test", default="", help="its test file (default: carved from --data)")
    p.add_argument("--format", default="auto", help="its format (as rnnkit train --format)")
    p.add_argument("--encoding", default="utf-8", help="its text encoding")
    p.add_argument("--max-time", type=float, help="training seconds per model (default 600 text, 300 numeric)")
    p.add_argument("--set", nargs="+", default=[], metavar="SECTION.OPTION=VALUE",
                   help="change an option of every run, e.g. model.hidden_size=64 or data.text_column=review")
    p.add_argument("--choose", action="store_true", help="compare options on the validation part only")
    p.add_argument("--grid", nargs="+", default=[], metavar="SECTION.OPTION=V1,V2",
                   help="--choose: the options to compare (default: pooling, level, hidden size)")
    p.add_argument("--speed", action="store_true", help="training throughput vs a minimal loop; predict wall time")
    p.add_argument("--steps", type=int, default=40, help="--speed: timed steps per repeat")
    p.add_argument("--repeats", type=int, default=5, help="--speed: interleaved repeats of each loop")
    p.add_argument("--run", type=Path, help="--speed: the SST-2 run to time predict with (default OUT/sst2)")
    p.add_argument("--out", type=Path, default=Path("runs/classify-benchmark"))
    args = p.parse_args()
    try:
        return run(args)
    except RnnkitError as e:
        print(f"classify_benchmark: error: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    overrides = settings(args.set)
    if args.speed:
        part_speed(args, overrides)
        return 0
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        raise RnnkitError(f"no named set {unknown[0]!r}; name {', '.join(SETS)}, or give --data FILE")
    jobs = [(s, named_data(s)) for s in args.sets]
    if args.data:
        jobs.append((Path(args.data).stem, {"data": args.data, "validation": args.validation, "test": args.test,
                                            "format": args.format, "encoding": args.encoding}))
    if not jobs:
        raise RnnkitError(f"name a set ({', '.join(SETS)}) or give --data FILE")
    missing = [d["data"] for _, d in jobs if not Path(d["data"]).is_file()]
    if missing:
        raise RnnkitError(f"no file {missing[0]}; the named sets need ../shared/data")
    grid = parse_grid(args.grid) if args.grid else CHOICES
    rows = []
    for name, data in jobs:
        cfg = make_config(data, overrides, args.max_time)
        rows += part_choose(name, cfg, args.out, grid) if args.choose else part_test(name, cfg, args.out)
    if args.choose:
        print("| data | change from the defaults | validation accuracy | validation macro F1 | steps | training s |")
        print("|---|---|---:|---:|---:|---:|")
    else:
        print("| data | model | test accuracy | macro F1 | training s |\n|---|---|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
