"""What ``rnnkit diagnose`` measures on an audio run (see ``diagnose/bias_variance.py``).

Errors are classification error rates in percent: on the run's training clips (evaluation
mode: no augmentation, no dropout) and on its validation clips. The reference is a linear
classifier on time-pooled log-mel features (``linear_baseline.py``) fitted on the training clips
and scored on the validation clips. Gaps above 2 percentage points are high: the seed's own
scale (its good fit has gaps of 0.5 and 0.4 points, its worst of 12).
"""

from __future__ import annotations

from pathlib import Path

from ..diagnose.bias_variance import Measurement, Thresholds
from . import api, linear_baseline

THRESHOLD = 2.0  # percentage points


def measure(run_dir: Path, reference: bool = True, device: str = "cpu") -> Measurement:
    clf = api.load(run_dir, device)
    errors, pooled, clips = {}, {}, {}
    for split in ("train", "val"):
        waves, y = api.split_waves(clf, split, run_dir)
        errors[split], clips[split] = float(100 * (api.probabilities(clf, waves).argmax(1) != y).mean()), len(y)
        if reference:
            feats, frames = api.frame_features(clf.frontend, waves, clf.device)
            pooled[split] = (linear_baseline.pooled(feats.cpu(), frames.cpu()), y)
    ref, name = None, ""
    if reference:
        layer = linear_baseline.fit(*pooled["train"], len(clf.labels), clf.config.train.seed)
        ref = linear_baseline.error_rate(layer, *pooled["val"])
        name = "linear classifier on time-pooled log-mel features, fitted on the training clips"
    return Measurement(errors["train"], errors["val"], ref, name, "error rate %", Thresholds(THRESHOLD, THRESHOLD),
                       clips["train"], clips["val"])
