"""One window of 16 kHz audio -> class probabilities, through the model's
front end (from its card) and its ``.tflite``."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kwsapp import features
from kwsapp.audio.io import fit_length, resample
from kwsapp.models.artifact import ModelCard, TfliteModel, load_tflite, load_whole
from kwsapp.models.registry import resolve
from kwsapp.models.split import SplitModel

if TYPE_CHECKING:
    from kwsapp.config import Config, Overrides


class Recognizer:
    """A loaded model artifact: ``probabilities(window)`` for windows of
    ``card.window_samples`` samples at ``card.sample_rate_hz``."""

    def __init__(self, artifact_dir: str | Path, tflite_file: str | None = None) -> None:
        self.path = Path(artifact_dir)
        # The card and the files it names from one artifact: a new one put
        # in place meanwhile (kwsapp train, export, make models) is seen and
        # the load done again, never one model's card with another's files.
        card, (model, split) = load_whole(
            self.path, functools.partial(self._load_files, tflite_file=tflite_file))
        self.card: ModelCard = card
        self.model: TfliteModel = model
        self.split: SplitModel | None = split
        from kwsapp.errors import ModelError
        try:
            probe = self.front_end(np.zeros(self.card.window_samples, np.float32))
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            # input.params the front end does not take (a name it lacks, a
            # string for a number, 0 bands): said, not a traceback.
            raise ModelError(f"{self.path}: its card's input params {self.card.input_params} "
                             f"do not fit the {self.card.input_kind} front end ({exc})") from None
        if probe.size != int(np.prod(self.model.input_shape)):
            raise ModelError(f"{self.path}: its card's front end gives {probe.shape} but "
                             f"the model takes {self.model.input_shape}")

    def _load_files(self, card: ModelCard,
                    tflite_file: str | None) -> tuple[TfliteModel, SplitModel | None]:
        """The model files ``card`` names, loaded and checked against it."""
        model = (load_tflite(self.path, card, tflite_file) if tflite_file
                 else load_tflite(self.path, card))
        # A split embed artifact (card "streaming"): the embedding and the
        # head as two files, so a stream embeds each 80 ms once.
        section = card.raw.get("streaming")
        split = SplitModel(self.path, section) if section and not tflite_file else None
        if split is not None and split.head_model.output_shape != (len(card.labels),):
            from kwsapp.errors import ModelError
            raise ModelError(f"{split.head_model.path}: gives "
                             f"{split.head_model.output_shape} outputs but its card names "
                             f"{len(card.labels)} labels")
        return model, split

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

    def clip_probabilities(self, clip: np.ndarray) -> np.ndarray:
        """Class probabilities ``[len(labels)]`` float32 for one clip
        (centred in the window): the model's, times the card's
        ``clip_weights`` and renormalised. A head trained with far more
        other speech than any command over-calls ``unknown`` on a lone clip;
        the weights take that prior back out. Streams decide on the raw
        probabilities with their thresholds (docs/contracts.md 2)."""
        probs = self.probabilities(clip)
        weights = self.card.clip_weights
        if not weights:
            return probs
        scaled = probs * np.array([weights.get(lab, 1.0) for lab in self.labels], np.float32)
        total = float(scaled.sum())
        return (scaled / total).astype(np.float32) if total > 0 else probs

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
        probs = self.clip_probabilities(audio)
        return {label: float(p) for label, p in zip(self.labels, probs)}


def load_with_config(spec: str | os.PathLike[str] | None,
                     overrides: "Overrides | None" = None,
                     base: "Config | None" = None) -> tuple[Recognizer, "Config"]:
    """A recognizer and its runtime settings
    (:func:`~kwsapp.config.runtime_settings`: ``base``, the card's defaults,
    then the user's ``overrides``, e.g. the CLI's ``--threshold``).

    Raises:
        ModelError: the model cannot be loaded.
        BadInputError: an override is out of range.
    """
    from kwsapp.config import Overrides, runtime_settings
    from kwsapp.errors import BadInputError

    recognizer = Recognizer.load(spec)
    try:
        config = runtime_settings(recognizer.card.raw, overrides or Overrides(), base)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    return recognizer, config
