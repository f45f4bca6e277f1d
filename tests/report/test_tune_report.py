"""rnnkit report on a tune folder: the study, the best trial, every trial's curve and Optuna's plots."""

import re

import pytest
import torch

from conftest import TINY_TEXT, assert_clean_error, cli, ok
from rnnkit.tune import api as tune_api
from test_report import CHROMIUM, render_in_chromium


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("tune-report")
    (d / "tiny.txt").write_text(TINY_TEXT, encoding="utf-8")
    (d / "base.toml").write_text(
        f'[data]\ndata = "{d / "tiny.txt"}"\n[rnn]\nlayers = 1\nhidden_size = 16\nembedding_size = 8\n'
        f'dropout = 0.0\n[mix]\nmix_order = 0\n[train]\nsteps = 8\neval_every = 4\nseq_len = 16\nbatch_size = 4\n'
        f'val_tokens = 400\n')
    (d / "space.toml").write_text('[space]\n"rnn.cell" = { choices = ["lstm", "gru"] }\n'
                                  '"train.lr" = { low = 1e-3, high = 3e-2, log = true }\n')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tune_api.tune(d / "study", config=d / "base.toml", space=d / "space.toml", sampler={"sampler": "random"},
                      trials=3)
    finally:
        torch.set_num_threads(threads)
    return d / "study"


def test_report_of_a_tune_folder(study, tmp_path):
    assert f"report written to {study / 'report.html'}" in ok(cli("report", study)).stdout
    page = (study / "report.html").read_text(encoding="utf-8")
    for title in ("Study", "Best trial", "Learning curves of all trials", "Optuna&#x27;s plots", "Trials",
                  "Base configuration"):
        assert f"<h2>{title}</h2>" in page, title
    s, setup = tune_api.open_study(study)
    best = s.best_trial
    assert f"Trial {best.number}: best validation loss {best.value:.6g}." in page
    assert f"--config {study / 'best.toml'}" in page and "0.001 to 0.03, log scale" in page
    assert page.count("<tr><td>") >= 3 + 2  # a row per trial, per searched option, ...
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:image/png;base64,|#)', page)
    images = page.count("<img ")
    assert images == 5  # every trial's validation curve, and Optuna's history, importances, parallel, slices
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the page was checked as text only")
    assert render_in_chromium(page, tmp_path) == (images, 0)


def test_tune_report_bad_input(study, tmp_path):
    assert_clean_error(cli("report", study, "--reference", "1.0"), "a tune folder's report has none")
    assert_clean_error(cli("report", study, "--out", tmp_path), "it is a directory")
