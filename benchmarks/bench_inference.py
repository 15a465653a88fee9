"""Per-window inference time of a bundled model: LiteRT (what the app runs)
against TensorFlow eager and tf.function on the same ``model.keras``, in the
same process, printed as ratios (``python -m benchmarks.bench_inference``).

Timings vary with machine load; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def _per_call_ms(fn, x: np.ndarray, repeats: int) -> float:
    """Median milliseconds of ``fn(x)`` over ``repeats`` calls after a warm-up."""
    for _ in range(3):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def run(model: str = "embed", repeats: int = 50) -> list[dict]:
    """Rows ``{"runtime", "ms_per_window", "ratio_vs_litert"}``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kwsapp.models.registry import resolve
    from kwsapp.inference.recognizer import Recognizer

    artifact = resolve(model)
    rec = Recognizer(artifact)
    rng = np.random.default_rng(0)
    window = (0.05 * rng.standard_normal(rec.card.window_samples)).astype(np.float32)
    x = rec.front_end(window)
    rows = [{"runtime": "LiteRT (1 thread)",
             "ms_per_window": _per_call_ms(rec.model.invoke, x, repeats)}]
    int8 = Path(artifact) / "model_int8.tflite"  # from `kwsapp export --int8`
    if int8.is_file():
        from kwsapp.models.artifact import TfliteModel

        rows.append({"runtime": "LiteRT, int8 weights (1 thread)",
                     "ms_per_window": _per_call_ms(TfliteModel(int8).invoke, x, repeats)})
    keras_path = Path(artifact) / "model.keras"
    if keras_path.is_file():
        import tensorflow as tf

        from training.models.embedding import load_keras

        net = load_keras(keras_path)
        batch = x[None]
        rows.append({"runtime": "TF eager (model(x))",
                     "ms_per_window": _per_call_ms(lambda b: net(b, training=False), batch,
                                                   repeats)})
        fn = tf.function(lambda b: net(b, training=False))
        rows.append({"runtime": "tf.function",
                     "ms_per_window": _per_call_ms(lambda b: fn(tf.constant(b)), batch, repeats)})
    base = rows[0]["ms_per_window"]
    for row in rows:
        row["ratio_vs_litert"] = row["ms_per_window"] / base
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="embed")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    rows = run(args.model, args.repeats)
    print(f"### Inference per window: {args.model}\n")
    print("| runtime | ms per window | x LiteRT |")
    print("| --- | ---: | ---: |")
    for row in rows:
        print(f"| {row['runtime']} | {row['ms_per_window']:.2f} | {row['ratio_vs_litert']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
