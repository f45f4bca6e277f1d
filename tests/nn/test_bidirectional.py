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
