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
