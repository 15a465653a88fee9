"""webrtcvad speech detection: per-frame flags for a whole signal.

(The streaming speech gate with onset and hangover is built on the same
frames; see :class:`SpeechGate` below when present.)
"""

from __future__ import annotations

import numpy as np
import webrtcvad

from kwsapp.config import SAMPLE_RATE_HZ

#: Rates and frame lengths webrtcvad accepts.
VAD_RATES_HZ = (8000, 16000, 32000, 48000)
VAD_FRAME_MS = (10, 20, 30)


def to_pcm16(audio: np.ndarray) -> bytes:
    """float32 [-1, 1] -> little-endian int16 bytes (what webrtcvad reads)."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def speech_flags(audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ,
                 aggressiveness: int = 2, frame_ms: int = 30) -> np.ndarray:
    """One bool per whole ``frame_ms`` frame of ``audio``: webrtcvad's verdict.

    Args:
        audio: mono float32 in [-1, 1].
        sample_rate_hz: one of :data:`VAD_RATES_HZ`.
        aggressiveness: 0 (keeps most) .. 3 (filters most non-speech).
        frame_ms: 10, 20 or 30.
    Returns:
        bool array ``[len(audio) // frame_samples]``; a trailing partial frame
        is not judged.
    """
    if sample_rate_hz not in VAD_RATES_HZ or frame_ms not in VAD_FRAME_MS:
        raise ValueError(f"webrtcvad takes {VAD_RATES_HZ} Hz and {VAD_FRAME_MS} ms frames, "
                         f"not {sample_rate_hz} Hz / {frame_ms} ms")
    vad = webrtcvad.Vad(int(aggressiveness))
    n = sample_rate_hz * frame_ms // 1000
    pcm = to_pcm16(audio)
    count = len(audio) // n
    return np.fromiter((vad.is_speech(pcm[2 * i * n:2 * (i + 1) * n], sample_rate_hz)
                        for i in range(count)), dtype=bool, count=count)
