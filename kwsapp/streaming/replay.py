"""Replay a stream through the live engine (as ``listen`` runs it) and score it.

The engine, its VAD gate, windowing and smoother run unchanged on a
non-realtime :class:`~kwsapp.audio.source.FileSource`. Only the model call is
memoized (:class:`CachingRecognizer`): a window of identical samples gives
identical probabilities, so a tuning sweep that changes the smoother or the
threshold replays the stream without running the model again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kwsapp.config import Config, ms_to_samples
from kwsapp.streaming.scoring import DEFAULT_TOLERANCE_MS, Event, StreamScore, TruthWord, \
    score_events


class CachingRecognizer:
    """A recognizer whose ``probabilities`` are memoized by window content.

    Everything else is the wrapped recognizer's (attribute access is passed
    through), so the engine cannot tell them apart.
    Args:
        recognizer: a :class:`kwsapp.inference.recognizer.Recognizer`.
        cache: shared dict ``digest -> probs``; pass one dict to several
            wrappers of the same model to share the work.
    """

    def __init__(self, recognizer: Any, cache: dict[bytes, np.ndarray] | None = None) -> None:
        self._recognizer = recognizer
        self.cache: dict[bytes, np.ndarray] = {} if cache is None else cache
        self.calls = 0  # model runs actually done

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recognizer, name)

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        window = np.ascontiguousarray(window, dtype=np.float32)
        key = hashlib.blake2b(window.tobytes(), digest_size=16).digest()
        probs = self.cache.get(key)
        if probs is None:
            self.calls += 1
            probs = self.cache[key] = self._recognizer.probabilities(window)
        return probs


@dataclass
class Replay:
    """What one pass of a stream through the engine gave."""

    events: list[Any]  # kwsapp.inference.engine.CommandEvent
    duration_s: float
    windows: int = 0
    stats: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def replay(audio: np.ndarray | str | Path, recognizer: Any, config: Config,
           on_progress: Callable[[float, float], None] | None = None) -> Replay:
    """Run ``audio`` (16 kHz float32, or a file, decoded block by block) through
    the engine, as fast as it goes, in blocks of ``config.audio.block_ms``;
    returns its events. ``on_progress(done_s, total_s)`` follows a file."""
    from kwsapp.audio.source import FileSource
    from kwsapp.inference.engine import Engine

    windows = [0]

    def count_window(_result: Any) -> None:
        windows[0] += 1

    if isinstance(audio, np.ndarray):
        source = FileSource(audio, block_size=ms_to_samples(config.audio.block_ms))
    else:
        source = FileSource.from_file(audio, config.audio.block_ms, on_progress)
    # ``config`` is the runtime settings (config.runtime_settings), as given.
    withheld: list[Any] = []  # Unconfirmed: commands the second opinion stopped
    engine = Engine(recognizer, config, source, on_window=count_window,
                    on_unconfirmed=withheld.append)
    events = engine.run()
    return Replay(list(events), source.duration, windows[0], engine.stats,
                  {"unverified": engine.unverified, "unconfirmed": withheld})


def to_events(events: list[Any]) -> list[Event]:
    """Engine events -> the scorer's :class:`Event` rows."""
    return [Event(e.label, float(e.score), float(e.start), float(e.end), float(e.emitted_at))
            for e in events]


def evaluate(audio: np.ndarray | str | Path, truth: list[TruthWord], recognizer: Any,
             config: Config, tolerance_ms: float = DEFAULT_TOLERANCE_MS,
             on_progress: Callable[[float, float], None] | None = None
             ) -> tuple[StreamScore, Replay]:
    """Replay and score one stream."""
    run = replay(audio, recognizer, config, on_progress)
    return score_events(truth, to_events(run.events), run.duration_s, tolerance_ms), run


def model_and_config(model: str | Path | None, threshold: float | None = None,
                     verify: bool | None = None) -> tuple[Any, Config]:
    """The recognizer of ``model`` (bundled name or artifact; None: the
    default) and the runtime settings from its card, with ``threshold``
    over the card's when given (``evaluate-stream``, the stream table) and
    the recogniser's second opinion (the card's ``verify``) switched off
    with ``verify=False``."""
    from dataclasses import replace

    from kwsapp.config import Overrides, runtime_settings
    from kwsapp.inference.recognizer import Recognizer

    recognizer = Recognizer.load(model)
    config = runtime_settings(recognizer.card.raw, Overrides(verify=verify))
    if threshold is not None:
        config = replace(config, smoothing=replace(config.smoothing, threshold=threshold))
    return recognizer, config
