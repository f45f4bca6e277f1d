"""Tiny translation, forecasting, audio, sequence classification and tagging runs for the data-parallel tests: their data
files (written once by the test into a folder) and configurations without randomness that depends on
the number of processes (no dropout, no augmentation, no <unk> replacement, teacher forcing only)."""

from pathlib import Path

import numpy as np

from rnnkit.audio.task import AudioConfig
from rnnkit.classify.task import ClassifyConfig
from rnnkit.core.config import from_dict
from rnnkit.forecast.task import ForecastConfig
from rnnkit.tag.task import TagConfig
from rnnkit.translate.task import TranslateConfig


def make_data(tmp: Path) -> None:
    import random

    import soundfile as sf

    rng = random.Random(0)
    rows = []
    for _ in range(120):
        s = rng.sample("abcdefghij", rng.randint(3, 7))
        rows.append(" ".join(s) + "\t" + " ".join(reversed(s)))
    (tmp / "pairs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    t = np.arange(96)
    dates = np.datetime64("2000-01", "M") + t
    values = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)
    (tmp / "series.csv").write_text("date,y\n" + "".join(f"{d}-01,{v:.4f}\n" for d, v in zip(dates, values)))
    clips = tmp / "clips"
    clips.mkdir()
    gen = np.random.default_rng(1)
    for label, f in {"low": 300.0, "high": 1500.0}.items():
        for i in range(12):
            n = int(8000 * gen.uniform(0.2, 0.4))
            wave = 0.3 * np.sin(2 * np.pi * f * np.arange(n) / 8000) + gen.normal(0, 0.01, n)
            sf.write(clips / f"{label}_{'abc'[i % 3]}_{i}.wav", wave.astype(np.float32), 8000, subtype="PCM_16")
    texts = ["label,text"] + [f"{'ab'[i % 2]},{' '.join(rng.sample('cdefgh', rng.randint(2, 5)))} {'xy'[i % 2]}"
                              for i in range(100)]
    (tmp / "texts.csv").write_text("\n".join(texts) + "\n", encoding="utf-8")
    words = rng.choices("abcdefgh", k=700)  # 100 sentences of 3-10 words, each tagged by its word's half
    sentences, at = [], 0
    for n in (rng.randint(3, 10) for _ in range(100)):
        sentences.append("".join(f"{w}\t{'X' if w < 'e' else 'Y'}\n" for w in words[at:at + n]))
        at = (at + n) % 690
    (tmp / "tags.conll").write_text("\n".join(sentences), encoding="utf-8")


def translate(tmp: Path) -> TranslateConfig:
    return from_dict(TranslateConfig, {
        "data": {"data": str(tmp / "pairs.tsv")}, "tokenizer": {"tokens": "word", "min_freq": 1},
        "model": {"hidden_size": 16, "embedding_size": 8, "dropout": 0.0},
        "train": {"batch_size": 16, "steps": 6, "eval_every": 3, "log_every": 1, "device": "cpu", "precision": "fp32"}})


def forecast(tmp: Path) -> ForecastConfig:
    """47 training windows: 5 steps of 8 stay clear of the epoch's last, partial batch (which two
    processes pad, as DistributedSampler does, with the epoch's first window)."""
    return from_dict(ForecastConfig, {
        "data": {"data": str(tmp / "series.csv")}, "model": {"horizon": 6, "hidden_size": 8},
        "train": {"steps": 5, "eval_every": 3, "log_every": 1, "patience": 0, "batch_size": 8, "precision": "fp32"}})


def audio(tmp: Path) -> AudioConfig:
    return from_dict(AudioConfig, {
        "data": {"data": str(tmp / "clips"), "label_pattern": r"^([a-z]+)_", "group_pattern": r"^[a-z]+_([a-z]+)_"},
        "augment": {"augment": False}, "model": {"channels": 4, "hidden_size": 8, "dropout": 0.0},
        "train": {"max_time": None, "steps": 4, "eval_every": 2, "log_every": 1, "batch_size": 8, "precision": "fp32"}})


def classify(tmp: Path) -> ClassifyConfig:
    """100 texts split 80/10/10: 5 full batches of 16 training texts an epoch."""
    return from_dict(ClassifyConfig, {
        "data": {"data": str(tmp / "texts.csv")}, "units": {"min_freq": 1},
        "model": {"hidden_size": 8, "embedding_size": 8, "dropout": 0.0},
        "train": {"max_time": None, "steps": 5, "eval_every": 3, "log_every": 1, "batch_size": 16, "precision": "fp32"}})


def tag(tmp: Path) -> TagConfig:
    """100 sentences split 80/10/10: 5 full batches of 16 training sentences an epoch; validation by loss,
    which the ranks' (mean, tokens) average exactly (an entity F1 would not)."""
    return from_dict(TagConfig, {
        "data": {"data": str(tmp / "tags.conll")}, "words": {"unk_replace": 0.0},
        "model": {"word_size": 8, "hidden_size": 8, "layers": 1, "char_encoder": "cnn", "char_size": 4,
                  "char_hidden": 4, "dropout": 0.0},
        "train": {"max_time": None, "steps": 5, "eval_every": 3, "log_every": 1, "batch_size": 16,
                  "precision": "fp32", "select": "loss"}})
