"""``rnnkit tune`` without scikit-learn (a plain install brings it through seqeval now, but an environment
that installs rnnkit without its dependencies may lack it): every trial runs, the results are
written, the fANOVA importances and their plot are left out with a note, and the exit status is 0."""

import os
import subprocess
import sys

from tune_fixtures import write_study_files

# sklearn None in sys.modules: every import of it fails, as where it is not installed; rnnkit.cli.main then
# runs as the rnnkit command would
WITHOUT_SKLEARN = ("import sys\nsys.modules['sklearn'] = None\nfrom rnnkit.cli import main\n"
                   "sys.exit(main(sys.argv[1:]))")


def rnnkit_without_sklearn(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_SKLEARN, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))


def test_tune_show_and_report_without_sklearn(tmp_path):
    base, space = write_study_files(tmp_path, steps=4)
    out = tmp_path / "study"
    p = rnnkit_without_sklearn("tune", "--config", base, "--space", space, "--sampler", "random", "--trials", "3",
                               "--out", out)
    assert p.returncode == 0, p.stderr
    assert (out / "best.toml").is_file() and (out / "trials.csv").is_file()
    assert "note: importances (fANOVA) left out: they need scikit-learn" in p.stdout
    assert {f.name for f in (out / "plots").iterdir()} == {"history.png", "parallel.png", "slices.png"}
    s = rnnkit_without_sklearn("tune", "--out", out, "--show")
    assert s.returncode == 0, s.stderr
    assert "importances (fANOVA) left out" in s.stdout
    r = rnnkit_without_sklearn("report", out)
    assert r.returncode == 0, r.stderr
