"""Side-by-side comparison: the guide's walk from p(x) to n-grams to recurrent context vectors.

Every model trains on the same data and the same split under the same wall-clock budget, then
is scored on the test split and sampled. The result is a table (stdout, CSV, Markdown), one
plot of validation loss against training time, and each model's run directory.

Model names: ``unigram``, ``bigram``, ``trigram``, ``<N>gram`` or ``<N>gram-kn`` (Kneser-Ney),
``<N>gram-addk`` (add-k), ``seed`` (the seed article's model, see ``presets.py``), ``rnn``, ``lstm``,
``gru`` (rnnkit's defaults with that cell, alone), ``rnn+ngram``, ``lstm+ngram``, ``gru+ngram`` (the
same, mixed with a Kneser-Ney n-gram after training, as ``rnnkit train`` does by default).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import api, presets, textdata
from ..core import rundir
from ..core.config import from_dict, merge, require
from ..core.errors import RnnkitError
from ..core.fileio import atomic_write_bytes, save_figure
from .language_model import LMConfig, check_corpus_fits
from .textdata import DataConfig

DEFAULT_MODELS = ("unigram", "bigram", "5gram", "seed", "rnn", "lstm", "gru", "lstm+ngram")
NAMED_ORDERS = {"unigram": 1, "bigram": 2, "trigram": 3}
NGRAM_NAME = re.compile(r"^(\d+)gram(-addk|-kn)?$")


@dataclass
class CompareConfig:
    data: DataConfig = field(default_factory=DataConfig)
    models: tuple[str, ...] = DEFAULT_MODELS
    budget: float = 120.0  # seconds of training per model
    seed: int = 0
    device: str = "auto"
    sample_length: int = 500

    def __post_init__(self) -> None:
        require(0 < self.budget < math.inf, "budget", f"must be a positive number of seconds, got {self.budget}")
        require(self.sample_length >= 1, "sample_length", f"must be at least 1, got {self.sample_length}")
        require(len(self.models) > 0, "models", "name at least one model")
        for name in self.models:
            model_config(name, self)  # unknown names fail here, before anything trains


def model_config(name: str, cmp: CompareConfig) -> LMConfig:
    """The configuration ``name`` stands for, on ``cmp``'s data, budget and seed."""
    base: dict = {"data": dataclasses.asdict(cmp.data),
                  "train": {"seed": cmp.seed, "device": cmp.device, "max_time": cmp.budget}}
    m = NGRAM_NAME.match(name)
    if name in NAMED_ORDERS or m:
        order = NAMED_ORDERS.get(name) or int(m.group(1))
        require(order >= 1, "models", f"{name!r}: an n-gram order must be at least 1")
        smoothing = "add-k" if m and m.group(2) == "-addk" else "kneser-ney"
        return from_dict(LMConfig, merge(base, {"model": "ngram", "ngram": {"order": order, "smoothing": smoothing}}))
    if name == "seed":
        seed = {k: v for k, v in presets.preset("seed").items() if k != "data"}  # one data setup for all
        return from_dict(LMConfig, merge(seed, base))
    cell, _, mixed = name.partition("+")
    if cell in ("rnn", "lstm", "gru") and mixed in ("", "ngram"):
        alone = {} if mixed else {"mix": {"mix_order": 0}}
        return from_dict(LMConfig, merge(base, {"rnn": {"cell": cell}, **alone}))
    raise RnnkitError(
        f"--models: unknown model {name!r}; use unigram, bigram, trigram, <N>gram, <N>gram-addk, seed, rnn, lstm, gru, "
        f"rnn+ngram, lstm+ngram or gru+ngram"
    )


@dataclass
class Row:
    model: str
    test_nats_per_token: float
    test_bits_per_char: float
    test_perplexity: float
    test_accuracy: float
    parameters: int
    train_seconds: float
    tokens_per_s: float
    copied: float
    distinct_2: float
    sample: str


def _val_curve(run: Path) -> tuple[list[float], list[float]]:
    rows = [json.loads(l) for l in (run / rundir.METRICS_FILE).read_text(encoding="utf-8").splitlines()]
    vals = [r for r in rows if r["kind"] == "val"]
    return [r["elapsed"] for r in vals], [r["val_loss"] for r in vals]


def run_comparison(cmp: CompareConfig, out: Path, on_model: Callable[[str], None] | None = None,
                   on_event=None) -> list[Row]:
    """Train and score every model of ``cmp``; write runs, table and plot under ``out``."""
    configs = {name: model_config(name, cmp) for name in cmp.models}
    with tempfile.TemporaryDirectory() as tmp:  # every model must fit the data before any trains
        corpus = textdata.prepare(cmp.data, Path(tmp))
        for cfg in configs.values():
            check_corpus_fits(corpus, cfg)
        del corpus
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for name in cmp.models:
        if on_model:
            on_model(name)
        cfg = configs[name]
        run = out / "runs" / name
        result = api.train(cfg, run, overwrite=rundir.is_run(run), on_event=on_event)
        lm = api.load(run)
        test = api.evaluate(lm, "test", run)
        # Each model samples with its own defaults (the seed: greedy, from a random window of the text).
        scfg = dataclasses.replace(cfg.sample, length=cmp.sample_length, seed=cmp.seed)
        text, stats = api.sample_with_stats(lm, scfg)
        copied = stats.memorized["12" if lm.vocab.level == "char" else "4"]
        rows.append(Row(name, test.loss, test.bits_per_char, test.perplexity, test.accuracy,
                        api.num_parameters(lm), result.elapsed, result.tokens / max(result.elapsed, 1e-9), copied,
                        stats.distinct["2"], text[0]))
        curves[name] = _val_curve(run)
    write_table(rows, out)
    plot_curves(curves, out / "val_loss.png", cmp)
    return rows


COLUMNS = [("model", "model", "{}"), ("test nats/token", "test_nats_per_token", "{:.3f}"),
           ("test bits/char", "test_bits_per_char", "{:.3f}"), ("test perplexity", "test_perplexity", "{:.2f}"),
           ("test accuracy", "test_accuracy", "{:.1%}"), ("parameters", "parameters", "{:,}"),
           ("train s", "train_seconds", "{:.1f}"), ("tokens/s", "tokens_per_s", "{:,.0f}"),
           ("sample copied (12 chars / 4 words)", "copied", "{:.0%}"), ("sample distinct-2", "distinct_2", "{:.2f}")]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(c[0] for c in COLUMNS) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt.format(getattr(r, attr)) for _, attr, fmt in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_table(rows: list[Row], out: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([f.name for f in dataclasses.fields(Row)])
    for r in rows:
        w.writerow([getattr(r, f.name) for f in dataclasses.fields(Row)])
    atomic_write_bytes(out / "compare.csv", buf.getvalue().encode("utf-8"))
    samples = "\n".join(f"### {r.model}\n\n```\n{r.sample.strip()[:300]}\n```\n" for r in rows)
    atomic_write_bytes(out / "compare.md", (markdown(rows) + "\n## Samples\n\n" + samples).encode("utf-8"))


def plot_curves(curves: dict[str, tuple[list[float], list[float]]], path: Path, cmp: CompareConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, (t, v) in curves.items():
        if len(t) > 1:
            ax.plot(t, v, label=name, marker=".", markersize=3)
        else:
            ax.scatter(t, v, label=name, marker="x", s=60, zorder=3)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("validation loss (nats/token)")
    ax.set_title(f"{Path(cmp.data.data).name}: validation loss against wall time ({cmp.budget:g} s budget each)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
