"""One window of 16 kHz audio -> class probabilities, through the model's
front end (from its card) and its ``.tflite``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kwsapp import features
from kwsapp.audio.io import fit_length, resample
from kwsapp.models.artifact import ModelCard, TfliteModel, load_tflite, read_card
from kwsapp.models.registry import resolve
from kwsapp.models.split import SplitModel

if TYPE_CHECKING:
    from kwsapp.config import Config


class Recognizer:
    """A loaded model artifact: ``probabilities(window)`` for windows of
    ``card.window_samples`` samples at ``card.sample_rate_hz``."""

    def __init__(self, artifact_dir: str | Path, tflite_file: str | None = None) -> None:
        self.path = Path(artifact_dir)
        self.card: ModelCard = read_card(self.path)
        self.model: TfliteModel = (load_tflite(self.path, self.card, tflite_file)
                                   if tflite_file else load_tflite(self.path, self.card))
        # A split embed artifact (card "streaming"): the embedding and the
        # head as two files, so a stream embeds each 80 ms once.
        section = self.card.raw.get("streaming")
        self.split: SplitModel | None = (SplitModel(self.path, section)
                                         if section and not tflite_file else None)
        if self.split is not None and self.split.head_model.output_shape != (len(self.labels),):
            from kwsapp.errors import ModelError
            raise ModelError(f"{self.split.head_model.path}: gives "
                             f"{self.split.head_model.output_shape} outputs but its card names "
                             f"{len(self.labels)} labels")
        probe = self.front_end(np.zeros(self.card.window_samples, np.float32))
        if probe.size != int(np.prod(self.model.input_shape)):
            from kwsapp.errors import ModelError
            raise ModelError(f"{self.path}: its card's front end gives {probe.shape} but "
                             f"the model takes {self.model.input_shape}")

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | None = None) -> "Recognizer":
        """Load a bundled model by name or an artifact directory."""
        return cls(resolve(spec))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    def front_end(self, window: np.ndarray) -> np.ndarray:
        """The model input for one window, as the card describes it."""
        card = self.card
        x = fit_length(np.asarray(window, np.float32), card.window_samples)
        x = resample(x, card.sample_rate_hz, card.input_rate_hz)
        if card.input_kind == "waveform":
            return x
        return features.compute(card.input_kind, x, sample_rate_hz=card.input_rate_hz,
                                **card.input_params)

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        """Class probabilities ``[len(labels)]`` float32 for one window."""
        return self.model.invoke(self.front_end(window))

    def _split(self) -> SplitModel:
        if self.split is None:
            from kwsapp.errors import ModelError
            raise ModelError(f"{self.path}: not a split embed artifact (its card has no "
                             f"'streaming' section; `kwsapp export {self.path} --split`)")
        return self.split

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """Every 80 ms embedding of 16 kHz ``audio`` of any length:
        ``[T, 96]`` float32, embedding ``j`` from samples
        ``[j * 1280, j * 1280 + 12400)``; split artifacts only."""
        return self._split().embed(audio)

    def head(self, embeddings: np.ndarray) -> np.ndarray:
        """``[N, 10, 96]`` embedding sequences -> ``[N, len(labels)]``
        probabilities; split artifacts only."""
        return self._split().head(embeddings)

    def classify(self, audio: np.ndarray) -> dict[str, float]:
        """Probabilities by label for one clip (centred in the model's
        window: cropped or zero-padded evenly on both sides)."""
        probs = self.probabilities(audio)
        return {label: float(p) for label, p in zip(self.labels, probs)}


def load_with_config(spec: str | os.PathLike[str] | None, threshold: float | None = None,
                     base: "Config | None" = None) -> tuple[Recognizer, "Config"]:
    """A recognizer and the runtime config for it: ``base`` (default
    :class:`~kwsapp.config.Config`) with the card's defaults applied, then
    the ``threshold`` override (the CLI's ``--threshold``)."""
    from dataclasses import replace

    from kwsapp.config import Config
    from kwsapp.errors import BadInputError

    recognizer = Recognizer.load(spec)
    config = (base or Config()).with_card(recognizer.card.raw)
    if threshold is not None:
        if not 0.0 < threshold <= 1.0:
            raise BadInputError(f"--threshold must be in (0, 1], not {threshold}")
        config = replace(config, smoothing=replace(config.smoothing, threshold=float(threshold)))
    return recognizer, config
