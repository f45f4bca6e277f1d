"""Named bundles of options, applied under a config file and the command-line flags.

``seed`` is the model of the seed article (rnn-guide.md, "Implementation of RNN in Keras"):
a SimpleRNN of 128 tanh units reading one-hot characters, windows of 10 characters with step
1 that predict only the next character, a softmax layer, RMSprop with Keras' settings
(learning rate 0.001, rho 0.9), batch 128, 25 epochs, no clipping or dropout, on the seed's
cleaned text. Keras initializes the weights differently (Glorot/orthogonal), the one
deliberate difference. The model is used alone, without rnnkit's n-gram mix. ``rnnkit
sample`` then generates as the article does: greedily, 100 characters after a random
10-character window of the text.
"""

from __future__ import annotations

from ..core.errors import RnnkitError

PRESETS: dict[str, dict] = {
    "seed": {
        "model": "rnn",
        "data": {"text_clean": "seed"},
        "rnn": {"cell": "rnn", "nonlinearity": "tanh", "layers": 1, "hidden_size": 128, "one_hot": True,
                "dropout": 0.0, "weight_drop": 0.0, "tie_weights": False},
        "train": {"objective": "window", "seq_len": 10, "window_step": 1, "batch_size": 128, "epochs": 25,
                  "optimizer": "rmsprop", "lr": 1e-3, "lr_schedule": "constant", "warmup_steps": 0,
                  "weight_decay": 0.0, "clip_norm": 0.0, "clip_value": 0.0},
        "mix": {"mix_order": 0},  # the article's model alone
        "sample": {"greedy": True, "length": 100},  # argmax from a random 10-char window, as in the article
    },
}


def preset(name: str | None) -> dict:
    """The options of preset ``name`` (an empty dict for ``None``)."""
    if name is None:
        return {}
    if name not in PRESETS:
        raise RnnkitError(f"--preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
