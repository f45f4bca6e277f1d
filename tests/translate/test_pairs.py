"""Reading sentence-pair files, their error messages, and the leak-free grouped split."""

import hashlib
import json
from pathlib import Path

import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.translate.pairs import (
    Pair,
    PairsConfig,
    group_key,
    read_pairs,
    read_split,
    references,
    split_pairs,
    split_summary,
    write_splits,
)

SPA_ENG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "spa-eng.txt"


def write(tmp_path: Path, data: bytes, **cfg) -> PairsConfig:
    p = tmp_path / "pairs.txt"
    p.write_bytes(data)
    return PairsConfig(data=str(p), **cfg)


def error(cfg: PairsConfig) -> str:
    with pytest.raises(RnnkitError) as e:
        read_pairs(cfg)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# -- parsing ---------------------------------------------------------------------------------
def test_crlf_bom_extra_columns_and_blank_lines(tmp_path):
    data = "\ufeffGo.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org\r\n\r\nRun!\t¡Corre!\r\n\n  \nHi.\tHola."
    data = data.encode()
    pairs = read_pairs(write(tmp_path, data))
    assert pairs == [Pair("Go.", "Ve.", 1), Pair("Run!", "¡Corre!", 3), Pair("Hi.", "Hola.", 6)]


def test_nfc_whitespace_and_columns_swapped(tmp_path):
    data = "  The   cafe\u0301 \t is\u00a0open  \tx\n".encode()
    (pair,) = read_pairs(write(tmp_path, data, source_column=2, target_column=1))
    assert pair == Pair("is open", "The café", 1)
    assert pair.target.endswith("\u00e9") and len(pair.target) == 8  # composed, not e + U+0301


def test_lowercase(tmp_path):
    data = "Tom IS Here.\tTOM ESTÁ AQUÍ.\n".encode()
    assert read_pairs(write(tmp_path, data))[0].source == "Tom IS Here."
    (pair,) = read_pairs(write(tmp_path, data, lowercase=True))
    assert (pair.source, pair.target) == ("tom is here.", "tom está aquí.")


def test_other_encodings(tmp_path):
    assert read_pairs(write(tmp_path, "Tea.\tTé.\n".encode("latin-1"), encoding="latin-1"))[0].target == "Té."
    pairs = read_pairs(write(tmp_path, "Tea.\tTé.\r\nNo.\tNo.\n".encode("utf-16"), encoding="utf-16"))
    assert pairs == [Pair("Tea.", "Té.", 1), Pair("No.", "No.", 2)]


# -- bad input -------------------------------------------------------------------------------
def test_line_with_too_few_columns_names_the_line(tmp_path):
    msg = error(write(tmp_path, b"a\tb\nc\td\ne f\ng\th\n"))
    assert "line 3 has 1 column" in msg and "--target-column 2" in msg and "tab" in msg


def test_column_out_of_range_for_the_whole_file(tmp_path):
    msg = error(write(tmp_path, b"a\tb\nc\td\n", source_column=3))
    assert msg.startswith("--source-column 3 is out of range: the file has 2 columns")
    msg = error(write(tmp_path, b"a\tb\nc\td\n", source_column=1, target_column=4))
    assert msg.startswith("--target-column 4 is out of range: the file has 2 columns")
    msg = error(write(tmp_path, b"a\tb\nc\n", source_column=3))
    assert msg.startswith("--source-column 3 is out of range: the file has at most 2 columns")


def test_column_present_on_some_lines_only(tmp_path):
    msg = error(write(tmp_path, b"a\tb\tc\nd\te\n", target_column=3))
    assert "line 2 has 2 columns" in msg and "--target-column 3" in msg and "out of range" not in msg


def test_empty_side(tmp_path):
    msg = error(write(tmp_path, b"a\tb\nc\t  \n"))
    assert "line 2" in msg and "empty target" in msg
    msg = error(write(tmp_path, b"a\tb\nc\td\n\tx\n"))
    assert "line 3" in msg and "empty source" in msg


def test_empty_blank_binary_and_missing_files(tmp_path):
    assert "is empty" in error(write(tmp_path, b""))
    assert "no sentence pairs" in error(write(tmp_path, b"\n  \r\n\n"))
    assert "binary file (it contains NUL bytes)" in error(write(tmp_path, b"a\tb\n\x00\x01\x02"))
    assert "not found" in error(PairsConfig(data=str(tmp_path / "nope.tsv")))
    assert "is a directory" in error(PairsConfig(data=str(tmp_path)))
    assert "--data" in error(PairsConfig())


def test_undecodable_text_says_pass_encoding(tmp_path):
    msg = error(write(tmp_path, "a\tb\nTea.\tTé.\n".encode("latin-1")))
    assert "line 2" in msg and "utf-8" in msg and "--encoding" in msg


@pytest.mark.parametrize(
    "kw, flag",
    [
        ({"source_column": 0}, "--source-column:"),
        ({"target_column": 1}, "--target-column:"),
        ({"encoding": "no-such-codec"}, "--encoding:"),
        ({"encoding": "rot13"}, "--encoding:"),
        ({"max_length": -1}, "--max-length:"),
        ({"val_fraction": 0.0}, "--val-fraction:"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "--val-fraction:"),
    ],
)
def test_config_validation(kw, flag):
    with pytest.raises(RnnkitError) as e:
        PairsConfig(**kw)
    assert str(e.value).startswith(flag)


# -- the split -------------------------------------------------------------------------------
def many_pairs(n_sources: int = 400) -> list[Pair]:
    """About 1000 pairs: each source 1-4 times, with varying case and spacing, in file order."""
    pairs, line = [], 0
    for i in range(n_sources):
        for k in range(1 + i % 4):
            line += 1
            source = f"Sentence  number {i}." if k % 2 else f"sentence number {i}."
            pairs.append(Pair(source.upper() if k == 2 else source, f"frase {i} versión {k}", line))
    return pairs


def test_group_key():
    assert group_key("  Café\tNOIR ") == group_key("cafe\u0301  noir") == "café noir"
    assert group_key("Straße") == group_key("STRASSE")


def test_split_is_grouped_complete_and_ordered():
    pairs = many_pairs()
    splits = split_pairs(pairs, 0.1, 0.1, seed=0)
    keys = {name: {group_key(p.source) for p in part} for name, part in splits.items()}
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    every = [p for part in splits.values() for p in part]
    assert sorted(every, key=lambda p: p.line) == pairs and len(set(every)) == len(pairs)
    for part in splits.values():
        assert [p.line for p in part] == sorted(p.line for p in part)
    n = len(pairs)
    assert n == 1000
    assert 0.1 * n <= len(splits["test"]) < 0.1 * n + 4 and 0.1 * n <= len(splits["val"]) < 0.1 * n + 4


def test_split_depends_on_the_seed_only():
    pairs = many_pairs()
    assert split_pairs(pairs, 0.1, 0.1, seed=3) == split_pairs(list(pairs), 0.1, 0.1, seed=3)
    assert split_pairs(pairs, 0.1, 0.1, seed=3)["test"] != split_pairs(pairs, 0.1, 0.1, seed=4)["test"]


def test_too_few_groups():
    pairs = [Pair("Hi.", f"Hola {i}.", i + 1) for i in range(5)] + [Pair("hi.", "Buenas.", 6), Pair("Go.", "Ve.", 7)]
    with pytest.raises(RnnkitError, match="7 pairs in 2 groups.*bigger file"):
        split_pairs(pairs, 0.1, 0.1, seed=0)
    three = split_pairs(pairs[:1] + pairs[6:] + [Pair("No.", "No.", 8)], 0.1, 0.1, seed=0)
    assert all(len(part) == 1 for part in three.values())


def test_references_keep_every_target():
    pairs = [Pair("Hi.", "Hola.", 1), Pair("Go.", "Ve.", 2), Pair("Hi.", "Buenas.", 3), Pair("Go.", "Vete.", 4)]
    assert references(pairs) == [("Hi.", ["Hola.", "Buenas."]), ("Go.", ["Ve.", "Vete."])]


# -- the run directory -----------------------------------------------------------------------
def test_write_and_read_splits(tmp_path):
    splits = split_pairs(many_pairs(), 0.1, 0.1, seed=1)
    write_splits(tmp_path / "run", splits)
    for name, part in splits.items():
        assert read_split(tmp_path / "run", name) == part
    assert sorted(p.name for p in (tmp_path / "run" / "pairs").iterdir()) == ["test.tsv", "train.tsv", "val.tsv"]


def test_damaged_split_files(tmp_path):
    with pytest.raises(RnnkitError, match="unknown split 'dev'"):
        read_split(tmp_path, "dev")
    with pytest.raises(RnnkitError, match="damaged"):
        read_split(tmp_path, "test")
    (tmp_path / "pairs").mkdir()
    for bad in ("2\tGo.", "2\t\tVe.", "x\tGo.\tVe."):
        (tmp_path / "pairs" / "test.tsv").write_text(f"1\tHi.\tHola.\n{bad}\n", encoding="utf-8")
        with pytest.raises(RnnkitError, match="line 2.*damaged"):
            read_split(tmp_path, "test")


def test_split_summary(tmp_path):
    cfg = write(tmp_path, "".join(f"s {i}\tt {i}\n" for i in range(30)).encode(), source_column=1)
    splits = split_pairs(read_pairs(cfg), 0.2, 0.1, seed=5)
    summary = json.loads(json.dumps(split_summary(cfg, splits, seed=5)))
    raw = Path(cfg.data).read_bytes()
    assert summary["data"]["sha256"] == hashlib.sha256(raw).hexdigest() and summary["data"]["bytes"] == len(raw)
    assert summary["seed"] == 5 and (summary["source_column"], summary["target_column"]) == (1, 2)
    assert {k: v["pairs"] for k, v in summary["splits"].items()} == {"train": 21, "val": 6, "test": 3}
    assert summary["splits"]["val"]["groups"] == 6


def test_real_spanish_english_file():
    if not SPA_ENG.is_file():
        pytest.skip(f"{SPA_ENG} is absent (the shared data folder only exists beside the project checkout)")
    pairs = read_pairs(PairsConfig(data=str(SPA_ENG), source_column=2, target_column=1))
    assert len(pairs) == 118964
    splits = split_pairs(pairs, 0.1, 0.1, seed=0)
    assert sum(len(part) for part in splits.values()) == len(pairs)
    keys = {name: {group_key(p.source) for p in part} for name, part in splits.items()}
    assert not keys["test"] & (keys["train"] | keys["val"]) and not keys["val"] & keys["train"]
    assert 0.09 < len(splits["test"]) / len(pairs) < 0.11
