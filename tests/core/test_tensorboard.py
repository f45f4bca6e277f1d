"""--tensorboard: event files beside the run, read back with TensorBoard's own event reader."""

import json
import sys

import pytest

import rnnkit
from conftest import assert_clean_error, cli, ok, tiny_config

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from rnnkit.core.tensorboard import TensorBoardLog  # noqa: E402


def events(run):
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def metrics(run):
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_language_model_run_writes_the_metrics_log_and_a_sample(tiny_file, tmp_path):
    cfg = tiny_config(tiny_file, steps=12, eval_every=6, log_every=3, tensorboard=True)
    rnnkit.train(cfg, tmp_path / "run")
    acc = events(tmp_path / "run")
    rows = metrics(tmp_path / "run")
    train = [(r["step"], r["loss"]) for r in rows if r["kind"] == "train"]
    assert [s for s, _ in scalars(acc, "loss/train")] == [s for s, _ in train] == [3, 6, 9, 12]
    assert [v for _, v in scalars(acc, "loss/train")] == pytest.approx([v for _, v in train], rel=1e-6)
    val = [(r["step"], r["val_loss"]) for r in rows if r["kind"] == "val"]
    assert [s for s, _ in scalars(acc, "loss/validation")] == [s for s, _ in val] == [6, 12]
    assert [v for _, v in scalars(acc, "loss/validation")] == pytest.approx([v for _, v in val], rel=1e-6)
    lr = [v for _, v in scalars(acc, "learning_rate")]
    assert lr[0] > lr[-1] > 0  # cosine decay
    norms = [(r["step"], r["grad_norm"]) for r in rows if r["kind"] == "train"]  # the trainer logs them
    assert scalars(acc, "gradients/norm_before_clipping") == [(s, pytest.approx(v, rel=1e-6)) for s, v in norms]
    (sample,) = acc.Tensors("sample/text_summary")
    text = sample.tensor_proto.string_val[0].decode("utf-8")
    assert sample.step == 12 and len(text.strip()) > 100


def test_gradient_norm_and_clip_rate_rows_become_scalars(tmp_path):
    board = TensorBoardLog(tmp_path)
    board.write({"kind": "train", "step": 5, "loss": 2.0, "lr": 0.1, "grad_norm": 3.5, "clip_rate": 0.25})
    board.write({"kind": "train", "step": 10, "loss": 1.5, "lr": 0.1, "grad_norm": float("nan"), "clip_rate": 0.5})
    board.close()
    acc = events(tmp_path)
    assert scalars(acc, "gradients/norm_before_clipping") == [(5, 3.5)]  # a NaN is left out
    assert scalars(acc, "gradients/clip_rate") == [(5, 0.25), (10, 0.5)]


def test_a_resumed_run_has_each_step_once(tiny_file, tmp_path):
    cfg = tiny_config(tiny_file, steps=12, eval_every=4, log_every=2, tensorboard=True)
    rnnkit.train(cfg, tmp_path / "run", stop_after=7)  # killed after step 7; the checkpoint is at step 4
    rnnkit.train(cfg, tmp_path / "run", resume=True)
    steps = [s for s, _ in scalars(events(tmp_path / "run"), "loss/train")]
    assert steps == [r["step"] for r in metrics(tmp_path / "run") if r["kind"] == "train"] == [2, 4, 6, 8, 10, 12]


def test_any_task_from_the_command_line(tmp_path):
    rows = ["Month,Value"] + [f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + i + 10 * (i % 12 == 6)}" for i in range(96)]
    (tmp_path / "s.csv").write_text("\n".join(rows))
    ok(cli("train", "--task", "forecast", "--data", tmp_path / "s.csv", "--out", tmp_path / "fc", "--hidden-size", "8",
           "--steps", "6", "--log-every", "2", "--horizon", "6", "--tensorboard"))
    assert [s for s, _ in scalars(events(tmp_path / "fc"), "loss/train")] == [2, 4, 6]


def test_missing_package_is_one_line(tiny_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    proc = cli("train", "--data", tiny_file, "--out", tmp_path / "run", "--steps", "2", "--hidden-size", "8",
               "--seq-len", "8", "--batch-size", "4", "--tensorboard")
    assert_clean_error(proc, "pip install 'rnnkit[tensorboard]'")
