"""``rnnkit tune`` in one process: grid, hand-chosen trials, pruning, samplers, metrics, results, bad input."""

import csv
import math
import itertools
import json
import tempfile
import tomllib
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from conftest import assert_clean_error, cli, ok
from tune_fixtures import load, one_thread, write_study_files


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    yield from one_thread(monkeypatch)


GRID = '[space]\n"rnn.cell" = { choices = ["lstm", "gru"] }\n"train.lr" = { choices = [0.003, 0.03] }\n'


def read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_grid_enumerates_the_product_then_a_hand_trial_runs_next(tmp_path):
    base, space = write_study_files(tmp_path, space=GRID)
    out = tmp_path / "study"
    p = ok(cli("tune", "--config", base, "--space", space, "--sampler", "grid", "--out", out))
    assert "4 complete (target 4)" in p.stdout
    study = load(out)
    combos = [(t.params["rnn.cell"], t.params["train.lr"]) for t in study.trials]
    assert sorted(combos) == sorted(itertools.product(["lstm", "gru"], [0.003, 0.03]))  # each point exactly once
    rows = read_csv(out / "trials.csv")
    assert [r["state"] for r in rows] == ["complete"] * 4 and {r["chosen_by"] for r in rows} == {"sampler"}
    assert {f.name for f in (out / "plots").iterdir()} == {"history.png", "importances.png", "parallel.png", "slices.png"}
    for n in range(4):  # each trial is a complete run with its own configuration
        saved = json.loads((out / "trials" / f"{n:03d}" / "config.json").read_text())
        assert (saved["rnn"]["cell"], saved["train"]["lr"]) == combos[n]

    # best.toml trains the winner: the same configuration, the same validation loss
    best = min(study.trials, key=lambda t: t.value)
    ok(cli("train", "--config", out / "best.toml", "--out", tmp_path / "again"))
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert again == json.loads((out / "trials" / f"{best.number:03d}" / "config.json").read_text())
    last_val = [json.loads(l) for l in (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()][-1]
    assert last_val["best_val"] == pytest.approx(best.value, rel=1e-6)

    # a hand-chosen trial on the finished study runs next and is trained although its values were
    # tried before; then the sampler has nothing new to try in this 4-point space, so the study stops
    p = ok(cli("tune", "--out", out, "--try", "rnn.cell=gru train.lr=0.003", "--sampler", "random", "--trials", "5"))
    assert "stopped early: every one of the 4 points of the space has been trained" in p.stdout
    study = load(out)
    assert len(study.trials) == 5
    hand = study.trials[4]
    assert hand.params == {"rnn.cell": "gru", "train.lr": 0.003} and hand.user_attrs["hand_chosen"] is True
    assert "repeat_of" not in hand.user_attrs and (out / "trials" / "004" / "config.json").is_file()
    assert [r["chosen_by"] for r in read_csv(out / "trials.csv")][4:] == ["hand"]
    same = next(t for t in study.trials[:4] if t.params == hand.params)  # a trial is deterministic
    assert hand.value == pytest.approx(same.value, rel=1e-6)

    s = ok(cli("tune", "--out", out, "--show"))
    assert f"best: trial {best.number}" in s.stdout and "importances (fANOVA): " in s.stdout
    assert "hand" in s.stdout and "5 complete; target 6" in s.stdout


def test_pruned_trials_are_recorded_as_pruned(tmp_path):
    base, space = write_study_files(tmp_path, space='[space]\n"train.lr" = { low = 1e-6, high = 0.05, log = true }\n')
    out = tmp_path / "study"
    good = ["--try", "train.lr=0.03"] * 3
    p = ok(cli("tune", "--config", base, "--space", space, "--prune", "median", "--trials", "1", "--out", out,
               *good, "--try", "train.lr=1e-6"))
    trials = load(out).trials
    assert [t.state for t in trials[:3]] == [TrialState.COMPLETE] * 3
    assert trials[3].state == TrialState.PRUNED and max(trials[3].intermediate_values) == 4  # its first validation
    assert trials[3].value == trials[3].intermediate_values[4]  # Optuna keeps a pruned trial's last value
    row = read_csv(out / "trials.csv")[3]
    assert row["state"] == "pruned" and row["last_step"] == "4" and row["chosen_by"] == "hand"
    assert "1 pruned" in p.stdout
    assert json.loads((out / "trials" / "003" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 4


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_model_based_samplers_and_hyperband(tmp_path, sampler):
    base, space = write_study_files(tmp_path, steps=4)
    out = tmp_path / "study"
    ok(cli("tune", "--config", base, "--space", space, "--sampler", sampler, "--startup-trials", "1", "--trials", "3",
           "--seed", "3", "--prune", "hyperband", "--out", out))
    study = load(out)
    assert len(study.trials) == 3 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    assert len({t.params["train.lr"] for t in study.trials}) == 3
    assert json.loads((out / "study.json").read_text()) == {"storage": None, "study": "study"}


def test_metric_and_trial_time(tmp_path):
    base, space = write_study_files(tmp_path, space='[space]\n"train.lr" = { choices = [0.003, 0.03] }\n')
    out = tmp_path / "study"
    ok(cli("tune", "--config", base, "--space", space, "--sampler", "grid", "--metric", "accuracy", "--trial-time", "30", "--task", "lm",
           "--out", out, "--study", "acc"))
    study = load(out, "acc")
    assert study.direction.name == "MAXIMIZE"
    for t in study.trials:
        run = out / "trials" / f"{t.number:03d}"
        assert json.loads((run / "config.json").read_text())["train"]["max_time"] == 30.0
        e = ok(cli("evaluate", run, "--split", "val", "--json"))
        assert t.value == pytest.approx(json.loads(e.stdout)["accuracy"])
    assert tomllib.loads((out / "best.toml").read_text())["train"]["max_time"] == 30.0


def test_bad_input(tmp_path):
    base, space = write_study_files(tmp_path)
    bad = tmp_path / "bad.toml"
    out = tmp_path / "study"
    cases = [
        (["--space", bad], '[space]\n"rnn.hiden_size" = { choices = [8] }\n', "'rnn.hiden_size' is not an option of this task; valid options are"),
        (["--space", bad], '[space]\n"train.lr" = { low = 0.0, high = 0.1, log = true }\n', "a log range must be above 0"),
        (["--space", bad], '[space]\n"rnn.cell" = { choices = [] }\n', "choices must be a non-empty list"),
        (["--space", bad], '[space]\n"train.lr" = { low = 0.1, high = 0.01 }\n', "must be below high"),
        (["--space", bad], '[space]\n"rnn.layers" = { choices = ["two"] }\n', "expected a whole number, got 'two'"),
        (["--space", bad], '[train]\nsteps = 3\n', "expected only a [space] table"),
        (["--space", space, "--sampler", "grid"], None, "is a continuous range; the grid sampler needs a step"),
        (["--space", space, "--storage", "sqlite:///x.db", "--workers", "2"], None, "SQLite cannot be shared by 2 workers"),
        (["--space", space, "--storage", "postgresql://rnnkit@127.0.0.1:1/none"], None, "cannot be reached"),
        (["--space", space, "--try", "rnn.layers=3"], None, "'rnn.layers' is not an option of the study's space"),
        (["--space", space, "--try", "rnn.cell=rnn"], None, "is not among the space's choices"),
        (["--space", space, "--metric", "bleu"], None, "--metric: 'bleu' is not a validation metric of --task lm"),
        (["--space", space, "--metric", "accuracy", "--prune", "median"], None, "--metric accuracy is maximized"),
        (["--space", space, "--workers", "0"], None, "--workers must be at least 1"),
        (["--space", space, "--startup-trials", "-1"], None, "--startup-trials: must be 0 or more"),
        (["--space", space, "--trials", "0"], None, "--trials must be at least 1"),
        (["--space", space, "--trial-time", "-1"], None, "--trial-time must be positive"),
        ([], None, "--space is required to start a study"),
    ]
    for args, text, message in cases:
        if text is not None:
            bad.write_text(text)
        assert_clean_error(cli("tune", "--config", base, "--out", out, *args), message)
        assert not (out / "study.json").exists()
    assert_clean_error(cli("tune", "--out", tmp_path, "--space", space), "exists and is not a tune folder")
    assert_clean_error(cli("tune", "--out", out, "--show"), "holds no study")
    assert_clean_error(cli("tune-worker", "--storage", tmp_path / "none.journal", "--study", "x", "--out", out),
                       "there is no study 'x'")
    assert_clean_error(cli("tune-worker", "--storage", "sqlite:///x.db", "--study", "x"), "SQLite cannot be shared")
    ok(cli("tune", "--config", base, "--space", space, "--sampler", "random", "--trials", "1", "--out", out))
    bad.write_text('[space]\n"rnn.cell" = { choices = ["gru"] }\n')
    assert_clean_error(cli("tune", "--out", out, "--space", bad), "--space differs from the study's")
    assert_clean_error(cli("tune", "--out", out, "--trial-time", "5"), "--trial-time differs from the study's")
    assert_clean_error(cli("tune", "--out", out, "--show", "--try", "train.lr=0.01"), "--show only prints the study")
    assert_clean_error(cli("tune", "--out", out, "--try", "train.lr=7"), "outside the space's range")
    assert len(load(out).trials) == 1  # nothing was enqueued by the refused calls


def test_any_task_of_the_registry(tmp_path):
    """A forecasting study: the space is checked against the forecaster's options, the metric is its MASE."""
    rows = ["Month,Passengers"] + [f"{2000 + i // 12:04d}-{i % 12 + 1:02d},{100 + 0.5 * i + 10 * math.sin(i / 2):.3f}"
                                   for i in range(96)]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "base.toml").write_text(f'[data]\ndata = "{tmp_path / "s.csv"}"\n[model]\nhidden_size = 8\nhorizon = 6\n'
                                        f'[train]\nsteps = 20\nepochs = 50\npatience = 0\n')
    (tmp_path / "space.toml").write_text('[space]\n"model.cell" = { choices = ["gru", "lstm"] }\n')
    out = tmp_path / "study"
    assert_clean_error(cli("tune", "--task", "forecast", "--config", tmp_path / "base.toml", "--space", tmp_path / "bad.toml",
                           "--out", out), "not found")
    (tmp_path / "bad.toml").write_text('[space]\n"rnn.cell" = { choices = ["gru"] }\n')
    assert_clean_error(cli("tune", "--task", "forecast", "--config", tmp_path / "base.toml", "--space", tmp_path / "bad.toml",
                           "--out", out), "'rnn.cell' is not an option of this task; valid options are calibration.calibration_windows, data.column")
    p = ok(cli("tune", "--task", "forecast", "--config", tmp_path / "base.toml", "--space", tmp_path / "space.toml",
               "--sampler", "grid", "--metric", "mase", "--out", out))
    study = load(out)
    assert sorted(t.params["model.cell"] for t in study.trials) == ["gru", "lstm"]
    for t in study.trials:
        e = json.loads(ok(cli("evaluate", out / "trials" / f"{t.number:03d}", "--split", "val", "--json")).stdout)
        assert t.value == pytest.approx(e["mase"])
    assert "rnnkit train --task forecast --config" in p.stdout


def test_help_lists_the_verbs_and_their_options():
    assert "tune-worker" in ok(cli("--help")).stdout
    t = ok(cli("tune", "--help")).stdout
    for flag in ("--out", "--task", "--config", "--space", "--sampler", "--trials", "--trial-time", "--metric", "--prune",
                 "--startup-trials", "--seed", "--workers", "--storage", "--study", "--try", "--show"):
        assert flag in t, flag
    w = ok(cli("tune-worker", "--help")).stdout
    for flag in ("--storage", "--study", "--out", "--threads", "--quiet"):
        assert flag in w, flag


def test_a_sampler_repeat_takes_the_earlier_result_without_training(tmp_path):
    """Random search on a 3-point space proposes values already trained; those trials reuse the
    earlier result, train nothing and do not count, and the study ends when every point is trained."""
    base, space = write_study_files(tmp_path, space='[space]\n"rnn.hidden_size" = { choices = [8, 12, 16] }\n')
    out = tmp_path / "study"
    p = ok(cli("tune", "--config", base, "--space", space, "--sampler", "random", "--trials", "5", "--out", out))
    study = load(out)
    repeats = [t for t in study.trials if "repeat_of" in t.user_attrs]
    trained = [t for t in study.trials if "repeat_of" not in t.user_attrs]
    assert repeats, "this seed's proposals repeat a point (the premise of the test)"
    assert sorted(t.params["rnn.hidden_size"] for t in trained) == [8, 12, 16]  # each point trained once
    for t in repeats:
        earlier = study.trials[t.user_attrs["repeat_of"]]
        assert earlier.params == t.params and earlier.number < t.number and t.value == earlier.value
        assert not (out / "trials" / f"{t.number:03d}").exists()  # nothing trained
    assert f"{len(trained)} complete" in p.stdout and f"{len(repeats)} repeat" in p.stdout
    assert "stopped early: every one of the 3 points of the space has been trained" in p.stdout
    rows = read_csv(out / "trials.csv")
    assert {r["chosen_by"] for r in rows if r["number"] in {str(t.number) for t in repeats}} == {
        f"repeat of {t.user_attrs['repeat_of']}" for t in repeats}


def test_repeat_of_and_search_over_on_a_recorded_study():
    """A repeat of a pruned trial is found as such (the objective then prunes it without training);
    trials that are themselves repeats are never the original; 50 repeats in a row end the search."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    from rnnkit import tasks
    from rnnkit.tune.space import load_space
    from rnnkit.tune.study import MAX_REPEATS, repeat_of, search_over

    dist = {"train.lr": FloatDistribution(1e-3, 1e-1, log=True), "rnn.cell": CategoricalDistribution(["lstm", "gru"])}
    study = optuna.create_study()
    a, b = {"train.lr": 0.01, "rnn.cell": "lstm"}, {"train.lr": 0.02, "rnn.cell": "gru"}
    study.add_trial(create_trial(params=a, distributions=dist, value=1.0))
    study.add_trial(create_trial(params=b, distributions=dist, state=TrialState.PRUNED, intermediate_values={4: 2.0}))
    assert repeat_of(study, 5, a).number == 0 and repeat_of(study, 5, b).state == TrialState.PRUNED
    assert repeat_of(study, 0, a) is None and repeat_of(study, 5, {"train.lr": 0.03, "rnn.cell": "lstm"}) is None
    space_file = Path(tempfile.mkdtemp()) / "space.toml"
    space_file.write_text('[space]\n"train.lr" = { low = 1e-3, high = 1e-1, log = true }\n'
                          '"rnn.cell" = { choices = ["lstm", "gru"] }\n')
    space = load_space(space_file, tasks.TASKS["lm"])
    assert search_over(study, space) == ""  # a continuous range never runs out of points
    for _ in range(MAX_REPEATS - 1):
        study.add_trial(create_trial(params=a, distributions=dist, value=1.0, user_attrs={"repeat_of": 0}))
    assert search_over(study, space) == ""
    study.add_trial(create_trial(params=a, distributions=dist, value=1.0, user_attrs={"repeat_of": 0}))
    assert "50 times in a row" in search_over(study, space)
    assert repeat_of(study, 10**6, a).number == 0  # the original, not one of its repeats


def _entity_file(path: Path, sentences: int = 120) -> Path:
    """A CoNLL file of ``visit PLACE now`` / ``meet PERSON now`` sentences, in BIO tags."""
    rows = []
    for i in range(sentences):
        k = i % 2
        rows.append(f"{['visit', 'meet'][k]}\tO\n{['Rome', 'Ann'][k]}\t{['B-LOC', 'B-PER'][k]}\nnow\tO\n")
    path.write_text("\n".join(rows))
    return path


def test_a_tagging_study_optimizes_the_validation_span_f1(tmp_path):
    """The tagger's evaluate gives a dict (spans nested): the objective is its validation entity F1."""
    data = _entity_file(tmp_path / "ner.conll")
    (tmp_path / "base.toml").write_text(
        f'[data]\ndata = "{data}"\n[model]\nword_size = 8\nhidden_size = 8\nlayers = 1\nchar_encoder = "none"\n'
        f'dropout = 0.0\n[train]\nsteps = 12\neval_every = 6\nmax_time = 60\n')
    (tmp_path / "space.toml").write_text('[space]\n"train.lr" = { choices = [0.001, 0.03] }\n')
    out = tmp_path / "study"
    ok(cli("tune", "--task", "tag", "--config", tmp_path / "base.toml", "--space", tmp_path / "space.toml",
           "--sampler", "grid", "--metric", "f1", "--out", out))
    study = load(out)
    assert study.direction.name == "MAXIMIZE" and len(study.trials) == 2
    values = []
    for t in study.trials:
        assert t.state == TrialState.COMPLETE, t.user_attrs.get("error")
        e = json.loads(ok(cli("evaluate", out / "trials" / f"{t.number:03d}", "--split", "val", "--json")).stdout)
        assert t.value == pytest.approx(e["spans"]["f1"])
        values.append(t.value)
    assert max(values) > min(values)  # two learning rates, two scores: the objective is read from each run


def test_span_f1_of_a_tagger_without_entity_tags_is_a_named_error(tmp_path):
    from rnnkit import tasks
    from rnnkit.core.errors import RnnkitError
    from rnnkit.tune.study import _validation_score

    spec = tasks.TASKS["tag"]
    (tmp_path / "pos.conll").write_text("the\tDET\ncat\tNOUN\n\n" * 30)
    cfg = spec.config()
    cfg.data.data = str(tmp_path / "pos.conll")
    cfg.model.word_size, cfg.model.hidden_size, cfg.model.layers, cfg.model.char_encoder = 8, 8, 1, "none"
    cfg.train.steps = 2
    spec.api.train(cfg, tmp_path / "run")
    accuracy = spec.api.evaluate(spec.api.load(tmp_path / "run"), "val", tmp_path / "run")["accuracy"]
    assert _validation_score(spec, tmp_path / "run", "accuracy") == pytest.approx(accuracy)
    with pytest.raises(RnnkitError, match="--metric f1: the run's tags .scheme none. have no entity spans"):
        _validation_score(spec, tmp_path / "run", "f1")


@pytest.mark.parametrize(("task", "base", "space", "metric", "name"), [
    ("tag", {}, [], "val_loss", "best validation error"),  # the tagger keeps its lowest validation error
    ("tag", {"train": {"select": "loss"}}, [], "val_loss", "best validation loss"),
    ("classify", {}, [], "val_loss", "best validation error"),
    ("classify", {"train": {"select": "loss"}}, [], "val_loss", "best validation loss"),
    ("classify", {}, [{"key": "train.select"}], "val_loss", "best validation score (loss or error"),
    ("lm", {}, [], "val_loss", "best validation loss"),
    ("tag", {}, [], "f1", "validation f1"),
])
def test_the_study_names_its_objective_as_the_trainer_scores_it(task, base, space, metric, name):
    from rnnkit.tune.results import objective_name
    from rnnkit.tune.study import Setup

    setup = Setup(task, base, space, metric, None, 1, {})
    assert objective_name(setup).startswith(name)
