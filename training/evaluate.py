"""Accuracy, per-class precision/recall and the confusion matrix (text, JSON
and PNG) of a model on labelled clips; Keras artifacts are scored here
(``.tflite`` ones by ``kwsapp evaluate``, which needs no TensorFlow).

The JSON has the shape of ``kwsapp evaluate --json``: ``accuracy``, ``n``,
``per_class`` (precision, recall, n) and ``confusion`` (rows: true label,
columns: predicted, in ``labels`` order).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kwsapp import LABELS

log = logging.getLogger(__name__)


def metrics(y_true: np.ndarray, y_pred: np.ndarray,
            labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """Scores of predicted class indices against true ones.

    Args:
        y_true, y_pred: ``[n]`` int class indices into ``labels``.

    Returns:
        ``{"accuracy", "n", "per_class": {label: {"precision", "recall",
        "n"}}, "confusion": [[...]], "labels": [...]}``.
    """
    y_true = np.asarray(y_true, int)
    y_pred = np.asarray(y_pred, int)
    k = len(labels)
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {}
    for i, name in enumerate(labels):
        true_n, pred_n, hit = confusion[i].sum(), confusion[:, i].sum(), confusion[i, i]
        per_class[name] = {"precision": round(float(hit / pred_n), 4) if pred_n else None,
                           "recall": round(float(hit / true_n), 4) if true_n else None,
                           "n": int(true_n)}
    n = int(y_true.size)
    return {"accuracy": round(float((y_true == y_pred).mean()), 4) if n else None, "n": n,
            "per_class": per_class, "confusion": confusion.tolist(), "labels": list(labels)}


def confusion_text(result: dict[str, Any]) -> str:
    """The confusion matrix as an aligned text table."""
    labels = result["labels"]
    width = max(5, *(len(s) for s in labels))
    head = " " * width + " " + " ".join(f"{s[:5]:>5}" for s in labels)
    rows = [f"{name:>{width}} " + " ".join(f"{v:5d}" for v in row)
            for name, row in zip(labels, result["confusion"])]
    return "\n".join([head, *rows])


def save_confusion_png(result: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Write the confusion matrix as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = result["labels"]
    conf = np.asarray(result["confusion"])
    fig, ax = plt.subplots(figsize=(7, 6))
    rows = conf.sum(axis=1, keepdims=True)
    ax.imshow(conf / np.maximum(rows, 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if conf[i, j]:
                ax.text(j, i, str(conf[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if conf[i, j] > 0.5 * max(rows[i, 0], 1) else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {result['accuracy']:.2%} on {result['n']} clips")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def evaluate_keras(artifact_dir: str | Path, data_dir: str | Path,
                   split: str | None = None, batch_size: int = 64) -> dict[str, Any]:
    """Score an artifact's ``model.keras`` on every ``<label>/*.wav`` of
    ``data_dir`` (or on one split of it: ``"validation"``/``"test"``).

    The card's front end and window are applied as the runtime does.
    """
    from training.models.embedding import load_keras
    from kwsapp.models.artifact import read_card
    from training import data

    card = read_card(artifact_dir)
    model = load_keras(Path(artifact_dir) / "model.keras")
    if split:
        clips = data.split_clips(data_dir)[split]
    else:
        clips = data.scan(data_dir)
    audio, clips = data.load_clips(clips)
    x = np.stack([card_front_end(card, a) for a in audio])
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    index = {name: i for i, name in enumerate(card.labels)}
    y_true = np.array([index[c.label] for c in clips])
    return metrics(y_true, probs.argmax(axis=1), card.labels)


def card_front_end(card: Any, clip: np.ndarray) -> np.ndarray:
    """A 1 s clip placed in the card's window and through its front end,
    exactly as ``Recognizer.front_end`` does."""
    from kwsapp import features
    from kwsapp.audio.io import fit_length, resample

    x = fit_length(np.asarray(clip, np.float32), card.window_samples)
    x = resample(x, card.sample_rate_hz, card.input_rate_hz)
    if card.input_kind == "waveform":
        return x
    return features.compute(card.input_kind, x, sample_rate_hz=card.input_rate_hz,
                            **card.input_params)
