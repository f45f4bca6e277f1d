"""rnnkit report: one self-contained page per run of every task, rendered in headless Chromium."""

import random
import re
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import assert_clean_error, cli, ok
from rnnkit.report import plots
from rnnkit.report.run_report import build_report

CHROMIUM = shutil.which("chromium")

# Checks every image once the page has loaded; the verdict lands in <body> attributes for --dump-dom.
IMAGE_CHECK = """<script>window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0));
  document.body.setAttribute("data-images", document.images.length);
  document.body.setAttribute("data-broken", broken.length);
});</script>"""


def dump_dom(path, tmp_path) -> str:
    """The DOM of the HTML file ``path`` once headless Chromium has loaded it, offline (also tests/test_docs.py)."""
    proc = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=10000", "--dump-dom", path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    return proc.stdout + proc.stderr[-2000:]


def render_in_chromium(page: str, tmp_path) -> tuple[int, int]:
    """(images, broken images) of ``page`` as headless Chromium loads it from a file, offline."""
    path = tmp_path / "check.html"
    path.write_text(page.replace("</body>", IMAGE_CHECK + "</body>"), encoding="utf-8")
    dom = dump_dom(path, tmp_path)
    body = re.search(r'<body data-images="(\d+)" data-broken="(\d+)"', dom)
    assert body, f"the check did not run: {dom[:500]} {dom[-2000:]}"
    return int(body.group(1)), int(body.group(2))


# -- tiny runs of each task -----------------------------------------------------------------------
def reverse_pairs(path, lines=160):
    rng = random.Random(0)
    rows = []
    for _ in range(lines):
        s = rng.sample("abcdefghij", rng.randint(3, 6))
        rows.append(" ".join(s) + "\t" + " ".join(reversed(s)))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def tones(root, per_class=8, rate=8000):
    root.mkdir()
    rng = np.random.default_rng(0)
    for label, f in (("low", 300.0), ("high", 1500.0)):
        for i in range(per_class):
            t = np.arange(int(rate * rng.uniform(0.3, 0.6))) / rate
            sf.write(root / f"{label}_{i}.wav", (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), rate)
    return root


def series_csv(path, n=96):
    rows = ["Month,Value"] + [f"{2000 + i // 12}-{i % 12 + 1:02d},{100 + i + 10 * np.sin(i / 2):.3f}" for i in range(n)]
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, trained_run):
    d = tmp_path_factory.mktemp("report")
    ok(cli("train", "--task", "translate", "--data", reverse_pairs(d / "rev.tsv"), "--out", d / "translate",
           "--tokens", "word", "--min-freq", "1", "--hidden-size", "16", "--embedding-size", "8", "--attention", "luong",
           "--steps", "6", "--log-every", "2", "--eval-every", "3", "--device", "cpu"))
    ok(cli("train", "--task", "audio", "--data", tones(d / "tones"), "--label-pattern", r"^([a-z]+)_", "--out",
           d / "audio", "--channels", "4", "--hidden-size", "8", "--steps", "6", "--log-every", "2", "--eval-every", "3"))
    ok(cli("train", "--task", "forecast", "--data", series_csv(d / "s.csv"), "--out", d / "forecast",
           "--hidden-size", "8", "--steps", "6", "--log-every", "2", "--horizon", "6"))
    return {"lm": trained_run, "translate": d / "translate", "audio": d / "audio", "forecast": d / "forecast"}


VIEWS = {"lm": ("Samples", "copied from the training text"), "translate": ("Test translations", "Attention"),
         "audio": ("Confusion matrix", "per class accuracy"), "forecast": ("Forecast", "mase")}


@pytest.mark.parametrize("task", sorted(VIEWS))
def test_report_of_every_task_is_self_contained_and_renders(runs, task, tmp_path):
    run = runs[task]
    out = tmp_path / "r.html"
    assert f"report written to {out}" in ok(cli("report", run, "--out", out)).stdout
    page = out.read_text(encoding="utf-8")
    for title in ("Configuration", "Data split", "Training", "Diagnosis", "Test metrics", *VIEWS[task]):
        assert title in page, title
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:image/png;base64,|#)', page)
    images = page.count("<img ")
    # loss vs step, vs wall time, learning rate, gradient norm and clip rate (+ the task's picture)
    assert images == (4 if task == "lm" else 5)
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the page was checked as text only")
    assert render_in_chromium(page, tmp_path) == (images, 0)


def test_chromium_check_catches_a_broken_image(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = '<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA"></body></html>'
    assert render_in_chromium(page, tmp_path) == (1, 1)


def test_default_path_and_diagnosis_section(runs):
    run = runs["lm"]
    ok(cli("report", run))
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Verdict: " in page and "No diagnosis was measured" not in page  # measured as rnnkit diagnose does
    ok(cli("report", run, "--no-diagnosis"))
    assert "No diagnosis was measured" in (run / "report.html").read_text(encoding="utf-8")
    page = build_report(run, diagnosis={"verdict": "high variance", "train": 1.2, "validation": 1.6, "reference": 1.1,
                                        "avoidable_bias": 0.1, "variance": 0.4, "unit": "nats/char",
                                        "thresholds": {"bias": 0.05, "variance": 0.05},
                                        "advice": ["rnnkit train --dropout 0.5 --out runs/more-dropout"]})
    assert "Verdict: high variance." in page and "value (nats/char)" in page and "<td>variance</td><td>0.4</td>" in page
    assert "rnnkit train --dropout 0.5 --out runs/more-dropout" in page and "No diagnosis was measured" not in page


def test_gradient_plots_only_when_the_log_has_them():
    rows = [{"kind": "train", "step": s, "loss": 3.0 / s, "lr": 0.01, "elapsed": s * 0.1} for s in range(1, 6)]
    assert [im.alt for im in plots.training_images(rows)] == [
        "training loss and validation loss against step", "training loss and validation loss against wall time (s)",
        "learning rate against step"]
    for r in rows:
        r.update(grad_norm=2.0 * r["step"], clip_rate=0.2)
    images = plots.training_images(rows)
    assert len(images) == 4 and images[0].alt == "training loss and validation loss against step" and images[-1].alt.startswith("gradient norm") and images[-1].png[:4] == b"\x89PNG"


def test_a_run_that_validates_by_error_says_so():
    from rnnkit.report.run_report import training

    rows = [{"kind": "train", "step": s, "loss": 3.0 / s, "lr": 0.01, "elapsed": s * 0.1} for s in range(1, 6)]
    rows += [{"kind": "val", "step": s, "val_loss": 0.3 - 0.01 * s, "elapsed": s * 0.1} for s in (2, 4)]
    section = training(rows, "error")
    assert "best validation error 0.2600 at step 4" in " ".join(section.text)
    assert section.images[0].alt == "training loss and validation error against step"
    assert "best validation loss 0.2600" in " ".join(training(rows).text)


def test_bad_input(runs, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    assert_clean_error(cli("report", runs["lm"], "--out", tmp_path / "file.txt" / "r.html"), "cannot write")
    assert_clean_error(cli("report", runs["lm"], "--out", tmp_path), "it is a directory")
    assert_clean_error(cli("report", tmp_path), "not an rnnkit run directory")
