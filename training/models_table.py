"""The README's Models table from the bundled artifacts' cards:
``python -m training.models_table [--models-dir assets/models]``.

Parameters and validation accuracy come from each ``card.json``, the file
size from ``model.tflite``, the latency is measured here (LiteRT, one
thread, median of repeated calls on one window; it varies with the load).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def latency_ms(artifact: Path, repeats: int = 50) -> float:
    """Median ms of one window through the card's front end and LiteRT."""
    from kwsapp.inference.recognizer import Recognizer

    rec = Recognizer(artifact)
    window = (0.05 * np.random.default_rng(0).standard_normal(rec.card.window_samples)
              ).astype(np.float32)
    for _ in range(3):
        rec.probabilities(window)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        rec.probabilities(window)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def rows(models_dir: Path) -> list[str]:
    out = ["| model | parameters | file size | top-1, validation speakers (never trained on) "
           "| latency per window |",
           "| --- | ---: | ---: | --- | ---: |"]
    for card_path in sorted(models_dir.glob("*/card.json")):
        artifact = card_path.parent
        card = json.loads(card_path.read_text())
        val = card.get("metrics", {}).get("validation", {})
        size = (artifact / "model.tflite").stat().st_size / 1e6
        params = card.get("parameters")
        trained = card.get("trainable_parameters")
        params_text = f"{params:,}" if params else "?"
        if trained and params and trained != params:
            params_text += f" ({trained:,} trained)"
        acc = (f"{100 * val['accuracy']:.2f}% of {val['n']} clips, {val.get('speakers', '?')} "
               f"speakers" if val.get("accuracy") is not None else "?")
        tuning = card.get("clip_weights_tuning", {})
        if card.get("clip_weights") and "validation_top1" in tuning:
            # The card's clip decision (training/clip_weights.py) and its fair estimate.
            acc = (f"{tuning['validation_top1']:.2f}% with its clip weights "
                   f"({tuning['speaker_cv']['top1']:.2f}% chosen on other speakers), "
                   f"{acc} raw")
        out.append(f"| `{card.get('name', artifact.name)}` | {params_text} | {size:.2f} MB | "
                   f"{acc} | {latency_ms(artifact):.1f} ms ({card['window_ms'] / 1000:g} s) |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models-dir", default="assets/models")
    args = parser.parse_args(argv)
    print("\n".join(rows(Path(args.models_dir))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
