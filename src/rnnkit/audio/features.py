"""Log-mel (or MFCC) frames from a batch of waves: the input the audio classifier sees.

:class:`LogMel` turns ``wave (B, N)`` with true lengths ``(B,)`` into ``feats (B, T, F)`` and
frame counts ``(B,)``: a Hann-windowed STFT (window length ``n_fft``, centred frames every
``hop_length`` samples), the power spectrum, a Slaney-style mel filterbank (the same matrix as
``librosa.filters.mel(htk=False, norm="slaney")``), ``log(power + 1e-6)`` with a floor ``top_db``
dB under the clip's loudest cell and, for MFCCs, an orthonormal DCT-II over the mel bands keeping
the first ``n_mfcc`` coefficients.

Padding is part of the definition, so batching never changes a clip's features: each clip is
treated as zero outside its true length (the batch padding is zeroed here, whatever it held),
and the STFT's centring pads with zeros too (``pad_mode="constant"``, also librosa's default
since 0.10). Reflect padding would make a clip's last frames see the batch padding, not the
clip's own mirror image. A clip of ``L`` samples has ``L // hop_length + 1`` valid frames,
each equal to what the clip alone would give; frames after those are set to 0.

With ``trim_db`` (40 dB by default) the frames at each end of a clip whose energy lies that far
below its loudest frame are cut, but for 0.1 s next to the sound, before the floor and the log
(:func:`trim_frames`): a recording with a second of room noise before and after the word gives
about the frames the word alone gives. Cutting here, on the frames every path computes, keeps
training and classification alike: augmentation's time shift and noise come first, as a
recording's would.

The floor 1e-6 inside the log keeps the all-zero frames (padding, digital silence) finite
at log(1e-6) = -13.8; with the unnormalised STFT a full-scale tone gives mel powers around
10^2..10^3, so the floor sits some 90 dB below it, under the noise of any 16-bit recording.
Recordings differ in how far their noise lies below the voice (in FSDD from about 18 dB for one
speaker to 49 dB for another); the ``top_db`` floor (30 dB by default) hides those differences,
and the quietest parts of the speech with them. With ``floor="soft"`` (the default) the floor
power ``P_max * 10^(-top_db / 10)`` is added to every mel power before the log, so cells well
above it are unchanged, cells well below it become the floor, and those near it keep a smooth,
monotone trace of their level; ``floor="hard"`` raises every log energy to the floor
(``max(log P, log P_max - top_db dB)``, as ``librosa.power_to_db(top_db=...)`` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..core.config import check_choices, option, require

LOG_FLOOR = 1e-6
FEATURES = ("logmel", "mfcc")
FLOORS = ("soft", "hard")
TRIM_DB = 40.0
TRIM_MARGIN_S = 0.1  # kept on each side of the frames above the --trim-db threshold


@dataclass
class FeatureConfig:
    sample_rate: int = option(8000, "sample rate in Hz that every clip is resampled to")
    n_fft: int = option(256, "FFT size and Hann window length, in samples (even)")
    hop_length: int = option(80, "samples between successive frames (80 = 10 ms at 8 kHz)")
    n_mels: int = option(40, "number of mel bands")
    f_min: float = option(0.0, "lowest frequency of the mel filterbank, in Hz")
    f_max: float | None = option(None, "highest frequency of the mel filterbank, in Hz (default: sample rate / 2)")
    features: str = option("logmel", "frame features: log-mel energies or MFCCs", FEATURES)
    n_mfcc: int = option(20, "MFCCs kept per frame (with --features mfcc)")
    normalize: str = option("clip", "global: per-band mean and deviation of the training clips; clip: then also "
                            "subtract each clip's own per-band mean (cepstral mean normalization: less sensitive to "
                            "the microphone and the voice)", ("global", "clip"))
    top_db: float = option(30.0, "floor every mel energy at the clip's loudest minus this many dB (see --floor), "
                           "so recordings with different noise floors look alike (0 = off)")
    floor: str = option("soft", "how the --top-db floor is applied: soft adds the floor's power to every mel "
                        "power before the log (cells near the floor keep a trace of their level); hard raises "
                        "every log energy to the floor", FLOORS)
    preemphasis: float = option(0.0, "pre-emphasis x[n] - a x[n-1] before the STFT (0.97 is common; 0 = off): "
                                "raises the high frequencies, so the --top-db floor hides less of them")
    trim_db: float = option(TRIM_DB, "cut the frames at each end of a clip that are this many dB or more below its "
                            "loudest frame, keeping 0.1 s beside the sound, in training and classification alike, "
                            "so silence before and after a recording does not change its label (0 = off)")

    def __post_init__(self) -> None:
        check_choices(self)
        require(self.sample_rate > 0, "sample_rate", f"must be positive, got {self.sample_rate}")
        require(self.n_fft >= 16 and self.n_fft % 2 == 0, "n_fft",
                f"must be an even number of 16 or more, got {self.n_fft}")
        require(1 <= self.hop_length <= self.n_fft, "hop_length",
                f"must be between 1 and --n-fft ({self.n_fft}), got {self.hop_length}")
        require(self.n_mels >= 1, "n_mels", f"must be 1 or more, got {self.n_mels}")
        nyquist = self.sample_rate / 2
        require(0 <= self.f_min < nyquist, "f_min",
                f"must be in [0, {nyquist:g}) Hz (half the sample rate), got {self.f_min:g}")
        require(self.f_max is None or self.f_min < self.f_max <= nyquist, "f_max",
                f"must be above --f-min ({self.f_min:g}) and at most {nyquist:g} Hz (half the sample rate), "
                f"got {self.f_max}")
        require(self.top_db >= 0, "top_db", f"must be 0 (off) or more, got {self.top_db}")
        require(0 <= self.preemphasis < 1, "preemphasis", f"must be in [0, 1), got {self.preemphasis}")
        require(self.trim_db >= 0, "trim_db", f"must be 0 (off) or more, got {self.trim_db}")
        if self.features == "mfcc":
            require(1 <= self.n_mfcc <= self.n_mels, "n_mfcc",
                    f"must be between 1 and --n-mels ({self.n_mels}), got {self.n_mfcc}")
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max)
        empty = int((fb.sum(dim=1) == 0).sum())
        require(empty == 0, "n_mels",
                f"{empty} of the {self.n_mels} mel bands fall between FFT bins and would always be zero; "
                f"use fewer mel bands or a larger --n-fft")

    @property
    def feature_size(self) -> int:
        """F, the number of features per frame."""
        return self.n_mfcc if self.features == "mfcc" else self.n_mels


# -- mel scale (Slaney's Auditory Toolbox: linear below 1 kHz, logarithmic above) -----------
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mels
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, _F_SP * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` (float32) for a power spectrum.

    ``n_mels + 2`` edges equally spaced on the Slaney mel scale from ``f_min`` to ``f_max``
    (default ``sample_rate / 2``); filter ``m`` rises from edge ``m`` to ``m + 1`` and falls to
    ``m + 2``, scaled by ``2 / (edge[m+2] - edge[m])`` in Hz so every filter has the same area
    (Slaney normalisation). Equals ``librosa.filters.mel(..., htk=False, norm="slaney")``.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(edges)  # (n_mels + 1,)
    ramps = edges[:, None] - fft_hz[None, :]  # (n_mels + 2, bins)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return torch.from_numpy(weights).to(torch.float32)


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II ``(n_out, n_in)``: ``y = D @ x`` equals ``scipy.fft.dct(x, norm="ortho")[:n_out]``."""
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    d = np.cos(np.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    d[0] /= math.sqrt(2.0)
    return torch.from_numpy(d).to(torch.float32)


def frame_lengths(lengths: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Valid frames ``(B,)`` of clips with ``lengths (B,)`` samples: ``L // hop_length + 1``."""
    return torch.div(lengths, hop_length, rounding_mode="floor") + 1


def warp_frequencies(power: torch.Tensor, factors: torch.Tensor, boundary: float = 0.8) -> torch.Tensor:
    """Vocal tract length perturbation (Jaitly & Hinton 2013): ``power (B, bins, T)`` with each
    clip's frequency axis stretched by its factor ``alpha`` in ``factors (B,)``.

    Output bin ``k`` takes the power at source bin ``k / alpha`` (linear interpolation) up to a
    boundary (``boundary`` of the band, times ``alpha`` when ``alpha < 1``); above it the map is
    linear up to the top bin, which stays in place, so no bin reads past the spectrum. A factor
    of 1 returns the spectrum unchanged. ``alpha > 1`` moves formants up (a shorter vocal tract).
    """
    B, K, T = power.shape
    top = K - 1
    k = torch.arange(K, device=power.device, dtype=power.dtype)[None, :]  # (1, K)
    alpha = factors[:, None]  # (B, 1)
    edge = boundary * top * alpha.clamp(max=1.0)  # output bin where the map bends
    low = k / alpha
    high = edge / alpha + (k - edge) * (top - edge / alpha) / (top - edge)
    src = torch.where(k <= edge, low, high).clamp(0, top)  # (B, K) source positions
    lo = src.floor().long().clamp(max=top - 1)
    frac = (src - lo).unsqueeze(-1)  # (B, K, 1)
    below = power.gather(1, lo.unsqueeze(-1).expand(B, K, T))
    above = power.gather(1, (lo + 1).unsqueeze(-1).expand(B, K, T))
    return below + (above - below) * frac


def trim_frames(mel: torch.Tensor, frames: torch.Tensor, top_db: float,
                margin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip's frames from ``margin`` before its first to ``margin`` after its last frame whose
    energy (the sum of ``mel (B, T, M)`` over bands) is within ``top_db`` dB of its loudest frame,
    moved to the front: ``(mel (B, T', M), frames (B,))`` with ``T'`` the longest kept; the frames
    after each clip's new count are zero. Like ``librosa.effects.trim``, but only the ends are cut.
    """
    B, T, _ = mel.shape
    t = torch.arange(T, device=mel.device)
    valid = t[None, :] < frames[:, None]
    energy = mel.sum(-1) * valid  # (B, T)
    active = valid & (energy >= energy.amax(1, keepdim=True) * 10 ** (-top_db / 10))  # the loudest is always in
    first = active.to(torch.uint8).argmax(1)
    last = T - 1 - active.flip(1).to(torch.uint8).argmax(1)
    start = (first - margin).clamp(min=0)
    count = torch.minimum(last + margin, frames - 1) - start + 1
    kept = int(count.max()) if B else 0
    k = torch.arange(kept, device=mel.device)
    index = (start[:, None] + k[None, :]).clamp(max=T - 1)  # (B, T')
    out = mel.gather(1, index.unsqueeze(-1).expand(-1, -1, mel.shape[2]))
    return out * (k[None, :] < count[:, None]).unsqueeze(-1), count


class LogMel(torch.nn.Module):
    """``(wave (B, N), lengths (B,)) -> (feats (B, T, F), frame_lengths (B,))``, ``T = N // hop + 1``
    (or fewer with ``trim_db``: the frames left once each clip's silent ends are cut).

    ``F`` is ``n_mels`` (log-mel) or ``n_mfcc`` (MFCC). No trainable parameters; the window,
    filterbank and DCT are non-persistent buffers (rebuilt from the config, not saved in
    checkpoints) that follow the module across devices.
    """

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)  # periodic Hann
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)
        self.register_buffer("mel_t", fb.T.contiguous(), persistent=False)  # (bins, n_mels)
        dct = dct_matrix(cfg.n_mels, cfg.n_mfcc).T.contiguous() if cfg.features == "mfcc" else None
        self.register_buffer("dct_t", dct, persistent=False)  # (n_mels, n_mfcc) or None

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor,
                warp: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``warp (B,)``: each clip's vocal tract length factor (:func:`warp_frequencies`; training only)."""
        if wave.dim() != 2 or lengths.shape != wave.shape[:1]:
            raise ValueError(
                f"expected wave (B, N) and lengths (B,), got {tuple(wave.shape)} and {tuple(lengths.shape)}"
            )
        n = wave.shape[1]
        if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > n):
            raise ValueError(f"lengths must be in [0, {n}], got {lengths.tolist()}")
        lengths = lengths.to(device=wave.device, dtype=torch.long)
        inside = torch.arange(n, device=wave.device)[None, :] < lengths[:, None]
        wave = wave * inside  # zero the batch padding: each clip is zero past its end
        if self.cfg.preemphasis:  # x[n] - a x[n-1], with x[-1] = 0; zero again past each clip's end
            wave = torch.cat([wave[:, :1], wave[:, 1:] - self.cfg.preemphasis * wave[:, :-1]], dim=1) * inside
        spec = torch.stft(wave, self.cfg.n_fft, self.cfg.hop_length, window=self.window.to(wave.dtype),
                          center=True, pad_mode="constant", return_complex=True)  # (B, bins, T)
        power = spec.real.square() + spec.imag.square()
        if warp is not None:
            power = warp_frequencies(power, warp.to(device=power.device, dtype=power.dtype))
        mel = power.transpose(1, 2) @ self.mel_t.to(wave.dtype)  # (B, T, n_mels)
        frames = frame_lengths(lengths, self.cfg.hop_length)
        if self.cfg.trim_db:  # (B, T', n_mels), T' <= T: silence at either end cut
            margin = round(TRIM_MARGIN_S * self.cfg.sample_rate / self.cfg.hop_length)
            mel, frames = trim_frames(mel, frames, self.cfg.trim_db, margin)
        if self.cfg.top_db and self.cfg.floor == "soft":  # padding frames have zero power
            mel = mel + mel.amax(dim=(1, 2), keepdim=True) * 10 ** (-self.cfg.top_db / 10)
        feats = torch.log(mel + LOG_FLOOR)
        if self.cfg.top_db and self.cfg.floor == "hard":  # padding sits at log(LOG_FLOOR), under any clip's loudest
            floor = feats.amax(dim=(1, 2), keepdim=True) - self.cfg.top_db * math.log(10) / 10
            feats = torch.maximum(feats, floor)
        if self.dct_t is not None:
            feats = feats @ self.dct_t.to(wave.dtype)  # (B, T, n_mfcc)
        valid = torch.arange(feats.shape[1], device=wave.device)[None, :] < frames[:, None]
        return feats * valid[:, :, None], frames
