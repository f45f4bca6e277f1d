"""The README's commands: the two set-up commands, and every `$ rnnkit ...` example line."""

import re
import shlex
import shutil
import subprocess
import sys

from conftest import ROOT, SHARED_DATA, needs_shared

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


def example_commands() -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\$ (rnnkit .*)$", README, flags=re.M)]


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
    if cmd == "rnnkit demo":
        cmd += " --max-time 2"
    return cmd


def test_readme_examples_run(tmp_path, monkeypatch):
    alice = needs_shared("alice.txt")
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(alice, cache / "alice.txt")  # the named corpus, as if downloaded before
    monkeypatch.setenv("RNNKIT_CACHE", str(cache))
    cmds = example_commands()
    assert any(c.startswith("rnnkit train") for c in cmds) and any(c.startswith("rnnkit compare") for c in cmds)
    assert any(c.startswith("rnnkit translate") for c in cmds)
    assert any(c.startswith("rnnkit backtest") for c in cmds) and any(c.startswith("rnnkit forecast") for c in cmds)
    pairs = pairs_slice(tmp_path)
    for cmd in cmds:
        argv = shlex.split(shorten(cmd, pairs))
        p = subprocess.run([sys.executable, "-m", "rnnkit.cli", *argv[1:]], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, f"{cmd}\n{p.stderr}"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    alice = needs_shared("alice.txt")
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(alice, cache / "alice.txt")
    monkeypatch.setenv("RNNKIT_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    block = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    assert "cfg.train.max_time = 60" in block
    code = block.replace("cfg.train.max_time = 60", "cfg.train.max_time = 2")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "py" / "best.safetensors").is_file()


def test_readme_translation_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pairs_slice(tmp_path)
    block = re.findall(r"```python\n(.*?)```", README, flags=re.S)[1]
    assert "cfg.train.max_time = 600" in block and "translate.train(" in block
    exec(compile(block.replace("cfg.train.max_time = 600", "cfg.train.max_time = 2"), "README.md", "exec"), {})
    assert (tmp_path / "runs" / "es-en" / "best.safetensors").is_file()
