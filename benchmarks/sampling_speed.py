"""Sampling speed on the CPU: characters per second for a 2-layer, 512-unit LSTM.

Compares rnnkit's generation (the state is carried, one recurrent step per character) with
the seed article's way (re-read the last 10 characters for every new one), for one sample
and for several samples generated side by side, and the default model's mix with a 7-gram
(counted on 2 MB of the built-in corpus) against the LSTM alone; each carried-state row with
int8 recurrent weights (the default of ``rnnkit sample``) and in fp32 (``--no-int8``), the two
alternating repeat by repeat.

    python benchmarks/sampling_speed.py [--length 2000] [--run RUN_DIR]

The untrained models here generate near-random text, the worst case for the n-gram's cache of
contexts; ``--run`` also times a trained run's model, mixed and alone, on the text it writes,
and scores its test split one token per call (as generation steps) with int8 and fp32 weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch

from rnnkit.text.corpora import builtin_text
from rnnkit.text.mixture import MixedModel
from rnnkit.text.ngram import NGramConfig, NGramModel
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel
from rnnkit.text.sampling import SampleConfig, generate


def rates(model, cfgs: list[SampleConfig], window=None, repeats: int = 5) -> list[float]:
    """Median characters/s of each of ``cfgs`` over ``repeats`` generations (after a warm-up; the
    configurations alternate, so a change in the machine's speed hits all alike), each with an
    empty n-gram context cache (a mixed model's), as a new ``rnnkit sample`` process has."""
    for cfg in cfgs:
        generate(model, [0], dataclasses.replace(cfg, length=50), window=window)
    out: list[list[float]] = [[] for _ in cfgs]
    for _ in range(repeats):
        for cfg, r in zip(cfgs, out):
            if isinstance(model, MixedModel):
                model.ngram.clear_cache()
            t = time.perf_counter()
            generate(model, [0], cfg, window=window)
            r.append(cfg.length * cfg.num_samples / (time.perf_counter() - t))
    return [statistics.median(r) for r in out]


def carried_rows(name: str, model, length: int, n: int, **kw) -> None:
    """One table row: int8 (the default) and fp32 characters/s and their ratio."""
    cfg = SampleConfig(length=length, num_samples=n, **kw)
    i8, f32 = rates(model, [cfg, dataclasses.replace(cfg, int8=False)])
    print(f"| {name} | carried state | {n} | {i8:,.0f} | {f32:,.0f} | {i8 / f32:.2f} |", flush=True)


@torch.inference_mode()
def one_step_loss(model, tokens: np.ndarray) -> float:
    """Mean nats per token of ``tokens[1:]``, the model called once per token (as generation
    calls it), the state carried."""
    x = torch.from_numpy(tokens.astype(np.int64))
    nll, state = 0.0, None
    for i in range(len(x) - 1):
        logits, state = model(x[i:i + 1][None], state)
        nll -= torch.log_softmax(logits[0, -1].float(), -1)[x[i + 1]].item()
    return nll / (len(x) - 1)


def run_models(run: str):
    """``(row name, loaded model)`` for ``run``'s model mixed with its n-gram, then alone."""
    from rnnkit.text import api

    for mix in (True, False):
        lm = api.load(run, mix=mix)
        yield f"{run} ({'mixed' if isinstance(lm.model, MixedModel) else 'RNN alone'})", lm


def quality_rows(run: str) -> None:
    """The test split of ``run`` scored one token per call: fp32, int8, and the difference."""
    from pathlib import Path

    from rnnkit.text import textdata

    print("\n| model | test nats/char, fp32 | int8 | int8 - fp32 |\n|---|---:|---:|---:|")
    for name, lm in run_models(run):
        tokens = textdata.open_prepared(Path(run), lm.vocab).part("test")
        f32, i8 = one_step_loss(lm.model, tokens), one_step_loss(lm.model.int8_steps(), tokens)
        print(f"| {name} | {f32:.4f} | {i8:.4f} | {i8 - f32:+.5f} |", flush=True)


def text_ngram(vocab: int, order: int = 7) -> NGramModel:
    """An order-N Kneser-Ney model of real text (its characters folded into ``vocab`` ids)."""
    codes = np.frombuffer(builtin_text()[:2_000_000].encode("utf-32-le"), np.uint32)
    ids = np.unique(codes, return_inverse=True)[1].reshape(-1) % vocab
    return NGramModel.fit(NGramConfig(order=order), ids.astype(np.uint16), vocab)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=2000)
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--run", help="also time this trained run's best model, with and without its n-gram mix")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, vocabulary {args.vocab}, {args.length} "
          f"characters, median of 5")
    print("| model | generation | samples | chars/s, int8 (default) | chars/s, fp32 (--no-int8) | int8 / fp32 |")
    print("|---|---|---:|---:|---:|---:|")
    if args.run:
        for name, lm in run_models(args.run):
            for n in (1, 8):
                carried_rows(name, lm.model, args.length, n, temperature=0.8)
    for cell, layers, hidden in [("lstm", 2, 512), ("gru", 2, 512), ("lstm", 1, 128)]:
        model = RNNLanguageModel(RNNConfig(cell=cell, layers=layers, hidden_size=hidden), args.vocab).eval()
        name = f"{layers}x{cell.upper()}-{hidden}"
        for n in (1, 8):
            carried_rows(name, model, args.length, n, temperature=0.8, top_k=20)
        if (cell, layers) == ("lstm", 2):
            cfg = SampleConfig(length=min(args.length, 500), temperature=0.8)
            seed_rate = rates(model, [cfg], window=10, repeats=1)[0]
            print(f"| {name} | re-read 10-char window (seed) | 1 | | {seed_rate:,.0f} | |", flush=True)
            mixed = MixedModel(model, text_ngram(args.vocab), 0.3)
            for n in (1, 8):
                carried_rows(f"{name} + 7-gram mix", mixed, args.length, n, temperature=0.8, top_k=20)
    if args.run:
        quality_rows(args.run)


if __name__ == "__main__":
    main()
