"""Audio classification: short spoken clips (e.g. digits) read from WAV files, turned into
log-mel or MFCC frames, and classified by a convolutional-recurrent network.

``from rnnkit import audio`` gives the task's Python API (see ``api.py``): ``audio.train(config, out)``,
``audio.load(run)``, ``audio.classify(classifier, files)``, ``audio.evaluate(classifier, split, run)``,
``audio.crossval``. Each name is imported on first use, so importing the package loads no torch.
"""

from ..core.lazy import exports

_WHERE = {
    **dict.fromkeys(["Classifier", "Evaluation", "FoldResult", "TrainResult", "classify", "crossval", "evaluate",
                     "load", "plot_confusion", "train"], ".api"),
    **dict.fromkeys(["KIND", "AudioConfig", "ClassifyConfig"], ".task"),
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
