"""Sequence classification: one label for a whole sequence, a text (sentiment, intent) or a
numeric series of several channels (a speaker's cepstral frames, a sensor window).

``from rnnkit import classify`` gives the task's Python API (see ``api.py``): ``classify.train(config, out)``,
``classify.load(run)``, ``classify.predict(classifier, texts)``, ``classify.evaluate(classifier, split, run)``.
Each name is imported on first use, so importing the package loads no torch.
"""

from ..core.lazy import exports

_WHERE = {
    **dict.fromkeys(["Classifier", "Evaluation", "TrainResult", "evaluate", "load", "plot_confusion", "predict",
                     "probabilities", "read_input", "train"], ".api"),
    **dict.fromkeys(["KIND", "ClassifyConfig", "PredictConfig"], ".task"),
    **dict.fromkeys(["DataConfig", "Examples", "read_examples"], ".examples"),
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
