"""The shared training loop: learning, determinism, resuming, clipping, divergence, stopping."""

import json
import math

import pytest
import torch

import rnnkit
from rnnkit.core import checkpoint
from rnnkit.core.errors import RnnkitError, TrainingDiverged
from rnnkit.core import trainer
from rnnkit.core.trainer import TrainConfig, lr_factor

from conftest import tiny_config


def losses(run_dir):
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], round(r["loss"], 6)) for r in rows if r["kind"] == "train"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_overfits_a_tiny_corpus(tmp_path, cell):
    """A repeated 40-char pattern is learned to near-zero loss by every cell."""
    p = tmp_path / "rep.txt"
    p.write_text("abcdefghij klmnopqrst uvwxyz 0123456789." * 60, encoding="utf-8")
    cfg = tiny_config(p, steps=150, lr=1e-2, eval_every=50)
    cfg.rnn.cell = cell
    cfg.rnn.hidden_size = 64
    res = rnnkit.train(cfg, tmp_path / "run")
    assert losses(tmp_path / "run")[-1][1] < 0.05
    assert res.best_val < 0.05


def test_same_seed_same_losses_different_seed_different(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file)
    rnnkit.train(cfg, tmp_path / "a")
    rnnkit.train(cfg, tmp_path / "b")
    cfg.train.seed = 1
    rnnkit.train(cfg, tmp_path / "c")
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    assert losses(tmp_path / "a") != losses(tmp_path / "c")


@pytest.mark.parametrize("objective,cell", [("stream", "lstm"), ("stream", "gru"), ("window", "rnn")])
def test_resumed_run_matches_uninterrupted_run(tmp_path, tiny_file, objective, cell):
    cfg = tiny_config(tiny_file, steps=30, eval_every=10, log_every=4, objective=objective)
    cfg.rnn.cell = cell
    cfg.rnn.dropout = 0.2  # the RNG state must be restored too
    rnnkit.train(cfg, tmp_path / "full")
    rnnkit.train(cfg, tmp_path / "cut", stop_after=17)  # "killed" at step 17, last checkpoint at 10
    assert [s for s, _ in losses(tmp_path / "cut")] == [4, 8, 12, 16]
    resumed = rnnkit.resume_config(tmp_path / "cut", {})
    rnnkit.train(resumed, tmp_path / "cut", resume=True)
    assert losses(tmp_path / "cut") == losses(tmp_path / "full")
    a = checkpoint.load(tmp_path / "full" / "last.safetensors")[0]
    b = checkpoint.load(tmp_path / "cut" / "last.safetensors")[0]
    for k in a:
        if k.startswith("model/"):
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_resume_may_extend_the_budget_but_not_change_the_model(tmp_path, tiny_file):
    rnnkit.train(tiny_config(tiny_file, steps=10), tmp_path / "run")
    cfg = rnnkit.resume_config(tmp_path / "run", {"train": {"steps": 20}})
    res = rnnkit.train(cfg, tmp_path / "run", resume=True)
    assert res.steps == 20
    with pytest.raises(RnnkitError, match="--hidden-size"):
        rnnkit.resume_config(tmp_path / "run", {"rnn": {"hidden_size": 99}})


def test_clipping_is_counted(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=10, clip_norm=1e-4)
    res = rnnkit.train(cfg, tmp_path / "norm")
    assert res.clipped_steps == 10
    cfg = tiny_config(tiny_file, steps=10, clip_norm=0.0, clip_value=1e-6)
    assert rnnkit.train(cfg, tmp_path / "value").clipped_steps == 10
    cfg = tiny_config(tiny_file, steps=10, clip_norm=1e6)
    assert rnnkit.train(cfg, tmp_path / "none").clipped_steps == 0


def test_clip_value_bounds_every_gradient(tmp_path, tiny_file, monkeypatch):
    seen = []
    real_step = torch.optim.AdamW.step

    def spy(self, *a, **k):
        seen.append(max(p.grad.abs().max().item() for g in self.param_groups for p in g["params"] if p.grad is not None))
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    rnnkit.train(tiny_config(tiny_file, steps=5, clip_norm=0.0, clip_value=1e-3), tmp_path / "run")
    assert seen and max(seen) <= 1e-3 * (1 + 1e-6)  # float32 rounding of the bound


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_file, monkeypatch):
    cfg = tiny_config(tiny_file, steps=40, eval_every=10)
    from rnnkit.text.language_model import LMTask

    real_loss = LMTask.loss
    calls = {"n": 0}

    def exploding(self, batch, carry):
        calls["n"] += 1
        loss, carry, units = real_loss(self, batch, carry)
        return (loss * float("nan") if calls["n"] > 15 else loss), carry, units

    monkeypatch.setattr(LMTask, "loss", exploding)
    with pytest.raises(TrainingDiverged, match="nan"):
        rnnkit.train(cfg, tmp_path / "run")
    _, meta = checkpoint.load(tmp_path / "run" / "last.safetensors")
    assert meta["loop"]["step"] == 10
    lm = rnnkit.load(tmp_path / "run")
    assert all(torch.isfinite(p).all() for p in lm.model.parameters())


def test_early_stopping(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=400, eval_every=5, patience=2, lr=0.5, optimizer="sgd", momentum=0.0,
                      lr_schedule="constant", clip_norm=0.0)
    res = rnnkit.train(cfg, tmp_path / "run")
    assert res.stopped == "early_stopping" and res.steps < 400


def test_max_time_budget(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=None, max_time=2.0, eval_every=1000)
    res = rnnkit.train(cfg, tmp_path / "run")
    assert res.stopped == "max_time" and 1.9 < res.elapsed < 10


@pytest.mark.parametrize("opt", ["adam", "adamw", "rmsprop", "sgd"])
@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear", "plateau"])
def test_optimizers_and_schedules_reduce_loss(tmp_path, tiny_file, opt, schedule):
    lr = {"sgd": 1.0}.get(opt, 1e-2)
    cfg = tiny_config(tiny_file, steps=30, optimizer=opt, lr=lr, lr_schedule=schedule, warmup_steps=3)
    rnnkit.train(cfg, tmp_path / "run")
    ls = [l for _, l in losses(tmp_path / "run")]
    assert ls[-1] < ls[0] - 0.5


def test_lr_schedules():
    cfg = TrainConfig(lr_schedule="cosine", warmup_steps=10)
    assert lr_factor(cfg, 0, 0.0, 1.0) == pytest.approx(0.1)
    assert lr_factor(cfg, 50, 0.5, 1.0) == pytest.approx(0.5)
    assert lr_factor(cfg, 100, 1.0, 1.0) == pytest.approx(0.0)
    assert lr_factor(TrainConfig(lr_schedule="linear"), 5, 0.25, 1.0) == pytest.approx(0.75)
    assert lr_factor(TrainConfig(lr_schedule="plateau"), 5, 0.25, 0.25) == pytest.approx(0.25)


@pytest.mark.parametrize("model_kw", [{"cell": "rnn", "nonlinearity": "relu"}, {"one_hot": True},
                                      {"tie_weights": True, "embedding_size": 32}, {"impl": "explicit", "layers": 2},
                                      {"layers": 2, "dropout": 0.3}, {"weight_drop": 0.3, "cell": "lstm"},
                                      {"locked_dropout": True, "dropout": 0.3}, {"cell": "lstm", "precision": "bf16"},
                                      {"cell": "gru", "precision": "bf16"}])
def test_model_options_train(tmp_path, tiny_file, model_kw):
    if model_kw.get("precision") == "bf16" and not trainer.cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16 (AMX or AVX512-BF16): --precision bf16 is refused here")
    cfg = tiny_config(tiny_file, steps=80, lr=1e-2, eval_every=40)
    for k, v in model_kw.items():
        setattr(cfg.train if k == "precision" else cfg.rnn, k, v)
    rnnkit.train(cfg, tmp_path / "run")
    ls = [l for _, l in losses(tmp_path / "run")]
    assert sum(ls[-5:]) / 5 < ls[0] - 0.5  # learned well beyond the start
    lm = rnnkit.load(tmp_path / "run", mix=False)
    if model_kw.get("tie_weights"):
        assert lm.model.head.weight is lm.model.embed.weight
    assert math.isfinite(rnnkit.evaluate(lm, "val", tmp_path / "run").loss)


def test_bf16_on_a_cpu_without_it_is_refused_before_anything_is_written(tmp_path, tiny_file, monkeypatch):
    """oneDNN has no bf16 LSTM on such CPUs (it fails deep inside the first step) and the rest runs
    slower than fp32, so ``--precision bf16`` stops at once; ``auto`` trains in fp32 there."""
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: False)
    cfg = tiny_config(tiny_file, steps=2)
    cfg.train.precision = "bf16"
    with pytest.raises(RnnkitError, match=r"--precision bf16: this CPU has no native bf16.*use --precision fp32 or auto"):
        rnnkit.train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert trainer.resolve_precision("auto", torch.device("cpu")) == "fp32"
    cfg.train.precision = "auto"
    rnnkit.train(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "last.safetensors").exists()
    # a run saved with bf16 (on a machine that has it) resumes here with --precision fp32
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    saved["train"]["precision"] = "bf16"
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    resumed = rnnkit.resume_config(tmp_path / "run", {"train": {"precision": "fp32", "steps": 4}})
    rnnkit.train(resumed, tmp_path / "run", resume=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["precision"] == "fp32"


@pytest.mark.parametrize("kw,match", [({"hidden_size": -1}, "--hidden-size"), ({"dropout": 1.0}, "--dropout"),
                                      ({"dropout": -0.1}, "--dropout"), ({"cell": "transformer"}, "--cell"),
                                      ({"tie_weights": True}, "--tie-weights"), ({"layers": 0}, "--layers")])
def test_bad_model_options(kw, match):
    with pytest.raises(RnnkitError, match=match):
        rnnkit.RNNConfig(**kw)


@pytest.mark.parametrize("kw,match", [({"batch_size": 0}, "--batch-size"), ({"lr": -1.0}, "--lr"),
                                      ({"optimizer": "lbfgs"}, "--optimizer"), ({"max_time": 0.0}, "--max-time"),
                                      ({"steps": 0}, "--steps"), ({"device": "tpu"}, "--device")])
def test_bad_train_options(kw, match):
    with pytest.raises(RnnkitError, match=match):
        TrainConfig(**kw)


def test_text_shorter_than_a_sequence(tmp_path):
    p = tmp_path / "short.txt"
    p.write_text("just a few words here", encoding="utf-8")
    with pytest.raises(RnnkitError, match="too short"):
        rnnkit.train(tiny_config(p), tmp_path / "run")


def test_bad_input_keeps_an_existing_run_and_leaves_no_folder(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=5)
    rnnkit.train(cfg, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    bad = tiny_config(tmp_path / "missing.txt", steps=5)
    with pytest.raises(RnnkitError, match="not found"):
        rnnkit.train(bad, tmp_path / "run", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    with pytest.raises(RnnkitError, match="too short"):
        rnnkit.train(tiny_config(short), tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "short.txt", "tiny.txt"]
    rnnkit.train(cfg, tmp_path / "new")  # and the retry works


def test_fields_set_after_construction_are_validated(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file)
    cfg.train.max_time = -5.0
    with pytest.raises(RnnkitError, match="--max-time"):
        rnnkit.train(cfg, tmp_path / "run")


def test_epochs_budget_and_summary(tmp_path, tiny_file):
    res = rnnkit.train(tiny_config(tiny_file, steps=None, epochs=2), tmp_path / "run")
    assert res.stopped == "epochs" and res.epochs == 2


def test_word_level_end_to_end(tmp_path):
    p = tmp_path / "words.txt"
    p.write_text("The cat sat on the mat. The dog didn't sit (it stood).\n" * 60, encoding="utf-8")
    cfg = tiny_config(p, steps=40, lr=1e-2)
    cfg.data.level = "word"
    rnnkit.train(cfg, tmp_path / "run")
    lm = rnnkit.load(tmp_path / "run")
    assert lm.vocab.level == "word" and "didn't" in lm.vocab.tokens
    m = rnnkit.evaluate(lm, "test", tmp_path / "run")
    chars = len("The cat sat on the mat. The dog didn't sit (it stood).\n" * 60)
    assert m.tokens < chars / 3 and m.bits_per_char < m.loss / 0.693  # per char is cheaper than per word
    text = rnnkit.sample(lm, rnnkit.SampleConfig(prime="The cat", length=20, seed=0))[0]
    assert text.startswith("The cat ") and len(text.split()) >= 10


def test_existing_run_directory_needs_resume_or_overwrite(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=5)
    rnnkit.train(cfg, tmp_path / "run")
    with pytest.raises(RnnkitError, match="--resume .* or --overwrite"):
        rnnkit.train(cfg, tmp_path / "run")
    rnnkit.train(cfg, tmp_path / "run", overwrite=True)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(RnnkitError, match="not an rnnkit run"):
        rnnkit.train(cfg, other, overwrite=True)
    assert (other / "precious.txt").read_text() == "keep me"
    with pytest.raises(RnnkitError, match="no run to resume"):
        rnnkit.train(cfg, tmp_path / "nothing", resume=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_checkpoint_samples_on_cpu(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=10, device="cuda")
    rnnkit.train(cfg, tmp_path / "run")
    lm = rnnkit.load(tmp_path / "run", device="cpu")
    assert next(lm.model.parameters()).device.type == "cpu"
    assert len(rnnkit.sample(lm, rnnkit.SampleConfig(length=20))[0]) == 20


def test_cuda_request_without_gpu_is_a_clear_error(tmp_path, tiny_file):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RnnkitError, match="no CUDA GPU"):
        rnnkit.train(tiny_config(tiny_file, device="cuda"), tmp_path / "run")


def test_weight_average_follows_its_formula():
    """--ema: avg <- d avg + (1 - d) w with d = min(decay, (1 + n) / (10 + n)); batch norm's running
    statistics averaged alike, its batch counter taken live; ``applied`` swaps the average in and out."""
    from rnnkit.core.ema import WeightAverage
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    w0, m0 = model[0].weight.detach().clone(), model[1].running_mean.clone()
    avg = WeightAverage(model, 0.9)
    model(torch.randn(8, 2))  # moves the running statistics and the counter
    with torch.no_grad():
        model[0].weight.add_(1.0)
    avg.update()
    d = 1 / 10
    state = avg.state_dict()
    torch.testing.assert_close(state["0.weight"], d * w0 + (1 - d) * model[0].weight.detach())
    torch.testing.assert_close(state["1.running_mean"], d * m0 + (1 - d) * model[1].running_mean)
    assert int(state["1.num_batches_tracked"]) == 1
    w1 = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    avg.update()
    d2 = min(0.9, 2 / 11)
    expected = d2 * (d * w0 + (1 - d) * w1) + (1 - d2) * model[0].weight.detach()
    torch.testing.assert_close(avg.state_dict()["0.weight"], expected)
    raw = model[0].weight.detach().clone()
    with avg.applied():
        torch.testing.assert_close(model[0].weight.detach(), expected)
    torch.testing.assert_close(model[0].weight.detach(), raw)


class _SlopeTask:
    """One weight w, loss = w (gradient 1): plain SGD walks w down by lr a step; validation reports w."""

    def __init__(self, sign: float = 1.0):
        self.model = torch.nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.model.weight.fill_(1.0)
        self.progress = 0.0
        self.sign = sign  # -1: validation gets worse as w falls

    def steps_per_epoch(self):
        return 4

    def batches(self, epoch, start):
        for _ in range(start, 4):
            yield None

    def loss(self, batch, carry):
        return self.model.weight.sum(), None, 1

    def validate(self):
        return self.sign * float(self.model.weight.detach())

    def checkpoint_meta(self):
        return {"kind": "test"}

    def checkpoint_tensors(self):
        return {}


def test_ema_is_what_the_loop_validates_saves_and_ends_with(tmp_path):
    from rnnkit.core.trainer import fit
    cfg = TrainConfig(steps=8, optimizer="sgd", momentum=0.0, lr=0.1, lr_schedule="constant", clip_norm=0.0,
                      eval_every=4, ema=0.5, precision="fp32")
    w, avg, n, expected = 1.0, 1.0, 0, {}
    for step in range(1, 9):
        w -= 0.1
        d = min(0.5, (1 + n) / (10 + n))
        avg, n = d * avg + (1 - d) * w, n + 1
        expected[step] = (w, avg)
    task = _SlopeTask()
    res = fit(task, cfg, tmp_path, torch.device("cpu"))
    vals = {r["step"]: r["val_loss"] for r in res.history if r["kind"] == "val"}
    assert vals == pytest.approx({4: expected[4][1], 8: expected[8][1]})
    tensors, meta = checkpoint.load(tmp_path / "last.safetensors")
    assert float(tensors["model/weight"]) == pytest.approx(expected[8][1])  # what commands load
    assert float(tensors["raw/weight"]) == pytest.approx(expected[8][0])  # what a resumed run trains on
    assert meta["loop"]["ema_updates"] == 8
    assert float(task.model.weight) == pytest.approx(expected[8][1])
    # killed after step 6 (last checkpoint at 4) and resumed: the same average at the end
    cut = tmp_path / "cut"
    fit(_SlopeTask(), cfg, cut, torch.device("cpu"), stop_after=6)
    res = fit(_SlopeTask(), cfg, cut, torch.device("cpu"), resume_from=cut / "last.safetensors")
    assert [r["val_loss"] for r in res.history if r["kind"] == "val"] == pytest.approx(list(vals.values()))
    assert float(checkpoint.load(cut / "last.safetensors")[0]["model/weight"]) == pytest.approx(expected[8][1])
    with pytest.raises(RnnkitError, match="ema"):
        TrainConfig(ema=1.0)


def test_swa_averages_uniformly_from_its_start_and_the_latest_average_is_best(tmp_path):
    """--swa 0.5 with 8 steps: raw weights validated at steps 2 and 4; from step 5 on every step's
    weights enter a uniform average, which is validated at 6 and 8. Validation here gets worse as
    the weight falls: by its loss the best would stay the raw step 2 (or the short average at 6)."""
    from rnnkit.core.trainer import fit
    cfg = TrainConfig(steps=8, optimizer="sgd", momentum=0.0, lr=0.1, lr_schedule="constant", clip_norm=0.0,
                      eval_every=2, swa=0.5, precision="fp32")
    w = [1.0 - 0.1 * k for k in range(9)]  # the raw weight after k steps
    at6, at8 = sum(w[5:7]) / 2, sum(w[5:9]) / 4
    res = fit(_SlopeTask(-1.0), cfg, tmp_path, torch.device("cpu"))
    vals = {r["step"]: r["val_loss"] for r in res.history if r["kind"] == "val"}
    assert vals == pytest.approx({2: -w[2], 4: -w[4], 6: -at6, 8: -at8})
    best, meta = checkpoint.load(tmp_path / "best.safetensors")
    assert float(best["model/weight"]) == pytest.approx(at8) and meta["loop"]["best_step"] == 8
    last, meta = checkpoint.load(tmp_path / "last.safetensors")
    assert float(last["model/weight"]) == pytest.approx(at8) and float(last["raw/weight"]) == pytest.approx(w[8])
    assert meta["loop"]["ema_updates"] == 4
    for cut_after in (3, 7):  # killed before the average began (resumed from step 2) and after (from step 6)
        cut = tmp_path / f"cut{cut_after}"
        fit(_SlopeTask(-1.0), cfg, cut, torch.device("cpu"), stop_after=cut_after)
        task = _SlopeTask(-1.0)
        res = fit(task, cfg, cut, torch.device("cpu"), resume_from=cut / "last.safetensors")
        assert res.history[-1]["val_loss"] == pytest.approx(-at8) and float(task.model.weight) == pytest.approx(at8)
        assert float(checkpoint.load(cut / "best.safetensors")[0]["model/weight"]) == pytest.approx(at8)
    with pytest.raises(RnnkitError, match="choose one"):
        TrainConfig(ema=0.9, swa=0.5)
    with pytest.raises(RnnkitError, match="swa"):
        TrainConfig(swa=1.0)


def test_ema_text_run_resumes_exactly(tmp_path, tiny_file):
    cfg = tiny_config(tiny_file, steps=30, eval_every=10, log_every=4, ema=0.9)
    cfg.rnn.dropout = 0.2
    rnnkit.train(cfg, tmp_path / "full")
    rnnkit.train(cfg, tmp_path / "cut", stop_after=17)
    rnnkit.train(rnnkit.resume_config(tmp_path / "cut", {}), tmp_path / "cut", resume=True)
    assert losses(tmp_path / "cut") == losses(tmp_path / "full")
    a = checkpoint.load(tmp_path / "full" / "last.safetensors")[0]
    b = checkpoint.load(tmp_path / "cut" / "last.safetensors")[0]
    assert any(k.startswith("raw/") for k in a)
    assert any(not torch.equal(a[k], a["raw/" + k[6:]]) for k in a if k.startswith("model/"))
    for k in a:
        if k.startswith(("model/", "raw/")):
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    lm = rnnkit.load(tmp_path / "full", which="last", mix=False)
    for k, v in lm.model.state_dict().items():
        torch.testing.assert_close(v, a["model/" + k], rtol=0, atol=0)
