"""The live stream behind the window: an :class:`~kwsapp.inference.engine.Engine`
on a source, its callbacks bridged into Qt signals, and the GUI's own read
cursor on the engine's ring buffer.

The engine knows nothing of Qt and calls back from its own threads; the
bridge only emits signals (queued to the GUI thread), so no slot ever runs on
an engine thread and the GUI never runs inference. Sessions are made,
started and stopped by a :class:`SessionRunner` on a thread of its own: the
GUI thread never waits for a device to open or close.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
from typing import Callable, TypeVar

import numpy as np
import shiboken6
from PySide6 import QtCore

from kwsapp.config import Config

log = logging.getLogger(__name__)

#: Builds the audio source for a device (name, index or None: the default).
SourceFactory = Callable[[object], object]
#: What a SessionRunner starts: a LiveSession, or the Add word dialog's TakeRecorder.
Session = TypeVar("Session")


def default_source_factory(config: Config) -> SourceFactory:
    """Sources from the sound card: PortAudio in a child process
    (:class:`~kwsapp.audio.child_source.ChildSource`), so a device that
    vanishes takes only that process with it and the window can listen
    again, in a fresh one, when it is back. A child that has not opened the
    device within ``config.audio.open_timeout_s`` is killed and said."""

    def make(device: object) -> object:
        from kwsapp.audio.child_source import ChildSource
        return ChildSource(device, block_ms=config.audio.block_ms,
                           rate_hz=config.audio.device_rate_hz,
                           open_timeout_s=config.audio.open_timeout_s)

    return make


class EngineBridge(QtCore.QObject):
    """Engine callbacks -> Qt signals. The ``on_*`` methods are handed to the
    engine (and the session runner) and run on its threads: they only emit."""

    # What a session heard, each as (ticket, value): the SessionRunner start
    # of the session it came from (None: not from a session), so that the
    # window drops what a session it has since replaced queued before it
    # stopped (an old model's probabilities, a command whose audio would be
    # read from the new session's ring).
    command = QtCore.Signal(object)  # CommandEvent
    unconfirmed = QtCore.Signal(object)  # Unconfirmed: heard, not emitted
    window = QtCore.Signal(object)  # WindowResult
    # (ticket, Exception): the session of that SessionRunner ticket failed
    # (DeviceError when the device fails)
    failed = QtCore.Signal(object)
    word_scores = QtCore.Signal(object)  # (end_s, labels, probs) of the user words
    # (ticket, LiveSession or None, Exception or None): a start ended (SessionRunner)
    started = QtCore.Signal(object)
    # (spec, Recognizer or None, Exception or None): a model chosen was loaded, or not
    model_loaded = QtCore.Signal(object)

    def on_event(self, event: object, ticket: int | None = None) -> None:
        self._emit(self.command, (ticket, event))

    def on_unconfirmed(self, dropped: object, ticket: int | None = None) -> None:
        self._emit(self.unconfirmed, (ticket, dropped))

    def on_window(self, result: object, ticket: int | None = None) -> None:
        self._emit(self.window, (ticket, result))

    def on_error(self, ticket: int, exc: Exception) -> None:
        self._emit(self.failed, (ticket, exc))

    def on_word_scores(self, end_s: float, labels: tuple, probs: object,
                       ticket: int | None = None) -> None:
        self._emit(self.word_scores, (ticket, (end_s, labels, probs)))

    def on_started(self, ticket: int, session: object, error: Exception | None) -> None:
        self._emit(self.started, (ticket, session, error))

    def on_model_loaded(self, spec: str, recognizer: object, error: Exception | None) -> None:
        self._emit(self.model_loaded, (spec, recognizer, error))

    def _emit(self, signal: QtCore.SignalInstance, value: object) -> None:
        # An engine thread can outlive the window: a model slower than the
        # engine's stop() timeout returns after the window (and this bridge)
        # was deleted, and Qt then refuses the emit. Nobody is left to tell.
        try:
            signal.emit(value)
        except RuntimeError:
            if shiboken6.isValid(self):
                raise
            log.debug("engine callback after the window closed: dropped")


def on_new_source(source_factory: SourceFactory, device: object,
                  make: Callable[[object], Session]) -> Session:
    """``make(source)`` on a new source for ``device`` (on a
    :class:`SessionRunner`'s thread): what it makes and starts there. When
    that fails the source is stopped: a capture child must not outlive what
    was never started."""
    source = source_factory(device)
    try:
        return make(source)
    except BaseException:
        source.stop()
        raise


def open_session(source_factory: SourceFactory, device: object, recognizer: object,
                 config: Config, bridge: EngineBridge, ticket: int) -> LiveSession:
    """The source for ``device`` and a session on it, started (on the
    :class:`SessionRunner`'s thread, as its start ``ticket``)."""
    session = on_new_source(source_factory, device, lambda source: LiveSession(
        recognizer, config, source, bridge, ticket))
    session.start()  # a failure there stops the source
    return session


class LiveSession:
    """One running stream: engine + source + the GUI's ring cursor.

    Args:
        recognizer: the loaded model (shared with nobody else: LiteRT
            interpreters are not thread-safe).
        config: the runtime settings (:func:`~kwsapp.config.runtime_settings`:
            the card's defaults with the window's controls over them), as given.
        source: an AudioSource (sound card or file).
        bridge: where engine callbacks go.
        ticket: the :class:`SessionRunner` start that makes it; its errors
            carry it, so that the window tells them from those of a session
            it has since replaced, which arrive after it did.
    """

    def __init__(self, recognizer: object, config: Config, source: object,
                 bridge: EngineBridge, ticket: int) -> None:
        from kwsapp.inference.engine import Engine
        self.source = source
        self.ticket = ticket
        self.engine = Engine(recognizer, config, source,
                             on_event=functools.partial(bridge.on_event, ticket=ticket),
                             on_window=functools.partial(bridge.on_window, ticket=ticket),
                             on_error=functools.partial(bridge.on_error, ticket),
                             on_unconfirmed=functools.partial(bridge.on_unconfirmed,
                                                              ticket=ticket))
        self._bridge = bridge
        self.user_words = None
        self.unheard: tuple[str, ...] = ()
        self.reload_user_words()
        self._cursor: int | None = None

    def reload_user_words(self) -> tuple[str, ...]:
        """Listen for the stored user words as they are now (after one was
        added or removed); returns their names."""
        from kwsapp.userwords.listener import UserWords
        from kwsapp.userwords.live import attach_user_words

        if self.user_words is not None:
            self.user_words.detach()
        words = UserWords.load()
        self.user_words = attach_user_words(
            self.engine, on_scores=functools.partial(self._bridge.on_word_scores,
                                                     ticket=self.ticket), words=words)
        # Words there are but this model cannot hear (it streams no
        # embeddings): the window says so, else they seem to fail.
        self.unheard = tuple(words.names) if self.user_words is None else ()
        return () if self.user_words is None else self.user_words.labels[1:]

    def start(self) -> None:
        self.engine.start()

    def stop(self, timeout: float = 1.0) -> None:
        self.engine.stop(timeout=timeout)

    @property
    def running(self) -> bool:
        return bool(self.engine.is_running)

    @property
    def sample_rate_hz(self) -> int:
        return int(getattr(self.source, "sample_rate_hz", 0) or 0)

    def new_samples(self, max_samples: int) -> tuple[np.ndarray, bool]:
        """Samples written to the ring since the last call (at most the last
        ``max_samples``; the view spans no more).

        Returns:
            ``(samples float32, skipped)``: ``skipped`` is True when older new
            samples were left out, so a streaming consumer must reset.
        """
        ring = self.engine.ring
        total = int(ring.total_written)
        start = total if self._cursor is None else self._cursor
        skipped = total - start > max_samples
        start = max(start, total - max_samples)
        self._cursor = total
        if total <= start:
            return np.zeros(0, np.float32), skipped
        return np.asarray(ring.read(start, total - start), np.float32), skipped

    def latest(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The last ``n`` samples (zeros before the stream began) and a
        per-sample speech mask of the same span."""
        ring = self.engine.ring
        total = int(ring.total_written)
        audio = np.asarray(ring.latest(n), np.float32)
        have = min(total, n)
        mask = np.zeros(n, bool)
        if have > 0:
            got = np.asarray(self.engine.speech_mask(total - have, have), bool)
            if got.size:
                # Per-sample or per-VAD-frame: stretch onto the samples.
                idx = (np.arange(have) * got.size // have).astype(np.intp)
                mask[n - have:] = got[idx]
        return audio, mask

    def heard(self, start_s: float, end_s: float, pad_s: float = 0.3) -> np.ndarray | None:
        """The 16 kHz audio of ``[start_s, end_s]`` (stream seconds) with
        ``pad_s`` on each side, as far as the ring still holds it (None when
        it holds none of it): a command's words, for "Ignore this word…"."""
        from kwsapp.audio.ringbuffer import RingOverrun

        ring, sr = self.engine.ring, self.engine.sample_rate_hz
        start = max(int((start_s - pad_s) * sr), ring.oldest)
        end = min(int((end_s + pad_s) * sr), int(ring.total_written))
        if end - start <= 0:
            return None
        try:
            return np.asarray(ring.read(start, end - start), np.float32)
        except RingOverrun:  # overwritten while we read: nothing to keep
            return None

    def set_threshold(self, threshold: float) -> None:
        self.engine.set_threshold(threshold)

    def set_vad_aggressiveness(self, aggressiveness: int) -> None:
        self.engine.set_vad_aggressiveness(aggressiveness)

    def set_recognizer(self, recognizer: object) -> None:
        self.engine.set_recognizer(recognizer)


class SessionRunner:
    """Starts and stops sessions on a thread of its own, one job at a time,
    in the order asked: the window's live sessions (``kwsapp-session``) and
    the Add word dialog's take recorders (``kwsapp-record``). A session is
    what the ``make`` given to :meth:`start` returns, stopped with its
    ``stop()``.

    Opening a sound card starts its capture child and waits for its answer,
    and closing one waits for the child to leave: 0.25-0.3 s and 40-70 ms on
    an idle machine, twice that with the other core busy. On the GUI thread
    that froze the window at every Listen, model, device or second-opinion
    change, and the dialog at every take. In order, so a stop has closed the
    device before the next start opens it again, and a start stopped before
    it ended is stopped right after it, here: never two sessions at once. A
    start stopped before it began is skipped (clicks faster than a device
    opens).

    Args:
        on_started: ``(ticket, session, error)``, called on the runner's
            thread when a start asked for by :meth:`start` ends: the session
            running, or None and what failed.
        name: the thread's name.
    """

    def __init__(self, on_started: Callable[[int, object, Exception | None], None],
                 name: str = "kwsapp-session") -> None:
        self._on_started = on_started
        self._name = name
        self._jobs: queue.SimpleQueue | None = None  # the serving thread's
        self._thread: threading.Thread | None = None  # serving; None once closed
        self._last: threading.Thread | None = None  # the one started last
        self._tickets = itertools.count(1)
        self._ticket = 0  # the last one given
        self._stopped_through = 0  # starts up to this ticket are stopped
        self._live: object | None = None  # started last, not stopped (runner thread)

    def start(self, make: Callable[[int], Session]) -> int:
        """Make a session with ``make(ticket)`` (which starts it) on the
        runner's thread, after the jobs asked before; returns the ticket,
        which its ``on_started`` call carries too."""
        self._ticket = ticket = next(self._tickets)
        self._submit(functools.partial(self._start, ticket, make))
        return ticket

    def stop(self) -> None:
        """Stop the session started last, once the jobs asked before are
        done (a start in progress: the session it makes; a start not begun
        is skipped)."""
        self._stopped_through = self._ticket
        self._submit(self._stop)

    def run(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the runner's thread after the jobs asked before
        (loading a model chosen: the window's next start takes it)."""
        self._submit(job)

    def close(self) -> None:
        """Stop the session (after a start in progress) and let the thread
        end once that is done, without waiting for it (the Add word dialog
        after a take, or closed: no thread of it stays). A job asked later
        runs on a new thread, once this one has ended."""
        if self._thread is None:
            return
        self.stop()
        self._jobs.put(None)
        self._thread = self._jobs = None

    def shutdown(self, timeout: float) -> bool:
        """Stop the session (after a start in progress) and end the thread,
        waiting up to ``timeout`` s. Returns whether the thread ended."""
        self.close()
        thread = self._last
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.error("the %s thread did not stop within %.1f s", self._name, timeout)
            return False
        return True

    def _submit(self, job: Callable[[], None]) -> None:
        if self._thread is None:  # at the first job (a window never listening has none)
            self._jobs = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._serve, args=(self._jobs, self._last),
                                            name=self._name, daemon=True)
            self._last = self._thread
            self._thread.start()
        self._jobs.put(job)

    def _serve(self, jobs: queue.SimpleQueue, before: threading.Thread | None) -> None:
        if before is not None:
            before.join()  # closed, still stopping its session: in order, as ever
        while (job := jobs.get()) is not None:
            try:
                job()
            except Exception:  # noqa: BLE001 - the next job still runs
                log.exception("%s job failed", self._name)

    def _start(self, ticket: int, make: Callable[[int], Session]) -> None:
        if ticket <= self._stopped_through:
            return  # stopped before it began: nobody waits for it
        self._stop()  # the window stops before it starts again; in case it did not
        try:
            session = make(ticket)
        except Exception as exc:  # noqa: BLE001 - any device failure is shown, not raised
            self._on_started(ticket, None, exc)
            return
        self._live = session
        self._on_started(ticket, session, None)

    def _stop(self) -> None:
        session, self._live = self._live, None
        if session is not None:
            session.stop()
