import json

import pytest

from rnnkit.core.errors import RnnkitError
from rnnkit.core.pieces import BOS, EOS, PAD, UNK, Vocabulary

TRAIN = [["b", "a", "c"], ["a", "b", "a"], ["d", "a"], ["b"]]  # a:4 b:3 c:1 d:1


def test_special_ids():
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    v = Vocabulary.build(TRAIN, min_freq=1)
    assert v.pieces[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]


def test_order_is_frequency_then_code_point():
    v = Vocabulary.build(TRAIN, min_freq=1)
    assert v.pieces[4:] == ["a", "b", "c", "d"]
    assert len(v) == 8
    # The input order of the sequences does not matter.
    assert Vocabulary.build(list(reversed(TRAIN)), min_freq=1).pieces == v.pieces


def test_min_freq_and_max_vocab():
    assert Vocabulary.build(TRAIN, min_freq=2).pieces[4:] == ["a", "b"]
    assert Vocabulary.build(TRAIN, min_freq=1, max_vocab=3).pieces[4:] == ["a", "b", "c"]
    assert Vocabulary.build(TRAIN, min_freq=5).pieces[4:] == []


def test_built_only_from_what_it_is_given():
    v = Vocabulary.build(iter(TRAIN), min_freq=1)  # a generator is read once
    assert "e" not in v.pieces
    assert v.encode(["e", "a"]) == [UNK, v.pieces.index("a"), EOS]


def test_piece_spelled_like_a_special_gets_no_second_id():
    v = Vocabulary.build([["<unk>", "<eos>", "x"]], min_freq=1)
    assert v.pieces == ["<pad>", "<unk>", "<bos>", "<eos>", "x"]


def test_encode_adds_bos_and_eos_on_request():
    v = Vocabulary.build(TRAIN, min_freq=1)
    a, b = v.pieces.index("a"), v.pieces.index("b")
    assert v.encode(["a", "b"]) == [a, b, EOS]
    assert v.encode(["a", "b"], add_bos=True, add_eos=False) == [BOS, a, b]


def test_decode_stops_at_eos_and_skips_pad_bos():
    v = Vocabulary.build(TRAIN, min_freq=1)
    a, b = v.pieces.index("a"), v.pieces.index("b")
    assert v.decode([BOS, a, PAD, UNK, b, EOS, a, a]) == ["a", "<unk>", "b"]
    assert v.decode(v.encode(["a", "zzz", "b"], add_bos=True)) == ["a", "<unk>", "b"]


def test_json_round_trip():
    v = Vocabulary.build(TRAIN, min_freq=1, max_vocab=3)
    again = Vocabulary.from_json(json.loads(json.dumps(v.to_json())))
    assert again == v
    assert again.encode(["c", "d"]) == v.encode(["c", "d"])


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"pieces": "abc"},
        {"pieces": ["a", "<unk>", "<bos>", "<eos>"]},
        {"pieces": ["<pad>", "<unk>", "<bos>", "<eos>", "x", "x"]},
        {"pieces": ["<pad>", "<unk>", "<bos>", "<eos>", 5]},
    ],
)
def test_malformed_json_is_a_one_line_error(data):
    with pytest.raises(RnnkitError) as e:
        Vocabulary.from_json(data)
    assert "\n" not in str(e.value)
