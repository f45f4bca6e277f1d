"""The forecasting task from the command line: train, forecast, evaluate, backtest, bad input."""

import json

import numpy as np
import pytest

from conftest import assert_clean_error, cli, needs_shared, ok, run_cli

TINY = ["--hidden-size", "8", "--steps", "30", "--patience", "0", "--horizon", "6"]


def write_csv(path, n=120, header="Month,Passengers", fmt="{y:04d}-{m:02d}", newline="\r\n", value=None):
    t = np.arange(n)
    y = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    rows = [header] if header else []
    for i in range(n):
        v = value(i, y[i]) if value else f"{y[i]:.3f}"
        rows.append(f"{fmt.format(y=2000 + i // 12, m=i % 12 + 1)},{v}")
    path.write_text(newline.join(rows), encoding="utf-8")  # no final newline, like the shared CSVs
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc")
    data = write_csv(d / "series.csv")
    ok(cli("train", "--task", "forecast", "--data", data, "--out", d / "run", *TINY))
    return d


def test_train_forecast_evaluate(trained):
    run = trained / "run"
    out = ok(cli("forecast", run, "--csv", trained / "f.csv", "--plot", trained / "f.png"))
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["date", "forecast"] and len(lines) == 7
    assert lines[1].startswith("2010-01-01")
    rows = (trained / "f.csv").read_text().splitlines()
    assert rows[0] == "date,forecast,lo80,hi80,lo95,hi95" and len(rows) == 7
    assert (trained / "f.png").stat().st_size > 1000
    longer = [json.loads(l) for l in ok(cli("forecast", run, "--horizon", "15", "--json")).stdout.splitlines()]
    assert len(longer) == 15 and longer[-1]["date"] == "2011-03-01"
    ev = json.loads(ok(cli("evaluate", run, "--split", "test", "--json")).stdout)
    assert {"mae", "rmse", "smape", "mase", "coverage80", "coverage95"} <= set(ev) and ev["origins"] == 1
    assert ev["season"] == 12 and ev["mase"] > 0
    text = ok(cli("evaluate", run)).stdout
    assert text.startswith("test: MASE")


def test_resume_accepts_the_original_command_line(trained):
    data = trained / "series.csv"
    ok(cli("train", "--task", "forecast", "--data", data, "--out", trained / "run2", *TINY))
    again = cli("train", "--task", "forecast", "--data", data, "--out", trained / "run2", *TINY[:-4], "--steps", "40",
                "--horizon", "6", "--resume")
    assert "trained 40 steps" in ok(again).stdout
    changed = cli("train", "--data", data, "--out", trained / "run2", "--horizon", "3", "--resume")
    assert_clean_error(changed, "--horizon (6 -> 3)")


def test_backtest_table_and_json(trained):
    out = ok(cli("backtest", "--task", "forecast", "--data", trained / "series.csv", "--origins", "2", *TINY,
                 "--out", trained / "bt", "--json"))
    res = json.loads(out.stdout)
    assert {"rnnkit", "naive", "seasonal_naive", "drift", "ar"} <= set(res["models"])
    assert set(res["models"]["rnnkit"]) == {"mase", "smape", "mae", "rmse", "coverage80", "msis80", "coverage95",
                                            "msis95"}
    assert res["season"] == 12 and len(res["origins"]) == 2
    for name in ("backtest.md", "backtest.csv", "backtest.png"):
        assert (trained / "bt" / name).is_file()
    # the trend-free seasonal pattern is exactly periodic: seasonal naive is near-perfect on MAE
    assert res["models"]["seasonal_naive"]["mae"] < res["models"]["naive"]["mae"]


def test_verbs_refuse_runs_of_other_tasks(trained, trained_run):
    assert_clean_error(cli("forecast", trained_run), "rnnkit forecast` is for forecast runs")
    assert_clean_error(cli("sample", trained / "run"), "is a forecast run")


@pytest.mark.parametrize("make,flags,match", [
    (lambda p: write_csv(p, value=lambda i, v: "abc" if i == 7 else f"{v:.2f}"), [], "line 9"),
    (lambda p: p.write_text("a,b\nx,1\ny,2\nz,3\n"), [], "date"),
    (lambda p: write_csv(p, n=20), [], "needs at least"),
    (lambda p: write_csv(p, value=lambda i, v: "5"), [], "constant"),
    (lambda p: write_csv(p, fmt="2000-01-{m:02d}", n=30), [], "duplicate"),
    (lambda p: write_csv(p), ["--horizon", "0"], "--horizon"),
    (lambda p: write_csv(p), ["--window", "0"], "--window"),
    (lambda p: write_csv(p, value=lambda i, v: "nan" if i == 50 else f"{v:.2f}"), [], "missing"),
    (lambda p: write_csv(p, value=lambda i, v: "inf" if i == 50 else f"{v:.2f}"), [], "inf"),
    (lambda p: write_csv(p), ["--covariates", "Price"], "Price"),
    (lambda p: None, [], "not found"),
])
def test_bad_input_is_one_clean_line(tmp_path, make, flags, match):
    make(tmp_path / "s.csv")
    base = ["train", "--task", "forecast", "--data", tmp_path / "s.csv", "--out", tmp_path / "run", "--steps", "5"]
    if "--horizon" not in flags:
        flags = ["--horizon", "12", *flags]
    res = cli(*base, *flags)
    assert_clean_error(res, match)
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_bad_input_in_a_real_process(tmp_path):
    write_csv(tmp_path / "s.csv", n=20)
    proc = run_cli("backtest", "--task", "forecast", "--data", tmp_path / "s.csv", "--horizon", "12", "--origins", "3",
                   "--out", tmp_path / "bt")
    assert_clean_error(proc, "--origins")


def test_airline_from_the_shared_data(tmp_path):
    data = needs_shared("airline-passengers.csv")
    ok(cli("train", "--task", "forecast", "--data", data, "--horizon", "12", "--out", tmp_path / "air",
           "--steps", "60"))
    ev = json.loads(ok(cli("evaluate", tmp_path / "air", "--json")).stdout)
    assert ev["horizon"] == 12 and ev["origins"] == 1 and np.isfinite(ev["mase"])
    f = ok(cli("forecast", tmp_path / "air", "--json")).stdout.splitlines()
    assert json.loads(f[0])["date"] == "1961-01-01"
