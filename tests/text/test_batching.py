"""Truncated-BPTT stream batches and the seed's window batches."""

import numpy as np
import torch

from rnnkit.text.batching import StreamBatches, WindowBatches


def test_stream_rows_read_the_text_in_order():
    tokens = np.arange(1000, dtype=np.uint16)
    sb = StreamBatches(tokens, batch_size=4, seq_len=10, seed=0)
    batches = list(sb.epoch(0))
    assert len(batches) == len(sb)
    inputs = torch.cat([b.inputs for b in batches], dim=1)
    targets = torch.cat([b.targets for b in batches], dim=1)
    assert torch.equal(targets[:, :-1], inputs[:, 1:])  # target = next token
    for row in inputs:
        assert torch.all(row[1:] - row[:-1] == 1)  # each row is a contiguous stretch
    starts = inputs[:, 0]
    assert torch.all(starts[1:] - starts[:-1] == sb.row_len)  # rows tile the stream


def test_stream_epochs_are_seeded_and_resumable():
    tokens = np.arange(5000, dtype=np.uint16)
    sb = StreamBatches(tokens, 4, 16, seed=7)
    e1 = [b.inputs for b in sb.epoch(1)]
    again = [b.inputs for b in StreamBatches(tokens, 4, 16, seed=7).epoch(1)]
    assert all(torch.equal(a, b) for a, b in zip(e1, again))
    tail = [b.inputs for b in sb.epoch(1, start=5)]
    assert len(e1) == len(sb) > 5 and len(tail) == len(e1) - 5
    assert all(torch.equal(a, b) for a, b in zip(e1[5:], tail))
    offsets = {int(next(iter(sb.epoch(e))).inputs[0, 0]) for e in range(10)}
    assert len(offsets) > 1  # chunk boundaries move between epochs


def test_windows_are_the_seeds_windows():
    text = "cryptocurrency is the next big thing"
    tokens = np.frombuffer(text.encode(), dtype=np.uint8).astype(np.uint16)
    wb = WindowBatches(tokens, batch_size=1000, seq_len=10, step=1, seed=0)
    (batch,) = list(wb.epoch(0))
    got = {(bytes(b.tolist()).decode(), chr(int(t))) for b, t in zip(batch.inputs, batch.targets)}
    expected = {(text[i : i + 10], text[i + 10]) for i in range(0, len(text) - 10)}
    assert got == expected
    wb3 = WindowBatches(tokens, batch_size=1000, seq_len=10, step=3, seed=0)
    assert len(next(iter(wb3.epoch(0))).targets) == len(range(0, len(text) - 10, 3))
