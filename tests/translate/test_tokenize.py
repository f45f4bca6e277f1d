import json
import random

import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.core.tokenize import (
    CharTokenizer,
    TokenizerConfig,
    WordTokenizer,
    tokenizer_from_state,
    tokenizer_state,
    train_tokenizer,
)

TRICKY = [
    "¿Dónde está la biblioteca?",
    "¡Hola! ¿Qué tal?",
    'He said "hi".',
    '"¡Hola!", dijo ella.',
    "Don't you know? I can't — won't.",
    "Rock'n'roll isn’t dead.",
    "It costs 3.5 euros, or 1,000 pesos.",
    "Wait?! Really?!",
    "Well... maybe.",
    "...and then",
    "a,b",
    "x",
    "(entre paréntesis) y [corchetes]",
    "«Comillas» españolas, 'simples' y “curvas”.",
    "La niña comió 10%.",
    "e-mail: ana@example.com",
    "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_word_round_trip(text):
    tok = WordTokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_word_collapses_other_whitespace():
    tok = WordTokenizer()
    assert tok.decode(tok.encode("  Hola,\t mundo \n")) == "Hola, mundo"


def test_word_joiners_on_punctuation_only():
    tok = WordTokenizer()
    assert tok.encode("¿Dónde está?") == ["¿￭", "Dónde", "está", "￭?"]
    assert tok.encode('He said "hi".') == ["He", "said", '"￭', "hi", '￭"', "￭."]
    assert tok.encode("a,b") == ["a", "￭,￭", "b"]
    assert tok.encode("don't") == ["don't"]
    assert tok.encode("I don’t know.")[1] == "don’t"


def test_word_decode_spaces_unjoined_pieces():
    assert WordTokenizer().decode(["hola", "<unk>", "amigo", "￭!"]) == "hola <unk> amigo!"


@pytest.mark.parametrize("text", TRICKY)
def test_char_round_trip(text):
    tok = CharTokenizer()
    pieces = tok.encode(text)
    assert len(pieces) == len(text)
    assert tok.decode(pieces) == text


def spanish_sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = "el la gato perro niña niño come bebe agua casa grande pequeño dónde está qué muy bien".split()
    out = []
    for _ in range(n):
        s = " ".join(rng.choice(words) for _ in range(rng.randint(2, 7)))
        out.append(rng.choice(["¿", "", ""]) + s.capitalize() + rng.choice([".", "?", "!", ", sí."]))
    return out


SP_CFG = TokenizerConfig(tokens="sentencepiece", vocab_size=60)


def test_sentencepiece_round_trip_and_subwords():
    sents = spanish_sentences(200)
    tok = train_tokenizer(SP_CFG, sents)
    assert tok.kind == "sentencepiece"
    for s in sents[:50] + ["¿Dónde está el gato grande?", "niña  come\tagua."]:
        assert tok.decode(tok.encode(s)) == " ".join(s.split())
    assert any(len(p) > 1 for s in sents for p in tok.encode(s))  # it learned more than characters


def test_sentencepiece_small_corpus_with_large_vocab_size_trains():
    tok = train_tokenizer(TokenizerConfig(tokens="sentencepiece", vocab_size=8000), ["el gato come"] * 5)
    assert tok.decode(tok.encode("el gato come")) == "el gato come"


def test_sentencepiece_is_deterministic():
    sents = spanish_sentences(200)
    a = tokenizer_state(train_tokenizer(SP_CFG, sents))[1]
    b = tokenizer_state(train_tokenizer(SP_CFG, list(sents)))[1]
    assert a and a == b


def test_sentencepiece_vocab_too_small_names_the_flag():
    with pytest.raises(RnnkitError, match=r"^--vocab-size:"):
        train_tokenizer(TokenizerConfig(tokens="sentencepiece", vocab_size=3), spanish_sentences(20))


@pytest.mark.parametrize("cfg", [TokenizerConfig(tokens="word"), TokenizerConfig(tokens="char"), SP_CFG])
def test_state_round_trip(cfg):
    sents = spanish_sentences(200)
    tok = train_tokenizer(cfg, sents)
    info, blob = tokenizer_state(tok)
    info = json.loads(json.dumps(info))
    assert info["kind"] == cfg.tokens
    assert (blob != b"") == (cfg.tokens == "sentencepiece")
    again = tokenizer_from_state(info, blob)
    assert again.kind == tok.kind
    for s in sents[:20]:
        assert again.encode(s) == tok.encode(s)


def test_unknown_kind_or_damaged_model_is_a_one_line_error():
    with pytest.raises(RnnkitError, match="unknown tokenizer kind 'bpe'") as e:
        tokenizer_from_state({"kind": "bpe"}, b"")
    assert "\n" not in str(e.value)
    with pytest.raises(RnnkitError, match="damaged"):
        tokenizer_from_state({"kind": "sentencepiece"}, b"not a model")


@pytest.mark.parametrize(
    "kwargs, flag",
    [
        ({"tokens": "bpe"}, "--tokens:"),
        ({"vocab_size": 0}, "--vocab-size:"),
        ({"min_freq": 0}, "--min-freq:"),
        ({"max_vocab": -1}, "--max-vocab:"),
    ],
)
def test_config_validation_names_the_flag(kwargs, flag):
    with pytest.raises(RnnkitError) as e:
        TokenizerConfig(**kwargs)
    assert str(e.value).startswith(flag)


def test_config_defaults_are_valid():
    cfg = TokenizerConfig()
    assert (cfg.tokens, cfg.vocab_size, cfg.min_freq, cfg.max_vocab) == ("sentencepiece", 2000, 2, 0)
