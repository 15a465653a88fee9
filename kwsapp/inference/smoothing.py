"""Window probabilities -> command detections.

Averages the probabilities of the windows that ended within the last
``average_window_ms``, fires when the best *command* class (not silence or
unknown) passes its threshold (``threshold``, or the class's own where the
card tunes one: :meth:`SmoothingConfig.threshold_for`), then stays quiet for
``refractory_ms``.

Unlike TensorFlow's ``RecognizeCommands``, the same word said twice fires
twice: a label is only held back while it is still the same utterance. The
engine passes a ``word`` key per window (the start of the speech run the
window mostly holds); a new key re-arms the label. Without keys (VAD off) a
label re-arms once its mean drops below the threshold. The refractory time
and the word that fired hold across :meth:`Smoother.reset` (gate closings).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.config import THRESHOLD_RANGE, SmoothingConfig
from kwsapp.inference.finite import all_finite

#: Float slack when comparing window end times (seconds).
_EPS_S = 1e-6
#: Slack of :meth:`Smoother.can_fire_at`'s bound (float32 means vs float64).
_BOUND_SLACK = 1e-4


@dataclass(frozen=True)
class Detection:
    """One command the smoother fired for."""

    label: str
    score: float  # mean probability over the averaging span
    time: float  # end (stream seconds) of the window that fired


class Smoother:
    """Stateful averaging + threshold + refractory over a stream of windows.

    Args:
        labels: the model's output labels, in order.
        config: averaging span, threshold and refractory time.
    """

    def __init__(self, labels: Sequence[str], config: SmoothingConfig) -> None:
        self.labels = tuple(labels)
        self.config = config  # sets the per-label thresholds too
        self._commands = np.array([lab in COMMAND_LABELS for lab in self.labels])
        if not self._commands.any():
            # A model with its own label set: everything but silence/unknown.
            self._commands = np.array([lab not in ("silence", "unknown") for lab in self.labels])
        self._history: deque[tuple[float, np.ndarray]] = deque()
        self._last_time: float | None = None
        self._last_label: str | None = None
        self._last_index: int | None = None  # of _last_label in labels
        self._last_word: int | None = None
        self._armed = True
        self._pending: tuple[int, float] | None = None  # (label index, since) waiting for the word's end

    @property
    def config(self) -> SmoothingConfig:
        return self._config

    @config.setter
    def config(self, config: SmoothingConfig) -> None:
        self._config = config
        # Each label's threshold, in label order.
        self._thresholds = np.array([config.threshold_for(lab) for lab in self.labels],
                                    np.float64)

    def set_threshold(self, threshold: float) -> None:
        """Move the global threshold (within :data:`THRESHOLD_RANGE`, as
        ``--threshold`` is); per-class ones keep their offsets."""
        low, high = THRESHOLD_RANGE
        if not low <= threshold <= high:
            raise ValueError(f"threshold must be in [{low}, {high}], not {threshold}")
        self.config = replace(self.config, threshold=float(threshold))

    def reset(self) -> None:
        """Start the averaging afresh (the engine calls this when the speech
        gate closes).

        The refractory clock and the word that last fired are kept: the gate
        may reopen (a noise blip) while that word is still in the window,
        which must not fire it again (issue 15: "right" at 3.0 s and 3.5 s).
        A new word (a new key) still fires once the refractory time is over.
        """
        self._history.clear()
        self._pending = None

    def mean(self) -> np.ndarray | None:
        """Mean probabilities over the current averaging span (None: empty)."""
        if not self._history:
            return None
        # np.mean(axis=0) of the float32 rows, without its call overhead (the
        # tuner re-runs this on every window of hours of streams): the same
        # row-by-row float32 sum, then the division.
        rows = iter(self._history)
        acc = next(rows)[1].copy()
        for _, p in rows:
            acc += p
        return acc / len(self._history)

    def refractory_at(self, time_s: float) -> bool:
        """Whether a window ending at ``time_s`` falls within the refractory
        time of the last detection, so it does not fire whatever its
        probabilities (:meth:`update`'s own test). That time holds across
        :meth:`reset` and only a detection moves it (later), so it bounds
        every window before it, not only the next: a live engine may run
        all those steps at one wake-up (the same windows in the same order)."""
        return self._last_time is not None and \
            time_s - self._last_time < self.config.refractory_ms / 1000.0 - _EPS_S

    def can_fire_at(self, time_s: float, quiet_ms_at_most: float | None = None) -> bool:
        """Whether the next window, ending at ``time_s``, could fire whatever
        its probabilities: the mean it would be averaged into, with that
        window at 1.0 for every class, reaches a command's threshold; and,
        when its ``quiet_ms`` will be at most ``quiet_ms_at_most`` (the
        speech has not paused long enough by then), a command already
        waiting for the word's end has waited ``confirm_wait_ms``.

        False is a bound, not a guess: no probabilities of that window can
        fire it, so a live engine may run its step together with the next
        one (the same windows in the same order, and no event later).
        """
        cfg = self.config
        span_s = cfg.average_window_ms / 1000.0
        # The rows update() keeps beside the new one (see its loop).
        kept = [p for t, p in self._history if time_s - t < span_s - _EPS_S]
        if not kept:
            return True
        # np.sum(kept, axis=0, dtype=np.float64)'s row-by-row sum, without
        # stacking the rows (the live pipeline asks this cold at each wake-up).
        upper = kept[0].astype(np.float64)
        for p in kept[1:]:
            upper += p
        upper += 1.0
        upper /= len(kept) + 1
        if not np.any(self._commands & (upper >= self._thresholds - _BOUND_SLACK)):
            return False
        if quiet_ms_at_most is not None and quiet_ms_at_most < cfg.confirm_pause_ms:
            # update() then fires only for a command pending since
            # confirm_wait_ms (a new one starts waiting at this window).
            since = self._pending[1] if self._pending is not None else time_s
            if time_s - since < cfg.confirm_wait_ms / 1000.0 - _EPS_S:
                return False
        return True

    def update(self, time_s: float, probs: np.ndarray, word: int | None = None,
               quiet_ms: float | None = None) -> Detection | None:
        """Add one window's probabilities; returns a detection or None.

        Args:
            time_s: stream time (s) of the window's last sample; increasing.
            probs: ``[len(labels)]`` probabilities.
            word: key of the utterance the window holds (None: unknown).
            quiet_ms: how long the speech has paused at the window's end
                (ms since the last voiced frame; None: unknown, no wait).
        """
        cfg = self.config
        probs = np.asarray(probs, dtype=np.float32)
        if not all_finite(probs):
            return None  # a broken window must not fire (NaN passes no `<` test)
        self._history.append((float(time_s), probs))
        span_s = cfg.average_window_ms / 1000.0
        while self._history and time_s - self._history[0][0] >= span_s - _EPS_S:
            if len(self._history) == 1:
                break  # always keep the newest window
            self._history.popleft()
        mean = self.mean()
        best = int(np.argmax(np.where(self._commands, mean, -1.0)))
        label, score = self.labels[best], float(mean[best])
        if self._last_index is not None and mean[self._last_index] < self._thresholds[self._last_index]:
            self._armed = True  # the last word's evidence is gone
        if score < self._thresholds[best]:
            self._pending = None
            return None
        if self.refractory_at(time_s):
            return None
        if label == self._last_label and not self._armed and (word is None or word == self._last_word):
            return None  # still the utterance that already fired
        if quiet_ms is not None and quiet_ms < cfg.confirm_pause_ms:
            if self._pending is None or self._pending[0] != best:
                self._pending = (best, float(time_s))
            if time_s - self._pending[1] < cfg.confirm_wait_ms / 1000.0 - _EPS_S:
                return None  # the word may go on: wait for its end
        if probs[best] < cfg.confirm_ratio * self._thresholds[best]:
            return None  # the whole utterance in view is not this command
        self._last_time, self._last_label, self._last_word = float(time_s), label, word
        self._last_index = best
        self._armed = False
        self._pending = None
        return Detection(label, score, float(time_s))
