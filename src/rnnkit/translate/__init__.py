"""Translation: encoder-decoder RNNs with attention, teacher forcing and beam search.

``from rnnkit import translate`` gives the task's Python API (see ``api.py``).
"""

from .api import (KIND, SearchConfig, TrainResult, TranslateConfig, Translation, TranslationMetrics, Translator,
                  evaluate, load, plot_attention, train, translate)
from .model import Seq2Seq, Seq2SeqConfig
from .pairs import PairsConfig
from .task import TranslateTrainConfig
from .tokenize import TokenizerConfig

__all__ = ["KIND", "PairsConfig", "SearchConfig", "Seq2Seq", "Seq2SeqConfig", "TokenizerConfig", "TrainResult",
           "TranslateConfig", "TranslateTrainConfig", "Translation", "TranslationMetrics", "Translator", "evaluate",
           "load", "plot_attention", "train", "translate"]
