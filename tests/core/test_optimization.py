"""Gradient clipping by value and by norm, alone (the schedule: test_training.test_lr_schedules)."""

import pytest
import torch
from torch import nn

from rnnkit.core.optimization import clip_gradients


def _param(*grad: float) -> nn.Parameter:
    p = nn.Parameter(torch.zeros(len(grad)))
    p.grad = torch.tensor(grad)
    return p


def test_clip_by_norm_reports_the_norm_before():
    p = _param(3.0, 4.0)
    norm, clipped = clip_gradients([p], clip_norm=1.0, clip_value=0.0)
    assert float(norm) == pytest.approx(5.0) and clipped
    torch.testing.assert_close(p.grad, torch.tensor([0.6, 0.8]))


def test_clip_by_value_then_norm_reports_the_norm_before_either():
    p, q = _param(3.0), _param(4.0)
    norm, clipped = clip_gradients([p, q], clip_norm=1.0, clip_value=2.0)
    assert float(norm) == pytest.approx(5.0) and clipped  # not the 2.83 left after clipping by value
    torch.testing.assert_close(torch.cat([p.grad, q.grad]), torch.full((2,), 2 ** -0.5))


@pytest.mark.parametrize("clip_norm,clip_value", [(1.0, 0.5), (0.0, 0.0), (0.0, 0.45), (0.6, 0.0)])
def test_gradients_within_the_bounds_are_untouched_and_not_counted(clip_norm, clip_value):
    p = _param(0.3, -0.4)
    norm, clipped = clip_gradients([p], clip_norm=clip_norm, clip_value=clip_value)
    assert float(norm) == pytest.approx(0.5) and not clipped
    torch.testing.assert_close(p.grad, torch.tensor([0.3, -0.4]))


def test_clip_by_value_alone_bounds_every_element():
    p = _param(0.1, -3.0, 2.0)
    norm, clipped = clip_gradients([p], clip_norm=0.0, clip_value=1.0)
    assert clipped and float(norm) == pytest.approx((0.01 + 9 + 4) ** 0.5)
    torch.testing.assert_close(p.grad, torch.tensor([0.1, -1.0, 1.0]))
