"""Data-parallel training on PyTorch's own engine: ``torchrun`` processes and DistributedDataParallel.

``torchrun --nproc-per-node N -m rnnkit train ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in their environment. Each
copy calls :func:`setup` when its task's ``train()`` starts, which joins the process group
(gloo between CPU processes, NCCL between GPUs, one GPU per process: ``cuda:LOCAL_RANK``),
checks that every rank was started with the same configuration, and that the number of
processes divides the batch. From then on:

* ``--batch-size`` is the **global** batch: each rank reads its own ``batch_size / world``
  rows of every batch (:func:`shard_indices`; the language model's stream: its own rows);
* DDP averages the gradients, so a step with N processes is a step on the whole batch, and
  the learning rate needs no scaling (the run's ``config.json`` states it, ``runtime``);
* rank 0 alone writes files (checkpoints, metrics, config) and reports progress;
* scalars that the loop decides on (validation loss, the logged training loss, the
  wall-clock budget) are all-reduced, so every rank takes the same decisions.

Without ``torchrun`` (no ``WORLD_SIZE`` above 1) none of this happens: the run is the
single-process run, bit for bit.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .errors import RnnkitError

if TYPE_CHECKING:  # the trainer imports this module
    from .trainer import TrainConfig

T = TypeVar("T")


def env_world() -> int:
    """``WORLD_SIZE`` as set by torchrun (1 without it)."""
    try:
        return max(int(os.environ.get("WORLD_SIZE", "1")), 1)
    except ValueError:
        raise RnnkitError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number; start rnnkit with torchrun")


def launched() -> bool:
    """True in a process started by torchrun (or anything that sets its variables) with more than one rank."""
    return env_world() > 1


def quiet_unless_main() -> None:
    """Under torchrun, let only rank 0 print results (every rank still prints its own errors)."""
    if launched() and os.environ.get("RANK", "0") != "0":
        sys.stdout = open(os.devnull, "w")


def active() -> bool:
    """True once this process is part of a process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0: the process that writes files and reports progress."""
    return rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


def _comm_device() -> torch.device:
    """Where collective tensors must live: the GPU for NCCL, the CPU for gloo."""
    if active() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sums over the ranks of a few float64 scalars (the values themselves with one process)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return t.tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (e.g. one rank's clock ran out)."""
    return bool(all_reduce_sum([float(flag)])[0] > 0) if active() else flag


def gather(t: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's ``t`` (same shape and dtype on every rank), on the CPU, in rank order."""
    if not active():
        return [t.detach().cpu()]
    local = t.detach().to(_comm_device()).contiguous()
    parts = [torch.empty_like(local) for _ in range(world())]
    dist.all_gather(parts, local)
    return [p.cpu() for p in parts]


# -- starting -------------------------------------------------------------------------------------
def setup(train: TrainConfig, identity: dict[str, Any]) -> torch.device:
    """Join the torchrun process group (if launched by torchrun) and return this rank's device.

    ``train`` is the run's ``TrainConfig``: its device, batch size and precision are checked here,
    before the run writes anything. ``identity`` is what every rank must agree on (the run's
    configuration, its directory); a rank that differs is named in a one-line error on every rank.
    One process: only :func:`rnnkit.core.trainer.resolve_device`.
    """
    from .trainer import resolve_device, resolve_precision  # the trainer imports this module

    device, batch_size = resolve_device(train.device), train.batch_size
    resolve_precision(train.precision, device)  # a precision this device cannot run: one line, nothing written
    n = env_world()
    if n == 1:
        return device
    if batch_size % n:
        raise RnnkitError(f"--batch-size {batch_size} is the global batch, split evenly over the {n} processes; "
                          f"{n} does not divide it: use a batch size that is a multiple of {n}")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise RnnkitError(f"LOCAL_RANK {local}: this machine has only {torch.cuda.device_count()} GPUs; "
                              f"start at most that many processes per node (--nproc-per-node)")
        device = torch.device("cuda", local)  # one GPU per process
        torch.cuda.set_device(device)
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)  # N processes on N cores: one thread each unless the user said otherwise
    if not dist.is_initialized():
        for var in ("MASTER_ADDR", "MASTER_PORT", "RANK"):
            if var not in os.environ:
                raise RnnkitError(f"WORLD_SIZE is {n} but {var} is not set; start data-parallel runs with "
                                  f"torchrun --nproc-per-node {n} -m rnnkit train ...")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)
        atexit.register(_shutdown)
    check_same(identity)
    return device


def identity(config: Any, out: Any, resume: bool) -> dict[str, Any]:
    """What every rank of one run must agree on: its configuration, its directory, resume or not."""
    return {"config": dataclasses.asdict(config), "out": str(os.path.abspath(out)), "resume": resume}


def finish(code: int = 0) -> None:
    """End a rank of a process group with exit status ``code``, skipping the interpreter's teardown.

    There, objects still holding the gloo group (DDP's reducer) are destroyed in no set order and
    now and then abort a rank ("terminate called without an active exception", exit -6), which
    torchrun reports as a failed run. So every rank ends here: a rank that succeeded (``code`` 0)
    first waits for every rank, then each leaves the group, flushes its output and exits at once
    (``os._exit``). Every file the command writes is complete by then (written and renamed). A
    failing rank does not wait (the others may never get there). The CLI ends through here and so
    does every process the tests start as a rank. Returns at once in a process that never joined
    a group (one process, no torchrun)."""
    if not dist.is_available() or not dist.is_initialized():
        return
    if code == 0 and active():
        dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def backend() -> str:
    return dist.get_backend() if active() else "none"


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def check_same(identity: dict[str, Any]) -> None:
    """Raise on every rank when the ranks' ``identity`` differ (the hashes of its JSON are all-gathered)."""
    if not active():
        return
    text = json.dumps(identity, sort_keys=True, default=str)
    digest = torch.tensor(list(hashlib.sha256(text.encode()).digest()), dtype=torch.uint8)
    hashes = gather(digest)
    if all(torch.equal(h, hashes[0]) for h in hashes):
        return
    every: list[Any] = [None] * world()
    dist.all_gather_object(every, _flat(identity))  # only to name the difference
    base, problems = every[0], []
    for r, other in enumerate(every[1:], start=1):
        keys = sorted(k for k in set(base) | set(other) if base.get(k) != other.get(k))
        if keys:
            shown = ", ".join(f"{_flag(k)} {other.get(k)!r} (rank 0: {base.get(k)!r})" for k in keys[:4])
            problems.append(f"rank {r} has {shown}{' ...' if len(keys) > 4 else ''}")
    raise RnnkitError("the processes were started with different configurations: " + "; ".join(problems) +
                      "; start every rank with the same command line")


def _flag(key: str) -> str:
    name = key.rsplit(".", 1)[-1]
    return "--" + name.replace("_", "-")


def main_first(fn: Callable[[], T]) -> T | None:
    """Run ``fn`` (e.g. preparing the run directory) on rank 0 while the others wait.

    Returns its value on rank 0 and None elsewhere; if it fails on rank 0, every rank raises
    (the others with rank 0's message), so no rank is left waiting for a collective.
    """
    if not active():
        return fn()
    error: str | None = None
    result: T | None = None
    if is_main():
        try:
            result = fn()
        except BaseException as e:  # re-raised below, after telling the other ranks
            error = str(e) if isinstance(e, RnnkitError) else f"{type(e).__name__}: {e}"
            box = [error]
            dist.broadcast_object_list(box, src=0)
            raise
    box = [error]
    dist.broadcast_object_list(box, src=0)
    if box[0] is not None:
        raise RnnkitError(f"rank 0 failed: {box[0]}")
    return result


# -- data and model -------------------------------------------------------------------------------
def shard_indices(idx: T, rank_: int, world_: int, fill: Any) -> T:
    """This rank's examples of one batch ``idx`` (a numpy array or a 1-D tensor of example indices).

    A batch whose size the number of ranks does not divide (the last of an epoch) is padded
    with the first examples of ``fill`` (the epoch's order), as ``DistributedSampler`` does,
    so every rank has the same number of rows; rows are dealt out in turn (``idx[rank::world]``),
    which spreads long and short examples of a length-sorted batch over the ranks.
    """
    pad = (-len(idx)) % world_
    if pad:
        if isinstance(idx, torch.Tensor):
            idx = torch.cat([idx, fill[torch.arange(pad) % len(fill)].to(idx.device)])
        else:
            idx = np.concatenate([idx, np.resize(np.asarray(fill), pad)])
    return idx[rank_::world_]


class DataParallel(DistributedDataParallel):
    """DDP that still answers for its module's own methods and attributes (``model.loss``, ``vocab_size``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DDP when several ranks train it (the model itself otherwise)."""
    if not active():
        return model
    # The gradients live in DDP's all-reduce buckets (views) instead of being copied in and out
    # of them at every step: less memory and one copy fewer per step.
    return DataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                        gradient_as_bucket_view=True)


def rank_seed(seed: int) -> int:
    """A seed for this rank's own random stream (dropout), different on every rank."""
    return int(np.random.SeedSequence([seed, rank()]).generate_state(1)[0])
