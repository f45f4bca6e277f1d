"""Self-describing checkpoints that never execute code when loaded.

One checkpoint is one ``.safetensors`` file, written to a temporary name and renamed, so a
kill never leaves half a checkpoint. It holds

* tensors: ``model/<name>`` (weights), ``optim/<i>/<key>`` (optimizer moments),
  ``state/<key>`` (RNG state, the carried hidden state of truncated BPTT);
* one JSON document in the header metadata (key ``rnnkit``): model kind and config,
  vocabulary, data split, training config, step, scalar optimizer state, metrics, and a
  SHA-256 over all of it and every tensor byte, checked on load to catch damage or edits.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from .errors import RnnkitError
from .fileio import atomic_write_bytes

FORMAT = 1


def _digest(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode("utf-8"))
        h.update(str(t.dtype).encode())
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``tensors`` (any device) and the JSON-able ``meta`` to ``path`` atomically."""
    cpu = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}  # clone: tied weights
    meta = {"format": FORMAT, **meta}
    meta["sha256"] = _digest(cpu, meta)
    atomic_write_bytes(path, save_bytes(cpu, metadata={"rnnkit": json.dumps(meta)}))


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint onto the CPU and verify it; damage gives a one-line error."""
    path = Path(path)
    if path.is_dir():
        raise RnnkitError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise RnnkitError(f"checkpoint {path} not found; train a model first or pass the right run directory")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_bytes(path.read_bytes())
        meta = json.loads(header["rnnkit"])
    except Exception as e:  # safetensors raises several types for truncated or garbled files
        raise RnnkitError(
            f"checkpoint {path} is damaged or truncated ({type(e).__name__}); "
            f"use the run's other checkpoint (best/last) or train again"
        )
    expected = meta.pop("sha256", None)
    if expected != _digest(tensors, meta):
        raise RnnkitError(
            f"checkpoint {path} failed its checksum: it was modified or damaged after it was written; "
            f"use the run's other checkpoint (best/last) or train again"
        )
    if meta.get("format") != FORMAT:
        raise RnnkitError(f"checkpoint {path} has format {meta.get('format')}, this rnnkit reads {FORMAT}; upgrade rnnkit")
    return tensors, meta


def section(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix/``, with the prefix removed."""
    p = prefix + "/"
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def with_prefix(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}/{k}": v for k, v in tensors.items()}


# -- optimizer state: tensors into safetensors, the rest into JSON ----------------------------
def split_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for idx, st in state_dict["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{idx}/{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def join_optimizer_state(tensors: dict[str, torch.Tensor], info: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = value
    for idx, st in info.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(st)
    return {"state": state, "param_groups": info["param_groups"]}


def read_kind(path: Path) -> str:
    """The ``kind`` a checkpoint's header records (its task), read without loading the tensors.

    Only for choosing the code that loads it: :func:`load` verifies the file.
    """
    path = Path(path)
    if not path.is_file():
        raise RnnkitError(f"checkpoint {path} not found; train a model first or pass the right run directory")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["rnnkit"])
    except Exception as e:  # safetensors raises several types for truncated or garbled files
        raise RnnkitError(f"checkpoint {path} is damaged or truncated ({type(e).__name__}); "
                          f"use the run's other checkpoint (best/last) or train again")
    return str(meta.get("kind"))


def load_weights(model: "torch.nn.Module", tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Put a checkpoint's ``model/`` weights into ``model``; a mismatch means the file is damaged."""
    try:
        model.load_state_dict(section(tensors, "model"))
    except RuntimeError as e:
        raise RnnkitError(f"checkpoint {path} does not match its own config ({str(e).splitlines()[0]}); it is damaged")
