"""The bidirectional recurrent stack against PyTorch's own ``nn.GRU(bidirectional=True)``."""

import torch

from rnnkit.nn.recurrent import RecurrentStack


def test_bidirectional_stack_equals_torch_gru_with_copied_weights():
    """Each padded sequence of a batch gives what a separate ``nn.GRU(bidirectional=True)`` with
    the same weights gives on that sequence alone (outputs of both directions, final states)."""
    torch.manual_seed(3)
    stack = RecurrentStack("gru", 4, 5, layers=2, bidirectional=True).double().eval()
    ref = torch.nn.GRU(4, 5, 2, batch_first=True, bidirectional=True).double().eval()
    with torch.no_grad():
        for name, p in stack.rnn.named_parameters():
            getattr(ref, name).copy_(p)
    lengths = torch.tensor([6, 2, 4])
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    out, h = stack(x, lengths)
    final = stack.last_layer_final(h)
    for i, n in enumerate(lengths.tolist()):
        ref_out, ref_h = ref(x[i : i + 1, :n])
        torch.testing.assert_close(out[i, :n], ref_out[0])
        torch.testing.assert_close(h[:, i], ref_h[:, 0])
        torch.testing.assert_close(final[i], torch.cat([ref_h[-2, 0], ref_h[-1, 0]]))  # top layer: forward, backward
        torch.testing.assert_close(final[i, 5:], ref_out[0, 0, 5:])  # the backward direction ends at step 0


def test_reverse_padded_reverses_within_lengths_and_is_its_own_inverse():
    from rnnkit.nn.recurrent import reverse_padded

    x = torch.arange(12.0).view(2, 6)[..., None]  # (B=2, S=6, 1)
    r = reverse_padded(x, torch.tensor([6, 3]))
    assert r[0, :, 0].tolist() == [5, 4, 3, 2, 1, 0]
    assert r[1, :, 0].tolist() == [8, 7, 6, 9, 10, 11]  # padding stays where it was
    torch.testing.assert_close(reverse_padded(r, torch.tensor([6, 3])), x)


def test_padded_stack_equals_torch_bidirectional_lstm_on_each_sequence_alone():
    """The unpacked, exportable stack gives what ``nn.LSTM(bidirectional=True)`` gives on each
    sequence alone, whatever padding follows it (its weights copied layer by layer)."""
    from rnnkit.nn.recurrent import PaddedStack

    torch.manual_seed(4)
    stack = PaddedStack("lstm", 4, 5, layers=2).double().eval()
    ref = torch.nn.LSTM(4, 5, 2, batch_first=True, bidirectional=True).double().eval()
    with torch.no_grad():
        for k in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{k}").copy_(getattr(stack.forward_layers[k], f"{name}_l0"))
                getattr(ref, f"{name}_l{k}_reverse").copy_(getattr(stack.backward_layers[k], f"{name}_l0"))
    lengths = torch.tensor([6, 2, 4])
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    x[1, 2:] = 1e3  # padding that would change the outputs if it were read
    out = stack(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out[i, :n], ref(x[i : i + 1, :n])[0][0])
