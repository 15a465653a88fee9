"""Run the user words beside the commands: every new embedding completes a
window of the last 10; each word's detector scores it, and one smoother over
all the words (the commands' :class:`~kwsapp.inference.smoothing.Smoother`,
with its own threshold, span and refractory time) turns the scores into
events. The best word wins a window, so a second word cannot steal the
first one's events (and one utterance fires once).

Each word's score is shifted so that its own card threshold lands on the
shared threshold: ``logit' = logit - logit(word threshold) + logit(shared)``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from kwsapp.config import SmoothingConfig, UserWordsConfig
from kwsapp.inference.smoothing import Detection, Smoother
from kwsapp.userwords.detector import DIM, FRAMES, Detector, window_features
from kwsapp.userwords.store import StoredWord, list_words

log = logging.getLogger(__name__)

OTHER = "unknown"


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _words_stamp(root: Path | None) -> int | None:
    from kwsapp.userwords.store import words_dir

    try:
        return words_dir(root).stat().st_mtime_ns
    except OSError:
        return None


class UserWords:
    """The detectors of several words, scored together.

    Args:
        words: stored words (:func:`~kwsapp.userwords.store.list_words`).
        config: the shared threshold and smoother settings.
    """

    def __init__(self, words: Sequence[StoredWord], config: UserWordsConfig = UserWordsConfig()
                 ) -> None:
        self.config = config
        self._stamp = _words_stamp(None)
        self.words = list(words)
        self.names = tuple(w.name for w in self.words)
        dets = [Detector.from_arrays(w.detector_arrays()) for w in self.words]
        for w, d in zip(self.words, dets):
            if d.w1.size:
                raise ValueError(f"{w.path}: only linear detectors run live")
        self._mean = np.stack([d.mean for d in dets]) if dets else np.zeros((0, 6 * DIM))
        self._scale = np.stack([d.scale for d in dets]) if dets else np.ones((0, 6 * DIM))
        self._w = np.stack([d.w2 for d in dets]) if dets else np.zeros((0, 6 * DIM))
        # Each word's own threshold (an ignore word's: its veto level) maps to
        # the shared one its scores are compared with.
        self._b = np.array([d.b2 - _logit(w.threshold) + _logit(
            config.ignore_threshold if w.ignore else config.threshold)
            for w, d in zip(self.words, dets)], np.float32)

    @classmethod
    def load(cls, root: Path | None = None, config: UserWordsConfig = UserWordsConfig()
             ) -> "UserWords":
        """Every stored word; a word that cannot be read is skipped (logged)."""
        good = []
        for w in list_words(root):
            try:
                Detector.from_arrays(w.detector_arrays())
                good.append(w)
            except Exception as exc:  # noqa: BLE001 - one broken word must not stop the others
                log.warning("user word %s skipped: %s", w.name, exc)
        out = cls(good, config)
        out._stamp = _words_stamp(root)
        return out

    def is_current(self, root: Path | None = None) -> bool:
        """Whether the stored words are still the ones loaded (a word added
        or removed renames a folder, which moves the words folder's mtime)."""
        return self._stamp == _words_stamp(root)

    def __len__(self) -> int:
        return len(self.names)

    def scores(self, windows: np.ndarray) -> np.ndarray:
        """``[n, FRAMES, DIM]`` windows -> ``[n, n_words]`` probabilities
        (calibrated to the shared threshold)."""
        f = window_features(windows)
        z = np.einsum("nwf,wf->nw", (f[:, None, :] - self._mean) / self._scale, self._w) + self._b
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


class UserWordListener:
    """Embeddings in, per-window word probabilities and detections out.

    ``push`` is called with each new embedding in stream order; ``reset``
    when the stream breaks (the speech gate closed). Not thread-safe: the
    engine's inference thread owns it.
    """

    def __init__(self, words: UserWords) -> None:
        self.words = words
        self.labels = (OTHER, *words.names)
        cfg = words.config
        self.smoother = Smoother(self.labels, SmoothingConfig(
            average_window_ms=cfg.average_window_ms, threshold=cfg.threshold,
            refractory_ms=cfg.refractory_ms))
        self._ring = np.zeros((FRAMES, DIM), np.float32)
        self._count = 0

    def reset(self) -> None:
        """Forget the embeddings and the smoother's state (a gap in the stream)."""
        self._count = 0
        self.smoother.reset()

    def push(self, embedding: np.ndarray) -> np.ndarray | None:
        """Add the next embedding; returns ``[len(labels)]`` probabilities of
        the window it completes (None until ``FRAMES`` were pushed)."""
        self._ring = np.roll(self._ring, -1, axis=0)
        self._ring[-1] = embedding
        self._count += 1
        if self._count < FRAMES or not len(self.words):
            return None
        p = self.words.scores(self._ring[None])[0]
        return np.concatenate([[1.0 - float(p.max())], p]).astype(np.float32)

    def decide(self, time_s: float, probs: np.ndarray, word_key: int | None = None
               ) -> Detection | None:
        """Smooth one window's probabilities; a detection when a word fires."""
        return self.smoother.update(time_s, probs, word_key)
