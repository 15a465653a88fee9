"""The live stream behind the window: an :class:`~kwsapp.inference.engine.Engine`
on a source, its callbacks bridged into Qt signals, and the GUI's own read
cursor on the engine's ring buffer.

The engine knows nothing of Qt and calls back from its own threads; the
bridge only emits signals (queued to the GUI thread), so no slot ever runs on
an engine thread and the GUI never runs inference.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import shiboken6
from PySide6 import QtCore

from kwsapp.config import Config

log = logging.getLogger(__name__)

#: Builds the audio source for a device (name, index or None: the default).
SourceFactory = Callable[[object], object]


def default_source_factory(config: Config) -> SourceFactory:
    """Sources from the sound card: PortAudio in a child process
    (:class:`~kwsapp.audio.child_source.ChildSource`), so a device that
    vanishes takes only that process with it and the window can listen
    again, in a fresh one, when it is back."""

    def make(device: object) -> object:
        from kwsapp.audio.child_source import ChildSource
        return ChildSource(device, block_ms=config.audio.block_ms,
                           rate_hz=config.audio.device_rate_hz)

    return make


class EngineBridge(QtCore.QObject):
    """Engine callbacks -> Qt signals. The ``on_*`` methods are handed to the
    engine and run on its threads: they only emit."""

    command = QtCore.Signal(object)  # CommandEvent
    unconfirmed = QtCore.Signal(object)  # Unconfirmed: heard, not emitted
    window = QtCore.Signal(object)  # WindowResult
    failed = QtCore.Signal(object)  # Exception (DeviceError when the device fails)
    word_scores = QtCore.Signal(object)  # (end_s, labels, probs) of the user words

    def on_event(self, event: object) -> None:
        self._emit(self.command, event)

    def on_unconfirmed(self, dropped: object) -> None:
        self._emit(self.unconfirmed, dropped)

    def on_window(self, result: object) -> None:
        self._emit(self.window, result)

    def on_error(self, exc: Exception) -> None:
        self._emit(self.failed, exc)

    def on_word_scores(self, end_s: float, labels: tuple, probs: object) -> None:
        self._emit(self.word_scores, (end_s, labels, probs))

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


class LiveSession:
    """One running stream: engine + source + the GUI's ring cursor.

    Args:
        recognizer: the loaded model (shared with nobody else: LiteRT
            interpreters are not thread-safe).
        config: the runtime settings (:func:`~kwsapp.config.runtime_settings`:
            the card's defaults with the window's controls over them), as given.
        source: an AudioSource (sound card or file).
        bridge: where engine callbacks go.
    """

    def __init__(self, recognizer: object, config: Config, source: object,
                 bridge: EngineBridge) -> None:
        from kwsapp.inference.engine import Engine
        self.source = source
        self.engine = Engine(recognizer, config, source, on_event=bridge.on_event,
                             on_window=bridge.on_window, on_error=bridge.on_error,
                             on_unconfirmed=bridge.on_unconfirmed)
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
        self.user_words = attach_user_words(self.engine, on_scores=self._bridge.on_word_scores,
                                            words=words)
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
