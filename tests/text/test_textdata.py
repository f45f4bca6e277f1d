"""Reading, cleaning, vocabularies, encoding and the contiguous split."""

import json

import numpy as np
import pytest

from rnnkit.text import textdata
from rnnkit.core.errors import RnnkitError
from rnnkit.text.textdata import DataConfig, read_chunks
from rnnkit.text.vocab import UNK, Vocab, join_words, split_words

from conftest import needs_shared


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
    assert corpus.vocab.tokens == sorted(set(text))
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
    assert corpus.vocab.tokens == sorted(set(split_words("The cat sat.\nThe dog, too.\n")))
    assert join_words(split_words("The cat sat.\nThe dog, too.")) == "The cat sat.\nThe dog, too."
    assert sum(corpus.chars.values()) == len(p.read_text())
    limited = textdata.prepare(DataConfig(data=str(p), level="word", max_vocab=4), tmp_path / "run2")
    assert limited.vocab.tokens[0] == UNK and len(limited.vocab) == 4


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
