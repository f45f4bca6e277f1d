"""Scoring a split in rows (for speed) gives what one pass over it gives."""

import math

import numpy as np
import pytest
import torch

from rnnkit.text import evaluation
from rnnkit.text.ngram import NGramConfig, NGramModel
from rnnkit.text.rnn_lm import RNNConfig, RNNLanguageModel


@pytest.fixture
def tokens():
    rng = np.random.default_rng(0)
    return np.cumsum(rng.integers(0, 3, size=40_000)) % 11  # a structured stream, 40k tokens


def single_stream(monkeypatch, model, tokens):
    monkeypatch.setattr(evaluation, "rows_for", lambda n: 1)
    return evaluation.score(model, tokens)


def test_rows_match_one_stream_for_an_ngram_exactly(tokens, monkeypatch):
    model = NGramModel.fit(NGramConfig(order=4), tokens[:30_000].astype(np.uint16), 11)
    rows = evaluation.score(model, tokens)
    assert evaluation.rows_for(len(tokens) - 1) == 39
    one = single_stream(monkeypatch, model, tokens)
    assert rows[2] == one[2] == len(tokens) - 1
    assert rows[1] == one[1]
    assert math.isclose(rows[0], one[0], rel_tol=1e-6)  # float32 sums in another order


def test_rows_match_one_stream_for_an_lstm(tokens, monkeypatch):
    torch.manual_seed(0)
    model = RNNLanguageModel(RNNConfig(hidden_size=32, embedding_size=8, layers=1), 11).eval()
    rows = evaluation.score(model, tokens)
    one = single_stream(monkeypatch, model, tokens)
    assert rows[2] == one[2]
    assert math.isclose(rows[0], one[0], rel_tol=1e-4)


def test_metrics_units():
    m = evaluation.metrics(nll=200 * math.log(2), correct=50, count=100, chars=200)
    assert m.loss == pytest.approx(2 * math.log(2)) and m.bits_per_char == pytest.approx(1.0)
    assert m.perplexity == pytest.approx(4.0) and m.accuracy == 0.5 and m.tokens == 100
