"""Export a trained run to ONNX (``rnnkit export``), checked against the PyTorch model when it is made.

``from rnnkit import export``: ``export.export(run, out, export.ExportConfig(...))`` writes the folder
that ``rnnkit.runtime.load`` runs without torch. Names are imported on first use.
"""

from ..core.lazy import exports

_WHERE = dict.fromkeys(["Draft", "ExportConfig", "TOLERANCE", "export"], ".exporter")
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
