"""Validation during training and what a score decides (best, early stopping, plateau), alone."""

import pytest
import torch
from torch import nn

from rnnkit.core import distributed
from rnnkit.core.ema import WeightAverage
from rnnkit.core.resume import LoopState
from rnnkit.core.validation import record, validate


def test_best_patience_and_plateau():
    st = LoopState(step=10)
    assert record(st, 2.0, patience=2, plateau=True, latest_is_best=False)
    assert (st.best_val, st.best_step, st.bad_evals, st.plateau_scale) == (2.0, 10, 0, 1.0)
    st.step = 20
    assert not record(st, 2.0, patience=2, plateau=True, latest_is_best=False)  # equal is no improvement
    assert (st.bad_evals, st.plateau_scale, st.stopped) == (1, 0.5, "")
    st.step = 30
    assert record(st, 1.5, patience=2, plateau=True, latest_is_best=False)
    assert (st.best_val, st.best_step, st.bad_evals, st.plateau_scale) == (1.5, 30, 0, 0.5)
    for step, val in ((40, 1.6), (50, 1.7)):
        st.step = step
        assert not record(st, val, patience=2, plateau=True, latest_is_best=False)
    assert st.stopped == "early_stopping" and st.plateau_scale == 0.125
    assert (st.best_val, st.best_step, st.last_val) == (1.5, 30, 1.7)


def test_without_patience_or_plateau_worse_scores_only_count():
    st = LoopState()
    record(st, 1.0, patience=0, plateau=False, latest_is_best=False)
    for _ in range(5):
        record(st, 9.0, patience=0, plateau=False, latest_is_best=False)
    assert (st.stopped, st.plateau_scale, st.bad_evals, st.best_val) == ("", 1.0, 5, 1.0)


def test_an_swa_average_is_the_best_whatever_its_score():
    st = LoopState()
    record(st, 1.0, patience=1, plateau=True, latest_is_best=False)
    st.step = 5
    assert record(st, 3.0, patience=1, plateau=True, latest_is_best=True)
    assert (st.best_val, st.best_step, st.stopped, st.plateau_scale) == (3.0, 5, "", 1.0)


class _Scorer:
    """Reports (mean 0.25 over 4 targets) and notes the mode and weight of the model it scored."""

    def __init__(self):
        self.model = "the DDP-wrapped model"
        self.seen = []

    def validate(self):
        self.seen.append((self.model.training, float(self.model.weight.detach())))
        return 0.25, 4


def _model(w: float) -> nn.Linear:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(w)
    return model


def test_validate_scores_the_average_in_eval_mode_and_puts_everything_back():
    model = _model(1.0)
    average = WeightAverage(model, 0.5)  # holds 1.0
    with torch.no_grad():
        model.weight.fill_(3.0)
    task = _Scorer()
    assert validate(task, model, average) == 0.25
    assert validate(task, model, None) == 0.25
    assert task.seen == [(False, 1.0), (False, 3.0)]
    assert task.model == "the DDP-wrapped model" and model.training and float(model.weight) == 3.0


def test_validate_weighs_each_rank_by_its_targets(monkeypatch):
    monkeypatch.setattr(distributed, "world", lambda: 2)
    # the other rank: mean 1.0 over 2 targets; (0.25 * 4 + 1.0 * 2) / 6, not the plain mean 0.625
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda v: [v[0] + 2.0, v[1] + 2])
    assert validate(_Scorer(), _model(1.0), None) == pytest.approx(0.5)
