"""Record takes from an audio source (a microphone, or any
:class:`~kwsapp.audio.source.AudioSource`): a fixed span of audio per take,
copied by the callback into a buffer allocated beforehand, then resampled to
16 kHz and checked (:func:`~kwsapp.userwords.takes.check_take`).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np

from kwsapp.audio.io import resample
from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig
from kwsapp.errors import DeviceError
from kwsapp.userwords.takes import BadTakeError, Take, check_take


class TakeRecorder:
    """One take: ``seconds`` of a source's audio.

    The source's callback only copies into the buffer; :meth:`latest` (the
    level meter) and :meth:`audio` read it from other threads.
    """

    def __init__(self, source: Any, seconds: float) -> None:
        self.source = source
        self.rate = int(source.sample_rate_hz)
        self._buf = np.zeros(int(round(seconds * self.rate)), np.float32)
        self._pos = 0
        self.done = threading.Event()

    def _on_block(self, block: np.ndarray) -> None:
        n = min(block.shape[0], self._buf.shape[0] - self._pos)
        if n > 0:
            self._buf[self._pos:self._pos + n] = block[:n]
            self._pos += n
        if self._pos >= self._buf.shape[0]:
            self.done.set()

    def start(self) -> None:
        self.source.start(self._on_block)

    def stop(self) -> None:
        self.source.stop()

    @property
    def fraction(self) -> float:
        return self._pos / self._buf.shape[0]

    def latest(self, seconds: float) -> np.ndarray:
        """The newest ``seconds`` recorded (16 kHz is not guaranteed: the
        source's rate), for a level meter."""
        n = int(seconds * self.rate)
        pos = self._pos
        return self._buf[max(0, pos - n):pos].copy()

    def audio(self) -> np.ndarray:
        """What was recorded so far, at 16 kHz."""
        return resample(self._buf[:self._pos].copy(), self.rate, SAMPLE_RATE_HZ)

    def record(self, timeout_s: float | None = None) -> np.ndarray:
        """Start, wait until full (or the source fails), stop; 16 kHz audio.

        Raises:
            DeviceError: the source stopped delivering audio.
        """
        self.start()
        limit = timeout_s if timeout_s is not None else self._buf.shape[0] / self.rate + 5.0
        try:
            deadline = time.monotonic() + limit
            while not self.done.wait(0.05):
                error = getattr(self.source, "error", None)
                if error is not None:
                    raise error if isinstance(error, DeviceError) else DeviceError(str(error))
                if time.monotonic() > deadline:
                    raise DeviceError("the input delivered no audio while recording")
        finally:
            self.stop()
        return self.audio()


def record_takes(n: int, make_source: Callable[[], Any], config: UserWordsConfig,
                 say: Callable[[str], None], retries: int = 3,
                 countdown_s: float = 0.6) -> list[Take]:
    """Record ``n`` checked takes, asking again (up to ``retries`` times a
    take) when one is silent, clipped, too long or holds no word.

    Args:
        make_source: a fresh source per take (a stream is opened per take),
            made before the take's countdown.
        say: where prompts and problems go (one line each).
    Raises:
        BadTakeError: a take failed ``retries + 1`` times.
        DeviceError: no input device (before any countdown), or it failed.
    """
    takes: list[Take] = []
    for i in range(1, n + 1):
        for attempt in range(retries + 1):
            # Before the countdown: with no input device, say so at once
            # rather than after asking for the word.
            source = make_source()
            for k in (3, 2, 1):
                say(f"take {i}/{n}: {k}…")
                time.sleep(countdown_s)
            say(f"take {i}/{n}: say the word now ({config.record_s:g} s)")
            audio = TakeRecorder(source, config.record_s).record()
            try:
                take = check_take(audio, f"take {i}", config)
            except BadTakeError as exc:
                if attempt == retries:
                    raise
                say(f"{exc}; again")
                continue
            say(f"take {i}/{n}: ok ({take.speech_s:.2f} s of speech)")
            takes.append(take)
            break
    return takes
