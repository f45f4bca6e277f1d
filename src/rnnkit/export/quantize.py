"""``--quantize int8``: onnxruntime's dynamic int8 quantization of an export's weights, and what it costs.

Dynamic quantization stores MatMul/LSTM weights as int8 and quantizes activations on the fly. It
covers ONNX's LSTM but not its GRU node, so GRU models are refused (their recurrent weights would stay
fp32 and the gain would be small). The cost is measured, not assumed: the task's
``quantized_cost`` scores the fp32 and the int8 export on the run's validation split; tasks without it
report the largest output difference on the parity inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import RnnkitError


def _refuse_gru(folder: Path, graphs: dict) -> None:
    import onnx

    for spec in graphs.values():
        if any(n.op_type == "GRU" for n in onnx.load(str(folder / spec["file"])).graph.node):
            raise RnnkitError("--quantize int8 cannot quantize GRU models: onnxruntime's dynamic quantization "
                              "covers LSTM and MatMul but not GRU nodes; export without --quantize")


def quantize(module: Any, loaded: Any, draft: Any, run: Path) -> dict:
    """Quantize every graph of ``draft`` in place (its fp32 parity already checked); the cost measured."""
    import json
    import shutil

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .. import runtime
    from ..runtime import manifest as manifest_file

    folder = draft.folder
    _refuse_gru(folder, draft.graphs)
    fp32_copy = folder.parent / f"{folder.name}.fp32"
    shutil.copytree(folder, fp32_copy)
    try:
        for spec in draft.graphs.values():
            quantize_dynamic(str(fp32_copy / spec["file"]), str(folder / spec["file"]), weight_type=QuantType.QInt8)
        manifest_file.write(folder, json.loads((folder / manifest_file.MANIFEST).read_text(encoding="utf-8")))
        fp32, int8 = runtime.load(fp32_copy), runtime.load(folder)
        if hasattr(module, "quantized_cost"):
            return {"type": "int8-dynamic", **module.quantized_cost(loaded, fp32, int8, run)}
        diffs = module.parity(loaded, int8)
        return {"type": "int8-dynamic", "max_abs_diff_vs_pytorch": max(diffs.values(), default=0.0)}
    finally:
        shutil.rmtree(fp32_copy, ignore_errors=True)
