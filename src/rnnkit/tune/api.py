"""rnnkit's tuning API: start or continue a study, join one as a worker, print one.

>>> from pathlib import Path
>>> from rnnkit.tune import api as tune
>>> summary = tune.tune(Path("runs/tune"), config=Path("base.toml"), space=Path("space.toml"),
...                     sampler={"sampler": "tpe"}, trials=20)          # trials in runs/tune/trials/NNN
>>> tune.tune(Path("runs/tune"), tries=["rnn.hidden_size=768 train.lr=2e-3"])  # a hand-chosen trial, next
>>> print(tune.show(Path("runs/tune")))                                # trials, best, importances

A tune folder holds ``study.json`` (where the study is stored: the journal file
``study.journal`` beside it, or a database URL, and the study's name), ``trials/NNN/`` (one
rnnkit run per trial), ``trials.csv``, ``best.toml`` and ``plots/``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import optuna

from .. import tasks
from ..core.config import from_dict, load_file, merge
from ..core.errors import RnnkitError
from ..core.fileio import read_json, write_json
from . import results, workers
from .space import load_space, parse_try
from .study import (DEFAULT_TRIALS, SamplerConfig, Setup, VAL_LOSS, check_metric, counted, read_setup, run_trials,
                    search_over, write_setup)

STUDY_FILE = "study.json"


@dataclass
class TuneSummary:
    out: Path
    study: str
    task: str
    counts: dict[str, int]  # trials by state
    target: int
    best_number: int | None
    best_value: float | None
    objective: str
    files: list[Path]  # trials.csv, best.toml, plots
    notes: list[str] = dataclasses.field(default_factory=list)  # what was left out, and why
    stopped: str = ""  # why the study ended short of its target (every point trained, converged), or ""


def _storage_url(out: Path, ref: dict) -> str:
    return ref["storage"] or str(out / workers.JOURNAL)


def _open(out: Path, workers_n: int = 1) -> tuple[optuna.Study, Setup, str]:
    """The study of an existing tune folder."""
    ref = read_json(out / STUDY_FILE)
    url = _storage_url(out, ref)
    try:
        study = optuna.load_study(study_name=ref["study"], storage=workers.open_storage(url, workers_n))
    except KeyError:
        raise RnnkitError(f"{out}: the study {ref['study']!r} is not in its storage {url}; the folder is damaged")
    return study, read_setup(study), url


def _same(name: str, given: Any, saved: Any) -> None:
    if given is not None and given != saved:
        raise RnnkitError(f"{name} differs from the study's ({saved!r} there); a study's task, base config, space, "
                          f"metric and trial time are fixed: start a new study with another --out")


def _create(out: Path, *, task: str | None, config: Path | None, space: Path | None, metric: str | None,
            trial_time: float | None, storage: str | None, study_name: str | None, sampler: SamplerConfig,
            trials: int | None, workers_n: int, tries: list[str]) -> tuple[optuna.Study, Setup, str]:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RnnkitError(f"{out} exists and is not a tune folder (no {STUDY_FILE}); choose another --out")
    if space is None:
        raise RnnkitError(f"--space is required to start a study in {out} (a TOML file with a [space] table)")
    spec = tasks.TASKS[task or tasks.DEFAULT]
    base = load_file(config) if config else {}
    from_dict(spec.config, base, str(config or "base config"))  # the base must be a valid configuration
    parsed = load_space(space, spec)
    for t in tries:  # checked before the study exists, so bad input leaves nothing behind
        parse_try(t, parsed)
    metric = metric or VAL_LOSS
    check_metric(spec.name, metric, sampler.prune)
    if trial_time is not None and trial_time <= 0:
        raise RnnkitError(f"--trial-time must be positive, got {trial_time}")
    grid = parsed.grid_size() if sampler.sampler == "grid" else None  # raises for a range without a step
    target = min(trials, grid) if trials and grid else (trials or grid or DEFAULT_TRIALS)
    setup = Setup(spec.name, base, parsed.to_json(), metric, trial_time, target, dataclasses.asdict(sampler))
    url = storage or str(out / workers.JOURNAL)
    if not workers.is_database(url):
        out.mkdir(parents=True, exist_ok=True)
    st = workers.open_storage(url, workers_n)
    out.mkdir(parents=True, exist_ok=True)
    name = study_name or out.resolve().name
    try:
        study = optuna.create_study(study_name=name, storage=st, direction=setup.direction)
    except optuna.exceptions.DuplicatedStudyError:
        raise RnnkitError(f"a study named {name!r} already exists in {url}; pass another --study, or continue it "
                          f"with rnnkit tune --out on the folder that started it (or rnnkit tune-worker)")
    write_setup(study, setup)
    write_json(out / STUDY_FILE, {"storage": storage, "study": name})
    return study, setup, url


def tune(out: Path, *, task: str | None = None, config: Path | None = None, space: Path | None = None,
         metric: str | None = None, trial_time: float | None = None, trials: int | None = None,
         sampler: dict | None = None, workers_n: int = 1, storage: str | None = None, study_name: str | None = None,
         tries: list[str] = (), stream=None) -> TuneSummary:
    """Start a study in ``out`` (``space`` required) or continue the one there, and run it to its target.

    ``trials`` is the number of trials the study should reach in all (default: the grid's size
    for the grid sampler, else 20); each ``tries`` entry (``"key=value key=value"``) is a
    hand-chosen trial that runs next, on top of that number. ``sampler`` holds options of
    :class:`SamplerConfig` (sampler, startup_trials, seed, prune).
    """
    out = Path(out)
    if workers_n < 1:
        raise RnnkitError(f"--workers must be at least 1, got {workers_n}")
    if trials is not None and trials < 1:
        raise RnnkitError(f"--trials must be at least 1, got {trials}")
    if storage is not None and workers.is_sqlite(storage) and workers_n > 1:
        workers.open_storage(storage, workers_n)  # refuses with Optuna's advice
    if (out / STUDY_FILE).is_file():
        ref = read_json(out / STUDY_FILE)
        _same("--storage", storage, ref["storage"])
        _same("--study", study_name, ref["study"])
        study, setup, url = _open(out, workers_n)
        spec = setup.spec
        _same("--task", task, setup.task)
        _same("--config", load_file(config) if config else None, setup.base)
        _same("--space", load_space(space, spec).to_json() if space else None, setup.space)
        _same("--metric", metric, setup.metric)
        _same("--trial-time", trial_time, setup.trial_time)
        cfg = from_dict(SamplerConfig, merge(setup.sampler, sampler or {}), "options")
        check_metric(setup.task, setup.metric, cfg.prune)
        if cfg.sampler == "grid":
            setup.parsed_space().grid()
        setup.sampler = dataclasses.asdict(cfg)
        if trials is not None:
            setup.target = trials
    else:
        cfg = from_dict(SamplerConfig, sampler or {}, "options")
        study, setup, url = _create(out, task=task, config=config, space=space, metric=metric, trial_time=trial_time,
                                    storage=storage, study_name=study_name, sampler=cfg, trials=trials,
                                    workers_n=workers_n, tries=tries)
    space_ = setup.parsed_space()
    chosen = [parse_try(t, space_) for t in tries]  # every --try checked before any is enqueued
    for values in chosen:
        study.enqueue_trial(values, user_attrs={"hand_chosen": True})
    setup.target += len(chosen)
    write_setup(study, setup)
    workers.fail_dead_workers(study)  # a killed earlier ``tune`` left running trials behind
    with results.TrialTable(setup, stream) as table:
        table.update(study)
        if workers_n == 1:
            run_trials(study, out, on_trial=lambda s, t: table.update(s), keep_going=workers.checker())
        else:
            workers.supervise(url, study, out, workers_n, on_poll=lambda: table.update(study))
    return write_results(out, study, setup)


def write_results(out: Path, study: optuna.Study, setup: Setup) -> TuneSummary:
    """``trials.csv``, ``best.toml`` (when a trial completed) and the plots, written atomically."""
    files = [out / "trials.csv"]
    results.write_csv(files[0], results.rows(study, setup))
    best = results.best_trial(study)
    if best is not None:
        results.write_best(out / "best.toml", setup, best)
        files.append(out / "best.toml")
    files += results.write_plots(out / "plots", study)
    counts = results.state_counts(study)
    stopped = search_over(study, setup.parsed_space()) if counted(study) < setup.target else ""
    notes = [] if results.has_fanova() else [results.NO_FANOVA]
    return TuneSummary(out, study.study_name, setup.task, counts, setup.target, best.number if best else None,
                       best.value if best else None, results.objective_name(setup), files, notes, stopped)


def is_tune_folder(out: Path) -> bool:
    return (Path(out) / STUDY_FILE).is_file()


def open_study(out: Path) -> tuple[optuna.Study, Setup]:
    """The study of a tune folder and its set-up (read-only use: showing, reporting)."""
    if not is_tune_folder(out):
        raise RnnkitError(f"{out} holds no study ({STUDY_FILE} missing); pass the --out of rnnkit tune")
    study, setup, _ = _open(Path(out))
    return study, setup


def show(out: Path) -> str:
    """The study of a tune folder as text: trials, the best one, importances."""
    return results.describe(*open_study(out))


def join(storage: str, study_name: str, out: Path, threads: int | None = None, worker: int = 0,
         on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
         parent: int | None = None) -> str | None:
    """Run trials of a shared study (``rnnkit tune-worker``) until it reaches its target (or until
    ``parent``, the process id of the ``rnnkit tune`` that started this worker, is gone); returns
    why the study stopped short of its target, or None."""
    import torch

    if workers.is_sqlite(storage):
        workers.open_storage(storage, workers=2)  # a worker shares its study: refused with the reason
    try:
        study = optuna.load_study(study_name=study_name, storage=workers.open_storage(storage))
    except KeyError:
        raise RnnkitError(f"there is no study {study_name!r} in {storage}; start it with rnnkit tune --storage ... "
                          f"--study {study_name}")
    read_setup(study)
    if threads:
        torch.set_num_threads(threads)
    Path(out).mkdir(parents=True, exist_ok=True)
    return run_trials(study, Path(out), worker=worker, on_trial=on_trial, keep_going=workers.checker(parent))
