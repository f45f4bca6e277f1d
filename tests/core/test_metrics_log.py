"""The metrics log and the window of steps a training row sums up, alone."""

import json

import pytest
import torch

from rnnkit.core import distributed
from rnnkit.core.metrics_log import LogWindow, MetricsLog
from rnnkit.core.resume import LoopState

CPU = torch.device("cpu")


def _steps(window, *steps):
    for loss, units, norm, clipped in steps:
        window.add(torch.tensor(loss), units, torch.tensor(norm), clipped)


def test_a_window_gives_its_means_and_starts_over():
    w = LogWindow(LoopState(), CPU)
    _steps(w, (2.0, 10, 1.0, False), (4.0, 30, 3.0, True))
    m = w.take()
    assert (m.loss, m.grad_norm, m.clip_rate) == (3.0, 2.0, 0.5) and m.tokens_per_s > 0 and m.sec_per_step > 0
    _steps(w, (5.0, 1, 7.0, False))
    m = w.take()
    assert (m.loss, m.grad_norm, m.clip_rate) == (5.0, 7.0, 0.0)


def test_a_window_kept_in_a_checkpoint_gives_the_same_row():
    w = LogWindow(LoopState(), CPU)
    _steps(w, (2.0, 10, 1.0, False), (4.0, 30, 3.0, True))
    st = LoopState()
    w.store(st)
    resumed = LogWindow(st, CPU)
    for window in (w, resumed):
        _steps(window, (9.0, 5, 2.0, True))
    a, b = w.take(), resumed.take()
    assert (a.loss, a.grad_norm, a.clip_rate) == (b.loss, b.grad_norm, b.clip_rate) == (5.0, 2.0, 2 / 3)


def test_the_window_loss_is_the_mean_over_ranks(monkeypatch):
    monkeypatch.setattr(distributed, "world", lambda: 2)
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda v: [v[0] + 10.0])  # the other rank's sum: 10
    w = LogWindow(LoopState(), CPU)
    _steps(w, (2.0, 1, 1.0, False), (4.0, 1, 1.0, False))
    assert w.take().loss == pytest.approx((6.0 + 10.0) / 2 / 2)


def test_the_log_drops_the_rows_a_resumed_run_writes_again(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"kind": "train", "step": s, "loss": 1.0 / s} for s in (1, 2, 3, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kind": "tr')  # the last line cut by a kill
    log = MetricsLog(path, keep_until=2)
    log.write({"kind": "val", "step": 3})
    log.close()
    assert log.rows == rows[:2] + [{"kind": "val", "step": 3}]
    assert [json.loads(line) for line in path.read_text().splitlines()] == log.rows
    quiet = MetricsLog(path, keep_until=None, write=False)  # another rank of a data-parallel run
    quiet.write({"kind": "train", "step": 1})
    quiet.close()
    assert quiet.rows == [{"kind": "train", "step": 1}] and len(path.read_text().splitlines()) == 3
    fresh = MetricsLog(path, keep_until=None)
    fresh.close()
    assert fresh.rows == [] and path.read_text() == ""
