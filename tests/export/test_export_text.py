"""Language-model export: the runtime's log-probabilities against PyTorch's (LSTM with the n-gram mix,
GRU, vanilla RNN, infill, n-gram runs), its sample and fill against rnnkit's, the CLI's --backend onnx,
bad input, and a round trip where torch cannot be imported."""

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import export, runtime
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.export.exporter import Draft, ExportConfig
from rnnkit.runtime import manifest as manifest_file
from rnnkit.text import api, sampling
from rnnkit.text import export as lm_export
from rnnkit.text import runtime as lm_runtime
from rnnkit.text.language_model import LMConfig, build_model
from rnnkit.text.sampling import SampleConfig
from rnnkit.text.vocab import Vocab

from conftest import TINY_TEXT, assert_clean_error, cli, ok, tiny_config

TOLERANCE = 1e-4


def trained(tmp_path_factory, name: str, family: str = "rnn", **changes) -> Path:
    """A tiny run trained a few steps (``changes``: ``"section.option": value``), exported to RUN/onnx."""
    d = tmp_path_factory.mktemp(name)
    (d / "tiny.txt").write_text(TINY_TEXT, encoding="utf-8")
    cfg = tiny_config(d / "tiny.txt", steps=6, eval_every=6)
    cfg.model = family
    for key, value in changes.items():
        section, option = key.split(".")
        setattr(getattr(cfg, section), option, value)
    rnnkit.train(cfg, d / "run")
    export.export(d / "run", runtime.default_folder(d / "run"))
    return d / "run"


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "lm_lstm", **{"rnn.layers": 2, "mix.mix_order": 4})


@pytest.fixture(scope="module")
def infill_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "lm_infill", **{"rnn.cell": "gru", "train.objective": "infill",
                                                     "train.seq_len": 12})


def parity_of(run: Path) -> dict:
    return manifest_file.read(runtime.default_folder(run))["parity"]


def test_lstm_with_the_ngram_mix_matches_pytorch(lstm_run):
    parity = parity_of(lstm_run)
    assert parity["max_abs_diff"] <= TOLERANCE
    assert any(case.startswith("recurrent model alone") for case in parity["cases"])  # not hidden by the mix
    rt = runtime.load(runtime.default_folder(lstm_run))
    assert rt.weight is not None and rt.mix and rt.metrics["test"]["tokens"] > 0
    tokens = np.random.default_rng(1).integers(0, len(rt.vocab), (2, 9))
    for mix in (True, False):
        model = api.load(lstm_run, mix=mix).model
        ref, ref_state = lm_export.reference(model, tokens)
        rt.mix = mix
        got, state = rt.log_probs(tokens)
        assert np.abs(got - ref).max() <= TOLERANCE
        step = tokens[:, :1]  # the next call carries the state, as generation does
        assert np.abs(rt.log_probs(step, state)[0] - lm_export.reference(model, step, ref_state)[0]).max() <= TOLERANCE


def test_the_runtime_scores_the_validation_split_as_rnnkit_evaluate(lstm_run):
    """What ``--quantize int8`` reports its cost with: the runtime's nats/token equal rnnkit evaluate's."""
    rt = runtime.load(runtime.default_folder(lstm_run))
    lm = api.load(lstm_run)
    val = rnnkit.text.textdata.open_prepared(lstm_run, lm.vocab).part("val").astype(np.int64)
    assert lm_export.val_loss(rt, val) == pytest.approx(api.evaluate(lm, "val", lstm_run).loss, abs=1e-5)


def test_greedy_samples_equal_pytorch(lstm_run):
    rt = runtime.load(runtime.default_folder(lstm_run))
    lm = api.load(lstm_run)
    cfg = SampleConfig(prime="the ", length=40, greedy=True, num_samples=2, int8=False)
    assert rt.sample(prime="the ", length=40, greedy=True, num_samples=2) == api.sample(lm, cfg)
    texts = rt.sample(prime="the ", length=30, seed=3, top_k=4, top_p=0.9, temperature=0.8)
    assert len(texts) == 1 and texts[0].startswith("the ") and len(texts[0]) == 34
    assert rt.sample(seed=5, length=25) == rt.sample(seed=5, length=25)  # numpy's generator, seeded


@pytest.mark.parametrize("options", [{}, {"temperature": 0.7, "top_k": 3}, {"top_p": 0.6}, {"top_k": 5, "top_p": 0.9}])
def test_the_draw_rule_is_pytorch_s(monkeypatch, options):
    """Given the same uniform numbers, numpy's next_token picks what sampling.next_token picks: the same
    filtered distributions and the same inverse-CDF draw."""
    cfg = SampleConfig(**options)
    logits = np.random.default_rng(2).normal(0, 2, 20).astype(np.float32)
    u = (np.arange(97, dtype=np.float32) + 0.5) / 97  # one row per uniform number
    rows = np.tile(logits, (len(u), 1))
    monkeypatch.setattr(torch, "rand", lambda *args, **kwargs: torch.from_numpy(u[:, None].copy()))
    expected = sampling.next_token(torch.from_numpy(rows), cfg, None).numpy()

    class Fixed:
        def random(self, shape, dtype):
            return u[:, None].astype(dtype)

    np.testing.assert_array_equal(lm_runtime.next_token(rows, cfg, Fixed()), expected)


def exported_untrained(cfg: LMConfig, vocab: Vocab):
    """An untrained model of ``cfg`` exported as ``rnnkit export`` does: (loaded, runtime object)."""
    torch.manual_seed(0)
    lm = api.LoadedModel(build_model(cfg, len(vocab)).eval(), vocab, cfg, {}, torch.device("cpu"),
                         Path(tempfile.mkdtemp()) / "best.safetensors")
    draft = Draft(Path(tempfile.mkdtemp()), ExportConfig())
    lm_export.export(lm, draft)
    manifest_file.write(draft.folder, {"task": "language-model", "graphs": draft.graphs, "data": draft.data})
    return lm, runtime.load(draft.folder)


@pytest.mark.parametrize("rnn", [
    {"cell": "gru", "layers": 2, "impl": "explicit", "tie_weights": True, "dropout": 0.2},
    {"cell": "rnn", "layers": 2, "one_hot": True, "nonlinearity": "relu"},  # its graph reads one token per call
])
def test_gru_and_vanilla_rnn_variants_match_pytorch(rnn):
    cfg = LMConfig()
    cfg.rnn = from_dict(type(cfg.rnn), {**dataclasses.asdict(cfg.rnn), "hidden_size": 16, "embedding_size": 16, **rnn})
    lm, rt = exported_untrained(cfg, Vocab.from_chars("abcdefgh \n"))
    cases = lm_export.parity(lm, rt)
    assert len(cases) == 4 and max(cases.values()) <= TOLERANCE, cases


def test_ngram_runs_export_their_tables(tmp_path_factory):
    run = trained(tmp_path_factory, "lm_ngram", family="ngram", **{"ngram.order": 3})
    assert parity_of(run)["max_abs_diff"] == 0.0  # the same tables through the same numpy code
    rt = runtime.load(runtime.default_folder(run))
    assert rt.manifest["graphs"] == {} and (rt.folder / lm_export.NGRAM_FILE).is_file()
    cfg = SampleConfig(prime="the ", length=30, greedy=True)
    assert rt.sample(prime="the ", length=30, greedy=True) == api.sample(api.load(run), cfg)


def test_infill_fill_equals_pytorch(infill_run):
    assert parity_of(infill_run)["max_abs_diff"] <= TOLERANCE
    rt = runtime.load(runtime.default_folder(infill_run))
    lm = api.load(infill_run)
    for text in ("the cat ___at on", "a ___og met"):
        got, expected = rt.fill(text, top_k=4), api.fill(lm, text, top_k=4)
        assert [f.token for f in got] == [f.token for f in expected]
        assert [f.text for f in got] == [f.text for f in expected]
        np.testing.assert_allclose([f.probability for f in got], [f.probability for f in expected], atol=1e-5)
    torch_out = ok(cli("fill", infill_run, "the ___ sat")).stdout
    assert ok(cli("fill", infill_run, "the ___ sat", "--backend", "onnx")).stdout == torch_out


def test_cli_sample_backend_onnx(lstm_run):
    args = ["sample", lstm_run, "--prime", "the ", "--length", "30", "--greedy", "--no-int8"]
    assert ok(cli(*args, "--backend", "onnx")).stdout == ok(cli(*args)).stdout
    stats = ok(cli(*args, "--backend", "onnx", "--stats")).stdout
    assert "statistics of the generated text" in stats
    alone = ok(cli(*args, "--backend", "onnx", "--no-mix")).stdout
    assert alone == ok(cli(*args, "--no-mix")).stdout


def test_bad_input(lstm_run, infill_run, tmp_path):
    rt = runtime.load(runtime.default_folder(lstm_run))
    filler = runtime.load(runtime.default_folder(infill_run))
    for call, match in ((lambda: rt.sample(prime="the €"), "not in the model's vocabulary"),
                        (lambda: rt.sample(length=0), "--length"),
                        (lambda: rt.sample(top_p=2.0), "--top-p"),
                        (lambda: rt.fill("the ___ cat"), "--objective infill"),
                        (lambda: rt.log_probs(np.array([[len(rt.vocab)]])), "ids in"),
                        (lambda: filler.sample(), "fill"),
                        (lambda: filler.fill("no blank here"), "no blank"),
                        (lambda: filler.fill("two ___ blanks ___"), "2 blanks"),
                        (lambda: filler.fill("the ___ sat", top_k=0), "--top-k")):
        with pytest.raises(RnnkitError, match=match) as e:
            call()
        assert "\n" not in str(e.value)
    moved = tmp_path / "copy"
    moved.mkdir()
    for name in ("best.safetensors", "config.json"):  # the run without its export
        (moved / name).write_bytes((lstm_run / name).read_bytes())
    assert_clean_error(cli("sample", moved, "--backend", "onnx"), "no export at")


def test_runtime_without_torch(lstm_run):
    folder = runtime.default_folder(lstm_run)
    code = ("import sys; sys.modules['torch'] = None\n"
            "from rnnkit import runtime\n"
            f"m = runtime.load({str(folder)!r})\n"
            "print(m.sample(prime='the ', length=20, seed=1)[0])\n"
            "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("the ") and len(proc.stdout.rstrip("\n")) >= 20
