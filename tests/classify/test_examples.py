"""Reading classification examples: every format from small generated files, the bad inputs,
and the shared SST-2, TREC and JapaneseVowels files (skipped when ../shared/data is absent)."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import needs_shared

from rnnkit.classify.examples import FORMATS, DataConfig, check_labels, detect_format, read_examples
from rnnkit.core.errors import RnnkitError


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def read(path, labelled=True, **cfg):
    return read_examples(path, DataConfig(**cfg), labelled=labelled)


def error(path, match, labelled=True, **cfg):
    with pytest.raises(RnnkitError, match=match) as e:
        read(path, labelled, **cfg)
    assert "\n" not in str(e.value)  # the CLI prints it on one line
    return str(e.value)


# -- CSV / TSV ---------------------------------------------------------------------------------
def test_csv_columns_by_name_and_ids_on_the_right_lines(tmp_path):
    p = write(tmp_path, "r.csv", 'id,text,label\n\na1,"good, really",pos\na2,"two\nlines",neg\n\na3,bad,neg\n')
    ex = read(p)
    assert ex.kind == "text" and ex.channels == [] and ex.groups is None
    assert ex.inputs == ["good, really", "two\nlines", "bad"]
    assert ex.labels == ["pos", "neg", "neg"]
    assert ex.ids == ["r.csv:3", "r.csv:4", "r.csv:7"]  # the quoted line break counts; blank lines are skipped
    assert read(p, id_column="id").ids == ["a1", "a2", "a3"]


def test_csv_columns_by_index_and_a_sniffed_semicolon(tmp_path):
    p = write(tmp_path, "r.csv", '\nlabel;review\n1;fine film\n0;"dull; long"\n')
    ex = read(p, text_column="1", label_column="0")
    assert ex.inputs == ["fine film", "dull; long"]
    assert ex.labels == ["1", "0"] and ex.ids == ["r.csv:3", "r.csv:4"]


def test_tsv_keeps_commas_in_the_text(tmp_path):
    p = write(tmp_path, "r.tsv", "text\tlabel\tuser\nyes, sir\tpos\tu1\nno\tneg\tu2\n")
    ex = read(p, group_column="user")
    assert ex.inputs == ["yes, sir", "no"] and ex.labels == ["pos", "neg"] and ex.groups == ["u1", "u2"]


def test_labels_stay_strings_and_an_unlabelled_file_reads(tmp_path):
    p = write(tmp_path, "r.csv", "text,label\na,NA\nb,007\n")
    assert read(p).labels == ["NA", "007"]  # never a missing value or a number
    q = write(tmp_path, "q.csv", "text\nonly text\n")
    ex = read(q, labelled=False)
    assert ex.inputs == ["only text"] and ex.labels is None


def test_a_missing_column_names_the_columns_found(tmp_path):
    p = write(tmp_path, "r.csv", "review,stars\ngood,5\n")
    msg = error(p, "no column 'text' for --text-column")
    assert "'review', 'stars'" in msg
    error(p, "no column 'label' for --label-column; its columns are 'review', 'stars'", text_column="review")


def test_a_csv_whose_delimiter_cannot_be_found(tmp_path):
    p = write(tmp_path, "r.csv", "text:label\ngood:pos\n")
    error(p, r"r.csv: the delimiter cannot be found: the header 'text:label' has no ',', ';', tab or '\|'; "
             r"separate the columns with commas")
    error(write(tmp_path, "r.tsv", "text,label\ngood,pos\n"), "has no tab; separate the columns with tabs, or pass "
                                                                "--format csv")


def test_bad_csv_rows_are_one_line_errors(tmp_path):
    error(write(tmp_path, "extra.csv", "text,label\nok,1\nbad,1,2\n"), "Expected 2 fields in line 3.*quote")
    error(write(tmp_path, "first.csv", "text,label\nbad,1,2\nok,1\n"), "not valid CSV .*header.*quote")
    error(write(tmp_path, "quote.csv", 'text,label\n"never closed,1\n'), "not valid CSV.*close every quote")
    error(write(tmp_path, "header.csv", "text,label\n\n"), "header but no rows")


def test_an_empty_text_or_label_names_its_line(tmp_path):
    error(write(tmp_path, "t.csv", "text,label\nfine,1\n  ,0\n"), r"t.csv line 3 has no text \(column 'text'\)")
    error(write(tmp_path, "l.csv", "text,label\nfine,1\n\nok,\n"), "l.csv line 4 has no label")


def test_ids_must_be_unique(tmp_path):
    p = write(tmp_path, "r.csv", "id,text,label\nx,a,1\ny,b,0\nx,c,1\n")
    error(p, "the id 'x' is on lines 2 and 4", id_column="id")


# -- JSON Lines --------------------------------------------------------------------------------
def test_jsonl_reads_objects_and_names_bad_lines(tmp_path):
    rows = [{"text": "good", "label": 1, "extra": [1]}, {"label": 0, "text": "bad \u00e9"}]
    p = write(tmp_path, "r.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    ex = read(p)
    assert ex.inputs == ["good", "bad \u00e9"] and ex.labels == ["1", "0"] and ex.ids == ["r.jsonl:1", "r.jsonl:2"]
    bad = write(tmp_path, "b.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label}\n')
    error(bad, "b.jsonl line 2 is not valid JSON")
    error(write(tmp_path, "l.jsonl", '{"text": "a", "label": 1}\n["b", 0]\n'), "line 2 is a JSON list, not an object")
    error(write(tmp_path, "m.jsonl", '{"text": "a", "label": 1}\n\n{"label": 0}\n'), "m.jsonl line 3 has no text")


# -- fastText and label-first lines -------------------------------------------------------------
def test_fasttext_lines(tmp_path):
    p = write(tmp_path, "reviews.txt", "__label__pos  great  film\n\n__label__neg\tawful\n")
    assert detect_format(p) == "fasttext"
    ex = read(p)
    assert ex.inputs == ["great  film", "awful"] and ex.labels == ["pos", "neg"]
    assert ex.ids == ["reviews.txt:1", "reviews.txt:3"]


def test_fasttext_multi_label_and_missing_labels_are_errors(tmp_path):
    error(write(tmp_path, "m.txt", "__label__a __label__b text\n"), "line 1 has several __label__ labels")
    error(write(tmp_path, "e.txt", "__label__a text\n__label__ text\n"), "line 2: __label__ has no label")
    mixed = write(tmp_path, "x.txt", "__label__a text\nno label here\n")
    error(mixed, "line 2 has no __label__ label; every line needs one")
    error(mixed, "line 2 has no __label__ label; label every line or none", labelled=False)
    plain = write(tmp_path, "p.txt", "no label\nnor here\n")
    ex = read(plain, labelled=False, format="fasttext")
    assert ex.labels is None and ex.inputs == ["no label", "nor here"]


def test_label_first_lines(tmp_path):
    p = write(tmp_path, "stsa.binary.train", "1 a fine film .\n\n0  dull\t.\n")
    ex = read(p, format="label-first")
    assert ex.inputs == ["a fine film .", "dull\t."] and ex.labels == ["1", "0"]
    assert ex.ids == ["stsa.binary.train:1", "stsa.binary.train:3"]
    unlabelled = read(p, labelled=False, format="label-first")
    assert unlabelled.labels is None and unlabelled.inputs == ["1 a fine film .", "0  dull\t."]
    error(write(tmp_path, "e.txt", "1 fine\n0\n"), "e.txt line 2 has an empty text", format="label-first")


def test_label_first_is_not_guessed_and_the_error_lists_the_formats(tmp_path):
    p = write(tmp_path, "stsa.binary.dev", "1 good\n0 bad\n")
    with pytest.raises(RnnkitError, match="pass --format, one of csv, tsv, .*long-csv.*--format label-first"):
        detect_format(p)
    assert FORMATS == ("csv", "tsv", "jsonl", "fasttext", "label-first", "ts", "long-csv")
    assert [detect_format(tmp_path / f"x.{e}") for e in ("csv", "TSV", "jsonl", "ndjson", "ts")] == \
        ["csv", "tsv", "jsonl", "jsonl", "ts"]
    assert detect_format(p, "label-first") == "label-first"


def test_columns_a_line_format_cannot_have(tmp_path):
    p = write(tmp_path, "r.txt", "__label__a text\n")
    error(p, "--group-column needs a file with columns", group_column="user")


# -- the file itself ------------------------------------------------------------------------------
def test_non_utf8_names_the_file_and_latin1(tmp_path):
    p = write(tmp_path, "trec.txt", "0 What is a caf\u00e9 ?\n", encoding="latin-1")
    error(p, r"trec.txt line 1 is not valid utf-8 text .*--encoding latin-1", format="label-first")
    assert read(p, format="label-first", encoding="latin-1").inputs == ["What is a caf\u00e9 ?"]


def test_empty_missing_binary_files_and_folders(tmp_path):
    error(write(tmp_path, "e.csv", ""), "e.csv is empty")
    error(write(tmp_path, "w.csv", " \n\n"), "w.csv is empty")
    error(tmp_path / "none.csv", "not found")
    error(tmp_path, "is a directory")
    (tmp_path / "b.csv").write_bytes(b"text,label\n\x00\x01,1\n")
    error(tmp_path / "b.csv", "binary file")


def test_config_checks_its_options():
    with pytest.raises(RnnkitError, match="--format: unknown value 'xml'"):
        DataConfig(format="xml")
    with pytest.raises(RnnkitError, match="--val-fraction"):
        DataConfig(val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(RnnkitError, match="--encoding: unknown encoding"):
        DataConfig(encoding="klingon")


def test_check_labels_names_the_unseen_ones():
    check_labels(["a", "b", "c"], ["b", "a"], "the test file")
    with pytest.raises(RnnkitError, match=r"the test file has labels never seen in training: 'd', 'e'; .*cannot be "
                                          r"scored"):
        check_labels(["a", "b"], ["a", "e", "d", "e"], "the test file")
    with pytest.raises(RnnkitError, match="'u0', 'u1', 'u2', 'u3', 'u4' and 2 more"):
        check_labels(["a"], [f"u{i}" for i in range(7)], "validation")


# -- UEA/UCR .ts -------------------------------------------------------------------------------
TS_HEAD = "# a comment\n@problemName Tiny\n@timeStamps false\n@univariate false\n@classLabel true up down\n@data\n"


def test_ts_reads_channels_lengths_and_missing_values(tmp_path):
    p = write(tmp_path, "tiny.ts", TS_HEAD + "1,2,3:4,?,6:up\n\n0.5,0.25:1e3,-2:down\n")
    ex = read(p)
    assert ex.kind == "numeric" and ex.channels == ["dim_0", "dim_1"] and ex.labels == ["up", "down"]
    assert ex.ids == ["tiny.ts:7", "tiny.ts:9"]
    assert ex.inputs[0].dtype == np.float32 and ex.inputs[0].shape == (3, 2) and ex.inputs[1].shape == (2, 2)
    np.testing.assert_array_equal(ex.inputs[0], [[1, 4], [2, np.nan], [3, 6]])
    np.testing.assert_array_equal(ex.inputs[1], [[0.5, 1000], [0.25, -2]])


def test_ts_bad_lines(tmp_path):
    error(write(tmp_path, "m.ts", TS_HEAD + "1,2:3,4:up\n1,x:3,4:down\n"), "m.ts line 8: channel 0 .*not comma")
    error(write(tmp_path, "c.ts", TS_HEAD + "1,2:3,4:up\n1,2:down\n"), "c.ts line 8 has 1 channels but line 7 has 2")
    error(write(tmp_path, "l.ts", TS_HEAD + "1,2:3:up\n"), "l.ts line 7: its channels have different lengths")
    error(write(tmp_path, "u.ts", TS_HEAD + "1,2:3,4:left\n"), "u.ts line 7: the label 'left' is not among")
    error(write(tmp_path, "t.ts", TS_HEAD.replace("false", "true", 1) + "1:up\n"), "@timeStamps true .* not supported")
    error(write(tmp_path, "n.ts", "@problemName x\n1,2:up\n"), "n.ts line 2 comes before the @data line")
    error(write(tmp_path, "d.ts", "@problemName x\n@classLabel true a\n"), "no @data line")
    error(write(tmp_path, "k.ts", "@problemName x\n@data\n1,2\n"), "no @classLabel line")


def test_ts_without_labels(tmp_path):
    p = write(tmp_path, "p.ts", "@classLabel false\n@data\n1,2:3,4\n")
    ex = read(p, labelled=False)
    assert ex.labels is None and ex.inputs[0].shape == (2, 2)
    error(p, r"has no labels \(@classLabel false\)")
    assert read(write(tmp_path, "q.ts", TS_HEAD + "1:up\n"), labelled=False).labels == ["up"]


# -- long CSV ------------------------------------------------------------------------------------
LONG = "sid,t,x,note,y,label,user\n" \
       "b,2,20,hi,0.2,dn,u2\n" \
       "a,1,1,hi,,up,u1\n" \
       "b,1,10,hi,0.1,dn,u2\n" \
       "a,0,0,hi,5,up,u1\n"


def test_long_csv_groups_rows_by_id_in_time_order(tmp_path):
    p = write(tmp_path, "long.csv", LONG)
    ex = read(p, id_column="sid", time_column="t", group_column="user")  # auto: no 'text' column
    assert ex.kind == "numeric" and ex.ids == ["b", "a"] and ex.labels == ["dn", "up"] and ex.groups == ["u2", "u1"]
    assert ex.channels == ["x", "y"]  # not the id, time, label, group or the text column 'note'
    np.testing.assert_array_equal(ex.inputs[0], np.float32([[10, 0.1], [20, 0.2]]))
    np.testing.assert_array_equal(ex.inputs[1], [[0, 5], [1, np.nan]])
    assert ex.inputs[0].dtype == np.float32


def test_long_csv_without_time_keeps_file_order_and_takes_named_features(tmp_path):
    p = write(tmp_path, "long.csv", LONG)
    ex = read(p, format="long-csv", id_column="0", feature_columns="y, x")
    assert ex.channels == ["y", "x"]
    np.testing.assert_array_equal(ex.inputs[0], np.float32([[0.2, 20], [0.1, 10]]))


def test_long_csv_orders_by_dates(tmp_path):
    p = write(tmp_path, "d.csv", "id,when,v,label\nk,2024-01-03,3,a\nk,2023-12-31,1,a\nj,2024-01-01,7,b\n")
    ex = read(p, id_column="id", time_column="when")
    np.testing.assert_array_equal(ex.inputs[0][:, 0], [1, 3])


def test_long_csv_errors(tmp_path):
    p = write(tmp_path, "long.csv", LONG.replace("a,0,0,hi,5,up", "a,0,0,hi,5,dn"))
    error(p, "sequence 'a' has the label 'up' on line 3 and 'dn' on line 5", id_column="sid")
    q = write(tmp_path, "g.csv", LONG.replace("a,0,0,hi,5,up,u1", "a,0,0,hi,5,up,u9"))
    error(q, "sequence 'a' has the group", id_column="sid", group_column="user")
    r = write(tmp_path, "t.csv", LONG.replace("a,0,", "a,1,"))
    error(r, r"sequence 'a' has two rows at time '1' \(lines 3 and 5\)", id_column="sid", time_column="t")
    error(write(tmp_path, "w.csv", LONG), "'hi' in feature column 'note' is not a number", id_column="sid",
          feature_columns="x,note")
    error(write(tmp_path, "n.csv", LONG), "neither a number nor a date", id_column="sid", time_column="note")
    error(write(tmp_path, "i.csv", LONG), "--format long-csv needs --id-column", format="long-csv")
    error(write(tmp_path, "s.csv", "sid,label\na,x\n"), "no numeric column besides", id_column="sid")


def test_a_csv_with_an_id_and_a_text_column_stays_text(tmp_path):
    p = write(tmp_path, "r.csv", "id,text,label\n7,good,1\n")
    ex = read(p, id_column="id")
    assert ex.kind == "text" and ex.ids == ["7"]


# -- speed and the shared files ----------------------------------------------------------------
def test_reading_7000_lines_takes_well_under_a_second(tmp_path):
    lines = [f"{i % 2} a sentence of about twelve words , number {i} of many" for i in range(7000)]
    p = write(tmp_path, "big.txt", "\n".join(lines))
    q = write(tmp_path, "big.csv", "label,text\n" + "\n".join(f'{l[0]},"{l[2:]}"' for l in lines))
    for path, fmt in ((p, "label-first"), (q, "csv")):
        start = time.perf_counter()
        assert len(read(path, format=fmt).inputs) == 7000
        assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("name, lines", [("train", 6920), ("dev", 872), ("test", 1821)])
def test_sst2(name, lines):
    ex = read(needs_shared(f"sst2/stsa.binary.{name}"), format="label-first")
    assert len(ex.inputs) == lines and sorted(set(ex.labels)) == ["0", "1"]


def test_trec_train_is_latin1_and_needs_the_flag():
    path = needs_shared("trec/TREC.train.all")
    error(path, r"TREC.train.all line \d+ is not valid utf-8 text .*--encoding latin-1", format="label-first")
    ex = read(path, format="label-first", encoding="latin-1")
    assert len(ex.inputs) == 5452 and sorted(set(ex.labels)) == list("012345")
    assert len(read(needs_shared("trec/TREC.test.all"), format="label-first").inputs) == 500


@pytest.mark.parametrize("name, n, longest", [("TRAIN", 270, 26), ("TEST", 370, 29)])
def test_japanese_vowels(name, n, longest):
    ex = read(needs_shared(f"japanese-vowels/JapaneseVowels_{name}.ts"))
    assert len(ex.inputs) == n and {x.shape[1] for x in ex.inputs} == {12}
    assert min(len(x) for x in ex.inputs) == 7 and max(len(x) for x in ex.inputs) == longest
    assert sorted(set(ex.labels)) == list("123456789") and not any(np.isnan(x).any() for x in ex.inputs)


def test_line_formats_read_without_pandas(tmp_path):
    # pandas takes about half a second to import: `predict` on a file of lines should not pay it
    p = write(tmp_path, "lines.txt", "1 fine\n0 dull\n")
    code = (f"import sys\nfrom rnnkit.classify.examples import DataConfig, read_examples\n"
            f"read_examples({str(p)!r}, DataConfig(format='label-first'))\nprint('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_long_csv_time_zones_and_missing_times(tmp_path):
    p = write(tmp_path, "z.csv", "id,when,v,label\nk,2024-01-01T10:00+02:00,2,a\nk,2024-01-01T09:30+00:00,3,a\n")
    np.testing.assert_array_equal(read(p, id_column="id", time_column="when").inputs[0][:, 0], [2, 3])
    q = write(tmp_path, "m.csv", "id,t,v,label\nk,1,2,a\nk,NA,3,a\n")
    error(q, r"m.csv line 3: the time 'NA' \(column 't'\) is missing", id_column="id", time_column="t")
