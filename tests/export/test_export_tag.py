"""The tagger's export: emissions within 1e-4 of PyTorch's and the same tags (softmax and CRF with a
tag scheme's forbidden transitions; LSTM, CNN and no character encoder; LSTM, GRU and tanh-RNN stacks,
bi- and unidirectional) at several lengths and batch sizes, numpy Viterbi against the CRF's, the CLI's
``--backend onnx``, bad input, and a run of the runtime where torch cannot be imported."""

import json
import shutil

import numpy as np
import pytest
import torch

from rnnkit import runtime
from rnnkit.cli import main
from rnnkit.core.config import from_dict
from rnnkit.core.errors import RnnkitError
from rnnkit.export.exporter import export
from rnnkit.nn.recurrent import PaddedStack, exportable
from rnnkit.tag import api, metrics
from rnnkit.tag.crf import CRF
from rnnkit.tag.export import quantized_cost, sentences, torch_emissions
from rnnkit.tag.runtime import viterbi
from rnnkit.tag.task import TagConfig

PEOPLE, PLACES, OTHER = ["Ann", "Bob", "Eve"], ["Oslo", "Rome", "New"], ["met", "in", "the", "and", "saw", "."]
VARIANTS = {  # name -> model options (tiny; a few steps: parity needs no trained model)
    "lstm-chars-crf": {"cell": "lstm", "char_encoder": "lstm", "decoder": "crf", "layers": 2},
    "gru-cnn-softmax-forward": {"cell": "gru", "char_encoder": "cnn", "decoder": "softmax", "bidirectional": False},
    "rnn-words-crf": {"cell": "rnn", "char_encoder": "none", "decoder": "crf"},
}


def entity_sentences(n, seed=0):
    """IOB2-tagged sentences of people and places (``New`` begins a two-token place: ``New York``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.integers(3, 10)):
            kind = rng.integers(3)
            word = str(rng.choice([PEOPLE, PLACES, OTHER][kind]))
            tokens.append(word)
            tags.append(["B-PER", "B-LOC", "O"][kind])
            if word == "New":
                tokens.append("York")
                tags.append("I-LOC")
        out.append((tokens, tags))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each variant trained a few steps and exported to RUN/onnx: ``name -> (run, tagger, exported, manifest)``."""
    root = tmp_path_factory.mktemp("tag-export")
    data = root / "ner.conll"
    data.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(*s)) for s in entity_sentences(90)) + "\n")
    out = {}
    for name, model in VARIANTS.items():
        cfg = from_dict(TagConfig, {"data": {"data": str(data)}, "model": {
            "word_size": 8, "hidden_size": 8, "char_size": 6, "char_hidden": 5, "dropout": 0.0, **model},
            "train": {"steps": 4, "max_time": None, "eval_every": 4, "lr": 1e-2}})
        run = root / name
        api.train(cfg, run)
        manifest = export(run, runtime.default_folder(run))
        out[name] = (run, api.load(run), runtime.load(runtime.default_folder(run)), manifest)
    return out


@pytest.mark.parametrize("name", VARIANTS)
def test_the_export_gives_pytorchs_emissions_and_tags_at_several_lengths_and_batch_sizes(runs, name):
    run, tagger, exported, manifest = runs[name]
    assert manifest["parity"]["max_abs_diff"] <= 1e-4 and len(manifest["parity"]["cases"]) >= 3
    for count, length in ((1, 4), (6, 13), (40, 30)):
        batch = sentences(tagger, count, length, seed=100 + count)
        for ours, theirs in zip(exported.emissions(batch), torch_emissions(tagger, batch)):
            np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
        for size in (1, 7):  # batches of other compositions give the same tags
            assert exported.tag(batch, batch_size=size) == api.tag(tagger, batch)
    text = "Ann met Bob in New York. Eve saw the Oslo and Rome!"
    assert exported.tag_text(text) == api.tag_text(tagger, text)


def test_the_export_records_the_scheme_crf_scores_and_test_metrics(runs):
    run, tagger, exported, manifest = runs["lstm-chars-crf"]
    assert exported.scheme == "iob2" and exported.tags == tagger.tags
    start, trans, _ = exported.crf
    i_loc, b_per = tagger.tags.index("I-LOC"), tagger.tags.index("B-PER")
    assert start[i_loc] < -5000 and trans[b_per, i_loc] < -5000  # I-LOC may neither begin nor follow B-PER
    assert exported.metrics["accuracy"] == pytest.approx(api.evaluate(tagger, "test", run)["accuracy"])
    assert runs["gru-cnn-softmax-forward"][2].crf is None
    cost = quantized_cost(tagger, exported, exported, run)  # (the fp32 export twice: the scoring, not int8)
    gold = [s.tags for s in api.split_sentences(tagger, "val", run)]
    pred = api.tag(tagger, [s.tokens for s in api.split_sentences(tagger, "val", run)])
    assert cost["val_accuracy_int8"] == cost["val_accuracy_fp32"] == metrics.accuracy(gold, pred)[0]
    assert cost["val_span_f1_fp32"] == metrics.spans(gold, pred)["f1"]


def test_numpy_viterbi_equals_the_crf_decoder_with_forbidden_transitions():
    torch.manual_seed(0)
    T = 5
    allowed = (np.array([1, 1, 0, 1, 0], bool), np.random.default_rng(0).random((T, T)) > 0.3,
               np.array([1, 0, 1, 1, 1], bool))
    crf = CRF(T, allowed)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_(0, 3)
    emissions, lengths = torch.randn(40, 9, T), torch.randint(1, 10, (40,))
    mask = torch.arange(9)[None] < lengths[:, None]
    expected = crf.decode(emissions, mask).numpy()
    start, trans, end = (s.detach().numpy() for s in crf.scores())
    assert (viterbi(emissions.numpy(), lengths.numpy(), start, trans, end) == expected).all()


@pytest.mark.parametrize("bidirectional", [True, False])
def test_a_tanh_rnn_stack_becomes_gru_layers_with_the_same_outputs(bidirectional):
    """The exporter unrolls ``nn.RNN`` over the traced length; its GRU twin (gates pinned) keeps time free."""
    torch.manual_seed(1)
    stack = PaddedStack("rnn", 4, 6, layers=2, bidirectional=bidirectional).eval()
    twin = exportable(stack)
    assert all(isinstance(m, torch.nn.GRU) for m in twin.forward_layers)
    x, lengths = torch.randn(3, 8, 4), torch.tensor([8, 3, 5])
    with torch.no_grad():
        a, b = stack(x, lengths), twin(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(a[i, :n], b[i, :n], atol=1e-6, rtol=0)
    lstm = PaddedStack("lstm", 4, 6)
    assert exportable(lstm) is lstm  # nothing to change


def test_rnnkit_tag_with_the_onnx_backend_prints_what_the_torch_backend_prints(runs, capsys):
    run = runs["lstm-chars-crf"][0]
    for extra in ([], ["--json"]):
        main(["tag", str(run), "Ann met Bob in New York.", "Eve saw Rome.", *extra])
        torch_out = capsys.readouterr().out
        main(["tag", str(run), "Ann met Bob in New York.", "Eve saw Rome.", "--backend", "onnx", *extra])
        assert capsys.readouterr().out == torch_out and torch_out
    assert "spans" in json.loads(torch_out.splitlines()[0])


def test_the_onnx_backend_without_an_export_and_bad_runtime_input_are_one_line_errors(runs, tmp_path, capsys):
    run, _, exported, _ = runs["gru-cnn-softmax-forward"]
    bare = tmp_path / "bare"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("onnx"))
    assert main(["tag", str(bare), "Ann met Bob.", "--backend", "onnx"]) == 2
    assert f"no export at {bare / 'onnx'}; run rnnkit export {bare} first" in capsys.readouterr().err
    for bad in ([[]], [["Ann", ""]], "Ann met Bob", [["Ann", 3]]):
        with pytest.raises(RnnkitError) as e:
            exported.tag(bad)
        assert "\n" not in str(e.value)
    for bad in ("", "   ", 3):
        with pytest.raises(RnnkitError):
            exported.tag_text(bad)


def test_the_runtime_tags_where_torch_cannot_be_imported(runs, torch_free):
    run, tagger, _, _ = runs["lstm-chars-crf"]
    sentence = ["Ann", "met", "Bob", "in", "New", "York", "."]
    printed = torch_free(f"from rnnkit import runtime\n"
                         f"print(runtime.load({str(runtime.default_folder(run))!r}).tag([{sentence!r}])[0])")
    assert printed.strip() == str(api.tag(tagger, [sentence])[0])
