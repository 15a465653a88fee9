"""The seed notes' Light-weight CNN on the log-spectrogram (Kaggle "Speech
representation and data exploration" / "Light-weight CNN LB 0.74", A. Ozerin).

Input: the notes used the 99x81 natural-log power spectrogram of 1 s at
8 kHz (20 ms Hann window, 10 ms step; ``kwsapp.features.log_spectrogram``);
this one takes 40 log-mel bands (see ``INPUT``), its best resolution here.
Any 2-D front end works: the input shape comes from ``INPUT``. The graph
normalizes it itself (BatchNorm on the input, as in the notes), so the
runtime feeds the raw features. Layout as the notes::

    BN -> Conv(8,2) Conv(8,2) MaxPool Dropout
       -> Conv(16,3) Conv(16,3) MaxPool Dropout
       -> Conv(32,3) MaxPool Dropout -> Flatten
       -> Dense(128) BN -> Dense(128) BN -> Dense(n, softmax)

trained with categorical cross-entropy (the notes' sigmoid/binary
cross-entropy scores 12 independent yes/no questions instead of one choice).
``width`` scales every layer's filters; ``dense_dropout`` adds dropout
between the dense layers, which the small data set needs.
"""

from __future__ import annotations

from typing import Any

from kwsapp import features

WINDOW_MS = 1000.0
#: The notes' input, kept for comparison: ``NOTES_INPUT``. The bundled model
#: takes 40 log-mel bands of 16 kHz audio (25 ms window, 10 ms hop, 98x40):
#: on the validation speakers it scored about 2 points above the 99x81
#: log-spectrogram with the same training (82 % against 80 % best epoch,
#: 4 augmented copies) and trains twice as fast (a quarter of the pixels).
NOTES_INPUT: dict[str, Any] = {"kind": "log_spectrogram", "sample_rate_hz": 8000,
                               "params": {"window_ms": 20, "step_ms": 10}}
INPUT: dict[str, Any] = {"kind": "log_mel", "sample_rate_hz": 16000,
                         "params": {"n_mels": 40, "window_ms": 25.0, "hop_ms": 10.0}}

DEFAULTS: dict[str, Any] = {
    "conv_filters": (8, 16, 32),  # per stage; stages 1-2 hold two convs, stage 3 one
    "kernel_sizes": (2, 3, 3),
    "width": 1.0,  # multiplies every conv's filters
    "dense_units": 128,
    "dropout": 0.2,  # after each pooling, as the notes
    "dense_dropout": 0.0,  # after each dense layer (0 as the notes)
    # Subtract each clip's own mean log power (and divide by its spread)
    # before the input BatchNorm: removes the recording's gain, which varies
    # more between speakers and microphones than 2,300 clips can teach.
    "clip_norm": False,
}

#: TrainConfig overrides for this net (training/make_models.py): trained
#: from scratch on ~2,500 clips it needs many epochs and many augmented
#: copies (each epoch draws one per clip) to generalize to new speakers.
TRAIN: dict[str, Any] = {"epochs": 90, "aug_copies": 12, "patience": 10}

#: Whether the trainer applies SpecAugment (training/augment.py) to each
#: epoch's spectrograms. Off: on this data it slowed learning (train 70 %,
#: validation 79 % after 45 epochs) without raising validation accuracy.
SPEC_AUGMENT = False

#: A few thousand parameters: builds and trains in seconds in tests.
TINY: dict[str, Any] = {**DEFAULTS, "conv_filters": (2, 4, 4), "dense_units": 8}


def input_shape(window_ms: float = WINDOW_MS, spec: dict[str, Any] = INPUT) -> tuple[int, int]:
    """``(frames, bins)`` of the front end's output for one window."""
    import numpy as np

    rate = int(spec["sample_rate_hz"])
    n = int(round(window_ms * rate / 1000.0))
    return features.compute(spec["kind"], np.zeros(n, np.float32), sample_rate_hz=rate,
                            **spec.get("params", {})).shape  # type: ignore[return-value]


def build(params: dict[str, Any], n_classes: int):
    """The CNN as a ``keras.Model``: ``[batch, frames, bins]`` float32 log
    spectrogram -> ``[batch, n_classes]`` softmax probabilities."""
    import keras
    from keras import layers

    p = {**DEFAULTS, **params}
    frames, bins = p.get("input_shape") or input_shape()
    # Valid convolutions and three 2x2 pools need at least ~40 rows/columns.
    f1, f2, f3 = (max(1, int(round(f * p["width"]))) for f in p["conv_filters"])
    k1, k2, k3 = p["kernel_sizes"]
    inp = keras.Input((frames, bins), name="log_spectrogram")
    x = layers.Reshape((frames, bins, 1))(inp)
    if p["clip_norm"]:
        # Standardize over time, frequency and channel of each example.
        x = layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False,
                                      epsilon=1e-3, name="clip_norm")(x)
    x = layers.BatchNormalization(name="input_norm")(x)
    for filters, kernel, repeat in ((f1, k1, 2), (f2, k2, 2), (f3, k3, 1)):
        for _ in range(repeat):
            x = layers.Conv2D(filters, kernel, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(p["dropout"])(x)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(p["dense_units"], activation="relu")(x)
        x = layers.BatchNormalization()(x)
        if p["dense_dropout"]:
            x = layers.Dropout(p["dense_dropout"])(x)
    out = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inp, out, name="cnn")
