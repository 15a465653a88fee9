"""Training-time augmentation on waveforms (and SpecAugment on spectrograms).

Coloured noise is made as in the seed's WavCeption notebook: white Gaussian
noise shaped in the frequency domain so its power falls or rises with a fixed
slope per octave. Real background recordings are mixed at a random SNR; clips
are shifted in time and perturbed in speed (and so in pitch). All functions
are numpy/scipy only (no TensorFlow) and take an explicit
``numpy.random.Generator`` so a run is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal

from kwsapp.config import SAMPLE_RATE_HZ, ms_to_samples
from training.config import AugmentConfig

#: Power slope of each noise colour as the exponent of f in P(f) ~ f**k
#: (k = 1 is +3.01 dB per octave).
NOISE_POWER_EXPONENT: dict[str, float] = {
    "white": 0.0,
    "pink": -1.0,  # -3 dB/oct
    "brown": -2.0,  # -6 dB/oct (a.k.a. red / Brownian)
    "blue": 1.0,  # +3 dB/oct
    "violet": 2.0,  # +6 dB/oct
}


def colored_noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of ``n`` samples with the spectral slope of ``color``.

    Args:
        n: number of samples (>= 1).
        color: a key of :data:`NOISE_POWER_EXPONENT`.
        rng: random source.

    Returns:
        ``[n]`` float32, zero mean, unit RMS.
    """
    try:
        exponent = NOISE_POWER_EXPONENT[color]
    except KeyError:
        raise ValueError(f"unknown noise colour {color!r}; known: "
                         f"{', '.join(NOISE_POWER_EXPONENT)}") from None
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    # Amplitude goes with the square root of the power slope; the DC bin
    # (f = 0) would be infinite or zero for coloured noise, so drop it.
    gain = np.zeros_like(freqs)
    gain[1:] = freqs[1:] ** (exponent / 2.0)
    noise = np.fft.irfft(spectrum * gain, n=n)
    rms = float(np.sqrt(np.mean(noise ** 2)))
    if rms == 0.0:  # n <= 2: nothing but DC/Nyquist left
        return np.zeros(n, np.float32)
    return (noise / rms).astype(np.float32)


def fit_noise(noise: np.ndarray, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``n`` samples of ``noise``: a random crop of a longer recording, or the
    recording repeated to cover ``n`` (crop from the start when ``rng`` is None)."""
    noise = np.asarray(noise, np.float32)
    if noise.size == 0:
        raise ValueError("empty noise recording")
    if noise.size < n:
        noise = np.tile(noise, int(np.ceil(n / noise.size)))
    start = 0 if rng is None else int(rng.integers(0, noise.size - n + 1))
    return noise[start:start + n]


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus ``noise`` scaled so that the mix has SNR ``snr_db``.

    SNR is the ratio of the mean power of ``signal`` to that of the added
    noise over the signal's length. Noise shorter than the signal is repeated,
    longer is cropped from its start. A silent signal (or silent noise) has no
    defined SNR: the signal is returned unchanged.

    Returns:
        ``[len(signal)]`` float32 (not clipped).
    """
    signal = np.asarray(signal, np.float32)
    noise = fit_noise(noise, signal.size)
    p_signal = float(np.mean(signal.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    if p_signal == 0.0 or p_noise == 0.0:
        return signal.copy()
    scale = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (signal + scale * noise).astype(np.float32)


def time_shift(x: np.ndarray, shift_samples: int) -> np.ndarray:
    """``x`` delayed by ``shift_samples`` (advanced when negative); the
    samples moved in are zeros, the length is kept."""
    x = np.asarray(x, np.float32)
    out = np.zeros_like(x)
    s = int(shift_samples)
    if abs(s) >= x.size:
        return out
    if s >= 0:
        out[s:] = x[:x.size - s]
    else:
        out[:s] = x[-s:]
    return out


def center_fit(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cropped or zero-padded to ``n`` samples around its centre."""
    if x.size >= n:
        start = (x.size - n) // 2
        return x[start:start + n]
    before = (n - x.size) // 2
    return np.pad(x, (before, n - x.size - before))


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """``x`` played ``factor`` times faster (speed and pitch both change),
    by Fourier resampling (``scipy.signal.resample``), then cropped or
    zero-padded around its centre to the original length.

    Returns:
        ``[len(x)]`` float32.
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    x = np.asarray(x, np.float32)
    n_new = max(1, int(round(x.size / factor)))
    if n_new == x.size:
        return x.copy()
    y = scipy.signal.resample(x, n_new).astype(np.float32)
    return center_fit(y, x.size)


def spec_augment(spec: np.ndarray, rng: np.random.Generator,
                 config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """SpecAugment frequency and time masking (Park et al. 2019, no warping).

    Each mask covers a random band of up to ``spec_freq_width`` bins (or
    ``spec_time_width`` frames) and is filled with the spectrogram's mean, so a
    log-spectrogram keeps its level.

    Args:
        spec: ``[frames, bins]`` (a trailing channel axis is allowed).

    Returns:
        A masked copy, same shape and dtype.
    """
    out = np.array(spec, copy=True)
    fill = out.mean()
    frames, bins = out.shape[0], out.shape[1]
    for axis_len, count, width, axis in ((bins, config.spec_freq_masks, config.spec_freq_width, 1),
                                         (frames, config.spec_time_masks, config.spec_time_width, 0)):
        for _ in range(count):
            w = int(rng.integers(0, min(width, axis_len) + 1))
            if w == 0:
                continue
            start = int(rng.integers(0, axis_len - w + 1))
            if axis == 0:
                out[start:start + w] = fill
            else:
                out[:, start:start + w] = fill
    return out


class Augmenter:
    """Random waveform augmentation for one clip at a time.

    Applies, in order and each with the probability ``config`` gives: speed
    perturbation, time shift, then noise at a random SNR (a real background
    recording with probability ``background_share`` when there are any, else
    a generated colour).

    Args:
        background: noise recordings at ``sample_rate_hz`` (e.g. the data
            set's ``_background_noise_``), float32; may be empty.
        config: augmentation settings.
        seed: seed of the generator used when ``__call__`` gets no ``rng``.
        sample_rate_hz: rate of the clips (converts ``shift_ms``).
    """

    def __init__(self, background: Sequence[np.ndarray], config: AugmentConfig = AugmentConfig(),
                 seed: int = 0, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.background = [np.asarray(b, np.float32) for b in background if np.size(b) > 0]
        self.config = config
        self.sample_rate_hz = sample_rate_hz
        self.rng = np.random.default_rng(seed)

    def noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples of a random noise: background crop or a colour."""
        cfg = self.config
        if self.background and (not cfg.noise_colors or rng.random() < cfg.background_share):
            return fit_noise(self.background[int(rng.integers(len(self.background)))], n, rng)
        color = cfg.noise_colors[int(rng.integers(len(cfg.noise_colors)))]
        return colored_noise(n, color, rng)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """An augmented copy of waveform ``x`` (``[n]`` float32, same length)."""
        rng = self.rng if rng is None else rng
        cfg = self.config
        y = np.asarray(x, np.float32)
        if rng.random() < cfg.speed_prob:
            y = speed_perturb(y, float(rng.uniform(*cfg.speed_range)))
        max_shift = ms_to_samples(cfg.shift_ms, self.sample_rate_hz)
        if max_shift > 0:
            y = time_shift(y, int(rng.integers(-max_shift, max_shift + 1)))
        if rng.random() < cfg.noise_prob and (self.background or cfg.noise_colors):
            y = mix_at_snr(y, self.noise(y.size, rng), float(rng.uniform(*cfg.snr_db_range)))
        return y.astype(np.float32, copy=False)


def room_impulse_response(rt60_s: float, drr_db: float, rng: np.random.Generator,
                          sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """A short synthetic room impulse response: the direct path, then
    exponentially decaying Gaussian noise (the late reverberation of a
    diffuse room) starting 2-8 ms later, low-passed because walls absorb
    highs first.

    Args:
        rt60_s: time for the tail to fall by 60 dB (0.1-0.8 s: small room to hall).
        drr_db: direct-to-reverberant energy ratio (high: close talker, dry).

    Returns:
        ``[n]`` float32, the direct path at 1.0 in sample 0.
    """
    if rt60_s <= 0:
        raise ValueError(f"rt60 must be positive, got {rt60_s}")
    n_tail = max(1, int(rt60_s * sample_rate_hz))
    t = np.arange(n_tail) / sample_rate_hz
    # 60 dB down at rt60: amplitude exp(-ln(1000) t / rt60).
    tail = rng.standard_normal(n_tail) * np.exp(-np.log(1000.0) * t / rt60_s)
    sos = scipy.signal.butter(2, min(0.99, 5000.0 / (sample_rate_hz / 2)), output="sos")
    tail = scipy.signal.sosfilt(sos, tail)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / max(float(np.sum(tail ** 2)), 1e-12))
    gap = ms_to_samples(float(rng.uniform(2.0, 8.0)), sample_rate_hz)
    rir = np.zeros(gap + n_tail, np.float64)
    rir[0] = 1.0
    rir[gap:] += tail
    return rir.astype(np.float32)


def reverb(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``rir`` (``scipy.signal.fftconvolve``), cut to
    ``len(x)`` and rescaled to ``x``'s peak so the level stays comparable."""
    x = np.asarray(x, np.float32)
    if x.size == 0:
        return x.copy()
    y = scipy.signal.fftconvolve(x, rir)[:x.size]
    peak_x, peak_y = float(np.abs(x).max()), float(np.abs(y).max())
    if peak_y > 0:
        y *= peak_x / peak_y
    return y.astype(np.float32)


def mic_color(x: np.ndarray, rng: np.random.Generator,
              sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """``x`` through a random "microphone": a band limit (high-pass at
    60-400 Hz, low-pass at 3.4-7.5 kHz, like a cheap laptop or headset
    microphone) and two random resonances or dips of +-8 dB.

    Returns:
        ``[len(x)]`` float32.
    """
    x = np.asarray(x, np.float32)
    nyq = sample_rate_hz / 2
    lo = float(rng.uniform(60.0, 400.0))
    hi = float(min(rng.uniform(3400.0, 7500.0), 0.95 * nyq))
    sos = scipy.signal.butter(int(rng.integers(1, 4)), [lo / nyq, hi / nyq], btype="band",
                              output="sos")
    y = scipy.signal.sosfilt(sos, x.astype(np.float64))
    for _ in range(2):
        # A peaking EQ as x + g * bandpass(x): gain 1 + g at the centre, 1 far away.
        centre = float(np.exp(rng.uniform(np.log(200.0), np.log(0.9 * hi))))
        b, a = scipy.signal.iirpeak(centre / nyq, float(rng.uniform(1.0, 4.0)))
        gain = 10.0 ** (float(rng.uniform(-8.0, 8.0)) / 20.0) - 1.0
        y = y + gain * scipy.signal.lfilter(b, a, y)
    return y.astype(np.float32)
