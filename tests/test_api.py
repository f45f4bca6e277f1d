"""One Python API across tasks: ``rnnkit.load`` of any run, and each task package's verbs."""

import importlib

import pytest

import rnnkit
from rnnkit import audio, forecast, tasks, text, translate
from rnnkit.core import checkpoint
from rnnkit.forecast import api as forecast_api


def test_every_task_package_has_the_same_verbs():
    from rnnkit import classify, tag

    for package, use in ((text, "sample"), (translate, "translate"), (forecast, "forecast"), (audio, "classify"),
                         (classify, "predict"), (tag, "tag"), (tag, "tag_text")):
        for verb in ("train", "load", "evaluate", use):
            assert callable(getattr(package, verb)), f"{package.__name__}.{verb}"
        assert set(package.__all__) <= set(dir(package))
    assert {spec.api.__name__.rsplit(".", 1)[0] for spec in tasks.TASKS.values()} == {
        p.__name__ for p in (text, translate, forecast, audio, classify, tag)}  # every task of the registry is above
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        forecast.nope


def test_the_registry_names_each_task_by_its_modules_kind():
    """The registry holds each ``kind`` as text (so it imports no task); it must be the task's own KIND."""
    for spec in tasks.TASKS.values():
        assert spec.kind == importlib.import_module(spec.config.__module__).KIND, spec.name


def test_top_level_load_of_a_language_model_run_is_the_lm_load(trained_run):
    lm = rnnkit.load(trained_run)
    assert isinstance(lm, rnnkit.LoadedModel) and lm.source == text.load(trained_run).source
    assert rnnkit.load(trained_run, which="last", mix=False).source.name == "last.safetensors"
    assert rnnkit.sample(lm, rnnkit.SampleConfig(length=5, seed=1)) == text.sample(lm, text.SampleConfig(length=5, seed=1))


def test_top_level_load_dispatches_by_the_checkpoints_kind(tmp_path, monkeypatch):
    """A forecast checkpoint goes to forecast.load (the others' loads are not tried)."""
    calls, ckpt = [], tmp_path / "best.safetensors"
    ckpt.write_bytes(b"")  # read_kind is replaced: only its path matters
    monkeypatch.setattr(checkpoint, "read_kind", lambda path: "forecast")
    monkeypatch.setattr(forecast_api, "load", lambda path, device, which: calls.append((path, device, which)) or "fc")
    assert rnnkit.load(ckpt, device="cpu", which="last") == "fc"
    assert calls == [(ckpt, "cpu", "last")]


def test_an_unknown_kind_is_one_clear_error(monkeypatch, tmp_path):
    (tmp_path / "best.safetensors").write_bytes(b"")
    monkeypatch.setattr(checkpoint, "read_kind", lambda path: "weather-model")
    with pytest.raises(rnnkit.RnnkitError, match="'weather-model' model, which this rnnkit does not know"):
        rnnkit.load(tmp_path / "best.safetensors")
