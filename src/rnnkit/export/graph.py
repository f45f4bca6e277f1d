"""One ``torch.nn.Module`` -> one ONNX file, with named inputs and outputs and dynamic axes.

Uses ``torch.onnx.export(dynamo=True)`` (the exporter PyTorch recommends; TorchScript is
deprecated). Its progress lines and warnings are kept off the terminal.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path


from ..core.errors import RnnkitError

# the first opset the dynamo exporter writes; the default is the one it is tested at
MIN_OPSET = 18
DEFAULT_OPSET = 18


def check_opset(opset: int) -> None:
    """Refuse an opset that the dynamo exporter or the installed onnx cannot write (one line)."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise RnnkitError(f"--opset {opset} cannot be written: the exporter writes opsets {MIN_OPSET} to {newest} "
                          f"with the installed onnx {onnx.__version__}; pass one of those")


def _quiet():
    stack = contextlib.ExitStack()
    sink = io.StringIO()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(sink))
    stack.enter_context(contextlib.redirect_stderr(sink))
    for name in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "onnxscript"):
        logger = logging.getLogger(name)
        old = logger.level
        logger.setLevel(logging.ERROR)
        stack.callback(logger.setLevel, old)
    return stack


def _forget_rnn_kernels() -> None:
    """Drop the kernels PyTorch cached for ``aten.lstm``/``aten.gru``. The exporter swaps in loop-free
    decompositions (so the time axis stays dynamic) by editing ``py_kernels`` without clearing the ops'
    dispatch cache: after one export, the next one in the same process would get the cached Python-loop
    decomposition, which fixes the time axis to the traced length and fails."""
    import torch

    for op in (torch.ops.aten.lstm.input, torch.ops.aten.gru.input):
        getattr(op, "_dispatch_cache", {}).clear()


def to_onnx(module: torch.nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str],
            outputs: list[str], dynamic: dict[str, dict[int, str]], opset: int = DEFAULT_OPSET) -> dict:
    """Export ``module(*args)`` (in eval mode) to ``path``; its I/O description for the manifest.

    ``inputs``/``outputs``: names in the order of the module's arguments and results. ``dynamic``: for each
    name (input or output), ``{axis: symbolic name}`` of the axes that vary (e.g. ``{0: "batch", 1: "time"}``);
    other axes keep the sizes they had in ``args``. Trace ``args`` with sizes > 1 on every dynamic axis.
    """
    import torch  # here, not at the top: the CLI's parser reads this module's opsets and must stay light

    module = module.eval()
    shapes = tuple({axis: torch.export.Dim.DYNAMIC for axis in dynamic.get(name, {})} or None for name in inputs)
    _forget_rnn_kernels()
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(module, args, None, dynamo=True, input_names=inputs, output_names=outputs,
                                        dynamic_shapes=shapes, opset_version=opset, verbose=False)
    except Exception as e:  # the exporter raises many kinds; the first line says what it could not write
        raise RnnkitError(f"the model could not be exported to ONNX ({str(e).splitlines()[0][:300]}); "
                          f"report it with the run's config.json") from None
    model = program.model_proto
    io_spec = {}
    for value in list(model.graph.input) + list(model.graph.output):
        names = dynamic.get(value.name, {})
        dims = value.type.tensor_type.shape.dim
        for axis, dim in enumerate(dims):
            if axis in names:  # the exporter's own symbols (s12) or a traced size -> the caller's name
                dim.dim_param = names[axis]
        io_spec[value.name] = [d.dim_param or d.dim_value for d in dims]
    import onnx

    # the exporter's shapes of inner values can hold a traced length where the axis is dynamic (a recurrent
    # layer's time axis, pytorch#191855): drop them, onnxruntime infers its own
    del model.graph.value_info[:]
    onnx.save(model, str(path))
    return {"file": Path(path).name, "opset": opset,
            "inputs": {v.name: io_spec[v.name] for v in model.graph.input},
            "outputs": {v.name: io_spec[v.name] for v in model.graph.output}}
