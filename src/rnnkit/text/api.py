"""rnnkit's Python API: train, load, sample, evaluate.

>>> import rnnkit
>>> cfg = rnnkit.LMConfig()                      # defaults; edit cfg.data.data, cfg.rnn.cell, ...
>>> cfg.train.max_time = 60
>>> result = rnnkit.train(cfg, "runs/docs")        # writes checkpoints, metrics and config
>>> lm = rnnkit.load("runs/docs")                   # best checkpoint, on the CPU
>>> print(rnnkit.sample(lm, rnnkit.SampleConfig(prime="The ", length=200))[0])
>>> rnnkit.evaluate(lm, "test", "runs/docs").loss   # nats per token on the test split
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core import checkpoint, distributed, rundir
from . import evaluation, infill, mixture, sampling, textdata, textstats
from ..core.config import from_dict
from ..core.fileio import read_json, write_json
from ..core.errors import RnnkitError
from .language_model import LMConfig, LMTask, build_model, check_corpus_fits, config_from_meta, model_meta
from .ngram import NGramModel
from .sampling import SampleConfig
from ..core.rundir import BEST, LAST
from ..core.tensorboard import TensorBoardLog
from ..core import trainer
from ..core.trainer import Event, FitResult, MetricsLog, fit, resolve_device
from .vocab import Vocab, default_prime

@dataclass
class TrainResult(trainer.TrainResult):
    mix: mixture.MixInfo | None = None  # the n-gram mixed into the best checkpoint (rnn models)
    mix_note: str = ""  # why no n-gram was mixed in, when one was asked for


@dataclass
class LoadedModel:
    """A trained model ready to sample or evaluate."""

    model: torch.nn.Module
    vocab: Vocab
    config: LMConfig
    meta: dict
    device: torch.device
    source: Path  # the checkpoint file


def resume_config(run_dir: Path, overrides: dict) -> LMConfig:
    """The saved config of ``run_dir`` with ``overrides`` applied: options equal to the saved ones
    and budget options may be given, any other change is an error (see ``rnnkit.tasks``)."""
    from .. import tasks  # the registry imports this module

    return tasks.resume_config(tasks.TASKS["lm"], Path(run_dir), overrides)


def train(config: LMConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> TrainResult:
    """Train a language model as ``config`` says, writing the run to ``out``.

    With ``resume=True`` the run in ``out`` continues from its last checkpoint (pass the
    config from :func:`resume_config`); ``overwrite=True`` replaces an existing run.
    """
    out = Path(out)
    config = from_dict(LMConfig, dataclasses.asdict(config))  # re-validate fields set after construction
    if config.model == "ngram" and distributed.launched():
        raise RnnkitError("an n-gram model is counted in one pass, not trained: start it without torchrun")
    device = distributed.setup(config.train, distributed.identity(config, out, resume))

    def prepare() -> textdata.Corpus:  # rank 0 (the only process without torchrun)
        rundir.check_target(out, resume, overwrite)
        if resume:
            vocab = Vocab.from_json(read_json(out / textdata.VOCAB_FILE))
            corpus = textdata.open_prepared(out, vocab)
            check_corpus_fits(corpus, config)
        else:
            with rundir.preparing(out) as tmp:
                corpus = textdata.prepare(config.data, tmp)
                corpus = textdata.keep_fraction(corpus, tmp, config.train.data_fraction, config.train.seed)
                check_corpus_fits(corpus, config)
            corpus = textdata.open_prepared(out, corpus.vocab)
        write_json(out / rundir.CONFIG_FILE, dataclasses.asdict(config))
        return corpus

    corpus = distributed.main_first(prepare)
    if corpus is None:  # the other ranks read the corpus rank 0 prepared
        corpus = textdata.open_prepared(out, Vocab.from_json(read_json(out / textdata.VOCAB_FILE)))
    if config.model == "ngram":
        return _count(config, corpus, out)
    torch.manual_seed(config.train.seed)  # fixes initialization and dropout
    model = build_model(config, len(corpus.vocab))
    task = LMTask(model, corpus, config, device)
    result: FitResult = fit(task, config.train, out, device, resume_from=out / LAST if resume else None,
                            on_event=on_event, stop_after=stop_after)
    st = result.state
    done = TrainResult(out, st.step, st.epoch, st.best_val, st.stopped, st.clipped, st.elapsed, st.tokens)
    if st.stopped and distributed.is_main():  # not for a run cut short (stop_after)
        done.mix, done.mix_note = _attach_mix(config, corpus, out, device)
        if config.train.tensorboard and config.train.objective != "infill":
            _board_sample(out, st.step)
    return done


def _board_sample(out: Path, step: int) -> None:
    """The finished run's sample (its own sampling settings) as text in its TensorBoard log."""
    lm = load(out)
    text = sample(lm, dataclasses.replace(lm.config.sample, num_samples=1))[0]
    board = TensorBoardLog(out)
    try:
        board.text("sample", "    " + text.replace("\n", "\n    "), step)  # indented: Markdown shows it verbatim
    finally:
        board.close()


def _attach_mix(config: LMConfig, corpus: textdata.Corpus, out: Path,
                device: torch.device) -> tuple[mixture.MixInfo | None, str]:
    """Fit the n-gram mix for the best checkpoint and store it there, replacing any earlier one
    (see ``mixture.py``); returns what was mixed in, or why nothing was."""
    m = config.mix
    ckpt = out / BEST
    tensors, meta = checkpoint.load(ckpt)
    n_train = len(corpus.part("train"))
    info, ngram, note = None, None, ""
    if not m.mix_order:
        pass
    elif config.train.objective == "infill":
        note = "no n-gram mix for the infill objective (an n-gram reads the left context only)"
    elif config.train.objective != "stream":
        note = "no n-gram mix for the window objective (its model reads fixed windows, not the stream)"
    elif n_train > m.mix_max_tokens:
        note = f"no n-gram mix: the training split has {n_train:,} tokens, more than --mix-max-tokens {m.mix_max_tokens:,}"
    else:
        rnn = _saved_model(config, len(corpus.vocab), tensors, ckpt).to(device).eval()
        info, ngram = mixture.fit(m, config.ngram.discount, rnn, corpus.part("train"), corpus.part("val"),
                                  len(corpus.vocab), device, config.train.val_tokens or None)
        if ngram is None:
            note = f"no n-gram mix: the {m.mix_order}-gram's fitted weight is {info.weight:.3f}, too small to matter"
    if ngram is None and "mix" not in meta:
        return None, note  # nothing to write
    tensors = {k: v for k, v in tensors.items() if not k.startswith("mix/")}  # a resumed run's earlier mix
    meta.pop("mix", None)
    if ngram is not None:
        meta["mix"] = dataclasses.asdict(info)
        tensors.update(checkpoint.with_prefix("mix", ngram.state_dict()))
    checkpoint.save(ckpt, tensors, meta)
    return (info if ngram is not None else None), note


def _count(config: LMConfig, corpus: textdata.Corpus, out: Path) -> TrainResult:
    """'Training' a count model: one pass of counting over the training split."""
    start = time.perf_counter()
    model = NGramModel.fit(config.ngram, corpus.part("train"), len(corpus.vocab))
    nll, _, count = evaluation.score(model, corpus.part("val"), "cpu", max_tokens=config.train.val_tokens or None)
    elapsed = time.perf_counter() - start
    val = nll / max(count, 1)
    meta = {**model_meta(config, corpus.vocab, corpus.split_json()),
            "loop": {"step": 0, "elapsed": elapsed, "tokens": len(corpus.part("train"))},
            "metrics": {"val_loss": val, "best_val": val}}
    tensors = checkpoint.with_prefix("model", model.state_dict())
    for name in (BEST, LAST):
        checkpoint.save(out / name, tensors, meta)
    log = MetricsLog(out / rundir.METRICS_FILE, keep_until=None,
                     mirror=TensorBoardLog(out) if config.train.tensorboard else None)
    log.write({"kind": "val", "step": 0, "epoch": 1, "val_loss": val, "best_val": val, "elapsed": elapsed,
               "tokens_per_s": len(corpus.part("train")) / max(elapsed, 1e-9)})
    log.close()
    if config.train.tensorboard:
        _board_sample(out, 0)
    return TrainResult(out, 0, 1, val, "counted", 0, elapsed, len(corpus.part("train")))


def load(path: str | Path, device: str = "cpu", which: str = "best", mix: bool = True) -> LoadedModel:
    """Load a run directory's ``best`` (or ``last``) checkpoint, or a checkpoint file, onto ``device``.

    A recurrent model whose checkpoint holds an n-gram mix comes back mixed with it, unless
    ``mix=False`` (the recurrent model alone).
    """
    ckpt = rundir.checkpoint_path(Path(path), which)
    tensors, meta = checkpoint.load(ckpt)
    cfg = config_from_meta(meta)
    vocab = Vocab.from_json(meta["vocab"])
    dev = resolve_device(device)
    model = _saved_model(cfg, len(vocab), tensors, ckpt)
    if mix and "mix" in meta:
        model = mixture.load(meta["mix"], checkpoint.section(tensors, "mix"), model, len(vocab))
    model.to(dev).eval()
    return LoadedModel(model, vocab, cfg, meta, dev, ckpt)


def _saved_model(cfg: LMConfig, vocab_size: int, tensors: dict[str, torch.Tensor], ckpt: Path):
    """The model of ``cfg`` with the ``model/`` weights of checkpoint ``ckpt`` (alone, unmixed)."""
    model = build_model(cfg, vocab_size)
    checkpoint.load_weights(model, tensors, ckpt)
    return model


def training_tokens(lm: LoadedModel) -> np.ndarray | None:
    """The training split of the run ``lm`` was loaded from, or None if that run is not at hand."""
    run = lm.source.parent
    return run_training_tokens(run, lm.vocab) if (run / textdata.TOKENS_FILE).is_file() else None


def run_training_tokens(run: str | Path, vocab: Vocab) -> np.ndarray:
    """The training split of the run directory ``run`` (sample statistics compare samples with it)."""
    if not (Path(run) / textdata.TOKENS_FILE).is_file():
        raise RnnkitError("sample statistics compare samples with the training text; pass the run directory, "
                          "not a checkpoint copied out of it")
    return textdata.open_prepared(Path(run), vocab).part("train")


def _generate(lm: LoadedModel, cfg: SampleConfig,
              on_token: Callable[[list[int]], None] | None = None) -> tuple[list[str], list[list[int]]]:
    """Texts (prime included) and the generated ids alone; ``on_token`` as in ``sampling.generate``."""
    if is_infill(lm):
        raise RnnkitError(f"{lm.source.parent} was trained with --objective infill: it fills a blank from both "
                          f"sides and does not generate text; use rnnkit fill RUN \"some ___ text\"")
    head: list[int] = []
    if cfg.prime:
        prime = head = lm.vocab.encode(cfg.prime, "the prime text")
    elif lm.config.window and (train := training_tokens(lm)) is not None:
        # Window models start from a random window of the training text, as the seed does.
        start = int(np.random.default_rng(cfg.seed).integers(len(train) - lm.config.window))
        prime = head = [int(t) for t in train[start : start + lm.config.window]]
    else:
        prime = default_prime(lm.vocab)
    outs = sampling.generate(lm.model, prime, cfg, lm.device, window=lm.config.window, unk=lm.vocab.unknown_id(),
                             on_token=on_token)
    return [lm.vocab.decode(head + ids) for ids in outs], outs


def sample(lm: LoadedModel, cfg: SampleConfig | None = None) -> list[str]:
    """Generate ``cfg.num_samples`` texts (default: the run's own sampling settings, ``config.sample``);
    each starts with the prime text, if one is given."""
    return _generate(lm, cfg or lm.config.sample)[0]


def sample_with_stats(lm: LoadedModel, cfg: SampleConfig | None = None) -> tuple[list[str], textstats.SampleStats]:
    """Samples plus how much of them is copied from the training text and how varied they are."""
    train = run_training_tokens(lm.source.parent, lm.vocab)
    texts, outs = _generate(lm, cfg or lm.config.sample)
    return texts, generated_stats(lm.vocab, train, outs)


def generated_stats(vocab: Vocab, train: np.ndarray, outs) -> textstats.SampleStats:
    """Memorization and diversity of generated ids ``outs`` (one list per sample, prime excluded)."""
    lengths = textstats.MEMO_LENGTHS if vocab.level == "char" else textstats.MEMO_WORDS
    return textstats.sample_stats(textstats.NGramIndex(train), [np.array(o) for o in outs],
                                  [vocab.decode(o) for o in outs], lengths)


def num_parameters(lm: LoadedModel) -> int:
    """Trainable weights of a recurrent model, stored n-gram entries of a count model (both, mixed)."""
    if isinstance(lm.model, NGramModel):
        return lm.model.num_parameters()
    entries = lm.model.ngram.num_parameters() if isinstance(lm.model, mixture.MixedModel) else 0
    return entries + sum(p.numel() for p in lm.model.parameters())


def evaluate(lm: LoadedModel, split: str = "test",
             run_dir: str | Path | None = None) -> evaluation.Metrics | infill.InfillMetrics:
    """Score ``lm`` on a split of the corpus it was trained on (read from its run directory).

    An infill model (``--objective infill``) is scored with the forward model trained beside it
    on the same targets (:class:`infill.InfillMetrics`).
    """
    if split not in textdata.SPLITS:
        raise RnnkitError(f"unknown split {split!r}; choose one of {', '.join(textdata.SPLITS)}")
    if run_dir is None:
        raise RnnkitError("evaluate needs the run directory that holds the encoded corpus")
    corpus = textdata.open_prepared(Path(run_dir), lm.vocab)
    tokens = corpus.part(split)
    if is_infill(lm):
        return infill.evaluate(lm.model, tokens, lm.config.train.seq_len + 1, lm.device, lm.vocab.unknown_id())
    nll, correct, count = evaluation.score(lm.model, tokens, lm.device, lm.config.window)
    chars = count if lm.vocab.level == "char" else corpus.chars[split]
    targets = tokens[lm.config.window or 1 :]  # every token after the first (the first `window`, for a window model)
    assert len(targets) == count, (len(targets), count)
    return evaluation.metrics(nll, correct, count, chars, evaluation.count_unknown(targets, lm.vocab.unknown_id()))


def is_infill(lm: LoadedModel) -> bool:
    return lm.config.train.objective == "infill"


def fill(lm: LoadedModel, text: str, top_k: int = 5) -> list[infill.Filler]:
    """The ``top_k`` most likely tokens for the blank ``___`` in ``text`` (one word or one
    character, as the run's level), best first, with their probabilities; an infill run only."""
    if not is_infill(lm):
        raise RnnkitError(f"{lm.source.parent} was trained with --objective {lm.config.train.objective}, which reads "
                          f"left to right only; rnnkit fill needs a run trained with --objective infill")
    return infill.fill(lm.model, lm.vocab, text, top_k, lm.config.train.seq_len, lm.device)


def report_view(lm: LoadedModel, run_dir: str | Path):
    """This run's part of ``rnnkit report``: the split, test metrics and samples with memorization
    statistics (see ``rnnkit.report.sections.TaskReport``)."""
    from ..report.sections import Section, TaskReport, key_values, unavailable

    run_dir = Path(run_dir)
    saved = read_json(run_dir / textdata.SPLIT_FILE)
    unit = "chars" if lm.vocab.level == "char" else "words"
    rows = [["part", "tokens", "characters"]]
    for name, (a, b) in saved["splits"].items():
        rows.append([name, f"{b - a:,}", f"{saved.get('chars', {}).get(name, b - a):,}"])
    split = Section("Data split", text=[f"{saved['source']['path']} ({lm.vocab.level} level, vocabulary of "
                                        f"{len(lm.vocab)}); contiguous parts: train, then validation, then test."],
                    table=rows)
    mixed = [f"Scored with the {lm.meta['mix']['order']}-gram mixed in after training (rnnkit evaluate --no-mix: "
             f"the recurrent model alone)."] if "mix" in lm.meta else []
    test = Section("Test metrics", text=mixed, table=key_values(evaluate(lm, "test", run_dir).to_json()))
    if is_infill(lm):
        return TaskReport(split, test, [unavailable("Samples", "an infill run fills blanks and does not generate "
                                                               "text (rnnkit fill)")])
    cfg = dataclasses.replace(lm.config.sample, length=300 if unit == "chars" else 60, num_samples=3, seed=0)
    texts, stats = sample_with_stats(lm, cfg)
    diversity = ", ".join(f"distinct-{k} {v:.2f}" for k, v in stats.distinct.items())
    view = Section("Samples", text=[f"{cfg.num_samples} samples at temperature {cfg.temperature:g} (seed 0); "
                                    f"diversity over words: {diversity}."],
                   table=[["piece length", "copied from the training text"]]
                   + [[f"{k} {unit}", f"{v:.0%}"] for k, v in stats.memorized.items()]
                   + [["longest verbatim copy", f"{stats.longest_copy} {unit}"]],
                   pre=texts)
    return TaskReport(split, test, [view])
