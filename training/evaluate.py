"""Scoring with TensorFlow: Keras artifacts (``kwsapp evaluate --keras``)
and the metrics a training run writes into its card.

The metrics are the runtime's (:mod:`kwsapp.inference.metrics`, which
``kwsapp evaluate`` prints), so a card and the CLI report alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kwsapp import LABELS
from kwsapp.errors import ModelError
from kwsapp.inference.metrics import metrics as label_metrics
from kwsapp.inference.recognizer import Recognizer
from kwsapp.models.artifact import ModelCard, load_whole


def metrics(y_true: np.ndarray, y_pred: np.ndarray,
            labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """``kwsapp evaluate``'s metrics of class indices: accuracy, n,
    per_class (precision, recall, n), confusion (labels, matrix)."""
    return label_metrics([labels[i] for i in y_true], [labels[i] for i in y_pred], labels)


class KerasRecognizer:
    """An artifact's ``model.keras`` with the card's front end: the same
    ``labels``, ``card`` and ``probabilities(window)`` as
    :class:`~kwsapp.inference.recognizer.Recognizer` (which runs the
    ``.tflite``)."""

    front_end = Recognizer.front_end  # uses only self.card
    clip_probabilities = Recognizer.clip_probabilities  # self.card and probabilities()

    def __init__(self, artifact_dir: str | Path) -> None:
        import tensorflow as tf

        from training.models.embedding import load_keras

        self.path = Path(artifact_dir)

        def load_files(_card: ModelCard):
            keras_file = self.path / "model.keras"
            if not keras_file.is_file():
                raise ModelError(f"{self.path}: no model.keras (evaluate its .tflite "
                                 "without --keras)")
            return load_keras(keras_file)

        # The card and model.keras of one model, as the runtime's loader
        # takes them, even with a train or export putting another in place.
        self.card, self.model = load_whole(self.path, load_files)
        self._fn = tf.function(lambda x: self.model(x, training=False))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        """Class probabilities ``[len(labels)]`` float32 for one window."""
        return self._fn(self.front_end(window)[None]).numpy()[0].astype(np.float32)


def card_front_end(card: ModelCard, clip: np.ndarray) -> np.ndarray:
    """A 1 s clip placed in the card's window and through its front end,
    exactly as the runtime does."""

    class _Card:
        pass

    holder = _Card()
    holder.card = card  # type: ignore[attr-defined]
    return Recognizer.front_end(holder, clip)  # type: ignore[arg-type]
