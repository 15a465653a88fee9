"""Other speech for the ``unknown`` class (docs/contracts.md section 3).

Every kind of negative is a list of :class:`training.data.Clip` labelled
``unknown``, each with its ``source`` (``wake_words/alexa``,
``hard/start-of-left``, ...) and ``word``; a clip is either a whole file or
a window (``start``/``frames``) of a longer recording. Generation is
deterministic and cached under the cache folder, so the trainer's
embedding cache keeps hitting.

Kinds (``TrainConfig.negatives``):

- ``wake_words``: real people saying "alexa", "snowboy", "smart mirror"
  (``../shared/data/wake_words``, FLAC, 1.3-5.7 s): windows around the
  speech run of each recording (training/negatives/real.py);
- ``hard``: windows cut from the training speakers' own audio: only the
  start or the end of a command, two other words back to back
  (training/negatives/hard.py);
- ``chimera``: reversed words, splices of two words and commands inside
  longer words, cut from the same real audio (training/negatives/chimera.py);
- ``tts``: words, phrases and near-misses of the commands said by
  espeak-ng, flite and festival voices, with a held-out split of voices and
  words, and synthetic command positives (training/negatives/tts.py);
- mined false activations are added by the trainer (training/negatives/mining.py).

Only the training split gets them: validation and test stay real held-out
speakers.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Callable, Sequence

from training.config import TrainConfig
from training.data import Clip

log = logging.getLogger(__name__)

#: kind -> "module:function"; each function takes (data_dir, train clips,
#: config, cache, window samples) and returns unknown Clips.
KINDS: dict[str, str] = {
    "wake_words": "training.negatives.real:wake_word_windows",
    "hard": "training.negatives.hard:hard_negatives",
    "tts": "training.negatives.tts:for_training",
    "chimera": "training.negatives.chimera:chimeras",
}

Generator = Callable[[Path, Sequence[Clip], TrainConfig, Path, int], list[Clip]]


def generator(kind: str) -> Generator:
    """The function making ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of negatives {kind!r} (known: {', '.join(KINDS)})")
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def training_negatives(data_dir: Path, train: Sequence[Clip], config: TrainConfig,
                       cache: Path, window: int) -> dict[str, list[Clip]]:
    """The negatives ``config.negatives`` asks for, by kind
    (``negatives_exclude`` is applied by the trainer after embedding, so a
    held-out run reuses the same cached embeddings: :func:`kept`).

    Args:
        data_dir: the Speech Commands folder (other data are its siblings).
        train: the training split (hard negatives are cut from it only).
        window: model window in samples.
    """
    out: dict[str, list[Clip]] = {}
    for kind in config.negatives:
        out[kind] = generator(kind)(Path(data_dir), train, config, cache, window)
        log.info("negatives %s: %d windows", kind, len(out[kind]))
    return out


def kept(clips: Sequence[Clip], exclude: Sequence[str]) -> list[int]:
    """Indices of the clips whose word is not one of ``exclude`` (nor holds
    one: "alexa" also leaves out the pair "bed alexa", "smart mirror" the
    chimera "smart mirror + left")."""
    words = [f" {w.lower()} " for w in exclude]
    return [i for i, c in enumerate(clips)
            if not any(w in f" {c.word.lower()} " for w in words)]
