"""Keras model -> ``.tflite`` (float32 always, int8 weights on request) with
a fixed batch of one, and the check that LiteRT and Keras agree on the top-1
class of real clips. An ``embed`` model is also split into its frozen
embedding and its head (``embedding.tflite``, ``head.tflite``; batch
resizable) for streaming, checked against the whole model."""

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
EMBEDDING_FILE = "embedding.tflite"  # split embed artifact (docs/contracts.md section 1)
HEAD_FILE = "head.tflite"
STEP_FILE = "embedding_step.tflite"
CHUNK_FILE = "embedding_chunk.tflite"
#: Embeddings per call of the chunk model (files): its 775 ms of context is
#: recomputed once per chunk, 7 % of the work at 128.
CHUNK_EMBEDDINGS = 128
#: Steps after which the streaming step's kept rows are exact from any state
#: (its deepest kept rows need 9; tests/test_split.py checks 10 is enough).
STEP_WARMUP = 10


class ExportError(KwsError):
    """The converted model disagrees with the Keras one, or conversion failed."""


def to_tflite(model: Any, int8: bool = False, batch: int | None = 1) -> bytes:
    """Convert ``model`` with its input fixed to batch 1 (builtin ops only).

    Args:
        model: a ``keras.Model`` with one input.
        int8: dynamic-range quantization (int8 weights, float activations).
        batch: the input's batch size; None leaves it resizable (LiteRT
            ``resize_tensor_input``; the file's default shape is batch 1).

    Returns:
        The flatbuffer bytes.
    """
    import keras
    import tensorflow as tf

    if len(model.inputs) == 1:
        shape = tuple(model.inputs[0].shape[1:])
        inp = keras.Input(shape, batch_size=batch, name="window")
        fixed = keras.Model(inp, model(inp), name=f"{model.name}_b{batch or 'n'}")
    else:  # a streaming step (audio + states): converted as built
        fixed = model
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # The converter prints its SavedModel report; stdout is for --json only,
    # and stderr shows it only with -vv (debug logging).
    report = sys.stderr if log.isEnabledFor(logging.DEBUG) else io.StringIO()
    with contextlib.redirect_stdout(report):
        return converter.convert()


def write_tflite(model: Any, path: str | Path, int8: bool = False,
                 batch: int | None = 1) -> Path:
    """Convert and write atomically to ``path``."""
    from kwsapp.atomic import write_atomic

    path = Path(path)
    write_atomic(path, to_tflite(model, int8=int8, batch=batch))
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
        ``{"float": {...}, "int8": {...}}`` agreement (and accuracy) figures;
        for an ``embed`` model (raw windows ``x``) also ``"split"`` (the
        split files' parity, :func:`export_split`) and ``"streaming"`` (the
        card section the caller writes).

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
    split = export_split(artifact_dir, x, model) if x.ndim == 2 else None
    if split is not None:  # an embed model: its halves too, for streaming
        report["streaming"], report["split"] = split
    return report


def split_models(model: Any) -> tuple[Any, Any, Any, Any] | None:
    """The two halves of an ``embed`` model (``export_model``'s chain of the
    frozen embedding and the trained head), for streaming; None for a model
    that is not such a chain.

    Returns:
        ``(embedding, head, step, chunk)``: ``[B, 12400]`` float32 16 kHz ->
        ``[B, 96]`` (one embedding: its 775 ms receptive field); the head as
        trained, ``[B, 10, 96]`` -> ``[B, n_classes]``; the embedding as a
        streaming step (:func:`training.models.embedding.build_embedding_step`);
        and ``[B, 12400 + 127 * 1280]`` -> ``[B, 128, 96]`` (files).
    """
    import keras

    from training.models import embedding

    names = [layer.name for layer in model.layers]
    if "speech_embedding" not in names or len(model.layers) != 3:
        return None
    whole = model.get_layer("speech_embedding")
    head = model.layers[-1]
    # The conv net is the same at any input length; only the framing and the
    # output reshape depend on it, and they hold no weights of their own
    # beyond the front end's constants: a one-embedding copy takes them all.
    one = embedding.build_embedding(embedding.FIRST_EMBEDDING_SAMPLES, name="embedding_one")
    one.set_weights(whole.get_weights())
    inp = keras.Input((embedding.FIRST_EMBEDDING_SAMPLES,), name="samples")
    out = keras.layers.Reshape((embedding.EMBEDDING_DIM,), name="embedding")(one(inp))
    chunk = embedding.build_embedding(embedding.FIRST_EMBEDDING_SAMPLES + (CHUNK_EMBEDDINGS - 1)
                                      * embedding.EMBEDDING_HOP_SAMPLES, name="embedding_chunk")
    chunk.set_weights(whole.get_weights())
    return (keras.Model(inp, out, name="embedding"), head,
            embedding.build_embedding_step(whole), chunk)


def streaming_section(head: Any) -> dict[str, Any]:
    """The card's ``streaming`` section for split files (docs/contracts.md)."""
    from training.models import embedding

    return {"embedding": {"file": EMBEDDING_FILE,
                          "input_samples": embedding.FIRST_EMBEDDING_SAMPLES,
                          "hop_samples": embedding.EMBEDDING_HOP_SAMPLES,
                          "dim": embedding.EMBEDDING_DIM},
            "head": {"file": HEAD_FILE, "frames": int(head.inputs[0].shape[1])},
            "step": {"file": STEP_FILE, "samples": embedding.STEP_SAMPLES,
                     "warmup": STEP_WARMUP},
            "chunk": {"file": CHUNK_FILE, "embeddings": CHUNK_EMBEDDINGS}}


def split_parity(artifact_dir: str | Path, windows: np.ndarray,
                 streaming: dict[str, Any]) -> dict[str, Any]:
    """Split files vs ``model.tflite`` on raw windows ``[n, samples]``: the
    head on the window's embeddings (computed one by one from the split
    embedding, as the engine does) against the whole-window model."""
    from kwsapp.models.artifact import TfliteModel
    from kwsapp.models.split import SplitModel

    artifact_dir = Path(artifact_dir)
    split = SplitModel(artifact_dir, streaming)
    whole = TfliteModel(artifact_dir / FLOAT_FILE)
    # Through the streaming step (split.embed) and the one-shot embedding.
    stepped = np.stack([split.embed(w)[:split.frames] for w in windows])
    once = np.stack([split.embed_segments(np.lib.stride_tricks.sliding_window_view(
        w, split.spec.input_samples)[::split.spec.hop_samples][:split.frames]) for w in windows])
    chunked = np.stack([split.embed_chunks(w)[:split.frames] for w in windows])
    ref = whole.invoke_batch(np.asarray(windows, np.float32))
    got = split.head(stepped)
    return {"top1_agreement": float((ref.argmax(1) == got.argmax(1)).mean()),
            "max_abs_diff": float(max(np.abs(ref - got).max(),
                                      np.abs(ref - split.head(once)).max())),
            "step_vs_one_shot_max_abs_diff": float(np.abs(stepped - once).max()),
            "chunk_vs_one_shot_max_abs_diff": float(np.abs(chunked - once).max()),
            "n": int(len(windows)),
            "embedding_bytes": (artifact_dir / EMBEDDING_FILE).stat().st_size,
            "head_bytes": (artifact_dir / HEAD_FILE).stat().st_size,
            "step_bytes": (artifact_dir / STEP_FILE).stat().st_size,
            "chunk_bytes": (artifact_dir / CHUNK_FILE).stat().st_size}


def export_split(artifact_dir: str | Path, windows: np.ndarray, model: Any = None,
                 max_abs_diff: float = 1e-3) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Write ``embedding.tflite`` and ``head.tflite`` (batch resizable) of an
    ``embed`` artifact from its ``model.keras`` (no retraining) and check them
    against its ``model.tflite`` on real windows.

    Returns:
        ``(streaming, parity)``: the card's ``streaming`` section and the
        check's figures; None when the model is not an embedding + head chain.

    Raises:
        ExportError: the split disagrees with the whole model.
    """
    from training.models.embedding import load_keras

    artifact_dir = Path(artifact_dir)
    if model is None:
        model = load_keras(artifact_dir / "model.keras")
    parts = split_models(model)
    if parts is None:
        return None
    emb, head, step, chunk = parts
    write_tflite(emb, artifact_dir / EMBEDDING_FILE, batch=None)
    write_tflite(head, artifact_dir / HEAD_FILE, batch=None)
    write_tflite(step, artifact_dir / STEP_FILE)
    write_tflite(chunk, artifact_dir / CHUNK_FILE, batch=None)
    streaming = streaming_section(head)
    parity = split_parity(artifact_dir, windows, streaming)
    log.info("split %s: %s", artifact_dir, parity)
    if parity["max_abs_diff"] > max_abs_diff:
        raise ExportError(f"{artifact_dir}: the split embedding + head differ from "
                          f"{FLOAT_FILE} by up to {parity['max_abs_diff']:.2g} "
                          f"on {parity['n']} windows")
    return streaming, parity


def record_split(artifact_dir: str | Path, streaming: dict[str, Any],
                 parity: dict[str, Any]) -> None:
    """Write the ``streaming`` section (and the parity figures under
    ``export.split``) into the artifact's ``card.json``."""
    import json

    from kwsapp.atomic import write_json_atomic

    path = Path(artifact_dir) / "card.json"
    card = json.loads(path.read_text())
    card["streaming"] = streaming
    card.setdefault("export", {})["split"] = parity
    write_json_atomic(path, card)


def check_inputs(card: Any, data_dir: str | Path, limit: int = 200
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and labels of up to ``limit`` validation clips (the
    card's split), through the card's window and front end."""
    import dataclasses

    from training.config import TrainConfig
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
