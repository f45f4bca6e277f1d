"""The shared recurrent stack (packing, one-step decoding, beam reordering) and attention
(masking, hand-computed scores)."""

import pytest
import torch

from rnnkit.nn.attention import Attention
from rnnkit.nn.recurrent import RecurrentStack, reorder, step

CELLS = ["rnn", "lstm", "gru"]


def states_of(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_a_sequence(cell, layers, bidirectional):
    torch.manual_seed(0)
    stack = RecurrentStack(cell, 5, 6, layers, bidirectional=bidirectional).double().eval()
    lengths = torch.tensor([3, 7, 1, 5])
    x = torch.randn(4, 7, 5, dtype=torch.float64) * 3  # large garbage in the padded positions too
    out, state = stack(x, lengths)
    D = 2 if bidirectional else 1
    assert out.shape == (4, 7, D * 6)
    final = stack.last_layer_final(state)
    assert final.shape == (4, D * 6)
    for i, n in enumerate(lengths.tolist()):
        alone_out, alone_state = stack(x[i : i + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(out[i, :n], alone_out[0], rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(final[i], stack.last_layer_final(alone_state)[0], rtol=1e-9, atol=1e-9)
        for s, s_alone in zip(states_of(state), states_of(alone_state)):
            torch.testing.assert_close(s[:, i], s_alone[:, 0], rtol=1e-9, atol=1e-9)
        assert torch.equal(out[i, n:], torch.zeros_like(out[i, n:]))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_layer_final_is_the_top_layer_of_each_direction(bidirectional):
    """Forward direction: the output at the last real step; backward: the output at step 0."""
    torch.manual_seed(1)
    stack = RecurrentStack("gru", 3, 4, 2, bidirectional=bidirectional).eval()
    lengths = torch.tensor([2, 5])
    out, state = stack(torch.randn(2, 5, 3), lengths)
    final = stack.last_layer_final(state)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(final[i, :4], out[i, n - 1, :4])
        if bidirectional:
            torch.testing.assert_close(final[i, 4:], out[i, 0, 4:])


@pytest.mark.parametrize("cell", CELLS)
def test_step_equals_a_one_step_call_of_the_fused_layer(cell):
    torch.manual_seed(2)
    stack = RecurrentStack(cell, 5, 7, layers=2, dropout=0.5).eval()
    rnn = stack.rnn
    x = torch.randn(3, 5)
    h = torch.randn(2, 3, 7)
    state = (h, torch.randn(2, 3, 7)) if cell == "lstm" else h
    for _ in range(3):  # a few steps in a row, feeding the state back
        ref_out, ref_state = rnn(x[:, None], state)
        out, state_mine = step(rnn, cell, x, state)
        torch.testing.assert_close(out, ref_out[:, 0])
        for a, b in zip(states_of(state_mine), states_of(ref_state)):
            assert a.shape == b.shape == (2, 3, 7)
            torch.testing.assert_close(a, b)
        state, x = ref_state, torch.randn(3, 5)
    ref_out, ref_state = rnn(x[:, None])  # no state: both start from zeros
    out, state_mine = step(rnn, cell, x, None)
    torch.testing.assert_close(out, ref_out[:, 0])
    for a, b in zip(states_of(state_mine), states_of(ref_state)):
        torch.testing.assert_close(a, b)


def test_reorder_selects_batch_rows():
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    c = -h
    index = torch.tensor([3, 0, 0, 2])
    torch.testing.assert_close(reorder(h, index), torch.stack([h[:, 3], h[:, 0], h[:, 0], h[:, 2]], dim=1))
    rh, rc = reorder((h, c), index)
    torch.testing.assert_close(rh, h[:, [3, 0, 0, 2]])
    torch.testing.assert_close(rc, c[:, [3, 0, 0, 2]])


# -- attention ---------------------------------------------------------------------------------
def attention_inputs(seed=3, B=3, T=4, S=6, Q=5, M=7):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, T, Q, generator=g, dtype=torch.float64)
    memory = torch.randn(B, S, M, generator=g, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(S)[None, :] < lengths[:, None]
    return query, memory, mask


@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_attention_weights_are_a_distribution_over_real_positions(kind):
    torch.manual_seed(4)
    query, memory, mask = attention_inputs()
    att = Attention(kind, 5, 7, attention_size=8).double()
    context, weights = att(query, att.keys(memory), memory, mask)
    assert context.shape == (3, 4, 7) and weights.shape == (3, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64))
    masked = ~mask[:, None, :].expand_as(weights)
    assert torch.all(weights[masked] == 0)  # exactly zero, not merely small
    assert torch.all(weights[~masked] > 0)
    torch.testing.assert_close(context, torch.einsum("bts,bsm->btm", weights, memory))


@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_memory_at_masked_positions_is_ignored(kind):
    torch.manual_seed(5)
    query, memory, mask = attention_inputs()
    att = Attention(kind, 5, 7).double()
    context, weights = att(query, att.keys(memory), memory, mask)
    other = memory.clone()
    other[~mask] = torch.randn(int((~mask).sum()), 7, dtype=torch.float64) * 100
    assert not torch.equal(other, memory)
    context2, weights2 = att(query, att.keys(other), other, mask)
    torch.testing.assert_close(weights2, weights, rtol=0, atol=0)
    torch.testing.assert_close(context2, context, rtol=1e-12, atol=1e-12)


def test_luong_score_is_q_W_m():
    torch.manual_seed(6)
    query, memory, mask = attention_inputs()
    att = Attention("luong", 5, 7).double()
    W = att.key.weight  # (Q, M)
    _, weights = att(query, att.keys(memory), memory, mask)
    for b in range(3):
        n = int(mask[b].sum())
        for t in range(4):
            scores = torch.stack([query[b, t] @ W @ memory[b, s] for s in range(n)])
            torch.testing.assert_close(weights[b, t, :n], torch.softmax(scores, 0))


def test_bahdanau_score_is_v_tanh_Wq_q_plus_Wm_m():
    torch.manual_seed(7)
    query, memory, mask = attention_inputs()
    att = Attention("bahdanau", 5, 7, attention_size=8).double()
    Wq, Wm, v = att.query.weight, att.key.weight, att.v.weight[0]
    _, weights = att(query, att.keys(memory), memory, mask)
    for b in range(3):
        n = int(mask[b].sum())
        for t in range(4):
            scores = torch.stack([v @ torch.tanh(Wq @ query[b, t] + Wm @ memory[b, s]) for s in range(n)])
            torch.testing.assert_close(weights[b, t, :n], torch.softmax(scores, 0))


def test_unknown_attention_kind_is_refused():
    with pytest.raises(ValueError, match="unknown attention"):
        Attention("dot", 4, 4)
