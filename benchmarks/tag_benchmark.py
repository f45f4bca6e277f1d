"""Sequence tagging with rnnkit's default tagger against the most-frequent-tag baseline, on UD
English-EWT (UPOS), WNUT17 (emerging entities) or any CoNLL-U / CoNLL file; an ablation of the CRF
and the character encoder; a validation-only screen of options; speed.

    python benchmarks/tag_benchmark.py ewt wnut17                          # 1800 s EWT, 1200 s WNUT17
    python benchmarks/tag_benchmark.py --data my.conllu --test my_test.conllu --tag-column xpos   # 600 s
    python benchmarks/tag_benchmark.py wnut17 --ablation                   # CRF and characters on/off
    python benchmarks/tag_benchmark.py ewt --choose --max-time 300 --grid model.hidden_size=128,256
    python benchmarks/tag_benchmark.py --speed --run runs/tag-benchmark/ewt   # tokens/s; rnnkit tag wall time

Each run trains once with a ``--max-time`` budget through ``rnnkit.tag.api.train`` (the checkpoint
chosen on the validation part by the task) and scores the test part once. The reference, each
word's most frequent training tag, is fitted on the same training part and scored on the same test
part. ``--choose`` never reads a test score; ``--ablation`` reports test scores of variants that
were not chosen on them (it measures what each part adds and chooses nothing). Prints Markdown
tables; runs go to --out.
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

from rnnkit.core.config import from_dict, merge, parse_scalar, settings
from rnnkit.core.errors import RnnkitError
from rnnkit.core.trainer import fit, resolve_precision
from rnnkit.tag import api, metrics
from rnnkit.tag import data as rundata
from rnnkit.tag.baseline import MostFrequentTag
from rnnkit.tag.formats import read_sentences
from rnnkit.tag.task import KIND, TagConfig, TagTask, mask_of, pad_tags, to_tensors
from rnnkit.tag.vocab import TokenEncoder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {  # name -> the data section of its configuration
    "ewt": {"data": "ud-english-ewt/en_ewt-ud-train.conllu", "validation": "ud-english-ewt/en_ewt-ud-dev.conllu",
            "test": "ud-english-ewt/en_ewt-ud-test.conllu"},
    "wnut17": {"data": "wnut17/wnut17train.conll", "validation": "wnut17/emerging.dev.conll",
               "test": "wnut17/emerging.test.annotated", "format": "conll"},
}
BUDGET = {"ewt": 1800.0, "wnut17": 1200.0}  # default seconds of training (the limits)
FILE_BUDGET = 600.0  # a user's file
ABLATION = [("defaults", {}),
            ("decoder softmax", {"model": {"decoder": "softmax"}}),
            ("char_encoder none", {"model": {"char_encoder": "none"}}),
            ("softmax, char_encoder none", {"model": {"decoder": "softmax", "char_encoder": "none"}})]
# --choose: one option changed at a time from the configured defaults
CHOICES = {"model.char_encoder": ["lstm", "cnn"], "model.hidden_size": [128, 256], "model.layers": [1, 2],
           "model.dropout": [0.33, 0.5]}
CPU = torch.device("cpu")


def named_data(name: str) -> dict:
    return {k: str(DATA / v) if k in ("data", "validation", "test") else v for k, v in SETS[name].items()}


def make_config(data: dict, overrides: dict, max_time: float | None, budget: float) -> TagConfig:
    cfg = from_dict(TagConfig, merge({"data": data}, overrides))
    if max_time is not None:
        cfg.train.max_time = max_time
    elif "max_time" not in overrides.get("train", {}):
        cfg.train.max_time = budget
    return cfg


def describe(cfg: TagConfig) -> str:
    m = cfg.model
    return (f"rnnkit {'bi-' if m.bidirectional else ''}{m.cell.upper()}-{m.hidden_size}x{m.layers}, "
            f"chars {m.char_encoder}, {m.decoder}")


def cells(ev: dict, prf: bool) -> list[str]:
    """Token accuracy, then span precision/recall/F1 (``prf``) or F1 alone; blank without entity tags."""
    keys = ("precision", "recall", "f1") if prf else ("f1",)
    spans = ev.get("spans")
    return [f"{ev['accuracy']:.2%}"] + [f"{100 * spans[k]:.2f}" if spans else "" for k in keys]


def row(*parts) -> str:
    return "| " + " | ".join(str(p) for p in parts) + " |"


def trained(cfg: TagConfig, run: Path) -> tuple[api.TrainResult, api.LoadedTagger]:
    res = api.train(cfg, run, overwrite=True)
    print(f"{run.name}: {res.steps} steps, {res.epochs} epochs, {res.elapsed:.0f} s, stopped: {res.stopped}, "
          f"sentences {res.sentences}, scheme {res.scheme}" + "".join(f"\n  {n}" for n in res.notes),
          file=sys.stderr, flush=True)
    return res, api.load(run)


def baseline_scores(tagger: api.LoadedTagger, run: Path) -> tuple[dict, float]:
    """The most frequent training tag of each word, scored on the run's test part; and its fitting seconds."""
    saved = rundata.reread(run, tagger.config.data)
    train, test = (api.split_sentences(tagger, part, run, saved) for part in ("train", "test"))
    t = time.perf_counter()
    mft = MostFrequentTag([s.tokens for s in train], [s.tags for s in train], tagger.config.words.lowercase)
    seconds = time.perf_counter() - t
    return metrics.score([s.tags for s in test], mft.predict([s.tokens for s in test]), tagger.scheme), seconds


def part_test(name: str, cfg: TagConfig, out: Path) -> list[str]:
    """Train, score the test part once, fit and score the baseline; the table's rows."""
    run = out / name
    res, tagger = trained(cfg, run)
    rows = [row(name, describe(cfg), *cells(api.evaluate(tagger, "test", run), True), f"{res.elapsed:.0f}", res.steps)]
    ev, seconds = baseline_scores(tagger, run)
    return rows + [row(name, "most frequent tag per word", *cells(ev, True), f"{seconds:.1f}", "")]


def variants(cfg: TagConfig, grid: dict[str, list]) -> list[tuple[str, dict]]:
    """The configured defaults, then each option of ``grid`` at each of its other values (one at a time)."""
    out = [("defaults", {})]
    for key, values in grid.items():
        section, _, option = key.partition(".")
        if not hasattr(getattr(cfg, section, None), option):
            raise RnnkitError(f"--grid: no option {key}; name one of TagConfig's, e.g. model.hidden_size")
        current = getattr(getattr(cfg, section), option)
        out += [(f"{key}={v}", {section: {option: v}}) for v in values if v != current]
    return out


def part_variants(name: str, cfg: TagConfig, out: Path, changes: list[tuple[str, dict]], splits: tuple[str, ...],
                  prefix: str) -> list[str]:
    """Each variant trained at the same budget and scored on ``splits`` (accuracy, span F1 per split)."""
    rows = []
    for label, change in changes:
        run = out / f"{prefix}-{name}-{label.replace('=', '-').replace('.', '_').replace(', ', '+').replace(' ', '_')}"
        res, tagger = trained(from_dict(TagConfig, merge(dataclasses.asdict(cfg), change)), run)
        scores = [c for split in splits for c in cells(api.evaluate(tagger, split, run), False)]
        rows.append(row(name, label, *scores, res.steps, f"{res.elapsed:.0f}"))
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def speed_task(cfg: TagConfig) -> tuple[TagTask, str]:
    """The tagging task on the training part of ``cfg``'s data, as ``api.train`` builds it, and its
    scheme; validation is 64 training sentences (only run after the timed steps)."""
    new = rundata.prepare(cfg.data, cfg.train.seed)
    _, scheme, _ = rundata.check(new, cfg.data)
    train = [s for s, p in zip(new.sentences, new.parts) if p == "train"]
    tokens, tags = [s.tokens for s in train], [s.tags for s in train]
    encoder = TokenEncoder.fit(tokens, tags, cfg.words.lowercase, cfg.words.min_freq, cfg.words.max_word)
    ids = [encoder.tag_ids(t) for t in tags]
    meta = {"kind": KIND, "config": dataclasses.asdict(cfg), "scheme": scheme, "encoder": encoder.state()}
    task = TagTask(api.build_model(cfg, encoder, scheme), encoder, (tokens, ids), (tokens[:64], ids[:64]),
                   cfg, meta, CPU)
    return task, scheme


def step_batches(task: TagTask, steps: int) -> list[tuple[int, np.ndarray]]:
    """The first ``steps`` batches ``(epoch, sentence indices)``, across epochs as fit() draws them."""
    out, epoch = [], 0
    while len(out) < steps:
        out += [(epoch, idx) for idx in task.epoch_batches(epoch)]
        epoch += 1
    return out[:steps]


def rnnkit_loop(cfg: TagConfig, task: TagTask, scheme: str, warmup: int, run: Path) -> float:
    """Tokens/s of rnnkit's fit() between the warm-up step and the last step."""
    torch.manual_seed(cfg.train.seed)
    task.model = api.build_model(cfg, task.encoder, scheme)
    marks = {}
    fit(task, cfg.train, run, CPU,
        on_event=lambda e: marks.__setitem__(e.step, time.perf_counter()) if e.kind == "train" else None)
    timed = step_batches(task, cfg.train.steps)[warmup:]
    return sum(int(task.lengths[idx].sum()) for _, idx in timed) / (marks[cfg.train.steps] - marks[warmup])


def minimal_loop(cfg: TagConfig, task: TagTask, scheme: str, warmup: int, bf16: bool) -> float:
    """The loop a careful user writes by hand around the same Tagger on the same batches: encode
    (the model's own input format, singletons read as <unk> as in training), mask and pad the tags,
    forward, per-token loss, clip, fused AdamW."""
    torch.manual_seed(cfg.train.seed)
    model = api.build_model(cfg, task.encoder, scheme).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=True)
    for step, (epoch, idx) in enumerate(step_batches(task, cfg.train.steps)):
        if step == warmup:
            t0, seen = time.perf_counter(), 0
        x = to_tensors(task.encoder.batch([task.tokens[i] for i in idx], task.noised_ids(epoch, idx)), CPU)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            emissions = model.emissions(**x)  # (B, S, T)
            mask = mask_of(x["lengths"], emissions.size(1))
            loss = model.loss(emissions, pad_tags([task.tags[i] for i in idx], emissions.size(1)), mask) / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip_norm)
        opt.step()
        if step >= warmup:
            seen += int(x["lengths"].sum())
    return seen / (time.perf_counter() - t0)


def tag_seconds(run: Path, data: str, repeats: int) -> list[float]:
    """Wall time of ``rnnkit tag RUN --input FILE --output OUT`` in a fresh process, loading included."""
    exe = Path(sys.executable).parent / "rnnkit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rnnkit"]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([*cmd, "tag", str(run), "--input", data, "--output", str(Path(tmp) / Path(data).name)],
                           check=True)
            times.append(time.perf_counter() - t)
    return times


def speed_training(cfg: TagConfig, steps: int, repeats: int) -> None:
    warmup = 10
    if steps % warmup:
        raise RnnkitError(f"--steps must be a multiple of {warmup} (fit() reports every {warmup} steps), got {steps}")
    cfg = from_dict(TagConfig, merge(dataclasses.asdict(cfg), {"train": {
        "steps": steps + warmup, "eval_every": 10**9, "log_every": warmup, "max_time": None}}))
    task, scheme = speed_task(cfg)
    bf16 = resolve_precision(cfg.train.precision, CPU) == "bf16"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {'bf16' if bf16 else 'fp32'}, training "
          f"part of {Path(cfg.data.data).name} ({len(task.tokens):,} sentences), batch {cfg.train.batch_size}, "
          f"{describe(cfg)}, {steps} timed steps after {warmup}")
    mins, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):  # interleaved, so machine noise hits both alike
            mins.append(minimal_loop(cfg, task, scheme, warmup, bf16))
            ours.append(rnnkit_loop(cfg, task, scheme, warmup, Path(tmp) / f"run{r}"))
    ratios = np.array(ours) / np.array(mins)
    print("| measure | tokens/s |\n|---|---:|")
    print(f"| train, minimal hand-written loop | {np.median(mins):,.0f} |")
    print(f"| train, rnnkit's fit() | {np.median(ours):,.0f} |")
    print(f"\nrnnkit / minimal: {np.median(ours) / np.median(mins):.3f} (medians of {repeats} interleaved "
          f"repeats; pairwise {ratios.min():.3f}-{ratios.max():.3f})")


def part_speed(args, name: str, cfg: TagConfig, overrides: dict) -> None:
    speed_training(cfg, args.steps, args.repeats)
    run = args.run or args.out / name
    if not (run / "config.json").is_file():
        print(f"(no run at {run}: training one for 60 s to time rnnkit tag)", file=sys.stderr)
        trained(make_config(dataclasses.asdict(cfg.data), overrides, 60.0, 60.0), run)
    data = cfg.data.test or cfg.data.validation or cfg.data.data
    tokens = sum(len(s.tokens) for s in read_sentences(data, cfg.data))
    times = tag_seconds(run, data, args.repeats)
    print(f"\n`rnnkit tag {run} --input {Path(data).name} --output OUT` ({tokens:,} tokens, loading included): "
          f"{', '.join(f'{t:.2f}' for t in times)} s (median {np.median(times):.2f} s)")


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["model.hidden_size=128,256"]`` -> ``{"model.hidden_size": [128, 256]}`` (--set's syntax, split at commas)."""
    return {f"{section}.{name}": [parse_scalar(v) for v in raw.split(",")] if isinstance(raw, str) else [raw]
            for section, options in settings(items, "--grid").items() for name, raw in options.items()}


def add_file_options(p: argparse.ArgumentParser) -> None:
    """--data FILE and its options: a tagged file of the user's own instead of a named set."""
    p.add_argument("--data", help="a tagged training file of your own, CoNLL-U or CoNLL (instead of a named set)")
    p.add_argument("--validation", default="", help="its validation file (default: carved from --data)")
    p.add_argument("--test", default="", help="its test file (default: carved from --data)")
    p.add_argument("--format", default="auto", help="its format: auto (from the extension), conllu or conll")
    p.add_argument("--tag-column", default="", help="its tag column (as rnnkit train --tag-column)")
    p.add_argument("--scheme", default="auto", help="its tag scheme (as rnnkit train --scheme)")


def file_data(args) -> tuple[str, dict]:
    """The name and data section of ``--data`` and its options (see ``add_file_options``)."""
    return Path(args.data).stem, {"data": args.data, "validation": args.validation, "test": args.test,
                                  "format": args.format, "tag_column": args.tag_column, "scheme": args.scheme}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="*", metavar="SET", help=f"named sets: {', '.join(SETS)}")
    add_file_options(p)
    p.add_argument("--max-time", type=float,
                   help=f"training seconds per model (default: {', '.join(f'{k} {v:.0f}' for k, v in BUDGET.items())}, "
                        f"a file of your own {FILE_BUDGET:.0f})")
    p.add_argument("--set", nargs="+", default=[], metavar="SECTION.OPTION=VALUE",
                   help="change an option of every run, e.g. model.hidden_size=256 or words.min_freq=2")
    p.add_argument("--seed", type=int, help="train.seed of every run (also the split of a file without parts)")
    p.add_argument("--ablation", action="store_true", help="CRF and character encoder on and off; validation and test")
    p.add_argument("--choose", action="store_true", help="compare options on the validation part only")
    p.add_argument("--grid", nargs="+", default=[], metavar="SECTION.OPTION=V1,V2",
                   help="--choose: the options to compare (default: char encoder, hidden size, layers, dropout)")
    p.add_argument("--speed", action="store_true", help="training throughput vs a minimal loop; rnnkit tag wall time")
    p.add_argument("--steps", type=int, default=40, help="--speed: timed steps per repeat (a multiple of 10)")
    p.add_argument("--repeats", type=int, default=5, help="--speed: interleaved repeats of each loop and of rnnkit tag")
    p.add_argument("--run", type=Path, help="--speed: the trained run to time rnnkit tag with (default OUT/SET)")
    p.add_argument("--out", type=Path, default=Path("runs/tag-benchmark"))
    args = p.parse_args()
    try:
        return run(args)
    except RnnkitError as e:
        print(f"tag_benchmark: error: {e}", file=sys.stderr)
        return 2


def jobs_of(args) -> list[tuple[str, dict, float]]:
    """(name, data section, default budget) of each set to run."""
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        raise RnnkitError(f"no named set {unknown[0]!r}; name {', '.join(SETS)}, or give --data FILE")
    jobs = [(s, named_data(s), BUDGET[s]) for s in args.sets]
    if args.data:
        jobs.append((*file_data(args), FILE_BUDGET))
    if not jobs and args.speed:
        jobs = [("ewt", named_data("ewt"), BUDGET["ewt"])]
    if not jobs:
        raise RnnkitError(f"name a set ({', '.join(SETS)}) or give --data FILE")
    files = [d[k] for _, d, _ in jobs for k in ("data", "validation", "test") if d.get(k)]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise RnnkitError(f"no file {missing[0]}; the named sets need ../shared/data")
    return jobs


HEADERS = {
    "test": "| data | model | test token accuracy | span P | span R | span F1 | training s | steps |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|",
    "choose": "| data | change from the defaults | validation token accuracy | validation span F1 | steps "
              "| training s |\n|---|---|---:|---:|---:|---:|",
    "ablation": "| data | variant | validation token accuracy | validation span F1 | test token accuracy "
                "| test span F1 | steps | training s |\n|---|---|---:|---:|---:|---:|---:|---:|",
}


def run(args) -> int:
    overrides = merge(settings(args.set), {"train": {"seed": args.seed}} if args.seed is not None else {})
    jobs = jobs_of(args)
    if args.speed:
        name, data, budget = jobs[0]
        part_speed(args, name, make_config(data, overrides, args.max_time, budget), overrides)
        return 0
    grid = parse_grid(args.grid) if args.grid else CHOICES
    mode = "ablation" if args.ablation else "choose" if args.choose else "test"
    rows = []
    for name, data, budget in jobs:
        cfg = make_config(data, overrides, args.max_time, budget)
        if mode == "test":
            rows += part_test(name, cfg, args.out)
        elif mode == "choose":
            rows += part_variants(name, cfg, args.out, variants(cfg, grid), ("val",), "choose")
        else:
            rows += part_variants(name, cfg, args.out, ABLATION, ("val", "test"), "ablation")
    if mode == "ablation":
        print("The test columns score variants that were not chosen on them: this ablation measures what the CRF "
              "and the character encoder each add; it chooses nothing.\n")
    print(HEADERS[mode] + "\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
