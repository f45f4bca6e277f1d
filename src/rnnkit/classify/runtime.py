"""An exported sequence classifier, run with numpy and onnxruntime alone (no torch).

::

    from rnnkit import runtime
    clf = runtime.load("runs/sst2/onnx")
    clf.predict(["a gorgeous , witty , seductive movie ."])     # [[("1", 0.97)]]
    clf.predict([frames], top_k=3)                              # numeric models: (time, channels) arrays

Texts are read into units by the run's own tokenizer and vocabulary (``units.TextEncoder``,
SentencePiece for subwords), numeric series scaled by the training statistics (``units.Scaler``);
both are then padded in length-sorted batches, as ``rnnkit.classify.api`` does, and the graph
gives the logits. A text run's TF-IDF mix (``reference.py``, numpy) is applied to the probabilities.
"""

from __future__ import annotations

import numpy as np
import safetensors.numpy

from ..core.confusion import check_top_k, top_labels
from ..core.config import from_dict
from ..core.errors import RnnkitError
from ..runtime.exported import Exported
from .examples import DataConfig, Examples, read_examples
from .reference import Mix
from .units import Scaler, TextEncoder, UnitsConfig

TOKENIZER_FILE = "tokenizer.model"  # as classify/export.py writes it
MIX_NGRAMS, MIX_ARRAYS = "mix-ngrams.json", "mix.safetensors"


def pad(inputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Encoded sequences -> ``(B, S)`` ids or ``(B, S, C)`` frames, zero-padded, and lengths ``(B,)``."""
    lengths = np.array([len(x) for x in inputs], dtype=np.int64)
    out = np.zeros((len(inputs), int(lengths.max()), *inputs[0].shape[1:]), dtype=inputs[0].dtype)
    for i, x in enumerate(inputs):
        out[i, :len(x)] = x
    return out, lengths


class ExportedClassifier(Exported):
    """``predict(inputs, top_k)``, ``probabilities(inputs)`` and ``read_input(path)`` of an exported classifier."""

    def __init__(self, folder, manifest: dict, threads: int | None = None):
        super().__init__(folder, manifest, threads)
        self.kind: str = self.data["kind"]  # "text" or "numeric"
        self.labels: list[str] = list(self.data["labels"])
        config = self.data["config"]
        self.top_k, self.batch_size = int(config["predict"]["top_k"]), int(config["predict"]["batch_size"])
        if self.kind == "text":
            units = from_dict(UnitsConfig, config["units"], "export")
            blob = (self.folder / TOKENIZER_FILE).read_bytes() if (self.folder / TOKENIZER_FILE).is_file() else b""
            self.encoder: TextEncoder | Scaler = TextEncoder.from_state(units, self.data["units"], blob)
        else:
            self.encoder = Scaler(self.data["scaler"]["mean"], self.data["scaler"]["std"])
        self.mix: Mix | None = None  # a text run's TF-IDF classifier mixed in after training
        if "mix" in self.data:
            arrays = safetensors.numpy.load((self.folder / MIX_ARRAYS).read_bytes())
            self.mix = Mix.from_info({**self.data["mix"], "ngrams": self.json(MIX_NGRAMS)}, arrays)

    def encode(self, inputs: list) -> list[np.ndarray]:
        """Raw inputs -> ids ``(L_i,)`` or scaled frames ``(T_i, C)``; a wrong kind of input is a one-line error."""
        if isinstance(inputs, (str, np.ndarray)) or not isinstance(inputs, (list, tuple)):
            raise RnnkitError("pass a list of inputs (texts, or (time, channels) arrays for numeric models)")
        if self.kind == "text":
            if not all(isinstance(x, str) for x in inputs):
                raise RnnkitError("this model classifies texts; pass strings")
            return self.encoder.encode(list(inputs))
        frames = []
        for x in inputs:
            try:
                x = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float64)
            except (TypeError, ValueError):
                raise RnnkitError("this model classifies numeric sequences; pass (time, channels) arrays") from None
            if x.ndim != 2 or not len(x) or not np.issubdtype(x.dtype, np.number):
                raise RnnkitError(f"a sequence has shape {x.shape}; pass (time, channels) arrays of numbers, "
                                  f"at least one step each")
            frames.append(x)
        return self.encoder.encode(frames)

    def logits(self, inputs: list) -> np.ndarray:
        """``(N, classes)`` logits of raw inputs, in length-sorted batches of the run's batch size."""
        encoded = self.encode(inputs)
        out = np.zeros((len(encoded), len(self.labels)), dtype=np.float32)
        order = np.argsort([-len(x) for x in encoded], kind="stable")
        name = "ids" if self.kind == "text" else "frames"
        for i in range(0, len(order), self.batch_size):
            chunk = order[i:i + self.batch_size]
            x, lengths = pad([encoded[k] for k in chunk])
            out[chunk] = self.run("classifier", **{name: x, "lengths": lengths})["logits"]
        return out

    def log_probabilities(self, inputs: list) -> np.ndarray:
        """``(N, classes)`` log-probabilities of raw inputs."""
        if self.mix:
            return np.log(self.probabilities(inputs).astype(np.float64))
        shifted = self.logits(inputs)
        shifted -= shifted.max(-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))

    def probabilities(self, inputs: list) -> np.ndarray:
        """``(N, classes)`` class probabilities of raw inputs (texts, or ``(T, C)`` arrays)."""
        e = self.logits(inputs)
        e = np.exp(e - e.max(-1, keepdims=True))
        probs = e / e.sum(-1, keepdims=True)
        return self.mix.probabilities(probs, list(inputs)) if self.mix else probs

    def predict(self, inputs: list | Examples, top_k: int | None = None) -> list[list[tuple[str, float]]]:
        """The ``top_k`` (default: the run's ``rnnkit predict`` default) most likely labels of each input with
        their probabilities, most likely first."""
        k = check_top_k(top_k or self.top_k, len(self.labels))
        return top_labels(self.probabilities(inputs.inputs if isinstance(inputs, Examples) else inputs), self.labels, k)

    def read_input(self, path) -> Examples:
        """A file to classify, in any format of training, with or without labels (the run's column options)."""
        examples = read_examples(path, from_dict(DataConfig, self.data["config"]["data"], "export"), labelled=False)
        if examples.kind != self.kind:
            raise RnnkitError(f"{path} holds {examples.kind} sequences, but the model classifies {self.kind} ones")
        return examples
