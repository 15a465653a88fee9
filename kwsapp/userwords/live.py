"""User words in a running engine: a listener on its embeddings
(:meth:`~kwsapp.inference.engine.Engine.add_embedding_listener`) that scores
each new window for every user word and emits their events through the
engine, beside the commands (same event type, same ``events`` list, same
``on_event`` callback; label = the word's name).

A word to ignore (``kwsapp enrol --ignore``) fires no event: a window where
it scores ``UserWordsConfig.ignore_threshold`` is vetoed, and the engine
emits no command decided on it, in the half second after it, or held past
it (:meth:`Engine.veto`); a command decided where such a word stirs
(``ignore_alert``, :meth:`Engine.suspect`) is held ``ignore_hold_ms`` first,
in case the word's score peaks a step later (:meth:`Engine.hold_commands`).

Decisions follow the commands' rules: a window is judged only while the
voice detector heard speech in it (else the smoother is reset, as when the
commands' gate closes); the speech run that fills most of the window's
last second (:func:`~kwsapp.audio.vad.heard_run`) is the utterance key (the
same word said twice fires twice) and the event's span.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kwsapp.audio.vad import heard_run
from kwsapp.config import UserWordsConfig, ms_to_samples
from kwsapp.userwords.detector import WINDOW_SAMPLES
from kwsapp.userwords.listener import UserWordListener, UserWords

log = logging.getLogger(__name__)

#: ``(end_s, labels, probs)`` for every scored window (the GUI's bars).
ScoresCallback = Callable[[float, tuple[str, ...], np.ndarray], None]


class LiveUserWords:
    """Attach ``words`` to ``engine``; :meth:`detach` to stop.

    Args:
        engine: a running or new :class:`~kwsapp.inference.engine.Engine`
            whose model is a split ``embed`` artifact.
        words: the detectors.
        on_scores: called on the engine's inference thread per window.
    """

    def __init__(self, engine: Any, words: UserWords,
                 on_scores: ScoresCallback | None = None) -> None:
        self.engine = engine
        self.listener = UserWordListener(words)
        self.on_scores = on_scores
        self._sr = float(engine.sample_rate_hz)
        # Words to ignore: their columns of the listener's probabilities.
        self._ignore = np.array([False] + [w.ignore for w in words.words])
        self._ignore_names = {w.name for w in words.words if w.ignore}
        self._veto_at = words.config.ignore_threshold
        self._alert_at = words.config.ignore_alert
        if self._ignore_names:
            engine.hold_commands(words.config.ignore_hold_ms / 1000.0,
                                 suspected_only=self._alert_at > 0)
        engine.add_embedding_listener(self._on_embedding)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.listener.labels

    def detach(self) -> None:
        try:
            self.engine.remove_embedding_listener(self._on_embedding)
        except ValueError:
            pass
        if self._ignore_names:
            self.engine.hold_commands(0.0)

    def _on_embedding(self, end_s: float, embedding: np.ndarray) -> None:
        probs = self.listener.push(embedding)
        if probs is None:
            return
        if self.on_scores is not None:
            self.on_scores(end_s, self.labels, probs)
        end = int(round(end_s * self._sr))
        start = end - WINDOW_SAMPLES
        runs = self.engine.gate.runs_in(start, end)
        if not runs:  # no speech in the window: as a closed gate for the commands
            self.listener.smoother.reset()
            return
        run = heard_run(runs, end, ms_to_samples(self.engine.config.vad.heard_ms, self._sr))
        detection = self.listener.decide(end_s, probs, run.start)
        if self._ignore_names:
            stir = float(probs[self._ignore].max())
            if stir >= self._veto_at:
                self.engine.veto(end_s)
            elif self._alert_at > 0 and stir >= self._alert_at:
                self.engine.suspect(end_s)
        if detection is None or detection.label in self._ignore_names:
            return
        from kwsapp.inference.engine import CommandEvent

        span = (max(run.start, start, 0) / self._sr, min(run.end, end) / self._sr)
        emitted = (self.engine.ring.total_written / self._sr if self.engine.source.realtime
                   else end_s)
        event = CommandEvent(label=detection.label, score=detection.score, start=span[0],
                             end=span[1], emitted_at=emitted, latency=emitted - span[1])
        self.engine.emit(event)  # in order with the commands (a replay checks them after)


def attach_user_words(engine: Any, root: Path | None = None,
                      config: UserWordsConfig = UserWordsConfig(),
                      on_scores: ScoresCallback | None = None,
                      words: UserWords | None = None) -> LiveUserWords | None:
    """Run every stored user word (or ``words``, loaded before) in
    ``engine``; None when there are none, or the engine's model streams no
    embeddings (a warning says so)."""
    words = UserWords.load(root, config) if words is None else words
    if not len(words):
        return None
    if getattr(engine.recognizer, "split", None) is None or \
            not hasattr(engine, "add_embedding_listener"):
        log.warning("user words (%s) need the split embed model; model %s does not stream "
                    "embeddings, so they are not listened for", ", ".join(words.names),
                    engine.recognizer.card.name)
        return None
    _warn_other_embedding(engine.recognizer, words)
    return LiveUserWords(engine, words, on_scores)


def _warn_other_embedding(recognizer: Any, words: UserWords) -> None:
    """Say which words were enrolled on another embedding than the model's
    (e.g. a float one under an int8 artifact: embeddings ~5 % rms apart):
    they still listen, but their measured figures no longer hold."""
    from kwsapp.userwords.embedding import embedding_id

    split = recognizer.split
    current = embedding_id(recognizer.path, recognizer.card.name, split.spec.embedding_file)
    other = [w.name for w in words.words
             if w.card.get("embedding") and w.card["embedding"] != current]
    if other:
        log.warning("user words %s were enrolled on another embedding than model %s computes "
                    "(%s): their measured figures do not hold under it (`kwsapp words "
                    "--retrain` enrols them again on the bundled model's)",
                    ", ".join(other), recognizer.card.name, current)
