"""``rnnkit export`` for audio classifiers: the CRNN as one ONNX graph, the front end as data for numpy.

Two graphs map normalized frames to log-probabilities, the recurrent layer unpacked
(:class:`~rnnkit.nn.recurrent.PaddedStack`, the same weights; ONNX cannot run packed sequences)::

    convolve:  feats (B, T, F) float32, lengths (B,) int64 -> seq (K, B, T', C*F'), seq_lengths (B,)
    recurrent: seq, seq_lengths -> log_probs (B, classes) float32 (an ensemble of K: log of the mean probability)

``feats`` are the normalized log-mel (or MFCC) frames, zero past each clip's ``lengths``. They are two
graphs because the exporter cannot decompose a GRU/LSTM whose time axis is derived from an input's
(``T' = T // 4`` after the pooling) within one graph; a fresh input axis exports.

The front end runs in numpy (:mod:`rnnkit.audio.logmel`) from ``frontend.npz`` (the run's Hann
window, mel filterbank, DCT and normalization statistics) and the feature options in the data.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.confusion import log_loss
from ..core.errors import RnnkitError
from ..nn.ensemble import log_mean_probability, members_of
from ..nn.recurrent import unpacked
from . import api
from .model import CRNN
from .task import pad, predict_logits
from .wav import resample

CONVOLVE, RECURRENT, FRONTEND = "convolve", "recurrent", "frontend.npz"


class _Convolve(nn.Module):
    """Every member's convolution blocks: ``(feats (B, T, F), lengths (B,))`` -> ``seq (K, B, T', C*F')`` and
    ``seq_lengths (B,)`` (the same for every member)."""

    def __init__(self, members: list[CRNN]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [m.convolve(feats, lengths) for m in self.members]
        return torch.stack([seq for seq, _ in outs]), outs[0][1]


class _Recurrent(nn.Module):
    """Every member's recurrent layer (unpacked) and classifier, their probabilities averaged: ``(seq (K, B, T',
    C*F'), seq_lengths (B,))`` -> log-probabilities ``(B, classes)``, as ``softmax(model(feats, lengths))``."""

    def __init__(self, members: list[CRNN]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.rnns = nn.ModuleList(unpacked(m.rnn) for m in members)

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = torch.stack([m.classify(rnn(seq[k], lengths), lengths)
                              for k, (m, rnn) in enumerate(zip(self.members, self.rnns))])  # (K, B, classes)
        return log_mean_probability(logits)


def _frontend_file(clf: api.Classifier) -> bytes:
    lm, fe = clf.frontend.logmel, clf.frontend
    arrays = {"window": lm.window, "mel_t": lm.mel_t, "mean": fe.mean, "std": fe.std}
    if lm.dct_t is not None:
        arrays["dct_t"] = lm.dct_t
    buf = io.BytesIO()
    np.savez(buf, **{k: v.detach().cpu().numpy().astype(np.float32) for k, v in arrays.items()})
    return buf.getvalue()


def export(clf: api.Classifier, draft) -> None:
    """Write the ``crnn`` graph, ``frontend.npz`` and the labels and options into ``draft``."""
    members = members_of(clf.model)
    torch.manual_seed(0)
    feats, lengths = torch.randn(3, 40, clf.config.features.feature_size), torch.tensor([40, 23, 9])
    batch, frames = {0: "batch"}, {0: "batch", 1: "frames"}
    draft.graph(CONVOLVE, _Convolve(members).eval(), (feats, lengths), ["feats", "lengths"], ["seq", "seq_lengths"],
                {"feats": frames, "lengths": batch, "seq": {1: "batch", 2: "steps"}, "seq_lengths": batch})
    with torch.no_grad():
        seq, seq_lengths = _Convolve(members).eval()(feats, lengths)
    draft.graph(RECURRENT, _Recurrent(members).eval(), (seq, seq_lengths), ["seq", "seq_lengths"], ["log_probs"],
                {"seq": {1: "batch", 2: "steps"}, "seq_lengths": batch, "log_probs": batch})
    draft.file(FRONTEND, _frontend_file(clf))
    draft.data.update({"labels": clf.labels, "features": dataclasses.asdict(clf.config.features),
                       "classify": dataclasses.asdict(clf.config.classify)})
    draft.metrics = _test_metrics(clf)


def _test_metrics(clf: api.Classifier) -> dict:
    """The test scores ``rnnkit report`` shows ({} when the run has no test clips or its data folder is gone)."""
    try:
        ev = api.evaluate(clf, "test", clf.source.parent)
    except (RnnkitError, OSError):
        return {}
    return {"accuracy": ev.accuracy, "loss": ev.loss, "clips": ev.clips, "per_class": ev.per_class}


def quantized_cost(clf: api.Classifier, fp32, int8, run_dir: Path) -> dict:
    """``--quantize int8``'s cost: accuracy and log loss of the fp32 and the int8 export on the run's validation
    clips (read again from its data folder)."""
    waves, y = api.split_waves(clf, "val", run_dir)
    cost: dict = {"val_clips": len(y)}
    for name, exported in (("fp32", fp32), ("int8", int8)):
        probs = np.exp(exported.log_probabilities(waves))
        cost[f"val_accuracy_{name}"] = float((probs.argmax(1) == y).mean())
        cost[f"val_loss_{name}"] = log_loss(probs, y)
    return cost


# -- parity ----------------------------------------------------------------------------------------
def _waves(seconds: list[float], rate: int, seed: int) -> list[np.ndarray]:
    """Clips of the given lengths: a decaying tone sweep in noise, each its own."""
    rng = np.random.default_rng(seed)
    out = []
    for s in seconds:
        t = np.arange(int(s * rate)) / rate
        f0 = rng.uniform(150, 0.3 * rate)
        w = np.sin(2 * np.pi * f0 * t * (1 + t)) * np.exp(-2 * t) + 0.05 * rng.standard_normal(len(t))
        out.append(np.concatenate([np.zeros(rate // 5), w, np.zeros(rate // 10)]).astype(np.float32))  # silent ends
    return out


def _log_probabilities(clf: api.Classifier, waves: list[np.ndarray]) -> np.ndarray:
    """``log(api.probabilities(clf, waves))`` without the underflow: ``(N, classes)``."""
    feats, frames = api.frame_features(clf.frontend, waves, clf.device, clf.config.classify.batch_size)
    with torch.no_grad():
        return predict_logits(clf.model, feats, frames, clf.device).log_softmax(-1).numpy()


def parity(clf: api.Classifier, exported) -> dict[str, float]:
    """Max |runtime - PyTorch| per case: normalized features and log-probabilities on generated clips of 2
    lengths at batch sizes 1 and 4, and the log-probabilities of clips given at another sample rate."""
    rate, diffs = clf.config.features.sample_rate, {}
    for name, seconds in {"short": [0.3, 0.45, 0.25, 0.4], "long": [1.2, 0.7, 1.5, 0.9]}.items():
        for n in (1, 4):
            waves = _waves(seconds[:n], rate, n)
            with torch.no_grad():
                ref_feats, ref_frames = clf.frontend(*pad(waves))
            feats, frames = exported.features(waves)
            T = min(feats.shape[1], ref_feats.shape[1])
            diffs[f"features {name} batch {n}"] = float(np.abs(feats[:, :T] - ref_feats[:, :T].numpy()).max()) \
                if np.array_equal(frames, ref_frames.numpy()) else float("inf")
            ref = _log_probabilities(clf, waves)
            diffs[f"log-probabilities {name} batch {n}"] = float(np.abs(exported.log_probabilities(waves) - ref).max())
    other = 2 * rate if rate <= 24000 else rate // 2
    waves = _waves([0.6, 0.35], other, 7)
    ref = _log_probabilities(clf, [resample(w, other, rate) for w in waves])
    got = exported.log_probabilities([exported.at_rate(w, other) for w in waves])
    diffs[f"log-probabilities resampled from {other} Hz"] = float(np.abs(got - ref).max())
    return diffs
