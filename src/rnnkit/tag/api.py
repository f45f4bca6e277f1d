"""Sequence tagging from Python: train, load, tag, evaluate.

>>> from rnnkit import tag
>>> cfg = tag.TagConfig()
>>> cfg.data.data = "ud-english-ewt/en_ewt-ud-train.conllu"
>>> cfg.data.validation = "ud-english-ewt/en_ewt-ud-dev.conllu"
>>> tag.train(cfg, "runs/upos")
>>> tagger = tag.load("runs/upos")
>>> tag.tag(tagger, [["I", "saw", "her", "duck", "."]])      # [["PRON", "VERB", "PRON", "NOUN", "PUNCT"]]
>>> tag.tag_text(tagger, "I saw her duck.")                  # [(tokens, tags)] per sentence
>>> tag.evaluate(tagger, "test", "runs/upos")["accuracy"]
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
from ..core.rundir import LAST
from ..core.trainer import Event, fit, resolve_device
from . import data as rundata
from . import metrics
from . import scheme as schemes
from .model import Tagger
from .task import KIND, TagConfig, TagTask, mask_of, to_tensors
from .tokenize import split as split_text
from .vocab import TokenEncoder


@dataclass
class TrainResult(trainer.TrainResult):
    sentences: dict[str, int] = dataclasses.field(default_factory=dict)  # sentences per part
    scheme: str = "none"
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclass
class LoadedTagger:
    model: Tagger
    encoder: TokenEncoder
    scheme: str
    config: TagConfig
    device: torch.device
    source: Path

    @property
    def tags(self) -> list[str]:
        return self.encoder.tags


def _parts(config: TagConfig, out: Path, resume: bool, seed: int) -> rundata.Parts:
    if resume:
        return rundata.reread(out, config.data)
    new = rundata.prepare(config.data, seed)
    return dataclasses.replace(new, parts=subsample.keep_fraction(new.parts, config.train.data_fraction,
                                                                   config.train.seed))


def build_model(config: TagConfig, encoder: TokenEncoder, scheme: str) -> Tagger:
    return Tagger(config.model, len(encoder.words), len(encoder.chars), len(encoder.tags),
                  schemes.allowed(encoder.tags, scheme))


def train(config: TagConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> TrainResult:
    """Train a tagger on the files ``config.data`` names, writing the run to ``out``."""
    out = Path(out)
    config = from_dict(TagConfig, dataclasses.asdict(config))
    device = distributed.setup(config.train, distributed.identity(config, out, resume))
    distributed.main_first(lambda: rundir.check_target(out, resume, overwrite))
    split_seed = config.train.seed if config.data.split_seed is None else config.data.split_seed
    saved = _parts(config, out, resume, split_seed)
    tags, scheme, notes = rundata.check(saved, config.data)
    chosen = {p: [s for s, q in zip(saved.sentences, saved.parts) if q == p] for p in ("train", "val", "test")}
    if not chosen["val"]:
        raise RnnkitError("the validation part is empty; raise --val-fraction or give a --validation file")
    train_tokens = [s.tokens for s in chosen["train"]]
    encoder = TokenEncoder.fit(train_tokens, [s.tags for s in chosen["train"]], config.words.lowercase,
                               config.words.min_freq, config.words.max_word)  # training sentences only

    def write_run() -> None:  # rank 0 (the only process without torchrun)
        if not resume:
            with rundir.preparing(out) as tmp:
                write_json(tmp / rundata.SPLIT_FILE, {"seed": split_seed, "scheme": scheme, "tags": tags,
                                                      "sha256": saved.sha256, "parts": saved.parts})
        write_json(out / rundir.CONFIG_FILE, dataclasses.asdict(config))

    distributed.main_first(write_run)
    torch.manual_seed(config.train.seed)
    model = build_model(config, encoder, scheme)
    meta = {"kind": KIND, "config": dataclasses.asdict(config), "scheme": scheme, "encoder": encoder.state()}
    task = TagTask(model, encoder, (train_tokens, [encoder.tag_ids(s.tags) for s in chosen["train"]]),
                   ([s.tokens for s in chosen["val"]], [encoder.tag_ids(s.tags) for s in chosen["val"]]),
                   config, meta, device)
    result = fit(task, config.train, out, device, resume_from=out / LAST if resume else None, on_event=on_event,
                 stop_after=stop_after)
    st = result.state
    return TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens,
                       {p: len(v) for p, v in chosen.items()}, scheme, notes)


def load(path: str | Path, device: str = "cpu", which: str = "best") -> LoadedTagger:
    """A trained tagger from a run directory (its ``best`` or ``last`` checkpoint) or a checkpoint file."""
    ckpt = rundir.checkpoint_path(Path(path), which)
    tensors, meta = checkpoint.load(ckpt)
    if meta.get("kind") != KIND:
        raise RnnkitError(f"{path} holds a {meta.get('kind')} model, not a sequence tagger")
    cfg = from_dict(TagConfig, meta["config"], "checkpoint config")
    encoder = TokenEncoder.from_state(meta["encoder"])
    model = build_model(cfg, encoder, meta["scheme"])
    checkpoint.load_weights(model, tensors, ckpt)
    dev = resolve_device(device)
    return LoadedTagger(model.to(dev).eval(), encoder, meta["scheme"], cfg, dev, ckpt)


def tag(tagger: LoadedTagger, sentences: list[list[str]]) -> list[list[str]]:
    """The predicted tags of each sentence (a list of tokens), in length-sorted batches."""
    bad = [i for i, s in enumerate(sentences) if not s or not all(isinstance(w, str) and w for w in s)]
    if bad:
        raise RnnkitError(f"sentence {bad[0] + 1} is empty or holds a token that is not a non-empty string; "
                          f"pass each sentence as a list of tokens")
    order = np.argsort([-len(s) for s in sentences], kind="stable")
    out: list[list[str]] = [[] for _ in sentences]
    batch = tagger.config.tag.batch_size
    with torch.no_grad():
        for i in range(0, len(order), batch):
            chunk = order[i:i + batch]
            x = to_tensors(tagger.encoder.batch([sentences[k] for k in chunk]), tagger.device)
            emissions = tagger.model.emissions(**x)
            ids = tagger.model.decode(emissions, mask_of(x["lengths"], emissions.size(1))).cpu().numpy()
            for row, k in enumerate(chunk):
                out[k] = [tagger.tags[j] for j in ids[row, :len(sentences[k])]]
    return out


def tag_text(tagger: LoadedTagger, text: str) -> list[tuple[list[str], list[str]]]:
    """Raw text split into sentences and tokens (``tokenize.py``), each with its predicted tags."""
    sentences = split_text(text)
    if not sentences:
        raise RnnkitError("the text is empty; pass some words to tag")
    return list(zip(sentences, tag(tagger, sentences)))


def split_sentences(tagger: LoadedTagger, split: str, run_dir: str | Path, saved: rundata.Parts | None = None):
    """The sentences of one part of the run (read again from its files)."""
    saved = saved or rundata.reread(Path(run_dir), tagger.config.data)
    chosen = [s for s, p in zip(saved.sentences, saved.parts) if p == split]
    if not chosen:
        raise RnnkitError(f"the run has no {split} sentences")
    return chosen


def evaluate(tagger: LoadedTagger, split: str, run_dir: str | Path, plot: str | Path | None = None) -> dict:
    """Token accuracy, entity spans (for BIO/IOBES tags) and the commonest confusions on a split of the run;
    ``plot``: also draw the confusion matrix of the most frequent gold tags there (a PNG)."""
    sentences = split_sentences(tagger, split, run_dir)
    gold, pred = [s.tags for s in sentences], tag(tagger, [s.tokens for s in sentences])
    ev = {"split": split, "scheme": tagger.scheme, **metrics.score(gold, pred, tagger.scheme)}
    if plot is not None:
        m, names = metrics.matrix(gold, pred)
        confusion.plot(m, names, f"{split}: token accuracy {ev['accuracy']:.1%} ({ev['tokens']:,} tokens)", plot)
    return ev


def marked(tokens: list[str], gold: list[str], pred: list[str]) -> str:
    """A sentence as ``token/TAG``, each error written ``token/PRED(gold GOLD)`` between asterisks."""
    return " ".join(f"{w}/{p}" if g == p else f"*{w}/{p}(gold {g})*" for w, g, p in zip(tokens, gold, pred))


def report_view(tagger: LoadedTagger, run_dir: str | Path):
    """This run's part of ``rnnkit report``: sentences and tokens per part, test metrics, the per-type
    table (entity tags) or the commonest confusions, and test sentences with their errors marked."""
    from ..report.sections import Section, TaskReport, key_values, unavailable

    try:
        saved = rundata.reread(Path(run_dir), tagger.config.data)
        test = split_sentences(tagger, "test", run_dir, saved)
    except RnnkitError as e:
        return TaskReport(unavailable("Data split", str(e)), unavailable("Test metrics", str(e)), [])
    rows = [["part", "sentences", "tokens"]]
    for p in ("train", "val", "test"):
        chosen = [s for s, q in zip(saved.sentences, saved.parts) if q == p]
        rows.append([p, str(len(chosen)), str(sum(len(s.tokens) for s in chosen))])
    split = Section("Data split", text=[f"tag scheme {tagger.scheme}, {len(tagger.tags)} tags"], table=rows)
    pred = tag(tagger, [s.tokens for s in test])
    ev = metrics.score([s.tags for s in test], pred, tagger.scheme)
    flat = {"token accuracy": ev["accuracy"], "tokens": ev["tokens"], "sentences": ev["sentences"]}
    if "spans" in ev:
        flat.update({f"span {k}": ev["spans"][k] for k in ("precision", "recall", "f1")})
    view = []
    if "spans" in ev:
        types = [["type", "precision", "recall", "F1", "support"]]
        types += [[t, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"])]
                  for t, v in ev["spans"]["per_type"].items()]
        view.append(Section("Entity types (test)", table=types))
    view.append(Section("Commonest confusions (test)", table=[["gold", "predicted", "count"]] + [
        [c["gold"], c["predicted"], str(c["count"])] for c in ev["confusions"]]))
    wrong = [marked(s.tokens, s.tags, p) for s, p in zip(test, pred) if s.tags != p][:8]
    view.append(Section("Test sentences with errors", text=["errors are marked *token/PREDICTED(gold GOLD)*"], pre=wrong))
    return TaskReport(split, Section("Test metrics", table=key_values(flat)), view)
