"""Clip weights: take the training prior of ``unknown`` back out of a
single clip's decision (the card's ``clip_weights``, docs/contracts.md 2).

A head trained with thousands of negatives sees ``unknown`` in more than
half of its examples, so on a lone clip of an unseen speaker it calls a
command ``unknown`` far more often than the reverse (the bundled ``embed``:
13 commands called ``unknown`` against 1 unknown word called a command, of
641 validation clips). Multiplying a clip's ``unknown`` probability by a
weight below 1 (and renormalising) is the usual prior correction for a
label shift. Streams keep the raw probabilities: their thresholds are
tuned on streams, where other speech is what fires commands.

The weight is chosen on the validation speakers from a fixed grid (ties go
to the weight nearest 1). Since the same clips then score it, the card also
records a speaker cross-validation: the weight chosen on half of the
speakers, scored on the other half, over many random halvings.

``python -m training.clip_weights ARTIFACT --data DIR`` sets the weights of
an existing artifact, scoring its ``.tflite`` on the validation clips its
card's training config gives; :func:`train.train` does the same after
training a model with negatives.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from training.config import TrainConfig

#: Weights of ``unknown`` tried, nearest 1 first (ties keep the first).
GRID: tuple[float, ...] = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2)
#: Random halvings of the speakers for the cross-validation estimate.
CV_ROUNDS = 50
LABEL = "unknown"


def weighted(probs: np.ndarray, column: int, weight: float) -> np.ndarray:
    """``probs`` ``[n, classes]`` with ``column`` times ``weight``
    (unnormalised: the argmax is all a clip's label needs)."""
    out = np.array(probs, np.float64, copy=True)
    out[:, column] *= weight
    return out


def _accuracy(probs: np.ndarray, y: np.ndarray, column: int, weight: float) -> float:
    return float(np.mean(weighted(probs, column, weight).argmax(1) == y)) if len(y) else 0.0


def best_weight(probs: np.ndarray, y: np.ndarray, column: int,
                grid: Sequence[float] = GRID) -> float:
    """The grid weight of ``column`` with the highest top-1 (the first of
    equals, so the nearest 1 when the grid starts there)."""
    scores = [_accuracy(probs, y, column, w) for w in grid]
    return float(grid[int(np.argmax(scores))])


def choose(probs: np.ndarray, y: np.ndarray, speakers: Sequence[str | None],
           labels: Sequence[str], seed: int = 0, grid: Sequence[float] = GRID
           ) -> dict[str, Any]:
    """The ``unknown`` weight for clips and how it scores.

    Args:
        probs: ``[n, len(labels)]`` probabilities of the validation clips.
        y: their label indices.
        speakers: their speakers (None, e.g. silence: each its own).

    Returns:
        ``{"clip_weights": {...}, "tuning": {...}}``: the card's weights
        (empty when 1 is best) and the figures behind them.
    """
    probs, y = np.asarray(probs), np.asarray(y)
    if LABEL not in labels:
        return {"clip_weights": {}, "tuning": {"skipped": f"no {LABEL!r} label"}}
    column = list(labels).index(LABEL)
    weight = best_weight(probs, y, column, grid)
    ids = np.array([s if s else f"#{i}" for i, s in enumerate(speakers)])
    unique = np.unique(ids)
    rng = np.random.default_rng(seed)
    raw, chosen = [], []
    for _ in range(CV_ROUNDS):
        half = np.isin(ids, rng.permutation(unique)[:len(unique) // 2])
        for pick, score in ((half, ~half), (~half, half)):
            w = best_weight(probs[pick], y[pick], column, grid)
            raw.append(_accuracy(probs[score], y[score], column, 1.0))
            chosen.append(_accuracy(probs[score], y[score], column, w))
    pred_raw, pred = probs.argmax(1), weighted(probs, column, weight).argmax(1)
    commands = np.isin(y, [i for i, lab in enumerate(labels) if lab not in (LABEL, "silence")])
    tuning = {
        "tool": "python -m training.clip_weights", "grid": list(grid),
        "clips": int(len(y)), "speakers": int(len({s for s in speakers if s})),
        "validation_top1_raw": round(float(np.mean(pred_raw == y)) * 100, 2),
        "validation_top1": round(float(np.mean(pred == y)) * 100, 2),
        "commands_called_unknown": [int(np.sum(commands & (p == column))) for p in (pred_raw, pred)],
        "unknown_called_other": [int(np.sum((y == column) & (p != column)))
                                 for p in (pred_raw, pred)],
        # The fair estimate: weights chosen on one half of the speakers.
        "speaker_cv": {"rounds": f"{CV_ROUNDS} random halvings x 2",
                       "top1_raw": round(float(np.mean(raw)) * 100, 2),
                       "top1": round(float(np.mean(chosen)) * 100, 2)},
    }
    return {"clip_weights": {LABEL: weight} if weight != 1.0 else {}, "tuning": tuning}


def apply_to_card(card: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``card`` with ``result``'s weights and their figures (older ones
    replaced)."""
    card = dict(card)
    card.pop("clip_weights", None)
    if result["clip_weights"]:
        card["clip_weights"] = result["clip_weights"]
    card["clip_weights_tuning"] = result["tuning"]
    return card


def validation_probabilities(artifact: Path, data_dir: Path, cfg: TrainConfig
                             ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """The artifact's ``.tflite`` on the validation clips of ``cfg``'s
    split (each clip centred in the window, as ``kwsapp evaluate`` does)."""
    from kwsapp.inference.recognizer import Recognizer
    from training import data

    # The trainer's own pick of validation clips (training/prepare.py prepare).
    clips = data.subsample(data.split_clips(data_dir, cfg)["validation"], cfg.max_val_clips,
                           cfg.seed)
    audio, clips = data.load_clips(clips)
    rec = Recognizer(artifact)
    probs = np.stack([rec.probabilities(a) for a in audio])
    return probs, data.label_indices(clips, rec.labels), [c.speaker for c in clips]


def config_of(card: dict[str, Any]) -> TrainConfig:
    """The training config a card records (fields this code lacks ignored)."""
    saved = dict(card.get("training", {}).get("config", {}))
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in fields}
    return TrainConfig(**kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.clip_weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifact", help="model folder (card.json + .tflite)")
    parser.add_argument("--data", required=True, help="the Speech Commands folder it was trained on")
    args = parser.parse_args(argv)
    from kwsapp.atomic import write_json_atomic
    from kwsapp.errors import KwsError

    artifact = Path(args.artifact)
    try:
        card = json.loads((artifact / "card.json").read_text())
        cfg = config_of(card)
        probs, y, speakers = validation_probabilities(artifact, Path(args.data), cfg)
    except (OSError, ValueError, KwsError) as exc:
        print(f"python -m training.clip_weights: {artifact}: {exc}", file=sys.stderr)
        return 2
    result = choose(probs, y, speakers, card["labels"], seed=cfg.seed)
    write_json_atomic(artifact / "card.json", apply_to_card(card, result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
