"""Language modeling: character- and word-level text, n-gram baselines, recurrent models.

``from rnnkit import text`` gives the task's Python API (see ``api.py``; also at the top level as
``rnnkit.train``, ``rnnkit.sample``, ...): ``text.train(config, out)``, ``text.load(run)``,
``text.sample(lm, config)``, ``text.fill(lm, "i am ___ hungry")``, ``text.evaluate(lm, split, run)``.
Each name is imported on first use, so importing the package loads no torch.
"""

from ..core.lazy import exports

_WHERE = {
    **dict.fromkeys(["LoadedModel", "TrainResult", "evaluate", "fill", "load", "resume_config", "sample",
                     "sample_with_stats", "train"], ".api"),
    **dict.fromkeys(["KIND", "LMConfig", "LMTrainConfig"], ".language_model"),
    **dict.fromkeys(["RNNConfig", "RNNLanguageModel"], ".rnn_lm"),
    "Metrics": ".evaluation", "SampleConfig": ".sampling", "DataConfig": ".textdata",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)
