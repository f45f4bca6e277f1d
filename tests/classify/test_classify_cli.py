"""The classify task on the command line: train (and --resume), predict, evaluate, diagnose,
report, the flags of --help, and bad input as one clean line with nothing written."""

import csv
import json

import pytest
from conftest import assert_clean_error, cli, ok, tiny_config
from test_classify import text_file, ts_file

import rnnkit
from rnnkit.classify import api

TINY = ["--hidden-size", "16", "--embedding-size", "16", "--max-time", "60"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A forward text classifier of the last token (``a``/``b``), and a numeric one trained one step."""
    d = tmp_path_factory.mktemp("classify")
    text_file(d / "last.csv", 200, lambda a, b: b)
    ok(cli("train", "--task", "classify", "--data", d / "last.csv", "--out", d / "text", "--no-bidirectional",
           "--pooling", "last", "--min-freq", "1", "--steps", "30", "--eval-every", "30", "--lr", "0.01", *TINY))
    ts_file(d / "ramps.ts", 30)
    ok(cli("train", "--task", "classify", "--data", d / "ramps.ts", "--out", d / "numeric", "--steps", "1", *TINY))
    return d


def lines(res) -> list[dict]:
    return [json.loads(line) for line in ok(res).stdout.splitlines()]


def test_train_help_lists_the_tasks_flags():
    out = ok(cli("train", "--task", "classify", "--help")).stdout
    for flag in ("--text-column", "--label-column", "--group-column", "--format", "--level", "--min-freq",
                 "--pooling", "--bidirectional", "--front", "--class-weight", "--label-smoothing", "--steps"):
        assert flag in out, flag
    assert "--objective" not in out and "--horizon" not in out  # other tasks' flags
    assert "classify (" in out  # --task's help names the task
    assert "predict" in ok(cli("--help")).stdout


def test_predict_texts_match_the_api(runs):
    texts = ["w1 w2 a", "w3 b", "a w5 w5 w5 w5 w5 w5 w5 b"]
    rows = lines(cli("predict", runs / "text", *texts, "--json", "--top-k", "2"))
    want = api.predict(api.load(runs / "text"), texts, top_k=2)
    assert [r["input"] for r in rows] == texts
    assert [[(t["label"], t["probability"]) for t in r["top"]] for r in rows] == want
    assert [(r["label"], r["probability"]) for r in rows] == [w[0] for w in want]
    assert [r["label"] for r in rows] == ["a", "b", "b"]  # it learned the last token
    for r in rows:
        p = [t["probability"] for t in r["top"]]
        assert p == sorted(p, reverse=True) and sum(p) <= 1 + 1e-6
    plain = ok(cli("predict", runs / "text", *texts)).stdout.splitlines()
    assert [line.split("\t")[:2] for line in plain] == [[t, f"{w[0][0]} {w[0][1]:.3f}"] for t, w in zip(texts, want)]


def test_predict_input_files_with_and_without_labels(runs, tmp_path):
    texts = ["w1 w2 a", "w3 b", "w4 w4 a"]
    with open(tmp_path / "bare.csv", "w", newline="") as f:
        csv.writer(f).writerows([["text"], *([t] for t in texts)])
    with open(tmp_path / "labelled.csv", "w", newline="") as f:
        csv.writer(f).writerows([["text", "label"], *([t, "b"] for t in texts)])
    want = api.predict(api.load(runs / "text"), texts)
    for name in ("bare.csv", "labelled.csv"):
        rows = lines(cli("predict", runs / "text", "--input", tmp_path / name, "--json"))
        assert [r["id"] for r in rows] == [f"{name}:{n}" for n in (2, 3, 4)]
        assert [[(r["label"], r["probability"])] for r in rows] == want
    (tmp_path / "bare.ts").write_text("@classLabel false\n@data\n1,2,3:4,5,6\n3,2,1,0:0,0,0,0\n")
    rows = lines(cli("predict", runs / "numeric", "--input", tmp_path / "bare.ts", "--json", "--top-k", "3"))
    assert [r["id"] for r in rows] == ["bare.ts:3", "bare.ts:4"] and all(len(r["top"]) == 3 for r in rows)
    assert all(sum(t["probability"] for t in r["top"]) == pytest.approx(1, abs=1e-5) for r in rows)


def test_evaluate_diagnose_and_report(runs, tmp_path):
    run = runs / "text"
    ev = json.loads(ok(cli("evaluate", run, "--split", "test", "--json", "--plot", tmp_path / "c.png")).stdout)
    assert ev == api.evaluate(api.load(run), "test", run).to_json()
    parts = json.loads((run / "split.json").read_text())["parts"]
    assert ev["examples"] == parts.count("test") == sum(map(sum, ev["confusion"])) == 20
    assert sum(c["support"] for c in ev["per_class"].values()) == 20 and ev["labels"] == ["a", "b"]
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ok(cli("evaluate", run, "--split", "val")).stdout.startswith("val: accuracy ")
    diagnosis = json.loads(ok(cli("diagnose", run, "--json")).stdout)
    assert "TF-IDF" in json.dumps(diagnosis)
    ok(cli("report", run, "--out", tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    for heading in ("Data split", "Test metrics", "Confusion matrix", "Most confident test errors"):
        assert heading in html, heading


def test_resume_with_the_same_command_line(tmp_path):
    text_file(tmp_path / "d.csv", 60, lambda a, b: b)
    line = ["train", "--task", "classify", "--data", tmp_path / "d.csv", "--out", tmp_path / "run", *TINY]
    ok(cli(*line, "--steps", "2"))
    ok(cli(*line, "--steps", "4", "--resume"))
    steps = [json.loads(r)["step"] for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 4
    assert_clean_error(cli(*line, "--steps", "6", "--resume", "--hidden-size", "8"), "--hidden-size")


# -- bad input -------------------------------------------------------------------------------------
def _csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def _with_new_test_label(d):
    text_file(d / "train.csv", 30, lambda a, b: b)
    _csv(d / "test.csv", [["text", "label"], ["w1 a", "a"], ["w2 z", "z"]])
    return ["--data", d / "train.csv", "--test", d / "test.csv"]


@pytest.mark.parametrize("setup,match", [
    (lambda d: _csv(d / "r.csv", [["text", "sentiment"], ["good", "pos"], ["bad", "neg"]]) or ["--data", d / "r.csv"],
     "no column 'label' for --label-column; its columns are 'text', 'sentiment'"),
    (lambda d: _csv(d / "r.csv", [["text", "label"], *[[f"w{i}", "pos"] for i in range(9)]]) or ["--data", d / "r.csv"],
     "the training examples have 1 label(s) ('pos')"),
    (_with_new_test_label, "the test part has labels never seen in training: 'z'"),
    (lambda d: (d / "r.txt").write_text("pos good\nneg bad\n") and ["--data", d / "r.txt"], "pass --format"),
    (lambda d: (d / "r.csv").write_bytes("text,label\ncaf\xe9,x\n".encode("latin-1")) and ["--data", d / "r.csv"],
     "--encoding"),
    (lambda d: ["--data", d / "r.csv", "--min-freq", "0"], "--min-freq: must be 1 or more"),
])
def test_bad_training_input_is_one_clean_line_and_writes_nothing(tmp_path, setup, match):
    args = setup(tmp_path)
    res = cli("train", "--task", "classify", *args, "--out", tmp_path / "run", "--steps", "1", *TINY)
    assert_clean_error(res, match)
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    (d / "t.txt").write_text("the cat sat on the mat. " * 40)
    rnnkit.train(tiny_config(d / "t.txt", steps=1), d / "run")
    return d / "run"


@pytest.mark.parametrize("args,match", [
    (lambda d: ["text", "some text", "--input", d / "last.csv"], "give texts to label or --input FILE (one of them)"),
    (lambda d: ["text"], "give texts to label or --input FILE (one of them)"),
    (lambda d: ["numeric", "some text"], "this model classifies numeric sequences; pass them with --input FILE"),
    (lambda d: ["numeric", "--input", d / "last.csv"], "holds text sequences, but the model classifies numeric"),
    (lambda d: ["text", "w1", "--top-k", "0"], "--top-k: must be 1 or more"),
    (lambda d: ["text", "w1", "--batch-size", "0"], "--batch-size: must be 1 or more"),
])
def test_bad_predict_input_is_one_clean_line(runs, args, match):
    name, *rest = args(runs)
    assert_clean_error(cli("predict", runs / name, *rest), match)


def test_predict_refuses_a_run_of_another_task(lm_run):
    assert_clean_error(cli("predict", lm_run, "a text"), "`rnnkit predict` is for sequence-classifier runs")
