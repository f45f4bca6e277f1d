"""Training-time augmentation: new versions of each clip every epoch, never at evaluation.

On the wave (per clip, seeded): speed perturbation (resampling by 0.9-1.1, which changes
duration and pitch together, as in Ko et al. 2015), a time shift (up to ``shift`` seconds of
silence added in front or cut from the start), a random gain (up to ``gain_db`` dB either way)
and Gaussian noise at a random signal-to-noise ratio. On the power spectrum (per clip, with
``vtlp``): a vocal tract length perturbation, each clip's frequency axis stretched by its own
factor (:func:`rnnkit.audio.features.warp_frequencies`). On the log-mel frames (per batch):
SpecAugment's time and frequency masks (Park et al. 2019), filled with the clip's mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.config import option, require
from .wav import resample

SPEEDS = ((20, 18), (20, 19), (1, 1), (20, 21), (20, 22))  # (orig, new) rates: speeds 1.11, 1.05, 1, 0.95, 0.91


@dataclass
class AugmentConfig:
    augment: bool = option(True, "augment the training clips (speed, shift, gain, noise, SpecAugment masks)")
    speed: float = option(0.5, "probability of a speed perturbation (0.9-1.1)")
    vtlp: float = option(0.0, "vocal tract length perturbation: stretch each clip's frequency axis by a factor "
                         "drawn from [1 - v, 1 + v] (Jaitly & Hinton 2013; 0 = off)")
    shift: float = option(0.1, "largest time shift in seconds")
    gain_db: float = option(6.0, "largest gain change in dB, either way")
    noise_snr: float = option(20.0, "noise is added at a random signal-to-noise ratio between this and 50 dB")
    mixup: float = option(0.0, "mixup (Zhang et al. 2018): train on blends of two clips' frames and labels, the "
                          "blend drawn from Beta(a, a) with this a (0 = off)")
    time_masks: int = option(2, "SpecAugment: time masks per clip")
    time_mask_fraction: float = option(0.1, "SpecAugment: longest time mask as a fraction of the clip")
    freq_masks: int = option(2, "SpecAugment: frequency masks per clip")
    freq_mask_bands: int = option(6, "SpecAugment: widest frequency mask in bands")

    def __post_init__(self) -> None:
        require(0 <= self.speed <= 1, "speed", f"must be a probability in [0, 1], got {self.speed}")
        require(0 <= self.vtlp < 0.5, "vtlp", f"must be in [0, 0.5), got {self.vtlp}")
        for name in ("mixup", "shift", "gain_db", "time_masks", "freq_masks", "freq_mask_bands", "time_mask_fraction"):
            require(getattr(self, name) >= 0, name, f"must be 0 or more, got {getattr(self, name)}")
        require(self.time_mask_fraction < 1, "time_mask_fraction", f"must be below 1, got {self.time_mask_fraction}")


def augment_wave(x: np.ndarray, rate: int, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """One augmented version of the clip ``x (N,)``."""
    if cfg.speed and rng.random() < cfg.speed:
        orig, new = SPEEDS[int(rng.integers(len(SPEEDS)))]
        x = resample(x, orig, new)
    if cfg.shift:
        k = int(rng.integers(-int(cfg.shift * rate), int(cfg.shift * rate) + 1))
        if k > 0:
            x = np.concatenate([np.zeros(k, dtype=x.dtype), x])
        elif k < 0 and len(x) + k > rate // 10:  # never cut a clip below 0.1 s
            x = x[-k:]
    if cfg.gain_db:
        x = x * np.float32(10 ** (rng.uniform(-cfg.gain_db, cfg.gain_db) / 20))
    if cfg.noise_snr < 50:
        power = float(np.mean(x ** 2)) + 1e-12
        snr = rng.uniform(cfg.noise_snr, 50)
        x = x + rng.normal(0, np.sqrt(power / 10 ** (snr / 10)), len(x)).astype(np.float32)
    return x.astype(np.float32)


def spec_augment(feats: torch.Tensor, lengths: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Masks on ``feats (B, T, F)`` (zero beyond ``lengths``); masked cells take the value 0 (the mean after
    normalization)."""
    B, T, F = feats.shape
    keep = torch.ones(B, T, F, dtype=torch.bool)
    frames = torch.arange(T)[None]
    bands = torch.arange(F)[None]
    for _ in range(cfg.time_masks):
        width = (torch.rand(B, generator=g) * cfg.time_mask_fraction * lengths).long()
        start = (torch.rand(B, generator=g) * (lengths - width).clamp(min=1)).long()
        keep &= ~((frames >= start[:, None]) & (frames < (start + width)[:, None]))[:, :, None]
    for _ in range(cfg.freq_masks):
        width = torch.randint(0, cfg.freq_mask_bands + 1, (B,), generator=g)
        start = (torch.rand(B, generator=g) * (F - width).clamp(min=1)).long()
        keep &= ~((bands >= start[:, None]) & (bands < (start + width)[:, None]))[:, None, :]
    return feats * keep.to(feats.device)
