"""The sequence classifier through its Python API: what it learns (a label at the end, a label
that needs both ends, numeric series), no leakage (vocabulary, scaler, split), exact resume and
the scores against a hand computation. The command line is in test_classify_cli.py."""

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnkit.classify import api
from rnnkit.classify.examples import Examples
from rnnkit.classify.task import ClassifyConfig
from rnnkit.core import checkpoint
from rnnkit.core.config import from_dict

WORDS = [f"w{i}" for i in range(12)]
TINY = {"hidden_size": 16, "embedding_size": 16}


def text_file(path, n, label_of, seed=0, lo=3, hi=16, extra=lambda i: []):
    """CSV rows ``END1 w.. w.. END2`` (ENDs ``a``/``b``, 3-15 random words between), labelled
    ``label_of(END1, END2)``; ``extra(i)`` adds tokens after the first end of row ``i``."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(n):
            a, b = rng.choice(["a", "b"], 2)
            w.writerow([" ".join([a, *extra(i), *rng.choice(WORDS, rng.integers(lo, hi)), b]), label_of(a, b)])
    return path


def series(label, rng):
    """``(T, 2)``: channel 0 rises, falls or oscillates (equal means: the order of the steps decides)."""
    T = int(rng.integers(15, 30))
    t = np.linspace(0, 1, T)
    shape = {"up": t - 0.5, "down": 0.5 - t, "wave": 0.5 * np.sin(6 * np.pi * t)}[label]
    return np.stack([shape + rng.normal(0, 0.1, T) + rng.normal(0, 0.3), rng.normal(5, 2, T)], 1)


def ts_file(path, n, seed=0, scale_lines=(), frames=None):
    """A UEA .ts file of ``n`` examples of :func:`series`; the frames of the 0-based example numbers in
    ``scale_lines`` are multiplied by 1e6. ``frames`` (a list) collects the written frames."""
    rng = np.random.default_rng(seed)
    rows = ["@problemName ramps", "@timeStamps false", "@univariate false", "@classLabel true up down wave", "@data"]
    for i in range(n):
        label = ["up", "down", "wave"][i % 3]
        x = series(label, rng) * (1e6 if i in scale_lines else 1)
        if frames is not None:
            frames.append(x)
        rows.append(":".join(",".join(f"{v:.6g}" for v in x[:, c]) for c in range(2)) + f":{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def config(data, model=None, units=None, **train) -> ClassifyConfig:
    given = {"data": data if isinstance(data, dict) else {"data": str(data)},
             "units": units or {}, "model": {**TINY, **(model or {})},
             "train": {"max_time": None, "steps": 1, "eval_every": 100, **train}}
    return from_dict(ClassifyConfig, given)


def split_of(run):
    return json.loads((run / "split.json").read_text())


def val_accuracy(run):
    return api.evaluate(api.load(run), "val", run).accuracy


# -- the model -------------------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_sequence_alone_and_in_a_padded_batch_gets_the_same_logits(pooling, bidirectional):
    from rnnkit.classify.model import ClassifierConfig, build
    from rnnkit.classify.task import pad

    torch.manual_seed(0)
    model = build(ClassifierConfig(hidden_size=8, embedding_size=8, pooling=pooling, bidirectional=bidirectional),
                  3, vocab_size=20).eval()
    short, long = np.array([5, 3, 9], np.int64), np.arange(2, 19, dtype=np.int64)
    with torch.no_grad():
        alone = model(*pad([short]))  # (1, 3)
        batch = model(*pad([long, short]))  # (2, 3): the short one padded with 14 zeros
        numeric = build(ClassifierConfig(hidden_size=8, embedding_size=8, pooling=pooling, front="conv"), 3, channels=2)
        frames = [torch.randn(4, 2).numpy(), torch.randn(11, 2).numpy()]
        numeric_alone, numeric_batch = numeric.eval()(*pad(frames[:1])), numeric(*pad(frames))
    assert batch.shape == (2, 3)
    torch.testing.assert_close(alone[0], batch[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(numeric_alone[0], numeric_batch[0], atol=1e-5, rtol=1e-5)


# -- what it learns --------------------------------------------------------------------------------
def test_a_forward_model_reading_to_the_end_learns_a_label_at_the_end(tmp_path):
    """The label is the last token, after 3-15 random ones: the forward state after the last true step
    (not after the padding of a batch of longer texts) must carry it."""
    data = text_file(tmp_path / "last.csv", 240, lambda a, b: b)
    cfg = config(data, {"bidirectional": False, "pooling": "last", "dropout": 0.0}, {"min_freq": 1},
                 steps=30, eval_every=30, lr=1e-2)
    api.train(cfg, tmp_path / "run")
    assert val_accuracy(tmp_path / "run") >= 0.95


def test_the_bidirectional_default_learns_a_label_that_needs_both_ends(tmp_path):
    """The label says whether the first and the last token are equal: neither end alone beats chance."""
    data = text_file(tmp_path / "both.csv", 400, lambda a, b: "same" if a == b else "diff")
    cfg = config(data, {"dropout": 0.0}, {"min_freq": 1}, steps=60, eval_every=60, lr=1e-2)
    assert cfg.model.bidirectional
    api.train(cfg, tmp_path / "run")
    assert val_accuracy(tmp_path / "run") >= 0.85  # chance: about 0.5


def test_numeric_series_are_learned_from_a_ts_file(tmp_path):
    data = ts_file(tmp_path / "ramps.ts", 240)
    api.train(config(data, {"dropout": 0.0, "pooling": "last"}, steps=40, eval_every=40, lr=1e-2), tmp_path / "run")
    clf = api.load(tmp_path / "run")
    assert clf.kind == "numeric" and clf.labels == ["down", "up", "wave"]
    assert val_accuracy(tmp_path / "run") >= 0.85  # chance: 1/3


def test_an_ensemble_averages_its_members_probabilities_and_trains_each_on_its_own_loss():
    from rnnkit.classify.model import ClassifierConfig, Ensemble, build
    from rnnkit.classify.task import ClassifyTask, pad

    torch.manual_seed(0)
    model = build(ClassifierConfig(hidden_size=8, embedding_size=8, dropout=0.0, members=3), 4, vocab_size=20)
    assert isinstance(model, Ensemble) and len(model.members) == 3
    a, b = (m.head.weight for m in model.members[:2])
    assert not torch.equal(a, b)  # each member initialized on its own
    x, lengths = pad([np.array([5, 3, 9]), np.arange(2, 12)])
    each = torch.stack([m(x, lengths) for m in model.members])  # (3, 2, 4)
    torch.testing.assert_close(model(x, lengths).softmax(-1), each.softmax(-1).mean(0))
    assert model(x, lengths, members=True).shape == (3, 2, 4)
    inputs, labels = [np.array([5, 3, 9]), np.arange(2, 12)], np.array([1, 3])
    cfg = from_dict(ClassifyConfig, {"train": {"word_dropout": 0.0, "class_weight": "none"}})
    task = ClassifyTask(model, inputs, labels, (inputs, labels), cfg, {}, {}, torch.device("cpu"))
    loss, _, count = task.loss((0, np.array([0, 1])), None)
    loss.backward()
    member = model.members[1]
    alone = torch.nn.functional.cross_entropy(member(x, lengths), torch.tensor(labels))
    want = torch.autograd.grad(alone, member.head.weight)[0]  # member 1's own loss alone
    torch.testing.assert_close(member.head.weight.grad, want)
    with torch.no_grad():
        each_loss = [float(torch.nn.functional.cross_entropy(m(x, lengths), torch.tensor(labels))) for m in model.members]
    assert count == 2 and float(loss.detach()) == pytest.approx(sum(each_loss), rel=1e-5)


def test_an_ensemble_run_trains_loads_and_predicts_as_one_model(tmp_path):
    data = ts_file(tmp_path / "ramps.ts", 240)
    cfg = config(data, {"dropout": 0.0, "pooling": "last", "members": 2}, steps=40, eval_every=40, lr=1e-2)
    api.train(cfg, tmp_path / "run")
    clf = api.load(tmp_path / "run")
    assert len(clf.model.members) == 2
    assert val_accuracy(tmp_path / "run") >= 0.85  # chance: 1/3


# -- no leakage ------------------------------------------------------------------------------------
def _vocabulary(run) -> set[str]:
    meta = checkpoint.load(run / "last.safetensors")[1]
    return set(meta["units"]["vocabulary"]["pieces"])


def test_the_carved_split_builds_the_vocabulary_from_training_rows_only(tmp_path):
    """Every row holds its own token (``u<row>``, twice): with --min-freq 1 the vocabulary is exactly
    the training rows' tokens, and not one of a validation or test row's own tokens."""
    data = text_file(tmp_path / "d.csv", 60, lambda a, b: b, extra=lambda i: [f"u{i}", f"u{i}"])
    api.train(config(data, units={"min_freq": 1}), tmp_path / "run")
    rows = list(csv.DictReader(open(data)))
    parts = split_of(tmp_path / "run")["parts"]
    tokens = {p: {t for r, q in zip(rows, parts) if q == p for t in r["text"].split()} for p in ("train", "val", "test")}
    assert len(tokens["val"] - tokens["train"]) >= 6 and len(tokens["test"] - tokens["train"]) >= 6
    assert _vocabulary(tmp_path / "run") == tokens["train"] | {"<pad>", "<unk>", "<bos>", "<eos>"}


@pytest.mark.parametrize("level", ["word", "char"])
def test_given_validation_and_test_files_add_nothing_to_the_vocabulary(tmp_path, level):
    data = text_file(tmp_path / "train.csv", 30, lambda a, b: b)
    val = text_file(tmp_path / "val.csv", 6, lambda a, b: b, extra=lambda i: ["valonly", "zzz"])
    test = text_file(tmp_path / "test.csv", 6, lambda a, b: b, extra=lambda i: ["testonly", "qqq"])
    api.train(config({"data": str(data), "validation": str(val), "test": str(test)},
                     units={"min_freq": 1, "level": level}), tmp_path / "run")
    assert set(split_of(tmp_path / "run")["parts"]) == {"train", "val", "test"}
    vocab = _vocabulary(tmp_path / "run")
    held_out = {"valonly", "zzz", "testonly", "qqq"} if level == "word" else set("vlonyzqst")
    assert "w1" in vocab or "w" in vocab  # (training units are there)
    assert not vocab & held_out


@pytest.mark.parametrize("given_files", [False, True])
def test_the_scaler_holds_the_training_parts_statistics_whatever_the_held_out_values(tmp_path, given_files):
    """Multiply every validation and test series by 1e6: the saved mean and std do not move, and they
    are those of the training series."""
    def train(name, poison):
        d = tmp_path / name
        d.mkdir()
        frames = []
        if given_files:
            files = {"data": ts_file(d / "r.ts", 30, frames=frames)}
            for i, option in enumerate(("validation", "test"), 1):
                files[option] = ts_file(d / f"{option}.ts", 9, seed=i, scale_lines=range(9) if poison else ())
            held = []
        else:
            held = [i for i, p in enumerate(split_of(tmp_path / "clean" / "run")["parts"]) if p != "train"] if poison else []
            files = {"data": ts_file(d / "r.ts", 60, scale_lines=held, frames=frames)}
        api.train(config({k: str(v) for k, v in files.items()}), d / "run")
        return d / "run", frames

    (clean, frames), (poisoned, _) = train("clean", False), train("poisoned", True)
    parts = split_of(clean)["parts"]
    assert split_of(poisoned)["parts"] == parts and {"val", "test"} <= set(parts)
    scalers = [checkpoint.load(run / "last.safetensors")[1]["scaler"] for run in (clean, poisoned)]
    assert scalers[0] == scalers[1]
    train_frames = np.concatenate([f for f, p in zip(frames, parts) if p == "train"])
    written = np.array([[float(f"{v:.6g}") for v in row] for row in train_frames])  # as the file holds them
    np.testing.assert_allclose(scalers[0]["mean"], written.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scalers[0]["std"], written.std(0), rtol=1e-6)


def test_the_split_is_seeded_and_each_example_sits_in_one_part(tmp_path):
    data = text_file(tmp_path / "d.csv", 100, lambda a, b: b)
    for name, split_seed in (("a", 3), ("b", 3), ("c", 4)):
        api.train(config({"data": str(data), "split_seed": split_seed}), tmp_path / name)
    a, b, c = (split_of(tmp_path / n) for n in "abc")
    assert a["parts"] == b["parts"] and a["parts"] != c["parts"]
    assert len(set(a["ids"])) == len(a["ids"]) == 100  # one part per example, every row once
    assert [a["parts"].count(p) for p in ("train", "val", "test")] == [80, 10, 10]


def test_a_grouped_split_keeps_every_group_on_one_side(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "g.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label", "user"])
        for i in range(120):
            w.writerow([f"r{i}", " ".join(rng.choice(WORDS, 4)), "xy"[i % 2], f"user{rng.integers(20)}"])
    api.train(config({"data": str(data), "id_column": "id", "group_column": "user"}), tmp_path / "run")
    saved = split_of(tmp_path / "run")
    user = {r["id"]: r["user"] for r in csv.DictReader(open(data))}
    sides = {}
    for i, p in zip(saved["ids"], saved["parts"]):
        sides.setdefault(user[i], set()).add(p)
    assert all(len(s) == 1 for s in sides.values()), {g: s for g, s in sides.items() if len(s) > 1}
    assert {p for s in sides.values() for p in s} == {"train", "val", "test"}


# -- exact resume ----------------------------------------------------------------------------------
def _train_losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["kind"] == "train"]


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    data = text_file(tmp_path / "d.csv", 120, lambda a, b: b)
    # dropout: the RNG state is restored too; 6 steps an epoch: the cut falls in the second epoch
    cfg = config(data, {"dropout": 0.3}, steps=10, eval_every=4, log_every=2, batch_size=16, word_dropout=0.2)
    api.train(cfg, tmp_path / "full")
    api.train(cfg, tmp_path / "cut", stop_after=9)  # "killed" at step 9, last checkpoint at 8
    assert [s for s, _ in _train_losses(tmp_path / "cut")] == [2, 4, 6, 8]
    assert api.train(cfg, tmp_path / "cut", resume=True).steps == 10
    full = _train_losses(tmp_path / "full")
    assert [s for s, _ in full] == [2, 4, 6, 8, 10] and _train_losses(tmp_path / "cut") == full
    a, b = (checkpoint.load(tmp_path / run / "last.safetensors")[0] for run in ("full", "cut"))
    keys = sorted(k for k in a if k.startswith("model/"))
    assert keys and keys == sorted(k for k in b if k.startswith("model/"))
    for k in keys:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    cfg.train.seed, cfg.train.steps = 1, 4  # another seed trains differently: the comparison can fail
    api.train(cfg, tmp_path / "other")
    assert _train_losses(tmp_path / "other") != full[:2]


def test_word_dropout_reads_units_as_unknown_at_its_rate_seeded_by_epoch_and_example():
    from rnnkit.classify.task import ClassifyTask
    from rnnkit.core.pieces import UNK

    inputs = [np.arange(2, 402, dtype=np.int64) for _ in range(50)]
    cfg = from_dict(ClassifyConfig, {"train": {"word_dropout": 0.25}})
    task = ClassifyTask(SimpleNamespace(n_classes=2), inputs, np.zeros(50, np.int64), ([], np.zeros(0)), cfg, {}, {}, torch.device("cpu"))
    idx = np.arange(50)
    first, again, later = task.dropped(0, idx), task.dropped(0, idx), task.dropped(1, idx)
    rate = np.mean(np.concatenate(first) == UNK)
    assert 0.23 < rate < 0.27
    assert all((a == b).all() for a, b in zip(first, again)) and not all((a == b).all() for a, b in zip(first, later))
    assert all(((d == x) | (d == UNK)).all() for d, x in zip(first, inputs))  # nothing else changes
    assert (inputs[0] == np.arange(2, 402)).all()  # the training examples stay as they were
    cfg.train.word_dropout = 0.0
    assert task.dropped(0, idx)[0] is inputs[0]


def test_select_error_keeps_the_checkpoint_of_best_validation_accuracy(tmp_path):
    data = text_file(tmp_path / "last.csv", 240, lambda a, b: b)
    cfg = config(data, {"bidirectional": False, "pooling": "last", "dropout": 0.0}, {"min_freq": 1},
                 steps=30, eval_every=10, lr=1e-2, select="error")
    result = api.train(cfg, tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in rows if r["kind"] == "val"]
    assert len(vals) == 3 and result.best_val == min(vals)
    best = api.evaluate(api.load(tmp_path / "run"), "val", tmp_path / "run")  # the best checkpoint's
    assert 0 < result.best_val - (1 - best.accuracy) == pytest.approx(1e-6 * best.loss, rel=1e-3)  # ties: lower loss
    assert result.best_val - (1 - best.accuracy) < 1 / 48  # never more than one validation example's worth


# -- scores ----------------------------------------------------------------------------------------
def test_scores_match_a_hand_computation():
    clf = SimpleNamespace(labels=["a", "b", "c"])
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[.7, .2, .1], [.3, .6, .1], [.1, .8, .1], [.2, .5, .3], [.5, .1, .4], [.1, .1, .8]])
    ev = api.score(clf, "test", probs, y)  # predicted: a b b b a c
    assert ev.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert ev.accuracy == pytest.approx(4 / 6) and ev.examples == 6
    # a: precision 1/2, recall 1/2; b: 2/3, 1; c: 1, 1/2
    f1 = {"a": 0.5, "b": 2 * (2 / 3) / (2 / 3 + 1), "c": 2 * 0.5 / 1.5}
    for label, (p, r) in {"a": (0.5, 0.5), "b": (2 / 3, 1.0), "c": (1.0, 0.5)}.items():
        assert ev.per_class[label] == pytest.approx({"precision": p, "recall": r, "f1": f1[label], "support": 2})
    assert ev.macro_f1 == pytest.approx(sum(f1.values()) / 3)
    assert ev.loss == pytest.approx(-np.log([.7, .3, .8, .5, .4, .8]).mean())


def test_the_most_confident_errors_come_first():
    clf = SimpleNamespace(labels=["neg", "pos"])
    examples = Examples("text", ["fine", "awful", "meh", "great"], None, ["r1", "r2", "r3", "r4"], None, [])
    probs = np.array([[.9, .1], [.4, .6], [.2, .8], [.3, .7]])
    rows = api.confident_errors(clf, examples, probs, np.array([1, 0, 0, 1]))
    assert rows[1:] == [["r1", "fine", "pos", "neg", "0.900"], ["r3", "meh", "neg", "pos", "0.800"],
                        ["r2", "awful", "neg", "pos", "0.600"]]


def test_a_run_saved_before_select_and_word_dropout_resumes_as_it_trained(tmp_path):
    """Runs written before --select and --word-dropout kept the lowest validation loss without word dropout:
    a resume (and a load) reads them so, not with today's defaults."""
    from rnnkit import tasks

    data = text_file(tmp_path / "d.csv", 60, lambda a, b: b)
    api.train(config(data, steps=2, eval_every=2), tmp_path / "old")
    saved = json.loads((tmp_path / "old" / "config.json").read_text())
    for name in ("select", "word_dropout"):
        del saved["train"][name]
    (tmp_path / "old" / "config.json").write_text(json.dumps(saved))
    cfg = tasks.resume_config(tasks.TASKS["classify"], tmp_path / "old", {})
    assert (cfg.train.select, cfg.train.word_dropout) == ("loss", 0.0)
    assert ClassifyConfig().train.select == "error"  # today's default differs: the upgrade decides


def test_a_run_saved_before_members_and_the_mix_loads_and_resumes_as_one_unmixed_classifier(tmp_path):
    """Runs written before --members and --mix-with were one classifier with nothing mixed in: today's defaults
    (an ensemble of three, the TF-IDF mix) must not change how they load or resume."""
    from rnnkit import tasks
    from rnnkit.classify.model import SequenceClassifier

    data = text_file(tmp_path / "d.csv", 60, lambda a, b: b)
    api.train(config(data, {"members": 1}, steps=2, eval_every=2), tmp_path / "old")
    saved = json.loads((tmp_path / "old" / "config.json").read_text())
    del saved["model"]["members"], saved["mix"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(saved))
    for name in ("best", "last"):
        tensors, meta = checkpoint.load(tmp_path / "old" / f"{name}.safetensors")
        meta.pop("mix", None)
        checkpoint.save(tmp_path / "old" / f"{name}.safetensors", {k: v for k, v in tensors.items()
                                                                   if not k.startswith("mix/")}, {**meta, "config": saved})
    cfg = tasks.resume_config(tasks.TASKS["classify"], tmp_path / "old", {})
    assert (cfg.model.members, cfg.mix.mix_with) == (1, "none")
    assert (ClassifyConfig().model.members, ClassifyConfig().mix.mix_with) == (3, "tfidf")  # the upgrade decides
    clf = api.load(tmp_path / "old")
    assert isinstance(clf.model, SequenceClassifier) and clf.mix is None
