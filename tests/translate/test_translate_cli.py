"""The translation task from the command line: train, translate, evaluate, resume, and bad input.

Most commands run in this process through ``rnnkit.cli.main`` (see :func:`cli`), which skips the
interpreter start-up of a subprocess; the commands that read standard input, and a few errors,
run as real ``python -m rnnkit.cli`` processes to check what a user sees.
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import assert_clean_error, cli, ok, run_cli

# --- helpers ----------------------------------------------------------------------------------

TINY_TR = ["--hidden-size", "16", "--embedding-size", "8", "--steps", "6", "--eval-every", "3", "--batch-size", "8",
           "--min-freq", "1"]
# the LM flags of tests/test_cli.py
TINY_LM = ["--layers", "1", "--hidden-size", "16", "--embedding-size", "8", "--seq-len", "16", "--batch-size", "4",
           "--dropout", "0"]

ES = "cero uno dos tres cuatro cinco seis siete ocho nueve".split()
EN = "zero one two three four five six seven eight nine".split()
COLORS = list(zip("rojo verde azul negro blanco".split(), "red green blue black white".split()))




def run_cli_input(*args, input: str) -> subprocess.CompletedProcess:
    """``python -m rnnkit.cli ARGS`` with ``input`` on its standard input."""
    return subprocess.run([sys.executable, "-m", "rnnkit.cli", *map(str, args)], input=input, capture_output=True,
                          text=True, encoding="utf-8", env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=300)


def json_lines(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(l) for l in ok(proc).stdout.splitlines()]


def write_pairs(path: Path, n: int = 300) -> Path:
    """``n`` pairs of made-up sentences: Spanish digits and a colour, TAB, the same in English."""
    rng = random.Random(0)
    lines = []
    for i in range(n):
        digits = [rng.randrange(10) for _ in range(rng.randint(1, 4))]
        es_color, en_color = rng.choice(COLORS)
        es = " ".join(ES[d] for d in digits) + f" {es_color} ."
        en = " ".join(EN[d] for d in digits) + f" {en_color} ."
        if i % 3 == 0:
            es, en = es.capitalize(), en.capitalize()
        lines.append(f"{es}\t{en}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def train_argv(data: Path, out: Path, *extra) -> list[str]:
    return ["train", "--task", "translate", "--data", str(data), "--out", str(out), *TINY_TR, *extra]


def metrics(run: Path) -> list[dict]:
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def distinct_sources(run: Path, split: str) -> int:
    return len({l.split("\t")[1] for l in (run / "pairs" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())
    assert not list(out.parent.glob(f".{out.name}*")), list(out.parent.glob(".*"))


# --- fixtures: one tiny translator and one tiny language model for the whole module --------------

@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs") / "es-en.tsv")


@pytest.fixture(scope="module")
def tr(tmp_path_factory, pairs_file):
    """A tiny translation run trained by a real ``rnnkit train --task translate`` process."""
    out = tmp_path_factory.mktemp("translate") / "run"
    proc = run_cli(*train_argv(pairs_file, out))
    return SimpleNamespace(run=out, proc=proc)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    from conftest import TINY_TEXT

    d = tmp_path_factory.mktemp("lm")
    (d / "tiny.txt").write_text(TINY_TEXT, encoding="utf-8")
    ok(cli("train", "--data", d / "tiny.txt", "--out", d / "run", "--steps", "4", "--eval-every", "2", *TINY_LM))
    return d / "run"


# --- train ------------------------------------------------------------------------------------

def test_train_writes_a_complete_run(tr):
    ok(tr.proc)
    assert {"config.json", "split.json", "codec.json", "metrics.jsonl", "best.safetensors", "last.safetensors",
            "pairs"} <= {f.name for f in tr.run.iterdir()}
    assert {f.name for f in (tr.run / "pairs").iterdir()} == {"train.tsv", "val.tsv", "test.tsv"}
    assert sum(len((tr.run / "pairs" / f"{s}.tsv").read_text().splitlines()) for s in ("train", "val", "test")) == 300
    rows = metrics(tr.run)
    assert {r["kind"] for r in rows} == {"train", "val"} and rows[-1]["step"] == 6
    assert [r["step"] for r in rows if r["kind"] == "val"] == [3, 6]
    config = json.loads((tr.run / "config.json").read_text())
    assert config["model"]["hidden_size"] == 16 and config["tokenizer"]["min_freq"] == 1
    assert "trained 6 steps" in tr.proc.stdout
    assert f"rnnkit translate {tr.run}" in tr.proc.stdout and f"rnnkit evaluate {tr.run}" in tr.proc.stdout
    assert "Traceback" not in tr.proc.stderr


# --- translate --------------------------------------------------------------------------------

SENTENCES = ["dos tres rojo .", "Nueve azul ."]


@pytest.mark.parametrize("options", [[], ["--beam", "1"], ["--length-penalty", "0"], ["--checkpoint", "last"]])
def test_translate_sentences_from_arguments(tr, options):
    p = ok(cli("translate", tr.run, *SENTENCES, *options))
    assert len(p.stdout.splitlines()) == 2, p.stdout


def test_translate_a_checkpoint_file(tr):
    p = ok(cli("translate", tr.run / "best.safetensors", SENTENCES[0], "--beam", "1"))
    assert p.stdout == ok(cli("translate", tr.run, SENTENCES[0], "--beam", "1")).stdout


def test_translate_standard_input(tr):
    """A real process reading UTF-8 sentences from standard input; blank lines are skipped."""
    sentences = ["dos tres rojo .", "¿Dónde está el uno?", "uno verde ."]
    stdin = f"{sentences[0]}\n\n{sentences[1]}\n{sentences[2]}\n"
    objs = json_lines(run_cli_input("translate", tr.run, "--beam", "1", "--json", input=stdin))
    assert [o["source"] for o in objs] == sentences
    from_argv = json_lines(cli("translate", tr.run, *sentences, "--beam", "1", "--json"))
    assert [o["translations"][0]["text"] for o in objs] == [o["translations"][0]["text"] for o in from_argv]
    plain = ok(cli("translate", tr.run, "--beam", "1", input="\n".join(sentences) + "\n\n"))
    assert plain.stdout.splitlines() == [o["translations"][0]["text"] for o in from_argv]


def test_translate_standard_input_with_windows_line_ends(tr):
    """A CRLF line translates like the LF one, and --json echoes the sentence without its ``\\r``."""
    crlf_objs = json_lines(cli("translate", tr.run, "--beam", "1", "--json", input="uno verde .\r\ndos .\r\n"))
    lf_objs = json_lines(cli("translate", tr.run, "--beam", "1", "--json", input="uno verde .\ndos .\n"))
    assert [o["translations"] for o in crlf_objs] == [o["translations"] for o in lf_objs]
    assert [o["source"] for o in crlf_objs] == ["uno verde .", "dos ."]


def test_translations_do_not_depend_on_the_batch(tr):
    """Padding is masked: a sentence decodes the same alone (--batch-size 1) as beside longer ones."""
    sentences = ["ocho .", "uno dos tres cuatro cinco seis verde .", *SENTENCES]
    for beam in ("1", "3"):
        together = json_lines(cli("translate", tr.run, *sentences, "--beam", beam, "--json"))
        alone = json_lines(cli("translate", tr.run, *sentences, "--beam", beam, "--json", "--batch-size", "1"))
        assert [o["source"] for o in together] == [o["source"] for o in alone] == sentences
        for a, b in zip(together, alone):
            assert a["translations"][0]["text"] == b["translations"][0]["text"]
            assert a["translations"][0]["score"] == pytest.approx(b["translations"][0]["score"], abs=1e-4)


def test_translate_n_best(tr):
    p = ok(cli("translate", tr.run, *SENTENCES, "--beam", "3", "--n-best", "2"))
    lines = p.stdout.splitlines()
    assert len(lines) == 4, p.stdout
    rows = [re.fullmatch(r"([12])\t(-?\d+\.\d{4})\t(.*)", l) for l in lines]
    assert all(rows), lines
    assert [r[1] for r in rows] == ["1", "2", "1", "2"]
    for first, second in (rows[0:2], rows[2:4]):
        assert float(first[2]) >= float(second[2])  # best first


def test_translate_json(tr):
    objs = json_lines(cli("translate", tr.run, *SENTENCES, "--json", "--beam", "2", "--n-best", "2"))
    assert [o["source"] for o in objs] == SENTENCES
    for o in objs:
        assert set(o) == {"source", "translations"}
        assert len(o["translations"]) == 2
        assert all(set(t) == {"text", "score"} and isinstance(t["score"], float) for t in o["translations"])
    one = json.loads(ok(cli("translate", tr.run, SENTENCES[0], "--json", "--beam", "1")).stdout)
    assert len(one["translations"]) == 1


def test_translate_attention_plot(tr, tmp_path):
    png = tmp_path / "attn.png"
    p = ok(cli("translate", tr.run, *SENTENCES, "--attention-plot", png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(p.stdout.splitlines()) == 2 and str(png) in p.stderr


# --- evaluate ---------------------------------------------------------------------------------

def test_evaluate_json(tr):
    m = json.loads(ok(cli("evaluate", tr.run, "--split", "test", "--json")).stdout)
    assert set(m) == {"bleu", "chrf", "loss", "accuracy", "sentences", "signature", "beam"}
    assert m["beam"] == 5  # the run's default search
    assert m["sentences"] == distinct_sources(tr.run, "test")
    assert 0 <= m["bleu"] <= 100 and 0 <= m["chrf"] <= 100 and 0 <= m["accuracy"] <= 1 and m["loss"] > 0
    assert set(m["signature"]) == {"bleu", "chrf"}
    greedy = json.loads(ok(cli("evaluate", tr.run, "--json", "--beam", "1")).stdout)
    assert greedy["beam"] == 1
    assert greedy["loss"] == pytest.approx(m["loss"])  # teacher-forced: the search does not change it


def test_evaluate_text_and_val_split(tr):
    text = ok(cli("evaluate", tr.run)).stdout
    assert text.startswith("test:") and "BLEU" in text and "chrF" in text
    val = ok(cli("evaluate", tr.run, "--split", "val", "--json", "--checkpoint", "last")).stdout
    assert json.loads(val)["sentences"] == distinct_sources(tr.run, "val")
    assert ok(cli("evaluate", tr.run, "--split", "val")).stdout.startswith("val:")


# --- options of the translation task ----------------------------------------------------------

@pytest.mark.parametrize("options,saved", [
    (["--tokens", "char"], {"tokenizer": {"tokens": "char"}}),
    (["--tokens", "sentencepiece", "--vocab-size", "60"], {"tokenizer": {"tokens": "sentencepiece", "vocab_size": 60}}),
    (["--attention", "none"], {"model": {"attention": "none"}}),
    (["--attention", "bahdanau"], {"model": {"attention": "bahdanau"}}),
    (["--cell", "lstm"], {"model": {"cell": "lstm"}}),
    (["--no-bidirectional"], {"model": {"bidirectional": False}}),
    (["--teacher-forcing", "0.5", "--teacher-forcing-schedule", "linear"],
     {"train": {"teacher_forcing": 0.5, "teacher_forcing_schedule": "linear"}}),
    (["--lowercase"], {"data": {"lowercase": True}}),
    (["--split-seed", "5"], {"data": {"split_seed": 5}}),
], ids=["char", "sentencepiece", "no-attention", "bahdanau", "lstm", "unidirectional", "scheduled-sampling",
        "lowercase", "split-seed"])
def test_train_options(tmp_path, pairs_file, options, saved):
    out = tmp_path / "run"
    ok(cli(*train_argv(pairs_file, out, *options, "--steps", "2", "--eval-every", "2")))
    config = json.loads((out / "config.json").read_text())
    for section, values in saved.items():
        for name, value in values.items():
            assert config[section][name] == value, (section, name)
    assert metrics(out)[-1]["step"] == 2
    p = ok(cli("translate", out, "DOS TRES ROJO .", "uno .", "--beam", "2"))
    assert len(p.stdout.splitlines()) == 2, p.stdout
    if "sentencepiece" in options:
        assert (out / "source.model").is_file() and (out / "target.model").is_file()
    if "--split-seed" in options:  # the split records its own seed, not --seed
        assert json.loads((out / "split.json").read_text())["seed"] == 5 and config["train"]["seed"] == 0
    if "--lowercase" in options:
        assert (out / "pairs" / "train.tsv").read_text() == (out / "pairs" / "train.tsv").read_text().lower()
    if "none" in options:  # no attention, nothing to plot
        assert_clean_error(cli("translate", out, "uno .", "--attention-plot", tmp_path / "a.png"), "--attention none")
        assert not (tmp_path / "a.png").exists()


# --- resume with the original command line ----------------------------------------------------

def test_resume_translation_with_the_original_command_line(tmp_path, pairs_file):
    out = tmp_path / "run"
    argv = train_argv(pairs_file, out)
    ok(cli(*argv))
    p = ok(cli(*argv, "--resume", "--steps", "9"))
    assert "trained 9 steps" in p.stdout
    assert metrics(out)[-1]["step"] == 9

    without_task = [a for a in argv if a not in ("--task", "translate")]
    assert len(without_task) == len(argv) - 2
    ok(cli(*without_task, "--resume", "--steps", "12"))
    assert metrics(out)[-1]["step"] == 12
    steps = [r["step"] for r in metrics(out) if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 12  # continued, not restarted

    before = snapshot(out)
    changed = list(argv)
    changed[changed.index("--hidden-size") + 1] = "32"
    assert_clean_error(cli(*changed, "--resume", "--steps", "15"), "cannot change")
    assert "--hidden-size" in cli(*changed, "--resume", "--steps", "15").stderr
    assert_clean_error(cli(*argv, "--resume", "--steps", "15", "--attention", "none"), "cannot change")
    assert_clean_error(cli("train", "--task", "lm", "--out", out, "--resume"), "drop --task")
    assert snapshot(out) == before  # a refused resume changes nothing


def test_resume_needs_only_the_run_directory(tmp_path, pairs_file):
    """The split and the tokenizer are stored in the run: resuming works after the data file is gone."""
    data = Path(shutil.copy(pairs_file, tmp_path / "pairs.tsv"))
    out = tmp_path / "run"
    argv = train_argv(data, out, "--tokens", "sentencepiece", "--vocab-size", "60", "--lowercase", "--cell", "lstm",
                      "--no-bidirectional", "--steps", "2", "--eval-every", "2")
    ok(cli(*argv))
    data.unlink()
    ok(cli(*argv, "--resume", "--steps", "4"))
    assert metrics(out)[-1]["step"] == 4
    assert len(ok(cli("translate", out, "DOS ROJO .", "--beam", "1")).stdout.splitlines()) == 1
    assert json.loads(ok(cli("evaluate", out, "--json")).stdout)["sentences"] == distinct_sources(out, "test")


def test_resume_language_model_with_the_original_command_line(tmp_path, tiny_file):
    out = tmp_path / "run"
    argv = ["train", "--data", tiny_file, "--out", out, "--steps", "4", "--eval-every", "2", *TINY_LM]
    ok(cli(*argv))
    ok(cli(*argv, "--resume", "--steps", "6"))
    assert metrics(out)[-1]["step"] == 6
    ok(cli(*argv, "--task", "lm", "--resume", "--steps", "8"))
    assert metrics(out)[-1]["step"] == 8
    assert_clean_error(cli(*argv, "--resume", "--steps", "10", "--seq-len", "8"), "cannot change")


# --- bad input --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "short.tsv").write_text("uno .\tone .\ndos .\ttwo .\ntres .\n", encoding="utf-8")
    (d / "empty_side.tsv").write_text("uno .\tone .\ndos .\t  \n", encoding="utf-8")
    return d


@pytest.mark.parametrize("args,matches", [
    (["--data", "{bad}/short.tsv"], ["short.tsv line 3", "--target-column 2"]),
    (["--data", "{pairs}", "--source-column", "5"], ["--source-column 5 is out of range", "2 columns"]),
    (["--data", "{bad}/empty_side.tsv"], ["line 2", "empty target side"]),
    (["--data", "{pairs}", "--max-length", "1"], ["no training pair is left after --max-length 1"]),
    (["--data", "{pairs}", "--tokens", "bpe"], ["invalid choice: 'bpe'"]),
    (["--data", "{bad}/missing.tsv"], ["missing.tsv not found"]),
    (["--data", "{pairs}", "--target-column", "1"], ["--target-column"]),
    ([], ["--data: no data file given"]),
    (["--data", "{pairs}", "--tokens", "sentencepiece", "--vocab-size", "5"], ["--vocab-size"]),
], ids=["too-few-columns", "column-out-of-range", "empty-side", "max-length", "unknown-tokenizer", "missing-file",
        "same-columns", "no-data", "sentencepiece-too-small"])
def test_train_bad_input(tmp_path, pairs_file, bad_files, args, matches):
    out = tmp_path / "new"
    p = cli("train", "--task", "translate", "--out", out, *[a.format(bad=bad_files, pairs=pairs_file) for a in args],
            *TINY_TR)
    for match in matches:
        assert_clean_error(p, match)
    nothing_written(out)


def test_train_bad_input_leaves_an_existing_run_intact(tmp_path, tr, pairs_file, bad_files):
    run = tmp_path / "run"
    shutil.copytree(tr.run, run)
    before = snapshot(run)
    for bad in (["--data", bad_files / "short.tsv"], ["--data", pairs_file, "--max-length", "1"],
                ["--data", pairs_file, "--source-column", "5"]):
        p = cli("train", "--task", "translate", "--out", run, "--overwrite", *bad, *TINY_TR)
        assert_clean_error(p, "")
        assert snapshot(run) == before
        assert not list(tmp_path.glob(".run*"))
    assert_clean_error(cli(*train_argv(pairs_file, run)), "--overwrite")  # and it is not replaced silently
    assert snapshot(run) == before


def test_verbs_on_the_wrong_kind_of_run(tr, lm_run):
    assert_clean_error(cli("translate", lm_run, "hola"), "language-model run")
    assert "rnnkit sample" in cli("translate", lm_run, "hola").stderr
    assert_clean_error(cli("sample", tr.run), "translation run")
    assert "rnnkit translate" in cli("sample", tr.run).stderr
    assert_clean_error(cli("evaluate", lm_run, "--beam", "2"), "--beam")
    assert_clean_error(cli("evaluate", lm_run, "--length-penalty", "0"), "--length-penalty")
    ok(cli("evaluate", lm_run, "--json"))  # evaluate dispatches on the run's kind


def test_translate_bad_input(tr, tmp_path):
    assert_clean_error(cli("translate", tr.run, ""), "input sentence 1 is empty")
    assert_clean_error(cli("translate", tr.run, "uno .", "   "), "input sentence 2 is empty")
    assert_clean_error(cli("translate", tr.run, input="\n  \n"), "no sentence to translate")
    assert_clean_error(cli("translate", tr.run, "uno .", "--n-best", "3", "--beam", "2"), "--n-best")
    assert_clean_error(cli("translate", tr.run, "uno .", "--beam", "0"), "--beam")
    assert_clean_error(cli("translate", tmp_path / "missing", "uno ."), "not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(cli("translate", empty, "uno ."), "not an rnnkit run directory")
    assert_clean_error(cli("evaluate", tr.run, "--beam", "0"), "--beam")


def test_evaluate_a_checkpoint_outside_its_run(tr, tmp_path):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(tr.run / "best.safetensors", lonely / "x.safetensors")
    assert len(ok(cli("translate", lonely / "x.safetensors", "uno .", "--beam", "1")).stdout.splitlines()) == 1
    assert_clean_error(cli("evaluate", lonely / "x.safetensors"), "needs the run directory")  # the split lives in the run


@pytest.fixture
def tampered(tr, tmp_path) -> SimpleNamespace:
    """Copies of the run: one with a flipped byte in best.safetensors, one with it truncated."""
    flipped, cut = tmp_path / "flipped", tmp_path / "cut"
    raw = (tr.run / "best.safetensors").read_bytes()
    for run in (flipped, cut):
        shutil.copytree(tr.run, run)
    (flipped / "best.safetensors").write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    (cut / "best.safetensors").write_bytes(raw[: len(raw) // 2])
    return SimpleNamespace(flipped=flipped, cut=cut)


def test_tampered_translation_checkpoint(tampered):
    assert_clean_error(cli("translate", tampered.flipped, "uno ."), "checksum")
    assert_clean_error(cli("evaluate", tampered.flipped), "checksum")
    assert_clean_error(cli("translate", tampered.cut, "uno ."), "damaged or truncated")
    ok(cli("translate", tampered.flipped, "uno .", "--checkpoint", "last"))  # the other checkpoint still works


def test_errors_in_a_real_process(tr, tampered, tmp_path, pairs_file, bad_files):
    """The same errors as above from ``python -m rnnkit.cli``: no traceback, no warning, one line."""
    assert_clean_error(run_cli("translate", tampered.flipped, "uno ."), "checksum")
    assert_clean_error(run_cli_input("translate", tr.run, input=""), "no sentence to translate")
    out = tmp_path / "new"
    assert_clean_error(run_cli(*train_argv(bad_files / "short.tsv", out)), "line 3")
    nothing_written(out)


# --- help -------------------------------------------------------------------------------------

def test_help_of_each_task():
    tr_help = cli("train", "--task", "translate", "--help")
    assert tr_help.returncode == 0
    for flag in ("--source-column", "--target-column", "--attention", "--tokens", "--teacher-forcing", "--resume"):
        assert flag in tr_help.stdout, flag
    assert "--seq-len" not in tr_help.stdout
    lm_help = cli("train", "--help")
    assert lm_help.returncode == 0
    for flag in ("--task", "--seq-len", "--level", "--cell", "--resume"):
        assert flag in lm_help.stdout, flag
    assert "--source-column" not in lm_help.stdout
    translate_help = cli("translate", "--help")
    assert translate_help.returncode == 0
    for flag in ("--beam", "--n-best", "--length-penalty", "--json", "--attention-plot"):
        assert flag in translate_help.stdout, flag
