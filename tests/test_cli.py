"""Every CLI verb, and every bad input: one line, non-zero exit, no traceback."""

import json

import pytest
import torch

from conftest import TINY_TEXT, assert_clean_error, run_cli
from rnnkit import tasks
from rnnkit.text import api as text_api




TINY = ["--layers", "1", "--hidden-size", "16", "--embedding-size", "8", "--seq-len", "16", "--batch-size", "4", "--dropout", "0"]


def test_train_sample_evaluate(tmp_path, tiny_file):
    out = tmp_path / "run"
    p = run_cli("train", "--data", tiny_file, "--out", out, "--steps", "12", "--eval-every", "6", *TINY)
    assert p.returncode == 0, p.stderr
    assert "best validation loss" in p.stdout and f"rnnkit sample {out}" in p.stdout
    assert {"config.json", "vocab.json", "split.json", "tokens.bin", "metrics.jsonl", "best.safetensors",
            "last.safetensors"} <= {f.name for f in out.iterdir()}
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"train", "val"} and rows[-1]["step"] == 12

    s = run_cli("sample", out, "--length", "30", "--prime", "the ", "--num-samples", "2", "--seed", "5")
    assert s.returncode == 0, s.stderr
    assert s.stdout.count("the ") >= 2 and "--- sample 2 ---" in s.stdout
    g = run_cli("sample", out, "--length", "30", "--greedy", "--top-k", "3", "--checkpoint", "last")
    assert g.returncode == 0, g.stderr
    f = run_cli("sample", out, "--length", "30", "--prime", "the ", "--num-samples", "2", "--seed", "5", "--no-int8")
    assert f.returncode == 0, f.stderr
    assert f.stdout == s.stdout  # a stack this small steps in fp32 either way (nn/quantized.MIN_WEIGHTS)

    e = run_cli("evaluate", out, "--split", "val", "--json")
    assert e.returncode == 0, e.stderr
    m = json.loads(e.stdout)
    assert set(m) == {"loss", "bits_per_char", "perplexity", "accuracy", "tokens", "unknown"}
    assert abs(m["bits_per_char"] - m["loss"] / 0.6931471805599453) < 1e-9
    t = run_cli("evaluate", out)
    assert t.returncode == 0 and "test:" in t.stdout and "bits/char" in t.stdout

    r = run_cli("train", "--out", out, "--resume", "--steps", "18")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 18


def test_config_file_and_flags(tmp_path, tiny_file):
    (tmp_path / "c.toml").write_text(
        f'[data]\ndata = "{tiny_file}"\n[rnn]\ncell = "gru"\nhidden_size = 16\nembedding_size = 8\n'
        f'[train]\nsteps = 4\nseq_len = 16\nbatch_size = 4\n'
    )
    (tmp_path / "c.yaml").write_text(
        f"data:\n  data: {tiny_file}\nrnn:\n  cell: rnn\n  hidden_size: 16\ntrain:\n  steps: 4\n  seq_len: 16\n  batch_size: 4\n"
    )
    p = run_cli("train", "--config", tmp_path / "c.toml", "--out", tmp_path / "a", "--hidden-size", "24")
    assert p.returncode == 0, p.stderr
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert saved["rnn"]["cell"] == "gru" and saved["rnn"]["hidden_size"] == 24  # the flag wins
    p = run_cli("train", "--config", tmp_path / "c.yaml", "--out", tmp_path / "b")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "b" / "config.json").read_text())["rnn"]["cell"] == "rnn"


def test_window_objective_and_one_hot_from_cli(tmp_path, tiny_file):
    out = tmp_path / "run"
    p = run_cli("train", "--data", tiny_file, "--out", out, "--objective", "window", "--one-hot", "--cell", "rnn",
                "--optimizer", "rmsprop", "--steps", "5", "--seq-len", "10", "--hidden-size", "16", "--lr", "1e-3")
    assert p.returncode == 0, p.stderr
    assert "no n-gram mix for the window objective" in p.stdout  # the training code saw the objective
    saved = json.loads((out / "config.json").read_text())
    assert (saved["train"]["objective"], saved["train"]["optimizer"], saved["train"]["seq_len"], saved["train"]["lr"],
            saved["rnn"]["one_hot"], saved["rnn"]["cell"], saved["rnn"]["hidden_size"]) == (
        "window", "rmsprop", 10, 1e-3, True, "rnn", 16)
    lm = text_api.load(out)
    assert lm.config.window == 10  # scored and sampled with 10-token windows
    model = lm.model
    assert isinstance(model.rnn, torch.nn.RNN) and model.rnn.hidden_size == 16
    assert model.embed is None and model.rnn.input_size == len(lm.vocab)  # one-hot vectors in, no embedding
    assert run_cli("sample", out, "--length", "20", "--greedy").returncode == 0
    assert run_cli("evaluate", out, "--json").returncode == 0


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (d / "latin.txt").write_bytes(b"caf\xe9 " * 50)
    (d / "short.txt").write_text("tiny text", encoding="utf-8")
    (d / "ok.txt").write_text(TINY_TEXT, encoding="utf-8")
    (d / "bad.toml").write_text("[rnn]\nhiden_size = 3\n")
    (d / "broken.toml").write_text("[rnn\n")
    return d


@pytest.mark.parametrize(
    "args,match",
    [
        (["--data", "{d}/missing.txt"], "not found"),
        (["--data", "{d}"], "is a directory"),
        (["--data", "{d}/empty.txt"], "is empty"),
        (["--data", "{d}/binary.bin"], "binary"),
        (["--data", "{d}/latin.txt"], "--encoding"),
        (["--data", "{d}/short.txt"], "too short"),
        (["--data", "{d}/ok.txt", "--hidden-size", "-5"], "--hidden-size"),
        (["--data", "{d}/ok.txt", "--dropout", "1.5"], "--dropout"),
        (["--data", "{d}/ok.txt", "--seq-len", "0"], "--seq-len"),
        (["--data", "{d}/ok.txt", "--tie-weights"], "--tie-weights"),
        (["--data", "{d}/ok.txt", "--config", "{d}/bad.toml"], "unknown option 'hiden_size'"),
        (["--data", "{d}/ok.txt", "--config", "{d}/broken.toml"], "could not be parsed"),
        (["--data", "nosuchcorpus"], "neither a file nor a known corpus"),
    ],
)
def test_train_bad_input(tmp_path, files, args, match):
    out = tmp_path / "run"
    p = run_cli("train", "--out", out, "--steps", "2", *[a.format(d=files) for a in args])
    assert_clean_error(p, match)
    assert not out.exists() and not list(tmp_path.glob(".run*"))  # nothing half-written


@pytest.mark.parametrize("args,match", [
    (["train", "--cell", "transformer"], "invalid choice: 'transformer'"),
    (["train", "--hidden-size", "big"], "invalid int value: 'big'"),
    (["train", "--text-clean", "all"], "invalid choice: 'all'"),
    (["evaluate", "RUN", "--split", "dev"], "invalid choice: 'dev'"),
    (["sample", "RUN", "--device", "tpu"], "unknown device 'tpu'"),
    (["evaluate", "RUN", "--device", "cuda:x"], "--device"),
    (["train", "--out", "RUN", "--resume", "--model", "ngram"], "cannot change"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_parser_and_device_errors_are_one_line(trained_run, tmp_path, tiny_file, args, match):
    args = [str(trained_run) if a == "RUN" else a for a in args]
    if args[0] == "train" and "--resume" not in args:
        args += ["--data", str(tiny_file), "--out", str(tmp_path / "r")]
    assert_clean_error(run_cli(*args), match)


def test_demo_on_the_builtin_corpus(tmp_path):
    p = run_cli("demo", "--max-time", "3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "python-docs" in out and "--- sample 1" in out and "--- sample 2" in out
    assert "test split:" in out and "bits/char" in out
    assert "mixed with a 7-gram" in out and "weights, mixed with a 7-gram of" in out
    assert "run directory: runs/demo" in out and "rnnkit sample runs/demo" in out
    assert (tmp_path / "runs" / "demo" / "best.safetensors").is_file()
    again = run_cli("demo", "--max-time", "1", cwd=tmp_path)  # the demo may replace its own run
    assert again.returncode == 0, again.stderr



def test_existing_run_and_resume_errors(tmp_path, tiny_file):
    out = tmp_path / "run"
    assert run_cli("train", "--data", tiny_file, "--out", out, "--steps", "3", *TINY).returncode == 0
    assert_clean_error(run_cli("train", "--data", tiny_file, "--out", out, "--steps", "3", *TINY), "--overwrite")
    assert_clean_error(run_cli("train", "--out", out, "--resume", "--hidden-size", "8"), "cannot change")
    assert_clean_error(run_cli("train", "--out", tmp_path / "none", "--resume"), "no run to resume")
    assert run_cli("train", "--data", tiny_file, "--out", out, "--steps", "3", "--overwrite", *TINY).returncode == 0


def test_sample_and_evaluate_bad_input(tmp_path, trained_run):
    assert_clean_error(run_cli("sample", tmp_path / "nothing"), "not found")
    assert_clean_error(run_cli("sample", trained_run, "--prime", "QXZ@"), "not in the model's vocabulary")
    assert_clean_error(run_cli("sample", trained_run, "--temperature", "-1"), "--temperature")
    cut = tmp_path / "cut.safetensors"
    raw = (trained_run / "best.safetensors").read_bytes()
    cut.write_bytes(raw[: len(raw) - 100])
    assert_clean_error(run_cli("sample", cut), "damaged or truncated")
    tampered = tmp_path / "t.safetensors"
    tampered.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert_clean_error(run_cli("evaluate", tampered), "checksum")
    empty_dir = tmp_path / "emptydir"
    empty_dir.mkdir()
    assert_clean_error(run_cli("evaluate", empty_dir), "not an rnnkit run directory")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "x.safetensors").write_bytes(raw)
    assert_clean_error(run_cli("evaluate", lonely / "x.safetensors"), "evaluate needs the run directory")


def test_help_lists_every_verb():
    p = run_cli("--help")
    for verb in ("demo", "train", "sample", "evaluate", "compare", *(spec.use_verb for spec in tasks.TASKS.values())):
        assert f"\n    {verb} " in p.stdout, verb
    t = run_cli("train", "--help")
    for flag in ("--cell", "--nonlinearity", "--layers", "--hidden-size", "--embedding-size", "--one-hot", "--dropout",
                 "--tie-weights", "--seq-len", "--batch-size", "--epochs", "--steps", "--max-time", "--optimizer",
                 "--lr", "--lr-schedule", "--clip-norm", "--clip-value", "--patience", "--seed", "--device",
                 "--text-clean", "--encoding", "--level", "--objective", "--resume", "--overwrite", "--config"):
        assert flag in t.stdout, flag
