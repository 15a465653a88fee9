"""The streaming engine: audio source -> 16 kHz ring -> speech gate ->
windows -> recognizer -> smoother -> :class:`CommandEvent`.

Threads (no Qt here; callbacks run on the engine's threads)::

    audio callback   copies each block into a raw ring (realtime sources;
                     a source that can be pulled, the capture child's, is
                     read by the pipeline itself into that ring instead)
    pipeline         raw ring -> resample to 16 kHz -> ring -> VAD frames ->
                     gate -> every hop while open: the last window -> queue
                     (split embed: every 80 ms a step task, head flagged on
                     the hops while open)
    inference        queue -> recognizer -> smoother -> on_window / on_event
    verify           (with a second opinion: config.verify) each command's
                     audio -> the speech recogniser -> on_event, in order:
                     live, so its ~30 ms never stall the pipeline or the
                     head; a file's, so the head goes on with the file
                     meanwhile (:mod:`kwsapp.inference.second_opinion`)

A realtime engine runs a step or window on the pipeline thread itself, in
the wake-up that cut it, while the inference thread has nothing in hand and
the last one took under a quarter of the hop (:data:`_INLINE_SHARE`): one
thread woken per 80 ms instead of two (``listen``'s CPU, issue 12). The
same code runs in the same order either way, so the decisions are the same;
a slower model (or the first step, not yet timed) goes through the queue, so
the ring and the speech gate never wait on it for long.

A split ``embed`` artifact (card ``streaming``) is streamed: each 80 ms of
audio is embedded once into an
:class:`~kwsapp.inference.embedding_ring.EmbeddingRing`; every embedding goes
to the embedding listeners (:meth:`Engine.add_embedding_listener`), and on
the hops while the gate is open the head reads the last 10. The head's
window ends where the whole-window model's would (``j * 1280 + 12480``), so
the probabilities are the same. Steps lost to a full queue, and a live
stream's steps skipped while the gate was shut and no listener wanted them
(``audio.lazy_shut_steps``), are recomputed from the audio ring: the head
needs the 1.5 s before the gate opened.

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
from dataclasses import replace
from typing import Callable

import numpy as np

from kwsapp.audio.io import StreamResampler
from kwsapp.audio.ringbuffer import RingBuffer, RingOverrun
from kwsapp.audio.source import AudioSource
from kwsapp.audio.vad import SpeechGate, heard_run
from kwsapp.config import SAMPLE_RATE_HZ, Config, ms_to_samples
from kwsapp.errors import DeviceError, KwsError
from kwsapp.inference.embedding_ring import EmbeddingRing
from kwsapp.inference.events import CommandEvent, DecisionInput, EngineStats, WindowResult
from kwsapp.inference.finite import all_finite
from kwsapp.inference.hold import CommandHold, Held
from kwsapp.inference.recognizer import Recognizer
from kwsapp.inference.second_opinion import SecondOpinion, Unconfirmed
from kwsapp.inference.smoothing import Smoother
from kwsapp.inference.work_queue import (ChunkTask, QueueClosed, StepsTask, StepTask, WindowTask,
                                         WorkQueue)

log = logging.getLogger(__name__)

#: The live pipeline wakes this long after its next audio is due by the
#: source's clock: blocks come a little late (scheduling), and a wake-up that
#: finds nothing new costs as much as one that works.
_AFTER_DUE_S = 0.002
#: The live pipeline sleeps at most this long, so a device that stops
#: delivering is noticed (``check``) within it.
_MAX_SLEEP_S = 0.25
#: A pulled source's wake-up may come this long after the audio's duration
#: (blocks come whole, a device period late at most) before the pipeline
#: looks by itself.
_PULL_MARGIN_S = 0.05
#: Write stamps the live pipeline keeps to tell when blocks arrive (one per
#: wake-up: about 2.5 s; a device clock drifts far less in that time).
_ARRIVAL_STAMPS = 32
#: A file source feeds the engine from its own thread; the pipeline only
#: looks this often for its end.
_FILE_END_POLL_S = 0.01
#: A realtime pipeline runs a step or window itself (no hand-off, no second
#: thread woken) when the last one took under this share of the hop.
_INLINE_SHARE = 0.25
#: Longest wait in :meth:`Engine.run` for its threads once it ends (they
#: end after the model call in progress; stop()'s 1 s is the live one).
RUN_STOP_WAIT_S = 30.0
#: Steps a realtime engine lets wait per window of ``queue_size`` (steps are
#: 80 ms apart; those dropped are recomputed from the ring).
_STEPS_PER_WINDOW = 4


class Engine:
    """Streaming command recognition over one audio source.

    Args:
        recognizer: the model; its card sets the window length.
        config: the runtime settings, taken as given: build them with
            :func:`~kwsapp.config.runtime_settings` (the card's hop,
            thresholds, smoother and VAD defaults, the user's overrides).
        source: where audio comes from.
        on_event, on_window, on_error: called from the engine's threads.
        on_decision: observer called with each window's :class:`DecisionInput`
            before the smoother sees it (inference thread).
        on_unconfirmed: called with each :class:`Unconfirmed` command (on
            the verify thread; a file's on the inference thread with
            ``verify.replay_ahead`` 0), so that a user sees what was heard
            and not emitted.
        on_audio: called with the source's audio at 16 kHz (mono float32,
            the resampler's output, read only) as it enters the ring, in
            order, on the thread that feeds the pipeline (a file's own
            thread, its last samples on the pipeline thread); a file's
            closing silence is not given. A caller that wants the decoded
            audio too (the Files tab's spectrogram) thus needs no second
            decode.
    """

    def __init__(self, recognizer: Recognizer, config: Config, source: AudioSource,
                 on_event: Callable[[CommandEvent], None] | None = None,
                 on_window: Callable[[WindowResult], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None,
                 on_decision: Callable[[DecisionInput], None] | None = None,
                 on_unconfirmed: Callable[[Unconfirmed], None] | None = None,
                 on_audio: Callable[[np.ndarray], None] | None = None) -> None:
        self.config = config
        self.source = source
        self.on_event, self.on_window, self.on_error = on_event, on_window, on_error
        self._run_raises = False  # run() raises a worker's error to its caller
        self.on_decision, self.on_unconfirmed = on_decision, on_unconfirmed
        self.on_audio = on_audio
        self.sample_rate_hz = SAMPLE_RATE_HZ
        self._recognizer = recognizer
        self._pending_recognizer: Recognizer | None = None
        self._window_of: tuple[Recognizer | None, int] = (None, 0)  # window_samples, cached
        ring_samples = ms_to_samples(self.config.audio.ring_seconds * 1000.0)
        self.ring = RingBuffer(ring_samples)
        self._raw = RingBuffer(max(1, int(self.config.audio.ring_seconds * source.sample_rate_hz)))
        self._resampler = StreamResampler(source.sample_rate_hz, SAMPLE_RATE_HZ)
        self.gate = SpeechGate(self.config.vad, SAMPLE_RATE_HZ, self.config.audio.ring_seconds)
        self.smoother = Smoother(recognizer.labels, self.config.smoothing)
        self._hop = self.config.hop_samples
        self._next_hop = self._hop
        self._next_j: int | None = None  # next embedding step due (split models)
        self._group: ChunkTask | None = None  # a file's steps waiting for their chunk
        self._chunk_next: int | None = None  # first embedding of the next chunk
        self._due = 0  # last window / step position handed on
        self._listeners: list[Callable[[float, np.ndarray], None]] = []
        self._stream_of: Recognizer | None = None  # whose embedding stream runs
        self._stream = None  # kwsapp.models.split.EmbeddingStream (inference thread)
        self.embeddings: EmbeddingRing | None = None
        self._queue = self._new_queue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        self._error: Exception | None = None
        self._segment = -1
        self._infer_ms = 0.0
        self._latency_ms = 0.0
        self.events: list[CommandEvent] = []
        self.nonfinite_blocks = 0  # input blocks that held NaN/inf (zeroed)
        self.wakeups = 0  # times the pipeline thread woke (bounded per second of audio)
        self._offsets: deque[float] = deque(maxlen=_ARRIVAL_STAMPS)  # see _until_due
        self._ended = threading.Event()  # a worker thread returned
        self._pulls = False  # the pipeline reads the source itself (set by start)
        self._pulled = 0  # samples it read so far (they skip the raw ring)
        self._task_s = float("inf")  # wall time of the last step or window (not yet timed)
        self.inline = 0  # steps and windows the pipeline thread ran itself (_hand_off)
        self.deferred = 0  # steps slept past that could not fire (_wake_due)
        self.skipped_steps = 0  # steps not run while the gate was shut (lazy_shut_steps)
        # Each command decided: through the ignore words' veto and hold,
        # then the recogniser's check, then delivered.
        self.second_opinion = SecondOpinion(
            self.config.verify, self.sample_rate_hz, audio_between=self._audio_between,
            event=self._event, deliver=self._deliver, on_unconfirmed=self._unconfirmed)
        self.hold = CommandHold(self.config.audio.ring_seconds, self.second_opinion.submit)
        # The audio of the last chunks and windows run (absolute start,
        # samples): a file's pipeline runs further ahead than the ring holds.
        self._recent: deque[tuple[int, np.ndarray]] = deque(maxlen=3)

    # ---- control -------------------------------------------------------

    def _new_queue(self) -> WorkQueue:
        size = self.config.queue_size
        if self.recognizer.split is not None and self.source.realtime:
            size *= _STEPS_PER_WINDOW
        return WorkQueue(size, block=not self.source.realtime)

    def add_embedding_listener(self, listener: Callable[[float, np.ndarray], None]) -> None:
        """Call ``listener(end_s, embedding)`` with every new embedding of a
        split model (``[96]`` float32, a copy; ``end_s`` the stream time (s)
        where its 775 ms of audio end), on the inference thread, in order,
        gate open or not. Those that reach before the stream start are given
        too, from the first one the head's first window reads (the audio
        before the start read as silence, as the head reads it; ``end_s``
        0 or less for the first nine): a listener's window of the last 10
        is thus the head's at every step, so a user word judges (and a word
        to ignore can veto) a word at the very start of a stream or of a
        1-s clip, where the head fires on windows that begin before it. No
        calls while a window model runs."""
        self._listeners.append(listener)

    def remove_embedding_listener(self, listener: Callable[[float, np.ndarray], None]) -> None:
        self._listeners.remove(listener)

    def veto(self, end_s: float) -> None:
        """Fire no command decided on the window ending at ``end_s`` (s), on
        the next ones within :data:`~kwsapp.inference.hold.VETO_SPAN_S`, or
        decided before it and still held (:meth:`hold_commands`): a user's
        ignore word heard it (kwsapp/userwords/live.py). Called on the inference
        thread from an embedding listener, so before the head's decision on
        the same embeddings (a file's chunk stores all its embeddings before
        its decisions, so vetoes are kept by time, not count). Windows, not
        utterances: in noise one speech run can hold an ignore word and a
        real command seconds apart."""
        self.hold.veto(end_s)

    def suspect(self, end_s: float) -> None:
        """An ignore word stirs on the window ending at ``end_s`` (s), short
        of a veto: with ``hold_commands(..., suspected_only=True)`` only the
        commands decided on it or within
        :data:`~kwsapp.inference.hold.VETO_SPAN_S` after it are held, the
        rest are emitted at once."""
        self.hold.suspect(end_s)

    def hold_commands(self, seconds: float, suspected_only: bool = False) -> None:
        """Hold each command ``seconds`` after it could fire, so that an
        ignore word listening on the same embeddings has heard the whole
        utterance before it is emitted (kwsapp/userwords/live.py); 0, the
        default, emits at once. With ``suspected_only``, only the commands
        decided where an ignore word stirred (:meth:`suspect`)."""
        self.hold.set_hold(seconds, suspected_only)

    @property
    def recognizer(self) -> Recognizer:
        return self._pending_recognizer or self._recognizer

    @property
    def window_samples(self) -> int:
        recognizer = self.recognizer
        cached = self._window_of  # asked several times per wake-up
        if cached[0] is not recognizer:
            cached = self._window_of = (recognizer, ms_to_samples(recognizer.card.window_ms))
        return cached[1]

    @property
    def vetoed(self) -> int:
        """Commands not emitted for a veto (:meth:`veto`)."""
        return self.hold.vetoed

    @property
    def checked(self) -> int:
        """Commands the second opinion heard (confirmed or not)."""
        return self.second_opinion.checked

    @property
    def unverified(self) -> int:
        """Commands the second opinion did not confirm (not emitted)."""
        return self.second_opinion.unverified

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
            self._queue = self._new_queue()
            self._queue.dropped = dropped
        self._error = None
        self._stop.clear()
        self._done.clear()
        realtime = self.source.realtime
        self._pulls = realtime and callable(getattr(self.source, "pull", None))
        self._threads = [
            threading.Thread(target=self._guard, args=(self._pipeline_loop, realtime),
                             name="kwsapp-pipeline", daemon=True),
            threading.Thread(target=self._guard, args=(self._inference_loop,),
                             name="kwsapp-inference", daemon=True),
        ]
        verify_loop = self.second_opinion.open(live=realtime)
        if verify_loop is not None:
            self._threads.append(threading.Thread(target=self._guard, args=(verify_loop,),
                                                  name="kwsapp-verify", daemon=True))
        for t in self._threads:
            t.start()
        # A realtime callback only copies into the raw ring; a file feeds
        # the pipeline directly from its own thread (and may block there);
        # a source that can be pulled is read by the pipeline when it wakes.
        on_block = self._raw.write if realtime else self._feed_from_file
        try:
            self.source.start(None if self._pulls else on_block)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the source and join every thread (within ``timeout`` s)."""
        self._stop.set()
        self._queue.close()
        self.second_opinion.close()
        try:
            self.source.stop()
        finally:
            deadline = time.monotonic() + timeout
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join(max(0.0, deadline - time.monotonic()))
            alive = [t.name for t in self._threads if t.is_alive()]
            if alive == ["kwsapp-verify"] and self.second_opinion.loading:
                # Stopped within the recogniser's first load (1-3 s, not
                # interruptible): its thread ends once loaded, and the
                # process waits for it at exit (second_opinion.finish_checks).
                log.info("the speech recogniser is still loading; its thread ends after")
            elif alive:
                log.error("engine threads still running after %.1f s: %s", timeout, alive)

    def run(self) -> list[CommandEvent]:
        """Process a whole (file) source to its end; returns the events.

        Raises:
            KwsError: the first error a worker thread hit.
        """
        self._run_raises = True
        self.start()
        try:
            while True:
                self._ended.clear()  # before the checks: an end after them still wakes us
                if self._done.is_set() or self._error is not None or not self.is_running:
                    break
                self._ended.wait(1.0)  # set as a worker returns; the timeout is a safety net
        finally:
            # Ended early (Ctrl-C in `classify`): the inference thread ends
            # after the model call it is in, which cannot be interrupted (a
            # file's chunk of 128 embeddings took over 1 s on a loaded
            # machine). Stopped with the live 1 s, the process then exited
            # under it and was aborted ("terminate called without an active
            # exception", SIGABRT): waited for here.
            self.stop(timeout=RUN_STOP_WAIT_S)
        if self._error is not None:
            raise self._error
        return list(self.events)

    # ---- threads --------------------------------------------------------

    def _guard(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except QueueClosed:
            pass
        except Exception as exc:
            self._fail(exc)
        finally:
            self._ended.set()

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
            if isinstance(exc, KwsError):
                # A caller with on_error says it to the user (listen, the
                # GUI), and run() raises it to its caller (classify,
                # evaluate-stream): logging it too printed the same line twice.
                said = self.on_error is not None or self._run_raises
                (log.debug if said else log.error)("%s", exc)
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
        late = 0  # wake-ups in a row that found the audio due not yet there
        self._offsets.clear()
        pull = self.source.pull if self._pulls else None
        while not self._stop.is_set():
            self.wakeups += 1
            if pull is not None:  # what the device delivered since, fed as it is
                block = pull()
                if block.size:
                    self._pulled += block.shape[0]
                    self._feed(block)
                cursor = self._pulled
            elif realtime and (total := self._raw.total_written) > cursor:
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
            check = getattr(self.source, "check", None)
            if check is not None:
                check()
            if self.source.error is not None:
                err = self.source.error
                raise err if isinstance(err, KwsError) else DeviceError(str(err))
            if self.source.finished and (not realtime or self._delivered() == cursor):
                self._finish()
                return
            if not realtime:  # the file's thread feeds; only its end is awaited here
                self._stop.wait(_FILE_END_POLL_S)
                continue
            if pull is not None:
                self._wait_pulled()
                continue
            wait = self._until_due(cursor)
            if wait is None:  # the audio due is late (or none came yet): look again
                # soon, less often once it is long overdue (a stalled device)
                wait = min(poll_s * (1 << min(max(0, late - 3), 5)), _MAX_SLEEP_S)
                late += 1
            else:
                late = 0
            self._stop.wait(wait)

    def _delivered(self) -> int:
        """Samples the source delivered so far (at its rate)."""
        return self._pulled if self._pulls else self._raw.total_written

    def _wait_pulled(self) -> None:
        """Sleep until the source has the raw audio the next step or window
        needs (while the gate is shut, the next few: :meth:`_wake_due`): it
        wakes this thread when the block that completes it comes
        (one wake-up per step, none per block, and no estimate of when
        blocks come). The timeout is that audio's duration and a margin
        (a wake-up lost between the two processes costs at most the margin),
        at most ``_MAX_SLEEP_S`` (a stalled device is noticed) and
        ``audio.refresh_ms`` (the GUI's redraw)."""
        rate = self.source.sample_rate_hz
        more = max(1, self._resampler.inputs_for(self._wake_due()) - self._pulled)
        timeout = min(more / rate + _PULL_MARGIN_S, _MAX_SLEEP_S)
        refresh_ms = self.config.audio.refresh_ms
        if refresh_ms:
            timeout = min(timeout, refresh_ms / 1000.0)
        self.source.wait(timeout, more=more)

    def _until_due(self, cursor: int) -> float | None:
        """Seconds the pipeline may sleep before the raw audio the next step
        or window needs arrives (None: it should be there already, or
        nothing came yet). A live stream thus wakes the pipeline about once
        per step (80 ms; while the gate is shut, per ``audio.gated_wake_ms``),
        not once per block; ``audio.refresh_ms`` (the GUI's redraw) wakes it
        more often.

        When a block arrives is told by the raw ring's write stamps: block
        ``k`` comes at ``offset + end_k / rate``, the offset being the
        earliest seen lately. Devices deliver whole blocks, some at an
        uneven pace (PortAudio on JACK: 960-sample blocks on 1024-sample
        periods come every 21.3 ms, now and then two at once), so that is
        the earliest the audio can be there; when it is not yet, the
        pipeline looks again every ``poll_ms``."""
        stamp = self._raw.written_at
        if stamp is None:
            return None
        written, at, block = stamp
        rate = self.source.sample_rate_hz
        self._offsets.append(at - written / rate)
        need = self._resampler.inputs_for(self._wake_due())
        if written > cursor and need <= written:
            return 0.0  # it came while the last audio was processed
        need = written + -(-(need - written) // block) * block  # the end of its block
        wait = min(self._offsets) + need / rate - time.monotonic()
        if wait <= 0.0:
            return None
        wait += _AFTER_DUE_S
        refresh_ms = self.config.audio.refresh_ms
        if refresh_ms:
            wait = min(wait, refresh_ms / 1000.0)
        return min(wait, _MAX_SLEEP_S)

    def _wake_due(self) -> int:
        """The 16 kHz sample the live pipeline sleeps until: the end of the
        next step or window; while the speech gate is shut, that of the last
        whole one within ``audio.gated_wake_ms`` (nothing is decided then);
        while it is open, past steps that cannot fire (:meth:`_may_defer`)."""
        due = self._next_due()
        split = self.recognizer.split
        hop = split.spec.hop_samples if split is not None else self._hop
        most = max(0, ms_to_samples(self.config.audio.gated_wake_ms) // hop - 1)
        if self.gate.is_open:
            if self._may_defer(split):
                # Within the refractory time of the last command nothing
                # fires (reset or not): up to gated_wake_ms of those steps
                # at one wake-up. Else the next step's own bound.
                sr, n = self.sample_rate_hz, 0
                while n < most and self.smoother.refractory_at((due + n * hop) / sr):
                    n += 1
                if n == 0 and self._unfireable(due):
                    n = 1
                self.deferred += n
                return due + n * hop
            return due
        return due + most * hop

    def _may_defer(self, split) -> bool:
        """Whether the live pipeline may sleep past a step of ``split`` that
        cannot fire (``audio.defer_unfireable_steps``): a realtime stream,
        every step decided so far (the inference thread idle), and no
        embedding listener waiting for it."""
        return (split is not None and self.config.audio.defer_unfireable_steps
                and self.source.realtime and not self._listeners
                and self._pending_recognizer is None and self._queue.idle())

    def _unfireable(self, due: int) -> bool:
        """Whether the step that ends at ``due`` cannot fire
        (:meth:`Smoother.can_fire_at`: by its probabilities, or because the
        speech cannot have paused by then), the gate cannot reopen before it
        (which would reset the smoother)."""
        gate = self.gate
        frames = -(-(due - gate.position) // gate.frame_samples)
        # The step's quiet_ms is at most this: its frames end by `due`, and
        # the last speech can only move later.
        last = gate.last_speech_end
        quiet = None if not gate.config.enabled or last is None else \
            (due - last) * 1000.0 / self.sample_rate_hz
        return (gate.segment == self._segment and frames < gate.frames_to_new_segment()
                and not self.smoother.can_fire_at(due / self.sample_rate_hz, quiet))

    def _next_due(self) -> int:
        """The 16 kHz sample the next step (split models) or window ends at."""
        split = self.recognizer.split
        if split is None:
            return self._next_hop if self._next_j is None else \
                (self._due // self._hop + 1) * self._hop
        j = self._next_j if self._next_j is not None else self._first_step(split)
        return self._step_end(split, j)

    def _feed_from_file(self, block: np.ndarray) -> None:
        """on_block of a non-realtime source (runs on the source's thread)."""
        try:
            self._feed(block)
        except QueueClosed:
            pass
        except Exception as exc:
            self._fail(exc)

    def _feed(self, block: np.ndarray) -> None:
        """Source-rate block -> 16 kHz -> ring -> gate and windows."""
        if self._stop.is_set():
            raise QueueClosed
        if not all_finite(block):
            # Seen from PortAudio on JACK when a connected client goes away;
            # one NaN would poison every window that holds it.
            self.nonfinite_blocks += 1
            log.debug("non-finite samples in input block %d", self.nonfinite_blocks)
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        self._push_source(self._resampler.process(block))

    def _push_source(self, audio: np.ndarray) -> None:
        """The source's audio, resampled: to ``on_audio``, then the ring."""
        if self.on_audio is not None and audio.size:
            self.on_audio(audio)
        self._push(audio)

    def _finish(self) -> None:
        """End of a file: the resampler's tail, then one window of silence so
        a word at the very end still gets whole windows; then the end mark."""
        # No live audio follows: wait for inference rather than drop the
        # closing steps (a realtime queue would drop the oldest of them, the
        # windows right after the last word).
        self._queue.block = True
        self._push_source(self._resampler.flush())
        self._push(np.zeros(self.window_samples, dtype=np.float32))
        self._flush_group()
        self._queue.put(None)

    def _push(self, audio: np.ndarray) -> None:
        if audio.size == 0:
            return
        self.ring.write(audio)
        total = self.ring.total_written
        gate, fs = self.gate, self.gate.frame_samples
        judged = gate.judged_position
        if total - judged >= fs:  # every new whole VAD frame judged at once
            gate.judge(self.ring.read(judged, (total - judged) // fs * fs))
        batch: list[StepTask] = []  # a live stream's steps due now (one task)
        batch_split = None  # the split model they are steps of
        while True:
            split = self.recognizer.split
            if split is not None:
                if self._next_j is None:  # first step, or the model changed
                    self._next_j = self._first_step(split)
                due = self._step_end(split, self._next_j)
            else:
                if self._next_j is not None:  # back to a window model
                    self._flush_group()
                    self._next_j = None
                    self._next_hop = (self._due // self._hop + 1) * self._hop
                due = self._next_hop
            frames = (min(total, due) - gate.position) // fs
            if frames > 0:  # every whole VAD frame before the due window/step
                gate.advance(frames)
            elif due <= total:
                self._due = due
                if split is not None:
                    if split.chunk is not None and not self.source.realtime:
                        self._group_step(split, self._next_j, due)
                    elif self.source.realtime and not gate.is_open and \
                            self.config.audio.lazy_shut_steps and not self._listeners:
                        self.skipped_steps += 1  # nothing reads it now (see _steps)
                    elif self.source.realtime:
                        if batch and split is not batch_split:  # the model changed
                            self._emit_steps(batch_split, batch)
                            batch = []
                        batch_split = split
                        batch.append(self._make_step(split, self._next_j, due, with_audio=False))
                    else:
                        self._flush_group()
                        self._emit_step(split, self._next_j, due)
                    self._next_j += 1
                else:
                    if gate.is_open:
                        self._emit_window(due)
                    self._next_hop += self._hop
            else:
                if batch:
                    self._emit_steps(batch_split, batch)
                return

    def _step_end(self, split, j: int) -> int:
        """Where the head's window after embedding ``j`` ends: that of the
        whole-window model on embeddings ``j - 9 .. j``."""
        spec = split.spec
        return (j - spec.frames + 1) * spec.hop_samples + self.window_samples

    def _first_step(self, split) -> int:
        """The first embedding step whose window ends after ``self._due``."""
        spec = split.spec
        return (self._due - self.window_samples) // spec.hop_samples + spec.frames

    @staticmethod
    def _stream_bounds(split, j: int) -> tuple[int, int]:
        """The samples embedding step ``j`` reads (the streaming step's
        newest samples, or the whole 775 ms without a step file)."""
        end = j * split.spec.hop_samples + split.spec.input_samples
        return end - split.step_span, end

    def _make_step(self, split, j: int, end: int, with_audio: bool = True) -> StepTask:
        every = max(1, int(round(self._hop / split.spec.hop_samples)))
        head = self.gate.is_open and j % every == 0
        if with_audio:
            start, stop = self._stream_bounds(split, j)
            audio = self.ring.read(start, stop - start)
        else:
            audio = np.zeros(0, np.float32)
        return StepTask(j=j, end=end, audio=audio, head=head, segment=self.gate.segment,
                     runs=self.gate.runs_in(end - self.window_samples, end) if head else [],
                     quiet_ms=self.gate.quiet_ms() if head else None)

    def _emit_step(self, split, j: int, end: int) -> None:
        self._hand_off(self._make_step(split, j, end))

    def _emit_steps(self, split, steps: list[StepTask]) -> None:
        """A live stream's steps due at this wake-up, as one task."""
        start = self._stream_bounds(split, steps[0].j)[0]
        end = self._stream_bounds(split, steps[-1].j)[1]
        self._hand_off(StepsTask(steps, self.ring.read(start, end - start)))

    def _group_step(self, split, j: int, end: int) -> None:
        """A file: collect steps into chunks of the chunk model's size (fixed
        boundaries, so any block size gives the same chunks)."""
        if self._group is None:
            # The first chunk also holds the embeddings the first heads read.
            first = (self._chunk_next if self._chunk_next is not None
                     else j - split.spec.frames + 1)
            self._group = ChunkTask(first=first, audio=np.zeros(0, np.float32), steps=[])
        self._group.steps.append(self._make_step(split, j, end, with_audio=False))
        if j == self._group.first + split.spec.chunk_embeddings - 1:
            self._flush_group()

    def _flush_group(self) -> None:
        group, self._group = self._group, None
        if group is None:
            self._chunk_next = None
            return
        self._chunk_next = group.steps[-1].j + 1
        split = self.recognizer.split
        if len(group.steps) < split.spec.chunk_embeddings // 2:
            # A short file's (or a file's last) few steps: the streaming step
            # costs less than a mostly empty chunk.
            for step in group.steps:
                start, end = self._stream_bounds(split, step.j)
                step.audio = self.ring.read(start, end - start)
                self._queue.put(step)
            return
        n = split.chunk_samples()
        start = group.first * split.spec.hop_samples
        have = max(0, min(n, self.ring.total_written - start))
        group.audio = np.zeros(n, np.float32)
        group.audio[:have] = self.ring.read(start, have)
        self._queue.put(group)

    def _emit_window(self, end: int) -> None:
        n = self.window_samples
        start = end - n
        self._hand_off(WindowTask(end=end, audio=self.ring.read(start, n),
                                  segment=self.gate.segment, runs=self.gate.runs_in(start, end),
                                  quiet_ms=self.gate.quiet_ms()))

    def _inference_loop(self) -> None:
        self.second_opinion.load_if_inline()
        while True:
            task = self._queue.get()
            if task is None:
                self.hold.release(float("inf"))  # the end of a file: nothing more will veto
                self.second_opinion.finish()  # its commands still waiting for their check
                self._done.set()
                return
            if self._stop.is_set():  # stopped: what is still queued is dropped
                return
            self._run_task(task)

    def _hand_off(self, task: WindowTask | StepTask | StepsTask) -> None:
        """A realtime step or window: run here, on the pipeline thread, when
        the inference thread is idle and the last one was quick
        (:data:`_INLINE_SHARE`); else queue it for the inference thread."""
        split = self.recognizer.split
        stepped = split is not None and isinstance(task, (StepTask, StepsTask))
        hop = split.spec.hop_samples if stepped else self._hop
        if (self.source.realtime and self._pending_recognizer is None
                and self._task_s < _INLINE_SHARE * hop / self.sample_rate_hz
                and self._queue.idle()):
            self.inline += 1
            self._run_task(task)
        else:
            self._queue.put(task)

    def _run_task(self, task: WindowTask | StepTask | StepsTask | ChunkTask) -> None:
        """One queued item through the model and the smoother (the inference
        thread, or the pipeline's own when it runs the item itself)."""
        if self._pending_recognizer is not None:
            self._recognizer, self._pending_recognizer = self._pending_recognizer, None
            self.smoother = Smoother(self._recognizer.labels, self.smoother.config)
        t0 = time.perf_counter()
        try:
            if isinstance(task, ChunkTask) and self.config.verify.active:
                self._recent.append((task.first * self._recognizer.split.spec.hop_samples,
                                     task.audio))
            elif isinstance(task, WindowTask) and self.config.verify.active:
                self._recent.append((task.end - task.audio.shape[0], task.audio))
            if isinstance(task, ChunkTask):
                if self._recognizer.split is not None:
                    self._run_chunk(task)
                return
            if isinstance(task, StepTask):  # one step: the same path as several
                task = StepsTask([task], task.audio)
            if isinstance(task, StepsTask):
                if self._recognizer.split is None:
                    return  # queued before the switch to a window model
                decided = list(zip(task.steps, self._steps(task)))
                self._infer_ms = (time.perf_counter() - t0) * 1000.0 / len(task.steps)
                for step, probs in decided:
                    if probs is not None:
                        self._decide(step, probs)
                return
            probs = self._recognizer.probabilities(task.audio)
            self._infer_ms = (time.perf_counter() - t0) * 1000.0
            self._decide(task, probs)
        finally:
            self._task_s = time.perf_counter() - t0

    def _steps(self, task: StepsTask) -> list[np.ndarray | None]:
        """Embed consecutive steps' 80 ms each, in as few calls as the
        artifact allows (catching up on steps a full queue dropped or that
        came before the first), give the new embeddings to the listeners;
        per step the head's probabilities on a head step, else None."""
        split = self._recognizer.split
        self._ensure_stream(split)
        stream, ring, j = self._stream, self.embeddings, task.steps[0].j
        frames = split.spec.frames
        if self._stream_next != j:
            # Steps a full queue dropped, or the first steps (of the stream,
            # or after chunks): recompute from the audio ring, from where the
            # stream's kept rows still follow on, else after a warm-up.
            missing = j - frames + 1
            if ring.next is not None and missing <= ring.next <= j:
                missing = ring.next  # the embeddings the ring lacks
            if self._stream_next is not None and \
                    missing - stream.warmup <= self._stream_next <= missing:
                start = self._stream_next
            else:
                stream.reset()
                start = missing - stream.warmup
            if start < j:
                self._catch_up(stream, start, j, missing)
        for step, emb in zip(task.steps, stream.steps(task.audio, len(task.steps))):
            self._store(step.j, emb)
        self._stream_next = task.steps[-1].j + 1
        # The heads one by one: a batch of two costs more than two calls
        # (0.21 against 2 x 0.06 ms back to back), and changing the batch
        # size re-allocates the interpreter.
        return [split.head(ring.get(s.j - frames + 1, s.j + 1)[None])[0]
                if s.head and ring.has(s.j - frames + 1, s.j + 1) else None
                for s in task.steps]

    def _catch_up(self, stream, start: int, stop: int, keep_from: int) -> None:
        """Steps ``start .. stop - 1`` from the audio ring (a few per model
        call); the embeddings from ``keep_from`` on go to the ring and the
        listeners (those before only warm the stream up)."""
        lo, hi = stream.bounds(start)[0], stream.bounds(stop - 1)[1]
        try:
            embs = stream.steps(self.ring.read(lo, hi - lo), stop - start)
        except RingOverrun:  # older than the ring: those steps inexact for a moment
            embs = []
            for k in range(start, stop):
                a, b = stream.bounds(k)
                try:
                    audio = self.ring.read(a, b - a)
                except RingOverrun:
                    audio = np.zeros(b - a, np.float32)
                embs.append(stream.step(audio))
        for k, emb in zip(range(start, stop), embs):
            if k >= keep_from:
                self._store(k, emb)

    def _run_chunk(self, chunk: ChunkTask) -> None:
        """A file's chunk: every embedding in one call, every head window of
        it in one more, then the smoother in order."""
        t0 = time.perf_counter()
        split = self._recognizer.split
        self._ensure_stream(split)
        embeddings = split.chunk.invoke_batch(chunk.audio[None])[0]
        if self._stop.is_set():  # stopped during the call: no decisions (nor checks) after it
            return
        for j in range(chunk.first, chunk.steps[-1].j + 1):
            self._store(j, embeddings[j - chunk.first])
        frames, ring = split.spec.frames, self.embeddings
        heads = [s for s in chunk.steps if s.head and ring.has(s.j - frames + 1, s.j + 1)]
        if not heads:
            return
        probs = split.head(np.stack([ring.get(s.j - frames + 1, s.j + 1) for s in heads]))
        self._infer_ms = (time.perf_counter() - t0) * 1000.0 / len(heads)
        for step, p in zip(heads, probs):
            self._decide(step, p)

    def _ensure_stream(self, split) -> None:
        """The current recognizer's embedding stream and ring (made once)."""
        if self._stream_of is self._recognizer:
            return
        self._stream_of, self._stream = self._recognizer, split.stream()
        self._stream_next: int | None = None  # the step the stream's state expects
        spec = split.spec
        self.embeddings = EmbeddingRing(
            max(spec.frames + spec.chunk_embeddings,
                int(self.config.audio.ring_seconds * self.sample_rate_hz) // spec.hop_samples),
            spec.dim, spec.hop_samples, spec.input_samples, self.sample_rate_hz)

    def _store(self, j: int, embedding: np.ndarray) -> None:
        self.embeddings.put(j, embedding)
        # Every embedding the head reads, those before the stream start too
        # (add_embedding_listener): from j >= 0 only, the listeners' first
        # window ended 1.5 s in, after the head had judged a word in the
        # first second, and a word to ignore let it through.
        if self._listeners:
            end_s = self.embeddings.end_s(j)
            for listener in self._listeners:
                listener(end_s, embedding)
        if j >= 0 and self.hold.holding:  # also after the last listener went (detach)
            self.hold.release(self.embeddings.end_s(j))

    def _decide(self, task: WindowTask | StepTask, probs: np.ndarray) -> None:
        """Window probabilities -> smoother -> on_window / on_event."""
        sr = float(self.sample_rate_hz)
        reopened = task.segment != self._segment
        if reopened:  # the gate closed in between
            self.smoother.reset()
            self._segment = task.segment
        n = task.audio.shape[0] if isinstance(task, WindowTask) else self.window_samples
        win_start = task.end - n
        run = heard_run(task.runs, task.end,
                        ms_to_samples(self.config.vad.heard_ms, self.sample_rate_hz))
        word = None if run is None else run.start
        if run is not None:
            span = (max(run.start, win_start), min(run.end, task.end))
        else:
            span = (max(win_start, 0), task.end)
        if self.on_decision is not None:
            self.on_decision(DecisionInput(task.end / sr, probs, word, reopened,
                                           (span[0] / sr, span[1] / sr), task.quiet_ms))
        detection = self.smoother.update(task.end / sr, probs, word, task.quiet_ms)
        if self.on_window is not None:
            self.on_window(WindowResult(task.end / sr, probs, self._infer_ms))
        if detection is None:
            return
        self.hold.decided(task.end / sr, detection.label, detection.score,
                          span[0] / sr, span[1] / sr)

    def _audio_between(self, lo: int, hi: int) -> np.ndarray | None:
        """Samples ``[lo, hi)`` from the ring, else from the chunks and
        windows just run (a file's pipeline is further on); None if gone."""
        try:
            return self.ring.read(lo, hi - lo)
        except (RingOverrun, ValueError):
            pass
        out = np.zeros(hi - lo, np.float32)
        covered = 0
        for start, audio in self._recent:
            a, b = max(lo, start), min(hi, start + audio.shape[0])
            if a < b:
                out[a - lo:b - lo] = audio[a - start:b - start]
                covered += b - a
        return out if covered >= (hi - lo) // 2 else None

    def _event(self, held: Held, at_s: float) -> CommandEvent:
        """``held`` as a :class:`CommandEvent` (live: stamped now)."""
        if self.source.realtime:
            emitted = self._delivered() / float(self.source.sample_rate_hz)
        else:  # a file: no wall clock, the window is "emitted" when complete
            emitted = at_s
        return CommandEvent(label=held.label, score=held.score, start=held.start_s,
                            end=held.end_s, emitted_at=emitted, latency=emitted - held.end_s)

    def _unconfirmed(self, dropped: Unconfirmed) -> None:
        if self.on_unconfirmed is not None:  # read at each call, like on_event
            self.on_unconfirmed(dropped)

    def _deliver(self, held: Held, at_s: float) -> None:
        """``held`` out as a :class:`CommandEvent`."""
        event = self._event(held, at_s)
        self._latency_ms = event.latency * 1000.0
        self._publish(event)

    def emit(self, event: CommandEvent) -> None:
        """Emit ``event``, found beside the head's commands (a user word:
        kwsapp/userwords/live.py), in order with them: in a file's replay
        after the commands decided before it, which wait for their check on
        the verify thread (so ``events`` and ``on_event`` have the order a
        file checked inline gives); else now."""
        self.second_opinion.in_order(lambda: self._publish(event))

    def _publish(self, event: CommandEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
