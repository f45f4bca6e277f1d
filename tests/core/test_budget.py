"""The training budget (steps, epochs, seconds) and the clock, alone."""

from types import SimpleNamespace

from rnnkit.core import budget, distributed
from rnnkit.core.budget import Budget, Clock


def test_the_smaller_step_limit_counts_and_names_the_stop():
    assert Budget.of(steps=50, epochs=2, max_time=None, per_epoch=30) == Budget(50, "steps", 2, None)
    assert Budget.of(steps=70, epochs=2, max_time=None, per_epoch=30) == Budget(60, "epochs", 2, None)
    assert Budget.of(steps=None, epochs=None, max_time=5.0, per_epoch=30) == Budget(None, "", None, 5.0)


def test_progress_is_the_larger_share_and_remaining_the_nearer_end():
    b = Budget.of(steps=100, epochs=None, max_time=60.0, per_epoch=10)
    assert b.progress(25, 30.0) == 0.5  # half the time, a quarter of the steps
    assert b.progress(75, 30.0) == 0.75
    assert b.remaining(75, 30.0, sec_per_step=2.0) == 30.0  # the clock ends first (25 steps would take 50 s)
    assert b.remaining(90, 30.0, sec_per_step=2.0) == 20.0  # the steps end first
    unbounded = Budget.of(None, None, None, per_epoch=10)
    assert unbounded.progress(5, 5.0) == 0.0 and unbounded.remaining(5, 5.0, 1.0) is None


def test_spent_names_epochs_before_steps():
    b = Budget.of(steps=None, epochs=2, max_time=None, per_epoch=5)
    assert b.spent(1, 9) == "" and not b.steps_done(9)
    assert b.spent(2, 10) == "epochs" and b.steps_done(10)
    b = Budget.of(steps=7, epochs=2, max_time=None, per_epoch=5)
    assert b.spent(1, 6) == "" and b.spent(1, 7) == "steps"


def test_the_clock_counts_the_seconds_before_a_resume(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(budget, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    clock = Clock(max_time=10.0, elapsed=4.0)
    assert clock.elapsed() == 4.0
    now[0] = 105.9
    assert not clock.out_of_time()
    now[0] = 106.0
    assert clock.out_of_time()
    assert not Clock(max_time=None, elapsed=1e9).out_of_time()


def test_ranks_agree_on_what_their_clocks_say_only_under_a_time_limit(monkeypatch):
    asked = []
    monkeypatch.setattr(distributed, "any_rank", lambda flag: asked.append(flag) or True)  # another rank says yes
    assert Clock(max_time=10.0, world=2).agreed(False) is True and asked == [False]
    # without a time limit every rank counts the same steps: no collective
    assert Clock(max_time=None, world=2).agreed(False) is False and asked == [False]
    assert Clock(max_time=10.0, world=1).agreed(False) is False and asked == [False]
