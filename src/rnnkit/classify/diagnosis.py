"""What ``rnnkit diagnose`` measures on a sequence classifier (see ``diagnose/bias_variance.py``).

Errors are classification error rates in percent, on the run's training examples (evaluation
mode: no dropout) and its validation examples. The reference (``baseline.py``), fitted on the
training examples and scored on the validation ones: TF-IDF + logistic regression for text,
1-nearest neighbour for numeric series. Gaps above 2 percentage points are high, as for audio.
The errors are the recurrent model's alone: a text run's TF-IDF mix (``reference.py``) is the
reference itself, mixed in after training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..diagnose.bias_variance import Measurement, Thresholds
from . import api, baseline
from . import data as rundata

THRESHOLD = 2.0  # percentage points


def reference_error(clf: api.Classifier, train, y_train: np.ndarray, val, y_val: np.ndarray) -> tuple[float, str]:
    if clf.kind == "text":
        model = baseline.tfidf_logistic(train.inputs, y_train, clf.config.train.seed)
        pred, name = model.predict(val.inputs), "TF-IDF (words, word pairs) + logistic regression on the training texts"
    else:
        pred = baseline.nearest_neighbour(clf.encoder.encode(train.inputs), y_train, clf.encoder.encode(val.inputs))
        name = "1-nearest neighbour (Euclidean, resampled scaled series) on the training examples"
    return float(100 * (pred != y_val).mean()), name


def measure(run_dir: Path, reference: bool = True, device: str = "cpu") -> Measurement:
    clf = api.load(run_dir, device, mix=False)  # the recurrent model alone (the mix is the reference's)
    saved = rundata.reread(Path(run_dir), clf.config.data)  # read once for both parts
    (train, y_train), (val, y_val) = (api.pick(clf, saved, s) for s in ("train", "val"))
    errors = [float(100 * (api.probabilities(clf, e.inputs).argmax(1) != y).mean())
              for e, y in ((train, y_train), (val, y_val))]
    ref, name = reference_error(clf, train, y_train, val, y_val) if reference else (None, "")
    return Measurement(errors[0], errors[1], ref, name, "error rate %", Thresholds(THRESHOLD, THRESHOLD),
                       len(y_train), len(y_val))
