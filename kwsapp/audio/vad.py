"""webrtcvad speech detection: per-frame flags for a whole signal
(:func:`speech_flags`) and the streaming speech gate with onset and hangover
(:class:`SpeechGate`) the engine windows on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
try:
    # The C module itself: webrtcvad.py only wraps it, but at import looks up
    # its own version with importlib.metadata, which scans every installed
    # distribution (0.12 s of a 0.5 s cold start in the dev venv).
    import _webrtcvad
except ImportError:  # pragma: no cover - another build of webrtcvad
    _webrtcvad = None

from kwsapp.config import SAMPLE_RATE_HZ, VadConfig, ms_to_samples

#: Rates and frame lengths webrtcvad accepts.
VAD_RATES_HZ = (8000, 16000, 32000, 48000)
VAD_FRAME_MS = (10, 20, 30)


class _Vad:
    """``webrtcvad.Vad`` on the C module directly (same calls)."""

    def __init__(self, mode: int) -> None:
        self._vad = _webrtcvad.create()
        _webrtcvad.init(self._vad)
        _webrtcvad.set_mode(self._vad, int(mode))

    def is_speech(self, pcm: bytes, sample_rate_hz: int) -> bool:
        return _webrtcvad.process(self._vad, sample_rate_hz, pcm, len(pcm) // 2)


def _new_vad(mode: int):
    """A webrtcvad detector at aggressiveness ``mode`` (0..3)."""
    if _webrtcvad is not None:
        return _Vad(mode)
    import webrtcvad

    return webrtcvad.Vad(int(mode))


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
    vad = _new_vad(int(aggressiveness))
    n = sample_rate_hz * frame_ms // 1000
    pcm = to_pcm16(audio)
    count = len(audio) // n
    return np.fromiter((vad.is_speech(pcm[2 * i * n:2 * (i + 1) * n], sample_rate_hz)
                        for i in range(count)), dtype=bool, count=count)


@dataclass
class SpeechRun:
    """Voiced frames with gaps shorter than ``word_gap_ms``: about one word.
    ``start``/``end`` are absolute sample indices at the gate's rate."""

    start: int
    end: int


def heard_run(runs: Sequence[SpeechRun], end: int, recent: int) -> SpeechRun | None:
    """The speech run a window ending at sample ``end`` decides about: the
    one that fills most of its last ``recent`` samples, the later on a tie
    (None without runs).

    A command is under a second long and fires within a few hundred ms of
    its end, so it is in the window's last second; the run that fills most
    of the whole 1.5 s window can be an earlier noise burst or word, and an
    event carrying that span lies on the wrong stretch of audio (missed by
    the stream scorer, the wrong audio in the GUI)."""
    start = end - recent
    return max(runs, default=None,
               key=lambda r: (min(r.end, end) - max(r.start, start), r.start))


class SpeechGate:
    """Streaming webrtcvad gate: opens after ``onset_ms`` of speech in a row,
    closes ``hangover_ms`` after the last speech frame.

    Feed it consecutive frames of ``frame_samples`` with :meth:`update` (or
    :meth:`judge` ahead and :meth:`advance` to each point in turn); the
    caller keeps the frames aligned to absolute sample positions (so block
    sizes never change the verdicts). With ``enabled=False`` the gate is
    always open and judges nothing.

    Thread use: one thread feeds it; others may read
    :meth:`flags` (a lagging view is harmless there).
    """

    def __init__(self, config: VadConfig, sample_rate_hz: int = SAMPLE_RATE_HZ,
                 history_seconds: float = 20.0) -> None:
        if sample_rate_hz not in VAD_RATES_HZ or config.frame_ms not in VAD_FRAME_MS:
            raise ValueError(f"webrtcvad takes {VAD_RATES_HZ} Hz and {VAD_FRAME_MS} ms frames")
        self.config = config
        self.sample_rate_hz = sample_rate_hz
        self.frame_samples = ms_to_samples(config.frame_ms, sample_rate_hz)
        self._onset_frames = max(1, int(np.ceil(config.onset_ms / config.frame_ms)))
        self._hangover_frames = int(np.ceil(config.hangover_ms / config.frame_ms))
        self._gap_samples = ms_to_samples(config.word_gap_ms, sample_rate_hz)
        self._min_power = 10.0 ** (config.min_level_dbfs / 10.0)
        self._vad = _new_vad(int(config.aggressiveness))
        self._flags = np.zeros(max(1, int(history_seconds * 1000 / config.frame_ms)), dtype=bool)
        self.frames_done = 0
        self._pending: deque[bool] = deque()  # verdicts judged, not yet taken in (judge)
        self.runs: deque[SpeechRun] = deque(maxlen=64)
        self.segment = 0  # counts gate openings
        self.is_open = not config.enabled
        self._voiced_streak = 0
        self._unvoiced_streak = 0

    @property
    def position(self) -> int:
        """Absolute sample index up to which audio was judged."""
        return self.frames_done * self.frame_samples

    @property
    def last_speech_end(self) -> int | None:
        """Sample index just after the last voiced frame (None: none yet)."""
        return self.runs[-1].end if self.runs else None

    def quiet_ms(self) -> float | None:
        """How long the speech has paused: ms from the end of the last voiced
        frame to the last judged one (inf: no speech yet; None: VAD off)."""
        if not self.config.enabled:
            return None
        last = self.last_speech_end
        if last is None:
            return float("inf")
        return (self.position - last) * 1000.0 / self.sample_rate_hz

    def frames_to_new_segment(self) -> int:
        """The fewest further frames after which the gate can be open in a
        new segment (closed, then opened again): until then the engine's
        smoother is not reset. Large when the gate is off (never closes)."""
        if not self.config.enabled:
            return 1 << 30
        close = max(1, self._hangover_frames + 1 - self._unvoiced_streak) if self.is_open else 0
        return close + self._onset_frames

    def set_aggressiveness(self, aggressiveness: int) -> None:
        """0 (keeps most) .. 3 (filters most); takes effect at the next frame
        judged (:meth:`judge`: the engine's next wake-up)."""
        if not 0 <= int(aggressiveness) <= 3:
            raise ValueError(f"VAD aggressiveness is 0..3, not {aggressiveness}")
        self._vad = _new_vad(int(aggressiveness))

    @property
    def judged_position(self) -> int:
        """Absolute sample index up to which frames were judged
        (:meth:`judge`), taken into the gate (:meth:`advance`) or not yet."""
        return (self.frames_done + len(self._pending)) * self.frame_samples

    def update(self, frames: np.ndarray) -> bool:
        """Judge the next frames and take them into the gate: ``k *
        frame_samples`` float32 samples, one or more whole frames in a row.
        Returns whether the gate is open after the last one."""
        return self.advance(self.judge(frames))

    def judge(self, frames: np.ndarray) -> int:
        """webrtcvad's verdicts on the next frames (after those judged so
        far), kept until :meth:`advance` takes them into the gate; returns
        how many. The engine judges all the whole frames that came since
        its last wake-up at once (one power and int16 conversion for them
        all), then advances the gate to each step's end in turn: the same
        verdicts in the same order as frame by frame. A new aggressiveness
        applies from the next frames judged."""
        fs = self.frame_samples
        k = frames.shape[0] // fs
        if k * fs != frames.shape[0]:
            raise ValueError(f"{frames.shape[0]} samples are not whole {fs}-sample frames")
        if not self.config.enabled:
            self._pending.extend([False] * k)
            return k
        # np.mean's own sum and division (the same float64 values), without
        # its Python wrapper: the pipeline calls this cold, once per wake-up.
        powers = np.add.reduce(np.square(frames.reshape(k, fs), dtype=np.float64), axis=1) / fs
        pcm = to_pcm16(frames)
        vad, rate, pending = self._vad, self.sample_rate_hz, self._pending
        for i, loud in enumerate((powers >= self._min_power).tolist()):
            # webrtcvad keeps state: it hears only the frames loud enough, as before.
            pending.append(loud and vad.is_speech(pcm[2 * i * fs:2 * (i + 1) * fs], rate))
        return k

    def advance(self, k: int) -> bool:
        """Take the next ``k`` judged frames into the gate: flags, runs,
        onset, hangover. Returns whether the gate is open after the last one."""
        if k > len(self._pending):
            raise ValueError(f"{k} frames asked, {len(self._pending)} judged")
        pending = self._pending
        if not self.config.enabled:
            for _ in range(k):
                pending.popleft()
                self._flags[self.frames_done % self._flags.shape[0]] = False
                self.frames_done += 1
            return True
        for _ in range(k):
            self._judged(pending.popleft())
        return self.is_open

    def _judged(self, voiced: bool) -> None:
        """Take the verdict on the next frame: flags, runs, onset, hangover."""
        start = self.position
        self._flags[self.frames_done % self._flags.shape[0]] = voiced
        self.frames_done += 1
        end = start + self.frame_samples
        if voiced:
            self._voiced_streak += 1
            self._unvoiced_streak = 0
            if self.runs and start - self.runs[-1].end < self._gap_samples:
                self.runs[-1].end = end
            else:
                self.runs.append(SpeechRun(start, end))
            if not self.is_open and self._voiced_streak >= self._onset_frames:
                self.is_open = True
                self.segment += 1
        else:
            self._voiced_streak = 0
            self._unvoiced_streak += 1
            if self.is_open and self._unvoiced_streak > self._hangover_frames:
                self.is_open = False

    def runs_in(self, start: int, end: int) -> list[SpeechRun]:
        """Copies of the speech runs that overlap samples ``[start, end)``."""
        return [SpeechRun(r.start, r.end) for r in list(self.runs)
                if r.end > start and r.start < end]

    def flags(self, start: int, n: int) -> np.ndarray:
        """Per-sample bool speech flags for absolute samples ``[start, start + n)``
        (False where not judged yet or already forgotten)."""
        out = np.zeros(max(0, n), dtype=bool)
        if n <= 0:
            return out
        fs = self.frame_samples
        done = self.frames_done
        first = max(start // fs, done - self._flags.shape[0], 0)
        last = min((start + n - 1) // fs, done - 1)
        if last < first:
            return out
        frames = np.arange(first, last + 1)
        per_frame = self._flags[frames % self._flags.shape[0]]
        idx = np.arange(start, start + n) // fs
        ok = (idx >= first) & (idx <= last)
        out[ok] = per_frame[idx[ok] - first]
        return out
