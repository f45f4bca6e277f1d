"""The search space: parsing against a task's options, every bad entry, grids, --try, best.toml."""

import itertools
import tomllib

import optuna
import pytest

from rnnkit import tasks
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.tune.results import to_toml
from rnnkit.tune.space import from_table, nested, options_of, parse_try

LM = tasks.TASKS["lm"]


def test_space_entries_become_optuna_distributions():
    space = from_table({"rnn.cell": {"choices": ["lstm", "gru"]}, "rnn.hidden_size": {"low": 16, "high": 64, "step": 16},
                        "train.lr": {"low": 3e-4, "high": 1e-2, "log": True},
                        "rnn.dropout": {"low": 0.0, "high": 0.5, "step": 0.1}, "model": {"choices": ["rnn"]}}, LM)
    d = space.distributions()
    assert d["rnn.cell"] == optuna.distributions.CategoricalDistribution(("lstm", "gru"))
    assert d["rnn.hidden_size"] == optuna.distributions.IntDistribution(16, 64, step=16)
    assert d["train.lr"] == optuna.distributions.FloatDistribution(3e-4, 1e-2, log=True)
    assert d["rnn.dropout"] == optuna.distributions.FloatDistribution(0.0, 0.5, step=0.1)
    by_key = {p.key: p for p in space.params}
    assert by_key["rnn.dropout"].grid_values() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert by_key["rnn.hidden_size"].grid_values() == [16, 32, 48, 64]
    with pytest.raises(RnnkitError, match="'train.lr' is a continuous range; the grid sampler needs a step"):
        space.grid()


def test_every_option_of_every_task_is_a_space_key():
    for spec in tasks.TASKS.values():
        opts = options_of(spec)
        assert "train.lr" in opts and "train.seed" in opts
        assert not any(k.startswith(spec.use_section + ".") for k in opts)  # sampling etc.: not trained
    assert {"rnn.cell", "data.data", "model"} <= set(options_of(LM))


@pytest.mark.parametrize("table, message", [
    ({"rnn.cel": {"choices": ["gru"]}}, "'rnn.cel' is not an option of this task; valid options are "),
    ({"rnn.hidden_size": {"choices": [256, "big"]}}, "expected a whole number, got 'big'"),
    ({"rnn.cell": {"choices": []}}, "choices must be a non-empty list"),
    ({"rnn.cell": {"choices": ["lstm", "transformer"]}}, "unknown value 'transformer'; choose from rnn, lstm, gru"),
    ({"rnn.cell": {"choices": ["gru", "gru"]}}, "choices repeat a value"),
    ({"train.lr": {"low": 1e-2, "high": 1e-3}}, "low (0.01) must be below high (0.001)"),
    ({"train.lr": {"low": 1e-2, "high": 1e-2}}, "must be below high"),
    ({"train.lr": {"low": 0.0, "high": 1e-2, "log": True}}, "a log range must be above 0"),
    ({"train.lr": {"low": 1e-3}}, "a range needs both low and high"),
    ({"train.lr": {"low": 1e-3, "high": 1e-2, "step": -1.0}}, "step must be positive"),
    ({"train.lr": {"low": 1e-3, "high": 1e-2, "log": "yes"}}, "expected true or false"),
    ({"train.lr": {"low": 1e-3, "high": 1e-2, "scale": 2}}, "unknown field 'scale'"),
    ({"rnn.cell": {"low": 1, "high": 2}}, "a str option takes choices"),
    ({"rnn.hidden_size": {"low": 16.5, "high": 64}}, "expected a whole number"),
    ({"rnn.cell": ["lstm"]}, "expected a table such as"),
    ({}, "expected a [space] table with at least one option"),
])
def test_bad_space_entries(table, message):
    with pytest.raises(RnnkitError) as e:
        from_table(table, LM)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(RnnkitError) as e:
        from_table({"rnn.size": {"choices": [1]}}, LM)
    assert "rnn.hidden_size" in str(e.value) and "train.lr" in str(e.value)


def test_grid_is_the_product_of_the_values():
    space = from_table({"rnn.cell": {"choices": ["lstm", "gru"]}, "rnn.hidden_size": {"choices": [16, 32, 64]},
                        "train.lr": {"choices": [1e-3, 3e-3, 1e-2]}}, LM)
    assert space.grid_size() == 18
    assert len(list(itertools.product(*space.grid().values()))) == 18


def test_try_parses_values_as_toml_and_checks_them_against_the_space():
    space = from_table({"rnn.cell": {"choices": ["lstm", "gru"]}, "rnn.hidden_size": {"low": 256, "high": 1024, "step": 256},
                        "train.lr": {"low": 3e-4, "high": 1e-2, "log": True}}, LM)
    assert parse_try("rnn.hidden_size=768 train.lr=2e-3 rnn.cell=gru", space) == {
        "rnn.hidden_size": 768, "train.lr": 2e-3, "rnn.cell": "gru"}
    for text, message in [("rnn.layers=3", "'rnn.layers' is not an option of the study's space; use one of rnn.cell"),
                          ("rnn.cell=rnn", "'rnn' is not among the space's choices (lstm, gru)"),
                          ("train.lr=0.5", "outside the space's range"),
                          ("rnn.hidden_size=700", "outside the space's range 256..1024 (step 256)"),
                          ("rnn.hidden_size=big", "expected a whole number"),
                          ("train.lr", "is not key=value"), ("", "give at least one key=value")]:
        with pytest.raises(RnnkitError, match="--try") as e:
            parse_try(text, space)
        assert message in str(e.value), (text, str(e.value))


def test_best_toml_round_trips_a_configuration():
    data = nested({"model": "rnn", "rnn.cell": "gru", "rnn.dropout": 0.1, "train.lr": 1e-5, "train.steps": 10,
                   "data.data": 'a "quoted" path\\x', "rnn.tie_weights": False, "train.max_time": float("inf")})
    text = to_toml(data)
    assert tomllib.loads(text) == data
    assert from_dict(LM.config, tomllib.loads(text)).rnn.cell == "gru"
    with pytest.raises(RnnkitError, match="TOML cannot hold"):
        to_toml({"train": {"steps": None}})


def test_every_task_has_validation_metrics_to_tune_on():
    from rnnkit.tune.study import METRICS

    assert set(METRICS) == set(tasks.TASKS)
