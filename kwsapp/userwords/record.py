"""Record takes from an audio source (a microphone, or any
:class:`~kwsapp.audio.source.AudioSource`): a fixed span of audio per take,
copied by the callback into a buffer allocated beforehand, then resampled to
16 kHz and checked (:func:`~kwsapp.userwords.takes.check_take`).

A take's input is held to the limits of :class:`InputWatch` (open within
``record_open_s``, audio within ``record_no_audio_s``), by ``kwsapp enrol
--record`` here and by the Add word dialog's timer alike, with the same
words: past them the take ends saying which device to leave.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import numpy as np

from kwsapp.audio.io import resample
from kwsapp.audio.ringbuffer import RingBuffer
from kwsapp.audio.source import skip_portaudio_exit_handler
from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig
from kwsapp.errors import DeviceError
from kwsapp.userwords.takes import BadTakeError, Take, check_take

log = logging.getLogger(__name__)


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

    @property
    def received(self) -> int:
        """Samples the source delivered so far, kept or dropped (read by
        :class:`InputWatch`: the callback only copies, it stamps nothing)."""
        return self._heard.total_written + self._pos

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

    def record(self, watch: "InputWatch") -> np.ndarray:
        """Start, wait until full (or the source fails), stop; 16 kHz audio.

        Raises:
            DeviceError: the source failed, or broke ``watch``'s limits.
        """
        self.start()
        watch.opened(self)
        try:
            return self.finish(watch)
        finally:
            self.stop()

    def finish(self, watch: "InputWatch",
               on_audio: Callable[[], None] | None = None) -> np.ndarray:
        """Keep the audio from now on (:meth:`keep`) and wait until the take
        is full; 16 kHz audio. The source is started and is left running.

        Args:
            watch: the input's limits (told of this recorder).
            on_audio: called once audio flows (at once when it already
                does): when the take really starts.
        Raises:
            DeviceError: the source failed, or sent no audio within the
                watch's limit.
        """
        self.keep()
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
            problem = watch.expired()
            if problem is not None:
                raise problem
        return self.audio()


#: What every take given up on its input's limits ends saying.
PICK_ANOTHER = "pick another input device"


def input_name(device: Any, source: Any = None) -> str:
    """A take's input as its messages name it: the device the source
    opened (its own name), else the one asked for (None: the default)."""
    name = getattr(source, "device_name", None) or device
    return "the default input device" if name is None else f"input device {str(name)!r}"


class InputWatch:
    """The limits one take's input is held to, from when it was asked for:
    open within ``config.record_open_s``, then audio within
    ``config.record_no_audio_s`` of its opening (countdown included) or of
    its last audio. Whoever waits for the take asks :meth:`expired` now and
    then (``enrol --record``'s loops, the Add word dialog's timer): one
    clock and one wording for both.

    Args:
        device: the device asked for (None: the default), for messages
            until the source names its own.
        config: the limits.
    """

    def __init__(self, device: Any, config: UserWordsConfig) -> None:
        self.device = device
        self.config = config
        self.asked_at = time.monotonic()
        self.recorder: TakeRecorder | None = None
        self._received = 0  # the recorder's count when last looked at
        self._heard_at = 0.0  # when that count last moved (or the input opened)

    def opened(self, recorder: TakeRecorder) -> None:
        """The input is open: ``recorder`` started on it."""
        self.recorder = recorder
        self._received = recorder.received
        self._heard_at = time.monotonic()

    @property
    def name(self) -> str:
        """The input, as messages name it (:func:`input_name`)."""
        return input_name(self.device, getattr(self.recorder, "source", None))

    def expired(self) -> DeviceError | None:
        """Why the take is to be given up now (None: not yet): the input
        did not open in time, or sent no audio in time."""
        now, rec, config = time.monotonic(), self.recorder, self.config
        if rec is None:
            if now - self.asked_at > config.record_open_s:
                return DeviceError(f"{self.name} did not open in {config.record_open_s:g} s; "
                                   f"{PICK_ANOTHER}")
            return None
        if rec.done.is_set():
            return None
        received = rec.received
        if received != self._received:
            self._received, self._heard_at = received, now
            return None
        if now - self._heard_at <= config.record_no_audio_s:
            return None
        if rec.flowing.is_set():
            return DeviceError(f"{self.name} stopped sending audio (none in "
                               f"{config.record_no_audio_s:g} s); {PICK_ANOTHER}")
        return DeviceError(f"{self.name} sent no audio in {config.record_no_audio_s:g} s; "
                           f"{PICK_ANOTHER}")


class _Opening:
    """A take's source made and its recorder started on a thread of its own
    (``kwsapp-open-input``), so that the waiter can give up on an open that
    blocks: nothing interrupts a blocking open (PortAudio's, a capture
    child's wait for its answer), so it is abandoned instead. The thread is
    a daemon (it never holds the process at exit) and stops what it opens
    should the open end after all, too late."""

    def __init__(self, make_source: Callable[[], Any], seconds: float) -> None:
        self.ended = threading.Event()
        self.recorder: TakeRecorder | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._abandoned = False
        self.thread = threading.Thread(target=self._open, args=(make_source, seconds),
                                       name="kwsapp-open-input", daemon=True)
        self.thread.start()

    def _open(self, make_source: Callable[[], Any], seconds: float) -> None:
        recorder = error = None
        try:
            source = make_source()
            try:
                recorder = TakeRecorder(source, seconds, keep=False)
                recorder.start()
            except BaseException:
                source.stop()  # a capture child must not outlive what never started
                raise
        except Exception as exc:  # noqa: BLE001 - handed to the waiter
            error = exc
        with self._lock:
            late = self._abandoned
            if not late:
                self.recorder, self.error = recorder, error
                self.ended.set()
        if late and recorder is not None:
            recorder.stop()  # nobody records from it any more

    def abandon(self) -> bool:
        """Give the open up, unless it has just ended; whether it was."""
        with self._lock:
            if self.ended.is_set():
                return False
            self._abandoned = True
        return True


def open_in_time(make_source: Callable[[], Any], seconds: float, watch: InputWatch,
                 poll_s: float = 0.05) -> TakeRecorder:
    """A :class:`TakeRecorder` of ``seconds`` on a new source, started (its
    audio dropped until ``keep()``), within ``watch``'s open limit.

    Raises:
        DeviceError: the source could not be made or started, or did not
            open in time (its open is then abandoned: :class:`_Opening`).
    """
    opening = _Opening(make_source, seconds)
    problem = None
    try:
        while problem is None and not opening.ended.wait(poll_s):
            problem = watch.expired()
            if problem is not None and not opening.abandon():
                problem = None  # it ended just now: taken as it is
    except BaseException:  # Ctrl-C while it opens: what opens is closed
        if not opening.abandon() and opening.recorder is not None:
            opening.recorder.stop()
        raise
    if problem is not None:
        log.info("%s: its open is left to itself", problem)
        # It may hang inside this process's PortAudio, whose exit handler
        # would then hang on it too.
        skip_portaudio_exit_handler()
        raise problem
    if opening.error is not None:
        raise opening.error
    watch.opened(opening.recorder)
    return opening.recorder


def _count_down_and_record(make_source: Callable[[], Any], seconds: float,
                           countdown_s: float, say: Callable[[str], None],
                           watch: InputWatch) -> np.ndarray:
    """One take of ``seconds`` from a new source after a "3… 2… 1…"
    countdown (``countdown_s`` a step), 16 kHz, held to ``watch``'s limits.
    The input is opened before the countdown and what it delivers meanwhile
    dropped: opened at its end, the input started after "say the word now"
    (by as long as it takes to open), and the start of a word said on cue
    was lost. "Now" is said once the audio flows into the take.
    """
    # Before the countdown: with no input device, say so at once rather
    # than after asking for the word.
    recorder = open_in_time(make_source, seconds, watch)
    try:
        for k in (3, 2, 1):
            say(f"{k}…")
            time.sleep(countdown_s)
        recorder.keep()  # the take starts here, whether or not audio flows yet
        if not recorder.flowing.is_set():
            say("opening the input…")
        return recorder.finish(watch, on_audio=lambda: say(f"say the word now ({seconds:g} s)"))
    finally:
        recorder.stop()


def record_takes(n: int, make_source: Callable[[], Any], config: UserWordsConfig,
                 say: Callable[[str], None], retries: int = 3,
                 countdown_s: float = 0.6, device: Any = None) -> list[Take]:
    """Record ``n`` checked takes, asking again (up to ``retries`` times a
    take) when one is silent, clipped, too long or holds no word.

    Args:
        make_source: a fresh source per take (a stream is opened per take),
            made and started before the take's countdown, whose audio is
            dropped: the take starts at its end.
        say: where prompts and problems go (one line each).
        device: the device ``make_source`` opens (None: the default), as
            messages name it.
    Raises:
        BadTakeError: a take failed ``retries + 1`` times.
        DeviceError: no input device (before any countdown), it failed, or
            it broke :class:`InputWatch`'s limits (``config``).
    """
    takes: list[Take] = []
    for i in range(1, n + 1):
        for attempt in range(retries + 1):
            audio = _count_down_and_record(
                make_source, config.record_s, countdown_s,
                say=lambda line, i=i: say(f"take {i}/{n}: {line}"),
                watch=InputWatch(device, config))
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
