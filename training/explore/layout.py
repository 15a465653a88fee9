"""Read a folder in the Speech Commands layout, lazily, one label at a time.

Both layouts the project meets are understood:

- the 12-class subset: ``<label>/<speaker>_nohash_<n>.wav`` for the ten
  commands, ``_unknown_/<word>_<speaker>_nohash_<n>.wav`` (the raw word is
  the file-name prefix) and ``_silence_/<n>.wav`` (no speaker);
- the full v0.02 data set: one folder per raw word (35), plus
  ``validation_list.txt`` / ``testing_list.txt`` naming ``<word>/<file>``.

``_background_noise_/`` holds long noise recordings, listed apart.

Speaker ids and splits come from the training loader (``training/data.py``:
``speaker_of``, ``official_lists``, ``split_of``), so the report shows the
split a model is trained on: the lists when present, else the loader's seeded
speaker hash. Listing stays here: the loader keeps a share of the non-command
words and cuts silence from background noise, while the report reads every
file, lazily, one folder at a time.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kwsapp import COMMAND_LABELS
from training.config import TrainConfig
from kwsapp.errors import BadInputError
from kwsapp.speakers import BACKGROUND_DIR, SILENCE_DIR, UNKNOWN_DIR
from training import data

log = logging.getLogger(__name__)

#: File endings read as audio (what libsndfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
NOHASH = "_nohash_"


@dataclass(frozen=True)
class Clip:
    """One clip of the data set.

    Attributes:
        path: the file.
        label: its folder (``yes``, ``_unknown_``, ``bed``, ...).
        word: the raw word spoken (the folder, or the file-name prefix inside
            ``_unknown_``); ``_silence_`` for silence clips.
        speaker: the id before ``_nohash_``, or None (silence clips).
        split: ``train``/``validation``/``test``, as the training loader
            splits it (the data set's lists, or a seeded speaker hash).
    """

    path: Path
    label: str
    word: str
    speaker: str | None
    split: str

    @property
    def name(self) -> str:
        """``<label>/<file>``: the name the split lists use."""
        return f"{self.label}/{self.path.name}"


def word_and_speaker(label: str, stem: str) -> tuple[str, str | None]:
    """The raw word and the speaker id of a clip from its folder and file stem.

    >>> word_and_speaker("_unknown_", "backward_0c540988_nohash_0")
    ('backward', '0c540988')
    >>> word_and_speaker("yes", "0a7c2a8d_nohash_1")
    ('yes', '0a7c2a8d')
    >>> word_and_speaker("_silence_", "1024")
    ('_silence_', None)
    """
    speaker = data.speaker_of(stem)
    if speaker is None:
        return label, None
    word = stem.split(NOHASH, 1)[0].rpartition("_")[0]
    return (word or label), speaker


def is_command(word: str) -> bool:
    """True for the ten command words (the others map to ``unknown``)."""
    return word in COMMAND_LABELS


def _audio_names(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries
                      if e.is_file() and e.name.lower().endswith(AUDIO_SUFFIXES))


@dataclass
class Layout:
    """What :func:`scan` found: label folders with their clip counts, the
    background-noise files and the split lists (names only; clips are read
    lazily by :meth:`clips`)."""

    root: Path
    label_counts: dict[str, int]
    background: list[Path] = field(default_factory=list)
    lists: dict[str, set[str]] | None = None  # the data set's split lists, if any
    split_config: TrainConfig = field(default_factory=TrainConfig)

    @property
    def n_clips(self) -> int:
        return sum(self.label_counts.values())

    @property
    def kind(self) -> str:
        """``subset`` (an ``_unknown_`` folder), ``full`` (raw-word folders) or ``other``."""
        if UNKNOWN_DIR in self.label_counts:
            return "subset"
        if any(not is_command(l) and not l.startswith("_") for l in self.label_counts):
            return "full"
        return "other"

    def n_selected(self, max_per_label: int | None) -> int:
        if max_per_label is None:
            return self.n_clips
        return sum(min(n, max_per_label) for n in self.label_counts.values())

    def clips(self, max_per_label: int | None = None, seed: int = 0) -> Iterator[Clip]:
        """Every clip, label by label (sorted); with ``max_per_label`` a seeded
        random sample of that many per label. Only one folder's file names
        are held at a time."""
        for label in self.label_counts:
            names = _audio_names(self.root / label)
            if max_per_label is not None and len(names) > max_per_label:
                names = sorted(random.Random(f"{seed}/{label}").sample(names, max_per_label))
            for name in names:
                path = self.root / label / name
                word, speaker = word_and_speaker(label, path.stem)
                split = data.split_of(data.Clip(path, label, word, speaker), self.root,
                                      self.split_config, self.lists)
                yield Clip(path, label, word, speaker, split)


def scan(root: str | Path) -> Layout:
    """Find the label folders and lists of ``root``.

    Raises:
        BadInputError: ``root`` is missing, not a folder, or holds no audio
            in its label folders.
    """
    root = Path(root)
    if not root.exists():
        raise BadInputError(f"{root}: no such folder")
    if not root.is_dir():
        raise BadInputError(f"{root}: not a folder (expected <label>/<clip>.wav inside)")
    counts: dict[str, int] = {}
    background: list[Path] = []
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:  # was a PermissionError traceback
        from kwsapp.audio.files import folder_problem
        raise BadInputError(f"{root}: {folder_problem(exc)}") from None
    for sub in subs:
        try:
            names = _audio_names(sub)
        except OSError as exc:  # as an unreadable clip is: said, and left out
            from kwsapp.audio.files import folder_problem
            log.warning("skipped %s: %s", sub, folder_problem(exc))
            continue
        if sub.name == BACKGROUND_DIR:
            background = [sub / n for n in names]
        elif names:
            counts[sub.name] = len(names)
    if not counts:
        loose = _audio_names(root)
        hint = (f"; it has {len(loose)} audio files at the top level, but clips must sit in "
                f"one folder per label" if loose else "")
        raise BadInputError(f"{root}: no audio clips found in <label>/ folders "
                            f"({', '.join(AUDIO_SUFFIXES)}){hint}")
    return Layout(root, counts, background, data.official_lists(root))


def word_order(words: "list[str] | set[str]") -> list[str]:
    """Commands first (in the project's label order), then the other words
    alphabetically, then silence."""
    commands = [w for w in COMMAND_LABELS if w in words]
    rest = sorted(w for w in words if w not in COMMAND_LABELS and w != SILENCE_DIR)
    return commands + rest + ([SILENCE_DIR] if SILENCE_DIR in words else [])
