"""Raw text into sentences and UD English / Penn Treebank tokens."""

import pytest

from rnnkit.tag.tokenize import split


@pytest.mark.parametrize("text, tokens", [
    ("I don't know.", ["I", "do", "n't", "know", "."]),
    ("can't won't ISN'T", ["ca", "n't", "wo", "n't", "IS", "N'T"]),
    ("I'm sure it's fine", ["I", "'m", "sure", "it", "'s", "fine"]),
    ("we'll they've I'd you're", ["we", "'ll", "they", "'ve", "I", "'d", "you", "'re"]),
    ("it’s don’t", ["it", "’s", "do", "n’t"]),
    ("O'Neil's car", ["O'Neil", "'s", "car"]),
    ("3.5 km, 1,000 steps at 10:30 on 12/25", ["3.5", "km", ",", "1,000", "steps", "at", "10:30", "on", "12/25"]),
    ("see https://x.org/a?b=1, or www.y.com", ["see", "https://x.org/a?b=1", ",", "or", "www.y.com"]),
    ("mail john.doe+x@example.co.uk now", ["mail", "john.doe+x@example.co.uk", "now"]),
    ("@bob loves #NewYork!", ["@bob", "loves", "#NewYork", "!"]),
    ("a state-of-the-art mother-in-law's car", ["a", "state-of-the-art", "mother-in-law", "'s", "car"]),
    ('"Hi," (she said) -- wait', ['"', "Hi", ",", '"', "(", "she", "said", ")", "--", "wait"]),
    ("Dr. J. Smith, e.g. here", ["Dr.", "J.", "Smith", ",", "e.g.", "here"]),
    ("'quoted' text", ["'", "quoted", "'", "text"]),
])
def test_tokens(text, tokens):
    assert [t for sentence in split(text) for t in sentence] == tokens


@pytest.mark.parametrize("text, sentences", [
    ("It rains. We stay! Why? Fine", [["It", "rains", "."], ["We", "stay", "!"], ["Why", "?"], ["Fine"]]),
    ("Really?! Wait... ok.", [["Really", "?!"], ["Wait", "..."], ["ok", "."]]),
    ("Mr. Smith met Dr. Jones. Then etc. and i.e. too.",
     [["Mr.", "Smith", "met", "Dr.", "Jones", "."], ["Then", "etc.", "and", "i.e.", "too", "."]]),
    ("The U.S. Army and J. R. Tolkien left. Bye", [["The", "U.S.", "Army", "and", "J.", "R.", "Tolkien", "left", "."],
                                                ["Bye"]]),
    ('He said "Stop." She (too.) left', [["He", "said", '"', "Stop", ".", '"'], ["She", "(", "too", ".", ")"],
                                         ["left"]]),
    ("Pi is 3.14. See x.com/a.b now", [["Pi", "is", "3.14", "."], ["See", "x", ".", "com", "/", "a", ".", "b", "now"]]),
    ("No space.after a period", [["No", "space", ".", "after", "a", "period"]]),
    ("Line one.\nLine two.", [["Line", "one", "."], ["Line", "two", "."]]),
])
def test_sentences(text, sentences):
    assert split(text) == sentences


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_blank_text_has_no_sentences(text):
    assert split(text) == []
