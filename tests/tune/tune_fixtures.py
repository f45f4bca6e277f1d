"""Tiny studies for the tuning tests: a base config whose trials train in about a second, and a
throw-away PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from conftest import TINY_TEXT


def one_thread(monkeypatch):
    """One PyTorch thread here and in worker processes: tiny trials on a shared 2-core machine are
    many times slower with threads that wait for each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(before)


def write_study_files(d: Path, steps: int = 8, space: str | None = None) -> tuple[Path, Path]:
    """``base.toml`` (a 1-layer, 16-unit language model of a tiny text, ``steps`` steps) and ``space.toml``."""
    data = d / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    base = d / "base.toml"
    base.write_text(f'[data]\ndata = "{data}"\n[rnn]\nlayers = 1\nhidden_size = 16\nembedding_size = 8\ndropout = 0.0\n'
                    f'[mix]\nmix_order = 0\n[train]\nsteps = {steps}\neval_every = 4\nseq_len = 16\nbatch_size = 4\n'
                    f'val_tokens = 400\n')
    sp = d / "space.toml"
    sp.write_text(space or '[space]\n"rnn.cell" = { choices = ["lstm", "gru"] }\n'
                           '"train.lr" = { low = 1e-3, high = 3e-2, log = true }\n')
    return base, sp


def load(out: Path, name: str | None = None) -> optuna.Study:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name=name or out.name, storage=storage)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return hits[-1] if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server in a temporary folder, reached through a unix socket there.

    PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
    (created when missing).
    """

    def __init__(self):
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="rnnkit-pg-"))
        self.data, self.port = self.root / "data", _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@/postgres?host={self.root}&port={self.port}"

    def _run(self, *cmd: str) -> None:
        p = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {p.stdout}{p.stderr}")

    def start(self) -> "PostgresServer":
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses='' -c fsync=off", "start")
        deadline = time.time() + 30
        while not (self.root / f".s.PGSQL.{self.port}").exists() and time.time() < deadline:
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
