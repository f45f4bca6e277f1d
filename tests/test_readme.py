"""The README's commands: the two set-up commands, and every `$ rnnkit ...` example line (the docs pages'
lines and Python examples run through the same mechanism in test_docs.py)."""

import re
import shlex
import shutil
import subprocess
import sys

from conftest import ROOT, SHARED_DATA, needs_shared, serve_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "\n".join(README.splitlines()[:40])
DEMO_CMD = "python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 && .venv/bin/pip install -q -e . && .venv/bin/rnnkit demo"
TEST_CMD = ("python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 && .venv/bin/pip install -q -e '.[test]' "
            "&& .venv/bin/python -m pytest")


def test_first_screen_has_the_two_setup_commands():
    assert DEMO_CMD in FIRST_SCREEN
    assert TEST_CMD in FIRST_SCREEN


def test_ci_runs_the_readme_test_command():
    assert TEST_CMD in (ROOT / ".ci" / "run").read_text()


def example_commands(text: str = README) -> list[str]:
    """Every ``$ rnnkit ...`` line of a page (README.md, or a docs page: tests/test_docs.py), in order."""
    return [m.group(1) for m in re.finditer(r"^\$ (rnnkit .*)$", text, flags=re.M)]


def pairs_slice(folder) -> str:
    """Every 40th line of the Spanish-English file: the README's translation commands in seconds."""
    lines = needs_shared("spa-eng.txt").read_text(encoding="utf-8").splitlines()[::40]
    path = folder / "spa-eng.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def shorten(cmd: str, pairs: str = "") -> str:
    """Same command, smaller budget and data: CI cannot spend the README's minutes per run."""
    cmd = cmd.replace("../shared/data/spa-eng.txt", pairs)
    cmd = cmd.replace("../shared/data/", f"{SHARED_DATA}/")  # the forecasting series, small already
    cmd = re.sub(r"--max-time \d+", "--max-time 2", cmd)
    cmd = re.sub(r"--budget \d+", "--budget 1", cmd)
    cmd = re.sub(r"--trials \d+", "--trials 2", cmd)
    if cmd == "rnnkit demo":
        cmd += " --max-time 2"
    return cmd


def alice_in_cache(tmp_path, monkeypatch) -> None:
    """``--data alice`` without a download: the named corpus, as if downloaded before."""
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(needs_shared("alice.txt"), cache / "alice.txt")
    monkeypatch.setenv("RNNKIT_CACHE", str(cache))


def run_commands(cmds: list[str], folder) -> None:
    """Run a page's commands in order in ``folder`` (later ones use the runs of earlier ones), shortened."""
    pairs = pairs_slice(folder)
    for cmd in cmds:
        argv = shlex.split(shorten(cmd, pairs))
        if argv[1] == "serve":  # a server runs until stopped: start it, see it serve, stop it
            served(argv[2:], folder)
            continue
        p = subprocess.run([sys.executable, "-m", "rnnkit.cli", *argv[1:]], cwd=folder, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, f"{cmd}\n{p.stderr}"


def served(args: list[str], folder) -> None:
    """``rnnkit serve ARGS`` on a free port: it becomes ready, lists every model it was given, and stops at SIGTERM."""
    import httpx

    runs = []
    for before, arg in zip([""] + args, args):  # the runs: neither a flag nor a flag's value
        runs += [] if arg.startswith("-") or (before.startswith("--") and "=" not in before) else [arg]
    with serve_cli(*args, cwd=folder) as (url, proc):
        names = [m["name"] for m in httpx.get(url + "/v1/models").json()["models"]]
        assert len(names) == len(runs), (names, runs)
    assert proc.returncode == 0, proc.stderr.read()


def test_readme_examples_run(tmp_path, monkeypatch):
    alice_in_cache(tmp_path, monkeypatch)
    cmds = example_commands()
    assert any(c.startswith("rnnkit train") for c in cmds) and any(c.startswith("rnnkit compare") for c in cmds)
    assert any(c.startswith("rnnkit translate") for c in cmds)
    assert any(c.startswith("rnnkit backtest") for c in cmds) and any(c.startswith("rnnkit forecast") for c in cmds)
    run_commands(cmds, tmp_path)
