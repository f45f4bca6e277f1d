"""Reading and writing tagged sentences: CoNLL-U, CoNLL columns and JSON Lines from small
generated files, round trips, every bad input's message, and the shared EWT and WNUT17 files
(skipped when ../shared/data is absent)."""

import pytest
from conftest import needs_shared

from rnnkit.core.errors import RnnkitError
from rnnkit.tag.formats import (
    TagDataConfig, detect_format, read_json_lines, read_sentences, write_conll, write_conllu,
)

# comments (one without "="), a multiword range (3-4) and an empty node (5.1); two documents
CONLLU = """\
# newdoc id = d1
# sent_id = 1
# text = I'm here.
# a free comment
1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1\t2\tnsubj\t2:nsubj\t_
2\tam\tbe\tAUX\tVBP\tMood=Ind|Tense=Pres\t0\troot\t0:root\tSpaceAfter=No
3-4\there.\t_\t_\t_\t_\t_\t_\t_\t_
3\there\there\tADV\tRB\t_\t2\tadvmod\t2:advmod\t_
4\t.\t.\tPUNCT\t.\t_\t2\tpunct\t2:punct\t_

# sent_id = 2
1\tGo\tgo\tVERB\tVB\tMood=Imp\t0\troot\t0:root\t_
2\thome\thome\tADV\tRB\t_\t1\tadvmod\t1:advmod\t_
2.1\tnow\tnow\tADV\tRB\t_\t_\t_\t1:advmod\t_

# newdoc id = d2
# sent_id = 3
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t0:root\t_

"""

# WNUT-style: tab columns, a lone tab between sentences; CoNLL-2003-style: spaces and -DOCSTART-
WNUT = "Go\tO\nto\tO\nParis\tB-location\n\t\n@bob\tO\nsays\tO\nhi\tO\n"
CONLL03 = ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
           "Peter NNP B-NP B-PER\n\n-DOCSTART- -X- -X- O\n\nBlackburn NNP B-NP B-PER\n")


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def read(path, labelled=True, **cfg):
    return read_sentences(path, TagDataConfig(**cfg), labelled=labelled)


def error(path, match, labelled=True, **cfg):
    with pytest.raises(RnnkitError, match=match) as e:
        read(path, labelled, **cfg)
    assert "\n" not in str(e.value)  # the CLI prints it on one line
    return str(e.value)


# -- CoNLL-U ------------------------------------------------------------------------------------------
def test_conllu_tags_the_syntactic_words_not_ranges_or_empty_nodes(tmp_path):
    s = read(write(tmp_path, "a.conllu", CONLLU))
    assert [x.tokens for x in s] == [["I", "am", "here", "."], ["Go", "home"], ["Yes"]]
    assert [x.tags for x in s] == [["PRON", "AUX", "ADV", "PUNCT"], ["VERB", "ADV"], ["INTJ"]]
    assert [x.lines for x in s] == [[5, 6, 8, 9], [12, 13], [18]]
    assert [x.doc for x in s] == [0, 0, 1]


@pytest.mark.parametrize("column, first", [
    ("xpos", ["PRP", "VBP", "RB", "."]),
    ("feats", ["Case=Nom|Number=Sing|Person=1", "Mood=Ind|Tense=Pres", "_", "_"]),
    ("deprel", ["nsubj", "root", "advmod", "punct"]),
    ("7", ["nsubj", "root", "advmod", "punct"]),
    ("2", ["I", "be", "here", "."]),
])
def test_conllu_tag_column_by_name_or_index_as_written(tmp_path, column, first):
    assert read(write(tmp_path, "a.conllu", CONLLU), tag_column=column)[0].tags == first


def test_conllu_round_trip_keeps_comments_ranges_and_empty_nodes(tmp_path):
    s = read(write(tmp_path, "a.conllu", CONLLU))
    assert write_conllu(s, [x.tags for x in s], "upos").rstrip("\n") == CONLLU.rstrip("\n")
    feats = read(write(tmp_path, "a.conllu", CONLLU), tag_column="feats")
    assert write_conllu(feats, [x.tags for x in feats], "feats").rstrip("\n") == CONLLU.rstrip("\n")


def test_conllu_writes_the_predicted_column_only(tmp_path):
    s = read(write(tmp_path, "a.conllu", CONLLU))
    out = write_conllu(s, [["X"] * len(x.tokens) for x in s], "upos").split("\n")
    assert out[4].split("\t")[3] == "X" and out[6] == "3-4\there.\t_\t_\t_\t_\t_\t_\t_\t_"
    assert out[13] == "2.1\tnow\tnow\tADV\tRB\t_\t_\t_\t1:advmod\t_"  # the empty node keeps its tag
    assert out[4].split("\t")[4] == "PRP" and s[0].tags[0] == "PRON"  # the source is not changed


def test_conllu_written_from_raw_tokens_has_id_form_and_the_tag():
    from rnnkit.tag.formats import Sentence
    out = write_conllu([Sentence(["Hi", "!"], None, [1, 1], 0)], [["INTJ", "PUNCT"]], "upos")
    assert out == "1\tHi\t_\tINTJ\t_\t_\t_\t_\t_\t_\n2\t!\t_\tPUNCT\t_\t_\t_\t_\t_\t_\n\n"


def test_conllu_untagged_column_is_none_when_unlabelled_and_an_error_when_labelled(tmp_path):
    p = write(tmp_path, "raw.conllu", "1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n2\t!\t_\t_\t_\t_\t_\t_\t_\t_\n")
    assert read(p, labelled=False)[0].tags is None
    msg = error(p, "only '_'")
    assert "upos" in msg and "--tag-column" in msg


# -- CoNLL columns -----------------------------------------------------------------------------------
def test_conll_tab_columns_with_lone_tab_separators(tmp_path):
    s = read(write(tmp_path, "w.conll", WNUT))
    assert [x.tokens for x in s] == [["Go", "to", "Paris"], ["@bob", "says", "hi"]]
    assert [x.tags for x in s] == [["O", "O", "B-location"], ["O", "O", "O"]]
    assert [x.lines for x in s] == [[1, 2, 3], [5, 6, 7]] and [x.doc for x in s] == [0, 0]


def test_conll_space_columns_and_docstart_lines_start_documents(tmp_path):
    s = read(write(tmp_path, "c.conll", CONLL03))
    assert [x.tokens for x in s] == [["EU", "rejects"], ["Peter"], ["Blackburn"]]
    assert [x.tags for x in s] == [["B-ORG", "O"], ["B-PER"], ["B-PER"]]
    assert [x.doc for x in s] == [0, 0, 1]
    assert read(write(tmp_path, "c.conll", CONLL03), tag_column="1")[0].tags == ["NNP", "VBZ"]


@pytest.mark.parametrize("text", [WNUT, CONLL03])
def test_conll_round_trip(tmp_path, text):
    s = read(write(tmp_path, "r.conll", text))
    assert write_conll(s, [x.tags for x in s]) == text


def test_conll_writes_the_tag_in_place_or_appends_it(tmp_path):
    s = read(write(tmp_path, "c.conll", CONLL03))
    out = write_conll(s, [["T"] * len(x.tokens) for x in s])
    assert "EU NNP B-NP T\nrejects VBZ B-VP T\n" in out and out.count("-DOCSTART-") == 2
    tokens = read(write(tmp_path, "t.conll", "Go\nhome\n\nNow\n"), labelled=False)
    assert [x.tags for x in tokens] == [None, None]
    assert write_conll(tokens, [["V", "N"], ["A"]]) == "Go\tV\nhome\tN\n\nNow\tA\n"


def test_conll_a_subset_starts_with_a_row_not_a_separator(tmp_path):
    s = read(write(tmp_path, "w.conll", WNUT))
    assert write_conll(s[1:], [s[1].tags]) == "@bob\tO\nsays\tO\nhi\tO\n"


def test_conll_token_column(tmp_path):
    s = read(write(tmp_path, "c.conll", "1\tGo\tV\n2\thome\tN\n"), token_column=1)
    assert s[0].tokens == ["Go", "home"] and s[0].tags == ["V", "N"]


# -- formats, JSON Lines --------------------------------------------------------------------------------
def test_format_from_the_extension_or_the_flag(tmp_path):
    assert detect_format("x.conllu", TagDataConfig()) == "conllu"
    assert detect_format("x.CONLL", TagDataConfig()) == "conll"
    assert detect_format("emerging.test.annotated", TagDataConfig(format="conll")) == "conll"
    msg = error(write(tmp_path, "x.annotated", WNUT), "cannot tell the format")
    assert "--format" in msg and "conllu, conll" in msg
    assert read(write(tmp_path, "x.annotated", WNUT), format="conll")[0].tokens == ["Go", "to", "Paris"]


def test_json_lines_tokens_text_and_tags(tmp_path):
    p = write(tmp_path, "in.jsonl", '{"tokens": ["Hi", "there"], "tags": ["O", "O"]}\n\n'
                                    '{"text": "I\'m here. Go!"}\n')
    s = read_json_lines(p, "utf-8")
    assert [x.tokens for x in s] == [["Hi", "there"], ["I", "'m", "here", "."], ["Go", "!"]]
    assert [x.tags for x in s] == [["O", "O"], None, None]
    assert [x.doc for x in s] == [0, 1, 1] and [x.lines[0] for x in s] == [1, 3, 3]


@pytest.mark.parametrize("line, match", [("not json", "line 1 is not valid JSON"),
                                         ('["a"]', 'either "tokens"'),
                                         ('{"tokens": ["a"], "text": "a"}', 'either "tokens"'),
                                         ('{"tokens": []}', "non-empty list"),
                                         ('{"tokens": ["a", 1]}', "non-empty list"),
                                         ('{"tokens": ["a", "b"], "tags": ["O"]}', "one per token"),
                                         ('{"text": "a b", "tags": ["O", "O"]}', 'without "tags"'),
                                         ('{"text": "  "}', 'empty "text"')])
def test_json_lines_bad_input(tmp_path, line, match):
    with pytest.raises(RnnkitError, match=match) as e:
        read_json_lines(write(tmp_path, "in.jsonl", line + "\n"), "utf-8")
    assert "\n" not in str(e.value)


# -- bad input -------------------------------------------------------------------------------------------
def test_row_with_another_number_of_columns(tmp_path):
    msg = error(write(tmp_path, "c.conll", "Go\tO\nto\tO\tX\n"), "line 2 has 3 columns but line 1 has 2")
    assert "c.conll" in msg and "same columns" in msg
    msg = error(write(tmp_path, "a.conllu", "1\tHi\t_\tINTJ\t_\t_\t0\troot\n"), "line 1 has 8 tab-separated")
    assert "10" in msg


@pytest.mark.parametrize("spec, match", [("pos", "unknown column 'pos'"), ("upos", "names a CoNLL-U column")])
def test_unknown_tag_column_in_the_config(spec, match):
    with pytest.raises(RnnkitError, match=match) as e:
        TagDataConfig(format="conll", tag_column=spec) if spec == "upos" else TagDataConfig(tag_column=spec)
    assert "--tag-column" in str(e.value) and ("upos" in str(e.value) or "index" in str(e.value))


def test_tag_column_errors_against_the_file(tmp_path):
    conllu, conll = write(tmp_path, "a.conllu", CONLLU), write(tmp_path, "w.conll", WNUT)
    assert "index from 0 to 9" in error(conllu, "beyond the 10 columns", tag_column="10")
    assert "index from 0 to 1" in error(conll, "--tag-column 2 is beyond the 2 columns", tag_column="2")
    assert "index from 0 to 1" in error(conll, "--token-column 5 is beyond", token_column=5)
    assert "0-based column index" in error(conll, "names a CoNLL-U column", tag_column="upos")
    error(conll, "both column 1", token_column=1)


def test_tokens_only_file_needs_a_tag_column_when_labelled(tmp_path):
    assert "token TAB tag" in error(write(tmp_path, "t.conll", "Go\nhome\n"), "one column")


@pytest.mark.parametrize("name, text, match", [("e.conll", "", "is empty"),
                                               ("b.conll", "\n\t\n\n", "is empty"),
                                               ("d.conll", "-DOCSTART- O\n\n", "no sentences"),
                                               ("c.conllu", "# only = comments\n", "no sentences"),
                                               ("g.conllu", "# x = 1\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n",
                                                "line 1: the sentence has no word lines")])
def test_empty_files_and_files_without_sentences(tmp_path, name, text, match):
    error(write(tmp_path, name, text), match)


def test_conllu_parse_error_names_the_line(tmp_path):
    bad = CONLLU.replace("2\thome\thome", "x2\thome\thome")
    msg = error(write(tmp_path, "a.conllu", bad), "line 13 is not valid CoNLL-U")
    assert "x2" in msg and "fix the line" in msg


def test_not_utf8_names_the_line_and_the_fix(tmp_path):
    p = write(tmp_path, "l.conll", "Go\tO\n\ncaf\xe9\tO\n", encoding="latin-1")
    assert "--encoding" in error(p, "line 3 is not valid utf-8")
    assert read(p, encoding="latin-1")[1].tokens == ["café"]


def test_empty_token(tmp_path):
    assert "--token-column" in error(write(tmp_path, "c.conll", "Go\tO\n \tO\n"), "line 2 has an empty token")


# -- the shared files ----------------------------------------------------------------------------------
def test_ewt_dev_counts_and_exact_round_trip():
    path = needs_shared("ud-english-ewt/en_ewt-ud-dev.conllu")
    s = read(path)
    assert (len(s), sum(len(x.tokens) for x in s)) == (2001, 25147)
    assert s[0].tokens[:3] == ["From", "the", "AP"] and s[0].tags[:3] == ["ADP", "DET", "PROPN"]
    assert len({x.doc for x in s}) > 1  # the file marks documents with "# newdoc"
    assert write_conllu(s, [x.tags for x in s], "upos").rstrip("\n") == path.read_text("utf-8").rstrip("\n")


def test_wnut17_dev_counts_and_exact_round_trip():
    path = needs_shared("wnut17/emerging.dev.conll")
    s = read(path)
    assert len(s) == 1009 and {x.doc for x in s} == {0}
    assert {t for x in s for t in x.tags} >= {"O", "B-location", "I-location", "B-person"}
    assert write_conll(s, [x.tags for x in s]).rstrip("\n") == path.read_text("utf-8").rstrip("\n")
