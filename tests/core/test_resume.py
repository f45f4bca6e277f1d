"""What a checkpoint holds to resume a run exactly, alone: weights, optimizer, random stream,
carry, the loop's state and the weight average."""

import dataclasses

import pytest
import torch
from torch import nn

from rnnkit.core import checkpoint
from rnnkit.core.ema import WeightAverage
from rnnkit.core.errors import RnnkitError
from rnnkit.core.resume import LoopState, restore, state_tensors

CPU = torch.device("cpu")


def test_advance_counts_a_step_and_ends_epochs():
    st = LoopState(epoch=1, batch_index=1)
    assert not st.advance(units=10, clipped=True, per_epoch=3)
    assert st.advance(units=5, clipped=False, per_epoch=3)
    assert (st.step, st.epoch, st.batch_index, st.tokens, st.clipped) == (2, 2, 0, 15, 1)


def _trained(seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).square().sum().backward()
    optimizer.step()
    return model, optimizer


def _save(path, model, optimizer, average=None, carry=None, **loop):
    tensors, opt_info = state_tensors(model, average, optimizer, carry, CPU)
    st = LoopState(**loop)
    checkpoint.save(path, tensors, {"optimizer": opt_info, "loop": dataclasses.asdict(st)})
    return tensors


def test_a_restored_run_goes_on_as_the_saved_one_would(tmp_path):
    model, optimizer = _trained(0)
    carry = (torch.randn(1, 2, 4), torch.randn(1, 2, 4))
    _save(tmp_path / "c.safetensors", model, optimizer, carry=carry, step=7, epoch=1, best_val=0.5, stopped="steps")
    next_draw = torch.rand(3)  # what the saved run draws next
    other, other_opt = _trained(1)
    st, got_carry, average = restore(tmp_path / "c.safetensors", tmp_path, other, other_opt, CPU, ema=0.0, swa=0.0)
    assert (st.step, st.epoch, st.best_val, st.stopped, average) == (7, 1, 0.5, "", None)
    torch.testing.assert_close(torch.rand(3), next_draw, rtol=0, atol=0)
    for a, b in zip(carry, got_carry):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(other.state_dict()[k], v, rtol=0, atol=0)
    saved, restored = optimizer.state_dict()["state"], other_opt.state_dict()["state"]
    for i in saved:
        for k in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(restored[i][k], saved[i][k], rtol=0, atol=0)


def test_an_averaged_run_resumes_its_raw_weights_and_its_average(tmp_path):
    model, optimizer = _trained(0)
    average = WeightAverage(model, 0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update()
    tensors = _save(tmp_path / "c.safetensors", model, optimizer, average, ema_updates=average.updates)
    assert not torch.equal(tensors["model/weight"], tensors["raw/weight"])
    other, other_opt = _trained(1)
    _, _, got = restore(tmp_path / "c.safetensors", tmp_path, other, other_opt, CPU, ema=0.9, swa=0.0)
    torch.testing.assert_close(other.weight, model.weight, rtol=0, atol=0)
    assert got.decay == 0.9 and got.updates == 1
    torch.testing.assert_close(got.state_dict()["weight"], average.state_dict()["weight"], rtol=0, atol=0)
    # --swa resumed from the same checkpoint: a uniform average from the saved one
    _, _, got = restore(tmp_path / "c.safetensors", tmp_path, other, other_opt, CPU, ema=0.0, swa=0.5)
    assert got.decay is None and got.updates == 1
    torch.testing.assert_close(got.state_dict()["weight"], average.state_dict()["weight"], rtol=0, atol=0)


def test_a_run_saved_without_an_average(tmp_path):
    model, optimizer = _trained(0)
    _save(tmp_path / "c.safetensors", model, optimizer, step=3)
    # --swa whose average had not begun: it begins when the budget says, not here
    assert restore(tmp_path / "c.safetensors", tmp_path, model, optimizer, CPU, ema=0.0, swa=0.5)[2] is None
    # --ema added on resume: an average that starts from the weights
    got = restore(tmp_path / "c.safetensors", tmp_path, model, optimizer, CPU, ema=0.9, swa=0.0)[2]
    assert got.updates == 0
    torch.testing.assert_close(got.state_dict()["weight"], model.weight.detach(), rtol=0, atol=0)


def test_a_run_of_another_world_size_is_refused(tmp_path):
    model, optimizer = _trained(0)
    tensors, opt_info = state_tensors(model, None, optimizer, None, CPU)
    checkpoint.save(tmp_path / "c.safetensors", tensors, {"optimizer": opt_info, "runtime": {"world_size": 2},
                                                          "loop": dataclasses.asdict(LoopState())})
    with pytest.raises(RnnkitError, match="trained by 2 processes.*torchrun --nproc-per-node 2"):
        restore(tmp_path / "c.safetensors", tmp_path, model, optimizer, CPU, ema=0.0, swa=0.0)
