"""The audio classifier end to end: splits, the CRNN's masking, tones learned, CLI verbs, bad input."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import assert_clean_error, cli, needs_shared, ok
from rnnkit.audio import api
from rnnkit.audio.augment import AugmentConfig, augment_wave, spec_augment
from rnnkit.audio.clips import ClipsConfig, find_clips, split_clips
from rnnkit.audio.model import CRNN, CRNNConfig
from rnnkit.audio.task import AudioConfig, Frontend, fit_normalization, pad
from rnnkit.audio.features import FeatureConfig
from rnnkit.core.config import from_dict

RATE = 8000
PITCHES = {"low": 300.0, "mid": 700.0, "high": 1500.0}


def tone(freq, seconds, rate=RATE, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + rng.normal(0, 0.01, len(t))).astype(np.float32)


def tones_folder(root, per_class=24, speakers=("ann", "bob", "cid")):
    """FSDD-like names: LABEL_SPEAKER_INDEX.wav, lengths 0.3-0.9 s."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for label, f in PITCHES.items():
        for i in range(per_class):
            spk = speakers[i % len(speakers)]
            sf.write(root / f"{label}_{spk}_{i}.wav", tone(f * rng.uniform(0.95, 1.05), rng.uniform(0.3, 0.9), seed=i),
                     RATE, subtype="PCM_16")
    return root


def cfg_for(root, **train) -> AudioConfig:
    return from_dict(AudioConfig, {
        "data": {"data": str(root), "label_pattern": r"^([a-z]+)_", "group_pattern": r"^[a-z]+_([a-z]+)_"},
        "model": {"channels": 4, "hidden_size": 8},
        "train": {"max_time": None, "steps": 40, "eval_every": 20, "batch_size": 16, **train}})


# -- clips and splits ----------------------------------------------------------------------------
def test_labels_groups_and_the_three_splits(tmp_path):
    root = tones_folder(tmp_path / "t", per_class=10)
    clips = find_clips(ClipsConfig(data=str(root), label_pattern=r"^([a-z]+)_", group_pattern=r"^[a-z]+_([a-z]+)_"))
    assert len(clips) == 30 and {c.label for c in clips} == set(PITCHES) and {c.group for c in clips} == {"ann", "bob", "cid"}
    parts = split_clips(ClipsConfig(data=str(root)), clips, seed=0)
    assert parts.count("test") == 3 and parts.count("val") == 3
    grouped = split_clips(ClipsConfig(data=str(root), split="group", group_pattern="x", test_group="bob"), clips, 0)
    assert all((p == "test") == (c.group == "bob") for c, p in zip(clips, grouped))
    by_name = split_clips(ClipsConfig(data=str(root), split="pattern", test_pattern=r"_[0-1]\.wav$"), clips, 0)
    assert all((p == "test") == c.path.endswith(("_0.wav", "_1.wav")) for c, p in zip(clips, by_name))
    # subfolder labels
    (tmp_path / "s" / "yes").mkdir(parents=True)
    (tmp_path / "s" / "no").mkdir(parents=True)
    sf.write(tmp_path / "s" / "yes" / "a.wav", tone(300, 0.3), RATE)
    sf.write(tmp_path / "s" / "no" / "b.wav", tone(900, 0.3), RATE)
    assert sorted(c.label for c in find_clips(ClipsConfig(data=str(tmp_path / "s")))) == ["no", "yes"]


def test_normalization_is_fitted_on_training_clips_only():
    cfg = FeatureConfig()
    quiet = [tone(300, 0.5, seed=i) for i in range(4)]
    loud = [w * 100 for w in quiet]
    m1, s1 = fit_normalization(cfg, quiet)
    m2, _ = fit_normalization(cfg, quiet + loud)
    assert not torch.allclose(m1, m2)  # so what it is fitted on matters, and train() passes training clips only
    assert m1.shape == (cfg.n_mels,) and (s1 > 0).all()



def test_clip_normalization_uses_each_clips_valid_frames_only():
    front = Frontend(FeatureConfig(normalize="clip"), torch.zeros(40), torch.ones(40))
    short, long = tone(500, 0.37), tone(900, 1.1) * 20
    with torch.no_grad():
        feats, frames = front(*pad([long, short]))  # (2, T, 40): the short clip is padded
        alone, _ = front(*pad([short]))
    n = int(frames[1])
    assert n < feats.size(1) and (feats[1, n:] == 0).all()
    torch.testing.assert_close(feats[1, :n], alone[0, :n], atol=1e-5, rtol=1e-5)
    for f, m in ((feats[0], int(frames[0])), (feats[1], n)):  # each clip's bands average to zero
        torch.testing.assert_close(f[:m].mean(0), torch.zeros(40), atol=1e-4, rtol=0)


# -- the model -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_a_clip_alone_and_in_a_padded_batch_get_the_same_probabilities(pooling):
    torch.manual_seed(0)
    model = CRNN(CRNNConfig(channels=4, hidden_size=8, pooling=pooling), 40, 3).eval()
    front = Frontend(FeatureConfig(), torch.zeros(40), torch.ones(40))
    short, long = tone(500, 0.37), tone(900, 1.1)
    with torch.no_grad():
        alone = model(*front(*pad([short])))
        batch = model(*front(*pad([long, short])))
    torch.testing.assert_close(alone.softmax(-1)[0], batch.softmax(-1)[1], atol=1e-5, rtol=1e-5)



def test_convolutions_run_channels_last_with_the_same_results(tmp_path):
    """The blocks keep channels-last weights (activations follow): the numbers of the contiguous layout,
    and a saved and loaded model keeps the layout."""
    import copy
    torch.manual_seed(0)
    model = CRNN(CRNNConfig(channels=4, hidden_size=8), 40, 3).eval()
    assert all(b["conv"].weight.is_contiguous(memory_format=torch.channels_last) for b in model.blocks)
    plain = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    assert not plain.blocks[1]["conv"].weight.is_contiguous(memory_format=torch.channels_last)
    feats, frames = torch.randn(3, 50, 40), torch.tensor([50, 31, 9])
    with torch.no_grad():
        torch.testing.assert_close(model(feats, frames), plain(feats, frames), atol=1e-5, rtol=1e-5)
    root = tones_folder(tmp_path / "t", per_class=6)
    api.train(cfg_for(root, steps=2, eval_every=2), tmp_path / "run")
    loaded = api.load(tmp_path / "run").model
    assert all(b["conv"].weight.is_contiguous(memory_format=torch.channels_last) for b in loaded.blocks)

def test_mixup_blends_frames_and_targets(tmp_path):
    """With mixup a step trains on ``lam * x_i + (1 - lam) * x_j`` against the same blend of the two
    clips' losses, seeded per batch."""
    import itertools

    root = tones_folder(tmp_path / "t", per_class=6)
    cfg = cfg_for(root, steps=2)
    cfg.augment.mixup = 0.4
    api.train(cfg, tmp_path / "run")  # trains end to end with mixup on
    # Steady tones under a --top-db floor become all zeros once each band's mean over the clip is
    # taken out, so the three clips would be indistinguishable; their faint noise keeps them apart.
    cfg.features.top_db = 0.0
    from rnnkit.audio.task import AudioTask
    seen = {}
    fixed = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0], [-0.5, 0.3, 1.0]])  # (B, classes)

    class Spy(torch.nn.Module):
        def forward(self, feats, frames, members=False):
            seen["feats"], seen["frames"] = feats, frames
            return fixed[None] if members else fixed

    front = Frontend(cfg.features, torch.zeros(40), torch.ones(40))
    waves = [tone(300, 0.3), tone(900, 0.6), tone(1500, 0.45)]
    task = AudioTask(Spy(), front, waves, np.array([0, 1, 2]), (None, None, None), cfg, {}, torch.device("cpu"))

    def run(batch, mixup):
        cfg.augment.mixup = mixup
        loss, _, n = task.loss(batch, None)
        return loss, n, seen["feats"], seen["frames"]

    # A batch's permutation may pair every clip with itself (1 in 6 with 3 clips), which blends nothing:
    # take the first epoch whose batch mixes two different clips.
    for epoch in range(10):
        batch = next(task.batches(epoch, 0))
        loss, n, mixed, frames = run(batch, 0.4)
        plain_loss, _, plain, _ = run(batch, 0.0)
        if mixed.shape != plain.shape or not torch.allclose(mixed, plain, atol=1e-3):
            break
    else:
        pytest.fail("no batch of 10 epochs mixed two different clips")
    labels = batch[1]
    again, _, remixed, _ = run(batch, 0.4)
    assert torch.equal(remixed, mixed) and float(again) == float(loss)  # the same batch blends the same way
    assert n == 3
    T = mixed.size(1)
    plain = torch.nn.functional.pad(plain, (0, 0, 0, T - plain.size(1)))
    # find the blend: the permutation and weight that rebuild the mixed frames from the plain ones
    fits = []
    for perm in list(itertools.permutations(range(3)))[1:]:  # all but the identity
        other = plain[list(perm)]
        d = (plain - other).flatten()
        lam = float(((mixed - other).flatten() @ d) / (d @ d))
        fits.append((float((lam * plain + (1 - lam) * other - mixed).abs().max()), lam, list(perm)))
    err, lam, perm = min(fits)
    assert err < 1e-4 and 0 < lam < 1
    assert int(frames.max()) == T
    def ce(logits, y):
        return torch.nn.functional.cross_entropy(logits, y, label_smoothing=cfg.train.label_smoothing)

    torch.testing.assert_close(float(loss), lam * float(ce(fixed, labels)) + (1 - lam) * float(ce(fixed, labels[perm])),
                               atol=1e-5, rtol=1e-5)
    assert abs(float(plain_loss) - float(ce(fixed, labels))) < 1e-6


def test_augmentation_changes_training_input_only(tmp_path):
    rng = np.random.default_rng(0)
    x = tone(500, 0.5)
    y = augment_wave(x, RATE, AugmentConfig(), rng)
    assert y.dtype == np.float32 and not (len(y) == len(x) and np.allclose(x, y))
    feats = torch.ones(2, 50, 40)
    masked = spec_augment(feats, torch.tensor([50, 30]), AugmentConfig(time_masks=2, freq_masks=2), torch.Generator().manual_seed(0))
    assert masked.sum() < feats.sum()
    # evaluation never augments: classify gives the probabilities of an explicitly unaugmented pass
    from rnnkit.audio.wav import read_wav

    root = tones_folder(tmp_path / "t", per_class=6)
    cfg = cfg_for(root, steps=4)
    cfg.augment.vtlp = 0.1  # training warps each clip's frequency axis; evaluation must not
    api.train(cfg, tmp_path / "run")
    clf = api.load(tmp_path / "run")
    f = sorted(root.glob("*.wav"))[:3]
    wave, lengths = pad([read_wav(p, cfg.features.sample_rate) for p in f])

    def forward(warp=None):  # log-mel frames with the training statistics, no augmentation unless warped
        with torch.no_grad():
            return clf.model(*clf.frontend(wave, lengths, warp)).softmax(-1).numpy()

    plain = forward()
    got = [dict(row) for row in api.classify(clf, f, top_k=len(clf.labels))]
    np.testing.assert_allclose([[row[label] for label in clf.labels] for row in got], plain, rtol=1e-4, atol=1e-6)
    # the training's warp moves the probabilities far beyond that tolerance: the comparison can fail
    assert np.abs(forward(torch.tensor([0.9, 1.1, 0.93])) - plain).max() > 1e-3


def test_tones_at_different_pitches_are_learned_perfectly(tmp_path):
    root = tones_folder(tmp_path / "t")
    cfg = cfg_for(root, steps=150, eval_every=50, lr=1e-2)
    cfg.augment.augment = False
    api.train(cfg, tmp_path / "run")
    clf = api.load(tmp_path / "run")
    ev = api.evaluate(clf, "test", tmp_path / "run")
    assert ev.accuracy == 1.0, ev
    assert np.trace(np.array(ev.confusion)) == ev.clips


def test_an_ensemble_averages_its_members_probabilities():
    from rnnkit.audio.model import Ensemble, build

    torch.manual_seed(0)
    ens = build(CRNNConfig(channels=4, hidden_size=8, members=3), 40, 5).eval()
    assert isinstance(ens, Ensemble) and isinstance(build(CRNNConfig(channels=4, hidden_size=8), 40, 5), CRNN)
    front = Frontend(FeatureConfig(), torch.zeros(40), torch.ones(40))
    feats, frames = front(*pad([tone(500, 0.4), tone(900, 0.7)]))
    with torch.no_grad():
        each = ens(feats, frames, members=True)  # (3, 2, 5)
        probs = ens(feats, frames).softmax(-1)
    assert each.shape == (3, 2, 5) and not torch.allclose(each[0], each[1])  # initialized apart
    torch.testing.assert_close(probs, each.softmax(-1).mean(0), atol=1e-6, rtol=1e-5)


def test_ensemble_trains_each_member_and_round_trips(tmp_path):
    root = tones_folder(tmp_path / "t")
    cfg = cfg_for(root, steps=150, eval_every=50, lr=1e-2)
    cfg.augment.augment = False
    cfg.model.members = 2
    api.train(cfg, tmp_path / "run")
    clf = api.load(tmp_path / "run")
    assert len(clf.model.members) == 2
    waves, y = api.split_waves(clf, "test", tmp_path / "run")
    feats, frames = api.frame_features(clf.frontend, waves, clf.device)
    with torch.no_grad():
        each = clf.model(feats, frames, members=True)
    assert [(m.argmax(-1).numpy() == y).mean() for m in each] == [1.0, 1.0]  # both members learned
    assert api.evaluate(clf, "test", tmp_path / "run").accuracy == 1.0


def test_a_run_saved_before_top_db_keeps_its_unfloored_features(tmp_path):
    """Runs written before --top-db (or --trim-db) existed load and resume without the floor (or the
    trimming), as they were trained."""
    from rnnkit.audio.task import config_from_meta
    from rnnkit.core import checkpoint

    root = tones_folder(tmp_path / "t", per_class=6)
    run = tmp_path / "run"
    api.train(cfg_for(root, steps=4, eval_every=2), run)
    _, meta = checkpoint.load(run / "last.safetensors")
    assert (config_from_meta(meta).features.top_db, config_from_meta(meta).features.floor) == (30.0, "soft")
    assert config_from_meta(meta).features.trim_db == 40.0
    del meta["config"]["features"]["trim_db"]  # saved before --trim-db: its clips were not trimmed
    assert config_from_meta(meta).features.trim_db == 0.0
    del meta["config"]["features"]["floor"]  # saved after --top-db, before --floor: a hard floor
    assert (config_from_meta(meta).features.top_db, config_from_meta(meta).features.floor) == (30.0, "hard")
    del meta["config"]["features"]["top_db"]
    assert config_from_meta(meta).features.top_db == 0.0
    saved = json.loads((run / "config.json").read_text())
    del saved["features"]["top_db"], saved["features"]["floor"], saved["features"]["trim_db"]
    (run / "config.json").write_text(json.dumps(saved))
    ok(cli("train", "--out", run, "--resume", "--steps", "6"))
    features = json.loads((run / "config.json").read_text())["features"]
    assert (features["top_db"], features["floor"], features["trim_db"]) == (0.0, "hard", 0.0)


# -- the command line ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    root = tones_folder(d / "tones")
    ok(cli("train", "--task", "audio", "--data", root, "--label-pattern", r"^([a-z]+)_", "--out", d / "run",
           "--channels", "4", "--hidden-size", "8", "--steps", "30", "--max-time", "60", "--eval-every", "15"))
    return d


def test_members_and_mixup_from_the_command_line(tmp_path):
    root = tones_folder(tmp_path / "tones", per_class=8)
    ok(cli("train", "--task", "audio", "--data", root, "--label-pattern", r"^([a-z]+)_", "--out", tmp_path / "run",
           "--channels", "4", "--hidden-size", "8", "--steps", "6", "--max-time", "60", "--members", "2",
           "--mixup", "0.4"))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["members"] == 2 and saved["augment"]["mixup"] == 0.4
    assert len(api.load(tmp_path / "run").model.members) == 2
    res = cli("classify", tmp_path / "run", sorted(root.glob("*.wav"))[0], "--json")
    ok(res)
    assert set(json.loads(res.stdout.splitlines()[0])) == {"file", "label", "probability"}


def test_classify_evaluate_and_refusals(run, trained_run):
    files = sorted((run / "tones").glob("*.wav"))[:2]
    rows = [json.loads(l) for l in ok(cli("classify", run / "run", *files, "--top-k", "2", "--json")).stdout.splitlines()]
    assert len(rows) == 4 and set(rows[0]) == {"file", "label", "probability"}
    assert rows[0]["probability"] >= rows[1]["probability"]
    folder = ok(cli("classify", run / "run", run / "tones")).stdout.splitlines()
    assert len(folder) == 72
    ev = json.loads(ok(cli("evaluate", run / "run", "--split", "test", "--json", "--plot", run / "c.png")).stdout)
    assert {"accuracy", "loss", "per_class", "confusion"} <= set(ev) and len(ev["confusion"]) == 3
    assert (run / "c.png").stat().st_size > 1000
    assert_clean_error(cli("classify", trained_run, files[0]), "`rnnkit classify` is for audio-classifier runs")


@pytest.mark.parametrize("setup,flags,match", [
    (lambda d: d.mkdir(), [], "is empty"),
    (lambda d: (d.mkdir(), (d / "a.txt").write_text("x")), [], "has no .wav files"),
    (lambda d: tones_folder(d, per_class=2), ["--label-pattern", r"^(\d)_"], "does not match the file name"),
    (lambda d: tones_folder(d, per_class=2), ["--label-pattern", r"^[a-z]+_(x?)"], "at least two classes"),
    (lambda d: (tones_folder(d, per_class=4), (d / "mid_bad_9.wav").write_text("not audio")), [], "mid_bad_9.wav"),
    (lambda d: (tones_folder(d, per_class=4), sf.write(d / "low_z_9.wav", np.zeros(4000, np.float32), RATE)), [],
     "silent"),
    (lambda d: (tones_folder(d, per_class=4), sf.write(d / "low_z_9.wav", tone(300, 0.01), RATE)), [], "short"),
    (lambda d: tones_folder(d, per_class=2), ["--label-pattern", r"^([a-z]+)_", "--vtlp", "0.6"], "vtlp"),
    (lambda d: tones_folder(d, per_class=2), ["--label-pattern", r"^([a-z]+)_", "--members", "0"], "members"),
    (lambda d: tones_folder(d, per_class=2), ["--label-pattern", r"^([a-z]+)_", "--mixup", "-1"], "mixup"),
])
def test_bad_input_is_one_clean_line(tmp_path, setup, flags, match):
    setup(tmp_path / "d")
    flags = flags or ["--label-pattern", r"^([a-z]+)_"]
    res = cli("train", "--task", "audio", "--data", tmp_path / "d", "--out", tmp_path / "run", "--steps", "2",
              "--max-time", "10", *flags)
    assert_clean_error(res, match)
    assert not (tmp_path / "run").exists()


def test_skip_bad_files_lists_them(tmp_path):
    d = tones_folder(tmp_path / "d", per_class=4)
    (d / "mid_bad_9.wav").write_text("not audio")
    out = ok(cli("train", "--task", "audio", "--data", d, "--label-pattern", r"^([a-z]+)_", "--out", tmp_path / "run",
                 "--steps", "2", "--max-time", "10", "--skip-bad-files", "--channels", "4", "--hidden-size", "8"))
    assert "skipped 1 bad files" in out.stdout and "mid_bad_9.wav" in out.stdout


def test_fsdd_trains_briefly(tmp_path):
    data = needs_shared("fsdd")
    ok(cli("train", "--task", "audio", "--data", data, "--label-pattern", r"^(\d)_", "--split", "pattern",
           "--test-pattern", r"_[0-4]\.wav$", "--out", tmp_path / "digits", "--steps", "5", "--max-time", "30"))
    ev = json.loads(ok(cli("evaluate", tmp_path / "digits", "--json")).stdout)
    assert ev["clips"] == 300 and len(ev["labels"]) == 10


def test_crossval_leaves_each_group_out(tmp_path):
    root = tones_folder(tmp_path / "t", per_class=9)
    res = json.loads(ok(cli("crossval", "--task", "audio", "--data", root, "--label-pattern", r"^([a-z]+)_",
                            "--group-pattern", r"^[a-z]+_([a-z]+)_", "--out", tmp_path / "cv", "--steps", "3",
                            "--max-time", "20", "--channels", "4", "--hidden-size", "8", "--json")).stdout)
    assert set(res["folds"]) == {"ann", "bob", "cid"}
    assert res["worst"]["accuracy"] == min(res["folds"].values())
    for g in ("ann", "bob", "cid"):  # each fold's test part is exactly that speaker
        split = json.loads((tmp_path / "cv" / g / "split.json").read_text())
        assert {c["group"] for c in split["clips"] if c["part"] == "test"} == {g}
        assert g not in {c["group"] for c in split["clips"] if c["part"] != "test"}


def test_held_out_clips_do_not_change_the_fitted_normalization(tmp_path):
    """Poison the validation and test clips (the split depends on names, not sound): the run's
    normalization statistics stay those of its training clips."""
    import shutil

    from rnnkit.audio.wav import read_wav
    from rnnkit.core import checkpoint

    clean = tones_folder(tmp_path / "clean", per_class=6)
    poisoned = tmp_path / "poisoned"
    shutil.copytree(clean, poisoned)
    cfg = cfg_for(clean, steps=2)
    cfg.data.split, cfg.data.test_pattern = "pattern", r"_0\.wav$"
    runs = {root.name: tmp_path / f"run-{root.name}" for root in (clean, poisoned)}
    api.train(cfg, runs["clean"])
    parts = _parts(runs["clean"])
    held_out = [p for p, part in parts.items() if part != "train"]
    assert {parts[p] for p in held_out} == {"val", "test"}
    for name in held_out:
        x, rate = sf.read(poisoned / name, dtype="float32")
        sf.write(poisoned / name, np.clip(x * 3 + 0.5, -1, 1), rate, subtype="FLOAT")
    cfg.data.data = str(poisoned)
    api.train(cfg, runs["poisoned"])
    assert _parts(runs["poisoned"]) == parts
    stats = [checkpoint.load(run / "last.safetensors")[1]["normalization"] for run in runs.values()]
    assert stats[0] == stats[1]
    # and they are the statistics of exactly the training clips
    train_waves = [read_wav(clean / p, cfg.features.sample_rate) for p, part in parts.items() if part == "train"]
    mean, std = fit_normalization(cfg.features, train_waves)
    np.testing.assert_allclose(stats[0]["mean"], mean.numpy(), rtol=1e-6)


def test_data_fraction_marks_the_other_training_clips_unused(tmp_path):
    root = tones_folder(tmp_path / "t", per_class=10)
    clips = {}
    for f in (1.0, 0.5):
        api.train(cfg_for(root, steps=1, data_fraction=f), tmp_path / f"run{f}")
        clips[f] = json.loads((tmp_path / f"run{f}" / "split.json").read_text())["clips"]
    whole, half = ({c["path"]: c["part"] for c in clips[f]} for f in (1.0, 0.5))
    assert whole.keys() == half.keys()
    assert all(half[p] == whole[p] for p in whole if whole[p] in ("val", "test"))  # unchanged
    trained = [p for p in whole if whole[p] == "train"]
    assert sum(half[p] == "train" for p in trained) == round(len(trained) / 2)
    assert {half[p] for p in trained} == {"train", "unused"}


def _parts(run) -> dict[str, str]:
    return {c["path"]: c["part"] for c in json.loads((run / "split.json").read_text())["clips"]}


def test_split_seed_fixes_the_split_while_the_seed_varies_the_training(tmp_path):
    root = tones_folder(tmp_path / "t", per_class=10)
    for name, seed, split_seed in (("a", 0, 7), ("b", 1, 7), ("c", 0, 8)):
        cfg = cfg_for(root, steps=1, seed=seed)
        cfg.data.split_seed = split_seed
        api.train(cfg, tmp_path / name)
    a, b, c = (_parts(tmp_path / name) for name in "abc")
    assert a == b  # another --seed, the same --split-seed: every clip in the same part
    assert a != c  # another --split-seed: another split
    assert [json.loads((tmp_path / n / "split.json").read_text())["seed"] for n in "abc"] == [7, 7, 8]
    weights = [api.load(tmp_path / n).model.state_dict() for n in "ab"]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # --seed still seeds the model


def test_a_config_saved_before_split_seed_loads_and_reproduces_its_split(tmp_path):
    """A run saved before ``--split-seed`` existed has no such field; it was split by ``--seed``."""
    import dataclasses

    from rnnkit.tasks import TASKS, resume_config

    root = tones_folder(tmp_path / "t", per_class=10)
    saved = dataclasses.asdict(cfg_for(root, steps=1, seed=3))
    del saved["data"]["split_seed"]
    api.train(from_dict(AudioConfig, saved), tmp_path / "run")
    clips = find_clips(from_dict(AudioConfig, saved).data)
    old = split_clips(ClipsConfig(data=str(root)), clips, seed=3)  # the old code's call: split by --seed
    assert _parts(tmp_path / "run") == {c.path: p for c, p in zip(clips, old)}
    assert old != split_clips(ClipsConfig(data=str(root)), clips, seed=0)  # (the seed matters)
    config_file = tmp_path / "run" / "config.json"
    config_file.write_text(json.dumps(saved))  # config.json as such a run wrote it
    resumed = resume_config(TASKS["audio"], tmp_path / "run", {"train": {"steps": 2}})
    assert resumed.data.split_seed is None and api.train(resumed, tmp_path / "run", resume=True).steps == 2
