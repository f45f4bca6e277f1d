"""The export framework on a stand-in task: manifest checksums, refusals, the parity gate, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnkit import runtime, tasks
from rnnkit.core.errors import RnnkitError
from rnnkit.export import exporter
from rnnkit.export.exporter import ExportConfig, export
from rnnkit.runtime import manifest

KIND = "stand-in"


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x):  # [batch, 3] -> [batch, 2]
        return torch.log_softmax(self.linear(x), -1)


def _stand_in(monkeypatch, gap: float = 0.0):
    """Register a task whose exporter writes one graph and whose parity is the true difference plus ``gap``."""
    model = _Model().eval()

    def write(loaded, draft):
        draft.graph("net", loaded, (torch.randn(4, 3),), ["x"], ["logp"], {"x": {0: "batch"}, "logp": {0: "batch"}})
        draft.data["labels"] = ["a", "b"]
        draft.file("extra/notes.txt", "hello")

    def parity(loaded, exported):
        x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
        got = exported.run("net", x=x)["logp"]
        return {"batch 5": float(np.abs(got - loaded(torch.from_numpy(x)).detach().numpy()).max()) + gap}

    monkeypatch.setattr(exporter.rundir, "checkpoint_path", lambda run, which="best": Path(__file__))
    spec = SimpleNamespace(kind=KIND, export_ref="stand-in", api=SimpleNamespace(load=lambda *a, **k: model))
    monkeypatch.setattr(tasks, "of_run", lambda run, which="best": spec)
    monkeypatch.setattr(tasks, "resolve", lambda ref: SimpleNamespace(export=write, parity=parity))
    monkeypatch.setitem(runtime.RUNTIMES, KIND, "rnnkit.runtime.exported:Exported")
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    model = _stand_in(mp)
    out = tmp_path_factory.mktemp("x") / "export"
    written = export("run", out)
    mp.undo()
    return out, written, model


def test_export_writes_a_checked_folder_the_runtime_runs(exported, monkeypatch):
    out, written, model = exported
    assert sorted(p.name for p in out.iterdir()) == ["extra", "manifest.json", "net.onnx"]
    assert written["graphs"]["net"]["inputs"] == {"x": ["batch", 3]}
    assert written["parity"]["max_abs_diff"] <= 1e-4 and written["parity"]["tolerance"] == 1e-4
    monkeypatch.setitem(runtime.RUNTIMES, KIND, "rnnkit.runtime.exported:Exported")
    loaded = runtime.load(out)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(loaded.run("net", x=x)["logp"], model(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    assert loaded.data == {"labels": ["a", "b"]} and not list(out.parent.glob(".export*"))


@pytest.mark.parametrize("damage", ["change", "remove", "add"])
def test_a_changed_export_is_refused_before_it_runs(exported, tmp_path, damage):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(exported[0], out)
    if damage == "change":
        (out / "extra" / "notes.txt").write_text("hellO")
    elif damage == "remove":
        (out / "net.onnx").unlink()
    else:
        (out / "evil.onnx").write_bytes(b"x")
    with pytest.raises(RnnkitError, match="checksum|missing|not listed") as e:
        manifest.read(out)
    assert "\n" not in str(e.value)


def test_folders_that_are_not_exports_are_refused(tmp_path):
    with pytest.raises(RnnkitError, match="not an rnnkit export"):
        runtime.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(RnnkitError, match="not an rnnkit export manifest"):
        runtime.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "rnnkit-export", "version": 99, "files": {}}))
    with pytest.raises(RnnkitError, match="newer rnnkit"):
        runtime.load(tmp_path)
    with pytest.raises(RnnkitError, match="no export at"):
        runtime.for_run(tmp_path)


def test_the_runs_export_is_refused_when_its_checkpoint_changed(exported, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setitem(runtime.RUNTIMES, KIND, "rnnkit.runtime.exported:Exported")
    shutil.copytree(exported[0], tmp_path / "onnx")
    name = exported[1]["source"]["checkpoint"]
    shutil.copyfile(Path(__file__), tmp_path / name)  # the file the stand-in exported from
    assert runtime.for_run(tmp_path).data["labels"] == ["a", "b"]
    (tmp_path / name).write_text("trained further")
    with pytest.raises(RnnkitError, match="made from an earlier"):
        runtime.for_run(tmp_path)


def test_a_disagreeing_export_is_not_written(monkeypatch, tmp_path):
    _stand_in(monkeypatch, gap=0.01)
    with pytest.raises(RnnkitError, match="disagrees with the PyTorch model"):
        export("run", tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary draft


def test_overwrite_replaces_only_an_export(monkeypatch, tmp_path):
    _stand_in(monkeypatch)
    out = tmp_path / "e"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(RnnkitError, match="already exists; pass --overwrite"):
        export("run", out)
    with pytest.raises(RnnkitError, match="is not an rnnkit export"):
        export("run", out, ExportConfig(overwrite=True))
    assert (out / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize("config, message", [(ExportConfig(opset=7), "--opset 7 cannot be written"),
                                             (ExportConfig(format="tflite"), "--format tflite is not supported"),
                                             (ExportConfig(quantize="int4"), "--quantize int4 is not supported")])
def test_bad_options_are_one_line_errors(tmp_path, config, message):
    with pytest.raises(RnnkitError, match=message):
        export("run", tmp_path / "e", config)


def test_the_cli_refuses_an_opset_in_one_line(tmp_path):
    from rnnkit.cli import main

    assert main(["export", str(tmp_path), "--out", str(tmp_path / "e"), "--opset", "999"]) == 2


def test_the_runtime_package_imports_no_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from rnnkit import runtime\n"
            "from rnnkit.runtime import manifest, exported\n"
            "assert 'torch' not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_quantize_refuses_gru_graphs(tmp_path):
    from rnnkit.export.graph import to_onnx
    from rnnkit.export.quantize import _refuse_gru

    gru = torch.nn.GRU(3, 4, batch_first=True)
    spec = to_onnx(gru, (torch.randn(2, 5, 3),), tmp_path / "g.onnx", ["x"], ["y", "h"], {"x": {0: "batch", 1: "time"}})
    with pytest.raises(RnnkitError, match="cannot quantize GRU"):
        _refuse_gru(tmp_path, {"g": spec})
