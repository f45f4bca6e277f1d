"""Several workers on one study: a journal file, PostgreSQL, killed workers, a killed ``tune``."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from conftest import ok, run_cli
from tune_fixtures import PostgresServer, load, one_thread, write_study_files


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    yield from one_thread(monkeypatch)


GRID = '[space]\n"rnn.cell" = { choices = ["lstm", "gru"] }\n"train.lr" = { choices = [0.003, 0.01, 0.03] }\n'


def tune_cmd(*args):
    return [sys.executable, "-m", "rnnkit.cli", "tune", *map(str, args)]


def wait_for_running(study_of, deadline_s=120):
    """The first running trial that has recorded its worker, and that worker's process id."""
    end = time.time() + deadline_s
    while time.time() < end:
        time.sleep(0.2)
        try:
            study = study_of()
        except (KeyError, FileNotFoundError, ValueError):
            continue
        for t in study.get_trials(states=(TrialState.RUNNING,)):
            if "worker" in t.user_attrs:
                return t, int(t.user_attrs["worker"].rsplit(":", 1)[1])
    raise AssertionError("no trial started running")


def check_each_grid_point_once(study, n):
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    assert Counter(tuple(sorted(t.params.items())) for t in complete).most_common(1)[0][1] == 1
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(len(numbers)))  # no number twice, none skipped


def test_two_workers_on_a_journal_and_a_killed_worker_is_retried(tmp_path):
    base, space = write_study_files(tmp_path, steps=100, space=GRID)
    out = tmp_path / "study"
    p = subprocess.Popen(tune_cmd("--config", base, "--space", space, "--sampler", "grid", "--workers", "2",
                                  "--out", out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim, pid = wait_for_running(lambda: load(out))
    assert pid != p.pid  # trials run in the worker processes
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0, stderr
    study = load(out)
    check_each_grid_point_once(study, 6)  # the killed trial's point was retried, not lost, not run twice
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == victim.number)
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    assert f"retry of {victim.number}" in stderr and "6 complete, 1 fail" in stdout  # (a surplus trial may follow)
    assert len({t.user_attrs["worker"] for t in study.trials if "surplus" not in t.user_attrs}) >= 2


def test_a_killed_tune_resumes_its_study(tmp_path):
    base, space = write_study_files(tmp_path, steps=100, space=GRID)
    out = tmp_path / "study"
    args = ("--config", base, "--space", space, "--sampler", "grid", "--trials", "3", "--out", out)
    p = subprocess.Popen(tune_cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    victim, pid = wait_for_running(lambda: load(out))
    assert pid == p.pid  # one worker: the trials run in tune itself
    p.kill()
    p.wait()
    r = ok(run_cli("tune", *args))  # the same command line continues the study
    assert "3 complete, 1 fail (target 3)" in r.stdout
    study = load(out)
    assert study.trials[victim.number].state == TrialState.FAIL
    retry = next(t for t in study.trials if t.system_attrs.get("failed_trial") == victim.number)
    assert retry.state == TrialState.COMPLETE and retry.params == study.trials[victim.number].params
    check_each_grid_point_once(study, 3)


def test_two_workers_on_postgresql(tmp_path):
    server = PostgresServer().start()
    try:
        # trials of ~2 s each: the 6-point grid outlasts the joining worker's start-up (a few seconds
        # of imports), so both processes run trials; with 40 steps tune finished them all first
        base, space = write_study_files(tmp_path, steps=200, space=GRID)
        out, joined = tmp_path / "study", tmp_path / "joined"
        p = subprocess.Popen(tune_cmd("--config", base, "--space", space, "--sampler", "grid", "--storage", server.url,
                                      "--study", "pg", "--out", out),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        storage = optuna.storages.RDBStorage(server.url.replace("postgresql://", "postgresql+psycopg2://"))
        wait_for_running(lambda: optuna.load_study(study_name="pg", storage=storage))
        w = run_cli("tune-worker", "--storage", server.url, "--study", "pg", "--out", joined, "--threads", "1")
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        assert w.returncode == 0, w.stderr
        study = optuna.load_study(study_name="pg", storage=storage)
        check_each_grid_point_once(study, 6)
        # A trial a worker stood down from (both asked at once: "surplus") trains nothing and names no worker
        trained = [t for t in study.trials if t.state == TrialState.COMPLETE]
        assert all("surplus" in t.user_attrs for t in study.trials if t.state != TrialState.COMPLETE)
        by_worker = Counter(t.user_attrs["worker"] for t in trained)
        assert len(by_worker) == 2  # both ran trials, each in its own folder
        assert any((joined / "trials" / f"{t.number:03d}" / "config.json").is_file() for t in study.trials)
        assert "study pg: 6 complete" in stdout
        show = ok(run_cli("tune", "--out", out, "--show"))
        assert "trials: 6 complete" in show.stdout and "target 6" in show.stdout
        storage.engine.dispose()
    finally:
        server.stop()
