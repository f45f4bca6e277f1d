"""An exported audio classifier, run with numpy and onnxruntime (no torch): ``runtime.load(DIR).classify(...)``.

WAV files are read as ``rnnkit classify`` reads them (:func:`rnnkit.audio.wav.read_wav`, resampled by
:func:`~rnnkit.audio.wav.resample_numpy`, the same filter), the front end is :mod:`rnnkit.audio.logmel`
with the run's matrices and statistics, and the CRNN's two graphs (see :mod:`rnnkit.audio.export`) give
the log-probabilities::

    from rnnkit import runtime
    clf = runtime.load("runs/digits/onnx")
    clf.classify(["7_jackson_3.wav"])                        # [[("7", 0.998)]]
    clf.classify([wave], sample_rate=16000, top_k=3)         # numpy waves with their sample rate
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.confusion import check_top_k, top_labels
from ..core.errors import RnnkitError
from ..runtime.exported import Exported
from .logmel import FrontEnd, pad
from .wav import MIN_SECONDS, read_wav, resample_numpy

CONVOLVE, RECURRENT, FRONTEND = "convolve", "recurrent", "frontend.npz"  # as rnnkit.audio.export writes them


class ExportedAudioClassifier(Exported):
    """An audio classifier export: ``classify(inputs, sample_rate, top_k)``; ``labels``, ``sample_rate``."""

    def __init__(self, folder, manifest: dict, threads: int | None = None):
        super().__init__(folder, manifest, threads)
        f = self.data["features"]
        with np.load(self.folder / FRONTEND) as a:
            arrays = {k: a[k] for k in a.files}
        self.frontend = FrontEnd(arrays["window"], arrays["mel_t"], arrays.get("dct_t"), arrays["mean"],
                                 arrays["std"], f["sample_rate"], f["hop_length"], f["preemphasis"], f["top_db"],
                                 f["floor"], f["trim_db"], f["normalize"] == "clip")
        self.labels: list[str] = self.data["labels"]
        self.sample_rate: int = f["sample_rate"]
        self.defaults = self.data["classify"]  # rnnkit classify's options as the run saved them

    def features(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Normalized frames ``(B, T, F)`` and frame counts ``(B,)`` of waves at :attr:`sample_rate`."""
        return self.frontend(*pad(waves))

    def log_probabilities(self, waves: list[np.ndarray], batch: int | None = None) -> np.ndarray:
        """``(N, classes)`` log-probabilities of waves at :attr:`sample_rate`, in length-sorted batches."""
        batch = batch or self.defaults["batch_size"]
        order = np.argsort([-len(w) for w in waves], kind="stable")
        out = np.empty((len(waves), len(self.labels)), dtype=np.float32)
        for i in range(0, len(order), batch):
            j = order[i:i + batch]
            feats, frames = self.features([waves[k] for k in j])
            conv = self.run(CONVOLVE, feats=np.ascontiguousarray(feats[:, :int(frames.max())]),
                            lengths=frames.astype(np.int64))
            out[j] = self.run(RECURRENT, **conv)["log_probs"]
        return out

    def at_rate(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """A wave ``(samples,)`` at ``sample_rate`` Hz resampled to the model's rate, float32."""
        try:
            return np.ascontiguousarray(resample_numpy(wave, sample_rate, self.sample_rate), dtype=np.float32)
        except ValueError as e:
            raise RnnkitError(f"cannot resample from {sample_rate} Hz to {self.sample_rate} Hz ({e}); pass the wave "
                              f"at {self.sample_rate} Hz") from None

    def _wave(self, item, sample_rate: int | None) -> np.ndarray:
        if isinstance(item, (str, Path)):
            return read_wav(item, self.sample_rate, resampler=resample_numpy)
        x = np.asarray(item)
        rate = sample_rate or self.sample_rate
        if x.ndim != 1 or not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
            raise RnnkitError(f"an audio array must be a finite mono wave of shape (samples,), got shape {x.shape} "
                              f"of {x.dtype}; average the channels or pass a WAV path")
        if len(x) < max(1, round(MIN_SECONDS * rate)):
            raise RnnkitError(f"an audio array has {len(x)} samples, under {MIN_SECONDS} s at {rate} Hz; pass a "
                              f"longer clip (or its sample_rate)")
        return self.at_rate(x.astype(np.float32), rate)

    def classify(self, inputs, sample_rate: int | None = None,
                 top_k: int | None = None) -> list[list[tuple[str, float]]]:
        """The ``top_k`` (default: the run's ``--top-k``) most likely labels of each input with their
        probabilities, as ``rnnkit.audio.classify``: ``inputs`` are WAV paths and/or numpy waves ``(samples,)``
        at ``sample_rate`` Hz (default: the model's, :attr:`sample_rate`); one path or wave alone is a list of one."""
        items = [inputs] if isinstance(inputs, (str, Path, np.ndarray)) else list(inputs)
        if not items:
            raise RnnkitError("no audio to classify; pass WAV paths or numpy waves")
        k = check_top_k(top_k or self.defaults["top_k"], len(self.labels))
        waves = [self._wave(x, sample_rate) for x in items]
        return top_labels(np.exp(self.log_probabilities(waves)), self.labels, k)
