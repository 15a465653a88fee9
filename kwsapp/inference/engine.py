"""The streaming engine: audio source -> 16 kHz ring -> speech gate ->
windows -> recognizer -> smoother -> :class:`CommandEvent`.

Threads (no Qt here; callbacks run on the engine's threads)::

    audio callback   copies each block into a raw ring (realtime sources)
    pipeline         raw ring -> resample to 16 kHz -> ring -> VAD frames ->
                     gate -> every hop while open: the last window -> queue
    inference        queue -> recognizer -> smoother -> on_window / on_event

Windows end at absolute multiples of the hop and VAD frames are aligned to
absolute sample positions, so the block size of the source never changes
which windows are classified. A realtime source's queue holds ``queue_size``
windows and drops the oldest when inference falls behind (counted); a
non-realtime :class:`~kwsapp.audio.source.FileSource` blocks instead, so a
file gives the same events whatever its block size.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from kwsapp.audio.io import StreamResampler
from kwsapp.audio.ringbuffer import RingBuffer, RingOverrun
from kwsapp.audio.source import AudioSource
from kwsapp.audio.vad import SpeechGate, SpeechRun
from kwsapp.config import SAMPLE_RATE_HZ, Config, ms_to_samples
from kwsapp.errors import DeviceError, KwsError
from kwsapp.inference.recognizer import Recognizer
from kwsapp.inference.smoothing import Smoother

log = logging.getLogger(__name__)

#: How long worker threads wait on a queue before checking for a stop.
_WAIT_S = 0.05


@dataclass(frozen=True)
class CommandEvent:
    """A recognized command. Times are seconds from the stream start."""

    label: str
    score: float
    start: float  # span of audio where the word was heard (its speech run
    end: float  # within the window that fired, or that window)
    emitted_at: float  # stream time when the event was emitted
    latency: float  # emitted_at - end (word end per VAD -> emission)


@dataclass(frozen=True)
class DecisionInput:
    """What the decision layer was given for one window (``on_decision``):
    enough to re-run the smoother alone with other settings (the tuner)."""

    time: float  # stream time (s) of the window's last sample
    probs: np.ndarray  # [n_labels] float32, recognizer.labels order
    word: int | None  # the smoother's word key: start sample of the window's speech run
    gate_reopened: bool  # the speech gate closed since the last window: smoother reset
    span: tuple[float, float]  # (s) the start/end an event fired by this window carries


@dataclass(frozen=True)
class WindowResult:
    """One classified window."""

    end: float  # stream time (s) of the window's last sample
    probs: np.ndarray  # [n_labels] float32 in recognizer.labels order
    infer_ms: float


@dataclass
class EngineStats:
    xruns: int = 0  # input overflows reported by the device
    dropped_windows: int = 0  # windows dropped because inference lagged
    infer_ms: float = 0.0  # last window's front end + model time
    latency_ms: float = 0.0  # last event's word end -> emission
    overruns: int = 0  # ring readers that fell a whole ring behind


@dataclass
class _Window:
    end: int  # absolute 16 kHz sample just after the window
    audio: np.ndarray
    segment: int  # gate opening the window belongs to
    runs: list[SpeechRun] = field(default_factory=list)


class _Closed(Exception):
    pass


class _WindowQueue:
    """Bounded hand-off to the inference thread: drop-oldest (realtime) or
    blocking (files)."""

    def __init__(self, maxsize: int, block: bool) -> None:
        self._items: deque[_Window | None] = deque()
        self._maxsize = max(1, maxsize)
        self._block = block
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item: _Window | None) -> None:
        with self._cond:
            if item is not None:
                if self._block:
                    while len(self._items) >= self._maxsize and not self._closed:
                        self._cond.wait(_WAIT_S)
                elif len(self._items) >= self._maxsize:
                    self._items.popleft()
                    self.dropped += 1
            if self._closed:
                raise _Closed
            self._items.append(item)
            self._cond.notify_all()

    def get(self) -> _Window | None:
        """The next item; raises _Closed once closed."""
        with self._cond:
            while not self._items:
                if self._closed:
                    raise _Closed
                self._cond.wait(_WAIT_S)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Engine:
    """Streaming command recognition over one audio source.

    Args:
        recognizer: the model; its card sets the window length.
        config: runtime settings; with ``use_card_defaults`` the card's hop,
            threshold, smoother and VAD defaults are applied over it.
        source: where audio comes from.
        on_event, on_window, on_error: called from the engine's threads.
        on_decision: observer called with each window's :class:`DecisionInput`
            before the smoother sees it (inference thread).
    """

    def __init__(self, recognizer: Recognizer, config: Config, source: AudioSource,
                 on_event: Callable[[CommandEvent], None] | None = None,
                 on_window: Callable[[WindowResult], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None,
                 use_card_defaults: bool = True,
                 on_decision: Callable[[DecisionInput], None] | None = None) -> None:
        self.config = config.with_card(recognizer.card.raw) if use_card_defaults else config
        self.source = source
        self.on_event, self.on_window, self.on_error = on_event, on_window, on_error
        self.on_decision = on_decision
        self.sample_rate_hz = SAMPLE_RATE_HZ
        self._recognizer = recognizer
        self._pending_recognizer: Recognizer | None = None
        ring_samples = ms_to_samples(self.config.audio.ring_seconds * 1000.0)
        self.ring = RingBuffer(ring_samples)
        self._raw = RingBuffer(max(1, int(self.config.audio.ring_seconds * source.sample_rate_hz)))
        self._resampler = StreamResampler(source.sample_rate_hz, SAMPLE_RATE_HZ)
        self.gate = SpeechGate(self.config.vad, SAMPLE_RATE_HZ, self.config.audio.ring_seconds)
        self.smoother = Smoother(recognizer.labels, self.config.smoothing)
        self._hop = self.config.hop_samples
        self._next_hop = self._hop
        self._queue = _WindowQueue(self.config.queue_size, block=not source.realtime)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        self._error: Exception | None = None
        self._segment = -1
        self._infer_ms = 0.0
        self._latency_ms = 0.0
        self.events: list[CommandEvent] = []
        self.nonfinite_blocks = 0  # input blocks that held NaN/inf (zeroed)

    # ---- control -------------------------------------------------------

    @property
    def recognizer(self) -> Recognizer:
        return self._pending_recognizer or self._recognizer

    @property
    def window_samples(self) -> int:
        return ms_to_samples(self.recognizer.card.window_ms)

    @property
    def error(self) -> Exception | None:
        """The first error a worker thread or the source hit (None: none)."""
        return self._error

    @property
    def is_running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def stats(self) -> EngineStats:
        return EngineStats(xruns=int(getattr(self.source, "xruns", 0)),
                           dropped_windows=self._queue.dropped, infer_ms=self._infer_ms,
                           latency_ms=self._latency_ms,
                           overruns=self.ring.overruns + self._raw.overruns)

    def set_threshold(self, threshold: float) -> None:
        self.smoother.set_threshold(threshold)
        self.config = replace(self.config, smoothing=self.smoother.config)

    def set_vad_aggressiveness(self, aggressiveness: int) -> None:
        self.gate.set_aggressiveness(aggressiveness)
        self.config = replace(self.config, vad=replace(self.config.vad,
                                                       aggressiveness=int(aggressiveness)))

    def set_recognizer(self, recognizer: Recognizer) -> None:
        """Use ``recognizer`` from the next window on (thread-safe)."""
        self._pending_recognizer = recognizer

    def speech_mask(self, start: int, n: int) -> np.ndarray:
        """Per-sample VAD speech flags for ring samples ``[start, start + n)``."""
        return self.gate.flags(start, n)

    def start(self) -> None:
        """Start the threads and the source; returns at once."""
        if self.is_running:
            raise RuntimeError("engine already running")
        if self._queue.closed:  # started before: a fresh hand-off, same counts
            dropped = self._queue.dropped
            self._queue = _WindowQueue(self.config.queue_size, block=not self.source.realtime)
            self._queue.dropped = dropped
        self._error = None
        self._stop.clear()
        self._done.clear()
        realtime = self.source.realtime
        self._threads = [
            threading.Thread(target=self._guard, args=(self._pipeline_loop, realtime),
                             name="kwsapp-pipeline", daemon=True),
            threading.Thread(target=self._guard, args=(self._inference_loop,),
                             name="kwsapp-inference", daemon=True),
        ]
        for t in self._threads:
            t.start()
        # A realtime callback only copies into the raw ring; a file feeds
        # the pipeline directly from its own thread (and may block there).
        on_block = self._raw.write if realtime else self._feed_from_file
        try:
            self.source.start(on_block)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the source and join every thread (within ``timeout`` s)."""
        self._stop.set()
        self._queue.close()
        try:
            self.source.stop()
        finally:
            deadline = time.monotonic() + timeout
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join(max(0.0, deadline - time.monotonic()))
            alive = [t.name for t in self._threads if t.is_alive()]
            if alive:
                log.error("engine threads still running after %.1f s: %s", timeout, alive)

    def run(self) -> list[CommandEvent]:
        """Process a whole (file) source to its end; returns the events.

        Raises:
            KwsError: the first error a worker thread hit.
        """
        self.start()
        try:
            while not self._done.wait(_WAIT_S):
                if self._error is not None or not self.is_running:
                    break
        finally:
            self.stop()
        if self._error is not None:
            raise self._error
        return list(self.events)

    # ---- threads --------------------------------------------------------

    def _guard(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except _Closed:
            pass
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
            if isinstance(exc, KwsError):
                log.error("%s", exc)
            else:
                log.exception("engine thread failed")
            if self.on_error is not None:
                try:
                    self.on_error(exc)
                except Exception:
                    log.exception("on_error callback failed")
        self._stop.set()
        self._queue.close()

    def _pipeline_loop(self, realtime: bool) -> None:
        poll_s = self.config.audio.poll_ms / 1000.0
        cursor = 0
        while not self._stop.is_set():
            total = self._raw.total_written
            if realtime and total > cursor:
                if total - cursor > self._raw.capacity:  # fell a whole ring behind
                    self._raw.overruns += 1
                    cursor = total - self._raw.capacity
                try:
                    block = self._raw.read(cursor, total - cursor)
                except RingOverrun:
                    cursor = self._raw.total_written
                    continue
                cursor = total
                self._feed(block)
                continue
            check = getattr(self.source, "check", None)
            if check is not None:
                check()
            if self.source.error is not None:
                err = self.source.error
                raise err if isinstance(err, KwsError) else DeviceError(str(err))
            if self.source.finished and (not realtime or self._raw.total_written == cursor):
                self._finish()
                return
            self._stop.wait(poll_s)

    def _feed_from_file(self, block: np.ndarray) -> None:
        """on_block of a non-realtime source (runs on the source's thread)."""
        try:
            self._feed(block)
        except _Closed:
            pass
        except Exception as exc:
            self._fail(exc)

    def _feed(self, block: np.ndarray) -> None:
        """Source-rate block -> 16 kHz -> ring -> gate and windows."""
        if self._stop.is_set():
            raise _Closed
        if not np.all(np.isfinite(block)):
            # Seen from PortAudio on JACK when a connected client goes away;
            # one NaN would poison every window that holds it.
            self.nonfinite_blocks += 1
            log.debug("non-finite samples in input block %d", self.nonfinite_blocks)
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        self._push(self._resampler.process(block))

    def _finish(self) -> None:
        """End of a file: the resampler's tail, then one window of silence so
        a word at the very end still gets whole windows; then the end mark."""
        self._push(self._resampler.flush())
        self._push(np.zeros(self.window_samples, dtype=np.float32))
        self._queue.put(None)

    def _push(self, audio: np.ndarray) -> None:
        if audio.size == 0:
            return
        self.ring.write(audio)
        total = self.ring.total_written
        gate, fs = self.gate, self.gate.frame_samples
        while True:
            frame_end = gate.position + fs
            if frame_end <= total and frame_end <= self._next_hop:
                gate.update(self.ring.read(gate.position, fs))
            elif self._next_hop <= total:
                if gate.is_open:
                    self._emit_window(self._next_hop)
                self._next_hop += self._hop
            else:
                return

    def _emit_window(self, end: int) -> None:
        n = self.window_samples
        start = end - n
        self._queue.put(_Window(end=end, audio=self.ring.read(start, n), segment=self.gate.segment,
                                runs=self.gate.runs_in(start, end)))

    def _inference_loop(self) -> None:
        sr = float(self.sample_rate_hz)
        while True:
            task = self._queue.get()
            if task is None:
                self._done.set()
                return
            if self._pending_recognizer is not None:
                self._recognizer, self._pending_recognizer = self._pending_recognizer, None
                self.smoother = Smoother(self._recognizer.labels, self.smoother.config)
            t0 = time.perf_counter()
            probs = self._recognizer.probabilities(task.audio)
            self._infer_ms = (time.perf_counter() - t0) * 1000.0
            reopened = task.segment != self._segment
            if reopened:  # the gate closed in between
                self.smoother.reset()
                self._segment = task.segment
            win_start = task.end - task.audio.shape[0]
            run = max(task.runs, default=None,
                      key=lambda r: min(r.end, task.end) - max(r.start, win_start))
            word = None if run is None else run.start
            if run is not None:
                span = (max(run.start, win_start), min(run.end, task.end))
            else:
                span = (max(win_start, 0), task.end)
            if self.on_decision is not None:
                self.on_decision(DecisionInput(task.end / sr, probs, word, reopened,
                                               (span[0] / sr, span[1] / sr)))
            detection = self.smoother.update(task.end / sr, probs, word)
            if self.on_window is not None:
                self.on_window(WindowResult(task.end / sr, probs, self._infer_ms))
            if detection is None:
                continue
            if self.source.realtime:
                emitted = self._raw.total_written / float(self.source.sample_rate_hz)
            else:  # a file: no wall clock, the window is "emitted" when complete
                emitted = task.end / sr
            event = CommandEvent(label=detection.label, score=detection.score,
                                 start=span[0] / sr, end=span[1] / sr, emitted_at=emitted,
                                 latency=emitted - span[1] / sr)
            self._latency_ms = event.latency * 1000.0
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
