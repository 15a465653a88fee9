"""Keras model -> ``.tflite`` (float32 always, int8 weights on request) with
a fixed batch of one, and the check that LiteRT and Keras agree on the top-1
class of real clips."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp.errors import KwsError

log = logging.getLogger(__name__)

FLOAT_FILE = "model.tflite"
INT8_FILE = "model_int8.tflite"


class ExportError(KwsError):
    """The converted model disagrees with the Keras one, or conversion failed."""


def to_tflite(model: Any, int8: bool = False) -> bytes:
    """Convert ``model`` with its input fixed to batch 1 (builtin ops only).

    Args:
        model: a ``keras.Model`` with one input.
        int8: dynamic-range quantization (int8 weights, float activations).

    Returns:
        The flatbuffer bytes.
    """
    import keras
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:])
    inp = keras.Input(shape, batch_size=1, name="window")
    fixed = keras.Model(inp, model(inp), name=f"{model.name}_b1")
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # The converter prints its SavedModel report; stdout is for --json only,
    # and stderr shows it only with -vv (debug logging).
    report = sys.stderr if log.isEnabledFor(logging.DEBUG) else io.StringIO()
    with contextlib.redirect_stdout(report):
        return converter.convert()


def write_tflite(model: Any, path: str | Path, int8: bool = False) -> Path:
    """Convert and write atomically to ``path``."""
    from training.train import write_atomic

    path = Path(path)
    write_atomic(path, to_tflite(model, int8=int8))
    log.info("wrote %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def tflite_probabilities(path: str | Path, x: np.ndarray) -> np.ndarray:
    """Run a ``.tflite`` on each row of ``x`` with LiteRT (as the runtime does)."""
    from kwsapp.models.artifact import TfliteModel

    model = TfliteModel(path)
    return np.stack([model.invoke(row) for row in x])


def agreement(model: Any, tflite_path: str | Path, x: np.ndarray) -> dict[str, float]:
    """Top-1 agreement and largest probability difference between a Keras
    model and its ``.tflite`` on inputs ``x`` (``[n, ...]``)."""
    ref = np.asarray(model.predict(x, batch_size=32, verbose=0))
    got = tflite_probabilities(tflite_path, x)
    return {"top1_agreement": float((ref.argmax(1) == got.argmax(1)).mean()),
            "max_abs_diff": float(np.abs(ref - got).max()), "n": int(len(x))}


def export_artifact(artifact_dir: str | Path, x: np.ndarray, y: np.ndarray | None = None,
                    int8: bool = False, min_agreement: float = 0.99) -> dict[str, Any]:
    """Write ``model.tflite`` (and ``model_int8.tflite``) from an artifact's
    ``model.keras`` and check them on real inputs.

    Args:
        artifact_dir: holds ``model.keras`` (and ``card.json``).
        x: ``[n, ...]`` model inputs made from real clips.
        y: their true class indices (to report int8 vs float accuracy).
        int8: also write the int8-weight model.
        min_agreement: float model's least top-1 agreement with Keras.

    Returns:
        ``{"float": {...}, "int8": {...}}`` agreement (and accuracy) figures.

    Raises:
        ExportError: the float model agrees on fewer than ``min_agreement``.
    """
    from training.models.embedding import load_keras

    artifact_dir = Path(artifact_dir)
    model = load_keras(artifact_dir / "model.keras")
    report: dict[str, Any] = {}
    for name, quant in (("float", False), ("int8", True)) if int8 else (("float", False),):
        path = write_tflite(model, artifact_dir / (INT8_FILE if quant else FLOAT_FILE), quant)
        result = agreement(model, path, x)
        result["size_bytes"] = path.stat().st_size
        if y is not None:
            result["accuracy"] = float((tflite_probabilities(path, x).argmax(1) == y).mean())
        report[name] = result
        log.info("%s: %s", path.name, result)
    if report["float"]["top1_agreement"] < min_agreement:
        raise ExportError(f"{artifact_dir / FLOAT_FILE}: TFLite and Keras agree on only "
                          f"{report['float']['top1_agreement']:.1%} of {len(x)} clips")
    if y is not None and int8:
        report["int8"]["accuracy_change"] = report["int8"]["accuracy"] - report["float"]["accuracy"]
    return report


def check_inputs(card: Any, data_dir: str | Path, limit: int = 200
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and labels of up to ``limit`` validation clips (the
    card's split), through the card's window and front end."""
    import dataclasses

    from kwsapp.config import TrainConfig
    from training import data
    from training.evaluate import card_front_end

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = card.raw.get("training", {}).get("config", {})
    cfg = TrainConfig(**{k: v for k, v in saved.items() if k in known})
    clips = data.split_clips(data_dir, cfg)["validation"]
    order = np.random.default_rng(0).permutation(len(clips))[:limit]
    audio, clips = data.load_clips([clips[i] for i in sorted(order)])
    index = {name: i for i, name in enumerate(card.labels)}
    x = np.stack([card_front_end(card, a) for a in audio])
    return x, np.array([index[c.label] for c in clips])
