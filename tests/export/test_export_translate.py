"""Translator export: encoder + one-step decoder graphs, parity with PyTorch, and the runtime's greedy and
beam search giving rnnkit's translations, also without torch and through ``rnnkit translate --backend onnx``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit import runtime, translate
from rnnkit.cli import main
from rnnkit.core.errors import RnnkitError
from rnnkit.export import ExportConfig, export
from rnnkit.nn.recurrent import RecurrentStack, padded_final, unpacked
from rnnkit.translate import export as translate_export

LETTERS = "abcdefghij"
SENTENCES = ["a b c", "j i h g f", "c a e d", "b", "f g h i j a b"]


def _reverse_file(path: Path, lines: int = 300) -> Path:
    """``a c f<TAB>f c a``: a few distinct letters and the same letters reversed."""
    rng = random.Random(0)
    rows = []
    for _ in range(lines):
        s = rng.sample(LETTERS, rng.randint(2, 6))
        rows.append(" ".join(s) + "\t" + " ".join(reversed(s)))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _train(folder: Path, steps: int, tokens: str = "word", **model) -> Path:
    cfg = translate.TranslateConfig()
    cfg.data.data = str(_reverse_file(folder / "reverse.tsv"))
    cfg.tokenizer.tokens, cfg.tokenizer.min_freq, cfg.tokenizer.vocab_size = tokens, 1, 30
    cfg.model.hidden_size, cfg.model.embedding_size, cfg.model.dropout = 16, 8, 0.0
    for k, v in model.items():
        setattr(cfg.model, k, v)
    cfg.train.batch_size, cfg.train.lr, cfg.train.steps, cfg.train.eval_every = 32, 1e-2, steps, steps
    cfg.train.device, cfg.train.precision = "cpu", "fp32"
    translate.train(cfg, folder / "run")
    return folder / "run"


@pytest.fixture(scope="module")
def gru_run(tmp_path_factory) -> tuple[Path, dict]:
    """A bidirectional GRU with luong attention, trained a little on word tokens, and its export."""
    run = _train(tmp_path_factory.mktemp("gru"), 40)
    return run, export(run, runtime.default_folder(run))


def test_export_writes_both_graphs_with_parity_in_the_manifest(gru_run):
    run, manifest = gru_run
    assert manifest["task"] == "translation" and sorted(manifest["graphs"]) == ["decoder_step", "encoder"]
    step = manifest["graphs"]["decoder_step"]
    assert step["outputs"]["logp"][0] == "batch" and step["outputs"]["weights"] == ["batch", "src_len"]
    assert len(manifest["parity"]["cases"]) >= 3 and manifest["parity"]["max_abs_diff"] <= 1e-4
    assert manifest["metrics"] == {}


@pytest.mark.parametrize("beam, n_best", [(1, 1), (3, 1), (4, 3)])
def test_runtime_translations_equal_rnnkits(gru_run, beam, n_best):
    run, _ = gru_run
    tr, model = translate.load(run), runtime.for_run(run, threads=1)
    search = translate.SearchConfig(beam=beam, n_best=n_best, batch_size=2)
    expected = translate.translate(tr, SENTENCES, search)
    got = model.translate(SENTENCES, beam=beam, n_best=n_best, batch_size=2)
    assert [[h.text for h in hs] for hs in got] == [[h.text for h in hs] for hs in expected]
    assert [[h.tokens for h in hs] for hs in got] == [[h.tokens for h in hs] for hs in expected]
    np.testing.assert_allclose([h.score for hs in got for h in hs], [h.score for hs in expected for h in hs],
                               atol=1e-4)


def test_runtime_defaults_and_attention_equal_rnnkits(gru_run):
    run, _ = gru_run
    tr, model = translate.load(run), runtime.for_run(run)
    assert [h[0].text for h in model.translate(SENTENCES)] == [h[0].text for h in translate.translate(tr, SENTENCES)]
    greedy = translate.SearchConfig(beam=1)
    expected = translate.translate(tr, SENTENCES[:2], greedy, attention=True)
    got = model.translate(SENTENCES[:2], beam=1, attention=True)
    for e, g in zip(expected, got):
        assert g[0].attention.shape == e[0].attention.shape
        np.testing.assert_allclose(g[0].attention, e[0].attention, atol=1e-5)


@pytest.mark.parametrize("bad, message", [(dict(sentences=["a", " "]), "input sentence 2 is empty"),
                                          (dict(sentences="a b"), "list of sentences"),
                                          (dict(sentences=["a"], beam=0), "beam"),
                                          (dict(sentences=["a"], beam=2, attention=True), "--beam 1")])
def test_bad_input_is_a_one_line_error(gru_run, bad, message):
    model = runtime.for_run(gru_run[0])
    with pytest.raises(RnnkitError, match=message) as e:
        model.translate(**bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("variant", [dict(cell="lstm", attention="bahdanau", layers=2, tokens="sentencepiece"),
                                     dict(cell="rnn", attention="none", bidirectional=False)])
def test_parity_and_beam_of_other_cells_and_attentions(tmp_path, variant):
    tokens = variant.pop("tokens", "word")
    run = _train(tmp_path, 3, tokens, **variant)
    manifest = export(run, tmp_path / "onnx", ExportConfig())
    assert manifest["parity"]["max_abs_diff"] <= 1e-4, manifest["parity"]
    tr, model = translate.load(run), runtime.load(tmp_path / "onnx")
    for beam in (1, 3):
        expected = translate.translate(tr, SENTENCES[:3], translate.SearchConfig(beam=beam, max_output=8))
        assert [h[0].text for h in model.translate(SENTENCES[:3], beam=beam, max_output=8)] == [h[0].text for h in expected]


def test_unpacked_encoder_equals_the_packed_one():
    torch.manual_seed(0)
    stack = RecurrentStack("lstm", 5, 6, layers=2, bidirectional=True).eval()
    x, lengths = torch.randn(3, 7, 5), torch.tensor([7, 2, 5])
    with torch.no_grad():
        packed, final = stack(x, lengths)
        out = unpacked(stack)(x, lengths)
    mask = (torch.arange(7)[None] < lengths[:, None])[..., None]
    torch.testing.assert_close(out * mask, packed)
    torch.testing.assert_close(padded_final(out, lengths, 2), stack.last_layer_final(final))


def _cli(capsys, *args) -> tuple[int, str, str]:
    """``rnnkit ARGS`` in this process: ``(exit status, stdout, stderr)``."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code or 0, out.out, out.err


def test_cli_backend_onnx_prints_torchs_translations(gru_run, tmp_path, capsys):
    run, _ = gru_run
    outputs = []
    for backend, extra in (("torch", []), ("onnx", ["--attention-plot", tmp_path / "a.png"])):
        code, out, err = _cli(capsys, "translate", run, *SENTENCES, "--beam", "3", "--n-best", "2", "--json",
                              "--backend", backend, *extra)
        assert code == 0, err
        outputs.append([[t["text"] for t in json.loads(line)["translations"]] for line in out.splitlines()])
    assert outputs[1] == outputs[0] and len(outputs[0]) == len(SENTENCES)
    assert (tmp_path / "a.png").stat().st_size > 0


def test_cli_backend_onnx_without_an_export_is_one_line(tmp_path, capsys):
    code, _, err = _cli(capsys, "translate", _train(tmp_path, 2), "a b", "--backend", "onnx")
    assert code == 2 and "rnnkit export" in err and len(err.strip().splitlines()) == 1


def test_translates_without_torch(gru_run, torch_free):
    run, _ = gru_run
    expected = [h[0].text for h in translate.translate(translate.load(run), SENTENCES[:2], translate.SearchConfig(beam=2))]
    out = torch_free("import json\nfrom rnnkit import runtime\n"
                     f"m = runtime.load({str(runtime.default_folder(run))!r})\n"
                     f"print(json.dumps([h[0].text for h in m.translate({SENTENCES[:2]!r}, beam=2)]))")
    assert json.loads(out) == expected


def test_parity_inputs_vary_lengths_and_batch_sizes(gru_run):
    model = translate.load(gru_run[0]).model
    shapes = {(s.shape, len(set(l.tolist()))) for s, l, _ in
              (translate_export.parity_inputs(model, b, n, t, 0) for b, n, t in translate_export.PARITY_CASES)}
    assert len({s[0] for s, _ in shapes}) >= 2 and len({s[1] for s, _ in shapes}) >= 2
