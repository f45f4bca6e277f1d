"""Reading WAV files (sample formats, channels, rates), their error messages, listing folders,
and band-limited resampling (frequency, amplitude, aliasing, shapes and types)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rnnkit.audio.wav import BadWavFile, list_wavs, read_wav, resample, resampled_length
from rnnkit.core.errors import RnnkitError


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def write(path: Path, data: np.ndarray, rate: int = 8000, subtype: str = "PCM_16", fmt: str | None = None) -> Path:
    sf.write(path, data, rate, subtype=subtype, format=fmt)
    return path


def error(call, *args, **kwargs) -> str:
    with pytest.raises(RnnkitError) as e:
        call(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def peak_hz(x: np.ndarray, rate: int) -> tuple[float, float]:
    """Frequency of the largest FFT bin, and the bin width."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * rate / len(x), rate / len(x)


def amplitude(x: np.ndarray) -> float:
    """Amplitude of a sine from its RMS, away from the ends (where resampling sees zeros)."""
    mid = x[len(x) // 8 : -len(x) // 8]
    return float(np.sqrt(2) * np.sqrt(np.mean(mid.astype(np.float64) ** 2)))


# -- sample formats, channels, rates ---------------------------------------------------------
@pytest.mark.parametrize("subtype,tol", [
    ("PCM_U8", 1 / 128), ("PCM_16", 1 / 2**15), ("PCM_24", 1 / 2**23), ("PCM_32", 1e-7),
    ("FLOAT", 1e-7), ("DOUBLE", 1e-7), ("ULAW", 0.02), ("ALAW", 0.02),
])
def test_sample_formats(tmp_path, subtype, tol):
    x = tone(440, 8000, 0.25)
    wave = read_wav(write(tmp_path / f"{subtype}.wav", x, subtype=subtype), 8000)
    assert wave.dtype == np.float32 and wave.shape == x.shape
    np.testing.assert_allclose(wave, x, atol=tol)


def test_stereo_and_multichannel_are_averaged(tmp_path):
    left, right = tone(440, 8000, 0.25), tone(1000, 8000, 0.25, amplitude=0.3)
    wave = read_wav(write(tmp_path / "stereo.wav", np.stack([left, right], axis=1)), 8000)
    np.testing.assert_allclose(wave, (left + right) / 2, atol=2 / 2**15)
    channels = np.stack([left, right, -left, 0.5 * right], axis=1)
    wave = read_wav(write(tmp_path / "quad.wav", channels, subtype="FLOAT"), 8000)
    np.testing.assert_allclose(wave, channels.mean(axis=1), atol=1e-6)


def test_other_rate_is_resampled(tmp_path):
    wave = read_wav(write(tmp_path / "16k.wav", tone(440, 16000, 1.0), 16000), 8000)
    assert wave.shape == (8000,) and wave.dtype == np.float32
    np.testing.assert_allclose(wave, resample(tone(440, 16000, 1.0).astype(np.float32), 16000, 8000), atol=1e-4)
    freq, bin_hz = peak_hz(wave, 8000)
    assert abs(freq - 440) <= bin_hz
    assert amplitude(wave) == pytest.approx(0.5, rel=0.01)


def test_wavex_container_is_read(tmp_path):
    channels = np.stack([tone(440, 8000, 0.25)] * 3, axis=1)  # 3 channels: WAVE_FORMAT_EXTENSIBLE
    path = write(tmp_path / "x.wav", channels, subtype="PCM_24", fmt="WAVEX")
    assert sf.info(str(path)).format == "WAVEX"
    np.testing.assert_allclose(read_wav(path, 8000), channels[:, 0], atol=1e-6)


# -- errors ----------------------------------------------------------------------------------
def test_missing_file_and_directory(tmp_path):
    msg = error(read_wav, tmp_path / "nope.wav", 8000)
    assert "nope.wav not found" in msg
    assert "is a directory" in error(read_wav, tmp_path, 8000)


def test_text_file_named_wav_is_unreadable(tmp_path):
    path = tmp_path / "x.wav"
    path.write_text("not audio at all\n")
    with pytest.raises(BadWavFile) as e:
        read_wav(path, 8000)
    msg = str(e.value)
    assert e.value.path == path
    assert f"{path} is not a readable WAV file (" in msg and "--skip-bad-files" in msg
    assert "\n" not in msg


def test_truncated_header_and_zero_byte_file(tmp_path):
    good = write(tmp_path / "good.wav", tone(440, 8000, 0.25)).read_bytes()
    (tmp_path / "cut.wav").write_bytes(good[:30])
    assert "is not a readable WAV file" in error(read_wav, tmp_path / "cut.wav", 8000)
    (tmp_path / "zero.wav").write_bytes(b"")
    assert "is not a readable WAV file" in error(read_wav, tmp_path / "zero.wav", 8000)


def test_compressed_codec_is_refused(tmp_path):
    path = write(tmp_path / "adpcm.wav", tone(440, 8000, 0.25), subtype="IMA_ADPCM")
    msg = error(read_wav, path, 8000)
    assert "unsupported sample format IMA ADPCM" in msg
    assert "16-bit PCM" in msg and "--skip-bad-files" in msg


def test_other_container_is_refused(tmp_path):
    path = write(tmp_path / "really_flac.wav", tone(440, 8000, 0.25), fmt="FLAC")
    assert "is a FLAC file, not WAV" in error(read_wav, path, 8000)


def test_empty_silent_short_and_nan_clips(tmp_path):
    empty = write(tmp_path / "empty.wav", np.zeros(0))
    assert f"{empty} is empty" in error(read_wav, empty, 8000)
    silent = write(tmp_path / "silent.wav", np.zeros(4000))
    assert f"{silent} is silent" in error(read_wav, silent, 8000)
    hiss = write(tmp_path / "hiss.wav", np.full(4000, 3e-5), subtype="FLOAT")
    assert "is silent" in error(read_wav, hiss, 8000)
    short = write(tmp_path / "short.wav", tone(440, 8000, 0.02))  # 160 samples < 400
    msg = error(read_wav, short, 8000)
    assert f"{short} is too short (20 ms" in msg and "at least 400" in msg
    assert read_wav(short, 8000, min_samples=100).shape == (160,)
    short16 = write(tmp_path / "short16.wav", tone(440, 16000, 0.04), 16000)  # 320 samples at 8 kHz
    assert "320 samples at 8000 Hz" in error(read_wav, short16, 8000)
    x = tone(440, 8000, 0.25)
    x[10] = np.nan
    assert "NaN" in error(read_wav, write(tmp_path / "nan.wav", x, subtype="FLOAT"), 8000)


def test_unusual_sample_rate_is_refused(tmp_path):
    path = write(tmp_path / "odd.wav", tone(440, 44101, 0.1), 44101)  # 44101 and 8000 are coprime
    msg = error(read_wav, path, 8000)
    assert "unusual sample rate (44101 Hz)" in msg and "-ar 8000" in msg


def test_antiphase_stereo_is_silent_after_downmix(tmp_path):
    x = tone(440, 8000, 0.25)
    path = write(tmp_path / "antiphase.wav", np.stack([x, -x], axis=1))
    assert "is silent" in error(read_wav, path, 8000)


# -- listing folders -------------------------------------------------------------------------
def test_list_wavs_recursive_sorted_any_case(tmp_path):
    for name in ["b/2.wav", "a/1.WAV", "a/0.Wav", "c.wav", "notes.txt", ".hidden/x.wav", "a/._1.wav"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    names = [p.relative_to(tmp_path).as_posix() for p in list_wavs(tmp_path)]
    assert names == ["a/0.Wav", "a/1.WAV", "b/2.wav", "c.wav"]


def test_list_wavs_errors(tmp_path):
    msg = error(list_wavs, tmp_path / "missing")
    assert "audio folder" in msg and "not found" in msg
    (tmp_path / "f.wav").write_bytes(b"")
    assert "is a file, not a folder" in error(list_wavs, tmp_path / "f.wav")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert "is empty" in error(list_wavs, tmp_path / "empty")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "readme.txt").write_text("hi")
    msg = error(list_wavs, tmp_path / "text")
    assert "has no .wav files" in msg and "readme.txt" in msg


# -- resampling ------------------------------------------------------------------------------
@pytest.mark.parametrize("orig,new", [(8000, 16000), (16000, 8000), (44100, 16000), (8000, 11025)])
def test_resample_keeps_frequency_and_amplitude(orig, new):
    y = resample(tone(440, orig).astype(np.float32), orig, new)
    assert y.shape == (resampled_length(orig, orig, new),) == (new,)
    freq, bin_hz = peak_hz(y, new)
    assert abs(freq - 440) <= bin_hz
    assert amplitude(y) == pytest.approx(0.5, rel=0.01)


def test_resample_matches_the_tone_at_the_new_rate():
    y = resample(tone(440, 8000).astype(np.float32), 8000, 16000)
    np.testing.assert_allclose(y[1000:-1000], tone(440, 16000)[1000:-1000], atol=1e-3)


def test_downsampling_removes_what_is_above_the_new_nyquist():
    y = resample(tone(6000, 16000), 16000, 8000)  # would alias to 2 kHz
    assert amplitude(y) < 1e-4
    y = resample(tone(3000, 16000), 16000, 8000)  # below the new Nyquist: kept
    assert amplitude(y) == pytest.approx(0.5, rel=0.01)


def test_resample_types_shapes_and_identity():
    x = np.random.default_rng(0).standard_normal((2, 3, 1000)).astype(np.float32)
    assert resample(x, 8000, 8000) is x
    y = resample(x, 8000, 16000)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (2, 3, 2000)
    t = torch.from_numpy(x).double()
    yt = resample(t, 8000, 16000)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float64
    np.testing.assert_allclose(yt.numpy(), y, atol=1e-5)
    assert resample(x[0, 0], 16000, 8000).shape == (500,)
    assert resample(x[0, 0, :999], 16000, 8000).shape == (500,)  # ceil(999 / 2)
    assert resample(np.zeros(0, np.float32), 8000, 16000).shape == (0,)
    assert resample(np.ones(100, np.int16), 8000, 16000).dtype == np.float32
    with pytest.raises(ValueError):
        resample(x, 0, 8000)


def test_resample_is_fast():
    import time

    x = torch.from_numpy(tone(440, 8000).astype(np.float32))
    resample(x, 8000, 16000)
    best = min(_timed(time, resample, x, 8000, 16000) for _ in range(20))
    assert best < 0.05  # a loose guard against a per-sample Python loop; typically ~0.3 ms


def _timed(time, f, *args) -> float:
    start = time.perf_counter()
    f(*args)
    return time.perf_counter() - start
