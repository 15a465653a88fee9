"""Decode audio files to mono float32 at the engine's rate.

soundfile (libsndfile) reads WAV of any PCM width and float, FLAC and OGG;
scipy's polyphase ``resample_poly`` converts the rate. Every failure is an
:class:`~kwsapp.errors.AudioFileError` naming the file and the problem.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from kwsapp.config import SAMPLE_RATE_HZ
from kwsapp.errors import AudioFileError

#: Longest file `load_audio` decodes whole (longer ones: use `iter_blocks`).
MAX_SECONDS = 3 * 3600


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample mono float32 ``audio`` from ``from_hz`` to ``to_hz``
    (polyphase FIR; the identity when the rates agree)."""
    audio = np.asarray(audio, dtype=np.float32)
    if from_hz == to_hz or audio.size == 0:
        return audio
    g = gcd(int(from_hz), int(to_hz))
    return scipy.signal.resample_poly(audio, to_hz // g, from_hz // g).astype(np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mean of the channels of ``[frames, channels]`` audio (mono passes)."""
    return audio if audio.ndim == 1 else audio.mean(axis=1, dtype=np.float32)


def _open(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioFileError(path, "no such file")
    if path.is_dir():
        raise AudioFileError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "file is empty (0 bytes)")
    try:
        return sf.SoundFile(str(path))
    except sf.LibsndfileError as exc:
        raise AudioFileError(path, f"not a readable audio file ({exc.error_string})") from None
    except (RuntimeError, OSError) as exc:
        raise AudioFileError(path, f"cannot be read ({exc})") from None


def audio_info(path: str | Path) -> tuple[int, int, float]:
    """``(sample_rate_hz, channels, seconds)`` of a file without decoding it."""
    path = Path(path)
    with _open(path) as f:
        return f.samplerate, f.channels, f.frames / float(f.samplerate)


def load_audio(path: str | Path, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Decode ``path`` to mono float32 in [-1, 1] at ``sample_rate_hz``.

    Raises:
        AudioFileError: the file is missing, empty, truncated, not audio, or
            holds no samples.
    """
    path = Path(path)
    with _open(path) as f:
        rate, frames = f.samplerate, f.frames
        if frames > MAX_SECONDS * rate:
            raise AudioFileError(path, f"too long ({frames / rate / 3600:.1f} h; at most "
                                       f"{MAX_SECONDS // 3600} h)")
        try:
            data = f.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(path, f"cannot be decoded ({exc})") from None
    if data.shape[0] == 0:
        raise AudioFileError(path, "holds no audio samples")
    if frames > 0 and data.shape[0] < frames:
        raise AudioFileError(path, f"truncated: header says {frames} samples, "
                                   f"only {data.shape[0]} present")
    if not np.all(np.isfinite(data)):
        raise AudioFileError(path, "holds NaN or infinite samples")
    return resample(to_mono(data), rate, sample_rate_hz)


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre-crop or zero-pad (both sides evenly) ``audio`` to ``n_samples``."""
    n = audio.shape[0]
    if n == n_samples:
        return audio
    if n > n_samples:
        start = (n - n_samples) // 2
        return audio[start:start + n_samples]
    left = (n_samples - n) // 2
    return np.pad(audio, (left, n_samples - n - left))
