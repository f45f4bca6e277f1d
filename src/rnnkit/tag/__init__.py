"""Sequence tagging: a label for every token (part of speech, named entities), a BiLSTM over words
and their characters with a softmax or a CRF on top.

``from rnnkit import tag`` gives the task's Python API (see ``api.py``): ``tag.train(config, out)``,
``tag.load(run)``, ``tag.tag(tagger, sentences)``, ``tag.tag_text(tagger, text)``,
``tag.evaluate(tagger, split, run)``. Each name is imported on first use, so importing the package
loads no torch.
"""

from ..core.lazy import exports

_WHERE = {
    **dict.fromkeys(["LoadedTagger", "TrainResult", "evaluate", "load", "tag", "tag_text", "train"], ".api"),
    **dict.fromkeys(["KIND", "TagConfig", "TagUseConfig"], ".task"),
    **dict.fromkeys(["Sentence", "TagDataConfig", "read_sentences"], ".formats"),
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
