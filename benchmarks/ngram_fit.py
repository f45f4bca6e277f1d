"""Fitting an n-gram model on a ~100 MB character corpus: time and peak memory.

The corpus is ../shared/data/tinyshakespeare.txt repeated to the requested size, mapped through
its sorted characters to uint16 ids and written to a token file that is read back as an
``np.memmap`` (as ``rnnkit prepare`` stores corpora). Without the shared data folder a
synthetic Markov text stands in. The table also times one evaluation-sized ``log_probs`` call
(64 rows x 256 positions).

    python benchmarks/ngram_fit.py [--data PATH] [--megabytes 100] [--order 5] [--smoothing kneser-ney]

Note: repeating a 1 MB text gives the distinct n-grams of 1 MB; a real 100 MB corpus has many
more, so counting (and the memory) grows with them.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.ngram import NGramConfig, NGramModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def base_text(path: Path) -> tuple[np.ndarray, int, str]:
    """(uint16 ids, vocabulary size, description) of one copy of the text."""
    if path.exists():
        raw = np.frombuffer(path.read_bytes(), np.uint8)
        chars = np.unique(raw)  # sorted byte values: the vocabulary
        return np.searchsorted(chars, raw).astype(np.uint16), len(chars), path.name
    rng = np.random.default_rng(0)
    steps = rng.choice([0, 1, 1, 2, 3, 5, 8], size=1_000_000)
    return (np.cumsum(steps) % 65).astype(np.uint16), 65, "synthetic (shared data absent)"


def write_corpus(ids: np.ndarray, n_tokens: int, path: Path) -> np.memmap:
    with path.open("wb") as f:
        written = 0
        while written < n_tokens:
            piece = ids[: n_tokens - written]
            f.write(piece.tobytes())
            written += len(piece)
    return np.memmap(path, dtype=np.uint16, mode="r", shape=(n_tokens,))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--megabytes", type=float, default=100)
    ap.add_argument("--order", type=int, default=5)
    ap.add_argument("--smoothing", default="kneser-ney", choices=["kneser-ney", "add-k"])
    args = ap.parse_args()

    ids, V, name = base_text(args.data)
    n_tokens = int(args.megabytes * 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        tokens = write_corpus(ids, n_tokens, Path(tmp) / "tokens.bin")
        copies = n_tokens / len(ids)
        del ids
        rss_before = peak_rss_mb()
        cfg = NGramConfig(order=args.order, smoothing=args.smoothing)
        t0 = time.perf_counter()
        model = NGramModel.fit(cfg, tokens, V)
        fit_s = time.perf_counter() - t0
        rss_after = peak_rss_mb()

        rng = np.random.default_rng(0)
        starts = rng.integers(0, n_tokens - args.order, size=64 * 256)
        contexts = np.stack([np.asarray(tokens[s : s + args.order - 1]) for s in starts]).astype(np.int64)
        t0 = time.perf_counter()
        model.log_probs(contexts)
        lp_s = time.perf_counter() - t0

    print(f"| corpus | tokens | V | order | smoothing | stored n-grams | fit s | log_probs 16,384 rows s "
          f"| peak RSS before fit MB | peak RSS after fit MB |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    print(f"| {name} x{copies:.1f} | {n_tokens:,} | {V} | {args.order} | {args.smoothing} "
          f"| {model.num_parameters():,} | {fit_s:.2f} | {lp_s:.3f} | {rss_before:.0f} | {rss_after:.0f} |")


if __name__ == "__main__":
    main()
