"""Translation end to end through the Python API: learning a toy task exactly, a leak-free
split and vocabulary, exact resuming, checkpoints that stand alone, evaluation and plots."""

import json
import random
from pathlib import Path

import pytest
import torch

from rnnkit import translate
from rnnkit.core import checkpoint
from rnnkit.core.errors import RnnkitError
from rnnkit.translate.pairs import group_key, read_split
from rnnkit.translate.search import length_caps
from rnnkit.core.pieces import SPECIALS

LETTERS = "abcdefghij"


def reverse_file(path: Path, lines: int, seed: int = 0) -> Path:
    """``a c f<TAB>f c a``: 3 to 7 distinct letters, and the same letters reversed."""
    rng = random.Random(seed)
    rows = []
    for _ in range(lines):
        s = rng.sample(LETTERS, rng.randint(3, 7))
        rows.append(" ".join(s) + "\t" + " ".join(reversed(s)))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def tiny_config(data: Path, **train) -> translate.TranslateConfig:
    cfg = translate.TranslateConfig()
    cfg.data.data = str(data)
    cfg.tokenizer.tokens, cfg.tokenizer.min_freq = "word", 1
    cfg.model.hidden_size, cfg.model.embedding_size, cfg.model.dropout = 16, 8, 0.0
    cfg.train.batch_size, cfg.train.steps, cfg.train.eval_every = 16, 2, 10
    cfg.train.device, cfg.train.precision = "cpu", "fp32"
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def train_losses(run: Path) -> list[tuple[int, float]]:
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["kind"] == "train"]


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory) -> Path:
    """The reverse task learned by a luong-attention GRU; the data file is deleted afterwards."""
    d = tmp_path_factory.mktemp("reverse")
    data = reverse_file(d / "reverse.tsv", 600)
    cfg = tiny_config(data, batch_size=32, lr=1e-2, steps=400, eval_every=200, log_every=50)
    cfg.model.hidden_size, cfg.model.embedding_size, cfg.model.attention = 64, 32, "luong"
    translate.train(cfg, d / "run")
    data.unlink()
    return d / "run"


# -- learning ----------------------------------------------------------------------------------
def test_reverse_task_is_learned_exactly(reverse_run):
    tr = translate.load(reverse_run)
    test = read_split(reverse_run, "test")
    assert len(test) >= 50
    out = translate.translate(tr, [p.source for p in test], translate.SearchConfig(beam=1))
    wrong = [(p.source, o[0].text) for p, o in zip(test, out) if o[0].text != p.target]
    assert wrong == []
    m = translate.evaluate(tr, "test", reverse_run, translate.SearchConfig(beam=1))
    assert m.bleu == pytest.approx(100) and m.chrf == pytest.approx(100)
    assert m.sentences == len({p.source for p in test}) and m.beam == 1
    assert 0.99 < m.accuracy <= 1


def test_beam_search_keeps_the_exact_translations(reverse_run):
    """With the run's default search (beam 5, length penalty 1) the learned task stays exact."""
    tr = translate.load(reverse_run)
    assert tr.config.search.beam == 5
    test = read_split(reverse_run, "test")
    out = translate.translate(tr, [p.source for p in test])
    wrong = [(p.source, o[0].text, round(o[0].score, 3)) for p, o in zip(test, out) if o[0].text != p.target]
    assert wrong == []
    assert translate.evaluate(tr, "test", reverse_run).bleu == pytest.approx(100)


def test_evaluation_json_has_exactly_the_documented_keys(reverse_run):
    tr = translate.load(reverse_run)
    js = translate.evaluate(tr, "val", reverse_run, translate.SearchConfig(beam=2)).to_json()
    assert set(js) == {"bleu", "chrf", "loss", "accuracy", "sentences", "signature", "beam"}
    assert js["beam"] == 2 and set(js["signature"]) == {"bleu", "chrf"}
    json.dumps(js)  # JSON-serializable as it is
    with pytest.raises(RnnkitError, match="unknown split"):
        translate.evaluate(tr, "dev", reverse_run)


# -- checkpoints stand alone -------------------------------------------------------------------
def test_checkpoint_translates_without_the_data_file(reverse_run):
    assert not Path(json.loads((reverse_run / "split.json").read_text())["data"]["path"]).exists()
    for which in ("best", "last"):
        tr = translate.load(reverse_run, which=which)
        assert tr.source.name == f"{which}.safetensors"
        assert translate.translate(tr, ["a b c d"], translate.SearchConfig(beam=1))[0][0].text == "d c b a"
    tr = translate.load(reverse_run, which="last")
    unknown = translate.translate(tr, ["a zebra b", "xyz"])  # words never seen in training
    assert all(u and isinstance(u[0].text, str) for u in unknown)
    assert tr.codec.encode("source", "a zebra b").tolist()[1] == SPECIALS.index("<unk>")
    long = " ".join(random.Random(1).choice(LETTERS) for _ in range(120))
    for search in (translate.SearchConfig(beam=1), translate.SearchConfig(beam=3, n_best=3),
                   translate.SearchConfig(beam=1, max_output=15)):
        cap = int(length_caps(torch.tensor([120 + 1]), search.max_ratio, 10, search.max_output)[0])
        hyps = translate.translate(tr, [long], search)[0]
        assert len(hyps) == search.n_best
        assert all(0 < len(h.tokens) <= cap for h in hyps)


def test_plot_attention_writes_a_png(reverse_run, tmp_path):
    tr = translate.load(reverse_run)
    result = translate.plot_attention(tr, "a b c", tmp_path / "att.png")
    assert (tmp_path / "att.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.text == "c b a"
    assert result.attention.shape == (4, 4)  # 3 words + EOS translated, 3 words + EOS read
    # reversing: each output word attends most to its source position
    assert result.attention[:3, :3].argmax(1).tolist() == [2, 1, 0]


def test_plot_attention_refuses_a_model_without_attention(tmp_path):
    data = reverse_file(tmp_path / "rev.tsv", 60)
    cfg = tiny_config(data)
    cfg.model.attention = "none"
    translate.train(cfg, tmp_path / "run")
    tr = translate.load(tmp_path / "run")
    with pytest.raises(RnnkitError, match="attention none"):
        translate.plot_attention(tr, "a b", tmp_path / "att.png")
    assert not (tmp_path / "att.png").exists()


# -- no leakage ----------------------------------------------------------------------------------
def test_split_keeps_each_source_group_in_one_split(tmp_path):
    """Sources repeat with different targets, casing and spacing; a group never straddles splits."""
    rng = random.Random(3)
    words = ["cat", "dog", "bird", "fish", "tree", "house", "road", "river", "hill", "sun"]
    rows = []
    for i in range(80):
        base = " ".join(rng.sample(words, 3)) + f" n{i}"
        for k in range(rng.randint(1, 4)):
            variant = [base, base.upper(), base.title(), "  ".join(base.split()) + " "][k]
            rows.append(f"{variant}\ttarget {i} {k}")
    rng.shuffle(rows)
    (tmp_path / "rep.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    translate.train(tiny_config(tmp_path / "rep.tsv", steps=1), tmp_path / "run")
    splits = {name: read_split(tmp_path / "run", name) for name in ("train", "val", "test")}
    assert sum(len(s) for s in splits.values()) == len(rows)
    keys = {name: {group_key(p.source) for p in s} for name, s in splits.items()}
    assert all(keys.values())
    assert not keys["train"] & keys["val"]
    assert not keys["train"] & keys["test"]
    assert not keys["val"] & keys["test"]
    # the variants really differ as strings: only the grouping keeps them together
    assert len({p.source for p in splits["train"]}) > len(keys["train"])


@pytest.mark.parametrize("tokens", ["word", "sentencepiece"])
def test_tokenizer_and_vocabulary_see_only_the_training_split(tmp_path, tokens):
    """Each line has a word of its own on each side, spelled with a (CJK) character of its own."""
    rng = random.Random(4)
    words = ["cat", "dog", "bird", "fish", "tree", "house"]
    rows = []
    for i in range(150):
        src = " ".join(rng.sample(words, 3) + [chr(0x4E00 + i) * 2])
        tgt = " ".join(rng.sample(words, 2) + [chr(0x3400 + i) * 2])
        rows.append(f"{src}\t{tgt}")
    (tmp_path / "uniq.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = tiny_config(tmp_path / "uniq.tsv", steps=1)
    cfg.tokenizer.tokens, cfg.tokenizer.vocab_size = tokens, 300
    translate.train(cfg, tmp_path / "run")
    codec = translate.load(tmp_path / "run").codec
    train = read_split(tmp_path / "run", "train")
    held_out = read_split(tmp_path / "run", "val") + read_split(tmp_path / "run", "test")
    for side, vocab in (("source", codec.source_vocab), ("target", codec.target_vocab)):
        seen = {piece for p in train for piece in codec.pieces(side, getattr(p, side))}
        kept = set(vocab.pieces) - set(SPECIALS)
        assert kept and kept <= seen
        train_chars = {c for p in train for c in getattr(p, side)}
        unseen_chars = {c for p in held_out for c in getattr(p, side)} - train_chars
        assert len(unseen_chars) == len(held_out)  # one character of its own per held-out line
        assert not any(c in piece for piece in vocab.pieces for c in unseen_chars)
        if tokens == "word":
            unseen_words = {w for p in held_out for w in getattr(p, side).split()} - seen
            assert unseen_words and not unseen_words & set(vocab.pieces)
        else:  # the SentencePiece model itself learned nothing from held-out text
            sp = (codec.source_tokenizer if side == "source" else codec.target_tokenizer).processor
            pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
            assert not any(c in piece for piece in pieces for c in unseen_chars)


# -- exact resuming ------------------------------------------------------------------------------
@pytest.mark.parametrize("teacher_forcing,schedule", [(1.0, "constant"), (0.5, "linear")])
def test_resumed_run_matches_uninterrupted_run(tmp_path, teacher_forcing, schedule):
    data = reverse_file(tmp_path / "rev.tsv", 200)
    cfg = tiny_config(data, steps=30, eval_every=10, log_every=2, teacher_forcing=teacher_forcing,
                      teacher_forcing_schedule=schedule, teacher_forcing_end=0.1)
    cfg.model.dropout = 0.2  # the RNG state must be restored too
    translate.train(cfg, tmp_path / "full")
    translate.train(cfg, tmp_path / "cut", stop_after=17)  # "killed" at step 17, last checkpoint at 10
    assert [s for s, _ in train_losses(tmp_path / "cut")] == list(range(2, 17, 2))
    res = translate.train(cfg, tmp_path / "cut", resume=True)
    assert res.steps == 30
    full = train_losses(tmp_path / "full")
    assert [s for s, _ in full] == list(range(2, 31, 2))
    assert train_losses(tmp_path / "cut") == full
    a = checkpoint.load(tmp_path / "full" / "last.safetensors")[0]
    b = checkpoint.load(tmp_path / "cut" / "last.safetensors")[0]
    model_keys = sorted(k for k in a if k.startswith("model/"))
    assert model_keys and model_keys == sorted(k for k in b if k.startswith("model/"))
    for k in model_keys:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    # and the run really trains differently with another seed (the comparison can fail)
    cfg.train.seed = 1
    translate.train(cfg, tmp_path / "other")
    assert train_losses(tmp_path / "other") != full


def test_data_fraction_keeps_a_seeded_share_of_the_training_pairs_only(tmp_path):
    data = reverse_file(tmp_path / "rev.tsv", 200)
    runs = {f: tmp_path / f"run{f}" for f in (1.0, 0.25)}
    for f, run in runs.items():
        translate.train(tiny_config(data, steps=1, data_fraction=f), run)
    whole, part = ({name: read_split(runs[f], name) for name in ("train", "val", "test")} for f in (1.0, 0.25))
    assert part["val"] == whole["val"] and part["test"] == whole["test"]
    assert len(part["train"]) == round(len(whole["train"]) / 4)
    assert set(p.line for p in part["train"]) < set(p.line for p in whole["train"])
    assert json.loads((runs[0.25] / "split.json").read_text())["data_fraction"] == {
        "fraction": 0.25, "whole_train_pairs": len(whole["train"])}


# -- the split's own seed ------------------------------------------------------------------------
def _split_of(run: Path) -> dict:
    return {name: read_split(run, name) for name in ("train", "val", "test")}


def test_split_seed_fixes_the_split_while_the_seed_varies_the_training(tmp_path):
    data = reverse_file(tmp_path / "rev.tsv", 200)
    for name, seed, split_seed in (("a", 0, 7), ("b", 1, 7), ("c", 0, 8)):
        cfg = tiny_config(data, steps=1, seed=seed)
        cfg.data.split_seed = split_seed
        translate.train(cfg, tmp_path / name)
    a, b, c = (_split_of(tmp_path / name) for name in "abc")
    assert a == b  # another --seed, the same --split-seed: the same pairs in every part
    assert a["val"] != c["val"] and a["test"] != c["test"]  # another --split-seed: another split
    assert [json.loads((tmp_path / n / "split.json").read_text())["seed"] for n in "abc"] == [7, 7, 8]
    weights = [translate.load(tmp_path / n).model.state_dict() for n in "ab"]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # --seed still seeds the model


def test_a_config_saved_before_split_seed_loads_and_reproduces_its_split(tmp_path):
    """A run saved before ``--split-seed`` existed has no such field; it was split by ``--seed``."""
    import dataclasses

    from rnnkit.core.config import from_dict
    from rnnkit.tasks import TASKS, resume_config
    from rnnkit.translate.pairs import PairsConfig, read_pairs, split_pairs

    data = reverse_file(tmp_path / "rev.tsv", 200)
    saved = dataclasses.asdict(tiny_config(data, steps=1, seed=3))
    del saved["data"]["split_seed"]
    translate.train(from_dict(translate.TranslateConfig, saved), tmp_path / "run")
    every = read_pairs(PairsConfig(data=str(data)))
    assert _split_of(tmp_path / "run") == split_pairs(every, 0.1, 0.1, seed=3)  # the old code's call: --seed
    assert _split_of(tmp_path / "run") != split_pairs(every, 0.1, 0.1, seed=0)  # (the seed matters)
    # its config.json without the field resumes
    config_file = tmp_path / "run" / "config.json"
    old = json.loads(config_file.read_text())
    del old["data"]["split_seed"]
    config_file.write_text(json.dumps(old))
    assert resume_config(TASKS["translate"], tmp_path / "run", {"train": {"steps": 2}}).data.split_seed is None
    assert translate.train(resume_config(TASKS["translate"], tmp_path / "run", {"train": {"steps": 2}}),
                           tmp_path / "run", resume=True).steps == 2
