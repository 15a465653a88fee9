"""WavCeption V1 of the seed notes (Kaggle kernel by O. Panichev): 1-D
Inception modules straight on the raw wave.

A strided convolution (the stem) first shortens the wave. Each module normalizes its input and runs parallel branches over time: a
1-wide convolution, 1-wide bottlenecks followed by 3-, 5- and 7-wide
convolutions, and an average pool followed by a 1-wide convolution; their
outputs are concatenated, batch-normalized and rectified, and a max pool then
shortens time. After the last module, global average and max pooling over
time feed a dense softmax classifier.

Input: 1 s of raw samples at ``INPUT["sample_rate_hz"]`` (8 kHz: half the
samples of 16 kHz, the words keep their information below 4 kHz, and
training on 2 cores is twice as fast). The input is normalized inside the
graph, so the runtime feeds samples in [-1, 1].
"""

from __future__ import annotations

from typing import Any

WINDOW_MS = 1000.0
INPUT: dict[str, Any] = {"kind": "waveform", "sample_rate_hz": 8000}

DEFAULTS: dict[str, Any] = {
    # Stem (as GoogLeNet's): one strided convolution shortens the wave before
    # the first module; Inception modules at the full 8000 samples cost ~10x
    # the time for no gain on 2 cores.
    "stem_filters": 16,
    "stem_kernel": 25,  # ~3 ms at 8 kHz
    "stem_stride": 4,
    "stem_pool": 2,
    "branch_filters": (16, 16, 32, 32, 48, 64),  # per module, each branch
    "pools": (2, 2, 2, 2, 2, 2),  # max-pool factor after each module
    "kernel_sizes": (3, 5, 7),  # the wide branches
    "bottleneck": 0.5,  # bottleneck filters as a share of branch filters
    "dense_units": 96,
    "dropout": 0.3,
}

#: TrainConfig overrides for this net (training/make_models.py): trained
#: from scratch on ~2,500 clips it needs many epochs and many augmented
#: copies (each epoch draws one per clip) to generalize to new speakers.
TRAIN: dict[str, Any] = {"epochs": 50, "aug_copies": 8, "patience": 10}

#: A few thousand parameters: builds and trains in seconds in tests.
TINY: dict[str, Any] = {**DEFAULTS, "stem_filters": 4, "branch_filters": (2, 2, 4),
                        "pools": (4, 4, 4), "dense_units": 8}


def input_shape(window_ms: float = WINDOW_MS, spec: dict[str, Any] = INPUT) -> tuple[int]:
    """``(samples,)`` of one window."""
    return (int(round(window_ms * int(spec["sample_rate_hz"]) / 1000.0)),)


def inception_1d(x, filters: int, kernel_sizes: tuple[int, ...], bottleneck: float, name: str):
    """One 1-D Inception module on ``[batch, time, channels]``; gives
    ``(2 + len(kernel_sizes)) * filters`` channels at the same length."""
    from keras import layers

    neck = max(1, int(round(filters * bottleneck)))
    x = layers.BatchNormalization(name=f"{name}_in_norm")(x)
    branches = [layers.Conv1D(filters, 1, padding="same", name=f"{name}_1")(x)]
    for k in kernel_sizes:
        b = layers.Conv1D(neck, 1, padding="same", activation="relu", name=f"{name}_{k}_neck")(x)
        branches.append(layers.Conv1D(filters, k, padding="same", name=f"{name}_{k}")(b))
    pooled = layers.AveragePooling1D(3, strides=1, padding="same", name=f"{name}_avg")(x)
    branches.append(layers.Conv1D(filters, 1, padding="same", name=f"{name}_pool_1")(pooled))
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    x = layers.BatchNormalization(name=f"{name}_out_norm")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build(params: dict[str, Any], n_classes: int):
    """WavCeption as a ``keras.Model``: ``[batch, samples]`` float32 wave ->
    ``[batch, n_classes]`` softmax probabilities."""
    import keras
    from keras import layers

    p = {**DEFAULTS, **params}
    if len(p["branch_filters"]) != len(p["pools"]):
        raise ValueError("branch_filters and pools need one entry per module")
    (n,) = p.get("input_shape") or input_shape()
    inp = keras.Input((n,), name="waveform")
    x = layers.Reshape((n, 1))(inp)
    x = layers.BatchNormalization(name="input_norm")(x)
    x = layers.Conv1D(p["stem_filters"], p["stem_kernel"], strides=p["stem_stride"],
                      padding="same", use_bias=False, name="stem")(x)
    x = layers.BatchNormalization(name="stem_norm")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    if p["stem_pool"] > 1:
        x = layers.MaxPooling1D(p["stem_pool"], name="stem_pool")(x)
    for i, (filters, pool) in enumerate(zip(p["branch_filters"], p["pools"])):
        x = inception_1d(x, int(filters), tuple(p["kernel_sizes"]), p["bottleneck"], f"incep{i + 1}")
        if pool > 1:
            x = layers.MaxPooling1D(pool, name=f"pool{i + 1}")(x)
    x = layers.Concatenate(name="time_pool")([layers.GlobalAveragePooling1D()(x),
                                              layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(p["dropout"])(x)
    x = layers.Dense(p["dense_units"], activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(p["dropout"])(x)
    out = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inp, out, name="wavception")
