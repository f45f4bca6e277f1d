"""Raw text split into sentences of tokens, for ``rnnkit tag RUN "Raw text."``.

Tokens follow UD English / Penn Treebank, so that a tagger trained on EWT sees what it was
trained on:

* punctuation is split off words (``end.`` -> ``end .``); runs of ``!``/``?`` (``?!``), an
  ellipsis (``...``) and a dash (``--``) stay one token;
* clitics are split: ``don't`` -> ``do n't``, ``can't`` -> ``ca n't``, ``I'm`` -> ``I 'm``,
  ``it's`` -> ``it 's``, and ``'ll``, ``'ve``, ``'d``, ``'re`` likewise (``'`` or ``’``);
  other apostrophes stay inside the word (``O'Neil``);
* numbers keep ``.``, ``,``, ``:`` and ``/`` between digits (``3.5``, ``1,000``, ``10:30``,
  ``12/25``); hyphenated words stay whole (``state-of-the-art``);
* URLs (``http://``, ``https://``, ``www.``, without trailing punctuation), e-mail addresses,
  ``@mentions`` and ``#hashtags`` stay whole (WNUT17 is tweets);
* common abbreviations (Mr. Mrs. Ms. Dr. Prof. St. Jr. Sr. vs. etc. Inc. Ltd. Co. Corp.),
  dotted ones (``e.g.``, ``i.e.``, ``U.S.``, ``a.m.``) and single capital initials (``J.``)
  keep their period.

A sentence ends after a ``.``, ``!`` or ``?`` token (or a run of them: ``?!``, ``...``),
with any closing quotes or brackets right after it, when whitespace or the end of the text
follows. An abbreviation or initial carries its period inside the token, so it never ends
a sentence (``Dr. Smith``, ``e.g. this``); the price is that a sentence ending in one
(``... in the U.S. Then``) runs on into the next.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = r"(?i:mrs|mr|ms|dr|prof|st|jr|sr|vs|etc|inc|ltd|co|corp)\."
_APOSTROPHE = "['’]"
_CLITIC = rf"{_APOSTROPHE}(?i:s|m|d|ll|ve|re)\b"
_TOKEN = re.compile(rf"""
      (?:https?://|www\.)\S+?(?=[.,;:!?'"’”)\]]*(?:\s|$))   # a URL, without the punctuation after it
    | [\w.+-]+@\w[\w-]*(?:\.\w[\w-]*)+                     # an e-mail address
    | [@#]\w+                                            # @mention, #hashtag
    | \d+(?:[.,:/]\d+)+                                   # 3.5  1,000  10:30  12/25
    | \b{_ABBREVIATIONS}                                  # Mr.  etc.
    | (?:[A-Za-z]\.){{2,}}                                # e.g.  U.S.
    | \b[A-Z]\.                                          # an initial: J.
    | \w+(?=(?i:n{_APOSTROPHE}t)\b)                       # do (n't)
    | (?i:n{_APOSTROPHE}t)\b                              # n't
    | {_CLITIC}                                          # 's 'm 'd 'll 've 're
    | \w+(?:-\w+)+                                       # state-of-the-art
    | \w+(?:(?!{_CLITIC}){_APOSTROPHE}\w+)*               # a word (O'Neil), up to a clitic (it|'s)
    | [!?]+ | \.{{2,}} | -{{2,}}                          # ?!  ...  --
    | \S                                                 # any other character on its own
""", re.VERBOSE)
_SENTENCE_END = re.compile(r"[.!?]+")
_CLOSING = frozenset("'\"’”)]}»")


def split(text: str) -> list[list[str]]:
    """The sentences of ``text``, each a list of tokens (see the module docstring for how)."""
    sentences, current, spans = [], [], list(_TOKEN.finditer(text))
    for i, match in enumerate(spans):
        current.append(match.group())
        if _ends_sentence(text, spans, i):
            sentences.append(current)
            current = []
    return sentences + [current] if current else sentences


def _ends_sentence(text: str, spans: list[re.Match], i: int) -> bool:
    """Whether a sentence ends after token ``i``: a closer after a final ``.!?`` run, then a space."""
    end = spans[i].end()
    if end < len(text) and not text[end].isspace():
        return False
    j = i  # step back over the closing quotes and brackets that touch the token before them
    while spans[j].group() in _CLOSING and j > 0 and spans[j - 1].end() == spans[j].start():
        j -= 1
    return _SENTENCE_END.fullmatch(spans[j].group()) is not None
