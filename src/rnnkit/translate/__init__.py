"""Translation: encoder-decoder RNNs with attention, teacher forcing and beam search.

``from rnnkit import translate`` gives the task's Python API (see ``api.py``): ``translate.train(config,
out)``, ``translate.load(run)``, ``translate.translate(translator, sentences)``, ``translate.evaluate``.
Each name is imported on first use, so importing the package loads no torch.
"""

from ..core.lazy import exports

_WHERE = {
    **dict.fromkeys(["KIND", "SearchConfig", "TrainResult", "TranslateConfig", "Translation", "TranslationMetrics",
                     "Translator", "evaluate", "load", "plot_attention", "train", "translate"], ".api"),
    **dict.fromkeys(["Seq2Seq", "Seq2SeqConfig"], ".model"),
    "PairsConfig": ".pairs", "TranslateTrainConfig": ".task", "TokenizerConfig": ".tokenize",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
