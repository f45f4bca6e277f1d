"""A light start: ``import rnnkit`` and ``rnnkit --help`` load no task, no torch, no matplotlib, no Optuna.

Each check runs in a fresh interpreter (this one has imported everything already) and reads
``sys.modules`` there.
"""

import json
import subprocess
import sys

import pytest

HEAVY = {"torch", "matplotlib", "optuna", "numpy", "sklearn"}
TASK_PACKAGES = ("text", "translate", "forecast", "audio", "classify", "tag")


def modules_after(code: str) -> set[str]:
    """Every module in ``sys.modules`` after a fresh interpreter runs ``code``."""
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.splitlines()[-1]))


def heavy_and_task_code(modules: set[str]) -> set[str]:
    """The heavy libraries among ``modules``, and the tasks' code (their configs, models, APIs)."""
    return ({m for m in modules if m in HEAVY}
            | {m for m in modules if m.count(".") >= 2 and m.split(".")[1] in TASK_PACKAGES and m != "rnnkit.text.presets"})


def cli_code(argv: list[str]) -> str:
    return f"from rnnkit.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"


@pytest.mark.parametrize("code", [
    "import rnnkit",
    "from rnnkit import forecast, translate, audio, classify, tag, text, tasks",  # the task packages and the registry are lazy
    "import rnnkit.core.errors, rnnkit.core.config, rnnkit.core.fileio",  # what a torch-free runtime may build on
])
def test_imports_load_nothing_heavy(code):
    assert heavy_and_task_code(modules_after(code)) == set()


@pytest.mark.parametrize("argv", [["--help"], ["no-such-verb"], [], ["evaluate", "--help"], ["diagnose", "--help"]])
def test_help_and_usage_errors_load_nothing_heavy(argv):
    loaded = heavy_and_task_code(modules_after(cli_code(argv)))
    if argv == ["evaluate", "--help"]:
        loaded -= {"numpy", "rnnkit.text.textdata", "rnnkit.text.vocab", "rnnkit.text.corpora"}  # for --split's choices
    assert loaded == set()


def test_train_help_of_a_task_imports_that_task_only():
    loaded = modules_after(cli_code(["train", "--task", "forecast", "--help"]))
    assert "rnnkit.forecast.task" in loaded
    assert not {m for m in loaded if m.startswith(("rnnkit.translate.", "rnnkit.audio.", "rnnkit.classify.", "rnnkit.tag.",
                                                   "rnnkit.forecast.api"))}


def test_first_use_imports_the_name():
    code = ("import rnnkit\nassert rnnkit.LMConfig.__module__ == 'rnnkit.text.language_model'\n"
            "from rnnkit import forecast\nassert callable(forecast.forecast)")
    assert {"torch", "rnnkit.text.language_model", "rnnkit.forecast.api"} <= modules_after(code)
