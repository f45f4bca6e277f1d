"""The TF-IDF classifier mixed into a text classifier after training (``classify/reference.py``): its
numpy form against scikit-learn's, the weight chosen on validation, n-grams from training texts only,
what a run stores and loads, the export and the command line."""

import json

import numpy as np
import pytest

from rnnkit.classify import api, reference
from rnnkit.classify.reference import NgramLogistic
from rnnkit.core import checkpoint

from test_classify import config, split_of, text_file, ts_file

TEXTS = ["a fine film , fine acting", "dull , dull and long", "Fine !", "an awful film", "fine and long",
         "awful acting , dull", "the film was fine", "long and awful"]


@pytest.mark.parametrize("classes", [2, 3])
def test_the_numpy_reference_gives_scikit_learns_probabilities(classes):
    from rnnkit.classify.baseline import tfidf_logistic

    y = np.arange(len(TEXTS)) % classes
    ours = NgramLogistic.fit(TEXTS, y, classes)
    theirs = tfidf_logistic(TEXTS, y)
    new = ["fine film", "unseen words only", "", "a", "DULL, Dull and long and long"]  # no known n-gram in 3 of them
    np.testing.assert_allclose(ours.probabilities(new), theirs.predict_proba(new), rtol=0, atol=1e-12)
    again = NgramLogistic.from_arrays(ours.ngrams, ours.arrays())
    np.testing.assert_array_equal(again.probabilities(new), ours.probabilities(new))


def test_the_weight_is_the_one_of_lowest_validation_log_loss():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    right = np.eye(2)[y] * 0.9 + 0.05  # confident and right
    noise = rng.dirichlet([1, 1], 200)
    assert reference.fit_weight(noise, right, y) == 1.0
    assert reference.fit_weight(right, noise, y) == 0.0
    half = np.arange(200) < 100  # each knows one half and is unsure of the other: equal shares are best
    a, b = np.where(half[:, None], right, 0.5), np.where(half[:, None], 0.5, right)
    assert reference.fit_weight(a, b, y) == pytest.approx(0.5)
    assert reference.fit_weight(a, np.where(half[:, None], 0.5, 0.3 + 0.4 * np.eye(2)[y]), y) < 0.5


def test_select_error_takes_the_weight_of_fewest_errors_then_lowest_loss():
    """The RNN is right on every example but unsure; the reference is sure, and wrong on a tenth: up to 0.09 no
    answer changes (the most reference within that wins on loss), while the lowest loss lies far beyond."""
    y = np.zeros(100, dtype=int)
    unsure, sure = np.tile([0.55, 0.45], (100, 1)), np.tile([0.99, 0.01], (100, 1))
    sure[:10] = [0.01, 0.99]
    assert reference.fit_weight(unsure, sure, y, "error") == pytest.approx(0.09)
    assert reference.fit_weight(unsure, sure, y, "loss") > 0.5


def _keyword_run(tmp_path, mix_with="tfidf", **files):
    """The label is a keyword's (``good``/``bad``) among random words, which a bag of words reads at once and
    a tiny recurrent model after 20 steps hardly: the fitted weight is well above 0."""
    def extra(i):
        return [["good", "bad"][i % 2]]
    data = text_file(tmp_path / "d.csv", 120, lambda a, b: "x", extra=extra)
    rows = data.read_text().splitlines()
    data.write_text("\n".join([rows[0]] + [r[:-1] + ("pos" if " good " in r else "neg") for r in rows[1:]]) + "\n")
    cfg = config({"data": str(data), **files}, steps=20, eval_every=10)
    cfg.mix.mix_with = mix_with
    return api.train(cfg, tmp_path / "run"), tmp_path / "run"


def test_a_run_mixes_the_reference_in_and_loads_with_or_without_it(tmp_path):
    result, run = _keyword_run(tmp_path)
    assert result.mix and result.mix["weight"] > 0.2
    assert result.mix["val_loss_mixed"] <= min(result.mix["val_loss_rnn"], result.mix["val_loss_reference"])
    tensors, meta = checkpoint.load(run / "best.safetensors")
    assert meta["mix"]["weight"] == result.mix["weight"] and {"mix/idf", "mix/coef", "mix/intercept"} <= set(tensors)
    mixed, alone = api.load(run), api.load(run, mix=False)
    texts = ["w1 good w2 w3", "w4 bad", "nothing known here"]
    p_ref = mixed.mix.reference.probabilities(texts)
    expect = (1 - mixed.mix.weight) * api.probabilities(alone, texts) + mixed.mix.weight * p_ref
    np.testing.assert_allclose(api.probabilities(mixed, texts), expect, atol=1e-6)
    assert alone.mix is None and not np.allclose(api.probabilities(alone, texts), expect, atol=1e-3)


def test_the_references_ngrams_come_from_training_texts_only(tmp_path):
    """Each row holds its own word (``u<row>``): not one of a validation or test row's reaches the reference."""
    def extra(i):
        return [f"u{i}"]
    data = text_file(tmp_path / "d.csv", 60, lambda a, b: b, extra=extra)
    cfg = config(data, steps=20, eval_every=10)
    api.train(cfg, tmp_path / "run")
    meta = checkpoint.load(tmp_path / "run" / "best.safetensors")[1]
    words = {g for ngram in meta["mix"]["ngrams"] for g in ngram.split()}
    parts = split_of(tmp_path / "run")["parts"]
    own = {p: {f"u{i}" for i, q in enumerate(parts) if q == p} for p in ("train", "val", "test")}
    assert own["val"] and own["test"] and own["train"] <= words
    assert not words & (own["val"] | own["test"])


def test_no_mix_when_turned_off_or_for_numeric_series(tmp_path):
    result, run = _keyword_run(tmp_path, mix_with="none")
    assert result.mix is None and "mix" not in checkpoint.load(run / "best.safetensors")[1]
    numeric = api.train(config(ts_file(tmp_path / "s.ts", 30), steps=4, eval_every=2), tmp_path / "numeric")
    assert numeric.mix is None and api.load(tmp_path / "numeric").mix is None


def test_a_resumed_run_without_the_mix_drops_the_old_one(tmp_path):
    result, run = _keyword_run(tmp_path)
    assert result.mix
    cfg = api.load(run).config
    cfg.mix.mix_with, cfg.train.steps = "none", 30
    api.train(cfg, run, resume=True)
    tensors, meta = checkpoint.load(run / "best.safetensors")
    assert "mix" not in meta and not any(k.startswith("mix/") for k in tensors)


def test_the_export_applies_the_mix_as_pytorch_does(tmp_path):
    from rnnkit import runtime
    from rnnkit.export.exporter import export

    _, run = _keyword_run(tmp_path)
    export(run, tmp_path / "onnx")
    exported = runtime.load(tmp_path / "onnx")
    assert exported.mix is not None and exported.mix.weight == api.load(run).mix.weight
    texts = ["w1 good w2 w3", "w4 bad w5", "nothing known", "good"]
    np.testing.assert_allclose(exported.probabilities(texts), api.probabilities(api.load(run), texts), atol=1e-5)
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    assert "ngrams" not in manifest["data"]["mix"]


def test_texts_without_a_word_of_two_letters_train_without_a_mix_and_say_why(tmp_path):
    """scikit-learn's TF-IDF reads words of two or more letters; texts of single letters have none."""
    rows = ["text,label"] + [f"{'a b c' if i % 2 else 'c b a'} {i % 7},{i % 2}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    result = api.train(config(tmp_path / "d.csv", steps=4, eval_every=2), tmp_path / "run")
    assert result.mix is None and "no word of two or more" in result.mix_note
    assert api.load(tmp_path / "run").mix is None
