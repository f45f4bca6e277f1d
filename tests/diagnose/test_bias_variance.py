"""The seed's verdict as a pure function of train, validation and reference errors."""

import math

import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.diagnose.bias_variance import (BOTH, GOOD_FIT, HIGH_BIAS, HIGH_VARIANCE, Thresholds, check_reference,
                                           verdict)

PERCENT = Thresholds(2.0, 2.0)  # the audio task's thresholds, in percentage points


@pytest.mark.parametrize("train, val, expected", [
    (2.0, 14.0, HIGH_VARIANCE),   # improving-your-rnn.md, all with a human error of 1.5%
    (14.0, 15.0, HIGH_BIAS),
    (14.0, 30.0, BOTH),
    (2.0, 2.4, GOOD_FIT),
])
def test_the_seeds_four_examples(train, val, expected):
    assert verdict(train, val, 1.5, PERCENT) == expected


@pytest.mark.parametrize("train, val, ref, th, expected", [
    (1.0, 1.05, 1.0, Thresholds(0.1, 0.1), GOOD_FIT),
    (1.2, 1.25, 1.0, Thresholds(0.1, 0.1), HIGH_BIAS),      # bias 0.2 > 0.1
    (1.0, 1.2, 1.0, Thresholds(0.1, 0.1), HIGH_VARIANCE),
    (1.25, 1.5, 1.0, Thresholds(0.25, 0.25), GOOD_FIT),    # gaps equal to the thresholds are not above them
    (0.5, 0.55, 1.0, Thresholds(0.1, 0.1), GOOD_FIT),       # a model better than the reference has no avoidable bias
    (0.5, 2.0, 1.0, Thresholds(0.1, 0.1), HIGH_VARIANCE),
    (2.0, 1.8, 1.0, Thresholds(0.1, 0.1), HIGH_BIAS),       # validation below train: no variance
    (3.0, 9.0, 1.0, Thresholds(5.0, 5.0), HIGH_VARIANCE),   # the thresholds decide, in the task's unit
    (3.0, 9.0, 1.0, Thresholds(1.0, 10.0), HIGH_BIAS),
])
def test_synthetic_triples(train, val, ref, th, expected):
    assert verdict(train, val, ref, th) == expected


def test_non_finite_inputs_are_refused():
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(RnnkitError, match="--reference: must be a finite number"):
            check_reference(bad)
        with pytest.raises(RnnkitError, match="not a finite number"):
            verdict(bad, 1.0, 1.0, PERCENT)
    with pytest.raises(RnnkitError, match="--bias-threshold"):
        Thresholds(-1.0, 1.0)
    assert check_reference(3) == 3.0
