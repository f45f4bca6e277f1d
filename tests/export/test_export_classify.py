"""The sequence classifier's export: the packed stack run unpacked from the same weights (every pooling,
cell and direction), log-probabilities within 1e-4 of PyTorch's and the same top labels for text (word,
character and SentencePiece units) and numeric models (linear and convolutional front ends), an ensemble, the
CLI's ``--backend onnx``, bad input, and a run of the runtime where torch cannot be imported."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit import runtime
from rnnkit.classify import api
from rnnkit.classify.export import PaddedClassifier, quantized_cost, raw_inputs, torch_log_probabilities
from rnnkit.classify.model import ClassifierConfig, build
from rnnkit.classify.task import ClassifyConfig
from rnnkit.cli import main
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.export.exporter import export

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classify"))
from test_classify import text_file, ts_file  # noqa: E402  (the classify tests' data makers)

VARIANTS = {  # name -> (data kind, units options, model options); tiny models, a few steps
    "word-lstm-max": ("text", {"level": "word"}, {"cell": "lstm", "layers": 2, "members": 1}),
    "subword-gru-attention": ("text", {"level": "subword", "vocab_size": 30}, {"cell": "gru", "pooling": "attention",
                                                                              "members": 1}),
    "char-rnn-forward-last": ("text", {"level": "char"}, {"cell": "rnn", "pooling": "last", "bidirectional": False,
                                                          "members": 1}),
    "numeric-conv-gru-forward-mean": ("numeric", {}, {"cell": "gru", "front": "conv", "pooling": "mean",
                                                      "bidirectional": False, "members": 1}),
    "word-gru-ensemble": ("text", {"level": "word"}, {"cell": "gru", "members": 2}),
}


def train_variants(root: Path, variants: dict) -> dict[str, tuple[Path, dict]]:
    """Each of ``variants`` (name -> (data kind, units options, model options)) trained a few steps on made-up data
    and exported to RUN/onnx: ``name -> (run, manifest)``."""
    files = {"text": text_file(root / "ends.csv", 120, lambda a, b: "same" if a == b else "diff"),
             "numeric": ts_file(root / "ramps.ts", 90)}
    out = {}
    for name, (kind, units, model) in variants.items():
        cfg = from_dict(ClassifyConfig, {"data": {"data": str(files[kind])}, "units": {"min_freq": 1, **units},
                                         "model": {"hidden_size": 8, "embedding_size": 6, **model},
                                         "train": {"max_time": None, "steps": 3, "eval_every": 100}})
        api.train(cfg, root / name)
        out[name] = root / name, export(root / name, runtime.default_folder(root / name))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each variant trained a few steps and exported to RUN/onnx: ``name -> (run, classifier, exported, manifest)``."""
    out = {}
    for name, (run, manifest) in train_variants(tmp_path_factory.mktemp("classify-export"), VARIANTS).items():
        out[name] = (run, api.load(run), runtime.load(runtime.default_folder(run)), manifest)
    return out


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_unpacked_classifier_gives_the_packed_ones_logits_whatever_the_padding(pooling, bidirectional):
    for cell, text in (("lstm", True), ("gru", False), ("rnn", True)):
        torch.manual_seed(0)
        cfg = ClassifierConfig(cell=cell, hidden_size=5, layers=2, bidirectional=bidirectional, embedding_size=4,
                               pooling=pooling, front="conv" if not text else "linear", dropout=0.0, members=1)
        model = build(cfg, 3, vocab_size=20 if text else 0, channels=0 if text else 2).eval()
        lengths = torch.tensor([6, 2, 4, 1])
        x = torch.randint(1, 20, (4, 6)) if text else torch.randn(4, 6, 2)
        x = x * (torch.arange(6)[None] < lengths[:, None]).view(4, 6, *([1] * (x.dim() - 2)))  # zero padding
        with torch.no_grad():
            expected = model(x, lengths)
            got = PaddedClassifier(model)(x, lengths)
            alone = [PaddedClassifier(model)(x[i:i + 1, :n], lengths[i:i + 1]) for i, n in enumerate(lengths.tolist())]
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
        torch.testing.assert_close(torch.cat(alone), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_export_gives_pytorchs_probabilities_and_labels_at_several_lengths_and_batch_sizes(runs, name):
    run, clf, exported, manifest = runs[name]
    assert manifest["parity"]["max_abs_diff"] <= 1e-4 and len(manifest["parity"]["cases"]) >= 3
    for count, longest in ((1, 3), (9, 25), (30, 60)):
        inputs = raw_inputs(clf, count, longest, seed=50 + count)
        expected = torch_log_probabilities(clf, inputs)
        for size in (4, 256):  # other batches give the same numbers
            exported.batch_size = size
            np.testing.assert_allclose(exported.log_probabilities(inputs), expected, atol=1e-4, rtol=0)
        got, want = exported.predict(inputs, top_k=2), api.predict(clf, inputs, top_k=2)
        assert [[label for label, _ in row] for row in got] == [[label for label, _ in row] for row in want]
        np.testing.assert_allclose([[p for _, p in row] for row in got], [[p for _, p in row] for row in want],
                                   atol=1e-5)
    assert len(exported.predict(inputs)[0]) == clf.config.predict.top_k  # the run's default


def test_the_export_carries_the_units_labels_and_test_metrics(runs):
    run, clf, exported, manifest = runs["subword-gru-attention"]
    assert (runtime.default_folder(run) / "tokenizer.model").is_file()
    assert exported.encoder.vocab.pieces == clf.encoder.vocab.pieces and exported.labels == clf.labels
    assert exported.metrics["accuracy"] == pytest.approx(api.evaluate(clf, "test", run).accuracy)
    (want, p), (got, q) = api.predict(clf, [""])[0][0], exported.predict([""])[0][0]  # an empty text: one <unk>
    assert got == want and q == pytest.approx(p, abs=1e-5)
    cost = quantized_cost(clf, exported, exported, run)  # (the fp32 export twice: the scoring, not int8)
    ev = api.evaluate(clf, "val", run)
    assert cost["val_accuracy_fp32"] == cost["val_accuracy_int8"] == pytest.approx(ev.accuracy)
    assert cost["val_loss_fp32"] == pytest.approx(ev.loss, abs=1e-5) and cost["val_examples"] == ev.examples
    numeric = runs["numeric-conv-gru-forward-mean"][2]
    np.testing.assert_array_equal(numeric.encoder.mean, runs["numeric-conv-gru-forward-mean"][1].encoder.mean)


def _printed(capsys, argv):
    assert main(argv) == 0
    return capsys.readouterr().out


def test_rnnkit_predict_with_the_onnx_backend_prints_what_the_torch_backend_prints(runs, tmp_path, capsys):
    run = runs["word-lstm-max"][0]
    texts = ["a w1 w2 w3 b", "b w4 a", "zzz"]
    with open(tmp_path / "in.csv", "w", newline="") as f:
        csv.writer(f).writerows([["text"], *[[t] for t in texts]])
    args = [*texts, "--top-k", "2"]  # probabilities printed to 3 decimals
    assert _printed(capsys, ["predict", str(run), *args, "--backend", "onnx"]) == _printed(capsys, ["predict", str(run), *args])
    args = ["--input", str(tmp_path / "in.csv"), "--json"]  # full float32 probabilities: equal to 1e-6
    torch_rows, onnx_rows = ([json.loads(line) for line in _printed(capsys, ["predict", str(run), *args, *backend]).splitlines()]
                             for backend in ([], ["--backend", "onnx"]))
    assert [r["id"] for r in onnx_rows] == [r["id"] for r in torch_rows] and len(torch_rows) == 3
    for a, b in zip(onnx_rows, torch_rows):
        assert a["label"] == b["label"] and a["probability"] == pytest.approx(b["probability"], abs=1e-6)
    numeric = runs["numeric-conv-gru-forward-mean"][0]
    ts = ts_file(tmp_path / "new.ts", 6, seed=5)
    printed = _printed(capsys, ["predict", str(numeric), "--input", str(ts)])
    assert _printed(capsys, ["predict", str(numeric), "--input", str(ts), "--backend", "onnx"]) == printed


def test_bad_input_to_the_runtime_is_a_one_line_error(runs):
    text, numeric = runs["word-lstm-max"][2], runs["numeric-conv-gru-forward-mean"][2]
    cases = [(text, "a w1 b", None), (text, [3], None), (text, ["a"], -1), (numeric, [np.zeros((4, 3))], None),
             (numeric, [np.zeros(4)], None), (numeric, [["x", "y"]], None), (numeric, ["a w1"], None)]
    for model, inputs, k in cases:
        with pytest.raises(RnnkitError) as e:
            model.predict(inputs, top_k=k)
        assert "\n" not in str(e.value), inputs


def test_the_runtime_predicts_where_torch_cannot_be_imported(runs, torch_free):
    run, clf, _, _ = runs["subword-gru-attention"]
    texts = ["a w1 w2 b", "b w3 b"]
    printed = torch_free(f"from rnnkit import runtime\n"
                         f"m = runtime.load({str(runtime.default_folder(run))!r})\n"
                         f"print([label for label, _ in m.predict({texts!r})[0]])")
    assert printed.strip() == str([label for label, _ in api.predict(clf, texts)[0]])
