"""rnnkit: recurrent neural networks for modeling sequences.

Language modeling is at the top level (``rnnkit.train``, ``rnnkit.load``, ``rnnkit.sample``,
``rnnkit.evaluate``, and ``rnnkit.fill`` for ``--objective infill`` runs); each further task is
a subpackage with the same verbs plus its own use verb: ``from rnnkit import translate``
(``translate.train``, ``translate.load``, ``translate.translate``, ``translate.evaluate``).
"""

from . import translate
from .core.errors import RnnkitError, TrainingDiverged
from .core.trainer import TrainConfig
from .text.api import LoadedModel, TrainResult, evaluate, fill, load, resume_config, sample, train
from .text.evaluation import Metrics
from .text.language_model import LMConfig, LMTrainConfig
from .text.rnn_lm import RNNConfig, RNNLanguageModel
from .text.sampling import SampleConfig
from .text.textdata import DataConfig

__version__ = "0.2.0"
__all__ = [
    "DataConfig", "LMConfig", "LMTrainConfig", "LoadedModel", "Metrics", "RNNConfig", "RNNLanguageModel",
    "RnnkitError", "SampleConfig", "TrainConfig", "TrainResult", "TrainingDiverged", "evaluate", "fill", "load",
    "resume_config", "sample", "train", "translate",
]
