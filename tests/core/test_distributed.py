"""Data-parallel training: two gloo processes started as torchrun starts them (RANK, WORLD_SIZE,
MASTER_ADDR/PORT), the GPU path where there is a GPU, and the one-line refusals."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from conftest import TINY_TEXT, assert_clean_error, cli, tiny_config
from rnnkit.core import checkpoint
from rnnkit.core.distributed import shard_indices
from rnnkit.text import textdata
from rnnkit.text.batching import StreamBatches
from rnnkit.text.vocab import Vocab

HERE = Path(__file__).parent
WORKER = HERE / "ddp_worker.py"
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command, world: int = 2, timeout: float = 300) -> list[subprocess.CompletedProcess]:
    """Start ``world`` processes with torchrun's variables; ``command(rank)`` gives each its command line."""
    port, procs = free_port(), []
    for r in range(world):
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        env.update(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(command(r), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    done = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def rows(run: Path, kind: str) -> list[tuple[int, float]]:
    key = "loss" if kind == "train" else "val_loss"
    return [(r["step"], r[key]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == kind]


def test_a_batch_is_dealt_out_evenly_and_disjointly():
    idx = np.arange(10, 17)  # 7 examples over 2 ranks: padded with the epoch's first example, then dealt out
    parts = [shard_indices(idx, r, 2, fill=np.arange(10, 30)).tolist() for r in range(2)]
    assert parts == [[10, 12, 14, 16], [11, 13, 15, 10]]
    full = np.arange(8)
    p0, p1 = (shard_indices(full, r, 2, fill=full) for r in range(2))
    assert not set(p0) & set(p1) and sorted(np.concatenate([p0, p1])) == full.tolist()
    t = shard_indices(torch.arange(5), 1, 3, fill=torch.arange(5))
    assert t.tolist() == [1, 4]


def test_two_processes_train_the_language_model_as_one_does_and_resume_exactly(tmp_path):
    (tmp_path / "tiny.txt").write_text(TINY_TEXT, encoding="utf-8")
    procs = launch(lambda r: [sys.executable, str(WORKER), "lm", str(tmp_path)])
    for p in procs:
        assert p.returncode == 0, p.stderr
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert (r0["world"], r1["world"], r0["threads"], r1["threads"]) == (2, 2, 1, 1)
    # each rank read its own half of the rows of every batch of the single-process stream
    corpus = textdata.open_prepared(tmp_path / "full", Vocab.from_json(json.loads((tmp_path / "full" / "vocab.json").read_text())))
    cfg = tiny_config(tmp_path / "tiny.txt")
    whole = [b.inputs.tolist() for b, _ in zip(StreamBatches(corpus.part("train"), 8, cfg.train.seq_len, 0).epoch(0), range(8))]
    assert len(r0["batches"]) == len(r1["batches"]) == 8
    for w, a, b in zip(whole, r0["batches"], r1["batches"]):
        assert a == w[:4] and b == w[4:]
    # DDP kept the ranks' parameters identical (uninterrupted, killed, resumed)
    assert r0["params"] == r1["params"] and len(r0["params"]) == 3
    # rank 0 alone wrote files
    assert r1["writes"] == []
    assert any(w.endswith("last.safetensors") for w in r0["writes"]) and any(w.endswith("metrics.jsonl") for w in r0["writes"])
    # the killed and resumed run reproduces the uninterrupted one
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert rows(cut, "train") == rows(full, "train") and len(rows(full, "train")) == 8
    assert rows(cut, "val") == rows(full, "val")
    # the same effective batch in one process: the same losses up to rounding
    cfg.train.steps, cfg.train.eval_every, cfg.mix.mix_order = 8, 3, 0
    rnnkit.train(cfg, tmp_path / "single")
    one, two = np.array(rows(tmp_path / "single", "val")), np.array(rows(full, "val"))
    assert np.allclose(one, two, rtol=1e-5, atol=0)
    # the run states how it ran, and its checkpoint loads in one process without DDP's names
    runtime = json.loads((full / "config.json").read_text())["runtime"]
    assert (runtime["world_size"], runtime["batch_per_process"], runtime["effective_batch"]) == (2, 4, 8)
    tensors, meta = checkpoint.load(full / "best.safetensors")
    assert not any(".module." in k or k.startswith("model/module.") for k in tensors)
    lm = rnnkit.load(full)
    assert rnnkit.evaluate(lm, "val", full).loss == pytest.approx(meta["metrics"]["best_val"], rel=1e-5)


def test_translation_forecasting_audio_classification_and_tagging_train_data_parallel(tmp_path):
    import sharded_configs
    from rnnkit import translate
    from rnnkit.classify import api as classify_api
    from rnnkit.audio import api as audio_api
    from rnnkit.forecast import api as forecast_api
    from rnnkit.tag import api as tag_api

    sharded_configs.make_data(tmp_path)
    procs = launch(lambda r: [sys.executable, str(WORKER), "tasks", str(tmp_path)])
    for p in procs:
        assert p.returncode == 0, p.stderr
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    # translation, forecasting, audio, classification and tagging, plus the forecaster's calibration fits (rolling
    # validation origins for its conformal intervals, trained data-parallel too)
    calibration_fits = len(json.loads((tmp_path / "forecast" / "calibration.json").read_text())["fits"]) - 1
    assert r0["params"] == r1["params"] and len(r0["params"]) == 5 + calibration_fits
    assert r1["writes"] == []
    single = tmp_path / "single"
    single.mkdir()
    for name, train, cfg in (("translate", translate.train, sharded_configs.translate(tmp_path)),
                             ("forecast", forecast_api.train, sharded_configs.forecast(tmp_path)),
                             ("classify", classify_api.train, sharded_configs.classify(tmp_path)),
                             ("tag", tag_api.train, sharded_configs.tag(tmp_path))):
        train(cfg, single / name)
        # the same effective batch: the same validation losses up to rounding (translation weighs the
        # ranks by their target tokens, so uneven sentence lengths do not change the mean)
        assert np.allclose(np.array(rows(single / name, "val")), np.array(rows(tmp_path / name, "val")), rtol=1e-4)
    # audio: batch norm sees each rank's half batch, so the losses differ a little; the checkpoint loads
    clf = audio_api.load(tmp_path / "audio")
    assert audio_api.evaluate(clf, "val", tmp_path / "audio").clips > 0
    assert all(np.isfinite([v for _, v in rows(tmp_path / "audio", "val")]))


def test_torchrun_runs_the_cli_and_a_resume_must_keep_the_process_count(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    flags = ["--data", data, "--layers", "1", "--hidden-size", "16", "--embedding-size", "8", "--seq-len", "16",
             "--batch-size", "8", "--steps", "4", "--eval-every", "2", "--mix-order", "0"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                        str(free_port()), "-m", "rnnkit", "train", "--out", str(tmp_path / "run"), *map(str, flags)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("trained 4 steps") == 1  # one summary, from rank 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["runtime"]["world_size"] == 2
    assert cli("evaluate", tmp_path / "run", "--split", "val").returncode == 0
    assert_clean_error(cli("train", "--out", tmp_path / "run", "--resume", "--steps", "6"),
                       "was trained by 2 processes and this is 1")


def test_swa_trains_data_parallel_on_a_wall_clock_budget(tmp_path):
    """--swa with --max-time under two processes: the average begins, is checkpointed, and the latest is
    the best. (Each rank reads its own clock, so the loop makes the ranks agree on the step the average
    begins; in lockstep DDP the clocks rarely differ by a step, so this run does not provoke that case.)"""
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    flags = ["--data", data, "--layers", "1", "--hidden-size", "16", "--embedding-size", "8", "--seq-len", "16",
             "--batch-size", "8", "--max-time", "4", "--swa", "0.5", "--eval-every", "1", "--mix-order", "0"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                        str(free_port()), "-m", "rnnkit", "train", "--out", str(tmp_path / "run"), *map(str, flags)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    tensors, meta = checkpoint.load(tmp_path / "run" / "last.safetensors")
    assert meta["loop"]["ema_updates"] > 0 and any(k.startswith("raw/") for k in tensors)
    assert meta["loop"]["best_step"] == meta["loop"]["step"]  # the latest average is the best


def test_ranks_started_with_different_options_are_named(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")

    def command(rank):
        return [sys.executable, "-m", "rnnkit", "train", "--data", str(data), "--out", str(tmp_path / "run"),
                "--hidden-size", "8", "--steps", "2", "--batch-size", "8", "--lr", "0.01" if rank else "0.003"]

    for p in launch(command):
        assert_clean_error(p, "rank 1 has --lr 0.01 (rank 0: 0.003)")
    assert not (tmp_path / "run").exists()


def test_bad_data_parallel_input_is_one_line(tmp_path, monkeypatch):
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert_clean_error(cli("train", "--data", data, "--out", tmp_path / "r", "--batch-size", "9"),
                       "2 does not divide it")
    assert_clean_error(cli("train", "--data", data, "--out", tmp_path / "r", "--model", "ngram"), "without torchrun")
    monkeypatch.setenv("WORLD_SIZE", "1")
    if not torch.cuda.is_available():
        assert_clean_error(cli("train", "--data", data, "--out", tmp_path / "r", "--device", "cuda"),
                           "no CUDA GPU is available")
    assert not (tmp_path / "r").exists()


@needs_gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_gpu_run_trains_and_loads_on_the_cpu(tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("this GPU has no native bf16")
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    cfg = tiny_config(data, steps=10, eval_every=5, device="cuda", precision=precision)
    result = rnnkit.train(cfg, tmp_path / "run")
    assert np.isfinite(result.best_val)
    runtime = json.loads((tmp_path / "run" / "config.json").read_text())["runtime"]
    assert runtime["device"].startswith("cuda") and runtime["precision"] == precision
    lm = rnnkit.load(tmp_path / "run", device="cpu")
    assert next(lm.model.parameters()).device.type == "cpu"
    assert rnnkit.evaluate(lm, "val", tmp_path / "run").loss == pytest.approx(result.best_val, rel=2e-2)


@needs_gpu
def test_a_gpu_run_resumes_exactly_and_notes_explicit_cells(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    cfg = tiny_config(data, steps=8, eval_every=3, device="cuda", precision="fp32")
    cfg.rnn.dropout, cfg.rnn.impl = 0.2, "explicit"
    rnnkit.train(cfg, tmp_path / "full")
    rnnkit.train(cfg, tmp_path / "cut", stop_after=5)
    rnnkit.train(rnnkit.resume_config(tmp_path / "cut", {}), tmp_path / "cut", resume=True)
    cut, full = rows(tmp_path / "cut", "val"), rows(tmp_path / "full", "val")
    assert [s for s, _ in cut] == [s for s, _ in full]
    assert [v for _, v in cut] == pytest.approx([v for _, v in full], rel=1e-4)  # GPU kernels may add in any order
    notes = json.loads((tmp_path / "full" / "config.json").read_text())["runtime"]["notes"]
    assert any("explicit cells" in n for n in notes)
