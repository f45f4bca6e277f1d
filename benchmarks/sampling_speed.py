"""Sampling speed on the CPU: characters per second for a 2-layer, 512-unit LSTM.

Compares rnnkit's generation (the state is carried, one recurrent step per character) with
the seed article's way (re-read the last 10 characters for every new one), for one sample
and for several samples generated side by side, and the default model's mix with a 7-gram
(counted on 2 MB of the built-in corpus) against the LSTM alone.

    python benchmarks/sampling_speed.py [--length 2000] [--run RUN_DIR]

The untrained models here generate near-random text, the worst case for the n-gram's cache of
contexts; ``--run`` also times a trained run's model, mixed and alone, on the text it writes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from rnnkit.text.corpora import builtin_text
from rnnkit.text.mixture import MixedModel
from rnnkit.text.ngram import NGramConfig, NGramModel
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel
from rnnkit.text.sampling import SampleConfig, generate


def rate(model, cfg: SampleConfig, window=None, repeats: int = 5) -> float:
    """Median characters/s over ``repeats`` generations (after a warm-up), each with an empty
    n-gram context cache (a mixed model's), as a new ``rnnkit sample`` process has."""
    generate(model, [0], SampleConfig(length=50), window=window)
    rates = []
    for _ in range(repeats):
        if isinstance(model, MixedModel):
            model.ngram.clear_cache()
        t = time.perf_counter()
        generate(model, [0], cfg, window=window)
        rates.append(cfg.length * cfg.num_samples / (time.perf_counter() - t))
    return statistics.median(rates)


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
    print("| model | generation | samples | chars/s |")
    print("|---|---|---:|---:|")
    for cell, layers, hidden in [("lstm", 2, 512), ("gru", 2, 512), ("lstm", 1, 128)]:
        model = RNNLanguageModel(RNNConfig(cell=cell, layers=layers, hidden_size=hidden), args.vocab).eval()
        name = f"{layers}x{cell.upper()}-{hidden}"
        for n in (1, 8):
            cfg = SampleConfig(length=args.length, num_samples=n, temperature=0.8, top_k=20)
            print(f"| {name} | carried state | {n} | {rate(model, cfg):,.0f} |", flush=True)
        if (cell, layers) == ("lstm", 2):
            cfg = SampleConfig(length=min(args.length, 500), temperature=0.8)
            print(f"| {name} | re-read 10-char window (seed) | 1 | {rate(model, cfg, window=10, repeats=1):,.0f} |",
                  flush=True)
            mixed = MixedModel(model, text_ngram(args.vocab), 0.3)
            for n in (1, 8):
                cfg = SampleConfig(length=args.length, num_samples=n, temperature=0.8, top_k=20)
                print(f"| {name} + 7-gram mix | carried state | {n} | {rate(mixed, cfg):,.0f} |", flush=True)
    if args.run:
        from rnnkit.text import api

        for mix in (True, False):
            lm = api.load(args.run, mix=mix)
            name = f"{args.run} ({'mixed' if isinstance(lm.model, MixedModel) else 'RNN alone'})"
            for n in (1, 8):
                cfg = SampleConfig(length=args.length, num_samples=n, temperature=0.8)
                print(f"| {name} | carried state | {n} | {rate(lm.model, cfg):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
