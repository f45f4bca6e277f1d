"""What ``rnnkit diagnose`` measures on a translation run (see ``diagnose/bias_variance.py``).

Errors are teacher-forced cross-entropies in nats per target token (the training loss, read in
evaluation mode), on a seeded sample of the run's training pairs and on its validation pairs.
Translation has no cheap baseline that is strong on this scale (a phrase table or a copy of the
source says little about a network's achievable loss), so there is no built-in reference: the
user passes one with ``--reference`` (e.g. a larger model's validation loss on the same split).
"""

from __future__ import annotations

from pathlib import Path

from ..core import subsample
from ..diagnose.bias_variance import Measurement, Thresholds
from . import api, pairs
from .task import encode_pairs, score_pairs, training_pairs

TRAIN_SAMPLE = 20_000  # the most training pairs scored (as many as the validation split has, up to this)
RELATIVE_THRESHOLD = 0.05  # a gap above 5% of the validation loss is high


def measure(run_dir: Path, reference: bool = True, device: str = "cpu") -> Measurement:
    tr = api.load(run_dir, device)
    cfg = tr.config
    train = training_pairs(tr.codec, pairs.read_split(Path(run_dir), "train"), cfg.data.max_length)
    val = [p for p in encode_pairs(tr.codec, pairs.read_split(Path(run_dir), "val")) if len(p[0]) and len(p[1])]
    size = min(len(train), len(val), TRAIN_SAMPLE)
    train = [train[i] for i in subsample.subset(len(train), size / len(train), cfg.train.seed)]
    tr_loss, _, tr_tokens = score_pairs(tr.model, train, tr.device)
    va_loss, _, va_tokens = score_pairs(tr.model, val, tr.device)
    share = RELATIVE_THRESHOLD * va_loss
    return Measurement(tr_loss, va_loss, None, "", "nats/target token", Thresholds(share, share), tr_tokens, va_tokens)
