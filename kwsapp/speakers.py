"""The Speech Commands layout's names, its speakers, and the seeded
speaker-disjoint split.

One rule, shared by training (``training/data.py``), the stream maker and the
exploration report, so "validation speakers" means the same everywhere. The
runtime never imports ``training/`` (it pulls in TensorFlow), which is why
the rule lives here: speaker = the 8-hex id before ``_nohash_``
(``bed_<id>_nohash_0.wav`` too); the fraction
``sha1("<seed>/split/<speaker>")[:12 hex] / 2**48`` below the validation share
is validation, below validation + test share is test, else train. Data with
official lists (the full data set) is split by ``training.data.split_of``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kwsapp.config import SplitConfig

#: Folders of the layout that are not a plain word.
BACKGROUND_DIR = "_background_noise_"
SILENCE_DIR = "_silence_"
UNKNOWN_DIR = "_unknown_"
#: Folder name -> class label, where they differ.
FOLDER_LABELS = {SILENCE_DIR: "silence", UNKNOWN_DIR: "unknown"}


def speaker_of(path: str | Path) -> str | None:
    """Speaker id of a clip file name, or None (``_silence_/<n>.wav``).

    ``<speaker>_nohash_<n>.wav`` and ``<word>_<speaker>_nohash_<n>.wav`` (the
    subset's ``_unknown_``) both give ``<speaker>``.
    """
    stem = Path(path).stem
    if "_nohash_" not in stem:
        return None
    return stem.split("_nohash_")[0].split("_")[-1]


def stable_fraction(text: str) -> float:
    """A stable pseudo-random number in [0, 1) from ``text`` (not Python's
    salted ``hash``)."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16) / float(1 << 48)


def hash_split(group: str, config: SplitConfig = SplitConfig()) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for a speaker (or any
    other group name), by the seeded hash."""
    h = stable_fraction(f"{config.seed}/split/{group}")
    if h < config.validation_share:
        return "validation"
    if h < config.validation_share + config.test_share:
        return "test"
    return "train"


def which_set(path: str | Path, config: SplitConfig = SplitConfig()) -> str:
    """The split of one speech clip, by its speaker, as a model trained with
    ``config`` on data without official lists split it (a training
    ``TrainConfig`` has the same split fields)."""
    speaker = speaker_of(path)
    return hash_split(speaker if speaker is not None else f"clip:{Path(path).name}", config)
