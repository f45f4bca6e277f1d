"""rnnkit: recurrent neural networks for modeling sequences."""

from .api import LoadedModel, TrainResult, evaluate, load, resume_config, sample, train
from .errors import RnnkitError, TrainingDiverged
from .evaluation import Metrics
from .language_model import LMConfig
from .rnn_lm import RNNConfig, RNNLanguageModel
from .sampling import SampleConfig
from .textdata import DataConfig
from .trainer import TrainConfig

__version__ = "0.1.0"
__all__ = [
    "DataConfig", "LMConfig", "LoadedModel", "Metrics", "RNNConfig", "RNNLanguageModel", "RnnkitError",
    "SampleConfig", "TrainConfig", "TrainResult", "TrainingDiverged", "evaluate", "load", "resume_config",
    "sample", "train",
]
