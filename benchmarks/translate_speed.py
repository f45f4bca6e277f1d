"""Translation speed: training throughput against a minimal hand-written loop, and decoding.

Training: rnnkit's ``fit`` and the loop a careful user writes by hand (no logging, checks or
checkpoints) run the same model on the same batches (same seed, optimizer, clipping, label
smoothing, precision) for the same steps, alternating to spread machine noise; the table gives
target tokens per second after a warm-up and their ratio, in fp32 and, where the CPU computes in
bf16 natively (AVX512-BF16 or AMX, where rnnkit's ``--precision auto`` picks it), in bf16.

Decoding: the whole test split of a trained run (``--run``, e.g. the quality benchmark's),
translated in batches, greedily and with beam 5: sentences per second.

    python benchmarks/translate_speed.py [--steps 60] [--run runs/translate-quality/default] [--precision fp32]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from rnnkit import translate
from rnnkit.core.trainer import cpu_has_native_bf16, fit
from rnnkit.translate import pairs as pairs_mod
from rnnkit.translate.batching import PairBatches
from rnnkit.translate.codec import Codec
from rnnkit.translate.model import Seq2Seq
from rnnkit.translate.task import TranslateConfig, TranslationTask, training_pairs
from rnnkit.core.pieces import PAD

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "spa-eng.txt"


def prepare(cfg: TranslateConfig):
    splits = pairs_mod.split_pairs(pairs_mod.read_pairs(cfg.data), 0.1, 0.1, cfg.train.seed)
    train = splits["train"]
    codec = Codec.fit(cfg.tokenizer, [p.source for p in train], [p.target for p in train], cfg.train.seed)
    return codec, training_pairs(codec, train, cfg.data.max_length)


def rnnkit_loop(cfg: TranslateConfig, codec, train, warmup: int, run_dir: Path) -> float:
    """Target tokens/s of rnnkit's fit() between the warm-up step and the last step."""
    torch.manual_seed(cfg.train.seed)
    model = Seq2Seq(cfg.model, len(codec.source_vocab), len(codec.target_vocab))
    task = TranslationTask(model, codec, train, train[:64], cfg, {}, torch.device("cpu"))
    marks = {}

    def on_event(e):
        if e.kind == "train":
            marks[e.step] = time.perf_counter()

    fit(task, cfg.train, run_dir, torch.device("cpu"), on_event=on_event)
    batches = PairBatches(train, cfg.train.batch_size, cfg.train.seed).epoch(0)  # the batches fit() trained on
    counted = [b.target_tokens for _, b in zip(range(cfg.train.steps), batches)][warmup:]
    return sum(counted) / (marks[cfg.train.steps] - marks[warmup])


def minimal_loop(cfg: TranslateConfig, codec, train, warmup: int) -> float:
    torch.manual_seed(cfg.train.seed)
    model = Seq2Seq(cfg.model, len(codec.source_vocab), len(codec.target_vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, fused=True)  # what rnnkit uses
    model.train()
    tokens, t0 = 0, None
    for step, b in enumerate(PairBatches(train, cfg.train.batch_size, cfg.train.seed).epoch(0), start=1):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.train.precision == "bf16"):
            logits = model(b.source, b.lengths, b.target_in)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), b.target_out.reshape(-1),
                                   ignore_index=PAD, label_smoothing=cfg.train.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip_norm)
        opt.step()
        if step == warmup:
            t0 = time.perf_counter()
        elif step > warmup:
            tokens += b.target_tokens
        if step == cfg.train.steps:
            break
    return tokens / (time.perf_counter() - t0)


def decoding(run: Path, batch_sizes: list[int]) -> None:
    tr = translate.load(run)
    sources = [s for s, _ in pairs_mod.references(pairs_mod.read_split(run, "test"))]
    print(f"\ndecoding the test split of {run}: {len(sources):,} sentences, {torch.get_num_threads()} threads")
    print("| decoding | batch | sentences/s | seconds |")
    print("|---|---:|---:|---:|")
    for beam in (1, 5):
        for batch_size in batch_sizes:
            search = dataclasses.replace(tr.config.search, beam=beam, n_best=1, batch_size=batch_size)
            t0 = time.perf_counter()
            translate.translate(tr, sources, search)
            s = time.perf_counter() - t0
            print(f"| {'greedy' if beam == 1 else f'beam {beam}'} | {batch_size} | {len(sources) / s:,.0f} | {s:.1f} |",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--run", type=Path, default=None, help="a trained translation run to time decoding on")
    ap.add_argument("--decode-batch", type=int, nargs="+", default=[128], help="sentences decoded side by side")
    ap.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=None,
                    help="training precisions to time (default: fp32, and bf16 where the CPU has it natively)")
    args = ap.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA} is absent; this benchmark reads the shared data folder")
    cfg = TranslateConfig()
    cfg.data.data, cfg.data.source_column, cfg.data.target_column = str(DATA), 2, 1
    cfg.train.steps, cfg.train.eval_every, cfg.train.log_every, cfg.train.device = args.steps, 10**9, 10, "cpu"
    codec, train = prepare(cfg)
    m = cfg.model
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, spa-eng es->en, batch {cfg.train.batch_size} "
          f"pairs, vocabularies {len(codec.source_vocab):,} / {len(codec.target_vocab):,}")
    print("| model | minimal loop target tokens/s | rnnkit target tokens/s | rnnkit / minimal |")
    print("|---|---:|---:|---:|")
    name = (f"{'bi' if m.bidirectional else ''}{m.cell.upper()}-{m.hidden_size} {m.attention} attention, "
            f"embeddings {m.embedding_size}")
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precision or (["fp32", "bf16"] if cpu_has_native_bf16() else ["fp32"]):
            cfg.train.precision = precision  # both loops compute in it
            mine, ref = [], []
            for r in range(args.repeats):
                ref.append(minimal_loop(cfg, codec, train, args.warmup))
                mine.append(rnnkit_loop(cfg, codec, train, args.warmup, Path(tmp) / f"{precision}{r}"))
            print(f"| {name}, {precision} | {max(ref):,.0f} | {max(mine):,.0f} | {max(mine) / max(ref):.3f} |",
                  flush=True)
    if args.run is not None:
        decoding(args.run, args.decode_batch)


if __name__ == "__main__":
    main()
