"""What ``rnnkit diagnose`` measures on a sequence tagger (see ``diagnose/bias_variance.py``).

Errors are token error rates in percent on the run's training sentences (evaluation mode: no
dropout) and its validation sentences. The reference (``baseline.py``), fitted on the training sentences and
scored on the validation sentences: each word's most frequent training tag (parts of speech, any tags without
an entity scheme), or, for entity tags (BIO/IOBES), a per-token logistic regression on the token's spelling
and its neighbours' words, without a recurrent model or a CRF. Gaps above 1 percentage point are high (tagging
errors are a few percent, so 2 points, as for classification, would hide most of them).
"""

from __future__ import annotations

from pathlib import Path

from ..diagnose.bias_variance import Measurement, Thresholds
from . import api, metrics
from . import data as rundata
from .baseline import MostFrequentTag, TokenClassifier
from .scheme import ENTITY_SCHEMES

THRESHOLD = 1.0  # percentage points


def error(gold: list[list[str]], pred: list[list[str]]) -> float:
    return 100 * (1 - metrics.accuracy(gold, pred)[0])


def measure(run_dir: Path, reference: bool = True, device: str = "cpu") -> Measurement:
    tagger = api.load(run_dir, device)
    saved = rundata.reread(Path(run_dir), tagger.config.data)  # read once for both parts
    train, val = (api.split_sentences(tagger, p, run_dir, saved) for p in ("train", "val"))
    errors = [error([s.tags for s in part], api.tag(tagger, [s.tokens for s in part])) for part in (train, val)]
    ref, name = None, ""
    if reference:
        ref, name = _reference(tagger, train, val)
    return Measurement(errors[0], errors[1], ref, name, "token error rate %", Thresholds(THRESHOLD, THRESHOLD),
                       sum(len(s.tokens) for s in train), sum(len(s.tokens) for s in val))


def _reference(tagger, train, val) -> tuple[float, str]:
    """The baseline's validation token error rate and its name."""
    tokens, tags = [s.tokens for s in train], [s.tags for s in train]
    if tagger.scheme in ENTITY_SCHEMES:
        base, name = TokenClassifier(tokens, tags), "a per-token logistic regression (no RNN, no CRF)"
    else:
        base, name = MostFrequentTag(tokens, tags, tagger.config.words.lowercase), "each word's most frequent training tag"
    return error([s.tags for s in val], base.predict([s.tokens for s in val])), name
