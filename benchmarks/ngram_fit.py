"""Fitting an n-gram model on a ~100 MB character corpus: time and peak memory.

The corpus is made of words drawn at random, with their frequencies, from the shared texts
(alice, tinyshakespeare, spa-eng): it has more distinct character n-grams than real English of
the same size, so counting is harder than on a real corpus. ``--repeat`` instead repeats one
text (``--data``; few distinct n-grams). Tokens are uint16 ids in a file read back as an
``np.memmap``, as rnnkit stores corpora. The table also times one evaluation-sized
``log_probs`` call (64 rows x 256 positions).

    python benchmarks/ngram_fit.py [--megabytes 100] [--order 5] [--smoothing kneser-ney] [--repeat --data PATH]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.text.ngram import NGramConfig, NGramModel

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


def shuffled_words(paths: list[Path], n_tokens: int, path: Path, seed: int = 0) -> tuple[np.memmap, int, str]:
    """A corpus of words drawn independently, with their frequencies, from the shared texts.

    Real text repeats itself far less than a 1 MB text copied 90 times: this stand-in has many
    more distinct character n-grams than English of the same size (every word boundary is new),
    so it is a harder counting job than a real 100 MB corpus.
    """
    import re
    from collections import Counter

    counts = Counter()
    for p in paths:
        counts.update(re.findall(r"\S+", p.read_text(encoding="utf-8", errors="ignore")))
    words = sorted(counts)
    chars = sorted(set("".join(words)) | {" ", "\n"})
    index = {c: i for i, c in enumerate(chars)}
    freq = np.array([counts[w] for w in words], dtype=np.float64)
    freq /= freq.sum()
    encoded = [np.array([index[c] for c in w] + [index[" "]], dtype=np.uint16) for w in words]
    rng = np.random.default_rng(seed)
    written = 0
    with path.open("wb") as f:
        while written < n_tokens:
            picks = rng.choice(len(words), size=200_000, p=freq)
            piece = np.concatenate([encoded[i] for i in picks])[: n_tokens - written]
            f.write(piece.tobytes())
            written += len(piece)
    desc = f"{len(words):,} words of {', '.join(p.name for p in paths)}, drawn at random"
    return np.memmap(path, dtype=np.uint16, mode="r", shape=(n_tokens,)), len(chars), desc


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
    ap.add_argument("--repeat", action="store_true",
                    help="repeat --data instead of drawing random words from the shared texts")
    args = ap.parse_args()

    n_tokens = int(args.megabytes * 1e6)
    shared = [SHARED.parent / n for n in ("alice.txt", "tinyshakespeare.txt", "spa-eng.txt")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.repeat or not all(p.exists() for p in shared):
            ids, V, name = base_text(args.data)
            tokens = write_corpus(ids, n_tokens, Path(tmp) / "tokens.bin")
            name = f"{name} x{n_tokens / len(ids):.1f}"
            del ids
        else:
            tokens, V, name = shuffled_words(shared, n_tokens, Path(tmp) / "tokens.bin")
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

    print("| corpus | tokens | V | order | smoothing | stored n-grams | fit s | log_probs 16,384 rows s "
          "| peak RSS before fit MB | peak RSS after fit MB |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    print(f"| {name} | {n_tokens:,} | {V} | {args.order} | {args.smoothing} "
          f"| {model.num_parameters():,} | {fit_s:.2f} | {lp_s:.3f} | {rss_before:.0f} | {rss_after:.0f} |")


if __name__ == "__main__":
    main()
