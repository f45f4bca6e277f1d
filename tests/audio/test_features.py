"""Log-mel and MFCC features: the filterbank against librosa, shapes and frame counts, padding
invariance (a clip alone equals the same clip in a batch), and where a tone's energy lands."""

import numpy as np
import pytest
import torch

from rnnkit.audio.features import (
    LOG_FLOOR,
    FeatureConfig,
    LogMel,
    dct_matrix,
    frame_lengths,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    trim_frames,
    warp_frequencies,
)
from rnnkit.core.errors import RnnkitError


def tone(freq: float, rate: int = 8000, samples: int = 8000, amplitude: float = 0.5) -> torch.Tensor:
    return amplitude * torch.sin(2 * torch.pi * freq * torch.arange(samples, dtype=torch.float64) / rate).float()


def noise(samples: int, seed: int) -> torch.Tensor:
    return 0.3 * torch.randn(samples, generator=torch.Generator().manual_seed(seed))


# -- filterbank ------------------------------------------------------------------------------
@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [(8000, 256, 40, 0.0, None), (16000, 512, 64, 20.0, 7600.0)])
def test_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert ours.shape == (n_mels, n_fft // 2 + 1) and ours.dtype == torch.float32
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False,
                                 norm="slaney", dtype=np.float64)
    # Weights are at most ~0.03 (2 / bandwidth in Hz); 1e-6 absolute is float32 rounding plus margin.
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-6, atol=1e-12)  # and relative, per weight


def test_mel_scale_round_trip_and_knee():
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 1001.0, 4000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)
    assert hz_to_mel(1000.0) == pytest.approx(15.0)  # linear (200/3 Hz per mel) below 1 kHz


def test_dct_is_orthonormal_dct_ii():
    scipy_fft = pytest.importorskip("scipy.fft")
    d = dct_matrix(40, 40).double()
    np.testing.assert_allclose((d @ d.T).numpy(), np.eye(40), atol=1e-6)
    x = np.random.default_rng(0).standard_normal(40)
    np.testing.assert_allclose(dct_matrix(40, 13).double().numpy() @ x, scipy_fft.dct(x, norm="ortho")[:13], atol=1e-5)


# -- config ----------------------------------------------------------------------------------
def test_config_defaults_and_validation():
    cfg = FeatureConfig()
    assert (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.feature_size) == (8000, 256, 80, 40, 40)
    assert FeatureConfig(features="mfcc", n_mfcc=13).feature_size == 13
    for kwargs, flag in [
        (dict(features="spectrogram"), "--features"),
        (dict(sample_rate=0), "--sample-rate"),
        (dict(n_fft=255), "--n-fft"),
        (dict(hop_length=0), "--hop-length"),
        (dict(hop_length=300), "--hop-length"),
        (dict(n_mels=0), "--n-mels"),
        (dict(f_min=4000.0), "--f-min"),
        (dict(f_min=1000.0, f_max=500.0), "--f-max"),
        (dict(f_max=5000.0), "--f-max"),
        (dict(top_db=-1.0), "--top-db"),
        (dict(floor="clamp"), "--floor"),
        (dict(preemphasis=1.0), "--preemphasis"),
        (dict(preemphasis=-0.1), "--preemphasis"),
        (dict(trim_db=-1.0), "--trim-db"),
        (dict(features="mfcc", n_mfcc=41), "--n-mfcc"),
        (dict(n_mels=200), "--n-mels"),  # bands ~12 Hz apart, FFT bins 31.25 Hz: some bands are empty
    ]:
        with pytest.raises(RnnkitError, match=flag):
            FeatureConfig(**kwargs)


# -- LogMel ----------------------------------------------------------------------------------
def test_shapes_and_frame_lengths():
    lengths = torch.tensor([8000, 4000, 79, 80])
    wave = torch.zeros(4, 8000)
    for i, n in enumerate(lengths.tolist()):
        wave[i, :n] = noise(n, i)
    feats, frames = LogMel(FeatureConfig())(wave, lengths)
    assert feats.shape == (4, 8000 // 80 + 1, 40) and feats.dtype == torch.float32
    assert frames.tolist() == [101, 51, 1, 2]
    assert torch.equal(frames, frame_lengths(lengths, 80))
    assert torch.all(feats[1, 51:] == 0) and torch.all(feats[2, 1:] == 0)  # frames past the end
    mfcc, frames = LogMel(FeatureConfig(features="mfcc", n_mfcc=13))(wave, lengths)
    assert mfcc.shape == (4, 101, 13) and frames.tolist() == [101, 51, 1, 2]


@pytest.mark.parametrize("features,top_db,floor,pre", [("logmel", 0.0, "soft", 0.0), ("mfcc", 0.0, "soft", 0.0),
                                                       ("logmel", 30.0, "soft", 0.0), ("mfcc", 30.0, "soft", 0.0),
                                                       ("logmel", 30.0, "hard", 0.0), ("mfcc", 30.0, "hard", 0.0),
                                                       ("logmel", 30.0, "soft", 0.97)])
def test_clip_alone_equals_clip_in_padded_batch(features, top_db, floor, pre):
    logmel = LogMel(FeatureConfig(features=features, top_db=top_db, floor=floor, preemphasis=pre))
    short, long = noise(3037, 1), noise(8000, 2)  # 3037 is not a multiple of the hop
    alone, n_alone = logmel(short[None], torch.tensor([3037]))
    batch = torch.zeros(2, 8000)
    batch[0], batch[1, :3037] = long, short
    feats, frames = logmel(batch, torch.tensor([8000, 3037]))
    assert n_alone.item() == frames[1].item() == 3037 // 80 + 1 == alone.shape[1]
    torch.testing.assert_close(feats[1, : frames[1]], alone[0], atol=1e-5, rtol=0)
    # The padding's content does not matter: it is zeroed before the STFT.
    batch[1, 3037:] = 1.0
    torch.testing.assert_close(logmel(batch, torch.tensor([8000, 3037]))[0], feats, atol=0, rtol=0)


def around(x: torch.Tensor, before: int, after: int, noise_db: float | None = None) -> torch.Tensor:
    """``x`` with ``before`` and ``after`` samples of silence, or of noise ``noise_db`` dB under its RMS."""
    out = torch.cat([torch.zeros(before), x, torch.zeros(after)])
    if noise_db is not None:
        out = out + noise(len(out), 9) / 0.3 * x.square().mean().sqrt() * 10 ** (noise_db / 20)
    return out


def test_trim_cuts_silence_at_both_ends_whatever_its_length():
    """A word recorded with 1 s of silence before it and 0.7 s after gives the frames it gives with
    0.2 s on each side (both multiples of the hop, so the frames line up): only the ends beyond
    0.1 s of the sound are cut, the same frames in both, and the untrimmed clip is much longer."""
    word = tone(700.0, samples=4000) * torch.hann_window(4000)  # a swell, quiet at both ends
    long, short = around(word, 8000, 5600), around(word, 1600, 1600)
    logmel = LogMel(FeatureConfig())
    a, na = logmel(long[None], torch.tensor([len(long)]))
    b, nb = logmel(short[None], torch.tensor([len(short)]))
    _, n_untrimmed = LogMel(FeatureConfig(trim_db=0.0))(long[None], torch.tensor([len(long)]))
    assert na.item() == nb.item() == a.shape[1] == b.shape[1]
    assert n_untrimmed.item() == len(long) // 80 + 1 == 221
    assert 50 < na.item() <= 4000 // 80 + 1 + 2 * 10 + 4  # the swell's frames above -40 dB and 0.1 s each side
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    # the same clip inside a padded batch, beside a longer one, gives the same frames
    batch = torch.zeros(2, 24000)
    batch[0], batch[1, :len(long)] = noise(24000, 5), long
    feats, frames = logmel(batch, torch.tensor([24000, len(long)]))
    assert frames[1].item() == na.item()
    torch.testing.assert_close(feats[1, :na.item()], a[0], atol=1e-5, rtol=0)
    assert torch.all(feats[1, na.item():] == 0)


def test_trim_is_relative_to_the_clips_loudest_frame():
    """Noise 30 dB under the word is within 40 dB of it: nothing is cut; 50 dB under, it is cut; a
    quieter recording of the same clip is cut at the same frames; a clip of constant level, never."""
    word = tone(700.0, samples=4000)
    frames = {}
    for name, x in [("noise -30 dB", around(word, 8000, 8000, -30)), ("noise -50 dB", around(word, 8000, 8000, -50)),
                    ("quiet", 0.01 * around(word, 8000, 8000, -50))]:
        frames[name] = LogMel(FeatureConfig())(x[None], torch.tensor([len(x)]))[1].item()
    assert frames["noise -30 dB"] == 20000 // 80 + 1
    assert frames["noise -50 dB"] == frames["quiet"] < 4000 // 80 + 1 + 2 * 10 + 4
    assert LogMel(FeatureConfig())(noise(8000, 1)[None], torch.tensor([8000]))[1].item() == 101


def test_trim_frames_moves_the_kept_frames_to_the_front():
    energy = torch.tensor([[0.0, 1e-6, 1.0, 0.5, 1e-6, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    mel = energy[:, :, None].expand(-1, -1, 3) / 3  # (B=2, T=7, M=3): each frame's bands sum to its energy
    out, count = trim_frames(mel, torch.tensor([6, 2]), top_db=40.0, margin=1)
    assert count.tolist() == [4, 2]  # clip 0: frames 1-4 (2-3 above -40 dB, one more each side)
    torch.testing.assert_close(out[0, :, 0] * 3, torch.tensor([1e-6, 1.0, 0.5, 1e-6]))
    torch.testing.assert_close(out[1, :2], mel[1, :2])
    assert torch.all(out[1, 2:] == 0)  # clip 1 has 2 valid frames: the rest is zero


def reference_logmel(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """librosa.feature.melspectrogram(center=True, pad_mode="constant", power=2) spelled out in
    numpy (librosa's own call spends ~20 s compiling numba code): zero-pad n_fft/2 each side,
    periodic Hann frames every hop, |rfft|^2, librosa's filterbank, log(. + floor). (T, n_mels)."""
    librosa = pytest.importorskip("librosa")
    half = cfg.n_fft // 2
    padded = np.pad(x.astype(np.float64), (half, half))
    starts = np.arange(0, len(padded) - cfg.n_fft + 1, cfg.hop_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.n_fft) / cfg.n_fft)  # scipy "hann", fftbins=True
    power = np.abs(np.fft.rfft(padded[starts[:, None] + np.arange(cfg.n_fft)] * window, axis=1)) ** 2
    fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.f_min,
                             fmax=cfg.f_max, htk=False, norm="slaney", dtype=np.float64)
    return np.log(power @ fb.T + LOG_FLOOR)


def test_logmel_and_mfcc_equal_the_reference():
    scipy_fft = pytest.importorskip("scipy.fft")
    cfg = FeatureConfig(sample_rate=16000, n_fft=512, hop_length=160, n_mels=64, f_min=20.0, f_max=7600.0,
                        top_db=0.0)  # the floors are checked against these raw log-mels in their own test
    x = noise(5000, 3)
    ours, _ = LogMel(cfg)(x[None], torch.tensor([5000]))
    expected = reference_logmel(x.numpy(), cfg)
    assert ours.shape[1:] == expected.shape
    # float32 STFT against float64: measured max difference ~1e-6 (log domain)
    np.testing.assert_allclose(ours[0].numpy(), expected, atol=2e-5, rtol=0)
    mfcc_cfg = FeatureConfig(**{**cfg.__dict__, "features": "mfcc", "n_mfcc": 20})
    mfcc, _ = LogMel(mfcc_cfg)(x[None], torch.tensor([5000]))
    expected_mfcc = scipy_fft.dct(expected, type=2, norm="ortho", axis=1)[:, :20]  # as librosa.feature.mfcc
    np.testing.assert_allclose(mfcc[0].numpy(), expected_mfcc, atol=1e-4, rtol=0)


def test_preemphasis_equals_librosa_and_raises_the_high_band():
    librosa = pytest.importorskip("librosa")
    x = noise(4000, 3)
    cfg = FeatureConfig(top_db=0.0, preemphasis=0.97)
    ours, _ = LogMel(cfg)(x[None], torch.tensor([4000]))
    emphasized = librosa.effects.preemphasis(x.numpy().astype(np.float64), coef=0.97, zi=[0.0])
    np.testing.assert_allclose(ours[0].numpy(), reference_logmel(emphasized, cfg), atol=2e-4, rtol=0)
    # white noise: the filter |1 - 0.97 e^-iw|^2 takes ~30 dB off the lowest band, adds ~6 dB at the top
    plain, _ = LogMel(FeatureConfig(top_db=0.0))(x[None], torch.tensor([4000]))
    gain_db = (ours[0] - plain[0]).mean(0) * 10 / np.log(10)
    assert gain_db[0] < -20 and 4 < gain_db[-1] < 7


def test_tone_peaks_in_its_mel_band():
    cfg = FeatureConfig()
    feats, _ = LogMel(cfg)(tone(1000.0)[None], torch.tensor([8000]))
    band = int(feats[0, 10:-10].mean(dim=0).argmax())
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)
    bin_1k = round(1000 * cfg.n_fft / cfg.sample_rate)  # 1 kHz is exactly FFT bin 32
    assert band == int(fb[:, bin_1k].argmax())
    edges = mel_to_hz(np.linspace(0, hz_to_mel(4000.0), cfg.n_mels + 2))
    assert edges[band] < 1000 < edges[band + 2]  # the band's triangle spans 1 kHz


def test_frequency_warp_moves_a_tone_and_keeps_the_band():
    cfg = FeatureConfig()
    x = tone(1000.0)[None]
    spec = torch.stft(x, cfg.n_fft, cfg.hop_length, window=torch.hann_window(cfg.n_fft), return_complex=True)
    power = (spec.abs() ** 2).expand(3, -1, -1).contiguous()  # (3, bins, T): the same clip three times
    warped = warp_frequencies(power, torch.tensor([1.0, 0.9, 1.1]))
    torch.testing.assert_close(warped[0], power[0])  # a factor of 1 is the identity
    peaks = warped[:, :, 10:-10].mean(dim=-1).argmax(dim=-1)  # the 1 kHz tone sits at bin 32
    assert peaks.tolist() == [32, round(32 * 0.9), round(32 * 1.1)]
    top = power.shape[1] - 1  # the ends of the band stay in place, nothing is read past it
    torch.testing.assert_close(warped[:, [0, top]], power[:, [0, top]])
    assert torch.isfinite(warped).all() and (warped >= 0).all()
    # through the front end: a warped clip differs, an unwarped one equals the plain features
    feats, _ = LogMel(cfg)(x.expand(2, -1), torch.tensor([8000, 8000]), torch.tensor([1.0, 1.1]))
    plain, _ = LogMel(cfg)(x, torch.tensor([8000]))
    torch.testing.assert_close(feats[0], plain[0])
    assert not torch.allclose(feats[1], plain[0], atol=1e-2)


@pytest.mark.parametrize("floor", ["soft", "hard"])
def test_top_db_floors_each_clip_below_its_own_loudest_and_evens_out_noise_floors(floor):
    """The same tone recorded over noise 50 and 70 dB below it: far apart in the quiet bands
    without --top-db, alike with a 30 dB floor; cells well above the floor are (nearly) untouched.
    hard: max(log P, floor); soft: log(P + P_max 10^-3), a smooth floor."""
    quiet = [tone(500) + 0.5 * 10 ** (-db / 20) * noise(8000, 3) / 0.3 for db in (50, 70)]
    wave, lengths = torch.stack(quiet), torch.tensor([8000, 8000])
    raw, _ = LogMel(FeatureConfig(top_db=0.0))(wave, lengths)
    floored, _ = LogMel(FeatureConfig(top_db=30.0, floor=floor))(wave, lengths)
    step = 30 * np.log(10) / 10
    for i in range(2):
        floor_level = raw[i].max() - step
        if floor == "hard":
            expected = raw[i].clamp(min=float(floor_level))
        else:
            expected = torch.log(raw[i].exp() - LOG_FLOOR + float(floor_level.exp()) + LOG_FLOOR)
        torch.testing.assert_close(floored[i], expected, atol=1e-4, rtol=1e-5)
        assert floored[i].min() == pytest.approx(float(floor_level), abs=0.01 if floor == "soft" else 1e-5)
        loud = raw[i] > floor_level + 3  # 13 dB above the floor: within 0.05 nats either way
        assert loud.any() and (floored[i][loud] - raw[i][loud]).abs().max() < 0.06
    assert (raw[0] - raw[1]).abs().max() > 3  # 20 dB apart in the noise bands: 4.6 nats
    assert (floored[0] - floored[1]).abs().max() < 0.1


def test_silence_is_the_log_floor_and_float64_works():
    feats, _ = LogMel(FeatureConfig())(torch.zeros(1, 800, dtype=torch.float64), torch.tensor([800]))
    assert feats.dtype == torch.float64
    torch.testing.assert_close(feats, torch.full_like(feats, np.log(LOG_FLOOR)))


def test_bad_lengths_are_refused():
    logmel = LogMel(FeatureConfig())
    with pytest.raises(ValueError):
        logmel(torch.zeros(2, 100), torch.tensor([100, 101]))
    with pytest.raises(ValueError):
        logmel(torch.zeros(2, 100), torch.tensor([100]))


def test_no_parameters_and_nothing_in_the_state_dict():
    logmel = LogMel(FeatureConfig(features="mfcc"))
    assert list(logmel.parameters()) == [] and logmel.state_dict() == {}
