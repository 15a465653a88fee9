"""Real other speech: windows around the word in longer recordings.

``../shared/data/wake_words/<word>/*.flac`` holds one utterance per
recording (1.3-5.7 s, silence around it). The word is found as the
recording's speech run (webrtcvad + an energy floor, the stream maker's
:func:`kwsapp.streaming.synth.trim_to_speech`); the model's window is then
placed around it as a live engine sees it while the word passes: centred,
at a random offset with the whole word in view, and with only the start or
the end of the word at the window's edge.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from kwsapp.atomic import write_atomic
from kwsapp.audio.io import load_audio
from training.config import TrainConfig
from kwsapp.errors import AudioFileError
from kwsapp.speakers import stable_fraction
from kwsapp.streaming.synth import trim_to_speech
from training.data import Clip

log = logging.getLogger(__name__)

WAKE_WORDS_DIR = "wake_words"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_SPANS_VERSION = 1


def audio_files(folder: Path) -> list[Path]:
    """Audio files directly in ``folder`` (sorted)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def speech_runs(files: Sequence[Path], cache: Path) -> dict[Path, tuple[int, int, int]]:
    """``{file: (length, start, end)}`` in samples: each recording's speech
    run (files without speech or undecodable are left out, logged). Cached
    in ``cache/negatives/`` by the files' names, sizes and mtimes."""
    h = hashlib.sha1(f"spans-v{_SPANS_VERSION}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    path = cache / "negatives" / f"spans-{h.hexdigest()[:20]}.json"
    if path.is_file():
        rows = json.loads(path.read_text())
        return {Path(k): tuple(v) for k, v in rows.items()}
    out: dict[Path, tuple[int, int, int]] = {}
    for f in files:
        try:
            audio = load_audio(f)
        except AudioFileError as exc:
            log.warning("skipped %s", exc)
            continue
        span = trim_to_speech(audio)
        if span is None:
            log.info("%s: no speech found, skipped", f)
            continue
        out[f] = (len(audio), *span)
    write_atomic(path, json.dumps({str(k): v for k, v in out.items()}).encode(),
                 follow_symlinks=False)
    return out


def windows_around(length: int, start: int, end: int, window: int,
                   rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """``(tag, first sample, samples)`` of windows over a recording of
    ``length`` samples whose word is ``[start, end)``: ``centre``,
    ``offset`` (whole word in view, random place) and ``partial`` (only
    the start or only the end, 30-70 % of the word, at the window's edge).
    Windows are clipped to the recording (a shorter span is centred in the
    model's window when decoded)."""
    n = end - start
    slack = max(window - n, 0)
    places = [("centre", (start + end) // 2 - window // 2),
              ("offset", start - slack + int(rng.integers(0, slack + 1)))]
    cut = int(n * rng.uniform(0.3, 0.7))
    if rng.random() < 0.5:  # the word's start at the right edge
        places.append(("partial", start + cut - window))
    else:  # its end at the left edge
        places.append(("partial", end - cut))
    out = []
    for tag, first in places:
        lo, hi = max(0, first), min(length, first + window)
        if hi - lo > 0:
            out.append((tag, lo, hi - lo))
    return out


def recording_windows(folder: Path, word: str, source: str, cache: Path, window: int,
                      seed: int) -> list[Clip]:
    """Windows (:func:`windows_around`) of every recording in ``folder``,
    labelled ``unknown``, seeded by (``seed``, file name)."""
    clips = []
    for f, (length, start, end) in speech_runs(audio_files(folder), cache).items():
        rng = np.random.default_rng([seed, int(stable_fraction(f.name) * (1 << 48))])
        for tag, first, frames in windows_around(length, start, end, window, rng):
            clips.append(Clip(f, "unknown", word, None, first, source=f"{source}/{tag}",
                              frames=frames))
    return clips


def wake_word_windows(data_dir: Path, train: Sequence[Clip], config: TrainConfig,
                      cache: Path, window: int) -> list[Clip]:
    """Windows of ``wake_words/<word>/`` (a sibling of ``data_dir``); the
    word is the folder name with ``_`` as a space."""
    root = Path(data_dir).parent / WAKE_WORDS_DIR
    if not root.is_dir():
        log.warning("%s not found: no wake-word negatives", root)
        return []
    clips = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        clips += recording_windows(folder, folder.name.replace("_", " "),
                                   f"{WAKE_WORDS_DIR}/{folder.name}", cache, window,
                                   config.seed)
    return clips
