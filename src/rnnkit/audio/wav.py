"""Reading WAV files into mono float32 waves at one sample rate, and band-limited resampling.

Every clip the audio task sees comes through :func:`read_wav`: whatever the file holds (PCM
8/16/24/32-bit, 32/64-bit float, G.711 u-law/A-law; one channel or several; any sample rate)
comes out as a float32 array of shape ``(samples,)`` at the rate the model was trained for, so
features computed later never depend on how a clip happened to be recorded. Channels are
averaged (a stereo recording of one voice is the same voice twice); rates are changed with
:func:`resample`, a windowed-sinc filter (torch's ``conv1d``, or numpy for the torch-free
runtime: :func:`resample_numpy`, the same filter; no torchaudio or scipy). The module imports torch
only where it resamples a torch tensor or with torch.

Files that cannot be used raise :class:`BadWavFile`, a :class:`RnnkitError` whose one-line
message names the file and the fix; a data loader that skips bad files (``--skip-bad-files``)
catches exactly that class. Compressed WAV codecs (ADPCM, GSM 6.10, G.721, MP3-in-WAV) are
refused rather than decoded: they are rare in speech data sets and libsndfile decodes some of
them with block padding (IMA ADPCM gains frames), so a converted copy is the safer input.
Other containers (FLAC, OGG, AIFF) are refused too, even when named ``.wav``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, TypeVar

import numpy as np
import soundfile as sf

from ..core.errors import RnnkitError

if TYPE_CHECKING:
    import torch

#: Sample formats (libsndfile subtypes) read from WAV files, and what they are.
SUPPORTED_SUBTYPES = {
    "PCM_U8": "8-bit PCM",
    "PCM_16": "16-bit PCM",
    "PCM_24": "24-bit PCM",
    "PCM_32": "32-bit PCM",
    "FLOAT": "32-bit float",
    "DOUBLE": "64-bit float",
    "ULAW": "u-law",
    "ALAW": "A-law",
}
#: Containers accepted: RIFF WAV, WAVE_FORMAT_EXTENSIBLE and RF64 (WAV over 4 GB).
WAV_FORMATS = ("WAV", "WAVEX", "RF64")
#: A clip whose largest absolute sample (after downmixing) is below this is silent.
SILENCE_PEAK = 1e-4
#: Default shortest clip, in seconds, when ``min_samples`` is not given.
MIN_SECONDS = 0.05

SKIP = "remove it or pass --skip-bad-files"
CONVERT = "convert it to 16-bit PCM WAV (e.g. ffmpeg -i IN -c:a pcm_s16le OUT.wav), remove it, or pass --skip-bad-files"

A = TypeVar("A", np.ndarray, "torch.Tensor")


class BadWavFile(RnnkitError):
    """One audio file cannot be used (unreadable, unsupported, empty, silent or too short)."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path


# -- resampling ------------------------------------------------------------------------------
# Kaiser-windowed sinc: 32 zero crossings each side of the centre and beta 8.6 give about
# 85 dB of stopband attenuation with a transition band ~17% of the cutoff wide; a cutoff at
# 92% of the lower Nyquist frequency puts the stopband's start right at that Nyquist, so
# nothing above it folds back into the passband (flat to ~84% of Nyquist).
ZERO_CROSSINGS = 32
KAISER_BETA = 8.6
ROLLOFF = 0.92
#: Largest filter bank (up x taps) built; ratios of coprime rates such as 44101/8000 need more.
MAX_KERNEL = 2**24


@functools.lru_cache(maxsize=16)
def _sinc_kernel(up: int, down: int) -> tuple[np.ndarray, int]:
    """Polyphase filter bank ``(up, 1, 2 * width + down)`` in float64, and the padding ``width``.

    Output sample ``q * up + j`` lies at input time ``q * down + j * down / up``; row ``j``
    holds the filter taps for that phase over the input samples ``q * down - width ...``, so
    ``conv1d(stride=down)`` computes every phase of every output frame at once.
    """
    cutoff = 0.5 * ROLLOFF * min(1.0, up / down)  # cycles per input sample
    half = ZERO_CROSSINGS / (2 * cutoff)  # half-length of the filter, in input samples
    width = math.ceil(half)
    if up * (2 * width + down) > MAX_KERNEL:
        raise ValueError(f"cannot resample by {up}/{down}: the filter bank would be too large")
    taps = np.arange(2 * width + down, dtype=np.float64) - width
    t = taps[None, :] - np.arange(up, dtype=np.float64)[:, None] * (down / up)
    inside = np.abs(t) <= half
    ratio = np.sqrt(1 - np.clip(t / half, -1, 1) ** 2)
    window = np.i0(KAISER_BETA * ratio) / np.i0(KAISER_BETA)
    sinc = 2 * cutoff * np.sinc(2 * cutoff * t)  # unit gain at 0 Hz for each phase
    return (sinc * window * inside)[:, None, :], width


def _ratio(orig: int, new: int) -> tuple[int, int]:
    if orig <= 0 or new <= 0:
        raise ValueError(f"sample rates must be positive, got {orig} and {new}")
    g = math.gcd(orig, new)
    return new // g, orig // g


def resampled_length(samples: int, orig: int, new: int) -> int:
    """Number of samples :func:`resample` returns for ``samples`` input samples."""
    return -(-samples * new // orig)  # ceil without floating point


def resample(x: A, orig: int, new: int) -> A:
    """Change the sample rate of ``x (..., samples)`` from ``orig`` to ``new`` Hz.

    Band-limited (Kaiser-windowed sinc, cutoff just under the lower of the two Nyquist
    frequencies), computed as one strided ``conv1d`` per call after reducing ``orig/new`` by
    their gcd. Returns the same kind of array (numpy or torch, same dtype, same leading
    dimensions) with ``ceil(samples * new / orig)`` samples; beyond the ends of the clip the
    signal is taken as zero. Integer inputs are converted to float32. When ``orig == new``,
    ``x`` itself is returned. Raises ``ValueError`` for rates whose reduced ratio is so
    unusual (e.g. 44101 -> 8000) that the filter bank would exceed :data:`MAX_KERNEL` taps.
    """
    up, down = _ratio(orig, new)
    if orig == new:
        return x
    import torch

    is_numpy = isinstance(x, np.ndarray)
    t = torch.from_numpy(np.ascontiguousarray(x)) if is_numpy else x
    if not t.is_floating_point():
        t = t.to(torch.float32)
    kernel, width = _sinc_kernel(up, down)
    shape, n = t.shape[:-1], t.shape[-1]
    flat = t.reshape(math.prod(shape), 1, n)
    flat = torch.nn.functional.pad(flat, (width, width + down))
    kernel = torch.from_numpy(kernel).to(dtype=t.dtype, device=t.device)
    y = torch.nn.functional.conv1d(flat, kernel, stride=down)
    y = y.transpose(1, 2).reshape(*shape, -1)[..., : resampled_length(n, orig, new)]
    return y.numpy() if is_numpy else y


def resample_numpy(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    """:func:`resample` of a numpy array ``(..., samples)`` in numpy alone (no torch): the same filter bank,
    applied as one matrix product of the strided input windows ``(..., Q, taps)`` with it ``(taps, up)``;
    equal to :func:`resample` up to float rounding (the sums run in another order)."""
    up, down = _ratio(orig, new)
    if orig == new:
        return x
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    kernel, width = _sinc_kernel(up, down)
    shape, n = x.shape[:-1], x.shape[-1]
    flat = np.pad(x.reshape(math.prod(shape), n), ((0, 0), (width, width + down)))
    windows = np.lib.stride_tricks.sliding_window_view(flat, kernel.shape[-1], axis=-1)[:, ::down]  # (M, Q, taps)
    y = windows @ kernel[:, 0, :].T.astype(x.dtype)  # (M, Q, up): phase j of output frame q
    return y.reshape(*shape, -1)[..., : resampled_length(n, orig, new)]


def _resample_no_grad(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    if orig == new:
        return x
    import torch

    with torch.inference_mode():
        return resample(x, orig, new)


# -- files -----------------------------------------------------------------------------------
def _open_error(path: Path, name: str, e: Exception, fix: str) -> BadWavFile:
    reason = getattr(e, "error_string", None) or str(e).rsplit(": ", 1)[-1]  # libsndfile's own words
    reason = reason.strip().rstrip(".") or type(e).__name__
    return BadWavFile(path, f"{name} is not a readable WAV file ({reason}); {fix}")


def decode_wav(source: str | Path | BinaryIO, name: str, fix: str = SKIP,
               convert: str = CONVERT) -> tuple[np.ndarray, int]:
    """The samples of a WAV file, channels averaged, as float32 ``(samples,)`` at the file's own rate, and that rate.

    ``source``: a path or a binary file object (an uploaded file); ``name`` starts the messages and ``fix``
    (``convert`` for a format to convert) ends them. Raises :class:`BadWavFile` for what libsndfile cannot
    read, another container, an unsupported sample format, no samples, and NaN or infinite samples.
    """
    path = Path(source) if isinstance(source, (str, Path)) else Path(name)
    try:
        with sf.SoundFile(source) as f:
            if f.format not in WAV_FORMATS:
                raise BadWavFile(path, f"{name} is a {f.format} file, not WAV; {convert}")
            if f.subtype not in SUPPORTED_SUBTYPES:
                supported = ", ".join(SUPPORTED_SUBTYPES.values())
                raise BadWavFile(path, f"{name} uses the unsupported sample format {f.subtype_info} (supported: "
                                       f"{supported}); {convert}")
            file_rate = f.samplerate
            data = f.read(dtype="float32", always_2d=True)  # (samples, channels)
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as e:
        raise _open_error(path, name, e, fix) from None
    if len(data) == 0:
        raise BadWavFile(path, f"{name} is empty (no samples); {fix}")
    wave = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(wave).all():
        raise BadWavFile(path, f"{name} contains NaN or infinite samples; {fix}")
    return wave, file_rate


def check_audible(wave: np.ndarray, path: Path, name: str, fix: str = SKIP) -> None:
    """:class:`BadWavFile` for a silent wave (peak below :data:`SILENCE_PEAK`)."""
    peak = float(np.abs(wave).max())
    if peak < SILENCE_PEAK:
        raise BadWavFile(path, f"{name} is silent (peak amplitude {peak:.1e} < {SILENCE_PEAK:g}); {fix}")


def read_wav(path: str | Path, rate: int, min_samples: int | None = None,
             resampler: Callable[[np.ndarray, int, int], np.ndarray] | None = None) -> np.ndarray:
    """Read a WAV file as a float32 mono wave ``(samples,)`` at ``rate`` Hz.

    Channels are averaged; other sample rates are resampled with :func:`resample`. Samples
    are scaled to [-1, 1] as libsndfile does (float files are left as they are). Raises
    :class:`BadWavFile` for a missing, unreadable or non-WAV file, an unsupported sample
    format, and a clip that is empty, contains NaN/inf, is silent (peak below
    :data:`SILENCE_PEAK`) or shorter than ``min_samples`` at ``rate`` (default
    :data:`MIN_SECONDS` seconds). ``resampler``: :func:`resample` (default) or :func:`resample_numpy`.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    path = Path(path)
    if min_samples is None:
        min_samples = max(1, round(MIN_SECONDS * rate))
    if path.is_dir():
        raise BadWavFile(path, f"{path} is a directory, not a WAV file; pass a .wav file")
    if not path.is_file():
        raise BadWavFile(path, f"audio file {path} not found; pass an existing WAV file")
    wave, file_rate = decode_wav(path, str(path))
    length = resampled_length(len(wave), file_rate, rate)
    if length < min_samples:
        raise BadWavFile(
            path,
            f"{path} is too short ({len(wave) / file_rate * 1000:.0f} ms, {length} samples at "
            f"{rate} Hz; at least {min_samples} needed); {SKIP}",
        )
    check_audible(wave, path, str(path))
    try:
        wave = (resampler or _resample_no_grad)(wave, file_rate, rate)
    except ValueError:
        raise BadWavFile(
            path,
            f"{path} has an unusual sample rate ({file_rate} Hz) that cannot be converted to {rate} Hz; "
            f"resample it (e.g. ffmpeg -i IN -ar {rate} OUT.wav), remove it, or pass --skip-bad-files",
        ) from None
    return np.ascontiguousarray(wave, dtype=np.float32)


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def list_wavs(folder: str | Path) -> list[Path]:
    """Every ``.wav`` file (any case of the suffix) under ``folder``, recursively, sorted.

    Hidden files and folders (names starting with ``.``, such as macOS ``._x.wav`` resource
    forks) are left out. Raises :class:`RnnkitError` for a missing folder, a file given
    instead of a folder, a folder without files, and a folder with files but no WAV files.
    """
    folder = Path(folder)
    if not folder.exists():
        raise RnnkitError(f"audio folder {folder} not found; pass an existing folder of .wav files")
    if not folder.is_dir():
        raise RnnkitError(f"{folder} is a file, not a folder; pass the folder that contains the .wav files")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p, folder))
    if not files:
        raise RnnkitError(f"audio folder {folder} is empty; put .wav files in it (subfolders are searched too)")
    wavs = [p for p in files if p.suffix.lower() == ".wav"]
    if not wavs:
        raise RnnkitError(
            f"audio folder {folder} has no .wav files ({len(files)} other file(s), e.g. "
            f"{files[0].relative_to(folder)}); pass a folder of .wav files or convert the audio to WAV"
        )
    return wavs
