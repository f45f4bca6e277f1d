"""The ``rnnkit export`` verb: its parser and a thin command over ``rnnkit.export.export``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import graph


def add_parsers(sub) -> dict:
    """Add ``export`` to the CLI's subparsers; returns ``{verb: command}``."""
    x = sub.add_parser("export", help="export a trained run (any task) to ONNX, run later without torch",
                       description="Write ONNX graphs, the data they need (vocabularies, label names, scalers) and a "
                                   "manifest.json with a SHA-256 per file to --out. The export is loaded by the "
                                   "torch-free runtime (rnnkit.runtime.load) and compared with the PyTorch model on "
                                   "generated inputs of several lengths and batch sizes before it is written; a "
                                   "difference above 1e-4 is an error and nothing is written.")
    x.add_argument("run", type=Path, help="run directory")
    x.add_argument("--out", type=Path, default=None,
                   help="export folder to write (default: RUN/onnx, where the use verbs' --backend onnx look)")
    x.add_argument("--format", choices=["onnx"], default="onnx", help="export format (default: onnx)")
    x.add_argument("--opset", type=int, default=graph.DEFAULT_OPSET,
                   help=f"ONNX opset to write (default: {graph.DEFAULT_OPSET}; at least {graph.MIN_OPSET})")
    x.add_argument("--quantize", choices=["int8"], default="",
                   help="quantize the weights to int8 (onnxruntime dynamic quantization; LSTM and linear layers, not "
                        "GRU); the validation score it costs is reported and stored in the manifest")
    x.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of the run")
    x.add_argument("--overwrite", action="store_true", help="replace an existing export folder at --out")
    x.add_argument("--json", action="store_true", help="print the manifest as JSON")
    return {"export": cmd_export}


def cmd_export(args: argparse.Namespace) -> None:
    from .exporter import ExportConfig, export

    config = ExportConfig(format=args.format, opset=args.opset, quantize=args.quantize, overwrite=args.overwrite,
                          which=args.checkpoint)
    from ..runtime import default_folder

    args.out = args.out or default_folder(args.run)
    manifest = export(args.run, args.out, config)
    if args.json:
        print(json.dumps(manifest))
        return
    parity = manifest["parity"]
    print(f"exported {manifest['task']} run {args.run} to {args.out}: {', '.join(manifest['graphs'])} "
          f"(opset {manifest['opset']}); runtime vs PyTorch max |difference| {parity['max_abs_diff']:.2g} "
          f"(tolerance {parity['tolerance']:g})")
    if "quantized" in manifest:
        print("int8: " + ", ".join(f"{k} {v}" for k, v in manifest["quantized"].items()))
    print(f"use it without torch: python -c \"from rnnkit import runtime; m = runtime.load('{args.out}')\"")
