"""Which speakers a stream may use: the speaker-disjoint split of the data.

The runtime never imports ``training/`` (it pulls in TensorFlow), so the
split rule is restated here and a test checks it agrees with
``training.data`` wherever that is importable. The rule, as in TensorFlow's
speech_commands ``which_set``: speaker = the file-name part before
``_nohash_`` (for ``_unknown_/<word>_<speaker>_nohash_<n>.wav``, the 8-hex
speaker id); a seeded SHA-1 hash of the speaker id puts every clip of one
speaker in the same set.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: Shares of speakers (percent) in the validation and test sets.
VALIDATION_PERCENT = 10.0
TEST_PERCENT = 10.0
SPLIT_SEED = 0
SETS = ("training", "validation", "testing")
_MAX_BUCKETS = 2 ** 27 - 1


def speaker_of(path: str | Path) -> str:
    """Speaker id of a Speech Commands file name (``abc123ef_nohash_0.wav``,
    ``bed_abc123ef_nohash_0.wav`` -> ``abc123ef``)."""
    stem = Path(path).name.split("_nohash_")[0]
    return re.split(r"_", stem)[-1]


def which_set(path: str | Path, validation_percent: float = VALIDATION_PERCENT,
              test_percent: float = TEST_PERCENT, seed: int = SPLIT_SEED) -> str:
    """``"training"``, ``"validation"`` or ``"testing"`` for one clip, by its speaker."""
    key = f"{seed}:{speaker_of(path)}".encode()
    bucket = int(hashlib.sha1(key).hexdigest(), 16) % (_MAX_BUCKETS + 1)
    percent = bucket * (100.0 / _MAX_BUCKETS)
    if percent < validation_percent:
        return "validation"
    if percent < validation_percent + test_percent:
        return "testing"
    return "training"
