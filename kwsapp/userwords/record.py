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
from kwsapp.audio.ringbuffer import RingBuffer
from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig
from kwsapp.errors import DeviceError
from kwsapp.userwords.takes import BadTakeError, Take, check_take


class TakeRecorder:
    """One take: ``seconds`` of a source's audio.

    The source's callback only copies into the buffer; :meth:`latest` (the
    level meter) and :meth:`audio` read it from other threads.

    Made with ``keep=False``, it drops what its source delivers until
    :meth:`keep`: the input is opened (0.25-0.5 s for a sound card's capture
    child) while a countdown runs, and the take starts at the countdown's
    end, not when the input happens to be ready. ``flowing`` is set by the
    first block delivered, kept or not: "say the word now" is said once it is
    set and the audio is kept. What is dropped still passes through a short
    ring (a RingBuffer, allocated beforehand too) that :meth:`latest` reads until the take
    starts: a level meter shows the input during the countdown.
    """

    HEARD_S = 0.25  # the ring of dropped audio: longer than a meter's span

    def __init__(self, source: Any, seconds: float, keep: bool = True) -> None:
        self.source = source
        self.rate = int(source.sample_rate_hz)
        self._buf = np.zeros(int(round(seconds * self.rate)), np.float32)
        self._pos = 0
        self._keep = keep
        self._heard = RingBuffer(max(1, int(round(self.HEARD_S * self.rate))))
        self.done = threading.Event()
        self.flowing = threading.Event()

    def _on_block(self, block: np.ndarray) -> None:
        if not self.flowing.is_set():
            self.flowing.set()
        if not self._keep:
            self._heard.write(block)  # before the take (its countdown): for the meter only
            return
        n = min(block.shape[0], self._buf.shape[0] - self._pos)
        if n > 0:
            self._buf[self._pos:self._pos + n] = block[:n]
            self._pos += n
        if self._pos >= self._buf.shape[0]:
            self.done.set()

    def start(self) -> None:
        self.source.start(self._on_block)

    def keep(self) -> None:
        """The take starts here: the blocks delivered from now on are kept."""
        self._keep = True

    def stop(self) -> None:
        self.source.stop()

    @property
    def fraction(self) -> float:
        return self._pos / self._buf.shape[0]

    def latest(self, seconds: float) -> np.ndarray:
        """The newest ``seconds`` recorded (16 kHz is not guaranteed: the
        source's rate), for a level meter; before the take starts, the
        newest heard and dropped (at most :attr:`HEARD_S`)."""
        n = int(seconds * self.rate)
        if not self._keep:
            return self._heard.latest(min(n, self._heard.total_written))
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
        try:
            return self.finish(timeout_s)
        finally:
            self.stop()

    def finish(self, timeout_s: float | None = None,
               on_audio: Callable[[], None] | None = None) -> np.ndarray:
        """Keep the audio from now on (:meth:`keep`) and wait until the take
        is full; 16 kHz audio. The source is started and is left running.

        Args:
            timeout_s: the longest wait (default: the take's length and 5 s).
            on_audio: called once audio flows (at once when it already
                does): when the take really starts.
        Raises:
            DeviceError: the source failed, or delivered no audio in time.
        """
        self.keep()
        limit = timeout_s if timeout_s is not None else self._buf.shape[0] / self.rate + 5.0
        deadline = time.monotonic() + limit
        while True:
            if on_audio is not None and self.flowing.is_set():  # before done: it is set first
                on_audio()
                on_audio = None
            if self.done.is_set():
                break
            # Waiting for the first block, on that: "now" as soon as it flows.
            if (self.done if on_audio is None else self.flowing).wait(0.05):
                continue
            error = getattr(self.source, "error", None)
            if error is not None:
                raise error if isinstance(error, DeviceError) else DeviceError(str(error))
            if time.monotonic() > deadline:
                raise DeviceError("the input delivered no audio while recording")
        return self.audio()


def _count_down_and_record(source: Any, seconds: float, countdown_s: float,
                           say: Callable[[str], None]) -> np.ndarray:
    """One take of ``seconds`` from ``source`` after a "3… 2… 1…" countdown
    (``countdown_s`` a step), 16 kHz. The input is opened before the
    countdown and what it delivers meanwhile dropped: opened at its end, the
    input started after "say the word now" (by as long as it takes to open),
    and the start of a word said on cue was lost. "Now" is said once the
    audio flows into the take.
    """
    recorder = TakeRecorder(source, seconds, keep=False)
    try:
        recorder.start()
        for k in (3, 2, 1):
            say(f"{k}…")
            time.sleep(countdown_s)
        recorder.keep()  # the take starts here, whether or not audio flows yet
        if not recorder.flowing.is_set():
            say("opening the input…")
        return recorder.finish(on_audio=lambda: say(f"say the word now ({seconds:g} s)"))
    finally:
        recorder.stop()


def record_takes(n: int, make_source: Callable[[], Any], config: UserWordsConfig,
                 say: Callable[[str], None], retries: int = 3,
                 countdown_s: float = 0.6) -> list[Take]:
    """Record ``n`` checked takes, asking again (up to ``retries`` times a
    take) when one is silent, clipped, too long or holds no word.

    Args:
        make_source: a fresh source per take (a stream is opened per take),
            made and started before the take's countdown, whose audio is
            dropped: the take starts at its end.
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
            audio = _count_down_and_record(
                source, config.record_s, countdown_s,
                say=lambda line, i=i: say(f"take {i}/{n}: {line}"))
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
