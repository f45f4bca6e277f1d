"""Reading, cleaning, vocabularies, encoding and the contiguous split."""

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest

import rnnkit
from rnnkit.core import checkpoint
from rnnkit.text import textdata
from rnnkit.core.errors import RnnkitError
from rnnkit.text.ngram import NGramModel
from rnnkit.text.textdata import DataConfig, read_chunks
from rnnkit.text.vocab import UNK, Vocab, join_words, split_words

from conftest import TINY_TEXT, needs_shared, run_cli


def seed_clean(path):
    """The seed article's preprocessing, verbatim in spirit (bytes, strip, lower, ascii-ignore)."""
    lines = []
    for line in open(path, "rb"):
        line = line.strip().lower().decode("ascii", "ignore")
        if len(line) == 0:
            continue
        lines.append(line)
    return " ".join(lines)


def test_seed_cleaning_matches_the_article(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("  Hello World\r\n\n“Quoted” Text  \n\u00e9\n  last LINE\n", encoding="utf-8")
    assert "".join(read_chunks(p, "utf-8", "seed")) == seed_clean(p) == "hello world quoted text last line"


def test_alice_seed_cleaning_matches_the_article():
    p = needs_shared("alice.txt")
    assert "".join(read_chunks(p, "utf-8", "seed")) == seed_clean(p)


def test_no_cleaning_by_default_keeps_text(tmp_path):
    text = "Ünïcode Line\n\nSecond line\n"
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    assert "".join(read_chunks(p, "utf-8", DataConfig().text_clean)) == text


def test_char_vocab_is_sorted_and_split_is_contiguous(tmp_path):
    text = "".join(chr(97 + (i * 7) % 26) for i in range(1000))
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    corpus = textdata.prepare(DataConfig(data=str(p)), tmp_path / "run")
    assert corpus.vocab.tokens == sorted(set(text[:800])) + [UNK]  # the training part's characters, then <unk>
    assert corpus.split == {"train": (0, 800), "val": (800, 900), "test": (900, 1000)}
    assert corpus.vocab.decode(corpus.part("test")) == text[900:]  # test = the last 10%
    assert corpus.vocab.decode(corpus.part("train")) == text[:800]
    saved = json.loads((tmp_path / "run" / "split.json").read_text())
    assert saved["splits"]["test"] == [900, 1000]
    assert json.loads((tmp_path / "run" / "vocab.json").read_text())["tokens"] == corpus.vocab.tokens
    assert isinstance(corpus.tokens, np.memmap) and corpus.tokens.dtype == np.uint16


def test_same_text_same_ids(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("zebra apple mango " * 20, encoding="utf-8")
    a = textdata.prepare(DataConfig(data=str(p)), tmp_path / "a")
    b = textdata.prepare(DataConfig(data=str(p)), tmp_path / "b")
    assert a.vocab.tokens == b.vocab.tokens
    assert np.array_equal(np.asarray(a.tokens), np.asarray(b.tokens))


def test_large_text_streams_through_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(textdata, "CHUNK_CHARS", 1000)  # force many chunks
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefgh \n"), size=50_000))
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    corpus = textdata.prepare(DataConfig(data=str(p)), tmp_path / "run")
    assert corpus.vocab.decode(np.asarray(corpus.tokens)) == text


def test_word_level(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("The cat sat.\nThe dog, too.\n" * 50, encoding="utf-8")
    corpus = textdata.prepare(DataConfig(data=str(p), level="word"), tmp_path / "run")
    assert corpus.vocab.tokens == [UNK] + sorted(set(split_words("The cat sat.\nThe dog, too.\n")))
    assert join_words(split_words("The cat sat.\nThe dog, too.")) == "The cat sat.\nThe dog, too."
    assert sum(corpus.chars.values()) == len(p.read_text())
    limited = textdata.prepare(DataConfig(data=str(p), level="word", max_vocab=4), tmp_path / "run2")
    assert limited.vocab.tokens[0] == UNK and len(limited.vocab) == 4


# -- the vocabulary comes from the training split alone ----------------------------------------
def _three_parts(tmp_path, train: str, val: str, test: str, level: str = "char"):
    """A file whose 80/10/10 split is exactly ``train``, ``val``, ``test`` (in tokens of ``level``)."""
    p = tmp_path / "parts.txt"
    p.write_text(train + val + test, encoding="utf-8")
    sizes = [len(t) if level == "char" else len(split_words(t)) for t in (train, val, test)]
    assert sizes[0] == 8 * sizes[1] == 8 * sizes[2], sizes
    return p


def test_test_only_characters_get_no_id_of_their_own(tmp_path):
    train = "abcab cabba " * 20  # 240 characters
    p = _three_parts(tmp_path, train, "abcQQ" * 6, "abZ#Q" * 6)  # Q: val only; Z, #: test only
    corpus = textdata.prepare(DataConfig(data=str(p)), tmp_path / "run")
    assert corpus.vocab.tokens == [" ", "a", "b", "c", UNK]
    unk = corpus.vocab.index[UNK]
    assert corpus.vocab.decode(corpus.part("test")) == "ab<unk><unk><unk>" * 6
    assert int((np.asarray(corpus.part("val")) == unk).sum()) == 12
    assert int((np.asarray(corpus.part("train")) == unk).sum()) == 0
    saved = Vocab.from_json(json.loads((tmp_path / "run" / "vocab.json").read_text()))
    assert saved.tokens == corpus.vocab.tokens and not saved.unk_seen  # a prime with Z stays an error
    with pytest.raises(RnnkitError, match="'Z', which is not in the model's vocabulary"):
        saved.encode("abZ", "the prime text")


def test_max_vocab_keeps_the_words_frequent_in_training_not_in_test(tmp_path):
    train = "the cat sat on a mat and a dog sat on the " * 8  # 96 words: 'a' 'on' 'sat' 'the' 16 each, the rest 8
    test = "zebra zebra zebra zebra zebra zebra zebra zebra zebra zebra mat log"  # 12 words
    p = _three_parts(tmp_path, train, "the cat sat on a mat and a dog sat on the ", test, level="word")
    corpus = textdata.prepare(DataConfig(data=str(p), level="word", max_vocab=5), tmp_path / "run")
    # the 4 most frequent training words; counted over the whole file, 'zebra' (10) would displace 'the'
    assert corpus.vocab.tokens == [UNK, "a", "on", "sat", "the"] and corpus.vocab.unk_seen
    assert corpus.vocab.decode(corpus.part("test")).split() == [UNK] * 12
    every = textdata.prepare(DataConfig(data=str(p), level="word"), tmp_path / "all")
    assert "zebra" not in every.vocab.index and "log" not in every.vocab.index
    assert not every.vocab.unk_seen  # no cut: <unk> stands only for words training never had
    assert every.vocab.decode(every.part("test")).split() == [UNK] * 10 + ["mat", UNK]


def test_training_vocabulary_stops_inside_a_chunk(tmp_path, monkeypatch):
    """The training part ends inside a chunk of the reader: its vocabulary stops at that token."""
    monkeypatch.setattr(textdata, "CHUNK_CHARS", 7)
    p = _three_parts(tmp_path, "abca\n" * 47 + "abcab", "QQ\n" * 10, "Z#\n" * 10)  # line 'abcabQQ' straddles
    assert textdata.prepare(DataConfig(data=str(p)), tmp_path / "c").vocab.tokens == ["\n", "a", "b", "c", UNK]
    p = _three_parts(tmp_path, "one two three\n" * 9 + "one two three four", " five five five five\n", "zz zz zz zz\n",
                     level="word")
    words = textdata.prepare(DataConfig(data=str(p), level="word"), tmp_path / "w")
    assert words.vocab.tokens == [UNK, "\n", "four", "one", "three", "two"]


def test_vocab_json_roundtrip_and_unknown_characters():
    v = Vocab.from_chars("hello world")
    assert Vocab.from_json(json.loads(json.dumps(v.to_json()))).tokens == v.tokens
    with pytest.raises(RnnkitError, match="not in the model's vocabulary"):
        v.encode("hello!", "the prime text")


@pytest.mark.parametrize(
    "content,match",
    [
        (None, "not found"),
        ("dir", "is a directory"),
        (b"", "is empty"),
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"caf\xe9 au lait " * 10, "not valid utf-8"),
        (b"\n\n  \n", "no text left"),
    ],
)
def test_bad_data_files(tmp_path, content, match):
    p = tmp_path / "data.txt"
    if content == "dir":
        p.mkdir()
    elif content is not None:
        p.write_bytes(content)
    clean = "seed" if content == b"\n\n  \n" else "none"
    with pytest.raises(RnnkitError, match=match):
        textdata.prepare(DataConfig(data=str(p), text_clean=clean), tmp_path / "run")
    assert not (tmp_path / "run" / "tokens.bin").exists()


def test_encoding_option(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes(b"caf\xe9 au lait " * 10)
    corpus = textdata.prepare(DataConfig(data=str(p), encoding="latin-1"), tmp_path / "run")
    assert "é" in corpus.vocab.tokens


@pytest.mark.parametrize("kw,match", [({"text_clean": "extreme"}, "--text-clean"), ({"level": "byte"}, "--level"),
                                      ({"encoding": "nope-8"}, "--encoding"), ({"val_fraction": 0.0}, "--val-fraction"),
                                      ({"val_fraction": 0.5, "test_fraction": 0.5}, "--val-fraction")])
def test_bad_data_options(kw, match):
    with pytest.raises(RnnkitError, match=match):
        DataConfig(**kw)


def test_data_fraction_cuts_the_training_split_to_one_seeded_block(tmp_path, tiny_file):
    import rnnkit
    from conftest import tiny_config

    splits = {}
    for f in (1.0, 0.3):
        rnnkit.train(tiny_config(tiny_file, steps=1, data_fraction=f), tmp_path / f"run{f}")
        splits[f] = json.loads((tmp_path / f"run{f}" / "split.json").read_text())
    whole, part = splits[1.0]["splits"], splits[0.3]["splits"]
    assert part["val"] == whole["val"] and part["test"] == whole["test"]
    (a, b), (c, d) = whole["train"], part["train"]
    assert a <= c < d <= b and d - c == round(0.3 * (b - a))
    assert splits[0.3]["chars"]["train"] == d - c  # char level: bits/char of the block
    assert splits[0.3]["data_fraction"] == {"fraction": 0.3, "seed": 0, "whole_train": [a, b]}
    corpus = textdata.open_prepared(tmp_path / "run0.3", rnnkit.load(tmp_path / "run0.3").vocab)
    assert len(corpus.part("train")) == d - c  # what training and evaluation read


# -- runs saved before the vocabulary came from the training split alone --------------------------
OLD_TEXT = TINY_TEXT + "zebra quagga xylophone"  # the test part holds letters training never saw
HEAD_TEST_LOSS = {"char": 0.6554039219447545, "word": 0.2936071819729275}  # what rnnkit evaluate printed for these runs before the change


def _old_style_run(run, level: str) -> tuple[NGramModel, np.ndarray]:
    """A count-model run written as rnnkit wrote them before: the vocabulary of the whole file,
    saved in the old JSON form (a character vocabulary without <unk>; a word vocabulary with
    <unk> only because --max-vocab cut it, its words counted over every split)."""
    if level == "char":
        vocab_json = {"level": "char", "tokens": sorted(set(OLD_TEXT)), "unk": None}
        pieces = list(OLD_TEXT)
    else:
        pieces = split_words(OLD_TEXT)
        kept = sorted(Counter(pieces).items(), key=lambda kv: (-kv[1], kv[0]))[:11]
        vocab_json = {"level": "word", "tokens": [UNK] + sorted(w for w, _ in kept), "unk": UNK}
    index = {t: i for i, t in enumerate(vocab_json["tokens"])}
    tokens = np.array([index.get(t, 0) for t in pieces], np.uint16)  # <unk> is id 0 of a word vocabulary
    n = len(tokens)
    a, b = int(n * 0.8), int(n * 0.9)
    split = {"source": {"path": "gone.txt", "bytes": len(OLD_TEXT), "sha256": "0" * 64},
             "splits": {"train": [0, a], "val": [a, b], "test": [b, n]},
             "chars": {"train": a, "val": b - a, "test": n - b} if level == "char" else
                      {"train": 2000, "val": 250, "test": 250}, "dtype": "uint16"}
    cfg = rnnkit.LMConfig(model="ngram")
    cfg.data.data, cfg.data.level, cfg.ngram.order = "gone.txt", level, 3
    model = NGramModel.fit(cfg.ngram, tokens[:a], len(index))
    run.mkdir()
    tokens.tofile(run / "tokens.bin")
    for name, data in (("vocab.json", vocab_json), ("split.json", split), ("config.json", dataclasses.asdict(cfg))):
        (run / name).write_text(json.dumps(data), encoding="utf-8")
    meta = {"kind": "language-model", "config": dataclasses.asdict(cfg), "vocab": vocab_json, "split": split,
            "loop": {"step": 0, "elapsed": 0.0, "tokens": a}, "metrics": {"val_loss": 1.0, "best_val": 1.0}}
    for name in ("best.safetensors", "last.safetensors"):
        checkpoint.save(run / name, checkpoint.with_prefix("model", model.state_dict()), meta)
    return model, tokens[b:]


def _reference_loss(model: NGramModel, test: np.ndarray) -> float:
    """Mean -log p of every test token after the first, each from the tokens before it in the split."""
    N = model.cfg.order
    padded = np.concatenate([np.full(N - 1, -1), test.astype(np.int64)])
    contexts = np.lib.stride_tricks.sliding_window_view(padded, N - 1)[1 : len(test)]  # (M, N-1) before targets
    lp = model.log_probs(contexts)
    return float(-lp[np.arange(len(contexts)), test[1:]].mean())


@pytest.mark.parametrize("level", ["char", "word"])
def test_a_run_saved_with_a_whole_file_vocabulary_loads_and_scores_as_before(tmp_path, level):
    model, test = _old_style_run(tmp_path / "old", level)
    lm = rnnkit.load(tmp_path / "old")
    m = rnnkit.evaluate(lm, "test", tmp_path / "old")
    # the figure before the change; float32 sums differ in the 8th digit with the thread count (pytest -n: one)
    assert m.loss == pytest.approx(HEAD_TEST_LOSS[level], rel=1e-6)
    assert m.loss == pytest.approx(_reference_loss(model, test), rel=1e-6)  # float32 log-probabilities
    assert lm.vocab.tokens == json.loads((tmp_path / "old" / "vocab.json").read_text())["tokens"]
    unk = lm.vocab.index.get(UNK)
    assert m.unknown == (0 if unk is None else int((test[1:] == unk).sum()))
    if level == "char":
        assert m.unknown == 0 and "z" in lm.vocab.index  # the old vocabulary covered the test letters
    else:
        assert m.unknown > 0 and lm.vocab.unk_seen  # its <unk> was trained: a prime may still use it
    prime = "zebra " if level == "char" else "the zebra"
    assert rnnkit.sample(lm, rnnkit.SampleConfig(prime=prime, length=20))[0].startswith(prime.split()[0])
    e = run_cli("evaluate", tmp_path / "old", "--json")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["loss"] == pytest.approx(m.loss, rel=1e-12)
