"""Audio features in numpy/scipy: the seed notes' log-spectrogram, log-mel and
MFCC (+ deltas). Vectorized and float32; no per-sample Python loops.

All functions take mono float32 audio in [-1, 1] and return
``[frames, bins]`` float32 arrays (time first, as the models expect).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Added before the log so silence gives a finite value (the seed's 1e-10).
LOG_EPS = 1e-10


def _frames(audio: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """Overlapping frames ``[n_frames, frame_len]`` as a strided view; audio
    shorter than one frame is zero-padded to one frame."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[0] < frame_len:
        audio = np.pad(audio, (0, frame_len - audio.shape[0]))
    return np.lib.stride_tricks.sliding_window_view(audio, frame_len)[::hop]


@lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    """Periodic Hann, bit for bit as ``scipy.signal.get_window('hann', n)``
    in float32 (a test checks). Not scipy's: importing scipy.signal takes
    0.5 s (2 s on a loaded machine), and the window's first redraw of the
    spectrogram paid it on the GUI thread."""
    if n == 1:
        return np.ones(1, np.float32)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def power_spectrogram(audio: np.ndarray, sample_rate_hz: int, window_ms: float,
                      step_ms: float, n_fft: int | None = None) -> np.ndarray:
    """Power spectral density per frame, scaled as
    ``scipy.signal.spectrogram(..., window='hann', detrend=False,
    scaling='density', mode='psd')``.

    Returns:
        ``[frames, n_fft // 2 + 1]`` float32.
    """
    nperseg = int(round(sample_rate_hz * window_ms / 1000.0))
    noverlap = int(round(sample_rate_hz * step_ms / 1000.0))
    # The seed passes the *step* as noverlap; with a 20 ms window and a
    # 10 ms step the two coincide (50 % overlap), so hop = nperseg - noverlap.
    hop = nperseg - noverlap
    n_fft = n_fft or nperseg
    window = _hann(nperseg)
    frames = _frames(audio, nperseg, hop) * window
    spec = np.abs(np.fft.rfft(frames, n=n_fft, axis=-1)) ** 2
    spec *= 1.0 / (sample_rate_hz * float(np.sum(window ** 2)))
    # One-sided density: double all but DC (and Nyquist for even n_fft).
    spec[:, 1:(n_fft - 1) // 2 + 1] *= 2.0
    return spec.astype(np.float32, copy=False)


def log_spectrogram(audio: np.ndarray, sample_rate_hz: int = 8000,
                    window_ms: float = 20.0, step_ms: float = 10.0,
                    eps: float = LOG_EPS) -> np.ndarray:
    """The seed notes' ``log_specgram``: natural log of the Hann-window PSD.

    A 1 s clip at 8 kHz (20 ms window, 10 ms step) gives ``[99, 81]``.
    """
    return np.log(power_spectrogram(audio, sample_rate_hz, window_ms, step_ms) + eps)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate_hz: int, n_fft: int, n_mels: int,
                   fmin_hz: float = 20.0, fmax_hz: float | None = None) -> np.ndarray:
    """Triangular mel filters ``[n_fft // 2 + 1, n_mels]`` (Slaney mel scale,
    area-normalized, as librosa's default ``htk=False, norm='slaney'``)."""
    fmax_hz = fmax_hz or sample_rate_hz / 2.0

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    fft_hz = np.linspace(0.0, sample_rate_hz / 2.0, n_fft // 2 + 1)
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    lower = (fft_hz[:, None] - mel_hz[None, :-2]) / np.diff(mel_hz)[None, :-1]
    upper = (mel_hz[None, 2:] - fft_hz[:, None]) / np.diff(mel_hz)[None, 1:]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= 2.0 / (mel_hz[2:] - mel_hz[:-2])[None, :]
    return weights.astype(np.float32)


def mel_power_spectrogram(audio: np.ndarray, sample_rate_hz: int = 16000,
                          n_mels: int = 40, window_ms: float = 25.0,
                          hop_ms: float = 10.0, n_fft: int = 512,
                          fmin_hz: float = 20.0,
                          fmax_hz: float | None = None) -> np.ndarray:
    """Mel power spectrogram ``[frames, n_mels]`` (|STFT|^2 through mel filters)."""
    win = int(round(sample_rate_hz * window_ms / 1000.0))
    hop = int(round(sample_rate_hz * hop_ms / 1000.0))
    frames = _frames(audio, win, hop) * _hann(win)
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=-1)) ** 2
    return (power @ mel_filterbank(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz)).astype(np.float32)


def log_mel(audio: np.ndarray, sample_rate_hz: int = 16000, n_mels: int = 40,
            window_ms: float = 25.0, hop_ms: float = 10.0, n_fft: int = 512,
            fmin_hz: float = 20.0, fmax_hz: float | None = None,
            eps: float = 1e-6) -> np.ndarray:
    """Natural-log mel spectrogram ``[frames, n_mels]`` float32."""
    mel = mel_power_spectrogram(audio, sample_rate_hz, n_mels, window_ms, hop_ms,
                                n_fft, fmin_hz, fmax_hz)
    return np.log(mel + eps).astype(np.float32)


def deltas(features: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas along time (the standard HTK formula, edges repeated)."""
    padded = np.pad(features, ((width, width), (0, 0)), mode="edge")
    t = features.shape[0]
    num = sum(k * (padded[width + k:width + k + t] - padded[width - k:width - k + t])
              for k in range(1, width + 1))
    denom = 2.0 * sum(k * k for k in range(1, width + 1))
    return (num / denom).astype(np.float32)


def mfcc(audio: np.ndarray, sample_rate_hz: int = 16000, n_mfcc: int = 13,
         n_mels: int = 40, with_deltas: bool = False, **mel_kwargs: float) -> np.ndarray:
    """MFCC ``[frames, n_mfcc]`` (DCT-II, ortho, of the log-mel); with
    ``with_deltas`` the first and second deltas are appended: ``[frames, 3*n_mfcc]``."""
    import scipy.fft

    coeffs = scipy.fft.dct(log_mel(audio, sample_rate_hz, n_mels, **mel_kwargs),
                           type=2, norm="ortho", axis=-1)[:, :n_mfcc].astype(np.float32)
    if not with_deltas:
        return coeffs
    d1 = deltas(coeffs)
    return np.concatenate([coeffs, d1, deltas(d1)], axis=-1)


#: Feature kinds a model card may name as its input, and their function.
FEATURES = {
    "log_spectrogram": log_spectrogram,
    "log_mel": log_mel,
    "mfcc": mfcc,
}


def compute(kind: str, audio: np.ndarray, **params: object) -> np.ndarray:
    """The feature ``kind`` (a key of :data:`FEATURES`) of ``audio``."""
    try:
        fn = FEATURES[kind]
    except KeyError:
        raise ValueError(f"unknown feature kind {kind!r}; known: {sorted(FEATURES)}") from None
    return fn(audio, **params)  # type: ignore[operator]
