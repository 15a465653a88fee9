"""Train the tiniest honest model for structural tests (run as a script).

A STRUCTURAL FIXTURE, not a product model: one dense softmax layer on the
log-mel features of a 1 s window (card input kind ``log_mel``), trained with
real TensorFlow for a few seconds on a few real clips per class from the
shared Speech Commands subset, exported to ``.tflite`` with a ``card.json``
as ``kwsapp/models/artifact.py`` describes. Its accuracy is whatever such a
model gets; tests use it to exercise the engine's plumbing, never to judge
recognition (those use the bundled models).

Usage: python tests/tiny_model.py DATA_DIR OUT_DIR [CLIPS_PER_CLASS]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kwsapp import LABELS  # noqa: E402
from kwsapp.audio.io import fit_length, load_audio  # noqa: E402
from kwsapp.features import log_mel  # noqa: E402

FOLDERS = {"silence": "_silence_", "unknown": "_unknown_"}
WINDOW_SAMPLES = 16000


def main(data_dir: str, out_dir: str, per_class: int = 40) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    xs, ys = [], []
    for index, label in enumerate(LABELS):
        files = sorted((Path(data_dir) / FOLDERS.get(label, label)).glob("*.wav"))[:per_class]
        for f in files:
            xs.append(log_mel(fit_length(load_audio(f), WINDOW_SAMPLES)))
            ys.append(index)
    x = np.stack(xs).astype(np.float32)
    y = np.array(ys)
    norm = tf.keras.layers.Normalization(axis=None)
    norm.adapt(x)
    model = tf.keras.Sequential([
        tf.keras.Input(shape=x.shape[1:]),
        norm,
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(len(LABELS), activation="softmax"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=25, batch_size=32, verbose=0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    (out / "model.tflite").write_bytes(tflite)
    card = {
        "format_version": 1, "name": "tiny-structural", "arch": "dense",
        "labels": list(LABELS), "sample_rate_hz": 16000,
        "window_ms": 1000, "hop_ms": 250,
        "input": {"kind": "log_mel", "sample_rate_hz": 16000, "params": {}},
        "threshold": 0.5,
        "training": {"data": str(data_dir), "clips_per_class": per_class,
                     "note": "structural test fixture; not a product model"},
        "metrics": {"train_accuracy": float(hist.history["accuracy"][-1])},
    }
    (out / "card.json").write_text(json.dumps(card, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
