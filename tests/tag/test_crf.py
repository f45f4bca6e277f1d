"""The CRF against brute force on tiny cases, and the tag schemes' transitions."""

import itertools

import numpy as np
import pytest
import torch

from rnnkit.tag import scheme
from rnnkit.tag.crf import CRF


def brute(crf: CRF, emissions: torch.Tensor, n: int):
    """Every tag sequence of the first ``n`` positions of one row: log Z, the best sequence, each score."""
    start, trans, end = crf.scores()
    T = emissions.size(-1)
    scores = {}
    for seq in itertools.product(range(T), repeat=n):
        s = start[seq[0]] + sum(emissions[t, seq[t]] for t in range(n))
        s = s + sum(trans[seq[t - 1], seq[t]] for t in range(1, n)) + end[seq[-1]]
        scores[seq] = s
    values = torch.stack(list(scores.values()))
    return torch.logsumexp(values, 0), max(scores, key=lambda k: float(scores[k].detach())), scores


@pytest.fixture
def crf_and_batch():
    torch.manual_seed(0)
    crf = CRF(3).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(3, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 1, 3])
    mask = torch.arange(4)[None] < lengths[:, None]
    return crf, emissions, lengths, mask


def test_partition_and_viterbi_match_enumeration_with_padding(crf_and_batch):
    crf, emissions, lengths, mask = crf_and_batch
    emissions[1, 1:] = 50.0  # padding that would dominate if it were read
    logz = crf.log_partition(emissions, mask)
    best = crf.decode(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        ref_z, ref_best, _ = brute(crf, emissions[b], n)
        torch.testing.assert_close(logz[b], ref_z)
        assert best[b, :n].tolist() == list(ref_best)
        assert best[b, n:].tolist() == [0] * (4 - n)


def test_nll_is_minus_log_probability_of_the_gold_sequence(crf_and_batch):
    crf, emissions, lengths, mask = crf_and_batch
    tags = torch.tensor([[2, 0, 1, 1], [1, 0, 0, 0], [0, 2, 2, 0]])
    nll = crf.nll(emissions, tags, mask)
    for b, n in enumerate(lengths.tolist()):
        z, _, scores = brute(crf, emissions[b], n)
        torch.testing.assert_close(nll[b], z - scores[tuple(tags[b, :n].tolist())])
    probs = sum(torch.exp(-crf.nll(emissions[:1], torch.tensor([seq]), mask[:1]))[0]
                for seq in itertools.product(range(3), repeat=4))
    torch.testing.assert_close(probs, torch.tensor(1.0, dtype=torch.float64))


def test_invalid_bio_transitions_are_never_decoded():
    tags = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    crf = CRF(len(tags), scheme.allowed(tags, "iob2"))
    torch.manual_seed(1)
    emissions = torch.randn(200, 7, len(tags)) * 5
    emissions[..., 2:4] += 4  # I- tags scored highest: a free decoder would often emit them after O
    mask = torch.ones(200, 7, dtype=torch.bool)
    for row in crf.decode(emissions, mask).tolist():
        assert scheme.invalid_positions([tags[i] for i in row], "iob2") == []
    free = emissions.argmax(2).tolist()
    assert any(scheme.invalid_positions([tags[i] for i in row], "iob2") for row in free)  # the case is not trivial


def test_schemes_detected_and_transitions():
    assert scheme.detect({"O", "B-PER", "I-PER"}) == "iob2"
    assert scheme.detect({"O", "S-PER", "B-LOC", "E-LOC"}) == "iobes"
    assert scheme.detect({"NOUN", "VERB"}) == "none"
    assert scheme.invalid_positions(["O", "I-PER"], "iob2") == [1]
    assert scheme.invalid_positions(["B-PER", "I-LOC"], "iob2") == [1]
    assert scheme.invalid_positions(["B-PER", "I-PER", "O"], "iob2") == []
    assert scheme.invalid_positions(["B-PER", "I-PER"], "iobes") == [2]  # an open span must end with E-
    assert scheme.invalid_positions(["S-PER", "B-LOC", "E-LOC"], "iobes") == []
    assert scheme.to_iob2(["S-PER", "B-LOC", "I-LOC", "E-LOC", "O"]) == ["B-PER", "B-LOC", "I-LOC", "I-LOC", "O"]
    start, trans, end = scheme.allowed(["B-X", "I-X", "O"], "iob2")
    assert start.tolist() == [True, False, True] and end.all()
    assert trans.tolist() == [[True, True, True], [True, True, True], [True, False, True]]
    with pytest.raises(Exception, match="scheme"):
        scheme.resolve("iob2", {"O", "NOUN"})
    assert np.array_equal(scheme.allowed(["A", "B"], "none")[1], np.ones((2, 2), bool))
