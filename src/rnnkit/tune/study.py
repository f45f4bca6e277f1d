"""A hyperparameter study on Optuna: every trial is a complete rnnkit run of any task.

The study (its trials, and in its user attributes everything a worker needs: the task, the
base configuration, the space, the objective) lives in an Optuna storage, so any process that
can open the storage can run trials (see ``workers.py``). A trial

1. asks the sampler (grid, random, TPE or a Gaussian process) for one value per option of the
   space, or takes the values of a hand-chosen trial (``--try``, Optuna's ``enqueue_trial``);
2. trains the task with the base configuration and those values in ``OUT/trials/NNN/``
   (``--trial-time`` becomes ``train.max_time``; a step budget comes from the base config);
3. reports every validation loss of the trainer to the pruner (median or Hyperband), which may
   stop it early (the trial is recorded as pruned);
4. returns its objective: the best validation loss, or a validation metric of the task.

The samplers follow seeds/improving-your-rnn.md's list: grid search, random search, hand
tuning, Bayesian optimization with a Gaussian process, and Tree-structured Parzen Estimators.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from .. import tasks
from ..core.config import check_choices, from_dict, merge, option, require
from ..core.errors import RnnkitError
from ..core.trainer import Event
from .space import Space, from_json, nested

SAMPLERS = ("grid", "random", "tpe", "gp")
PRUNERS = ("median", "hyperband", "none")
ATTR = "rnnkit"  # the study's user attribute that holds its set-up
DEFAULT_TRIALS = 20

# Validation metrics a study may optimize besides the best validation loss, and their direction.
# A tagger's val_loss is its trainer's validation score: the error (1 - accuracy, or 1 - span F1) under the
# default train.select = "error", the loss per token under "loss" (so tagging needs no "loss" metric here).
METRICS = {
    "lm": {"loss": "minimize", "bits_per_char": "minimize", "perplexity": "minimize", "accuracy": "maximize"},
    "translate": {"bleu": "maximize", "chrf": "maximize", "loss": "minimize", "accuracy": "maximize"},
    "forecast": {"mase": "minimize", "smape": "minimize", "mae": "minimize", "rmse": "minimize"},
    "audio": {"accuracy": "maximize", "loss": "minimize"},
    "classify": {"accuracy": "maximize", "macro_f1": "maximize", "loss": "minimize"},
    "tag": {"accuracy": "maximize", "f1": "maximize"},  # f1: entity spans, for BIO/IOBES tags only
}
VAL_LOSS = "val_loss"

optuna.logging.set_verbosity(optuna.logging.WARNING)  # rnnkit shows trials itself
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@dataclass
class SamplerConfig:
    """How the next trials are chosen; may change from one ``rnnkit tune`` call to the next."""

    sampler: str = option("tpe", "grid, random, tpe (Tree-structured Parzen Estimator) or gp (Gaussian process)",
                          SAMPLERS)
    startup_trials: int = option(10, "tpe and gp: random trials before the model guides the search")
    seed: int = option(0, "sampler seed (worker k of --workers uses seed + k)")
    prune: str = option("none", "stop hopeless trials early from their validation losses", PRUNERS)

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.startup_trials >= 0, "startup_trials", f"must be 0 or more, got {self.startup_trials}")


@dataclass
class Setup:
    """What every worker of a study needs, stored in the study: fixed when the study is created."""

    task: str
    base: dict  # the base configuration as given (a config file's tables)
    space: list  # Space.to_json()
    metric: str  # val_loss or a key of METRICS[task]
    trial_time: float | None  # seconds per trial (train.max_time), or None: the base config's budget
    target: int  # trials (complete, pruned or failed by an error) the study should reach
    sampler: dict  # SamplerConfig as a dict: the latest call's

    @property
    def spec(self) -> tasks.TaskSpec:
        return tasks.TASKS[self.task]

    @property
    def direction(self) -> str:
        return "minimize" if self.metric == VAL_LOSS else METRICS[self.task][self.metric]

    def parsed_space(self) -> Space:
        return from_json(self.space, self.spec)

    def sampler_config(self) -> SamplerConfig:
        return from_dict(SamplerConfig, self.sampler, "study sampler")

    def config_dict(self, values: dict[str, Any]) -> dict:
        """The configuration of a trial with ``values``: base, then the values, then the trial budget."""
        cfg = merge(self.base, nested(values))
        if self.trial_time is not None:
            cfg = merge(cfg, {"train": {"max_time": self.trial_time}})
        return cfg


def check_metric(task: str, metric: str, prune: str) -> None:
    known = [VAL_LOSS, *METRICS[task]]
    if metric not in known:
        raise RnnkitError(f"--metric: {metric!r} is not a validation metric of --task {task}; use one of {', '.join(known)}")
    if prune != "none" and metric != VAL_LOSS and METRICS[task][metric] == "maximize":
        raise RnnkitError(f"--prune compares validation losses, but --metric {metric} is maximized; "
                          f"use --prune none, or the default objective (val_loss)")


def read_setup(study: optuna.Study) -> Setup:
    data = study.user_attrs.get(ATTR)
    if not isinstance(data, dict):
        raise RnnkitError(f"study {study.study_name!r} was not created by rnnkit tune (no set-up stored); "
                          f"pass the --study of an rnnkit study")
    return Setup(**data)


def write_setup(study: optuna.Study, setup: Setup) -> None:
    study.set_user_attr(ATTR, dataclasses.asdict(setup))


def make_sampler(cfg: SamplerConfig, space: Space, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    if cfg.sampler == "grid":  # one seed for all workers: it fixes the grid's (shuffled) order, which they share
        return optuna.samplers.GridSampler(space.grid(), seed=cfg.seed)
    seed = cfg.seed + seed_offset  # apart for each worker, or they would propose the same points
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if cfg.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.startup_trials)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=cfg.startup_trials)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "median":  # prune a trial worse than the median of earlier ones at the same step, after 3 trials
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
    return optuna.pruners.NopPruner()


def worker_id() -> str:
    """``host:pid`` of this process, recorded on every trial it runs (see ``workers.fail_dead_workers``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def trial_dir(out: Path, number: int) -> Path:
    return Path(out) / "trials" / f"{number:03d}"


def _validation_score(spec: tasks.TaskSpec, run_dir: Path, metric: str) -> float:
    """A metric of the run's best checkpoint on its validation split (the task's evaluate)."""
    loaded = spec.api.load(run_dir)
    ev = spec.api.evaluate(loaded, "val") if spec.name == "forecast" else spec.api.evaluate(loaded, "val", run_dir)
    if spec.name != "tag":
        return float(ev.to_json()[metric])
    scores = {"accuracy": ev["accuracy"], **({"f1": ev["spans"]["f1"]} if "spans" in ev else {})}
    if metric not in scores:  # a tagger's evaluate gives a dict, with span scores only for entity tags
        raise RnnkitError(f"--metric {metric}: the run's tags (scheme {ev['scheme']}) have no entity spans; "
                          f"use --metric accuracy, or tag files in BIO/IOBES")
    return float(scores[metric])


def objective(setup: Setup, out: Path) -> Callable[[optuna.Trial], float]:
    """One trial: a complete rnnkit run in ``OUT/trials/NNN`` with the sampled values."""
    spec, space = setup.spec, setup.parsed_space()

    def run(trial: optuna.Trial) -> float:
        values = space.suggest(trial)
        why = surplus(trial.study, trial.number, setup.target)
        if why:  # another worker got there first: this trial trains nothing and does not count
            trial.set_user_attr("surplus", why)
            raise Surplus(f"trial {trial.number}: {why}")
        earlier = None if trial.user_attrs.get("hand_chosen") else repeat_of(trial.study, trial.number, trial.params)
        if earlier is not None:  # the same values again: the earlier trial's result, without training
            trial.set_user_attr("repeat_of", earlier.number)
            if earlier.state == TrialState.PRUNED:
                raise optuna.TrialPruned(f"the same values as trial {earlier.number}, which was pruned")
            return earlier.value
        run_dir = trial_dir(out, trial.number)
        trial.set_user_attr("worker", worker_id())
        trial.set_user_attr("run_dir", str(run_dir))

        def report(e: Event) -> None:  # the trainer's validation events feed the pruner
            if e.kind == "val" and e.val_loss is not None:
                trial.report(e.val_loss, e.step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at step {e.step} (validation loss {e.val_loss:.4f})")

        try:
            cfg = from_dict(spec.config, setup.config_dict(values), f"trial {trial.number}")
            result = spec.api.train(cfg, run_dir, overwrite=True, on_event=report)
            value = result.best_val if setup.metric == VAL_LOSS else _validation_score(spec, run_dir, setup.metric)
        except RnnkitError as e:  # a diverged or impossible configuration fails this trial only
            trial.set_user_attr("error", str(e))
            raise
        if not math.isfinite(value):
            trial.set_user_attr("error", f"objective is {value}")
            raise RnnkitError(f"trial {trial.number}: objective is {value}")
        return value

    return run


COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
MAX_REPEATS = 50  # sampler proposals in a row that repeat earlier trials before the search is called converged


def repeat_of(study: optuna.Study, number: int, params: dict[str, Any]) -> optuna.trial.FrozenTrial | None:
    """The earlier trial that trained ``params`` (complete or pruned), or None.

    Samplers may propose values already tried, often so on a space of choices (TPE and the
    Gaussian process go back to what looked best; random search draws with replacement). A trial
    with a fixed step budget and seed would only reproduce its result, so such a proposal takes
    the earlier trial's result instead of training (KerasTuner's oracle does the same; Optuna's
    FAQ suggests it) and does not count toward ``--trials``. Hand-chosen trials always train.
    """
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.number < number and t.params == params and "repeat_of" not in t.user_attrs:
            return t
    return None


def search_over(study: optuna.Study, space: Space) -> str:
    """Why the sampler should stop proposing, or "": every point of a finite space has been
    trained, or the last ``MAX_REPEATS`` proposals all repeated earlier trials."""
    trials = study.get_trials(deepcopy=False)
    trained = {tuple(sorted(t.params.items())) for t in trials
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and "repeat_of" not in t.user_attrs}
    try:
        size = space.grid_size()
    except RnnkitError:  # a continuous range: no end to the points
        size = None
    if size is not None and len(trained) >= size:
        return f"every one of the {size} points of the space has been trained"
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and "surplus" not in t.user_attrs]
    last = finished[-MAX_REPEATS:]
    if len(last) == MAX_REPEATS and all("repeat_of" in t.user_attrs for t in last):
        return f"the sampler proposed only values already trained, {MAX_REPEATS} times in a row: the search has converged"
    return ""


class Surplus(RnnkitError):
    """A trial started after the study's target was reached, or on a grid point already taken."""


def _counts(t: optuna.trial.FrozenTrial) -> bool:
    """Does ``t`` use up the study's target: finished, running, or failed by an error of its own?
    (A trial failed because its worker died is retried, so it does not count; nor does a surplus one.)"""
    if "surplus" in t.user_attrs or "repeat_of" in t.user_attrs:
        return False
    return t.state in COUNTED or (t.state == TrialState.FAIL and "error" in t.user_attrs)


def counted(study: optuna.Study) -> int:
    return sum(_counts(t) for t in study.get_trials(deepcopy=False))


def surplus(study: optuna.Study, number: int, target: int) -> str:
    """Why trial ``number`` should not run, or "".

    Workers check the target before they ask for a trial, but two of them may ask at once; then
    the one with the higher trial number (Optuna numbers trials atomically) stands down. The same
    holds for two workers handed one grid point (Optuna's grid sampler warns that this happens).
    """
    trials = study.get_trials(deepcopy=False)
    me = next(t for t in trials if t.number == number)
    earlier = [t for t in trials if t.number < number and _counts(t)]
    if len(earlier) >= target:
        return f"the study had reached its {target} trials when it started"
    grid_id = me.system_attrs.get("grid_id")
    if grid_id is not None and "failed_trial" not in me.system_attrs:
        for t in earlier:
            if t.system_attrs.get("grid_id") == grid_id and t.state != TrialState.FAIL:
                return f"trial {t.number} has the same grid point"
    return ""


def has_waiting(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def run_trials(study: optuna.Study, out: Path, worker: int = 0,
               on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
               keep_going: Callable[[optuna.Study], bool] | None = None) -> str | None:
    """Run trials of ``study`` in this process until it reaches its target (or its grid is done);
    returns why it stopped short of the target (see :func:`search_over`), or None.

    Several processes may call this on one shared storage at once (``worker`` numbers them, so
    that their samplers are seeded apart); each re-reads the target and the trial counts before
    asking for a trial. ``keep_going`` runs before each trial (it may clean up after dead
    workers) and ends the loop when it returns False.
    """
    sampler, made_for = None, None
    while True:
        if keep_going is not None and not keep_going(study):
            return None
        setup = read_setup(study)
        if made_for != setup.sampler:  # the first trial, or another ``rnnkit tune`` call changed the sampler
            cfg = setup.sampler_config()
            # A resumed study must not replay the proposals of its first run: offset the seed by the trials so far.
            sampler = make_sampler(cfg, setup.parsed_space(), 1_000_000 * worker + len(study.get_trials(deepcopy=False)))
            study.sampler, study.pruner, made_for = sampler, make_pruner(cfg.prune), setup.sampler
        waiting = has_waiting(study)
        if counted(study) >= setup.target and not waiting:
            return None
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study) and not waiting:
            return None
        over = "" if waiting else search_over(study, setup.parsed_space())
        if over:
            return over
        study.optimize(objective(setup, out), n_trials=1, catch=(RnnkitError,),
                       callbacks=[on_trial] if on_trial else None)
