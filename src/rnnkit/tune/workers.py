"""Where a study lives and who runs its trials: storages, worker processes, killed workers.

* One machine: ``--workers N`` starts N ``rnnkit tune-worker`` processes that share the study
  through Optuna's journal file (``OUT/study.journal``; appends under a file lock, safe for
  processes on one machine). Each worker gets ``cores // N`` PyTorch threads, so N workers do
  not oversubscribe the cores (seeds/improving-your-rnn.md's "caviar" way).
* Several machines: ``--storage postgresql://...`` keeps the study in PostgreSQL, and
  ``rnnkit tune-worker --storage URL --study NAME`` joins it from anywhere. SQLite is refused
  for several workers, as Optuna advises (its locking fails under concurrent writers).
* A killed worker: on a database, Optuna's heartbeats mark its trial failed after a grace
  period; on this machine the supervising ``rnnkit tune`` (or the next one, after a killed
  ``tune``) sees that the process recorded on a running trial is gone. Either way Optuna's
  ``RetryHeartbeatStaleTrialCallback`` (formerly ``RetryFailedTrialCallback``) enqueues the same parameters again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState

from ..core.errors import RnnkitError

JOURNAL = "study.journal"
HEARTBEAT_S = 10  # a database trial's heartbeat ...
GRACE_S = 60  # ... and how long without one before the trial counts as dead
MAX_RETRY = 3  # a trial whose worker dies is retried at most this often


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def is_database(url: str) -> bool:
    return "://" in url


def _with_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed: SQLAlchemy 2.1 means psycopg 3 by it, while
    rnnkit[postgres] installs psycopg2."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_storage(url: str, workers: int = 1) -> optuna.storages.BaseStorage:
    """An Optuna storage from ``url``: a database URL (``postgresql://``, ``sqlite:///``) or a journal file path."""
    if is_sqlite(url) and workers > 1:
        raise RnnkitError(f"--storage {url}: SQLite cannot be shared by {workers} workers (Optuna advises against it: "
                          f"its file locking fails under concurrent writes); drop --storage to use the journal file, "
                          f"or use --storage postgresql://...")
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    if not is_database(url):
        path = Path(url)
        if not path.parent.is_dir():
            raise RnnkitError(f"journal file {path}: its folder does not exist")
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    try:
        return optuna.storages.RDBStorage(_with_driver(url), heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                          heartbeat_stale_trial_callback=retry,
                                          engine_kwargs={"pool_pre_ping": True} if not is_sqlite(url) else None)
    except ImportError as e:
        raise RnnkitError(f"--storage {url}: the database driver is missing ({e}); install rnnkit[postgres]")
    except Exception as e:  # sqlalchemy's OperationalError, ArgumentError, ...: say what and go on
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RnnkitError(f"--storage {_hide_password(url)} cannot be reached ({first}); check that the server runs "
                          f"and the URL (user, password, host, port, database)")


def _hide_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_workers(study: optuna.Study) -> list[int]:
    """Mark failed, and enqueue again, the running trials whose worker process on this machine is gone.

    Returns the numbers of the trials failed. Workers on other machines are left to heartbeats.
    """
    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = t.user_attrs.get("worker", "")
        name, _, pid = who.rpartition(":")
        if name != host or not pid.isdigit() or _alive(int(pid)):
            continue
        if study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
            optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, study._storage.get_trial(t._trial_id))
            failed.append(t.number)
    return failed


def checker(parent: int | None = None) -> Callable[[optuna.Study], bool]:
    """Before each trial: fail the trials of dead workers; go on only while ``parent`` (the
    ``rnnkit tune`` that started this worker, if any) lives, so a killed ``tune`` leaves no
    workers behind once their trials end."""
    def check(study: optuna.Study) -> bool:
        fail_dead_workers(study)
        return parent is None or _alive(parent)

    return check


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def worker_command(storage: str, study: str, out: Path, threads: int, index: int) -> list[str]:
    return [sys.executable, "-m", "rnnkit.cli", "tune-worker", "--storage", storage, "--study", study,
            "--out", str(out), "--threads", str(threads), "--worker-index", str(index), "--parent", str(os.getpid()),
            "--quiet"]


def supervise(storage: str, study: optuna.Study, out: Path, workers: int, on_poll: Callable[[], None],
              poll_s: float = 1.0) -> None:
    """Run ``workers`` worker processes until the study is done; replace any that die.

    A worker that dies (killed, out of memory) leaves a running trial behind; it is failed and
    enqueued again at once, and a new worker takes the dead one's place.
    """
    from .study import counted, has_waiting, read_setup

    threads = threads_per_worker(workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    procs = {k: subprocess.Popen(worker_command(storage, study.study_name, out, threads, k), env=env)
             for k in range(workers)}
    restarts = 0
    try:
        while procs:
            time.sleep(poll_s)
            on_poll()
            for k, p in list(procs.items()):
                code = p.poll()
                if code is None:
                    continue
                del procs[k]
                if code == 0:
                    continue
                fail_dead_workers(study)
                done = counted(study) >= read_setup(study).target and not has_waiting(study)
                if code == 2 or done:
                    if code == 2:  # a user error: the worker printed it; more workers would repeat it
                        raise RnnkitError(f"worker {k} stopped on an error (above)")
                    continue
                restarts += 1
                if restarts > 3 * workers:
                    raise RnnkitError(f"workers keep dying ({restarts} restarts, last exit status {code}); "
                                      f"see their messages above")
                procs[k] = subprocess.Popen(worker_command(storage, study.study_name, out, threads, k + workers * restarts),
                                            env=env)
    finally:
        for p in procs.values():  # this call stops early (an error, Ctrl-C): so do its workers
            p.terminate()
        for p in procs.values():
            p.wait()
    fail_dead_workers(study)
    on_poll()
