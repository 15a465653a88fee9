"""Properties of training/augment.py: noise colours have their spectral
slopes, mixing hits the requested SNR, shifts keep the samples, lengths hold."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from training.config import AugmentConfig
from training import augment

RATE_HZ = 16000

#: Expected slope in dB per octave of each colour.
SLOPES_DB_PER_OCT = {"white": 0.0, "pink": -3.0, "brown": -6.0, "blue": 3.0, "violet": 6.0}


def slope_db_per_octave(x: np.ndarray) -> float:
    """Least-squares slope of the Welch power spectrum in dB per octave,
    fitted over 100 Hz .. 6 kHz (away from DC and Nyquist)."""
    f, p = scipy.signal.welch(x, fs=RATE_HZ, nperseg=1024)
    band = (f >= 100) & (f <= 6000)
    return float(np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0])


@pytest.mark.parametrize("color", sorted(SLOPES_DB_PER_OCT))
def test_noise_colour_has_its_slope(color: str) -> None:
    x = augment.colored_noise(RATE_HZ * 4, color, np.random.default_rng(1))
    assert x.dtype == np.float32 and x.shape == (RATE_HZ * 4,)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-4)
    assert slope_db_per_octave(x) == pytest.approx(SLOPES_DB_PER_OCT[color], abs=0.5)


def test_unknown_colour_is_named() -> None:
    with pytest.raises(ValueError, match="grey"):
        augment.colored_noise(100, "grey", np.random.default_rng(0))


@settings(max_examples=40, deadline=None)
@given(snr_db=st.floats(-10, 40), n=st.integers(50, 4000), noise_n=st.integers(10, 6000),
       seed=st.integers(0, 2 ** 31), gain=st.floats(1e-3, 1.0))
def test_mix_hits_requested_snr(snr_db: float, n: int, noise_n: int, seed: int, gain: float) -> None:
    rng = np.random.default_rng(seed)
    signal = (gain * rng.standard_normal(n)).astype(np.float32)
    noise = rng.uniform(-1, 1, noise_n).astype(np.float32)
    mixed = augment.mix_at_snr(signal, noise, snr_db)
    assert mixed.shape == signal.shape and mixed.dtype == np.float32
    added = mixed.astype(np.float64) - signal
    measured = 10 * np.log10(np.mean(signal.astype(np.float64) ** 2) / np.mean(added ** 2))
    assert abs(measured - snr_db) < 0.5


def test_mix_into_silence_leaves_it_silent() -> None:
    out = augment.mix_at_snr(np.zeros(100, np.float32), np.ones(100, np.float32), 10.0)
    assert not out.any()


@given(n=st.integers(1, 3000), shift=st.integers(-4000, 4000))
def test_shift_keeps_samples(n: int, shift: int) -> None:
    x = np.arange(1, n + 1, dtype=np.float32)
    y = augment.time_shift(x, shift)
    assert y.shape == x.shape
    if shift >= 0:
        assert np.array_equal(y[shift:], x[:max(n - shift, 0)])
        assert not y[:shift].any()
    else:
        assert np.array_equal(y[:n + shift], x[-shift:]) if -shift < n else not y.any()
        assert not y[max(n + shift, 0):].any()


@settings(deadline=None)
@given(n=st.integers(16, 4000), factor=st.floats(0.7, 1.4))
def test_speed_perturb_keeps_length(n: int, factor: float) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    y = augment.speed_perturb(x, factor)
    assert y.shape == x.shape and y.dtype == np.float32


def test_speed_perturb_moves_pitch() -> None:
    t = np.arange(RATE_HZ) / RATE_HZ
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    faster = augment.speed_perturb(tone, 1.2)
    # The centre of the faster clip is a 1200 Hz tone (its ends are padding).
    spectrum = np.abs(np.fft.rfft(faster[4000:12000]))
    peak_hz = np.argmax(spectrum) * RATE_HZ / 8000
    assert peak_hz == pytest.approx(1200, abs=5)


def test_spec_augment_masks_bands_and_keeps_shape() -> None:
    spec = np.random.default_rng(0).standard_normal((99, 81)).astype(np.float32)
    cfg = AugmentConfig(spec_freq_masks=2, spec_freq_width=8, spec_time_masks=2, spec_time_width=10)
    masked = augment.spec_augment(spec, np.random.default_rng(3), cfg)
    assert masked.shape == spec.shape and masked.dtype == spec.dtype
    changed = masked != spec
    assert changed.any()
    # Masks are whole rows/columns: every changed cell lies in a fully
    # changed row or a fully changed column.
    rows, cols = changed.all(axis=1), changed.all(axis=0)
    assert np.array_equal(changed, rows[:, None] | cols[None, :])
    assert cols.sum() <= 16 and rows.sum() <= 20
    assert np.array_equal(augment.spec_augment(spec, np.random.default_rng(3), cfg), masked)


def test_augmenter_is_seeded_and_keeps_length(data_dir) -> None:
    from kwsapp.audio.io import load_audio
    clip = load_audio(next((data_dir / "yes").glob("*.wav")))
    background = [load_audio(p) for p in sorted((data_dir / "_background_noise_").glob("*.wav"))[:2]]
    aug = augment.Augmenter(background, AugmentConfig(noise_prob=1.0), seed=0)
    outs = [aug(clip, np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(outs[0], outs[1])
    assert outs[0].shape == clip.shape and outs[0].dtype == np.float32
    assert not np.array_equal(outs[0], clip)
    # Its own generator moves on between calls.
    assert not np.array_equal(aug(clip), aug(clip))


def test_augmenter_without_background_uses_colours() -> None:
    aug = augment.Augmenter([], AugmentConfig(noise_prob=1.0, speed_prob=0.0, shift_ms=0.0,
                                              snr_db_range=(10.0, 10.0)), seed=1)
    x = np.sin(np.linspace(0, 200, 8000)).astype(np.float32)
    y = aug(x)
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.5)
