"""Features against straightforward references (scipy, closed forms)."""

import numpy as np
import scipy.signal

from kwsapp import features


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


def test_log_spectrogram_matches_scipy_reference():
    x = _noise(8000)
    _, _, spec = scipy.signal.spectrogram(x, fs=8000, window="hann", nperseg=160,
                                          noverlap=80, detrend=False)
    ref = np.log(spec.T.astype(np.float32) + 1e-10)
    got = features.log_spectrogram(x, 8000)
    assert got.shape == (99, 81) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_log_spectrogram_peak_at_tone_frequency():
    t = np.arange(8000) / 8000
    spec = features.log_spectrogram(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    assert np.all(spec.argmax(axis=1) == 20)  # 1 kHz / 50 Hz per bin


def test_mel_filterbank_rows_partition_the_band():
    fb = features.mel_filterbank(16000, 512, 40)
    assert fb.shape == (257, 40) and np.all(fb >= 0)
    centres = fb.argmax(axis=0)
    assert np.all(np.diff(centres) >= 0)  # filters ascend in frequency


def test_log_mel_and_mfcc_shapes_and_deltas():
    x = _noise(16000)
    assert features.log_mel(x).shape == (98, 40)
    m = features.mfcc(x, with_deltas=True)
    assert m.shape == (98, 39) and m.dtype == np.float32
    ramp = np.tile(np.arange(10, dtype=np.float32)[:, None], (1, 3))
    np.testing.assert_allclose(features.deltas(ramp)[2:-2], 1.0, atol=1e-6)


def test_mfcc_is_dct_of_log_mel():
    x = _noise(16000, seed=3)
    ref = scipy.fft.dct(features.log_mel(x), type=2, norm="ortho", axis=-1)[:, :13]
    np.testing.assert_allclose(features.mfcc(x), ref, rtol=1e-5, atol=1e-5)


def test_hann_window_is_scipys_without_importing_scipy_signal():
    """The periodic Hann window is scipy's, bit for bit, and computing
    features does not import scipy.signal (0.5-2 s: the live view's first
    spectrogram redraw paid it on the GUI thread)."""
    import subprocess
    import sys

    for n in (1, 2, 3, 160, 255, 256, 400, 480, 512, 1023):
        assert np.array_equal(features._hann(n),
                              scipy.signal.get_window("hann", n).astype(np.float32)), n
    code = ("import sys, numpy as np; from kwsapp import features; "
            "features.log_mel(np.zeros(16000, np.float32)); "
            "features.log_spectrogram(np.zeros(8000, np.float32), 8000); "
            "print('scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
