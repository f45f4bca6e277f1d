"""An exported sequence tagger, run with numpy and onnxruntime alone (no torch).

::

    from rnnkit import runtime
    tagger = runtime.load("runs/upos/onnx")
    tagger.tag([["I", "saw", "her", "duck", "."]])     # [["PRON", "VERB", "PRON", "NOUN", "PUNCT"]]
    tagger.tag_text("I saw her duck.")                 # [(tokens, tags)] per sentence

Sentences are encoded by the run's own ``TokenEncoder`` (lowercased word ids, ``<unk>``, the
characters of the batch's distinct tokens), the graph gives the emissions ``(B, S, T)``, and the
tags are each token's best (softmax) or the Viterbi path of the CRF, whose forbidden transitions
carry the same ``-10,000`` penalty as in PyTorch (``crf.py``).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import RnnkitError
from ..runtime.exported import Exported
from .tokenize import split as split_text
from .vocab import Encoded, TokenEncoder


def viterbi(emissions: np.ndarray, lengths: np.ndarray, start: np.ndarray, trans: np.ndarray,
            end: np.ndarray) -> np.ndarray:
    """``(B, S)`` best tag ids of each row's first ``lengths[b]`` positions (0 after them).

    ``emissions (B, S, T)``; ``start (T,)``, ``trans (T, T)`` (row: previous tag), ``end (T,)``: the
    scores with the scheme's penalties added. The same steps, in float32, as ``crf.CRF.decode``.
    """
    B, S, T = emissions.shape
    mask = np.arange(S)[None] < lengths[:, None]  # (B, S)
    score = start + emissions[:, 0]  # (B, T)
    keep = np.broadcast_to(np.arange(T), (B, T))  # padding: each tag points to itself
    pointers = []
    for t in range(1, S):
        both = score[:, :, None] + trans  # (B, T prev, T next)
        arg = both.argmax(1)
        best = np.take_along_axis(both, arg[:, None], 1)[:, 0]
        score = np.where(mask[:, t, None], best + emissions[:, t], score)
        pointers.append(np.where(mask[:, t, None], arg, keep))
    tag = (score + end).argmax(1)  # (B,)
    path = [tag]
    for arg in reversed(pointers):
        tag = np.take_along_axis(arg, tag[:, None], 1)[:, 0]
        path.append(tag)
    return np.stack(path[::-1], axis=1) * mask


class ExportedTagger(Exported):
    """``tag(sentences)``, ``tag_text(text)`` and ``emissions(sentences)`` of an exported tagger."""

    def __init__(self, folder, manifest: dict, threads: int | None = None):
        super().__init__(folder, manifest, threads)
        self.encoder = TokenEncoder.from_state(self.data["encoder"])
        self.scheme: str = self.data["scheme"]
        self.batch_size: int = int(self.data["config"]["tag"]["batch_size"])
        crf = self.data.get("crf")
        # start (T,), transitions (T, T), end (T,) with the scheme's penalties; None for a softmax tagger
        self.crf = None if crf is None else tuple(np.asarray(crf[k], np.float32)
                                                  for k in ("start", "transitions", "end"))

    @property
    def tags(self) -> list[str]:
        return self.encoder.tags

    def _inputs(self, enc: Encoded) -> dict[str, np.ndarray]:
        wanted = {i.name for i in self.session("emissions").get_inputs()}  # unread inputs leave the graph
        return {name: getattr(enc, name) for name in ("words", "chars", "char_lengths", "token_index", "lengths")
                if name in wanted}

    def _batches(self, sentences: list[list[str]], batch_size: int | None):
        """Length-sorted chunks as ``rnnkit.tag.api.tag`` makes them: ``(indices, emissions (B, S, T), lengths)``."""
        check(sentences)
        order = np.argsort([-len(s) for s in sentences], kind="stable")
        size = batch_size or self.batch_size
        for i in range(0, len(order), size):
            chunk = order[i:i + size]
            enc = self.encoder.batch([sentences[k] for k in chunk])
            yield chunk, self.run("emissions", **self._inputs(enc))["emissions"], enc.lengths

    def emissions(self, sentences: list[list[str]], batch_size: int | None = None) -> list[np.ndarray]:
        """Each sentence's tag scores ``(n_i, T)`` (float32)."""
        out: list[np.ndarray] = [np.zeros(0)] * len(sentences)
        for chunk, e, _ in self._batches(sentences, batch_size):
            for row, k in enumerate(chunk):
                out[k] = e[row, :len(sentences[k])]
        return out

    def tag(self, sentences: list[list[str]], batch_size: int | None = None) -> list[list[str]]:
        """The predicted tags of each sentence (a list of tokens); ``batch_size``: the run's ``rnnkit tag`` default."""
        out: list[list[str]] = [[] for _ in sentences]
        for chunk, e, lengths in self._batches(sentences, batch_size):
            ids = viterbi(e, lengths, *self.crf) if self.crf is not None else e.argmax(2)
            for row, k in enumerate(chunk):
                out[k] = [self.tags[j] for j in ids[row, :len(sentences[k])]]
        return out

    def tag_text(self, text: str, batch_size: int | None = None) -> list[tuple[list[str], list[str]]]:
        """Raw text split into sentences and tokens (``tokenize.py``), each with its predicted tags."""
        if not isinstance(text, str):
            raise RnnkitError(f"tag_text takes a string, got {type(text).__name__}; pass the raw text")
        sentences = split_text(text)
        if not sentences:
            raise RnnkitError("the text is empty; pass some words to tag")
        return list(zip(sentences, self.tag(sentences, batch_size)))


def check(sentences: list[list[str]]) -> None:
    """Refuse what ``rnnkit.tag.api.tag`` refuses: an empty sentence or a token that is not a non-empty string."""
    if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
        raise RnnkitError("pass the sentences as a list of token lists (tag_text takes raw text)")
    bad = [i for i, s in enumerate(sentences)
           if isinstance(s, str) or not s or not all(isinstance(w, str) and w for w in s)]
    if bad:
        raise RnnkitError(f"sentence {bad[0] + 1} is empty or holds a token that is not a non-empty string; "
                          f"pass each sentence as a list of tokens")
