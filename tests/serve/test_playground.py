"""The playground page (``GET /``) in headless Chromium against one real ``rnnkit serve`` of tiny trained runs:
every panel submitted and its answer drawn (streamed text, the attention heatmap, probability bars, the
forecast chart with its bands, tagged entities), an error shown as the server's text, the API key field, and
across every test no console error, no page error and no request to any other host."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import soundfile as sf

from conftest import serve_app, serve_cli

sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])"
                                      ).sync_playwright
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no chromium on PATH (.ci/run installs it)")

TESTS = Path(__file__).resolve().parents[1]
for folder in ("export", "classify"):  # the data makers of those tests
    sys.path.insert(0, str(TESTS / folder))


# -- tiny runs, trained a few steps as tests/export/test_export_<task>.py train theirs --------------------------

def _translate(folder: Path) -> Path:
    from test_export_translate import _train

    return _train(folder, 10)  # a bidirectional GRU with luong attention


def _audio(folder: Path) -> Path:
    """An audio classifier of three pitches (low, mid, high)."""
    from test_export_audio import _folder

    from rnnkit.audio import api
    from rnnkit.audio.task import AudioConfig
    from rnnkit.core.config import from_dict

    data = _folder(folder / "tones")
    api.train(from_dict(AudioConfig, {"data": {"data": str(data), "label_pattern": r"^([a-z]+)_",
                                               "group_pattern": r"^[a-z]+_([a-z]+)_"},
                                      "model": {"channels": 4, "hidden_size": 8},
                                      "train": {"max_time": None, "steps": 3, "eval_every": 3, "batch_size": 8}}),
              folder / "run")
    return folder / "run"


def _wav(path: Path) -> Path:
    """Half a second of a 700 Hz tone (the mid pitch)."""
    from test_export_audio import RATE, _tone

    sf.write(path, _tone(700.0, 0.5, 0), RATE, subtype="PCM_16")
    return path


def _forecast(folder: Path) -> Path:
    from test_export_forecast import _train

    return _train(folder / "run", {"model": {"likelihood": "gaussian"}, "forecast": {"intervals": "model"},
                                         "train": {"steps": 3}}, False)


def _classify(folder: Path) -> Path:
    from test_classify import text_file

    from rnnkit.classify import api
    from rnnkit.classify.task import ClassifyConfig
    from rnnkit.core.config import from_dict

    data = text_file(folder / "ends.csv", 120, lambda a, b: "same" if a == b else "diff")
    api.train(from_dict(ClassifyConfig, {"data": {"data": str(data)}, "units": {"min_freq": 1, "level": "word"},
                                         "model": {"hidden_size": 8, "embedding_size": 6},
                                         "train": {"max_time": None, "steps": 3, "eval_every": 100}}), folder / "run")
    return folder / "run"


def _tag(folder: Path) -> Path:
    from test_export_tag import entity_sentences

    from rnnkit.core.config import from_dict
    from rnnkit.tag import api
    from rnnkit.tag.task import TagConfig

    data = folder / "ner.conll"
    data.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(*s)) for s in entity_sentences(90)) + "\n")
    api.train(from_dict(TagConfig, {"data": {"data": str(data)}, "model": {"word_size": 8, "hidden_size": 8,
                                                                         "char_size": 6, "char_hidden": 5},
                                    "train": {"steps": 4, "max_time": None, "eval_every": 4, "lr": 1e-2}}),
              folder / "run")
    return folder / "run"


@dataclass
class Server:
    url: str
    models: set[str]
    wav: Path  # a tone to upload


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One ``rnnkit serve`` of a tiny run of every task, for the whole module."""
    from test_serve_text import _train as train_lm

    made = tmp_path_factory.mktemp
    runs = {"lm": train_lm(tmp_path_factory, "lm", exported=False),
            "infill": train_lm(tmp_path_factory, "infill", exported=False,
                               **{"train.objective": "infill", "train.seq_len": 12}),
            "translate": _translate(made("translate")), "audio": _audio(made("audio")),
            "forecast": _forecast(made("forecast")), "classify": _classify(made("classify")), "tag": _tag(made("tag"))}
    with serve_cli(*(f"{name}={run}" for name, run in runs.items())) as (url, _):
        yield Server(url, set(runs), _wav(made("wav") / "tone.wav"))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page and what it did: console errors, page errors, the URLs it requested. A request the test makes fail
    on purpose logs "Failed to load resource" for its URL: those URLs go in ``expected``."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)

    def panel(self, model: str, verb: str):
        return self.page.locator(f'section[data-model="{model}"][data-verb="{verb}"]')

    def submit(self, model: str, verb: str, state: str = "done", **fields: str):
        """Fill the panel's fields, press its button, wait for ``state`` (done or error); the panel."""
        panel = self.panel(model, verb)
        for name, value in fields.items():
            panel.locator(f'[data-test="{name}"]').fill(value)
        panel.locator('[data-test="submit"]').click()
        self.page.wait_for_selector(f'section[data-model="{model}"][data-verb="{verb}"][data-state="{state}"]',
                                    timeout=30_000)
        return panel

    def check(self, origin: str) -> None:
        unexpected = [e for e in self.errors if e.split(" at ")[-1].split("?")[0] not in self.expected]
        assert not unexpected, unexpected
        assert self.requests and all(u.startswith(origin + "/") for u in self.requests), self.requests


def _watch(browser, expected: set[str] = frozenset()) -> Watched:
    """A new page whose console errors, page errors and requests are recorded."""
    watched = Watched(browser.new_page(), expected=set(expected))
    watched.page.on("console", lambda m: m.type == "error" and watched.errors.append(f"{m.text} at {m.location['url']}"))
    watched.page.on("pageerror", lambda e: watched.errors.append(f"page error: {e}"))
    watched.page.on("request", lambda r: watched.requests.append(r.url))
    return watched


@pytest.fixture
def page(browser, server):
    watched = _watch(browser)
    watched.page.goto(server.url + "/")
    watched.page.wait_for_selector("body[data-ready]")
    yield watched
    watched.check(server.url)
    watched.page.close()


def test_the_page_lists_every_model_with_a_panel_per_verb(page, server):
    cards = page.page.locator("article.model")
    assert sorted(cards.evaluate_all("cs => cs.map(c => c.dataset.model)")) == sorted(server.models)
    assert page.panel("lm", "sample").count() == 1 and page.panel("infill", "fill").count() == 1
    # a left-to-right model cannot fill blanks, an infill model cannot generate: no panel that can only fail
    assert page.page.locator('[data-model="lm"][data-verb="fill"][data-test="unavailable"]').count() == 1
    assert page.page.locator('[data-model="infill"][data-verb="sample"][data-test="unavailable"]').count() == 1
    info = page.page.locator('article[data-model="translate"] [data-test="info"]').text_content()
    assert "options" in info and "hidden_size" in info and "beam" in info


def test_sample_streams_the_text_in_as_it_is_generated(page):
    page.page.evaluate("""() => { window.lengths = [];
        const out = document.querySelector('[data-model="lm"][data-verb="sample"] [data-test="output"]');
        new MutationObserver(() => window.lengths.push(out.textContent.length))
          .observe(out, {subtree: true, childList: true, characterData: true}); }""")
    panel = page.submit("lm", "sample", prime="the ", length="200", temperature="0.8")
    text = panel.locator('[data-test="text"]')
    assert text.get_attribute("data-done") == "true"
    assert int(text.get_attribute("data-pieces")) == 200  # one event per token of a character model
    final = text.text_content()
    assert final.startswith("the ") and len(final) == 4 + 200
    lengths = page.page.evaluate("window.lengths")
    assert lengths == sorted(lengths) and any(4 < n < len(final) for n in lengths), lengths  # it grew, then ended


def test_fill_shows_the_fillers_as_bars(page):
    panel = page.submit("infill", "fill", text="the c___t sat", top_k="4")
    bars = panel.locator('[data-test="bar"]')
    assert bars.count() == 4
    probabilities = [float(p) for p in bars.evaluate_all("bs => bs.map(b => b.dataset.probability)")]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6


def test_translate_draws_the_attention_map(page):
    panel = page.submit("translate", "translate", sentence="a b c")
    assert panel.locator('[data-test="translation"]').count() == 1  # (a model this small may say nothing yet)
    heatmap = panel.locator('[data-test="heatmap"]')
    rows, cols = int(heatmap.get_attribute("data-rows")), int(heatmap.get_attribute("data-cols"))
    assert rows >= 1 and cols >= 3 and panel.locator('[data-test="cell"]').count() == rows * cols
    assert panel.locator('[data-test="col-label"]').count() == cols
    assert panel.locator('[data-test="row-label"]').count() == rows
    assert panel.locator('[data-test="col-label"]').nth(0).text_content() == "a"  # the source's first piece


def test_an_error_shows_the_servers_message(page, server):
    page.expected.add(server.url + "/v1/models/translate/translate")
    panel = page.submit("translate", "translate", state="error", sentence="   ")
    assert panel.locator('[data-test="error"]').text_content() == "field 'sentences': sentence 0 is empty"
    panel = page.submit("translate", "translate", sentence="b a")  # the panel recovers
    assert panel.locator('[data-test="error"]').is_hidden()
    page.expected.add(server.url + "/v1/models/lm/sample")
    panel = page.submit("lm", "sample", state="error", prime="Q")  # a stream refused before its first event
    assert "not in the model's vocabulary" in panel.locator('[data-test="error"]').text_content()


def test_classify_a_picked_wav_file(page, server):
    panel = page.panel("audio", "classify")
    panel.locator('[data-test="top_k"]').fill("2")
    panel.locator('[data-test="file"]').set_input_files(str(server.wav))  # picking a file submits it
    page.page.wait_for_selector('section[data-model="audio"][data-verb="classify"][data-state="done"]')
    labels = panel.locator('[data-test="bar"]').evaluate_all("bs => bs.map(b => b.dataset.label)")
    assert len(labels) == 2 and set(labels) <= {"low", "mid", "high"}


def test_a_dropped_wav_file_is_classified(page, server):
    data = list(server.wav.read_bytes())
    page.page.evaluate("""data => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(data)], "dropped.wav", {type: "audio/wav"}));
        const zone = document.querySelector('[data-model="audio"][data-verb="classify"] [data-test="drop"]');
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true})); }""", data)
    page.page.wait_for_selector('section[data-model="audio"][data-verb="classify"][data-state="done"]')
    assert page.panel("audio", "classify").locator('[data-test="bar"]').count() == 3


def test_a_file_that_is_not_wav_shows_the_servers_error(page, server, tmp_path):
    page.expected.add(server.url + "/v1/models/audio/classify")
    (tmp_path / "notes.wav").write_text("not a wav file")
    page.panel("audio", "classify").locator('[data-test="file"]').set_input_files(str(tmp_path / "notes.wav"))
    page.page.wait_for_selector('section[data-model="audio"][data-verb="classify"][data-state="error"]')
    assert "wav" in page.panel("audio", "classify").locator('[data-test="error"]').text_content().lower()


def test_forecast_draws_history_forecast_and_bands(page):
    panel = page.submit("forecast", "forecast", horizon="6")
    chart = panel.locator('[data-test="chart"]')
    assert chart.locator('[data-test="history"]').get_attribute("d").count("L") >= 5
    assert chart.locator('[data-test="forecast"]').get_attribute("d").count("L") == 6  # joined to the history
    levels = chart.locator('[data-test="band"]').evaluate_all("bs => bs.map(b => b.dataset.level)")
    assert levels == ["95", "80"], levels  # the widest band drawn first
    assert "Z" in chart.locator('[data-test="band"]').nth(0).get_attribute("d")


def test_predict_shows_the_label_probabilities(page):
    panel = page.submit("classify", "predict", text="a x y b")
    labels = panel.locator('[data-test="bar"]').evaluate_all("bs => bs.map(b => b.dataset.label)")
    assert set(labels) == {"same", "diff"}


def test_tag_shows_the_tokens_and_entity_spans(page):
    panel = page.submit("tag", "tag", text="Ann met Bob in New York .")
    tokens = panel.locator('[data-test="token"]')
    assert tokens.count() == 7
    tags = tokens.evaluate_all("ts => ts.map(t => t.dataset.tag)")
    assert set(tags) <= {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
    assert panel.locator('[data-test="entity"]').count() >= sum(t.startswith("B-") for t in tags)


@pytest.mark.parametrize("tags, spans", [
    (["B-PER", "O", "B-LOC", "I-LOC", "B-PER", "B-PER"], [["PER", 1], ["LOC", 2], ["PER", 1], ["PER", 1]]),
    (["S-PER", "O", "B-LOC", "E-LOC", "I-PER", "O"], [["PER", 1], ["LOC", 2], ["PER", 1]]),  # IOBES; a stray I-
    (["NN", "VB", "O", "DT", "NN", "."], []),  # tags without a scheme: no spans
])
def test_entity_spans_follow_the_tag_scheme(page, tags, spans):
    """The page's own drawing of tags (the model above is too small to tag anything right)."""
    drawn = page.page.evaluate("""tags => Array.from(tagged(tags.map((t, i) => "w" + i), tags)
        .querySelectorAll('[data-test="entity"]'), e => [e.dataset.type, e.querySelectorAll('[data-test="token"]').length])""",
                               tags)
    assert drawn == spans


def test_an_api_key_is_asked_for_kept_and_sent(browser, tmp_path, monkeypatch):
    """A server that needs a key: the page asks for it, keeps it for the tab and sends it with every call."""
    from test_serve_framework import stand_in

    monkeypatch.setenv("RNNKIT_PLAYGROUND_KEY", "s3cret")
    served, _ = stand_in(tmp_path)
    with serve_app({"echo": served}, api_key_env="RNNKIT_PLAYGROUND_KEY") as (url, _):
        watched = _watch(browser, {url + "/v1/models"})  # the first, keyless call answers 401
        page = watched.page
        page.goto(url + "/")
        page.wait_for_selector('[data-test="api-key"]')
        assert "API key" in page.locator('[data-test="auth-message"]').text_content()
        page.fill('[data-test="api-key"]', "s3cret")
        page.click('[data-test="api-key-save"]')
        page.wait_for_selector("body[data-ready]")
        assert page.evaluate("sessionStorage.getItem('rnnkit-api-key')") == "s3cret"
        # a verb the page has no drawing for gets a JSON body box and the JSON answer
        watched.submit("echo", "echo", body='{"text": "hi"}')
        assert '"text": "hi"' in watched.panel("echo", "echo").locator('[data-test="json"]').text_content()
        page.reload()  # the key outlives a reload of the tab
        page.wait_for_selector("body[data-ready]")
        watched.check(url)
        page.close()
