"""The tagger through its Python API: what it learns (a tag that needs the next word: the
bidirectional model passes, a forward one fails), no leakage (words, characters and tags from
the training sentences only), exact resume, the scores, and the command line's verbs and errors."""

import json
import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.core import checkpoint
from rnnkit.core.config import from_dict
from rnnkit.tag import api, metrics
from rnnkit.tag.baseline import MostFrequentTag, TokenClassifier
from rnnkit.tag.task import TagConfig

WORDS = list("abcdef")
TINY = {"word_size": 16, "hidden_size": 24, "layers": 1, "char_encoder": "none", "dropout": 0.0}


def conll(path, sentences):
    """Write ``[(tokens, tags)]`` as a CoNLL column file."""
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(ws, ts)) for ws, ts in sentences) + "\n")
    return path


def next_word_tags(n, seed=0):
    """Sentences of 4-11 random words, each tagged with the word after it (``END`` for the last)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ws = list(rng.choice(WORDS, rng.integers(4, 12)))
        out.append((ws, [f"N{w}" for w in ws[1:]] + ["END"]))
    return out


def config(data, model=None, **train) -> TagConfig:
    given = {"data": data if isinstance(data, dict) else {"data": str(data)}, "model": {**TINY, **(model or {})},
             "train": {"steps": 150, "max_time": None, "lr": 1e-2, "eval_every": 50, "batch_size": 32, **train}}
    return from_dict(TagConfig, given)


def accuracy(run, split="test"):
    return api.evaluate(api.load(run), split, run)["accuracy"]


@pytest.mark.parametrize("bidirectional", [True, False])
def test_a_tag_that_needs_the_next_word_is_learned_only_by_reading_both_ways(tmp_path, bidirectional):
    data = conll(tmp_path / "next.conll", next_word_tags(400))
    api.train(config(data, {"bidirectional": bidirectional}), tmp_path / "run")
    acc = accuracy(tmp_path / "run")
    assert acc > 0.95 if bidirectional else acc < 0.6  # forward: only END and chance (1/6) are reachable


def test_vocabulary_characters_and_tags_come_from_the_training_sentences_only(tmp_path):
    train = next_word_tags(60)
    held = [(["zzz", "Ωmega"], ["Nqq", "END"])]  # a word, a character and a tag seen only in validation/test
    cfg = config({"data": str(conll(tmp_path / "train.conll", train)),
                  "validation": str(conll(tmp_path / "val.conll", train[:5] + held)),
                  "test": str(conll(tmp_path / "test.conll", held))}, {"char_encoder": "lstm"}, steps=2)
    api.train(cfg, tmp_path / "run")
    tagger = api.load(tmp_path / "run")
    assert "zzz" not in tagger.encoder.words.index and "ωmega" not in tagger.encoder.words.index
    assert "Ω" not in tagger.encoder.chars.index and "Nqq" not in tagger.tags
    assert set(tagger.encoder.words.pieces[4:]) == set(WORDS)
    ev = api.evaluate(tagger, "test", tmp_path / "run")  # the unseen tag is scored, as an error
    assert ev["tokens"] == 2 and ev["accuracy"] <= 0.5


def test_the_carved_split_fits_the_vocabulary_on_the_training_part(tmp_path):
    sentences = [([f"w{i}", "a"], ["X", "Y"]) for i in range(50)]  # each w{i} in one sentence only
    api.train(config(conll(tmp_path / "all.conll", sentences), steps=1), tmp_path / "run")
    parts = json.loads((tmp_path / "run" / "split.json").read_text())["parts"]
    words = set(api.load(tmp_path / "run").encoder.words.pieces)
    for i, p in enumerate(parts):
        assert (f"w{i}" in words) == (p == "train"), (i, p)


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    data = conll(tmp_path / "d.conll", next_word_tags(120))
    cfg = config(data, {"char_encoder": "cnn", "dropout": 0.2}, steps=10, eval_every=4)
    api.train(cfg, tmp_path / "whole")
    api.train(cfg, tmp_path / "cut", stop_after=9)  # "killed" at step 9, last checkpoint at 8
    assert api.train(cfg, tmp_path / "cut", resume=True).steps == 10
    a, _ = checkpoint.load(tmp_path / "whole" / "last.safetensors")
    b, _ = checkpoint.load(tmp_path / "cut" / "last.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)


def test_entity_spans_are_scored_as_conlleval_counts_them():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG", "O"]]  # 1 of 3 gold spans right; 2 predicted
    ev = metrics.score(gold, pred, "iob2")
    assert ev["accuracy"] == pytest.approx(5 / 7)
    assert ev["spans"]["precision"] == pytest.approx(1 / 2) and ev["spans"]["recall"] == pytest.approx(1 / 3)
    assert ev["spans"]["per_type"]["PER"]["f1"] == 1.0 and ev["spans"]["per_type"]["LOC"]["support"] == 1
    assert ev["confusions"][0] == {"gold": "B-LOC", "predicted": "O", "count": 1}


def test_most_frequent_tag_baseline():
    base = MostFrequentTag([["The", "dog", "the"], ["dog"]], [["DET", "NOUN", "DET"], ["VERB"]], lowercase=True)
    assert base.predict([["THE", "dog", "cat"]]) == [["DET", "NOUN", "DET"]]  # dog: a tie, code-point order


def test_token_classifier_tags_unseen_names_from_spelling_and_neighbours():
    places, people = ["Rome", "Oslo", "Lima", "Kyiv"], ["Ann", "Bob", "Cid", "Dee"]
    tokens = [["we", "visit", p, "with", q, "today"] for p in places for q in people]
    tags = [["O", "O", "B-LOC", "O", "B-PER", "O"] for _ in tokens]
    base = TokenClassifier(tokens, tags)
    assert base.predict([["we", "visit", "Quito", "with", "Eve", "today"], []]) == [
        ["O", "O", "B-LOC", "O", "B-PER", "O"], []]  # neither name was seen in training


def rnnkit(capsys, *args):
    """The command line in this process: ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_trains_tags_and_evaluates_a_bio_file(tmp_path, capsys):
    rng = np.random.default_rng(1)
    sentences = []
    for _ in range(200):  # "visit X" marks a location, "meet Y" a person
        k = rng.integers(2)
        sentences.append(([["visit", "meet"][k], "Rome" if k == 0 else "Ann", "now"],
                          ["O", ["B-LOC", "B-PER"][k], "O"]))
    data = conll(tmp_path / "ner.conll", sentences)
    code, out, err = rnnkit(capsys, "train", "--task", "tag", "--data", data, "--out", tmp_path / "run", "--steps", "40",
                            "--lr", "0.01", "--word-size", "16", "--hidden-size", "16", "--layers", "1", "--char-size",
                            "8", "--char-hidden", "8")
    assert code == 0, err
    assert "tag scheme iob2" in out
    ev = json.loads(rnnkit(capsys, "evaluate", tmp_path / "run", "--split", "test", "--json")[1])
    assert ev["scheme"] == "iob2" and ev["spans"]["f1"] > 0.9
    tagged = json.loads(rnnkit(capsys, "tag", tmp_path / "run", "I will visit Rome now.", "--json")[1])
    assert tagged["tokens"] == ["I", "will", "visit", "Rome", "now", "."]
    assert {"type": "LOC", "start": 3, "end": 4, "text": "Rome"} in tagged["spans"]
    flag_first = rnnkit(capsys, "tag", tmp_path / "run", "--json", "I will visit Rome now.")[1]  # texts after a flag
    assert json.loads(flag_first) == tagged
    code, out, err = rnnkit(capsys, "diagnose", tmp_path / "run")
    assert code == 0 and "a per-token logistic regression (no RNN, no CRF)" in out, err
    code, _, err = rnnkit(capsys, "tag", tmp_path / "run", "--input", data, "--output", tmp_path / "tagged.conll")
    assert code == 0, err
    assert (tmp_path / "tagged.conll").read_text().splitlines()[:3] == (data.read_text().splitlines()[:3])


@pytest.mark.parametrize("lines, words", [
    ("a\tX\nb\tX\n", "1 tag(s)"),
    ("a\tO\nb\tI-PER\n\nc\tB-PER\nd\tO\n", "cannot follow"),
    ("a\tX\nb\tY\tZ\n", "columns"),
])
def test_bad_training_files_get_one_line_and_nothing_written(tmp_path, capsys, lines, words):
    data = tmp_path / "bad.conll"
    data.write_text(lines)
    code, _, err = rnnkit(capsys, "train", "--task", "tag", "--data", data, "--out", tmp_path / "run", "--scheme",
                          "iob2-strict" if "I-PER" in lines else "auto", "--steps", "1")
    assert code == 2 and err.startswith("rnnkit: error: ")
    assert err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "run").exists()


def test_a_run_refuses_to_read_a_data_file_that_changed_or_went_away(tmp_path):
    from rnnkit.core.errors import RnnkitError

    data = conll(tmp_path / "d.conll", next_word_tags(40))
    api.train(config(data, steps=1), tmp_path / "run")
    tagger = api.load(tmp_path / "run")
    data.write_text(data.read_text() + "\n")  # one byte more
    with pytest.raises(RnnkitError, match="has changed since training"):
        api.evaluate(tagger, "test", tmp_path / "run")
    data.unlink()
    with pytest.raises(RnnkitError, match="is not there; evaluation reads its sentences again"):
        api.evaluate(tagger, "test", tmp_path / "run")
