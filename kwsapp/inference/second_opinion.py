"""The speech recogniser's second opinion on the engine's commands
(``config.verify``; the recogniser: :mod:`kwsapp.inference.verifier`).

Every command the head decides is checked before it fires: the recogniser
hears the command's word, and a command it does not confirm is counted,
logged and handed to ``on_unconfirmed`` instead of being emitted. The
checks run in order on a thread of their own (the engine's
``kwsapp-verify``): live, so that their ~30 ms (docs/benchmarks.md) never
stall the pipeline or the head; in a file's replay, so that the head goes
on with the file meanwhile (the checks were three quarters of an hour's
replay), at most ``verify.replay_ahead`` commands ahead of them. Either
way each command is checked alone, as it would be inline, so a file gives
the same events, in the same order, as when each was checked on the
inference thread (``replay_ahead`` 0).
"""

from __future__ import annotations

import atexit
import functools
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from kwsapp.config import SAMPLE_RATE_HZ, VerifyConfig
from kwsapp.errors import KwsError

if TYPE_CHECKING:
    from kwsapp.inference.engine import CommandEvent
    from kwsapp.inference.hold import Held
    from kwsapp.inference.verifier import Verifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unconfirmed:
    """A command the recogniser's second opinion did not confirm, so it was
    not emitted (``on_unconfirmed``): what would have fired and what the
    recogniser made of its audio."""

    event: CommandEvent  # as it would have been emitted
    heard: str  # the recogniser's transcription ("" when it heard no word)
    logp: float  # log-probability of the command's likeliest spelling
    # The level it fell short of: moved by the head's score, and raised by
    # other_word_margin when it heard another word.
    level: float


#: How often a replay's inference thread, waiting for room among the checks
#: (or for the last of them), looks whether the verify thread has ended.
_WAIT_S = 0.05
#: Longest a replay's recogniser call waits for the live checks before it
#: (:class:`_LiveFirst`): a live verify thread that is stuck, or still
#: loading the recogniser, does not hold a file's replay for longer.
_LIVE_FIRST_MAX_WAIT_S = 1.0


@dataclass
class _Checks:
    """One run's commands waiting for the verify thread (None: stop)."""

    live: bool
    # Live: unbounded (the pipeline never waits). A replay: bounded by
    # verify.replay_ahead, the head waiting for room.
    pending: queue.SimpleQueue | queue.Queue
    ended: threading.Event = field(default_factory=threading.Event)  # its thread returned
    closing: threading.Event = field(default_factory=threading.Event)  # a replay stopped
    # A replay's encoder calls, run ahead of the checks that read them.
    encoders: ThreadPoolExecutor | None = None
    waiting: int = 0  # live: commands queued and not yet checked (_LiveFirst's lock)
    # Live: its verify thread still checks, so a queued command is counted
    # (_LiveFirst's lock; after, nothing would uncount it).
    counting: bool = True


class _LiveFirst:
    """The process's live checks go before its replays' recogniser calls.

    The window may listen while its Files tab replays a file, and both ask
    the one recogniser (:func:`shared_verifier`). A replay beside its head
    runs two encoder calls and a decoder call at once: a live command
    waiting for its check then shared the cores with them, word end ->
    command 280 ms on the median against 210 with the replay checked
    inline (docs/benchmarks.md). So a replay's call waits while a live
    command waits for its check (those running finish)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting = 0

    def queued(self, checks: _Checks) -> None:
        """A live command is queued for its check."""
        with self._cond:
            if checks.counting:
                checks.waiting += 1
                self._waiting += 1

    def checked(self, checks: _Checks, n: int = 1) -> None:
        """``n`` of ``checks``' live commands are checked (or dropped)."""
        with self._cond:
            self._uncount(checks, n)

    def ended(self, checks: _Checks) -> None:
        """The verify thread of ``checks`` ends: its live commands still
        waiting will not be checked, nor any queued from now on (the
        inference thread may decide one while the engine stops)."""
        with self._cond:
            checks.counting = False
            self._uncount(checks, checks.waiting)

    def _uncount(self, checks: _Checks, n: int) -> None:
        """``n`` fewer of ``checks``' live commands wait (the lock held)."""
        n = min(n, checks.waiting)
        checks.waiting -= n
        self._waiting -= n
        if self._waiting == 0:
            self._cond.notify_all()

    def wait_turn(self) -> None:
        """A replay's recogniser call: returns once no live command waits
        (at most :data:`_LIVE_FIRST_MAX_WAIT_S`)."""
        with self._cond:
            self._cond.wait_for(lambda: self._waiting == 0, _LIVE_FIRST_MAX_WAIT_S)


class SecondOpinion:
    """The check between an engine's decision and its delivery, and its counts.

    Args:
        config: the engine's ``config.verify`` (inactive, or no level for a
            command's label: the command is delivered unchecked).
        sample_rate_hz: the rate of the engine's sample positions (16 kHz).
        audio_between: the engine's samples ``[lo, hi)`` (float32), None
            when they are gone.
        event: the command as the engine would emit it at a stream time (s).
        deliver: emits a confirmed command at a stream time (s).
        on_unconfirmed: given each command not confirmed.
    """

    def __init__(self, config: VerifyConfig, sample_rate_hz: int,
                 audio_between: Callable[[int, int], np.ndarray | None],
                 event: Callable[[Held, float], CommandEvent],
                 deliver: Callable[[Held, float], None],
                 on_unconfirmed: Callable[[Unconfirmed], None]) -> None:
        self.config = config
        self.sample_rate_hz = sample_rate_hz
        self._audio_between, self._event, self._deliver = audio_between, event, deliver
        self._on_unconfirmed = on_unconfirmed
        # Loaded when the verify thread starts (or a file's inference
        # thread, checking inline); None until then, or if it could not be.
        self._verifier: Verifier | None = None
        self._failed = False
        self._loading = False
        self._load_lock = threading.Lock()
        # The commands waiting for the verify thread (None: checked inline).
        self._checks: _Checks | None = None
        self.checked = 0  # commands it heard (confirmed or not)
        self.unverified = 0  # commands it did not confirm (not emitted)

    def open(self, live: bool) -> Callable[[], None] | None:
        """A run of the engine starts: (active) the verify thread's loop,
        which checks what :meth:`submit` queues; None with
        ``verify.replay_ahead`` 0 for a file, and :meth:`submit` checks on
        the thread that decided."""
        # Live, each check runs on a thread of its own: inline it stalled
        # the pipeline thread (when it runs the step itself) and the steps
        # after a command bunched up. A file's are checked in order too, on
        # a thread of their own, while the head goes on with the file: no
        # clock to keep, and the same events whatever the timing.
        cfg = self.config
        if not cfg.active or not (live or cfg.replay_ahead > 0):
            self._checks = None
            return None
        if live:
            self._checks = _Checks(True, queue.SimpleQueue())
        else:
            # The encoder (two thirds of a check) runs ahead on workers of
            # its own, so that a file's checks use the cores the head and
            # the decoder leave: the states are the same to the bit.
            workers = cfg.replay_encoders
            self._checks = _Checks(False, queue.Queue(max(1, cfg.replay_ahead)), encoders=(
                ThreadPoolExecutor(workers, thread_name_prefix="kwsapp-verify-encoder")
                if workers > 0 else None))
        return functools.partial(self._serve, self._checks)

    def close(self) -> None:
        """The run ends: live, the verify thread returns after the checks
        queued; a file's, after the check in hand (the engine stops: those
        still queued are not wanted)."""
        checks = self._checks
        if checks is None:
            return
        if checks.live:
            checks.pending.put(None)
            return
        checks.closing.set()
        try:
            checks.pending.put_nowait(None)
        except queue.Full:  # it sees `closing` before its next check
            pass

    def finish(self) -> None:
        """A file's end: returns once every command queued is checked and
        delivered (or the run was stopped, or its verify thread ended)."""
        checks = self._checks
        if checks is None or checks.live:
            return
        self._put(checks, None)
        while not checks.ended.wait(_WAIT_S):
            if checks.closing.is_set():
                return

    def load_if_inline(self) -> None:
        """A file's inference thread starts: load the recogniser now, not at
        the first command, when it checks them itself (else the verify
        thread loads it)."""
        if self.config.active and self._checks is None:
            self.load()

    def submit(self, held: Held, at_s: float) -> None:
        """Deliver ``held`` at stream time ``at_s`` if the recogniser
        confirms it: checked on the verify thread (queued behind those
        before it), else now. Its audio is read now, by the thread that
        decided it."""
        audio = self._audio(held)
        checks = self._checks
        if checks is not None:
            heard = None
            if audio is not None and checks.encoders is not None:
                try:
                    heard = checks.encoders.submit(self._hears, audio)
                except RuntimeError:  # shut down: the run stopped
                    pass
            self._put(checks, (held, at_s, audio, heard))
        elif self._confirmed(held, at_s, audio):
            self._deliver(held, at_s)

    def _hears(self, audio: np.ndarray) -> np.ndarray | None:
        """The recogniser's encoder states for ``audio`` (None: it is not
        installed)."""
        verifier = self.load()
        if verifier is None:
            return None
        _LIVE_FIRST.wait_turn()
        return verifier.hears(audio)

    def in_order(self, emit: Callable[[], None]) -> None:
        """Run ``emit`` (an event found beside the head's commands: a user
        word's) in order with the commands: in a file's replay, on the
        verify thread after the checks queued before it; else now."""
        checks = self._checks
        if checks is not None and not checks.live:
            self._put(checks, emit)
        else:
            emit()

    @staticmethod
    def _put(checks: _Checks, item: object) -> None:
        """Queue ``item`` for the verify thread; a replay's waits for room
        (bounded memory), dropped once the run is stopped or the thread
        ended (an error: the engine stops)."""
        if checks.live:
            if item is not None:
                _LIVE_FIRST.queued(checks)
            checks.pending.put(item)
            return
        while not (checks.ended.is_set() or checks.closing.is_set()):
            try:
                checks.pending.put(item, timeout=_WAIT_S)
                return
            except queue.Full:
                pass

    def _serve(self, checks: _Checks) -> None:
        """The verify thread: each command waiting for its check, in order."""
        with _SERVING_LOCK:
            _SERVING[threading.current_thread()] = self
        try:
            self.load()
            while (item := checks.pending.get()) is not None:
                if checks.closing.is_set():  # a replay stopped: the rest unwanted
                    break
                if callable(item):  # in_order
                    item()
                    continue
                held, at_s, audio, heard = item
                hidden = None if heard is None else heard.result()
                if not checks.live and audio is not None:
                    _LIVE_FIRST.wait_turn()
                try:
                    if self._confirmed(held, at_s, audio, hidden):
                        self._deliver(held, at_s)
                finally:
                    if checks.live:
                        _LIVE_FIRST.checked(checks)
        finally:
            if checks.encoders is not None:  # those not started are not wanted
                checks.encoders.shutdown(wait=True, cancel_futures=True)
            _LIVE_FIRST.ended(checks)
            checks.ended.set()
            with _SERVING_LOCK:
                _SERVING.pop(threading.current_thread(), None)

    def _audio(self, held: Held) -> np.ndarray | None:
        """The audio the recogniser hears for ``held`` (None: no level for
        its label, or gone from the ring: the head decides alone)."""
        cfg = self.config
        if not cfg.active or cfg.level(held.label) is None:
            return None
        from kwsapp.inference.verifier import heard_span

        sr = self.sample_rate_hz
        lo_s, hi_s = heard_span(held.end_s, held.decided_s, cfg.before_ms, cfg.after_ms)
        return self._audio_between(int(round(lo_s * sr)), int(round(hi_s * sr)))

    def _confirmed(self, held: Held, at_s: float, audio: np.ndarray | None,
                   hidden: np.ndarray | None = None) -> bool:
        """Whether the recogniser confirms ``held`` on ``audio``, its word
        (``hidden``: its encoder states, when already computed); True
        without audio (:meth:`_audio`) or when the recogniser is not
        installed (said once in the log). A command it does not confirm is
        counted, logged and handed to ``on_unconfirmed``."""
        if audio is None or self.load() is None:
            return True
        level = self.config.level(held.label, held.score)
        margin = self.config.other_word_margin
        confirmed, opinion = self._verifier.confirms(audio, held.label, level, margin,
                                                     hidden=hidden)
        self.checked += 1
        if confirmed:
            return True
        self.unverified += 1
        from kwsapp.inference.verifier import needed

        level = needed(opinion, level, margin)  # higher when it heard another word
        log.info("%s at %.2f s not emitted: the recogniser heard %r (log p %.1f < %.1f)",
                 held.label, held.decided_s, opinion.transcript, opinion.logp, level)
        self._on_unconfirmed(Unconfirmed(self._event(held, at_s), opinion.transcript,
                                         opinion.logp, level))
        return False

    @property
    def loading(self) -> bool:
        """Whether the recogniser is being loaded for these checks now."""
        return self._loading

    def load(self) -> Verifier | None:
        """The recogniser, loaded once (None, said once in the log, when it
        is not installed: commands then fire on the head alone). A replay's
        verify thread and its encoder workers may ask at once."""
        with self._load_lock:
            if self._verifier is None and not self._failed:
                self._loading = True
                try:
                    self._verifier = shared_verifier(self.config.threads)
                except KwsError as exc:
                    log.warning("commands fire without a second opinion: %s", exc)
                    self._failed = True
                finally:
                    self._loading = False
        return self._verifier


_SHARED: dict[int, Verifier] = {}
_SHARED_LOCK = threading.Lock()
# Like the recogniser they share, one for the process.
_LIVE_FIRST = _LiveFirst()

# The verify threads running, and whose checks they serve. An engine's
# stop() waits for its verify thread only so long (the recogniser's first
# load takes 1-3 s and cannot be interrupted): a process that then exited
# while onnxruntime was still loading or checking on that (daemon) thread
# was aborted ("terminate called without an active exception", exit code
# 134), e.g. `kwsapp listen` stopped within a second of starting. At exit
# they are told to end and waited for, up to EXIT_WAIT_S.
_SERVING: dict[threading.Thread, SecondOpinion] = {}
_SERVING_LOCK = threading.Lock()
#: Longest wait at exit for the verify threads (a first load takes 1-3 s).
EXIT_WAIT_S = 10.0


def finish_checks(timeout_s: float = EXIT_WAIT_S) -> list[str]:
    """Tell every verify thread to end after what it is doing and wait for
    them (at most ``timeout_s`` in all); returns the names of those still
    running. Run at exit (``atexit``)."""
    with _SERVING_LOCK:
        serving = list(_SERVING.items())
    deadline = time.monotonic() + timeout_s
    for thread, opinion in serving:
        opinion.close()
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.name for thread, _ in serving if thread.is_alive()]


atexit.register(finish_checks)


def shared_verifier(threads: int) -> Verifier:
    """The process's recogniser on ``threads`` encoder threads, loaded and
    warmed at the first call. Shared because loading it takes 1-3 s of CPU
    and ~240 MB, and the window starts a new engine at every Listen, model
    or device change (each loaded its own, and stopping one waited for its
    load); onnxruntime sessions may run from several threads at once.

    Raises:
        KwsError: the recogniser is not installed (not cached: asked again
            next time).
    """
    with _SHARED_LOCK:
        verifier = _SHARED.get(threads)
        if verifier is None:
            from kwsapp.inference.verifier import Verifier

            verifier = Verifier(threads=threads)
            # One check on silence now: onnxruntime allocates its buffers at
            # the first run, so memory is flat from the start and the first
            # command does not wait for it.
            verifier.confirms(np.zeros(SAMPLE_RATE_HZ, np.float32), "go", 1.0)
            _SHARED[threads] = verifier
        return verifier
