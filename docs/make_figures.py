"""Make the tutorials' figures from real runs on the shared data sets.

    python docs/make_figures.py                 # about 10 minutes on 2 CPU cores
    python docs/make_figures.py --scale 0.05    # the same commands with tiny budgets (checks the script)
    python docs/make_figures.py --only serve    # the playground screenshots alone (trains their two runs)

Every figure is what rnnkit itself draws (the report's loss plot, ``forecast --plot``, ``translate
--attention-plot``, ``evaluate --plot``, ``backtest``, ``compare``, ``learning-curve``,
``gradient-flow``, ``serve``'s playground in headless Chromium), run through the command line as a user
would. The PNGs land in ``docs/figures/`` (each kept under 200 KB), with the samples the pages quote
and ``figures.json``: each figure's command, the budget and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
DATA = HERE.parent.parent / "shared" / "data"
MAX_BYTES = 200_000

# seconds of training per run at --scale 1: short beside the benchmarks, long enough to show learning
BUDGETS = {"lm": 90, "compare": 12, "translate": 150, "audio": 90, "curve": 8}
CLASSIFY_STEPS = 5000  # at --scale 1: a step budget, so the figure does not depend on the machine's load
TAG_STEPS = 2000  # the same for the tagger (about 5 epochs of UD English-EWT)
STEPS = ["lm", "translate", "forecast", "audio", "classify", "tag", "diagnose", "serve"]  # serve: after lm, translate


def rnnkit(*args: str, cwd: Path) -> str:
    """Run ``rnnkit ARGS`` in ``cwd``; its standard output (a failure stops the script with stderr)."""
    proc = subprocess.run([sys.executable, "-m", "rnnkit.cli", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"rnnkit {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def loss_plot(run: Path, name: str) -> None:
    """The report's loss-against-step plot of ``run`` (from its metrics.jsonl) as ``name``."""
    from rnnkit.report.plots import loss_curves
    from rnnkit.report.run_report import read_metrics

    score = json.loads((run / "config.json").read_text())["train"].get("select", "loss")
    image = loss_curves(read_metrics(run), "step", "step", score)
    (FIGURES / name).write_bytes(image.png)


def keep(path: Path, name: str) -> None:
    """Copy a PNG rnnkit drew into docs/figures, shrunk if it is over the size limit."""
    shutil.copyfile(path, FIGURES / name)
    if (FIGURES / name).stat().st_size > MAX_BYTES:
        import matplotlib.image as mpimg
        import matplotlib.pyplot as plt

        img = mpimg.imread(FIGURES / name)
        h, w = img.shape[:2]
        fig = plt.figure(figsize=(w / 200, h / 200), dpi=100)  # half the pixels each way
        fig.figimage(img[::2, ::2], resize=True)
        fig.savefig(FIGURES / name, dpi=100)
        plt.close(fig)


def secs(kind: str, scale: float) -> str:
    return str(max(1, round(BUDGETS[kind] * scale)))


def lm_command(scale: float) -> list[str]:
    return ["train", "--data", str(DATA / "alice.txt"), "--text-clean", "seed", "--out", "alice", "--max-time",
            secs("lm", scale)]


def translate_command(scale: float) -> list[str]:
    return ["train", "--task", "translate", "--data", str(DATA / "spa-eng.txt"), "--source-column", "2",
            "--target-column", "1", "--out", "es-en", "--max-time", secs("translate", scale)]


def language_model(work: Path, scale: float, made: dict) -> None:
    cmd = lm_command(scale)
    rnnkit(*cmd, cwd=work)
    loss_plot(work / "alice", "lm-loss.png")
    sample = ["sample", "alice", "--prime", "alice ", "--temperature", "0.8", "--length", "300", "--stats", "--seed", "0"]
    text = rnnkit(*sample, cwd=work)
    (FIGURES / "lm-sample.txt").write_text(f"$ rnnkit {shlex.join(sample)}\n{text}", encoding="utf-8")
    made["lm-loss.png"] = made["lm-sample.txt"] = "rnnkit " + shlex.join(cmd)
    compare = ["compare", "--data", str(DATA / "alice.txt"), "--text-clean", "seed", "--budget", secs("compare", scale),
               "--out", "compare"]
    rnnkit(*compare, cwd=work)
    keep(work / "compare" / "val_loss.png", "lm-compare.png")
    made["lm-compare.png"] = "rnnkit " + shlex.join(compare)


def translation(work: Path, scale: float, made: dict) -> None:
    cmd = translate_command(scale)
    rnnkit(*cmd, cwd=work)
    loss_plot(work / "es-en", "translate-loss.png")
    rnnkit("translate", "es-en", "Tom no está aquí.", "--beam", "1", "--attention-plot", "attention.png", cwd=work)
    keep(work / "attention.png", "translate-attention.png")
    made["translate-loss.png"] = made["translate-attention.png"] = "rnnkit " + shlex.join(cmd)


def forecasting(work: Path, made: dict) -> None:
    data = str(DATA / "airline-passengers.csv")
    cmd = ["train", "--task", "forecast", "--data", data, "--horizon", "12", "--out", "air"]
    rnnkit(*cmd, cwd=work)
    loss_plot(work / "air", "forecast-loss.png")
    rnnkit("forecast", "air", "--plot", "air-forecast.png", cwd=work)
    keep(work / "air-forecast.png", "forecast.png")
    backtest = ["backtest", "--task", "forecast", "--data", data, "--horizon", "12", "--origins", "5", "--out", "air-backtest"]
    rnnkit(*backtest, cwd=work)
    keep(work / "air-backtest" / "backtest.png", "forecast-backtest.png")
    made["forecast-loss.png"] = made["forecast.png"] = "rnnkit " + shlex.join(cmd)
    made["forecast-backtest.png"] = "rnnkit " + shlex.join(backtest)


def audio(work: Path, scale: float, made: dict) -> None:
    cmd = ["train", "--task", "audio", "--data", str(DATA / "fsdd"), "--label-pattern", r"^(\d)_",
           "--group-pattern", r"^\d_([a-z]+)_", "--split", "pattern", "--test-pattern", r"_[0-4]\.wav$",
           "--out", "digits", "--max-time", secs("audio", scale)]
    rnnkit(*cmd, cwd=work)
    loss_plot(work / "digits", "audio-loss.png")
    rnnkit("evaluate", "digits", "--split", "test", "--plot", "confusion.png", cwd=work)
    keep(work / "confusion.png", "audio-confusion.png")
    made["audio-loss.png"] = made["audio-confusion.png"] = "rnnkit " + shlex.join(cmd)


def classification(work: Path, scale: float, made: dict) -> None:
    cmd = ["train", "--task", "classify", "--data", str(DATA / "trec" / "TREC.train.all"), "--test",
           str(DATA / "trec" / "TREC.test.all"), "--format", "label-first", "--encoding", "latin-1", "--out", "trec",
           "--steps", str(max(10, round(CLASSIFY_STEPS * scale))), "--max-time", "3600",
           "--members", "1", "--mix-with", "none"]  # one classifier, its own curves (the figures' model)
    rnnkit(*cmd, cwd=work)
    loss_plot(work / "trec", "classify-loss.png")
    rnnkit("evaluate", "trec", "--split", "test", "--plot", "confusion.png", cwd=work)
    keep(work / "confusion.png", "classify-confusion.png")
    made["classify-loss.png"] = made["classify-confusion.png"] = "rnnkit " + shlex.join(cmd)


def tagging(work: Path, scale: float, made: dict) -> None:
    ewt = DATA / "ud-english-ewt"
    cmd = ["train", "--task", "tag", "--data", str(ewt / "en_ewt-ud-train.conllu"), "--validation",
           str(ewt / "en_ewt-ud-dev.conllu"), "--test", str(ewt / "en_ewt-ud-test.conllu"), "--out", "upos",
           "--select", "loss", "--eval-every", "100", "--steps", str(max(10, round(TAG_STEPS * scale))),
           "--max-time", "3600"]
    rnnkit(*cmd, cwd=work)
    loss_plot(work / "upos", "tag-loss.png")
    rnnkit("evaluate", "upos", "--split", "test", "--plot", "confusion.png", cwd=work)
    keep(work / "confusion.png", "tag-confusion.png")
    made["tag-loss.png"] = made["tag-confusion.png"] = "rnnkit " + shlex.join(cmd)


def diagnosis(work: Path, scale: float, made: dict) -> None:
    curve = ["learning-curve", "--data", str(DATA / "alice.txt"), "--text-clean", "seed", "--cell", "gru", "--layers", "1",
             "--hidden-size", "64", "--mix-order", "0", "--max-time", secs("curve", scale), "--fractions", "0.25", "0.5", "1",
             "--seeds", "2", "--out", "curve"]
    rnnkit(*curve, cwd=work)
    keep(work / "curve" / "learning_curve.png", "learning-curve.png")
    flow = ["gradient-flow", "--cells", "rnn", "lstm", "gru", "--data", str(DATA / "alice.txt"), "--text-clean", "seed",
            "--out", "gradient-flow.png"]
    rnnkit(*flow, cwd=work)
    keep(work / "gradient-flow.png", "gradient-flow.png")
    made["learning-curve.png"] = "rnnkit " + shlex.join(curve)
    made["gradient-flow.png"] = "rnnkit " + shlex.join(flow)


def playground(work: Path, scale: float, made: dict) -> None:
    """Screenshots of ``rnnkit serve``'s playground in headless Chromium (playwright): a sample of the Alice
    model, then a translation with its attention map, each panel filled and submitted as a user would. The
    runs are the lm and translate steps' (trained here, as they train them, when those steps did not run)."""
    from playwright.sync_api import sync_playwright

    for run, command in (("alice", lm_command), ("es-en", translate_command)):
        if not (work / run).is_dir():
            rnnkit(*command(scale), cwd=work)
    cmd = ["serve", "alice", "es-en", "--port", "0"]
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit.cli", *cmd], cwd=work, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = next(line.split()[2] for line in proc.stderr if line.startswith("listening on "))
        shots = [("alice", "sample", {"prime": "alice was ", "length": "300", "temperature": "0.8"},
                  "serve-sample.png"), ("es-en", "translate", {"sentence": "Tom no está aquí."}, "serve-translate.png")]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready]", timeout=120_000)  # every model loaded
            for model, verb, fields, name in shots:
                panel = f'section[data-model="{model}"][data-verb="{verb}"]'
                for field, value in fields.items():
                    page.locator(f'{panel} [data-test="{field}"]').fill(value)
                page.locator(f'{panel} [data-test="submit"]').click()
                page.wait_for_selector(panel + '[data-state="done"]', timeout=120_000)
                page.locator(f'article.model[data-model="{model}"]').screenshot(path=work / name)
                keep(work / name, name)
                made[name] = "rnnkit " + shlex.join(cmd)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply every training budget (default 1)")
    p.add_argument("--work", type=Path, default=Path("runs/docs-figures"), help="folder for the runs")
    p.add_argument("--only", nargs="+", choices=STEPS, default=STEPS)
    args = p.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: the figures are made from the shared data sets beside the checkout")
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    work = args.work.resolve()
    FIGURES.mkdir(exist_ok=True)
    index = FIGURES / "figures.json"
    made = json.loads(index.read_text()) if index.is_file() else {}
    started = time.time()
    steps = {"lm": lambda m: language_model(work, args.scale, m), "translate": lambda m: translation(work, args.scale, m),
             "forecast": lambda m: forecasting(work, m), "audio": lambda m: audio(work, args.scale, m),
             "classify": lambda m: classification(work, args.scale, m), "tag": lambda m: tagging(work, args.scale, m),
             "diagnose": lambda m: diagnosis(work, args.scale, m), "serve": lambda m: playground(work, args.scale, m)}
    for name in args.only:
        new: dict[str, str] = {}
        steps[name](new)
        made.update({fig: {"command": cmd, "date": time.strftime("%Y-%m-%d"), "scale": args.scale,
                           "cpus": os.cpu_count()} for fig, cmd in new.items()})
        print(f"{name}: {', '.join(new)} ({time.time() - started:.0f} s so far)")
    index.write_text(json.dumps(made, indent=1, sort_keys=True) + "\n")
    for png in sorted(FIGURES.glob("*.png")):
        assert png.stat().st_size <= MAX_BYTES, f"{png} is {png.stat().st_size} bytes"


if __name__ == "__main__":
    main()
