"""--encoder-from: a text classifier starts from a trained language model's weights."""

import pytest
import torch

from rnnkit.core import checkpoint
from rnnkit.core.errors import RnnkitError
from rnnkit.classify import api as classify
from rnnkit.classify.model import build
from rnnkit.nn.ensemble import members_of
from rnnkit.classify.task import ClassifyConfig
from rnnkit.classify.units import TextEncoder
from rnnkit.text import api as lm_api
from rnnkit.text.language_model import LMConfig

WORDS = "the movie was good and the plot was bad but the actors were great".split()


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    text = folder / "text.txt"
    text.write_text("\n".join(" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))) * 20, encoding="utf-8")
    cfg = LMConfig()
    cfg.data.data, cfg.data.level = str(text), "word"
    cfg.rnn.hidden_size, cfg.rnn.embedding_size, cfg.rnn.layers = 16, 8, 1
    cfg.train.steps, cfg.train.max_time, cfg.train.batch_size, cfg.train.seq_len = 3, None, 4, 8
    lm_api.train(cfg, folder / "run")
    return folder / "run"


def classifier_config(tmp_path, lm_run, **model) -> ClassifyConfig:
    data = tmp_path / "reviews.csv"
    rows = [f"{' '.join(WORDS[i % 5:i % 5 + 4])} {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}"
            for i in range(60)]
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    cfg = ClassifyConfig()
    cfg.data.data = str(data)
    cfg.model.hidden_size, cfg.model.embedding_size, cfg.model.encoder_from = 16, 8, str(lm_run)
    for k, v in model.items():
        setattr(cfg.model, k, v)
    cfg.train.steps, cfg.train.max_time = 1, None
    return cfg


@pytest.mark.parametrize("count", [1, 2])
def test_embedding_and_forward_layers_come_from_the_language_model(tmp_path, lm_run, count):
    cfg = classifier_config(tmp_path, lm_run, members=count)
    encoder = TextEncoder.fit(cfg.units, ["the movie was good", "the plot was good", "bad bad zzz", "zzz"], 0)
    model = build(cfg.model, 2, vocab_size=len(encoder.vocab))
    transferred = classify.start_encoder(model, encoder, str(lm_run))
    tensors, meta = checkpoint.load(lm_run / "best.safetensors")
    lm_tokens, pieces = meta["vocab"]["tokens"], encoder.vocab.pieces
    shared = [p for p in pieces[1:] if p in lm_tokens]
    assert transferred == len(shared) and {"good", "bad", "<unk>"} <= set(shared) and "zzz" in pieces
    assert len(members_of(model)) == count
    for m in members_of(model):  # every member of an ensemble starts from the language model
        for p in shared:
            assert torch.equal(m.front.weight[pieces.index(p)], tensors["model/embed.weight"][lm_tokens.index(p)])
        assert not m.front.weight[0].any()  # <pad> stays zero
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            assert torch.equal(getattr(m.stack.rnn, name), tensors[f"model/rnn.{name}"])
        assert not torch.equal(m.stack.rnn.weight_hh_l0_reverse, tensors["model/rnn.weight_hh_l0"])


def test_training_reports_the_transferred_units(tmp_path, lm_run):
    result = classify.train(classifier_config(tmp_path, lm_run), tmp_path / "run")
    assert result.transferred and result.transferred > 5


def test_sizes_that_differ_are_named(tmp_path, lm_run):
    with pytest.raises(RnnkitError, match="--hidden-size 16"):
        classify.train(classifier_config(tmp_path, lm_run, hidden_size=12), tmp_path / "run")


def test_character_units_against_a_word_model_are_refused(tmp_path, lm_run):
    cfg = classifier_config(tmp_path, lm_run)
    cfg.units.level = "char"
    with pytest.raises(RnnkitError, match="--level word"):
        classify.train(cfg, tmp_path / "run")
