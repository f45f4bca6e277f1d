"""Sequence classification from Python: train, load, predict, evaluate.

>>> from rnnkit import classify
>>> cfg = classify.ClassifyConfig()
>>> cfg.data.data, cfg.data.format = "sst2/stsa.binary.train", "label-first"
>>> classify.train(cfg, "runs/sst2")
>>> clf = classify.load("runs/sst2")
>>> classify.predict(clf, ["a gorgeous , witty , seductive movie ."])[0]     # [("1", 0.97)]
>>> classify.evaluate(clf, "test", "runs/sst2").accuracy
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core import checkpoint, confusion, distributed, rundir, subsample, trainer
from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..core.fileio import write_json
from ..core.rundir import BEST, LAST
from ..core.trainer import Event, fit, resolve_device
from . import data as rundata
from . import model as seqmodel
from . import reference, transfer
from .examples import Examples, read_examples
from .model import Ensemble, SequenceClassifier
from .task import KIND, ClassifyConfig, ClassifyTask, predict_logits, upgrade
from .units import Scaler, TextEncoder

TOKENIZER = "tokenizer/model"  # the SentencePiece model's bytes (a uint8 tensor) in a subword run's checkpoints


@dataclass
class TrainResult(trainer.TrainResult):
    examples: dict[str, int] = dataclasses.field(default_factory=dict)  # examples per part
    kind: str = "text"
    transferred: int | None = None  # --encoder-from: units whose embedding came from the language model
    mix: dict | None = None  # the TF-IDF classifier mixed into the best checkpoint (its weight, validation scores)
    mix_note: str = ""  # why no TF-IDF classifier was mixed in, when one was asked for


@dataclass
class Classifier:
    model: SequenceClassifier | Ensemble
    encoder: TextEncoder | Scaler
    kind: str  # "text" or "numeric"
    labels: list[str]
    config: ClassifyConfig
    device: torch.device
    source: Path
    mix: reference.Mix | None = None  # text: the TF-IDF classifier mixed in after training


@dataclass
class Evaluation:
    split: str
    accuracy: float
    macro_f1: float
    loss: float
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    confusion: list[list[int]]  # rows: true label, columns: predicted, in the order of ``labels``
    labels: list[str]
    examples: int

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def fit_encoder(config: ClassifyConfig, examples: Examples, train_idx: np.ndarray) -> TextEncoder | Scaler:
    """The text units or the channel scaler, fitted on the training examples only."""
    chosen = [examples.inputs[i] for i in train_idx]
    if examples.kind == "text":
        return TextEncoder.fit(config.units, chosen, config.train.seed)
    return Scaler.fit(chosen)


def encoder_state(encoder: TextEncoder | Scaler) -> tuple[dict, dict[str, torch.Tensor]]:
    if isinstance(encoder, Scaler):
        return {"scaler": encoder.state()}, {}
    info, blob = encoder.state()
    return {"units": info}, ({TOKENIZER: torch.frombuffer(bytearray(blob), dtype=torch.uint8)} if blob else {})


def _parts(config: ClassifyConfig, out: Path, resume: bool, seed: int) -> rundata.Parts:
    if resume:
        return rundata.reread(out, config.data)
    new = rundata.prepare(config.data, seed)
    return dataclasses.replace(new, parts=subsample.keep_fraction(new.parts, config.train.data_fraction,
                                                                   config.train.seed))


def train(config: ClassifyConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> TrainResult:
    """Train a sequence classifier on the files ``config.data`` names, writing the run to ``out``."""
    out = Path(out)
    config = from_dict(ClassifyConfig, dataclasses.asdict(config))
    device = distributed.setup(config.train, distributed.identity(config, out, resume))
    distributed.main_first(lambda: rundir.check_target(out, resume, overwrite))
    split_seed = config.train.seed if config.data.split_seed is None else config.data.split_seed
    run_parts = _parts(config, out, resume, split_seed)
    examples, parts = run_parts.examples, run_parts.parts
    labels = rundata.check(examples, parts)
    index = {name: i for i, name in enumerate(labels)}
    part = np.array(parts)
    train_idx, val_idx = np.flatnonzero(part == "train"), np.flatnonzero(part == "val")
    if not len(val_idx):
        raise RnnkitError("the validation part is empty; raise --val-fraction or give a --validation file")
    encoder = fit_encoder(config, examples, train_idx)  # training examples only
    encoded = encoder.encode([examples.inputs[i] for i in np.concatenate([train_idx, val_idx])])
    y = np.array([index[v] for v in np.array(examples.labels, dtype=object)[np.concatenate([train_idx, val_idx])]])

    def write_run() -> None:  # rank 0 (the only process without torchrun)
        if not resume:
            with rundir.preparing(out) as tmp:
                write_json(tmp / rundata.SPLIT_FILE, {"labels": labels, "seed": split_seed, "kind": examples.kind,
                                                      "sha256": run_parts.sha256, "parts": parts, "ids": examples.ids})
        write_json(out / rundir.CONFIG_FILE, dataclasses.asdict(config))

    distributed.main_first(write_run)
    torch.manual_seed(config.train.seed)
    model = build_model(config, examples.kind, encoder, len(labels))
    transferred = None
    if config.model.encoder_from and not resume:  # a resumed run reads every weight from its checkpoint
        transferred = start_encoder(model, encoder, config.model.encoder_from)
    state, tensors = encoder_state(encoder)
    meta = {"kind": KIND, "config": dataclasses.asdict(config), "labels": labels, "input": examples.kind,
            "channels": examples.channels, **state}
    n = len(train_idx)
    task = ClassifyTask(model, encoded[:n], y[:n], (encoded[n:], y[n:]), config, meta, tensors, device)
    result = fit(task, config.train, out, device, resume_from=out / LAST if resume else None, on_event=on_event,
                 stop_after=stop_after)
    st = result.state
    counts = {p: int((part == p).sum()) for p in ("train", "val", "test")}
    done = TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens, counts,
                       examples.kind, transferred)
    if st.stopped and distributed.is_main() and examples.kind == "text":  # not for a run cut short (stop_after)
        texts = [examples.inputs[i] for i in np.concatenate([train_idx, val_idx])]
        done.mix, done.mix_note = attach_mix(config, out, texts[:n], y[:n], texts[n:], y[n:])
    return done


def attach_mix(config: ClassifyConfig, out: Path, train_texts: list[str], y_train: np.ndarray,
               val_texts: list[str], y_val: np.ndarray) -> tuple[dict | None, str]:
    """Fit the TF-IDF mix of the best checkpoint (``reference.py``) and store it there, replacing an earlier
    one; what was mixed in (no n-grams), or None and why (nothing to say for ``--mix-with none``)."""
    tensors, meta = checkpoint.load(out / BEST)
    tensors = {k: v for k, v in tensors.items() if not k.startswith("mix/")}  # a resumed run's earlier mix
    had = meta.pop("mix", None)
    mix, note = None, ""
    if config.mix.mix_with == "tfidf":
        alone = load(out, mix=False)
        fitted = reference.fit(train_texts, y_train, val_texts, probabilities(alone, val_texts), y_val,
                               config.train.seed, config.train.select)
        if isinstance(fitted, str):
            note = fitted
        elif fitted.weight < reference.MIN_WEIGHT:
            note = f"no TF-IDF mix: its fitted weight is {fitted.weight:.2f}, too small to matter"
        else:
            mix = fitted
    if mix is None and had is None:
        return None, note  # nothing to write
    if mix is not None:
        meta["mix"] = mix.info()
        tensors.update({f"mix/{k}": torch.from_numpy(v) for k, v in mix.reference.arrays().items()})
    checkpoint.save(out / BEST, tensors, meta)
    return (None, note) if mix is None else ({k: v for k, v in mix.info().items() if k != "ngrams"}, "")


def start_encoder(model: SequenceClassifier | Ensemble, encoder: TextEncoder | Scaler, lm_run: str) -> int:
    """``--encoder-from``: the language model's weights in ``model``; how many units got an embedding."""
    if not isinstance(encoder, TextEncoder) or encoder.cfg.level == "subword":
        raise RnnkitError("--encoder-from needs a text classifier of words or characters (--level word or char), "
                          "the units of rnnkit's language models")
    return transfer.start_from(model, encoder.vocab.pieces, encoder.cfg.level, lm_run)


def build_model(config: ClassifyConfig, kind: str, encoder: TextEncoder | Scaler,
                classes: int) -> SequenceClassifier | Ensemble:
    if kind == "text":
        return seqmodel.build(config.model, classes, vocab_size=len(encoder.vocab))
    return seqmodel.build(config.model, classes, channels=len(encoder.mean))


def load(path: str | Path, device: str = "cpu", which: str = "best", mix: bool = True) -> Classifier:
    """A run's ``best`` (or ``last``) checkpoint, or a checkpoint file; a text run's TF-IDF mix comes with it
    unless ``mix=False`` (the recurrent model alone)."""
    ckpt = rundir.checkpoint_path(Path(path), which)
    tensors, meta = checkpoint.load(ckpt)
    if meta.get("kind") != KIND:
        raise RnnkitError(f"{path} holds a {meta.get('kind')} model, not a sequence classifier")
    cfg = from_dict(ClassifyConfig, upgrade(meta["config"]), "checkpoint config")
    if meta["input"] == "text":
        blob = tensors.get(TOKENIZER)
        encoder = TextEncoder.from_state(cfg.units, meta["units"], b"" if blob is None else blob.numpy().tobytes())
    else:
        encoder = Scaler(meta["scaler"]["mean"], meta["scaler"]["std"])
    model = build_model(cfg, meta["input"], encoder, len(meta["labels"]))
    checkpoint.load_weights(model, tensors, ckpt)
    dev = resolve_device(device)
    mixed = None
    if mix and "mix" in meta:
        mixed = reference.Mix.from_info(meta["mix"], {k: v.numpy() for k, v in checkpoint.section(tensors, "mix").items()})
    return Classifier(model.to(dev).eval(), encoder, meta["input"], meta["labels"], cfg, dev, ckpt, mixed)


def probabilities(clf: Classifier, inputs: list) -> np.ndarray:
    """Class probabilities ``(N, classes)`` of raw inputs (texts, or ``(T, C)`` arrays)."""
    if not inputs:
        return np.zeros((0, len(clf.labels)), dtype=np.float32)
    if clf.kind == "text" and not all(isinstance(x, str) for x in inputs):
        raise RnnkitError("this model classifies texts; pass strings")
    encoded = clf.encoder.encode(list(inputs))
    logits = predict_logits(clf.model, encoded, clf.device, clf.config.predict.batch_size)
    probs = logits.softmax(-1).numpy()
    return clf.mix.probabilities(probs, list(inputs)) if clf.mix else probs


def predict(clf: Classifier, inputs: list | Examples, top_k: int | None = None) -> list[list[tuple[str, float]]]:
    """The ``top_k`` most likely labels of each input with their probabilities."""
    k = confusion.check_top_k(top_k or clf.config.predict.top_k, len(clf.labels))
    probs = probabilities(clf, inputs.inputs if isinstance(inputs, Examples) else inputs)
    return confusion.top_labels(probs, clf.labels, k)


def read_input(clf: Classifier, path: str | Path) -> Examples:
    """A file to classify, in any format of training, with or without labels (the run's column options)."""
    examples = read_examples(path, clf.config.data, labelled=False)
    if examples.kind != clf.kind:
        raise RnnkitError(f"{path} holds {examples.kind} sequences, but the model classifies {clf.kind} ones")
    return examples


def split_examples(clf: Classifier, split: str, run_dir: str | Path) -> tuple[Examples, np.ndarray]:
    """The examples of a split of the run (read again from its files) and their label indices ``(N,)``."""
    return pick(clf, rundata.reread(Path(run_dir), clf.config.data), split)


def pick(clf: Classifier, saved: rundata.Parts, split: str) -> tuple[Examples, np.ndarray]:
    """The examples of one part of a run's examples (read once by ``rundata.reread``) and their label indices."""
    chosen = [i for i, p in enumerate(saved.parts) if p == split]
    if not chosen:
        raise RnnkitError(f"the run has no {split} examples")
    e = saved.examples
    index = {name: i for i, name in enumerate(clf.labels)}
    picked = Examples(e.kind, [e.inputs[i] for i in chosen], [e.labels[i] for i in chosen], [e.ids[i] for i in chosen],
                      None, e.channels)
    return picked, np.array([index[y] for y in picked.labels])


def score(clf: Classifier, split: str, probs: np.ndarray, y: np.ndarray) -> Evaluation:
    m = confusion.matrix(y, probs.argmax(1), len(clf.labels))
    per_class = confusion.per_class_scores(m, clf.labels)
    loss = confusion.log_loss(probs, y)
    macro = float(np.mean([s["f1"] for s in per_class.values()]))
    return Evaluation(split, float(np.trace(m) / len(y)), macro, loss, per_class, m.tolist(), clf.labels, len(y))


def evaluate(clf: Classifier, split: str, run_dir: str | Path) -> Evaluation:
    """Accuracy, macro F1, loss, per-class scores and the confusion matrix on a split of the run."""
    examples, y = split_examples(clf, split, run_dir)
    return score(clf, split, probabilities(clf, examples.inputs), y)


def plot_confusion(ev: Evaluation, path: str | Path) -> None:
    confusion.plot(np.array(ev.confusion), ev.labels,
                   f"{ev.split}: accuracy {ev.accuracy:.1%} ({ev.examples} examples)", path)


def confident_errors(clf: Classifier, examples: Examples, probs: np.ndarray, y: np.ndarray,
                     count: int = 10) -> list[list[str]]:
    """Table rows (id, input, true, predicted, probability) of the ``count`` most confident mistakes."""
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:count]
    rows = [["id", "input", "true", "predicted", "probability"]]
    for i in wrong:
        x = examples.inputs[i]
        shown = x if isinstance(x, str) else f"{len(x)} steps"
        rows.append([examples.ids[i], shown[:120], clf.labels[y[i]], clf.labels[pred[i]], f"{probs[i, pred[i]]:.3f}"])
    return rows


def report_view(clf: Classifier, run_dir: str | Path):
    """This run's part of ``rnnkit report``: examples per label and part, test metrics, the confusion
    matrix and the most confident test errors (see ``rnnkit.report.sections.TaskReport``)."""
    from ..report.sections import Section, TaskReport, drawn_image, key_values, unavailable

    parts = ("train", "val", "test")
    rows = [["label", *parts]]
    try:
        saved = rundata.reread(Path(run_dir), clf.config.data)
    except RnnkitError as e:
        return TaskReport(unavailable("Data split", str(e)), unavailable("Test metrics", str(e)), [])
    labels = saved.examples.labels
    for label in clf.labels + ["all"]:
        rows.append([label, *(str(sum((label in ("all", y)) and q == p for y, q in zip(labels, saved.parts)))
                              for p in parts)])
    split = Section("Data split", text=[f"{saved.examples.kind} sequences per label and part"], table=rows)
    try:
        examples, y = pick(clf, saved, "test")
    except RnnkitError as e:
        return TaskReport(split, unavailable("Test metrics", str(e)), [])
    probs = probabilities(clf, examples.inputs)
    ev = score(clf, "test", probs, y)
    mixed = [f"Scored with the TF-IDF + logistic regression mixed in after training at weight {clf.mix.weight:.2f} "
             f"(rnnkit evaluate --no-mix: the recurrent model alone)."] if clf.mix else []
    test = Section("Test metrics", text=mixed, table=key_values({"accuracy": ev.accuracy, "macro F1": ev.macro_f1,
                                                                 "loss": ev.loss, "examples": ev.examples}))
    image = drawn_image(lambda p: plot_confusion(ev, p), "confusion matrix of the test examples")
    errors = Section("Most confident test errors", table=confident_errors(clf, examples, probs, y))
    return TaskReport(split, test, [Section("Confusion matrix", images=[image]), errors])
