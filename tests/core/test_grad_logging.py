"""The training loop logs the gradient norm before clipping and the share of clipped steps per interval."""

import json

import pytest
import torch
from torch import nn

from rnnkit.core.trainer import TrainConfig, fit
from rnnkit.core.rundir import METRICS_FILE


class LinearTask:
    """loss_k = c_k * sum(w) with w of 4 elements: the gradient is c_k * ones(4), its norm 2 * c_k."""

    def __init__(self, scales):
        self.model = nn.Linear(4, 1, bias=False)
        self.scales = scales
        self.progress = 0.0

    def steps_per_epoch(self):
        return len(self.scales)

    def batches(self, epoch, start):
        yield from self.scales[start:]

    def loss(self, c, carry):
        return c * self.model.weight.sum(), None, 1

    def validate(self):
        return 0.0

    def checkpoint_meta(self):
        return {"kind": "toy"}

    def checkpoint_tensors(self):
        return {}


def train_rows(tmp_path, **kw):
    cfg = TrainConfig(steps=6, log_every=2, eval_every=100, lr=1e-3, optimizer="sgd", momentum=0.0, **kw)
    events = []
    fit(LinearTask([1.0, 2.0, 3.0, 4.0, 0.5, 5.0]), cfg, tmp_path, torch.device("cpu"), on_event=events.append)
    rows = [json.loads(l) for l in (tmp_path / METRICS_FILE).read_text().splitlines()]
    return [r for r in rows if r["kind"] == "train"], [e for e in events if e.kind == "train"]


@pytest.mark.parametrize("kw, rates, clipped", [
    ({"clip_norm": 5.0}, [0.0, 1.0, 0.5], [0, 2, 3]),        # clipped when 2c > 5: c = 3, 4, 5
    ({"clip_norm": 0.0}, [0.0, 0.0, 0.0], [0, 0, 0]),        # no clipping: the norm is measured alone
    ({"clip_value": 2.5, "clip_norm": 0.0}, [0.0, 1.0, 0.5], [0, 2, 3]),  # elements c > 2.5
])
def test_grad_norm_is_the_mean_norm_before_clipping(tmp_path, kw, rates, clipped):
    rows, events = train_rows(tmp_path, **kw)
    assert [r["step"] for r in rows] == [2, 4, 6]
    # mean of 2c over each interval of two steps, whatever clipping did afterwards
    assert [r["grad_norm"] for r in rows] == pytest.approx([3.0, 7.0, 5.5])
    assert [r["clip_rate"] for r in rows] == rates
    assert [r["clipped"] for r in rows] == clipped  # the cumulative count is kept as before
    assert [(e.grad_norm, e.clip_rate) for e in events] == [(r["grad_norm"], r["clip_rate"]) for r in rows]


def test_grad_norm_with_both_clippings_is_taken_before_either(tmp_path):
    rows, _ = train_rows(tmp_path, clip_value=2.5, clip_norm=100.0)
    assert [r["grad_norm"] for r in rows] == pytest.approx([3.0, 7.0, 5.5])
    assert [r["clip_rate"] for r in rows] == [0.0, 1.0, 0.5]
