"""Checkpoints: self-describing, atomic, verified, and free of pickled code."""

import json
import struct

import pytest
import torch

import rnnkit
from rnnkit.core import checkpoint
from rnnkit.core.errors import RnnkitError


def header(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n])


def test_checkpoint_describes_itself(trained_run):
    for name in ("best.safetensors", "last.safetensors"):
        meta = json.loads(header(trained_run / name)["__metadata__"]["rnnkit"])
        assert meta["kind"] == "language-model"
        assert meta["config"]["rnn"]["hidden_size"] == 32
        chars = meta["vocab"]["tokens"]  # the training text's characters in code-point order, then <unk>
        assert chars[-1] == "<unk>" and chars[:-1] == sorted(chars[:-1]) and meta["vocab"]["unk"] == "<unk>"
        assert set(meta["split"]["splits"]) == {"train", "val", "test"}
        assert meta["loop"]["step"] > 0 and "param_groups" in meta["optimizer"]
        assert "val_loss" in meta["metrics"]
    tensors, _ = checkpoint.load(trained_run / "last.safetensors")
    assert any(k.startswith("model/") for k in tensors) and any(k.startswith("optim/") for k in tensors)
    assert "state/torch_rng" in tensors
    config = json.loads((trained_run / "config.json").read_text())
    assert config["train"]["steps"] == 60


def test_loading_never_unpickles(trained_run, monkeypatch):
    import pickle

    def forbidden(*a, **k):
        raise AssertionError("pickle used while loading a checkpoint")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    lm = rnnkit.load(trained_run)
    assert rnnkit.sample(lm, rnnkit.SampleConfig(length=5))


def test_load_needs_no_data_folder(trained_run, tmp_path):
    lonely = tmp_path / "model.safetensors"
    lonely.write_bytes((trained_run / "best.safetensors").read_bytes())
    lm = rnnkit.load(lonely)
    assert len(rnnkit.sample(lm, rnnkit.SampleConfig(length=30))[0]) == 30


def test_missing_truncated_and_tampered_checkpoints(trained_run, tmp_path):
    with pytest.raises(RnnkitError, match="not found"):
        rnnkit.load(tmp_path / "nope.safetensors")
    raw = (trained_run / "best.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(RnnkitError, match="damaged or truncated"):
        rnnkit.load(cut)
    bad = bytearray(raw)
    bad[-5] ^= 0xFF  # flip bits inside the tensor data
    tampered = tmp_path / "tampered.safetensors"
    tampered.write_bytes(bytes(bad))
    with pytest.raises(RnnkitError, match="checksum"):
        rnnkit.load(tampered)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(RnnkitError, match="damaged"):
        rnnkit.load(garbage)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    checkpoint.save(path, {"w": torch.ones(3)}, {"kind": "x"})
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        checkpoint.save(path, {"w": torch.zeros(3)}, {"kind": "x"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temporary left behind



def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    """Files rnnkit writes get the mode any file the user creates gets (0666 less the umask),
    not the private 0600 of a temporary file."""
    import os
    import stat

    from rnnkit.core.fileio import atomic_write_bytes

    umask = os.umask(0)
    os.umask(umask)
    atomic_write_bytes(tmp_path / "a.txt", b"x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~umask != 0o600
