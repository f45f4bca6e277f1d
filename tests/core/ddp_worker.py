"""One rank of the data-parallel tests (``test_distributed.py`` starts two of these as torchrun would,
with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set) and writes what it saw to ``OUT/rank<r>.json``.

    python ddp_worker.py lm TMPDIR       the language model: uninterrupted, killed + resumed, batches seen
    python ddp_worker.py tasks TMPDIR    translation, forecasting, audio, classification and tagging, a few steps each
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest, the task tests' data makers

import rnnkit  # noqa: E402
from rnnkit.core import checkpoint, distributed, fileio, trainer  # noqa: E402
from rnnkit.text import api as text_api  # noqa: E402
from rnnkit.text.language_model import LMTask  # noqa: E402

WRITES: list[str] = []
MODELS: list[torch.nn.Module] = []


def record_writes() -> None:
    """Every file written through rnnkit's atomic writer (checkpoints, metrics, JSON) on this rank."""
    real = fileio.atomic_write_bytes

    def spy(path, data):
        WRITES.append(str(path))
        real(path, data)

    for module in (fileio, checkpoint, trainer):
        module.atomic_write_bytes = spy
    real_open = trainer.MetricsLog.__init__

    def log_init(self, path, keep_until, write=True, mirror=None):
        real_open(self, path, keep_until, write, mirror)
        if self.file is not None:
            WRITES.append(str(path))

    trainer.MetricsLog.__init__ = log_init


def record_models(module) -> None:
    """Keep each trained model (after fit returns) to compare the ranks' parameters."""
    real = module.fit

    def spy(task, *args, **kw):
        result = real(task, *args, **kw)
        MODELS.append(task.model)
        return result

    module.fit = spy


def param_digest(model: torch.nn.Module) -> list[float]:
    flat = torch.cat([p.detach().double().reshape(-1) for p in model.parameters()])
    return [float(flat.sum()), float((flat * torch.arange(1, len(flat) + 1, dtype=torch.float64)).sum())]


def lm(tmp: Path) -> dict:
    from conftest import tiny_config

    seen = []
    real_batches = LMTask.batches

    def batches(self, epoch, start):
        for b in real_batches(self, epoch, start):
            seen.append(b.inputs.tolist())
            yield b

    LMTask.batches = batches
    cfg = tiny_config(tmp / "tiny.txt", steps=8, eval_every=3, log_every=1)
    cfg.mix.mix_order = 0
    text_api.train(cfg, tmp / "full")
    batches_seen, seen[:] = list(seen), []
    text_api.train(cfg, tmp / "cut", stop_after=5)  # killed after step 5; its last checkpoint is step 3
    text_api.train(text_api.resume_config(tmp / "cut", {}), tmp / "cut", resume=True)
    return {"batches": batches_seen, "params": [param_digest(m) for m in MODELS]}


def tasks(tmp: Path) -> dict:
    from rnnkit import translate
    from rnnkit.audio import api as audio_api
    from rnnkit.classify import api as classify_api
    from rnnkit.forecast import api as forecast_api
    from rnnkit.tag import api as tag_api

    import sharded_configs

    translate.train(sharded_configs.translate(tmp), tmp / "translate")
    forecast_api.train(sharded_configs.forecast(tmp), tmp / "forecast")
    audio_api.train(sharded_configs.audio(tmp), tmp / "audio")
    classify_api.train(sharded_configs.classify(tmp), tmp / "classify")
    tag_api.train(sharded_configs.tag(tmp), tmp / "tag")
    return {"params": [param_digest(m) for m in MODELS]}


def main() -> None:
    what, tmp = sys.argv[1], Path(sys.argv[2])
    sys.path.insert(0, str(Path(__file__).parent))
    record_writes()
    from rnnkit.audio import api as audio_api
    from rnnkit.forecast import api as forecast_api
    from rnnkit.classify import api as classify_api
    from rnnkit.tag import api as tag_api
    from rnnkit.translate import api as translate_api

    for module in (text_api, translate_api, forecast_api, audio_api, classify_api, tag_api):
        record_models(module)
    result = lm(tmp) if what == "lm" else tasks(tmp)
    result.update(rank=distributed.rank(), world=distributed.world(), threads=torch.get_num_threads(),
                  writes=WRITES)
    (tmp / f"rank{distributed.rank()}.json").write_text(json.dumps(result))
    distributed.finish()  # as the CLI ends a rank: wait for all, leave the group, skip the teardown


if __name__ == "__main__":
    assert rnnkit
    main()
