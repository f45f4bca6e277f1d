"""N-gram baselines: smoothing against hand-computed values and a plain-Python reference,
the model call protocol, saving, and the flags' error messages."""

from collections import Counter
from fractions import Fraction as Fr

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit.text import ngram, ngram_steps
from rnnkit.core.errors import RnnkitError
from rnnkit.text.evaluation import metrics, score
from rnnkit.text.ngram import NGramConfig, NGramModel
from rnnkit.text.sampling import SampleConfig, generate

# "abracadabra" over the vocabulary a b c d r z (z never occurs): ids 0 1 2 3 4 5
ABC = {c: i for i, c in enumerate("abcdrz")}
ABRACADABRA = np.array([ABC[c] for c in "abracadabra"], np.uint16)


def probs(model: NGramModel, *contexts: str) -> np.ndarray:
    """Probabilities after each context written as letters ('_' = before the text)."""
    rows = [[-1 if c == "_" else ABC[c] for c in ctx] for ctx in contexts]
    return np.exp(model.log_probs(np.array(rows, np.int64).reshape(len(rows), -1)).astype(np.float64))


def random_text(n: int, V: int, seed: int, used: int | None = None) -> np.ndarray:
    """A Markov-ish random text over the first ``used`` ids (so some ids never occur)."""
    rng = np.random.default_rng(seed)
    used = used or V
    steps = rng.choice([0, 1, 1, 2, 3], size=n)  # repeated structure, so contexts recur
    return (np.cumsum(steps) % used).astype(np.uint16)


def random_contexts(M: int, N: int, V: int, seed: int) -> np.ndarray:
    """Random (M, N-1) contexts, a third of them left-padded with -1."""
    rng = np.random.default_rng(seed)
    ctx = rng.integers(0, V, size=(M, N - 1))
    pad = rng.integers(0, N, size=M)
    ctx[np.arange(N - 1)[None, :] < pad[:, None]] = -1
    return ctx


# -- a plain-Python reference, written from the formulas in the NGramModel docstring ----------


def reference_probs(text, N: int, V: int, cfg: NGramConfig, context: tuple) -> list[float]:
    text = [int(t) for t in text]
    count = {n: Counter(tuple(text[i : i + n]) for i in range(len(text) - n + 1)) for n in range(1, N + 1)}
    real = []
    for t in reversed(context):  # longest run of real tokens at the end
        if t < 0:
            break
        real.insert(0, t)
    h = tuple(real)
    if cfg.smoothing == "add-k":
        c = [count[len(h) + 1][h + (w,)] for w in range(V)]
        return [(c[w] + cfg.add_k) / (sum(c) + cfg.add_k * V) for w in range(V)]
    continuation = {n: Counter(g[1:] for g in count[n + 1]) for n in range(1, N)}

    def a(g):
        return count[N][g] if len(g) == N else continuation[len(g)][g]

    def p_order(h, w):  # P_{len(h)+1}, whose lower order is P_{len(h)} (P_0 = uniform)
        lower = p_order(h[1:], w) if h else 1 / V
        n_counts = [a(h + (x,)) for x in range(V)]
        total = sum(n_counts)
        if total == 0:
            return lower
        types = sum(x > 0 for x in n_counts)
        return max(n_counts[w] - cfg.discount, 0) / total + cfg.discount * types / total * lower

    return [p_order(h, w) for w in range(V)]


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, flag", [
    ({"order": 0}, "--order: must be at least 1, got 0"),
    ({"add_k": 0.0}, "--add-k"),
    ({"discount": 0.0}, "--discount"),
    ({"discount": 1.0}, "--discount"),
    ({"smoothing": "good-turing"}, "--smoothing"),
])
def test_bad_config_names_the_flag(bad, flag):
    with pytest.raises(RnnkitError, match=flag):
        NGramConfig(**bad)


def test_bad_tokens_are_clear_errors():
    with pytest.raises(RnnkitError, match="empty"):
        NGramModel.fit(NGramConfig(), np.zeros(0, np.uint16), 5)
    with pytest.raises(RnnkitError, match="token id 7 is outside the vocabulary of 5"):
        NGramModel.fit(NGramConfig(), np.array([1, 2, 7], np.uint16), 5)


# -- probabilities ------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_probabilities_sum_to_one(smoothing, order):
    V = 9
    model = NGramModel.fit(NGramConfig(order=order, smoothing=smoothing), random_text(400, V, 0, used=7), V)
    ctx = random_contexts(300, order, V, 1)  # includes ids 7 and 8, never seen in training
    lp = model.log_probs(ctx)
    assert lp.shape == (300, V) and lp.dtype == np.float32
    assert np.isfinite(lp).all()
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(axis=1), 1.0, atol=1e-5)


def test_kneser_ney_bigram_by_hand():
    model = NGramModel.fit(NGramConfig(order=2, discount=0.5), ABRACADABRA, 6)
    # bigrams: ab 2, br 2, ra 2, ac 1, ca 1, ad 1, da 1 (10 in all, 7 distinct)
    # unigram continuation counts N1+(. w): a 3 (ra ca da), b 1, c 1, d 1, r 1, z 0; sum 7, 5 types
    # P1(w) = max(N1+(. w) - 1/2, 0) / 7 + (1/2 * 5 / 7) * 1/6
    p1_a = Fr(5, 2) / 7 + Fr(5, 84)  # = 35/84 = 5/12
    p1_b = Fr(1, 2) / 7 + Fr(5, 84)  # = 11/84 (same for c, d, r)
    p1_z = Fr(5, 84)
    assert p1_a + 4 * p1_b + p1_z == 1
    # after a: ab 2, ac 1, ad 1 -> c(a) = 4, N1+(a .) = 3
    # P(b|a) = (2 - 1/2)/4 + (1/2 * 3/4) * 11/84 = 3/8 + 3/8 * 11/84
    after_a = [Fr(3, 8) * p1_a, Fr(3, 8) + Fr(3, 8) * p1_b, Fr(1, 8) + Fr(3, 8) * p1_b,
               Fr(1, 8) + Fr(3, 8) * p1_b, Fr(3, 8) * p1_b, Fr(3, 8) * p1_z]
    assert after_a[1] == Fr(95, 224) and sum(after_a) == 1
    got = probs(model, "a", "z", "_")
    np.testing.assert_allclose(got[0], [float(x) for x in after_a], rtol=1e-6)
    unigram = [p1_a, p1_b, p1_b, p1_b, p1_b, p1_z]  # order a b c d r z
    np.testing.assert_allclose(got[1], [float(x) for x in unigram], rtol=1e-6)  # unseen context backs off
    np.testing.assert_allclose(got[2], [float(x) for x in unigram], rtol=1e-6)  # start of text


def test_kneser_ney_trigram_by_hand():
    model = NGramModel.fit(NGramConfig(order=3, discount=0.5), ABRACADABRA, 6)
    # trigrams: abr 2, bra 2, rac 1, aca 1, cad 1, ada 1, dab 1
    # bigram continuation counts N1+(. v w): every distinct bigram has exactly one left neighbour
    #   (br<-a, ra<-b, ac<-r, ca<-a, ad<-c, da<-a, ab<-d), so a(vw) = 1 for all 7
    # unigram level as in the bigram test: P1(a) = 5/12, P1(b) = P1(c) = 11/84
    p1_a, p1_b = Fr(5, 12), Fr(11, 84)
    # P2(.|a): ab ac ad each 1 -> a(a) = 3, 3 types: P2(b|a) = (1 - 1/2)/3 + (1/2 * 3/3) * P1(b)
    p2_b_a = Fr(1, 6) + Fr(1, 2) * p1_b  # = 13/56
    # P2(.|r): ra 1 -> P2(a|r) = 1/2 + 1/2 * P1(a) = 17/24, P2(b|r) = 1/2 * P1(b) = 11/168
    p2_a_r, p2_b_r = Fr(1, 2) + Fr(1, 2) * p1_a, Fr(1, 2) * p1_b
    # P3(.|b r): bra 2 -> c(br) = 2, 1 type: P3(a|br) = (2 - 1/2)/2 + (1/2 * 1/2) * P2(a|r)
    p3_a_br = Fr(3, 4) + Fr(1, 4) * p2_a_r  # = 89/96
    p3_b_br = Fr(1, 4) * p2_b_r  # = 11/672
    # P3(.|d a): dab 1 -> P3(b|da) = 1/2 + 1/2 * P2(b|a) = 69/112
    p3_b_da = Fr(1, 2) + Fr(1, 2) * p2_b_a
    assert (p2_b_a, p3_a_br, p3_b_br, p3_b_da) == (Fr(13, 56), Fr(89, 96), Fr(11, 672), Fr(69, 112))
    got = probs(model, "br", "da", "za", "_a")
    np.testing.assert_allclose(got[0, [ABC["a"], ABC["b"]]], [float(p3_a_br), float(p3_b_br)], rtol=1e-6)
    np.testing.assert_allclose(got[1, ABC["b"]], float(p3_b_da), rtol=1e-6)
    np.testing.assert_allclose(got[2, ABC["b"]], float(p2_b_a), rtol=1e-6)  # unseen "za": back off to P2(.|a)
    np.testing.assert_allclose(got[3, ABC["b"]], float(p2_b_a), rtol=1e-6)  # start of text: answer with P2


def test_add_k_by_hand():
    model = NGramModel.fit(NGramConfig(order=3, smoothing="add-k", add_k=0.5), ABRACADABRA, 6)
    got = probs(model, "br", "_r", "__", "zz")
    # P(a|br) = (c(bra) + k) / (c(br) + k V) = (2 + 1/2) / (2 + 3) = 1/2; P(b|br) = (1/2) / 5
    np.testing.assert_allclose(got[0, [ABC["a"], ABC["b"]]], [0.5, 0.1], rtol=1e-6)
    # start of text, one real token: bigram counts, c(ra) = 2, c(r) = 2 -> (2 + 1/2) / (2 + 3)
    np.testing.assert_allclose(got[1, ABC["a"]], 0.5, rtol=1e-6)
    # no real token: unigram counts over 11 tokens, a 5, z 0 -> (5 + 1/2) / (11 + 3), (1/2) / 14
    np.testing.assert_allclose(got[2, [ABC["a"], ABC["z"]]], [11 / 28, 1 / 28], rtol=1e-6)
    np.testing.assert_allclose(got[3], np.full(6, 1 / 6), rtol=1e-6)  # unseen context: uniform


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_plain_python_reference(smoothing, order):
    V = 6
    text = random_text(80, V, seed=order, used=5)
    cfg = NGramConfig(order=order, smoothing=smoothing, add_k=0.3, discount=0.6)
    model = NGramModel.fit(cfg, text, V)
    contexts = np.concatenate([random_contexts(40, order, V, 2),
                               np.lib.stride_tricks.sliding_window_view(text.astype(np.int64), order - 1)[:20]])
    expected = np.array([reference_probs(text, order, V, cfg, tuple(c)) for c in contexts])
    np.testing.assert_allclose(np.exp(model.log_probs(contexts).astype(np.float64)), expected, rtol=1e-5)


@pytest.mark.parametrize("V, order", [(7, 5), (300, 4)])  # windows as int32 and as int64 codes
def test_chunked_and_row_wise_counting_agree(monkeypatch, V, order):
    text = random_text(500, V, 3)
    cfg = NGramConfig(order=order)
    whole = NGramModel.fit(cfg, text, V).state_dict()
    monkeypatch.setattr(ngram, "FIT_CHUNK", 37)
    chunked = NGramModel.fit(cfg, text, V).state_dict()
    monkeypatch.setattr(ngram, "CODE_LIMIT", 0)  # as if (V+1)**N overflowed int64
    row_wise = NGramModel.fit(cfg, text, V).state_dict()
    for other in (chunked, row_wise):
        assert other.keys() == whole.keys()
        for name in whole:
            assert torch.equal(other[name], whole[name]), name


def test_vocabulary_too_wide_for_one_code_per_window():
    V, order = 70_000, 4  # 70001**4 > 2**63
    assert (V + 1) ** order > ngram.CODE_LIMIT
    text = (random_text(300, 40, 4).astype(np.int64) * 1700).astype(np.uint32)  # ids spread over 0..66300
    model = NGramModel.fit(NGramConfig(order=order), text, V)
    ctx = np.concatenate([random_contexts(10, order, 40, 5) * 1700, text[:10, None].repeat(3, 1)])
    ctx[ctx < 0] = -1
    lp = model.log_probs(ctx)
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(lp[:, 1], lp.min(axis=1))  # an id that never occurs is the least likely


# -- the model call ---------------------------------------------------------------------------


def test_unigram_greedy_repeats_the_most_frequent_token():
    words = "the cat sat on the mat the dog sat on the log".split()
    vocab = sorted(set(words))
    model = NGramModel.fit(NGramConfig(order=1), np.array([vocab.index(w) for w in words], np.uint16), len(vocab))
    out = generate(model, [vocab.index("dog")], SampleConfig(greedy=True, length=12))
    assert [vocab[i] for i in out[0]] == ["the"] * 12


@pytest.mark.parametrize("order", [1, 2, 4])
def test_call_in_chunks_equals_one_call(order):
    V = 8
    model = NGramModel.fit(NGramConfig(order=order), random_text(300, V, 6), V)
    tokens = torch.from_numpy(random_text(60, V, 7).astype(np.int64)).reshape(3, 20)  # (B, T)
    whole, state = model(tokens, None)
    assert whole.shape == (3, 20, V) and whole.dtype == torch.float32
    assert torch.equal(torch.tensor(state.tokens).reshape(3, order - 1), tokens[:, tokens.size(1) - (order - 1) :])
    parts, s = [], None
    for a, b in [(0, 1), (1, 2), (2, 9), (9, 20)]:  # chunks shorter than the context, too
        lp, s = model(tokens[:, a:b], s)
        parts.append(lp)
    assert torch.equal(torch.cat(parts, dim=1), whole)
    # position t is predicted from the N-1 tokens ending at t (-1 before the text)
    padded = np.concatenate([np.full((3, order - 1), -1), tokens.numpy()], axis=1)
    t = 5
    expected = model.log_probs(padded[:, t + 1 : t + order])
    np.testing.assert_array_equal(whole[:, t].numpy(), expected)


def test_state_dict_round_trip(tmp_path):
    V = 8
    cfg = NGramConfig(order=3)
    model = NGramModel.fit(cfg, random_text(300, V, 8), V)
    save_file(model.state_dict(), tmp_path / "ngram.safetensors")
    loaded = NGramModel(cfg, V)
    loaded.load_state_dict(load_file(tmp_path / "ngram.safetensors"))
    ctx = random_contexts(50, 3, V, 9)
    np.testing.assert_array_equal(loaded.log_probs(ctx), model.log_probs(ctx))
    assert loaded.num_parameters() == model.num_parameters() > V
    with pytest.raises(RnnkitError, match="--smoothing add-k"):
        NGramModel(NGramConfig(order=3, smoothing="add-k"), V).load_state_dict(model.state_dict())
    with pytest.raises(RnnkitError, match="--order 2"):
        NGramModel(NGramConfig(order=2), V).load_state_dict(model.state_dict())


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
def test_test_perplexity_is_finite_with_a_token_never_seen(smoothing):
    V = 8
    model = NGramModel.fit(NGramConfig(order=3, smoothing=smoothing), random_text(500, V, 10, used=6), V)
    test = random_text(200, V, 11)  # uses ids 6 and 7, never seen in training
    assert {6, 7} <= set(test.tolist())
    m = metrics(*score(model, test), chars=len(test) - 1)
    assert np.isfinite(m.perplexity) and 1 < m.perplexity < V * 10


def test_one_step_calls_through_the_cache_equal_one_call(monkeypatch):
    V = 6
    model = NGramModel.fit(NGramConfig(order=3), random_text(400, V, 8), V)
    tokens = torch.from_numpy(random_text(80, V, 9).astype(np.int64))[None]  # contexts repeat: 36 possible
    whole, _ = model(tokens, None)
    monkeypatch.setattr(ngram_steps, "CACHE_BYTES", 12 * V * 10)  # room for 10 rows: the cache empties itself
    model.clear_cache()
    steps, s = [], None
    for t in range(tokens.size(1)):
        lp, s = model(tokens[:, t : t + 1], s)
        steps.append(lp)
        assert len(model._stepper) <= 10 + 3  # a row and its lower orders are added after emptying
    assert torch.equal(torch.cat(steps, dim=1), whole)


def from_scratch(model: NGramModel, history: np.ndarray) -> np.ndarray:
    """The next-token log-probabilities after each row of ``history (B, t)``, its last N-1 tokens
    looked up from nothing (the vectorized path, as every call did before contexts were carried)."""
    N = model.cfg.order
    padded = np.concatenate([np.full((len(history), N - 1), -1), history], axis=1)
    return model.log_probs(padded[:, padded.shape[1] - (N - 1) :])


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_carried_contexts_equal_lookups_from_scratch(monkeypatch, smoothing, order):
    """Generation's path (nodes carried token by token, distributions memoized per node) gives
    the bits of a fresh lookup of every context: padded starts, tokens never seen in training
    (ids 7, 8), contexts seen and unseen, long and short, with the memo emptied now and then."""
    V = 9
    model = NGramModel.fit(NGramConfig(order=order, smoothing=smoothing), random_text(3000, V, 12, used=7), V)
    rng = np.random.default_rng(13)
    seen = random_text(240, V, 14, used=7).reshape(3, 80)  # follows the training text's structure
    text = np.where(rng.random((3, 80)) < 0.05, rng.integers(0, V, (3, 80)), seen)  # with detours off it
    monkeypatch.setattr(ngram_steps, "CACHE_BYTES", 12 * V * 50)
    state = None
    for t in range(text.shape[1]):
        lp, state = model(torch.from_numpy(text[:, t : t + 1]), state)
        np.testing.assert_array_equal(lp[:, 0].numpy(), from_scratch(model, text[:, : t + 1]))
        assert state.nodes == model._stepper.nodes_of(state.tokens)  # the carried rows are the looked-up ones
    # a state from a large call (tokens only) or given as a tensor of tokens carries on the same way
    big, state = model(torch.from_numpy(text[:, :40]), None)
    assert state.nodes is None and big.shape == (3, 40, V)
    for s in (state, torch.tensor(state.tokens).reshape(3, order - 1)):
        lp, _ = model(torch.from_numpy(text[:, 40:44]), s)
        np.testing.assert_array_equal(lp[:, -1].numpy(), from_scratch(model, text[:, :44]))
