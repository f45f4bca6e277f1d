"""The encoder-decoder model and its decoding: teacher forcing against step-by-step decoding,
padding invariance, greedy vs beam search, scheduled sampling, length caps and the metrics."""

import math

import numpy as np
import pytest
import sacrebleu
import torch

from rnnkit.translate.batching import make_batch
from rnnkit.translate.metrics import quality
from rnnkit.translate.model import Memory, Seq2Seq, Seq2SeqConfig
from rnnkit.translate.search import beam_search, greedy, length_caps
from rnnkit.translate.task import TranslateTrainConfig
from rnnkit.core.pieces import EOS, PAD

V = 12  # 4 specials + 8 words per language
NO_TARGET = np.zeros(0, dtype=np.int64)


def tiny_model(seed=0, attention="luong", cell="gru", bidirectional=True, layers=1, dropout=0.0) -> Seq2Seq:
    torch.manual_seed(seed)
    cfg = Seq2SeqConfig(cell=cell, layers=layers, hidden_size=16, embedding_size=8, dropout=dropout,
                        bidirectional=bidirectional, attention=attention)
    return Seq2Seq(cfg, V, V + 1).eval()  # different vocabulary sizes on each side


def sentences(seed, n, lo=1, hi=8):
    rng = np.random.default_rng(seed)
    return [rng.integers(4, V, size=int(rng.integers(lo, hi + 1))) for _ in range(n)]


def batch_of(sources, targets=None):
    return make_batch(sources, targets if targets is not None else [NO_TARGET] * len(sources))


# -- teacher forcing = step-by-step decoding ---------------------------------------------------
@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_teacher_forced_logits_equal_step_by_step_decoding(attention, cell, bidirectional):
    model = tiny_model(1, attention, cell, bidirectional, layers=2)
    batch = batch_of(sentences(2, 4), sentences(3, 4))
    with torch.no_grad():
        fused = model(batch.source, batch.lengths, batch.target_in)  # (B, T, V)
        memory, state = model.encode(batch.source, batch.lengths)
        steps = []
        for t in range(batch.target_in.size(1)):
            logits, state, weights = model.decode_step(batch.target_in[:, t], state, memory)
            steps.append(logits)
            if attention == "none":
                assert weights is None
            else:
                torch.testing.assert_close(weights.sum(-1), torch.ones(4))
    assert fused.shape == (4, batch.target_in.size(1), V + 1)
    torch.testing.assert_close(torch.stack(steps, dim=1), fused, rtol=1e-5, atol=1e-5)


# -- a sentence's translation does not depend on its batch -------------------------------------
@pytest.mark.parametrize("attention,cell", [("none", "lstm"), ("bahdanau", "gru"), ("luong", "rnn"),
                                            ("luong", "lstm")])
def test_translation_does_not_depend_on_the_batch(attention, cell):
    model = tiny_model(4, attention, cell)
    srcs = sentences(5, 6, lo=1, hi=9)
    mid = int(np.argsort([len(s) for s in srcs])[3])  # some sentences are longer, some shorter
    batch = batch_of(srcs)
    caps = length_caps(batch.lengths, 2.0, 3, 25)
    alone = batch_of([srcs[mid]])
    alone_caps = length_caps(alone.lengths, 2.0, 3, 25)
    assert batch.source.size(1) > alone.source.size(1)  # the sentence is padded in the batch

    together = greedy(model, batch.source, batch.lengths, caps, attention=attention != "none")
    single = greedy(model, alone.source, alone.lengths, alone_caps, attention=attention != "none")[0]
    assert together[mid].tokens == single.tokens
    assert together[mid].score == pytest.approx(single.score, abs=1e-4)
    if attention != "none":
        steps = len(single.tokens) + (len(single.tokens) < int(alone_caps[0]))  # EOS is a step too
        assert together[mid].attention.shape == (steps, len(srcs[mid]) + 1)
        np.testing.assert_allclose(together[mid].attention, single.attention, atol=1e-5)

    beams = beam_search(model, batch.source, batch.lengths, caps, beam=4, alpha=1.0, n_best=3)
    beams_alone = beam_search(model, alone.source, alone.lengths, alone_caps, beam=4, alpha=1.0, n_best=3)[0]
    assert [h.tokens for h in beams[mid]] == [h.tokens for h in beams_alone]
    assert [h.score for h in beams[mid]] == pytest.approx([h.score for h in beams_alone], abs=1e-4)


# -- greedy and beam search ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_beam_of_one_is_greedy(seed):
    model = tiny_model(seed, attention=["none", "bahdanau", "luong", "luong"][seed], cell=["gru", "lstm", "rnn", "gru"][seed])
    batch = batch_of(sentences(10 + seed, 8))
    caps = length_caps(batch.lengths, 2.0, 3, 20)
    g = greedy(model, batch.source, batch.lengths, caps)
    b = beam_search(model, batch.source, batch.lengths, caps, beam=1, alpha=0.0)
    for gh, bh, cap in zip(g, b, caps.tolist()):
        assert len(bh) == 1
        assert bh[0].tokens == gh.tokens
        assert bh[0].score == pytest.approx(gh.score, abs=1e-4)
        assert len(gh.tokens) <= cap and EOS not in gh.tokens


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_finds_higher_scoring_translations_than_greedy(seed):
    model = tiny_model(seed)
    batch = batch_of(sentences(seed, 8))
    caps = length_caps(batch.lengths, 2.0, 3, 20)
    g = greedy(model, batch.source, batch.lengths, caps)
    b = beam_search(model, batch.source, batch.lengths, caps, beam=5, alpha=0.0, n_best=5)
    gains = [hyps[0].score - gh.score for hyps, gh in zip(b, g)]
    assert min(gains) >= -1e-5
    assert max(gains) > 1e-3
    for hyps in b:
        assert len(hyps) == 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 5  # distinct hypotheses


class Confident:
    """A stand-in for a trained model (label-smoothed, so its distributions are peaked): at step t
    it gives its next target token probability 0.9 whatever was read before, the rest spread
    evenly, EOS a little above the rest. Its target is ``length`` tokens, then EOS."""

    def __init__(self, length: int, vocab: int = V):
        self.length, self.vocab = length, vocab

    def encode(self, source, lengths):
        B, S = source.shape
        mask = torch.arange(S)[None, :] < lengths[:, None]
        return Memory(torch.zeros(B, S, 1), None, mask), torch.zeros(1, B, 1)  # state: the step number

    def decode_step(self, previous, state, memory):
        t = int(state[0, 0, 0])
        want = EOS if t >= self.length else 4 + t % (self.vocab - 4)
        p = torch.ones(self.vocab, dtype=torch.float64)
        p[EOS] = 1.5
        p[want] = 0
        p = 0.1 * p / p.sum()
        p[want] = 0.9
        logits = p.log().expand(previous.size(0), -1).clone()
        return logits, state + 1, None

    def reorder_state(self, state, index):
        return state.index_select(1, index)

    def start_tokens(self, batch, device):
        return torch.full((batch,), 2, dtype=torch.long)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_keeps_a_confident_translation(alpha):
    """Greedy finds the 0.9-per-token translation; beam search must not return a worse one.

    Each step an early EOS (probability ~0.01) ranks among the top K candidates and finishes a
    poor hypothesis; those K poor hypotheses must not end the search while a live one is better.
    """
    model = Confident(length=8)
    batch = batch_of(sentences(17, 3))
    caps = length_caps(batch.lengths, 2.0, 10, 30)
    g = greedy(model, batch.source, batch.lengths, caps)
    assert [h.tokens for h in g] == [[4, 5, 6, 7, 8, 9, 10, 11]] * 3
    assert g[0].score == pytest.approx(9 * math.log(0.9), abs=1e-5)
    for hyps in beam_search(model, batch.source, batch.lengths, caps, beam=5, alpha=alpha):
        assert hyps[0].tokens == g[0].tokens


def test_beam_scores_are_the_model_log_probabilities():
    """A hypothesis' raw score (alpha 0) is its teacher-forced log-probability, EOS included;
    with alpha it is divided by GNMT's ((5 + n) / 6) ** alpha."""
    model = tiny_model(7, attention="bahdanau", cell="lstm")
    srcs = sentences(8, 3)
    batch = batch_of(srcs)
    caps = length_caps(batch.lengths, 2.0, 3, 20)
    for alpha in (0.0, 0.8):
        results = beam_search(model, batch.source, batch.lengths, caps, beam=3, alpha=alpha, n_best=3)
        for src, hyps, cap in zip(srcs, results, caps.tolist()):
            for h in hyps:
                one = batch_of([src], [np.array(h.tokens, dtype=np.int64)])
                with torch.no_grad():
                    logp = torch.log_softmax(model(one.source, one.lengths, one.target_in), -1)[0]
                gold = one.target_out[0]  # the tokens, then EOS
                picks = gold if len(h.tokens) < cap else gold[:-1]  # a hypothesis cut at the cap has no EOS
                total = float(logp[torch.arange(len(picks)), picks].sum())
                n = len(h.tokens) + 1
                assert h.score == pytest.approx(total / ((5 + n) / 6) ** alpha, abs=1e-4)


# -- scheduled sampling --------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["constant", "linear", "exponential", "inverse-sigmoid"])
def test_teacher_forcing_schedules(schedule):
    cfg = TranslateTrainConfig(teacher_forcing=0.9, teacher_forcing_end=0.3, teacher_forcing_schedule=schedule)
    at = cfg.teacher_forcing_at
    if schedule == "constant":
        assert at(0) == at(0.5) == at(1) == 0.9
        return
    expected_mid = {"linear": 0.6, "exponential": math.sqrt(0.9 * 0.3), "inverse-sigmoid": 0.6}[schedule]
    assert at(0.5) == pytest.approx(expected_mid, abs=1e-12)
    if schedule == "inverse-sigmoid":
        assert at(0) == pytest.approx(0.9, abs=1e-2) and at(1) == pytest.approx(0.3, abs=1e-2)
    else:
        assert at(0) == pytest.approx(0.9, abs=1e-12) and at(1) == pytest.approx(0.3, abs=1e-12)
    grid = [at(p) for p in np.linspace(0, 1, 41)]
    assert all(a > b for a, b in zip(grid, grid[1:]))  # strictly decreasing from start to end
    assert at(-1) == at(0) and at(2) == at(1)  # progress is clamped to [0, 1]


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
def test_scheduled_sampling_in_training_mode(attention):
    model = tiny_model(9, attention, "lstm", layers=2).train()  # dropout 0: training mode is deterministic
    batch = batch_of(sentences(10, 5), sentences(11, 5, lo=3))
    forced = model(batch.source, batch.lengths, batch.target_in, teacher_forcing=1.0)
    # just below 1: the step-by-step sampling path, which still reads every gold token
    torch.manual_seed(0)
    stepped = model(batch.source, batch.lengths, batch.target_in, teacher_forcing=1 - 1e-9)
    torch.testing.assert_close(stepped, forced, rtol=1e-5, atol=1e-5)
    torch.manual_seed(0)
    own = model(batch.source, batch.lengths, batch.target_in, teacher_forcing=0.0)
    assert own.shape == forced.shape
    torch.testing.assert_close(own[:, 0], forced[:, 0], rtol=1e-5, atol=1e-5)  # both read BOS first
    assert not torch.allclose(own[:, 1:], forced[:, 1:], atol=1e-3)
    # teacher_forcing 0 reads the model's own argmax: the same as feeding those tokens as gold
    fed = batch.target_in.clone()
    fed[:, 1:] = torch.where(batch.target_in[:, 1:] == PAD, PAD, own[:, :-1].argmax(-1))
    torch.testing.assert_close(model(batch.source, batch.lengths, fed), own, rtol=1e-5, atol=1e-5)


def test_scheduled_sampling_gradients_flow():
    model = tiny_model(12, "luong", "gru").train()
    batch = batch_of(sentences(13, 3), sentences(14, 3))
    model(batch.source, batch.lengths, batch.target_in, teacher_forcing=0.5).sum().backward()
    assert model.encoder.rnn.weight_ih_l0.grad.abs().sum() > 0


# -- length caps ---------------------------------------------------------------------------------
def test_length_caps():
    lengths = torch.tensor([1, 3, 5, 40, 200])
    caps = length_caps(lengths, 2.0, 10, 50)
    assert caps.tolist() == [12, 16, 20, 50, 50]
    assert caps.dtype == torch.long
    assert length_caps(torch.tensor([3, 4]), 1.5, 0, 100).tolist() == [4, 6]  # floor of ratio * length


def test_greedy_and_beam_stop_at_the_cap():
    model = tiny_model(15)
    batch = batch_of(sentences(16, 4))
    caps = torch.tensor([1, 2, 3, 4])
    for h, cap in zip(greedy(model, batch.source, batch.lengths, caps), caps.tolist()):
        assert len(h.tokens) <= cap
    for hyps, cap in zip(beam_search(model, batch.source, batch.lengths, caps, beam=3, alpha=1.0, n_best=3), caps.tolist()):
        assert hyps and all(len(h.tokens) <= cap for h in hyps)


# -- metrics ---------------------------------------------------------------------------------------
def test_quality_is_sacrebleu_with_a_variable_number_of_references():
    hyps = ["The cat sat on the mat.", "A dog barked loudly!", "Where is the library?", "hello"]
    refs = [
        ["The cat sat on the mat.", "A cat was sitting on the mat."],
        ["The dog barked loudly!"],
        ["Where's the library?", "Where is the library?", "Where can I find the library?"],
        ["hi there"],
    ]
    streams = [
        ["The cat sat on the mat.", "The dog barked loudly!", "Where's the library?", "hi there"],
        ["A cat was sitting on the mat.", None, "Where is the library?", None],
        [None, None, "Where can I find the library?", None],
    ]
    q = quality(hyps, refs)
    assert q.bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score, abs=1e-9)
    assert q.chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score, abs=1e-9)
    # the extra references count: with only the first reference the scores are lower
    first = [[r[0] for r in refs]]
    assert q.bleu > sacrebleu.corpus_bleu(hyps, first).score
    assert 0 < q.bleu < 100 and 0 < q.chrf < 100
    assert "nrefs:var" in q.signature["bleu"] and "tok:13a" in q.signature["bleu"]
    assert "nrefs:var" in q.signature["chrf"]
    perfect = quality(["a b c d e", "f g h"], [["a b c d e"], ["x y", "f g h"]])
    assert perfect.bleu == pytest.approx(100) and perfect.chrf == pytest.approx(100)
    with pytest.raises(ValueError):
        quality(hyps, refs[:2])
