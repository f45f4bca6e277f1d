"""The docs site (docs/): its commands run, its figures are small, it builds with warnings as errors,
and its index and tutorials load in headless Chromium with every image and no broken internal link.

The commands run through test_readme.py's mechanism: every ``$ rnnkit ...`` line of a page, in
order, in one folder per page, with the budgets shortened."""

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import ROOT
from test_readme import alice_in_cache, example_commands, pairs_slice, run_commands

DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_build" not in p.parts)
RUNNABLE = [p for p in PAGES if example_commands((DOCS / p).read_text(encoding="utf-8"))]
TUTORIALS = ["tutorials/language-modeling", "tutorials/translation", "tutorials/forecasting", "tutorials/audio",
             "tutorials/classification"]

# Every benchmark command the README quoted before the docs site took its measurements (0.2.0):
# each must still be on a docs page, beside its table.
README_BENCHMARK_COMMANDS = [
    "rnnkit compare --data ../shared/data/alice.txt --text-clean seed --budget 120 --out runs/compare",
    "python benchmarks/translate_quality.py --max-time 1800",
    "python benchmarks/translate_quality.py --max-time 1800 -- --precision fp32",
    "python benchmarks/translate_quality.py --max-time 240 --variants default no-attention",
    "python benchmarks/translate_speed.py --steps 60 --run runs/translate-quality/default --decode-batch 128 512",
    "python benchmarks/forecast_backtest.py",
    "python benchmarks/audio_fsdd.py --part test --max-time 240",
    "python benchmarks/audio_fsdd.py --part speed",
    "python benchmarks/audio_fsdd.py --part crossval --max-time 240",
    "python benchmarks/audio_fsdd.py --part test --max-time 240 [--set features.trim_db=0] [--set train.seed=1]",
    "python benchmarks/audio_fsdd.py --part crossval --max-time 300 --set model.members=3",
    "python benchmarks/audio_fsdd.py --part speed --set model.members=3",
    "OMP_NUM_THREADS=1 python benchmarks/audio_fsdd.py --part crossval --steps 1500 [--set train.seed=1 features.floor=hard ...]",
    "python benchmarks/diagnose_cases.py",
    "python benchmarks/gradient_flow.py",
    "python benchmarks/tuning.py",
    "python benchmarks/tuning.py --skip-workers",
    "python benchmarks/tuning.py --skip-grid --short-steps 3000",
    "python benchmarks/tuning.py --skip-grid",
    "python benchmarks/scaling.py --steps 60 --repeats 3 --loss-steps 200",
    "python benchmarks/scaling.py --steps 60 --repeats 3 --parts speed",
    'python benchmarks/scaling.py --steps 60 --repeats 3 --parts speed --flags "--precision fp32"',
    "python benchmarks/scaling.py --steps 60 --repeats 3 --parts speed --batch-size 64",
    "python benchmarks/quality.py --corpora alice tinyshakespeare nottingham-jigs",
    "python benchmarks/throughput.py --steps 40",
    "rnnkit train --data ../shared/data/alice.txt --text-clean seed --out runs/alice --steps 656",
    "python benchmarks/sampling_speed.py --run runs/alice",
    "python benchmarks/memory.py",
    "python benchmarks/ngram_fit.py",
]


def all_docs_text() -> str:
    return "\n".join((DOCS / p).read_text(encoding="utf-8") for p in PAGES)


def test_the_tutorials_and_guides_have_commands_to_run():
    for page in [t + ".md" for t in TUTORIALS] + ["getting-started.md", "guides/diagnose.md", "guides/tune.md"]:
        assert page in RUNNABLE, f"{page} has no $ rnnkit line"


def write_config_files(text: str, folder: Path) -> None:
    """The page's ```toml blocks that start with ``# NAME.toml``, as the files its commands read,
    with their step budgets cut to 3 steps (as the commands' time budgets are cut)."""
    for name, body in re.findall(r"```toml\n# ([\w.-]+\.toml)\b.*?\n(.*?)```", text, flags=re.S):
        (folder / name).write_text(re.sub(r"(?m)^steps = \d+", "steps = 3", body), encoding="utf-8")


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_commands_run(page, tmp_path, monkeypatch):
    alice_in_cache(tmp_path, monkeypatch)
    text = (DOCS / page).read_text(encoding="utf-8")
    write_config_files(text, tmp_path)
    run_commands(example_commands(text), tmp_path)


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)])
def test_page_python_examples_run(page, tmp_path, monkeypatch):
    """A page's ```python blocks run as written, with their training budget cut to 2 s."""
    alice_in_cache(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    pairs_slice(tmp_path)  # spa-eng.txt, where the translation example reads it
    for block in python_blocks(page):
        exec(compile(re.sub(r"max_time = \d+", "max_time = 2", block), page, "exec"), {})
    assert list(tmp_path.glob("runs/*/best.safetensors")), "the examples train a run"


def test_every_readme_benchmark_command_is_in_the_docs():
    text = all_docs_text()
    missing = [c for c in README_BENCHMARK_COMMANDS if c not in text]
    assert not missing, f"benchmark commands no docs page quotes: {missing}"


def test_every_benchmark_script_is_on_a_benchmarks_page():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "benchmarks").glob("*.md"))
    scripts = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
    assert scripts and not [s for s in scripts if f"benchmarks/{s}" not in text]


def test_figures_exist_and_are_small():
    text = all_docs_text()
    used = set(re.findall(r"figures/([\w.-]+\.(?:png|txt))", text))
    assert {"forecast.png", "translate-attention.png", "audio-confusion.png", "lm-loss.png"} <= used
    for name in used:
        path = DOCS / "figures" / name
        assert path.is_file(), f"{name} is used but not in docs/figures (python docs/make_figures.py)"
        assert path.stat().st_size < 200_000, f"{name}: {path.stat().st_size} bytes"


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


# -- the built site ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx", reason="the docs extra is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


# Reports, once the page has loaded, its images (all, broken) and the file: links it holds.
LINKS = """<script>window.addEventListener("load", () => {
  const links = [...document.querySelectorAll("a[href]")].map(a => a.href).filter(h => h.startsWith("file:"));
  document.body.setAttribute("data-links", JSON.stringify(links));
});</script>"""


def load_in_chromium(page: Path, tmp_path) -> tuple[int, int, list[str]]:
    """(images, broken images, internal links) of a built page as headless Chromium loads it, offline.

    The page is loaded as a copy beside itself with test_report.py's image check added, so every
    relative path resolves as it does for the page."""
    sys.path.insert(0, str(Path(__file__).parent / "report"))  # tests/report is no package
    from test_report import CHROMIUM, IMAGE_CHECK, dump_dom

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    check = page.with_name("check-" + page.name)
    check.write_text(page.read_text(encoding="utf-8").replace("</body>", IMAGE_CHECK + LINKS + "</body>"),
                     encoding="utf-8")
    try:
        dom = dump_dom(check, tmp_path)
    finally:
        check.unlink()
    body = re.search(r"<body[^>]*>", dom)
    found = {k: re.search(rf'{k}="([^"]*)"', body.group(0)) for k in ("data-images", "data-broken", "data-links")} if body else {}
    assert found and all(found.values()), f"the check did not run: {dom[:500]}"
    links = json.loads(html.unescape(found["data-links"].group(1)))
    links = [link.replace("check-" + page.name, page.name) for link in links]
    return int(found["data-images"].group(1)), int(found["data-broken"].group(1)), links


def broken_links(links: list[str], site: Path) -> list[str]:
    """The links whose file is missing from the site, or whose #fragment is no id of that file."""
    broken = []
    for link in links:
        url = urlparse(link)
        path = Path(unquote(url.path))
        if not path.exists() or site.resolve() not in path.resolve().parents:
            broken.append(link)
        elif url.fragment and path.suffix == ".html":
            if f'id="{url.fragment}"' not in path.read_text(encoding="utf-8"):
                broken.append(link)
    return broken


@pytest.mark.parametrize("name", ["index", *TUTORIALS])
def test_built_page_loads_with_its_images_and_links(site, name, tmp_path):
    images, broken, links = load_in_chromium(site / f"{name}.html", tmp_path)
    if name != "index":
        assert images >= 2, f"{name}: a tutorial shows its pictures"
    assert broken == 0 and images >= 1
    assert len(links) > 10 and not broken_links(links, site)


def test_the_link_check_catches_a_broken_link(site):
    good = (site / "index.html").resolve().as_uri()
    assert broken_links([good, good + "#no-such-heading", (site / "nowhere.html").resolve().as_uri()], site) == [
        good + "#no-such-heading", (site / "nowhere.html").resolve().as_uri()]
