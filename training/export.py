"""Keras model -> ``.tflite`` (float32 always, int8 weights on request) with
a fixed batch of one, and the check that LiteRT and Keras agree on the top-1
class of real clips. An ``embed`` model is also split into its frozen
embedding and its head (``embedding.tflite``, ``head.tflite``; batch
resizable) for streaming, checked against the whole model.

The frozen embedding's three conversions (``embedding.tflite``,
``embedding_step.tflite``, ``embedding_chunk.tflite``,
``embedding_stream{1,2,3}.tflite``) are the same in every
run, so they are cached under the training cache (:func:`cached_tflite`);
the split's parity check runs on them whether they were cached or not.

An artifact whose card says ``"embedding_weights": "int8"`` gets every
embedding file (and the embedding inside ``model.tflite``) from the int8
network of training/models/embedding_int8.py: int8 weights and activations at
fixed ranges, so all of them still give the same embeddings (bit for bit);
the head stays float."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import logging
import re
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
#: The streaming models, by embeddings per call (docs/contracts.md section 1).
STREAM_FILE = "embedding_stream{}.tflite"
#: Embeddings per call of the chunk model (files): its 775 ms of context is
#: recomputed once per chunk, 7 % of the work at 128.
CHUNK_EMBEDDINGS = 128
#: Steps after which the streaming step's kept rows are exact from any state
#: (its deepest kept rows need 9; tests/test_split.py checks 10 is enough).
STEP_WARMUP = 10
#: Largest difference allowed between the embeddings of the step or chunk
#: model and the one-shot model (embeddings reach ~90; measured 0.0).
EMBEDDING_ATOL = 1e-2
#: Folder of cached conversions under the training cache.
TFLITE_CACHE_FOLDER = "tflite"
#: Bump when a conversion changes in a way :func:`conversion_key` misses.
TFLITE_CACHE_VERSION = 1
CARD_FILE = "card.json"
KERAS_FILE = "model.keras"
#: Every file an artifact of a known format holds (DESIGN.md "Models",
#: docs/contracts.md 1): what putting a new artifact in place may remove
#: when the new one has no such file (training/artifact_write.py). Only
#: these names: an artifact folder may hold the user's own files too.
ARTIFACT_FILES = frozenset({CARD_FILE, KERAS_FILE, FLOAT_FILE, INT8_FILE, EMBEDDING_FILE,
                            HEAD_FILE, STEP_FILE, CHUNK_FILE})
#: The streaming models' names (``STREAM_FILE`` for any count).
_STREAM_FILE_RE = re.compile(r"embedding_stream[1-9][0-9]*\.tflite")


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


def conversion_key(model: Any, int8: bool = False, batch: int | None = 1) -> str:
    """What determines ``to_tflite(model, int8, batch)``: the converter's
    settings, TensorFlow's and Keras's versions, the code that builds and
    converts the frozen embedding, the model's layers, shapes and weights.

    Returns:
        40 hex digits (part of a sha256).
    """
    import keras
    import tensorflow as tf

    from training.models import embedding

    h = hashlib.sha256()

    def add(*parts: Any) -> None:
        for part in parts:
            h.update(part if isinstance(part, bytes) else repr(part).encode())
            h.update(b"\0")

    add(TFLITE_CACHE_VERSION, tf.__version__, keras.__version__, int8, batch,
        "TFLITE_BUILTINS", sys.version_info[:2])
    add(Path(embedding.__file__).read_bytes(), inspect.getsource(to_tflite),
        inspect.getsource(split_models), inspect.getsource(stream_models))
    if any(type(layer).__name__ == "FakeQuant" for layer in _flat_layers(model)):
        from training.models import embedding_int8  # the int8 net: its ranges and code

        add(embedding_int8.RANGES_FILE.read_bytes(), Path(embedding_int8.__file__).read_bytes())
    add(model.name, [tuple(t.shape) for t in model.inputs],
        [tuple(t.shape) for t in model.outputs], _layer_tree(model))
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        add(w.dtype.str, w.shape, w.tobytes())
    return h.hexdigest()[:40]


def _layer_tree(model: Any) -> list[Any]:
    """Each layer's name, class and (for a nested model) its own layers."""
    return [(layer.name, type(layer).__name__,
             _layer_tree(layer) if hasattr(layer, "layers") else None)
            for layer in model.layers]


def _flat_layers(model: Any) -> list[Any]:
    """Every layer of ``model``, nested models' layers included."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out += _flat_layers(layer)
    return out


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:16]


def cached_tflite(model: Any, what: str, int8: bool = False, batch: int | None = 1,
                  cache: str | Path | None = None, fresh: bool = False) -> tuple[bytes, bool]:
    """``to_tflite(model, int8, batch)`` through an on-disk cache.

    Each entry is ``CACHE/tflite/WHAT-KEY-DIGEST.tflite`` (``KEY``:
    :func:`conversion_key`; ``DIGEST``: its bytes' sha256), written
    atomically; an entry whose bytes no longer match its digest (or that is
    no TFLite flatbuffer) is deleted and converted again.

    Args:
        what: the file's role (``embedding``, ``step``, ``chunk``), for its name.
        cache: the training cache (default :func:`training.data.cache_dir`).
        fresh: convert even if cached (replacing the entry): a cached file
            that failed the caller's checks.

    Returns:
        ``(flatbuffer bytes, whether they came from the cache)``.
    """
    from kwsapp.atomic import write_atomic
    from kwsapp.cache import cache_dir

    folder = Path(cache or cache_dir()) / TFLITE_CACHE_FOLDER
    stem = f"{what}-{conversion_key(model, int8, batch)}"
    for path in sorted(folder.glob(f"{stem}-*.tflite")):
        try:
            blob = path.read_bytes()
        except OSError as exc:
            log.warning("%s: unreadable cached conversion (%s), converting again", path, exc)
            continue
        if not fresh and blob[4:8] == b"TFL3" and _digest(blob) == path.stem.rsplit("-", 1)[1]:
            log.info("%s: cached conversion of %s", path, model.name)
            return blob, True
        if not fresh:
            log.warning("%s: corrupt cached conversion, converting again", path)
        path.unlink(missing_ok=True)
    blob = to_tflite(model, int8=int8, batch=batch)
    try:
        # The entry is the cache's own: a stray link of its name is replaced.
        write_atomic(folder / f"{stem}-{_digest(blob)}.tflite", blob, follow_symlinks=False)
    except (OSError, KwsError) as exc:  # the cache is optional: a full disk only costs time
        log.warning("%s: conversion not cached (%s)", folder, exc)
    return blob, False


def write_cached_tflite(model: Any, path: str | Path, what: str, batch: int | None = 1,
                        cache: str | Path | None = None, fresh: bool = False,
                        int8: bool = False) -> bool:
    """:func:`cached_tflite` written atomically to ``path``; whether it came
    from the cache."""
    from kwsapp.atomic import write_atomic

    path = Path(path)
    blob, hit = cached_tflite(model, what, int8=int8, batch=batch, cache=cache, fresh=fresh)
    write_atomic(path, blob)
    log.info("wrote %s (%.2f MB%s)", path, len(blob) / 1e6, ", cached" if hit else "")
    return hit


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
                    int8: bool = False, min_agreement: float = 0.99,
                    cache: str | Path | None = None,
                    embedding_weights: str = "float") -> dict[str, Any]:
    """Write ``model.tflite`` (and ``model_int8.tflite``) from an artifact's
    ``model.keras`` and check them on real inputs.

    Args:
        artifact_dir: holds ``model.keras`` (and ``card.json``).
        x: ``[n, ...]`` model inputs made from real clips.
        y: their true class indices (to report int8 vs float accuracy).
        int8: also write the int8-weight model.
        min_agreement: float model's least top-1 agreement with Keras.
        cache: the training cache for the frozen embedding's conversions
            (default :func:`training.data.cache_dir`).
        embedding_weights: ``"int8"``: an ``embed`` model's frozen embedding
            as the int8 network (its card's ``embedding_weights``); the
            ``float`` entry is then ``model.tflite`` with it, checked against
            the Keras head on the int8 embeddings (what it was trained on).

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
    int8_embedding = _int8_embedding(embedding_weights, model)
    report: dict[str, Any] = {}
    for name, quant in (("float", False), ("int8", True)) if int8 else (("float", False),):
        if int8_embedding and not quant:
            from training.models import embedding_int8

            path = write_tflite(embedding_int8.whole_window(model), artifact_dir / FLOAT_FILE,
                                int8=True)
            result = _agreement_on(model.layers[-1],
                                   int8_window_embeddings(x, cache=cache), path, x)
        else:
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
    split = export_split(artifact_dir, x, model, cache=cache,
                         embedding_weights=embedding_weights) if x.ndim == 2 else None
    if split is not None:  # an embed model: its halves too, for streaming
        report["streaming"], report["split"] = split
    return report


def _int8_embedding(embedding_weights: str, model: Any) -> bool:
    """Whether ``model``'s frozen embedding is to be the int8 network."""
    from training.models.embedding_int8 import INT8, PRECISIONS

    if embedding_weights not in PRECISIONS:
        raise ExportError(f"embedding_weights {embedding_weights!r}: not one of {PRECISIONS}")
    if embedding_weights == INT8 and "speech_embedding" not in [lay.name for lay in model.layers]:
        raise ExportError(f"{model.name}: int8 embedding weights need an embed model")
    return embedding_weights == INT8


def _agreement_on(head: Any, embeddings: np.ndarray, tflite_path: str | Path,
                  x: np.ndarray) -> dict[str, float]:
    """:func:`agreement` of a whole-window ``.tflite`` with a Keras head run
    on the window's embeddings."""
    ref = np.asarray(head.predict(embeddings, batch_size=32, verbose=0))
    got = tflite_probabilities(tflite_path, x)
    return {"top1_agreement": float((ref.argmax(1) == got.argmax(1)).mean()),
            "max_abs_diff": float(np.abs(ref - got).max()), "n": int(len(x))}


_INT8_WINDOW_MODELS: dict[int, Any] = {}


def int8_window_embeddings(windows: np.ndarray, batch_size: int = 64,
                           cache: str | Path | None = None) -> np.ndarray:
    """Embeddings of raw windows through the int8 network
    (training/models/embedding_int8.py) as LiteRT runs it, the runtime's
    numbers (what ``embed`` heads with int8 embedding weights train on):
    ``[n, samples]`` float32 16 kHz -> ``[n, T, 96]``. The window model is
    converted (or read from the conversion cache) once per process."""
    from kwsapp.atomic import write_atomic
    from kwsapp.models.artifact import TfliteModel
    from kwsapp.cache import cache_dir
    from training.models import embedding, embedding_int8

    windows = np.asarray(windows, np.float32)
    n_samples = windows.shape[1]
    if n_samples not in _INT8_WINDOW_MODELS:
        net = embedding_int8.quantize(embedding.build_embedding(n_samples))
        blob, _ = cached_tflite(net, f"window{n_samples}-int8", int8=True, batch=None,
                                cache=cache)
        path = Path(cache or cache_dir()) / TFLITE_CACHE_FOLDER / \
            f"window{n_samples}-int8-{_digest(blob)}.run.tflite"
        if not path.is_file():  # (a dangling link is replaced, as a cache entry)
            write_atomic(path, blob, follow_symlinks=False)
        _INT8_WINDOW_MODELS[n_samples] = TfliteModel(path, num_threads=2)
    model = _INT8_WINDOW_MODELS[n_samples]
    t = embedding.n_embeddings(n_samples)
    out = [model.invoke_batch(windows[i:i + batch_size]).reshape(-1, t, embedding.EMBEDDING_DIM)
           for i in range(0, len(windows), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, t, embedding.EMBEDDING_DIM), np.float32)


def split_models(model: Any, int8: bool = False) -> tuple[Any, Any, Any, Any] | None:
    """The two halves of an ``embed`` model (``export_model``'s chain of the
    frozen embedding and the trained head), for streaming; None for a model
    that is not such a chain.

    Returns:
        ``(embedding, head, step, chunk)``: ``[B, 12400]`` float32 16 kHz ->
        ``[B, 96]`` (one embedding: its 775 ms receptive field); the head as
        trained, ``[B, 10, 96]`` -> ``[B, n_classes]``; the embedding as a
        streaming step (:func:`training.models.embedding.build_embedding_step`);
        and ``[B, 12400 + 127 * 1280]`` -> ``[B, 128, 96]`` (files); with
        ``int8``, the embedding's three as the int8 network
        (training/models/embedding_int8.py: convert with ``int8=True``).
    """
    import keras

    from training.models import embedding

    names = [layer.name for layer in model.layers]
    if "speech_embedding" not in names or len(model.layers) != 3:
        return None
    whole = model.get_layer("speech_embedding")
    quant = _quantizer(int8)
    head = model.layers[-1]
    # The conv net is the same at any input length; only the framing and the
    # output reshape depend on it, and they hold no weights of their own
    # beyond the front end's constants: a one-embedding copy takes them all.
    one = embedding.build_embedding(embedding.FIRST_EMBEDDING_SAMPLES, name="embedding_one")
    one.set_weights(whole.get_weights())
    inp = keras.Input((embedding.FIRST_EMBEDDING_SAMPLES,), name="samples")
    out = keras.layers.Reshape((embedding.EMBEDDING_DIM,), name="embedding")(quant(one)(inp))
    chunk = embedding.build_embedding(embedding.FIRST_EMBEDDING_SAMPLES + (CHUNK_EMBEDDINGS - 1)
                                      * embedding.EMBEDDING_HOP_SAMPLES, name="embedding_chunk")
    chunk.set_weights(whole.get_weights())
    return (keras.Model(inp, out, name="embedding"), head,
            embedding.build_embedding_step(quant(whole)), quant(chunk))


def _quantizer(int8: bool) -> Any:
    """``embedding_int8.quantize`` for the int8 network, else the identity."""
    if not int8:
        return lambda net: net
    from training.models.embedding_int8 import quantize

    return quantize


def stream_models(model: Any, int8: bool = False) -> dict[int, Any]:
    """The streaming models of an ``embed`` model's frozen embedding, by
    embeddings per call (:func:`training.models.embedding.build_embedding_stream`);
    ``int8``: of the int8 network."""
    from training.models import embedding

    whole = _quantizer(int8)(model.get_layer("speech_embedding"))
    return {k: embedding.build_embedding_stream(whole, k) for k in embedding.STREAM_STEPS}


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
            "chunk": {"file": CHUNK_FILE, "embeddings": CHUNK_EMBEDDINGS},
            "stream": {"files": {str(k): STREAM_FILE.format(k) for k in embedding.STREAM_STEPS},
                       "samples": embedding.STEP_SAMPLES, "warmup": STEP_WARMUP}}


def split_parity(artifact_dir: str | Path, windows: np.ndarray,
                 streaming: dict[str, Any]) -> dict[str, Any]:
    """Split files vs ``model.tflite`` on raw windows ``[n, samples]``: the
    head on the window's embeddings (computed one by one from the split
    embedding, as the engine does) against the whole-window model."""
    from kwsapp.models.artifact import TfliteModel
    from kwsapp.models.split import EmbeddingStream, SplitModel

    artifact_dir = Path(artifact_dir)
    split = SplitModel(artifact_dir, streaming)
    whole = TfliteModel(artifact_dir / FLOAT_FILE)
    # Through the streaming step, the streaming models (one embedding per
    # call, and the most per call) and the one-shot embedding.
    step = EmbeddingStream(split.step, split.spec)
    stepped = np.stack([step.embed_range(w, 0, split.frames) for w in windows])
    streamed = np.stack([split.stream().embed_range(w, 0, split.frames) for w in windows])
    ones = EmbeddingStream(None, split.spec, streams={1: split.streams[1]})
    streamed_1 = np.stack([ones.embed_range(w, 0, split.frames) for w in windows])
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
            "stream_vs_one_shot_max_abs_diff": float(max(np.abs(streamed - once).max(),
                                                         np.abs(streamed_1 - once).max())),
            "n": int(len(windows)),
            "embedding_bytes": (artifact_dir / EMBEDDING_FILE).stat().st_size,
            "head_bytes": (artifact_dir / HEAD_FILE).stat().st_size,
            "step_bytes": (artifact_dir / STEP_FILE).stat().st_size,
            "chunk_bytes": (artifact_dir / CHUNK_FILE).stat().st_size,
            "stream_bytes": sum((artifact_dir / n).stat().st_size
                                for _, n in split.spec.stream_files)}


def export_split(artifact_dir: str | Path, windows: np.ndarray, model: Any = None,
                 max_abs_diff: float = 1e-3, cache: str | Path | None = None,
                 embedding_weights: str = "float"
                 ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Write ``embedding.tflite`` and ``head.tflite`` (batch resizable), the
    streaming step and the chunk model of an ``embed`` artifact from its
    ``model.keras`` (no retraining) and check them against its
    ``model.tflite`` on real windows.

    The frozen embedding's files come from the conversion cache when they are
    there (:func:`cached_tflite`, under ``cache``); if the check then fails,
    they are converted afresh (their cache entries replaced) and checked again.
    ``embedding_weights="int8"``: the frozen embedding's files from the int8
    network (as ``model.tflite``'s, :func:`export_artifact`).

    Returns:
        ``(streaming, parity)``: the card's ``streaming`` section and the
        check's figures; None when the model is not an embedding + head chain.

    Raises:
        ExportError: the split disagrees with the whole model.
    """
    from kwsapp.errors import ModelError
    from training.models.embedding import load_keras

    artifact_dir = Path(artifact_dir)
    if model is None:
        model = load_keras(artifact_dir / "model.keras")
    int8 = _int8_embedding(embedding_weights, model)
    parts = split_models(model, int8)
    if parts is None:
        return None
    emb, head, step, chunk = parts
    write_tflite(head, artifact_dir / HEAD_FILE, batch=None)
    streaming = streaming_section(head)
    frozen = ((emb, EMBEDDING_FILE, "embedding", None), (step, STEP_FILE, "step", 1),
              (chunk, CHUNK_FILE, "chunk", None),
              *((m, STREAM_FILE.format(k), f"stream{k}", 1)
                for k, m in stream_models(model, int8).items()))
    for fresh in (False, True):
        hits = [write_cached_tflite(part, artifact_dir / name, what, batch, cache, fresh, int8)
                for part, name, what, batch in frozen]
        try:
            parity = split_parity(artifact_dir, windows, streaming)
            problem = _split_problem(artifact_dir, parity, max_abs_diff)
        except ModelError as exc:  # a file LiteRT refuses, or of the wrong shape
            problem = str(exc)
        if problem is None:
            break
        if not any(hits):
            raise ExportError(problem)
        log.warning("%s; the embedding files came from the conversion cache: "
                    "converting them afresh", problem)
    log.info("split %s: %s", artifact_dir, parity)
    return streaming, parity


def _split_problem(artifact_dir: Path, parity: dict[str, Any],
                   max_abs_diff: float) -> str | None:
    """What is wrong with :func:`split_parity`'s figures, or None."""
    if parity["max_abs_diff"] > max_abs_diff:
        return (f"{artifact_dir}: the split embedding + head differ from {FLOAT_FILE} by up "
                f"to {parity['max_abs_diff']:.2g} on {parity['n']} windows")
    for name, key in ((STEP_FILE, "step_vs_one_shot_max_abs_diff"),
                      (CHUNK_FILE, "chunk_vs_one_shot_max_abs_diff"),
                      (STREAM_FILE.format("*"), "stream_vs_one_shot_max_abs_diff")):
        if parity[key] > EMBEDDING_ATOL:
            return (f"{artifact_dir / name}: its embeddings differ from {EMBEDDING_FILE}'s "
                    f"by up to {parity[key]:.2g} on {parity['n']} windows")
    return None


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


def is_artifact_file(name: str) -> bool:
    """Whether ``name`` is a file an artifact of a known format holds
    (:data:`ARTIFACT_FILES`, or a streaming model ``embedding_stream<k>.tflite``)."""
    return name in ARTIFACT_FILES or _STREAM_FILE_RE.fullmatch(name) is not None


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
