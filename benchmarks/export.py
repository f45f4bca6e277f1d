"""ONNX export of every task's default model: the export's agreement with PyTorch on the real test
splits, and the torch-free runtime's speed against eager PyTorch at the same thread count.

    python benchmarks/export.py --max-time 300                 # train each default run on its data set, then measure
    python benchmarks/export.py --skip-train                   # measure the runs already in --out
    python benchmarks/export.py --tasks translate audio --threads 1 2
    python benchmarks/export.py --tasks forecast forecast-temperatures forecast-sunspots forecast-sp500

Runs (``--out``/TASK): lm on alice.txt (--text-clean seed), translate on spa-eng.txt, forecast on
airline-passengers.csv (forecast-temperatures, -sunspots, -sp500: the other three series), audio
on fsdd/, classify on sst2/, tag on ud-english-ewt/ (UPOS), each
trained with the task's defaults and a ``--max-time`` budget (not the issues' full budgets: the
models are the default shapes, only less trained). Each is exported with ``rnnkit export RUN
--overwrite`` (to RUN/onnx), then:

- agreement on the run's test part: translator greedy outputs, audio labels, classifier labels,
  tagger tags identical (share of items); forecasts: the largest |difference| over the horizon
  and every interval bound, relative to the forecast's standard deviation;
- speed: the same work through the PyTorch API and through ``rnnkit.runtime`` with the same number
  of threads (``torch.set_num_threads`` / onnxruntime's intra-op threads), median of --repeats.
  The language model's PyTorch sampling is measured both as ``rnnkit sample`` runs it on a CPU (int8
  recurrent weights) and in fp32; the export is fp32.

Prints Markdown tables (paste them with the command, date and machine into
docs/benchmarks/export.md).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit import runtime
from rnnkit.export import ExportConfig, export

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = {  # task -> the rnnkit train arguments of its default run on a shared data set
    "lm": ["--data", str(DATA / "alice.txt"), "--text-clean", "seed"],
    "translate": ["--task", "translate", "--data", str(DATA / "spa-eng.txt"), "--source-column", "2",
                  "--target-column", "1"],
    "forecast": ["--task", "forecast", "--data", str(DATA / "airline-passengers.csv"), "--horizon", "12"],
    # the other series of benchmarks/forecast_backtest.py (each export's forecasts are compared, every series)
    "forecast-temperatures": ["--task", "forecast", "--data", str(DATA / "daily-min-temperatures.csv"),
                              "--column", "Temp", "--horizon", "30"],
    "forecast-sunspots": ["--task", "forecast", "--data", str(DATA / "monthly-sunspots.csv"), "--column", "Sunspots",
                          "--horizon", "24"],
    "forecast-sp500": ["--task", "forecast", "--data", str(DATA / "sp500-gspc-daily.csv"), "--column", "Close",
                       "--start", "2000-01-01", "--horizon", "20"],
    "audio": ["--task", "audio", "--data", str(DATA / "fsdd"), "--label-pattern", r"^(\d)_", "--group-pattern",
              r"^\d_([a-z]+)_", "--split", "pattern", "--test-pattern", r"_[0-4]\.wav$"],
    "classify": ["--task", "classify", "--data", str(DATA / "sst2" / "stsa.binary.train"),
                 "--validation", str(DATA / "sst2" / "stsa.binary.dev"), "--test", str(DATA / "sst2" / "stsa.binary.test"),
                 "--format", "label-first"],
    "tag": ["--task", "tag", "--data", str(DATA / "ud-english-ewt" / "en_ewt-ud-train.conllu"),
            "--validation", str(DATA / "ud-english-ewt" / "en_ewt-ud-dev.conllu"),
            "--test", str(DATA / "ud-english-ewt" / "en_ewt-ud-test.conllu")],
}


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train(task: str, run: Path, max_time: float) -> None:
    cmd = [sys.executable, "-m", "rnnkit", "train", *TRAIN[task], "--out", str(run), "--max-time", str(max_time),
           "--overwrite"]
    print(f"training {task}: {' '.join(cmd[3:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


# --- each task: (agreement on the test part, [(workload, torch call, runtime call, items per call)]) ---------

def lm_case(run: Path, exported):
    from rnnkit.text import api
    from rnnkit.text.sampling import SampleConfig

    lm, n = api.load(run), 500
    calls = [(f"sample {n} tokens, batch 1 (PyTorch int8, as rnnkit sample)",
              lambda: api.sample(lm, SampleConfig(length=n)), lambda: exported.sample(length=n), n),
             (f"sample {n} tokens, batch 1 (PyTorch fp32)",
              lambda: api.sample(lm, SampleConfig(length=n, int8=False)), lambda: exported.sample(length=n), n)]
    return {}, calls  # its agreement is the export check's (next-token log-probabilities, mixed and not)


def translate_case(run: Path, exported):
    from rnnkit.translate import api, pairs
    from rnnkit.translate.decoding import SearchConfig

    tr = api.load(run)
    sources = [src for src, _ in pairs.references(pairs.read_split(run, "test"))]
    greedy = SearchConfig(beam=1)
    ours = [h[0].text for h in api.translate(tr, sources, greedy)]
    theirs = [h[0].text for h in exported.translate(sources, beam=1)]
    same = np.mean([a == b for a, b in zip(ours, theirs)])
    one, batch = sources[:32], sources[:64]
    calls = [("greedy, batch 1 (32 sentences)", lambda: [api.translate(tr, [s], greedy) for s in one],
              lambda: [exported.translate([s], beam=1) for s in one], len(one)),
             ("greedy, batch 64", lambda: api.translate(tr, batch, greedy), lambda: exported.translate(batch, beam=1),
              len(batch))]
    return {f"greedy outputs identical ({len(sources)} test sources)": f"{same:.2%}"}, calls


def forecast_case(run: Path, exported):
    from rnnkit.forecast import api

    fr = api.load(run)
    a, b = api.forecast(fr), exported.forecast()
    scale = float(np.std(a.point)) or 1.0  # the forecast's own spread: a scale-free figure
    pairs = [(a.point, b.point)] + [(a.bounds[lv][i], b.bounds[lv][i]) for lv in a.bounds for i in (0, 1)]
    diffs = [float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs]
    calls = [("forecast from the series end", lambda: api.forecast(fr), lambda: exported.forecast(), 1)]
    return {"max |difference| of forecast and bounds / the forecast's std": f"{max(diffs) / scale:.2g}"}, calls


def audio_case(run: Path, exported):
    from rnnkit.audio import api

    clf = api.load(run)
    waves, _ = api.split_waves(clf, "test", run)
    rate = clf.config.features.sample_rate
    ours = np.argmax(api.probabilities(clf, waves), 1)
    theirs = [clf.labels.index(top[0][0]) for top in exported.classify(waves, sample_rate=rate, top_k=1)]
    same = np.mean(ours == np.array(theirs))
    one, batch = waves[:32], waves[:64]
    calls = [("classify, batch 1 (32 clips)", lambda: [api.probabilities(clf, [w]) for w in one],
              lambda: [exported.classify([w], sample_rate=rate) for w in one], len(one)),
             ("classify, batch 64", lambda: api.probabilities(clf, batch),
              lambda: exported.classify(batch, sample_rate=rate), len(batch))]
    return {f"labels identical ({len(waves)} test clips)": f"{same:.2%}"}, calls


def classify_case(run: Path, exported):
    from rnnkit.classify import api

    clf = api.load(run)
    test = str(DATA / "sst2" / "stsa.binary.test")
    texts = [line.split(" ", 1)[1].strip() for line in Path(test).read_text(encoding="latin-1").splitlines() if line]
    ours = [t[0] for t in api.predict(clf, texts, 1)]
    theirs = [t[0] for t in exported.predict(texts, 1)]
    same = np.mean([x[0] == y[0] for x, y in zip(ours, theirs)])
    gap = max(abs(x[1] - y[1]) for x, y in zip(ours, theirs))
    calls = [(f"predict {len(texts)} sentences", lambda: api.predict(clf, texts), lambda: exported.predict(texts),
              len(texts))]
    return {f"labels identical ({len(texts)} test sentences)": f"{same:.2%}",
            "max |probability difference|": f"{gap:.2g}"}, calls


def tag_case(run: Path, exported):
    from rnnkit.tag import api
    from rnnkit.tag.formats import TagDataConfig, read_sentences

    tagger = api.load(run)
    test = DATA / "ud-english-ewt" / "en_ewt-ud-test.conllu"
    sentences = [s.tokens for s in read_sentences(test, TagDataConfig(data=str(test)))]
    ours, theirs = api.tag(tagger, sentences), exported.tag(sentences)
    same = np.mean([a == b for x, y in zip(ours, theirs) for a, b in zip(x, y)])
    calls = [(f"tag {len(sentences)} sentences", lambda: api.tag(tagger, sentences), lambda: exported.tag(sentences),
              sum(map(len, sentences)))]
    return {f"tags identical ({sum(map(len, sentences))} test tokens)": f"{same:.2%}"}, calls


CASES = {"lm": lm_case, "translate": translate_case, "forecast": forecast_case, "audio": audio_case,
         "classify": classify_case, "tag": tag_case,
         **{name: forecast_case for name in TRAIN if name.startswith("forecast-")}}


def measure(task: str, run: Path, threads: list[int], repeats: int) -> tuple[list, list]:
    start = time.perf_counter()
    manifest = export(run, runtime.default_folder(run), ExportConfig(overwrite=True))
    seconds = time.perf_counter() - start
    rows, speed = [], []
    for n in threads:
        torch.set_num_threads(n)
        exported = runtime.load(runtime.default_folder(run), threads=n)
        agreement, calls = CASES[task](run, exported)
        if n == threads[0]:
            rows += [(task, what, value) for what, value in agreement.items()]
            rows.append((task, "export check: max |difference| (generated inputs)",
                         f"{manifest['parity']['max_abs_diff']:.2g} in {seconds:.0f} s"))
        for what, torch_call, onnx_call, items in calls:
            t, o = timed(torch_call, repeats), timed(onnx_call, repeats)
            speed.append((task, what, n, items / t, items / o, t / o))
    return rows, speed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=list(TRAIN), default=list(TRAIN))
    p.add_argument("--out", type=Path, default=Path("runs/export-benchmark"))
    p.add_argument("--max-time", type=float, default=300.0, help="training seconds per task (default 300)")
    p.add_argument("--skip-train", action="store_true", help="use the runs already in --out")
    p.add_argument("--train-only", action="store_true", help="train the runs and stop (measure later, on a quiet machine)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    rows, speed = [], []
    for task in args.tasks:
        run = args.out / task
        if not args.skip_train:
            train(task, run, args.max_time)
        if args.train_only:
            continue
        r, s = measure(task, run, args.threads, args.repeats)
        rows += r
        speed += s
    print("| task | agreement with PyTorch | value |\n|---|---|---|")
    print("\n".join(f"| {t} | {w} | {v} |" for t, w, v in rows))
    print("\n| task | work | threads | PyTorch items/s | runtime items/s | runtime / PyTorch |\n|---|---|---|---|---|---|")
    print("\n".join(f"| {t} | {w} | {n} | {a:,.1f} | {b:,.1f} | {r:.2f}x |" for t, w, n, a, b, r in speed))


if __name__ == "__main__":
    main()
