"""The audio front end in numpy (no torch): waves -> normalized log-mel (or MFCC) frames.

The same computation as :class:`rnnkit.audio.task.Frontend` (:class:`~rnnkit.audio.features.LogMel`,
then the normalization), step by step and in float32, for the exported runtime; its matrices (the
Hann window, the mel filterbank, the DCT) and the normalization statistics come from the run, so
nothing is recomputed differently. See :mod:`rnnkit.audio.features` for what each step does::

    wave (B, N), lengths (B,) -> STFT power (B, T, bins) -> mel (B, T, M) [-> trimmed (B, T', M)]
        -> log with the top-db floor -> [DCT] -> (feats - mean) / std [- clip mean] -> (B, T', F), frames (B,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG_FLOOR = 1e-6  # rnnkit.audio.features.LOG_FLOOR
TRIM_MARGIN_S = 0.1  # rnnkit.audio.features.TRIM_MARGIN_S


@dataclass
class FrontEnd:
    """The run's front end: ``window (n_fft,)``, ``mel_t (bins, M)``, ``dct_t (M, F)`` or None, ``mean``/``std``
    ``(F,)`` (float32), and the options of ``rnnkit.audio.features.FeatureConfig`` it reads."""

    window: np.ndarray
    mel_t: np.ndarray
    dct_t: np.ndarray | None
    mean: np.ndarray
    std: np.ndarray
    sample_rate: int
    hop_length: int
    preemphasis: float
    top_db: float
    floor: str
    trim_db: float
    clip_mean: bool

    def __call__(self, wave: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``wave (B, N)`` float32 zero-padded, ``lengths (B,)`` -> ``feats (B, T, F)`` float32, ``frames (B,)``."""
        feats, frames = self.log_mel(wave, lengths)
        valid = (np.arange(feats.shape[1])[None] < frames[:, None])[:, :, None]
        feats = ((feats - self.mean) / self.std) * valid
        if self.clip_mean:  # each clip's own per-band mean over its valid frames
            feats = (feats - feats.sum(1, keepdims=True) / np.maximum(frames, 1)[:, None, None]) * valid
        return feats.astype(np.float32), frames

    def log_mel(self, wave: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:class:`rnnkit.audio.features.LogMel` (no warping): ``(B, T, F)``, ``frames (B,)``."""
        n_fft = len(self.window)
        lengths = np.asarray(lengths, dtype=np.int64)
        inside = np.arange(wave.shape[1])[None, :] < lengths[:, None]
        wave = wave.astype(np.float32) * inside  # each clip is zero past its end
        if self.preemphasis:
            wave = np.concatenate([wave[:, :1], wave[:, 1:] - np.float32(self.preemphasis) * wave[:, :-1]], 1) * inside
        padded = np.pad(wave, ((0, 0), (n_fft // 2, n_fft // 2)))  # centred frames, zeros outside
        frames_ = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=1)[:, ::self.hop_length]  # (B, T, n_fft)
        spec = np.fft.rfft(frames_ * self.window, axis=-1)  # (B, T, bins)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        mel = power @ self.mel_t  # (B, T, M)
        frames = lengths // self.hop_length + 1
        if self.trim_db:
            margin = round(TRIM_MARGIN_S * self.sample_rate / self.hop_length)
            mel, frames = trim_frames(mel, frames, self.trim_db, margin)
        if self.top_db and self.floor == "soft":
            mel = mel + mel.max(axis=(1, 2), keepdims=True) * np.float32(10 ** (-self.top_db / 10))
        feats = np.log(mel + np.float32(LOG_FLOOR))
        if self.top_db and self.floor == "hard":
            floor = feats.max(axis=(1, 2), keepdims=True) - np.float32(self.top_db * math.log(10) / 10)
            feats = np.maximum(feats, floor)
        if self.dct_t is not None:
            feats = feats @ self.dct_t
        valid = np.arange(feats.shape[1])[None, :] < frames[:, None]
        return feats * valid[:, :, None], frames


def trim_frames(mel: np.ndarray, frames: np.ndarray, top_db: float, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rnnkit.audio.features.trim_frames` in numpy: ``mel (B, T, M)`` -> ``(B, T', M)``, ``frames (B,)``."""
    B, T, M = mel.shape
    valid = np.arange(T)[None, :] < frames[:, None]
    energy = mel.sum(-1) * valid  # (B, T)
    active = valid & (energy >= energy.max(1, keepdims=True) * np.float32(10 ** (-top_db / 10)))
    first = active.argmax(1)
    last = T - 1 - active[:, ::-1].argmax(1)
    start = np.maximum(first - margin, 0)
    count = np.minimum(last + margin, frames - 1) - start + 1
    k = np.arange(int(count.max()) if B else 0)
    index = np.minimum(start[:, None] + k[None, :], T - 1)  # (B, T')
    out = np.take_along_axis(mel, index[:, :, None], axis=1)
    return out * (k[None, :] < count[:, None])[:, :, None], count


def pad(waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(B, N)`` float32 zero-padded waves and their lengths ``(B,)`` (``rnnkit.audio.task.pad`` in numpy)."""
    lengths = np.array([len(w) for w in waves], dtype=np.int64)
    out = np.zeros((len(waves), int(lengths.max())), dtype=np.float32)
    for i, w in enumerate(waves):
        out[i, :len(w)] = w
    return out, lengths
