"""kwsapp.features (numpy/scipy) against librosa and scipy on 1 s clips."""

from __future__ import annotations

import numpy as np
import scipy.signal

from benchmarks import Row, best_ms
from kwsapp import features


def run(quick: bool = False) -> list[Row]:
    import librosa

    repeat = 3 if quick else 9
    rng = np.random.default_rng(0)
    x16 = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    x8 = x16[::2].copy()
    rows = []

    def ref_spec() -> np.ndarray:
        _, _, s = scipy.signal.spectrogram(x8, fs=8000, window="hann", nperseg=160,
                                           noverlap=80, detrend=False)
        return np.log(s.T.astype(np.float32) + 1e-10)

    rows.append(Row("log_spectrogram 99x81 (8 kHz)",
                    best_ms(lambda: features.log_spectrogram(x8), repeat),
                    "scipy.signal.spectrogram + log", best_ms(ref_spec, repeat)))

    def ref_mel() -> np.ndarray:
        s = librosa.feature.melspectrogram(y=x16, sr=16000, n_fft=512, win_length=400,
                                           hop_length=160, n_mels=40, fmin=20.0, center=False,
                                           power=2.0)
        return np.log(s + 1e-6)

    rows.append(Row("log_mel 40 bands (16 kHz)", best_ms(lambda: features.log_mel(x16), repeat),
                    "librosa melspectrogram + log", best_ms(ref_mel, repeat)))

    def ref_mfcc() -> np.ndarray:
        m = librosa.feature.mfcc(y=x16, sr=16000, n_mfcc=13, n_fft=512, win_length=400,
                                 hop_length=160, n_mels=40, fmin=20.0, center=False)
        d1 = librosa.feature.delta(m, width=5, mode="nearest")
        return np.concatenate([m, d1, librosa.feature.delta(d1, width=5, mode="nearest")])

    rows.append(Row("mfcc 13 + deltas (16 kHz)",
                    best_ms(lambda: features.mfcc(x16, with_deltas=True), repeat),
                    "librosa mfcc + delta", best_ms(ref_mfcc, repeat)))
    return rows
