"""Which speakers a stream may use: the trainer's speaker-disjoint split.

The runtime never imports ``training/`` (it pulls in TensorFlow), so the rule
of ``training/data.py`` (``split_of``) is restated here for data without the
official lists, and a test checks that both agree clip by clip: speaker = the
8-hex id before ``_nohash_`` (``bed_<id>_nohash_0.wav`` too); the fraction
``sha1("<seed>/split/<speaker>")[:12 hex] / 2**48`` below the validation share
is validation, below validation + test share is test, else train.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kwsapp.config import TrainConfig

SETS = ("train", "validation", "test")


def speaker_of(path: str | Path) -> str:
    """Speaker id of a Speech Commands file name (``abc123ef_nohash_0.wav``,
    ``bed_abc123ef_nohash_0.wav`` -> ``abc123ef``)."""
    return Path(path).name.split("_nohash_")[0].split("_")[-1]


def _fraction(text: str) -> float:
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16) / float(1 << 48)


def which_set(path: str | Path, config: TrainConfig = TrainConfig()) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for one clip, by its speaker,
    as a model trained with ``config`` split it."""
    h = _fraction(f"{config.seed}/split/{speaker_of(path)}")
    if h < config.validation_share:
        return "validation"
    if h < config.validation_share + config.test_share:
        return "test"
    return "train"
