"""A run trained with ``--precision bf16`` exports like any other: autocast keeps the weights in fp32, so the
export is fp32 and passes the same 1e-4 check. bf16 training needs a CPU with native bf16 (or a GPU)."""

import pytest
import torch

from rnnkit import runtime
from rnnkit.classify import api
from rnnkit.classify.task import ClassifyConfig
from rnnkit.core.config import from_dict
from rnnkit.core.trainer import cpu_has_native_bf16
from rnnkit.export.exporter import export

DEVICE = "cuda" if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False) else "cpu"
pytestmark = pytest.mark.skipif(DEVICE == "cpu" and not cpu_has_native_bf16(),
                                reason="bf16 training needs a CPU with native bf16 (AMX or AVX512-BF16) or a bf16 GPU")


def test_a_bf16_run_exports_and_agrees_with_its_checkpoint(tmp_path):
    data = tmp_path / "texts.csv"
    data.write_text("text,label\n" + "".join(f"{'good fine nice' if i % 2 else 'bad poor awful'} {i % 7},"
                                              f"{'pos' if i % 2 else 'neg'}\n" for i in range(80)), encoding="utf-8")
    cfg = from_dict(ClassifyConfig, {"data": {"data": str(data)}, "units": {"min_freq": 1},
                                     "model": {"hidden_size": 8, "embedding_size": 6},
                                     "train": {"max_time": None, "steps": 4, "eval_every": 100, "precision": "bf16",
                                               "device": DEVICE}})
    run = tmp_path / "run"
    api.train(cfg, run)
    manifest = export(run, runtime.default_folder(run))
    assert manifest["parity"]["max_abs_diff"] <= 1e-4
    texts = ["good fine 3", "bad poor 1"]
    torch_top = api.predict(api.load(run), texts, 1)
    onnx_top = runtime.for_run(run).predict(texts, 1)
    assert [t[0][0] for t in torch_top] == [t[0][0] for t in onnx_top]
