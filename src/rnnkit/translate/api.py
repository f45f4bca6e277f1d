"""Translation from Python: train, load, translate, evaluate, plot attention.

>>> from rnnkit import translate
>>> cfg = translate.TranslateConfig()
>>> cfg.data.data, cfg.data.source_column, cfg.data.target_column = "spa-eng.txt", 2, 1
>>> cfg.train.max_time = 600
>>> translate.train(cfg, "runs/es-en")
>>> tr = translate.load("runs/es-en")                       # best checkpoint, on the CPU
>>> translate.translate(tr, ["¿Dónde está la biblioteca?"])[0][0].text
>>> translate.evaluate(tr, "test", "runs/es-en").bleu
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core import checkpoint, distributed, rundir, subsample
from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..core.fileio import read_json, save_figure, write_json
from ..core.rundir import LAST
from ..core import trainer
from ..core.trainer import Event, fit, resolve_device
from . import pairs as pairs_mod
from .batching import make_batch
from .codec import SIDES, Codec
from .decoding import EXTRA_TOKENS, Translation, checked_sentences, normalize, sorted_batches
from .metrics import quality
from .model import Seq2Seq
from .search import beam_search, greedy, length_caps
from ..core.tokenize import JOINER
from .task import (KIND, SearchConfig, TranslateConfig, TranslationTask, config_from_meta, encode_pairs, score_pairs,
                   training_pairs)

SPLIT_FILE = "split.json"
CODEC_FILE = "codec.json"


@dataclass
class TrainResult(trainer.TrainResult):
    pairs: int = 0  # training pairs kept after --max-length


@dataclass
class Translator:
    """A trained translator ready to use."""

    model: Seq2Seq
    codec: Codec
    config: TranslateConfig
    meta: dict
    device: torch.device
    source: Path  # the checkpoint file


@dataclass
class TranslationMetrics:
    bleu: float
    chrf: float
    loss: float  # cross-entropy per target token, teacher-forced
    accuracy: float  # per target token, teacher-forced
    sentences: int  # distinct source sentences translated
    signature: dict
    beam: int

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# -- training -----------------------------------------------------------------------------------
def train(config: TranslateConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> TrainResult:
    """Train a translator as ``config`` says, writing the run to ``out`` (see ``rnnkit.text.api.train``)."""
    out = Path(out)
    config = from_dict(TranslateConfig, dataclasses.asdict(config))  # re-validate fields set after construction
    device = distributed.setup(config.train, distributed.identity(config, out, resume))

    def prepare():  # rank 0 (the only process without torchrun)
        rundir.check_target(out, resume, overwrite)
        prepared = None if resume else _prepare(config, out)
        write_json(out / rundir.CONFIG_FILE, dataclasses.asdict(config))
        return prepared

    prepared = distributed.main_first(prepare)
    if prepared is None:  # resuming, or a rank other than 0: read what the run holds
        splits = {name: pairs_mod.read_split(out, name) for name in ("train", "val")}
        codec = _run_codec(out)
        split = read_json(out / SPLIT_FILE)
        train_pairs = training_pairs(codec, splits["train"], config.data.max_length)
    else:
        splits, codec, split, train_pairs = prepared
    torch.manual_seed(config.train.seed)  # fixes initialization and dropout
    model = Seq2Seq(config.model, len(codec.source_vocab), len(codec.target_vocab))
    val = [p for p in encode_pairs(codec, splits["val"]) if len(p[0]) and len(p[1])]
    task = TranslationTask(model, codec, train_pairs, val, config, split, device)
    result = fit(task, config.train, out, device, resume_from=out / LAST if resume else None, on_event=on_event,
                 stop_after=stop_after)
    st = result.state
    return TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens,
                       len(train_pairs))


def _prepare(config: TranslateConfig, out: Path):
    """A new run: read and split the pairs, fit the tokenizers, write them to ``out``;
    returns ``(splits, codec, split summary, encoded training pairs)``."""
    with rundir.preparing(out) as tmp:
        every = pairs_mod.read_pairs(config.data)
        split_seed = config.train.seed if config.data.split_seed is None else config.data.split_seed
        splits = pairs_mod.split_pairs(every, config.data.val_fraction, config.data.test_fraction, split_seed)
        whole_train = len(splits["train"])  # --data-fraction: a seeded share of the training pairs only
        splits["train"] = [splits["train"][i] for i in
                           subsample.subset(whole_train, config.train.data_fraction, config.train.seed)]
        codec = Codec.fit(config.tokenizer, [p.source for p in splits["train"]], [p.target for p in splits["train"]],
                          config.train.seed)
        train_pairs = training_pairs(codec, splits["train"], config.data.max_length)
        split = {**pairs_mod.split_summary(config.data, splits, split_seed), "trained_pairs": len(train_pairs),
                 "data_fraction": {"fraction": config.train.data_fraction, "whole_train_pairs": whole_train}}
        pairs_mod.write_splits(tmp, splits)
        write_json(tmp / SPLIT_FILE, split)
        codec_meta, codec_tensors = codec.to_meta()
        write_json(tmp / CODEC_FILE, codec_meta)
        for name, blob in codec_tensors.items():  # SentencePiece models, readable by spm tools
            (tmp / f"{name.split('/')[1]}.model").write_bytes(blob.numpy().tobytes())
    return splits, codec, split, train_pairs


def _run_codec(run: Path) -> Codec:
    """The tokenizers and vocabularies a run stored when it was prepared (``codec.json``, ``*.model``)."""
    blobs = {f"tokenizer/{side}": torch.frombuffer(bytearray((run / f"{side}.model").read_bytes()), dtype=torch.uint8)
             for side in SIDES if (run / f"{side}.model").is_file()}
    return Codec.from_meta(read_json(run / CODEC_FILE), blobs)


# -- using a trained model ------------------------------------------------------------------------
def load(path: str | Path, device: str = "cpu", which: str = "best") -> Translator:
    """Load a run directory's ``best`` (or ``last``) checkpoint, or a checkpoint file, onto ``device``."""
    ckpt = rundir.checkpoint_path(Path(path), which)
    tensors, meta = checkpoint.load(ckpt)
    cfg = config_from_meta(meta)
    codec = Codec.from_meta(meta["codec"], tensors)
    model = Seq2Seq(cfg.model, len(codec.source_vocab), len(codec.target_vocab))
    checkpoint.load_weights(model, tensors, ckpt)
    dev = resolve_device(device)
    return Translator(model.to(dev).eval(), codec, cfg, meta, dev, ckpt)


def _normalize(tr: Translator, text: str) -> str:
    return normalize(text, tr.config.data.lowercase)


def translate(tr: Translator, sentences: list[str], search: SearchConfig | None = None,
              attention: bool = False) -> list[list[Translation]]:
    """The ``search.n_best`` best translations of each sentence (default: the run's search settings).

    ``attention=True`` (greedy decoding only) also returns each translation's attention matrix.
    """
    search = search or tr.config.search
    if attention and search.beam != 1:
        raise RnnkitError("the attention plot shows greedy decoding; pass --beam 1 with --attention-plot")
    texts = checked_sentences(sentences, tr.config.data.lowercase)
    encoded = [tr.codec.encode("source", s) for s in texts]
    out: list[list[Translation]] = [[] for _ in texts]
    for idx in sorted_batches(len(encoded), np.array([len(e) for e in encoded]), search.batch_size):
        batch = make_batch([encoded[i] for i in idx], [np.zeros(0, dtype=np.int64)] * len(idx))
        source, lengths = batch.source.to(tr.device), batch.lengths
        caps = length_caps(lengths, search.max_ratio, EXTRA_TOKENS, search.max_output)
        if search.beam == 1:
            hyps = [[h] for h in greedy(tr.model, source, lengths, caps, attention=attention)]
        else:
            hyps = beam_search(tr.model, source, lengths, caps, search.beam, search.length_penalty, search.n_best)
        for i, hs in zip(idx, hyps):
            out[i] = [Translation(tr.codec.decode_target(h.tokens), h.score, tr.codec.target_vocab.decode(h.tokens),
                                  h.attention) for h in hs]
    return out


def evaluate(tr: Translator, split: str = "test", run_dir: str | Path | None = None,
             search: SearchConfig | None = None) -> TranslationMetrics:
    """BLEU and chrF against all references of each source, plus teacher-forced loss and accuracy."""
    if split not in pairs_mod.SPLITS:
        raise RnnkitError(f"unknown split {split!r}; choose one of {', '.join(pairs_mod.SPLITS)}")
    if run_dir is None:
        raise RnnkitError("evaluate needs the run directory that holds the split's sentence pairs")
    search = search or tr.config.search
    if not (Path(run_dir) / pairs_mod.PAIRS_DIR).is_dir():
        raise RnnkitError(f"evaluate needs the run directory that holds the split's sentence pairs ({pairs_mod.PAIRS_DIR}/); "
                          f"{run_dir} has none: pass the run directory, not a checkpoint copied out of it")
    pairs = pairs_mod.read_split(Path(run_dir), split)
    groups = pairs_mod.references(pairs)
    hyps = translate(tr, [src for src, _ in groups], dataclasses.replace(search, n_best=1))
    q = quality([h[0].text for h in hyps], [refs for _, refs in groups])
    encoded = [p for p in encode_pairs(tr.codec, pairs) if len(p[0]) and len(p[1])]
    loss, accuracy, _ = score_pairs(tr.model, encoded, tr.device)
    return TranslationMetrics(q.bleu, q.chrf, loss, accuracy, len(groups), q.signature, search.beam)


NO_ATTENTION = "this translator was trained with --attention none, so it has no attention to plot"


def plot_attention(tr: Translator, sentence: str, path: str | Path) -> Translation:
    """Translate ``sentence`` greedily and draw its attention matrix to ``path`` (PNG)."""
    if tr.model.attention is None:
        raise RnnkitError(NO_ATTENTION)
    result = translate(tr, [sentence], dataclasses.replace(tr.config.search, beam=1, n_best=1), attention=True)[0][0]
    draw_attention(tr.codec.pieces("source", _normalize(tr, sentence)), result, path)
    return result


def draw_attention(source: list[str], result: Translation, path: str | Path) -> None:
    """Draw ``result.attention`` (a greedy translation's) over the ``source`` pieces to ``path`` (PNG)."""
    if result.attention is None:
        raise RnnkitError(NO_ATTENTION)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def label(piece: str) -> str:  # the word tokenizer's joiner marks are for detokenizing, not for reading
        return piece.replace(JOINER, "") or piece

    source = [label(p) for p in source] + ["</s>"]
    target = [label(p) for p in result.tokens] + ["</s>"]
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(source) + 2), max(3, 0.4 * len(target) + 2)))
    ax.imshow(result.attention, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    save_figure(fig, Path(path), dpi=120)


def report_view(tr: Translator, run_dir: str | Path):
    """This run's part of ``rnnkit report``: the split, test metrics, a few test translations and
    an attention map (see ``rnnkit.report.sections.TaskReport``)."""
    from ..report.sections import Section, TaskReport, drawn_image, key_values, unavailable

    run_dir = Path(run_dir)
    saved = read_json(run_dir / SPLIT_FILE)
    rows = [["part", "sentence pairs", "distinct sources"]]
    rows += [[name, f"{part['pairs']:,}", f"{part['groups']:,}"] for name, part in saved["splits"].items()]
    split = Section("Data split", text=[f"{saved['data']['path']}; pairs with the same source sentence stay in one "
                                        f"part; {saved.get('trained_pairs', 0):,} training pairs kept after "
                                        f"--max-length."], table=rows)
    m = evaluate(tr, "test", run_dir)
    test = Section("Test metrics", text=[f"BLEU {m.signature['bleu']}", f"chrF {m.signature['chrf']}"],
                   table=key_values({k: v for k, v in m.to_json().items() if k != "signature"}))
    groups = pairs_mod.references(pairs_mod.read_split(run_dir, "test"))[:5]
    hyps = translate(tr, [src for src, _ in groups], dataclasses.replace(tr.config.search, n_best=1))
    table = [["source", "reference", "translation"]]
    table += [[src, " | ".join(refs), h[0].text] for (src, refs), h in zip(groups, hyps)]
    view = [Section("Test translations", text=[f"The first {len(groups)} test sources (beam {tr.config.search.beam})."],
                    table=table)]
    if not groups:
        view.append(unavailable("Attention", "the test split is empty"))
    elif tr.model.attention is None:
        view.append(unavailable("Attention", "this translator was trained with --attention none"))
    else:
        image = drawn_image(lambda p: plot_attention(tr, groups[0][0], p),
                            f"attention of the greedy translation of {groups[0][0]!r}")
        view.append(Section("Attention", images=[image]))
    return TaskReport(split, test, view)


__all__ = ["KIND", "SearchConfig", "TranslateConfig", "TrainResult", "Translation", "TranslationMetrics", "Translator",
           "evaluate", "load", "plot_attention", "train", "translate"]
