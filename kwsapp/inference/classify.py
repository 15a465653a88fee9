"""The classify service: an audio file -> a typed :class:`FileClassification`
(its top label and probabilities when it is a clip, and its timeline of
command events).

``kwsapp classify`` only formats what this returns; the GUI's Files tab shows
it. How a file is processed (whole-clip window, engine replay) is this
module's business alone, so it can change (block by block, batched) without
either caller noticing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from kwsapp.audio.io import AudioFileBlocks, load_audio
from kwsapp.audio.source import FileSource
from kwsapp.config import SAMPLE_RATE_HZ, Config, Overrides, ms_to_samples
from kwsapp.errors import Cancelled
from kwsapp.inference.engine import CommandEvent, Engine
from kwsapp.inference.recognizer import Recognizer, load_with_config
from kwsapp.inference.second_opinion import Unconfirmed


@dataclass(frozen=True)
class FileClassification:
    """One file's result.

    Attributes:
        path: the file as given.
        duration_s: its length in seconds (at 16 kHz after decoding).
        labels: the model's labels, in ``probs`` order.
        probs: ``[len(labels)]`` float32 for a clip (one centred window,
            the card's ``clip_weights`` applied); None for a file longer than ``Config.clip_max_ms``.
        events: the commands the streaming engine found, ends clipped to
            ``duration_s``.
        withheld: the commands the head found and the recogniser's second
            opinion did not confirm (not in ``events``), with what it heard.
        notes: what to know before trusting the result (a clip too short
            for its label to mean much: :func:`short_clip_note`).
    """

    path: str
    duration_s: float
    labels: tuple[str, ...]
    probs: np.ndarray | None
    events: tuple[CommandEvent, ...]
    withheld: tuple[Unconfirmed, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_clip(self) -> bool:
        return self.probs is not None

    @property
    def label(self) -> str | None:
        """The clip's top label (None for a long file)."""
        return None if self.probs is None else self.labels[int(np.argmax(self.probs))]

    @property
    def score(self) -> float:
        """The clip's top probability (0.0 for a long file)."""
        return 0.0 if self.probs is None else float(np.max(self.probs))

    def probabilities(self) -> dict[str, float] | None:
        """The clip's probabilities by label (None for a long file)."""
        if self.probs is None:
            return None
        return {lab: float(p) for lab, p in zip(self.labels, self.probs)}


def short_clip_note(duration_s: float, window_ms: float, config: Config) -> str | None:
    """The note for a clip shorter than ``Config.short_clip_ms`` and the
    model's ``window_ms`` (None for a longer one)."""
    if duration_s * 1000.0 >= min(config.short_clip_ms, window_ms):
        return None
    # A clip of a few samples read "only 0.00 s": under 0.1 s, in ms.
    length = f"{duration_s * 1000:.0f} ms" if duration_s < 0.1 else f"{duration_s:.2f} s"
    return (f"only {length} of audio, shorter than the model's "
            f"{window_ms / 1000.0:.2f} s window: padded with silence, and likely less "
            "than a whole word, so the label may be wrong")


class FileClassifier:
    """Classifies files with one recognizer and its runtime settings.

    Not thread-safe: a LiteRT interpreter belongs to one thread, so each
    thread makes its own classifier.
    """

    def __init__(self, recognizer: Recognizer, config: Config) -> None:
        from kwsapp.userwords.listener import UserWords

        self.recognizer = recognizer
        self.config = config
        #: the user's words (kwsapp/userwords), found beside the commands
        self.user_words = UserWords.load()

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | None, overrides: Overrides | None = None,
             base: Config | None = None) -> "FileClassifier":
        """A classifier for a bundled model name or artifact directory, with
        the card's defaults and the user's ``overrides`` merged once
        (:func:`~kwsapp.config.runtime_settings`)."""
        return cls(*load_with_config(spec, overrides, base=base))

    def classify_file(self, path: str | os.PathLike[str],
                      on_progress: Callable[[float, float], None] | None = None,
                      stop: Callable[[], bool] | None = None,
                      on_audio: Callable[[np.ndarray], None] | None = None
                      ) -> FileClassification:
        """Decode ``path`` and classify it. A file longer than a clip is
        decoded and processed block by block (memory independent of its
        length); ``on_progress(done_s, total_s)`` follows it, and once
        ``stop()`` is true its replay ends within a block (an hour-long file
        otherwise held the caller, a window closing, for a minute).
        ``on_audio(samples)`` is given such a file's audio as the replay
        decodes it: 16 kHz mono float32 blocks (read only), in order, on the
        replay's threads (``Engine``'s ``on_audio``), so that a caller
        needing the samples too (the Files tab's spectrogram) does not
        decode the file again. A clip's are not given.

        Raises:
            AudioFileError: the file cannot be decoded.
            Cancelled: ``stop()`` was true.
        """
        blocks = AudioFileBlocks(path)  # checks the header without decoding
        duration = blocks.duration_s
        if duration * 1000.0 <= self.config.clip_max_ms:
            return self.classify_audio(load_audio(path), str(path))

        def progress(done_s: float, total_s: float) -> None:  # the source's thread
            if stop is not None and stop():
                source.stop()  # its feed ends; the engine finishes what came
            elif on_progress is not None:
                on_progress(done_s, total_s)

        source = FileSource.from_file(path, self.config.audio.block_ms, progress)
        events, withheld = self._events(source, duration, on_audio=on_audio)
        if stop is not None and stop():
            raise Cancelled(f"{path}: stopped")
        return FileClassification(path=str(path), duration_s=duration,
                                  labels=self.recognizer.labels, probs=None,
                                  events=events, withheld=withheld)

    def classify_audio(self, audio: np.ndarray, path: str = "<audio>") -> FileClassification:
        """Classify 16 kHz mono float32 ``audio``."""
        duration = audio.shape[0] / float(SAMPLE_RATE_HZ)
        probs, notes = None, ()
        config = self.config
        if duration * 1000.0 <= self.config.clip_max_ms:
            probs = self.recognizer.clip_probabilities(audio)
            note = short_clip_note(duration, self.recognizer.card.window_ms, config)
            notes = (note,) if note else ()
            # A clip is judged by its top label; its timeline comes from the
            # head alone, so a one-clip classify starts cold in a fraction
            # of a second (the recogniser's second opinion loads onnxruntime).
            config = replace(config, verify=replace(config.verify, enabled=False))
        source = FileSource(audio, ms_to_samples(self.config.audio.block_ms))
        events, withheld = self._events(source, duration, config)
        return FileClassification(path=path, duration_s=duration, labels=self.recognizer.labels,
                                  probs=probs, events=events, withheld=withheld, notes=notes)

    def _events(self, source: FileSource, duration: float, config: Config | None = None,
                on_audio: Callable[[np.ndarray], None] | None = None
                ) -> tuple[tuple[CommandEvent, ...], tuple[Unconfirmed, ...]]:
        """The engine's events on a file source, ends clipped to ``duration``
        (``config``: the service's own unless given), and the commands the
        second opinion withheld; ``on_audio``: the engine's."""
        from kwsapp.userwords.live import attach_user_words

        from kwsapp.userwords.listener import UserWords

        if not self.user_words.is_current():  # a word was added or removed since
            self.user_words = UserWords.load()
        withheld: list[Unconfirmed] = []
        engine = Engine(self.recognizer, config or self.config, source,
                        on_unconfirmed=withheld.append, on_audio=on_audio)
        attach_user_words(engine, words=self.user_words)
        # User-word events come from the embedding listener, the commands'
        # from the head: emission order puts them on one timeline.
        events = tuple(replace(e, end=min(e.end, duration))
                       for e in sorted(engine.run(), key=lambda e: (e.emitted_at, e.start)))
        return events, tuple(replace(u, event=replace(u.event, end=min(u.event.end, duration)))
                             for u in withheld)
