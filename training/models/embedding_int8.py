"""The frozen speech embedding with int8 weights and int8 activations at
fixed ranges (card ``"embedding_weights": "int8"``, docs/contracts.md 1).

Why fixed ranges, not dynamic-range quantization: with int8 weights and
float activations (``to_tflite(..., int8=True)`` alone) LiteRT quantizes
each convolution's input on the fly, one scale per call's whole tensor, so
an embedding depends on what else the call computed: the one-shot, chunk
and streaming models of the same net gave embeddings 1.0-1.3 % rms apart
(measured on 430 s of Speech Commands clips), nearly as far as from the
float ones (1.4 %). Live (streaming models, 1-3 embeddings a call) and files
(128 a call) would then disagree, and a head could not be trained on what
the runtime computes.

Here every activation of the conv stack has a fixed range (a fake-quant op
after each layer that changes values, ranges from the float net on
training clips, :data:`RANGES_FILE`), so the converter makes it fully int8
(per-channel int8 weights, int8 activations, int32 accumulators): each row
of each layer is integer arithmetic on its own inputs only, whatever the
call's shape. The one-shot, chunk, streaming and whole-window models give
bit-identical embeddings, and training embeds its clips through the same
converted network (``training.export.int8_window_embeddings``). The front end (framing, DFT,
mel, log) stays float: 16-bit audio does not fit 8 bits.

Recompute the ranges (they are part of the artifact's recipe; every int8
model and cached embedding changes with them)::

    python -m training.models.embedding_int8 --data ../shared/data/speech_commands_subset
"""

from __future__ import annotations

import argparse
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from training.models import embedding

#: Card value of ``embedding_weights`` for this network (absent: "float").
INT8 = "int8"
FLOAT = "float"
PRECISIONS = (FLOAT, INT8)
#: Per-layer activation ranges of the conv stack (layer name -> [lo, hi]).
RANGES_FILE = Path(__file__).with_name("embedding_int8_ranges.json")
#: Layers whose output gets its own range; max pools, paddings and reshapes
#: keep their input's scale (the converter propagates it).
QUANTIZED_KINDS = ("Reshape", "Conv2D", "ReLU", "BatchNormalization", "LeakyReLU", "Floor")


@lru_cache(maxsize=1)
def ranges() -> dict[str, tuple[float, float]]:
    """The activation ranges, by layer name of :func:`embedding.build_embedding`."""
    doc = json.loads(RANGES_FILE.read_text())
    return {k: (float(v[0]), float(v[1])) for k, v in doc["ranges"].items()}


def network_id() -> str:
    """What the int8 network's numbers depend on beyond the float weights:
    the ranges, this module and the converter/runtime versions (part of the
    training cache key of int8 embeddings)."""
    import tensorflow as tf

    h = hashlib.sha256()
    for part in (RANGES_FILE.read_bytes(), Path(__file__).read_bytes(),
                 Path(embedding.__file__).read_bytes(), tf.__version__.encode(),
                 _litert_version().encode()):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _litert_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-edge-litert")
    except PackageNotFoundError:
        return "?"


@lru_cache(maxsize=1)
def fake_quant_class() -> type:
    """The fake-quant layer (defined once, lazily: importing this module
    stays free of Keras)."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="kwsapp")
    class FakeQuant(keras.layers.Layer):
        """Values rounded to 256 levels over ``[lo, hi]``: the converter
        makes the tensor int8 with exactly this scale and zero point."""

        def __init__(self, lo: float, hi: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.quant_range = (float(lo), float(hi))

        def call(self, x: Any) -> Any:
            lo, hi = self.quant_range
            return tf.quantization.fake_quant_with_min_max_args(x, lo, hi, num_bits=8)

        def get_config(self) -> dict:
            lo, hi = self.quant_range
            return {**super().get_config(), "lo": lo, "hi": hi}

    return FakeQuant


def is_fake_quant(layer: Any) -> bool:
    return hasattr(layer, "quant_range")


def quantize(model: Any) -> Any:
    """``model`` (from :func:`embedding.build_embedding`, any length) with a
    fake-quant after each layer :data:`RANGES_FILE` names: convert it with
    ``to_tflite(..., int8=True)``. The layers (and weights) are shared."""
    import keras

    FakeQuant = fake_quant_class()
    known = ranges()
    inp = keras.Input(model.inputs[0].shape[1:], name=model.inputs[0].name)
    x = inp
    for layer in model.layers[1:]:
        x = layer(x)
        if layer.name in known:
            x = FakeQuant(*known[layer.name], name=f"q_{layer.name}")(x)
    out = keras.Model(inp, x, name=f"{model.name}_int8")
    out.trainable = False
    return out


def whole_window(model: Any) -> Any:
    """An ``embed`` artifact's ``model.keras`` (frozen embedding + head) with
    the embedding quantized: what its ``model.tflite`` is converted from.

    The head stays float as in ``head.tflite``. In a graph with fake-quant
    ops the converter makes int8 what it can give a scale: a SOFTMAX (a
    fixed 1/256 output scale), so softmaxes are written out as exp / sum;
    and a concatenation with the int8 embeddings (the window-mean head's
    embeddings beside themselves minus their mean), at the embeddings'
    scale, which clipped the centred half (0.012 from ``head.tflite``'s
    probabilities), so concatenations are written as a sum of zero-padded
    parts (the same values; a sum has no scale, so it stays float)."""
    import keras

    emb = quantize(model.get_layer("speech_embedding"))
    head = keras.models.clone_model(model.layers[-1], clone_function=_float_layer,
                                    recursive=True)
    head.set_weights(model.layers[-1].get_weights())
    inp = keras.Input(model.inputs[0].shape[1:], name="samples")
    return keras.Model(inp, head(emb(inp)), name=f"{model.name}_int8")


def _float_layer(layer: Any) -> Any:
    """A copy of ``layer`` the converter keeps float: a softmax activation as
    exp / sum, a concatenation as a sum of padded parts (same values)."""
    import keras

    config = layer.get_config()
    if isinstance(layer, keras.layers.Concatenate):
        return _padded_sum_layer()(axis=config["axis"], name=config["name"])
    if isinstance(layer, keras.layers.Dense) and config.get("activation") == "softmax":
        config["activation"] = _softmax
    return layer.__class__.from_config(config)


@lru_cache(maxsize=1)
def _padded_sum_layer() -> type:
    """``keras.layers.Concatenate`` as ``sum(pad(part))`` (built on first use:
    this module does not import Keras at import time)."""
    import keras
    from keras import ops

    class PaddedSum(keras.layers.Layer):
        def __init__(self, axis: int = -1, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.axis = axis

        def call(self, inputs: list[Any]) -> Any:
            rank = len(inputs[0].shape)
            axis = self.axis % rank
            widths = [int(t.shape[axis]) for t in inputs]
            total, start, out = sum(widths), 0, None
            for part, width in zip(inputs, widths):
                pads = [[0, 0]] * rank
                pads[axis] = [start, total - start - width]
                padded = ops.pad(part, pads)
                out = padded if out is None else out + padded
                start += width
            return out

    return PaddedSum


def _softmax(z: Any) -> Any:
    from keras import ops

    # exp(z - logsumexp(z)): the converter would fold exp / sum back into a SOFTMAX
    return ops.exp(z - ops.logsumexp(z, axis=-1, keepdims=True))


def calibrate(audio: np.ndarray, percentile: float = 99.999,
              chunk_embeddings: int = 128) -> dict[str, list[float]]:
    """Each quantized layer's output range on ``audio`` (16 kHz float32)
    through the float net: the ``percentile`` of its low and high values
    (0 always inside, so zero padding is exact)."""
    import keras

    n = embedding.FIRST_EMBEDDING_SAMPLES + (chunk_embeddings - 1) * embedding.EMBEDDING_HOP_SAMPLES
    net = embedding.build_embedding(n)
    names = [layer.name for layer in net.layers
             if type(layer).__name__ in QUANTIZED_KINDS and layer.name != "embeddings"]
    probe = keras.Model(net.inputs, [net.get_layer(name).output for name in names])
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, max(1, len(audio) - n + 1), n):
        part = np.zeros(n, np.float32)
        seg = audio[start:start + n]
        part[:len(seg)] = seg
        for name, out in zip(names, probe(part[None])):
            values[name].append(np.asarray(out).ravel()[::7])  # a fixed subsample: memory
    found = {}
    for name in names:
        v = np.concatenate(values[name])
        found[name] = [float(min(0.0, np.percentile(v, 100.0 - percentile))),
                       float(max(0.0, np.percentile(v, percentile)))]
    return found


def main(argv: list[str] | None = None) -> int:
    """Write :data:`RANGES_FILE` from the training speakers' clips."""
    from training import data
    from training.config import TrainConfig

    parser = argparse.ArgumentParser(prog="python -m training.models.embedding_int8",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="Speech Commands folder")
    parser.add_argument("--clips", type=int, default=300, help="training clips to calibrate on")
    parser.add_argument("--percentile", type=float, default=99.999)
    args = parser.parse_args(argv)
    clips = data.split_clips(args.data, TrainConfig())["train"]
    pick = np.random.default_rng(0).choice(len(clips), min(args.clips, len(clips)), replace=False)
    audio, chosen = data.load_clips([clips[i] for i in sorted(pick)])
    # At the training gains (TrainConfig.gain_db_range), so loud and quiet
    # clips both fall inside the ranges.
    low, high = TrainConfig().gain_db_range
    gains = 10.0 ** (np.random.default_rng(1).uniform(low, high, len(audio)) / 20.0)
    audio = np.clip(np.asarray(audio, np.float32) * gains[:, None].astype(np.float32), -1, 1)
    found = calibrate(audio.reshape(-1), args.percentile)
    doc = {"tool": "python -m training.models.embedding_int8",
           "data": f"{args.data}: {len(chosen)} training-split clips (seed 0), gains "
                   f"{low:g} to {high:g} dB (seed 1)",
           "percentile": args.percentile, "ranges": found}
    RANGES_FILE.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {RANGES_FILE} ({len(found)} layers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
