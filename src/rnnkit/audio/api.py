"""Audio classification from Python: train, load, classify, evaluate, cross-validate.

>>> from rnnkit.audio import api as audio
>>> cfg = audio.AudioConfig()
>>> cfg.data.data, cfg.data.label_pattern = "fsdd", r"^(\\d)_"
>>> audio.train(cfg, "runs/digits")
>>> clf = audio.load("runs/digits")
>>> audio.classify(clf, ["fsdd/7_jackson_3.wav"])[0]        # [("7", 0.998)]
>>> audio.evaluate(clf, "test", "runs/digits").accuracy
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from ..core import checkpoint, confusion, distributed, rundir, subsample, trainer
from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..core.fileio import read_json, write_json
from ..core.rundir import LAST
from ..core.trainer import Event, fit, resolve_device
from .clips import Clip, find_clips, read_clips, split_clips
from . import model as crnn
from .model import CRNN, Ensemble
from .task import (KIND, AudioConfig, AudioTask, Frontend, config_from_meta, fit_normalization, pad,
                   predict_logits)
from .wav import _resample_no_grad, list_wavs, read_wav

SPLIT_FILE = "split.json"


@dataclass
class TrainResult(trainer.TrainResult):
    clips: dict[str, int] = dataclasses.field(default_factory=dict)  # clips per part
    skipped: list[str] = dataclasses.field(default_factory=list)  # bad files left out (--skip-bad-files)


@dataclass
class Classifier:
    model: CRNN | Ensemble
    frontend: Frontend
    labels: list[str]
    config: AudioConfig
    device: torch.device
    source: Path


@dataclass
class Evaluation:
    split: str
    accuracy: float
    loss: float
    per_class: dict[str, float]
    confusion: list[list[int]]  # rows: true label, columns: predicted, in the order of ``labels``
    labels: list[str]
    clips: int

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def frame_features(frontend: Frontend, waves: list[np.ndarray], device: torch.device, batch: int = 128):
    """Frames ``(N, T, F)`` (zero-padded) and frame counts ``(N,)`` of ``waves``, without augmentation."""
    parts, frames = [], []
    with torch.no_grad():
        for i in range(0, len(waves), batch):
            wave, lengths = pad(waves[i:i + batch])
            f, n = frontend(wave.to(device), lengths.to(device))
            parts.append(f.cpu())
            frames.append(n.cpu())
    T = max(p.size(1) for p in parts)
    return torch.cat([F.pad(p, (0, 0, 0, T - p.size(1))) for p in parts]), torch.cat(frames)


def _prepare(config: AudioConfig, out: Path, resume: bool) -> tuple[list[Clip], list[str], list[str]]:
    """The clips, their parts and the skipped files: read from the run when resuming, else found and split."""
    if resume:
        saved = read_json(out / SPLIT_FILE)
        clips = [Clip(c["path"], c["label"], c["group"]) for c in saved["clips"]]
        return clips, [c["part"] for c in saved["clips"]], saved.get("skipped", [])
    clips = find_clips(config.data)
    return clips, [], []


def train(config: AudioConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> TrainResult:
    """Train a CRNN on a folder of WAV files as ``config`` says, writing the run to ``out``."""
    out = Path(out)
    config = from_dict(AudioConfig, dataclasses.asdict(config))
    device = distributed.setup(config.train, distributed.identity(config, out, resume))
    distributed.main_first(lambda: rundir.check_target(out, resume, overwrite))
    rate = config.features.sample_rate
    clips, parts, skipped = _prepare(config, out, resume)
    waves, kept, newly_skipped = read_clips(config.data, clips, rate)
    split_seed = config.train.seed if config.data.split_seed is None else config.data.split_seed
    if not resume:
        skipped = newly_skipped
        parts = subsample.keep_fraction(split_clips(config.data, kept, split_seed), config.train.data_fraction,
                              config.train.seed)
        clips = kept
    elif len(kept) != len(clips):
        raise RnnkitError(f"some clips of the run are no longer readable in {config.data.data}; start a new run")
    labels = sorted({c.label for c in clips})
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[c.label] for c in clips])
    part = np.array(parts)
    train_idx, val_idx = np.flatnonzero(part == "train"), np.flatnonzero(part == "val")
    mean, std = fit_normalization(config.features, [waves[i] for i in train_idx])  # training clips only

    def write_run() -> None:  # rank 0 (the only process without torchrun)
        if not resume:
            with rundir.preparing(out) as tmp:
                write_json(tmp / SPLIT_FILE, {"data": str(config.data.data), "labels": labels, "skipped": skipped,
                                              "seed": split_seed,
                                              "clips": [{**dataclasses.asdict(c), "part": p} for c, p in zip(clips, parts)]})
        write_json(out / rundir.CONFIG_FILE, dataclasses.asdict(config))

    distributed.main_first(write_run)
    torch.manual_seed(config.train.seed)
    model = crnn.build(config.model, config.features.feature_size, len(labels))
    frontend = Frontend(config.features, mean, std)
    vf, vn = frame_features(frontend, [waves[i] for i in val_idx], torch.device("cpu"))
    meta = {"kind": KIND, "config": dataclasses.asdict(config), "labels": labels,
            "normalization": {"mean": mean.tolist(), "std": std.tolist()}}
    task = AudioTask(model, frontend, [waves[i] for i in train_idx], y[train_idx], (vf, vn, torch.as_tensor(y[val_idx])),
                     config, meta, device)
    result = fit(task, config.train, out, device, resume_from=out / LAST if resume else None, on_event=on_event,
                 stop_after=stop_after)
    st = result.state
    counts = {p: int((part == p).sum()) for p in ("train", "val", "test")}
    return TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens, counts,
                       skipped)


def load(path: str | Path, device: str = "cpu", which: str = "best") -> Classifier:
    ckpt = rundir.checkpoint_path(Path(path), which)
    tensors, meta = checkpoint.load(ckpt)
    if meta.get("kind") != KIND:
        raise RnnkitError(f"{path} holds a {meta.get('kind')} model, not an audio classifier")
    cfg = config_from_meta(meta)
    labels = meta["labels"]
    model = crnn.build(cfg.model, cfg.features.feature_size, len(labels))
    checkpoint.load_weights(model, tensors, ckpt)
    norm = meta["normalization"]
    dev = resolve_device(device)
    frontend = Frontend(cfg.features, torch.tensor(norm["mean"]), torch.tensor(norm["std"])).to(dev)
    return Classifier(model.to(dev).eval(), frontend, labels, cfg, dev, ckpt)


def probabilities(clf: Classifier, waves: list[np.ndarray], batch: int | None = None) -> np.ndarray:
    """Class probabilities ``(N, classes)`` of waves already at the model's sample rate."""
    feats, frames = frame_features(clf.frontend, waves, clf.device, batch or clf.config.classify.batch_size)
    with torch.no_grad():
        return predict_logits(clf.model, feats, frames, clf.device).softmax(-1).numpy()


def at_rate(clf: Classifier, wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono wave ``(samples,)`` at ``sample_rate`` Hz at the model's rate, float32, resampled as :func:`classify`
    resamples the files it reads."""
    try:
        wave = _resample_no_grad(wave, sample_rate, clf.config.features.sample_rate)
    except ValueError as e:
        raise RnnkitError(f"cannot resample from {sample_rate} Hz to {clf.config.features.sample_rate} Hz ({e}); "
                          f"send the clip at {clf.config.features.sample_rate} Hz") from None
    return np.ascontiguousarray(wave, dtype=np.float32)


def wav_paths(items: list[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their WAV files."""
    out = []
    for item in items:
        p = Path(item)
        out.extend(list_wavs(p) if p.is_dir() else [p])
    if not out:
        raise RnnkitError("no WAV file to classify; pass files or folders")
    return out


def classify(clf: Classifier, files: list[str | Path], top_k: int | None = None) -> list[list[tuple[str, float]]]:
    """The ``top_k`` most likely labels of each file with their probabilities."""
    k = confusion.check_top_k(top_k or clf.config.classify.top_k, len(clf.labels))
    waves = [read_wav(f, clf.config.features.sample_rate) for f in files]
    return confusion.top_labels(probabilities(clf, waves), clf.labels, k)


def split_waves(clf: Classifier, split: str, run_dir: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The waves of a split's clips (read again from the run's data folder) and their label indices ``(N,)``."""
    saved = read_json(Path(run_dir) / SPLIT_FILE)
    chosen = [c for c in saved["clips"] if c["part"] == split]
    if not chosen:
        raise RnnkitError(f"the run has no {split} clips")
    root = Path(saved["data"])
    if not root.is_dir():
        raise RnnkitError(f"the run's data folder {root} is not there; evaluation reads its clips again")
    waves = [read_wav(root / c["path"], clf.config.features.sample_rate) for c in chosen]
    index = {name: i for i, name in enumerate(clf.labels)}
    return waves, np.array([index[c["label"]] for c in chosen])


def evaluate(clf: Classifier, split: str, run_dir: str | Path) -> Evaluation:
    """Accuracy, loss, per-class accuracy and the confusion matrix on a split of the run."""
    waves, y = split_waves(clf, split, run_dir)
    probs = probabilities(clf, waves)
    pred = probs.argmax(1)
    n = len(clf.labels)
    m = confusion.matrix(y, pred, n)
    per_class = {clf.labels[i]: float(m[i, i] / m[i].sum()) for i in range(n) if m[i].sum()}
    loss = confusion.log_loss(probs, y)
    return Evaluation(split, float((pred == y).mean()), loss, per_class, m.tolist(), clf.labels, len(y))


def plot_confusion(ev: Evaluation, path: str | Path) -> None:
    confusion.plot(np.array(ev.confusion), ev.labels, f"{ev.split}: accuracy {ev.accuracy:.1%} ({ev.clips} clips)", path)


def report_view(clf: Classifier, run_dir: str | Path):
    """This run's part of ``rnnkit report``: the split, test metrics and the confusion matrix (see
    ``rnnkit.report.sections.TaskReport``)."""
    from ..report.sections import Section, TaskReport, drawn_image, key_values, unavailable

    saved = read_json(Path(run_dir) / SPLIT_FILE)
    parts = ("train", "val", "test")
    rows = [["label", *parts]]
    for label in clf.labels:
        rows.append([label, *(str(sum(c["label"] == label and c["part"] == p for c in saved["clips"])) for p in parts)])
    rows.append(["all", *(str(sum(c["part"] == p for c in saved["clips"])) for p in parts)])
    split = Section("Data split", text=[f"clips of {saved['data']} per label and part"
                                        + (f"; {len(saved['skipped'])} bad files left out" if saved.get("skipped") else "")],
                    table=rows)
    try:
        ev = evaluate(clf, "test", run_dir)
    except RnnkitError as e:
        return TaskReport(split, unavailable("Test metrics", str(e)), [unavailable("Confusion matrix", str(e))])
    test = Section("Test metrics", table=key_values({"accuracy": ev.accuracy, "loss": ev.loss, "clips": ev.clips,
                                                     "per class accuracy": ev.per_class}))
    image = drawn_image(lambda p: plot_confusion(ev, p), "confusion matrix of the test clips")
    return TaskReport(split, test, [Section("Confusion matrix", images=[image])])


@dataclass
class FoldResult:
    group: str
    accuracy: float
    clips: int


def crossval(config: AudioConfig, out: str | Path, on_fold: Callable[[str], None] | None = None,
             on_event: Callable[[Event], None] | None = None) -> list[FoldResult]:
    """Leave-one-group-out: one run per group (``OUT/GROUP``), tested on that group's clips."""
    clips = find_clips(config.data)
    groups = sorted({c.group for c in clips})
    if not config.data.group_pattern or len(groups) < 2:
        raise RnnkitError("crossval --folds group needs --group-pattern naming at least two groups")
    results = []
    for g in groups:
        if on_fold:
            on_fold(f"fold {len(results) + 1}/{len(groups)}: testing on {g!r}")
        cfg = dataclasses.replace(config, data=dataclasses.replace(config.data, split="group", test_group=g))
        run = Path(out) / g
        train(cfg, run, overwrite=True, on_event=on_event)
        ev = evaluate(load(run), "test", run)
        results.append(FoldResult(g, ev.accuracy, ev.clips))
    return results
