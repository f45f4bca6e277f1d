import io
import os
import signal
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n N: the workers share the cores, one thread each
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (pyproject's addopts): one worker per core, at most 4 (several tests start processes of their own)."""
    return max(1, min(len(os.sched_getaffinity(0)), 4))

TINY_TEXT = (
    "the cat sat on the mat. the dog sat on the log. "
    "a cat and a dog met on a mat by a log. "
) * 40


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep corpus downloads and the built-in corpus out of the user's cache."""
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    p = tmp_path / "tiny.txt"
    p.write_text(TINY_TEXT, encoding="utf-8")
    return p


def tiny_config(data: Path, **train) -> rnnkit.LMConfig:
    cfg = rnnkit.LMConfig()
    cfg.data.data = str(data)
    cfg.rnn.layers = 1
    cfg.rnn.hidden_size = 32
    cfg.rnn.embedding_size = 16
    cfg.rnn.dropout = 0.0
    cfg.train.seq_len = 16
    cfg.train.batch_size = 8
    cfg.train.steps = 20
    cfg.train.eval_every = 10
    cfg.train.log_every = 1
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One tiny trained run shared by the sampling / evaluation / CLI tests."""
    d = tmp_path_factory.mktemp("trained")
    data = d / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    cfg = tiny_config(data, steps=60, eval_every=20)
    rnnkit.train(cfg, d / "run")
    return d / "run"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "rnnkit.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def needs_shared(name: str) -> Path:
    p = SHARED_DATA / name
    if not p.exists():
        pytest.skip(f"{p} is absent (the shared data folder only exists beside the project checkout)")
    return p


def assert_clean_error(proc, match):
    """A user error: exit status 2, one line starting ``rnnkit: error:`` that contains ``match``, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.strip().splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error:"), proc.stderr
    assert match in lines[0], lines[0]


def cli(*args, input: str = "") -> subprocess.CompletedProcess:
    """``rnnkit ARGS`` run in this process; exit status, stdout and stderr as from a subprocess.

    An exception other than the CLI's own exits is printed as a traceback to stderr (status 1),
    as the interpreter would, so ``assert_clean_error`` reports it.
    """
    out, err, stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(input)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                traceback.print_exc()
                code = 1
    finally:
        sys.stdin = stdin
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def torch_free():
    """The export tests' ``run(code) -> stdout``: Python ``code`` run in a subprocess where ``import torch``
    fails; the test fails if the code does or if any torch module got loaded all the same."""

    def run(code: str) -> str:
        program = ("import sys; sys.modules['torch'] = None\n" + code +
                   "\nassert not [k for k, v in sys.modules.items() if v is not None and k.split('.')[0] == 'torch']\n")
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


# -- rnnkit serve: a real server on a free localhost port -----------------------------------------------------

@contextmanager
def serve_cli(*args, env: dict | None = None, timeout: float = 120, cwd: Path | None = None):
    """``rnnkit serve ARGS --port 0`` in a subprocess; yields ``(base url, process)`` once ``/ready`` answers 200,
    and stops it with SIGTERM (then checks it exited cleanly). ``args``: runs (``NAME=RUN``) and flags."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "rnnkit.cli", "serve", *map(str, args), "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            cwd=cwd)
    try:
        url = _announced_url(proc, timeout)
        deadline = time.monotonic() + timeout
        while httpx.get(url + "/ready").status_code != 200:
            assert proc.poll() is None and time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise


def _announced_url(proc, timeout: float) -> str:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise AssertionError("rnnkit serve exited: " + "".join(lines) + proc.stderr.read())
        lines.append(line)
        if line.startswith("listening on "):
            return line.split()[2]
    raise AssertionError("rnnkit serve did not announce its address: " + "".join(lines))


@contextmanager
def serve_app(models: dict, ready: bool = True, **options):
    """The app for ``models`` (``{name: rnnkit.serve.Served}``, e.g. with a stand-in task module) on uvicorn in a
    thread of this process, on a free port; yields ``(base url, app)`` once every model is loaded (once it answers
    at all, with ``ready=False``)."""
    import threading

    import httpx

    from rnnkit.serve import ServeConfig, build_app
    from rnnkit.serve.server import bind, uvicorn_server

    app = build_app(models, ServeConfig(port=0, **options))
    sock = bind("127.0.0.1", 0)
    server = uvicorn_server(app, 5)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/ready").status_code == 200 or not ready:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the app never became ready"
            time.sleep(0.05)
        yield url, app
    finally:
        server.should_exit = True
        thread.join(30)
