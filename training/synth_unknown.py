"""Synthetic ``unknown`` words from espeak-ng, added to the training split.

Streams showed that nearly all false activations come from a few unknown
words taken for commands (docs/streaming.md); the subset holds only ~185
unknown training clips. These extra negatives are non-command words (the
Speech Commands fillers and words that sound like the commands) said by
several espeak-ng voices at two speeds. They only ever *add* training
negatives: validation and test stay real speakers.

Generation is deterministic (fixed word, voice and speed lists; espeak-ng
output does not vary between runs) and cached under
``<cache>/espeak-unknown-v1/``; files already there are reused untouched,
so their mtimes (part of the clip hash) stay put and the embedding cache
keeps hitting.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from training.data import Clip

log = logging.getLogger(__name__)

#: Speech Commands filler words plus near-misses of the ten commands.
WORDS = (
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin",
    "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero",
    "backward", "forward", "follow", "learn", "visual",
    "yet", "yeah", "yep", "know", "now", "of", "stopping", "going", "write", "lift", "light",
    "down town", "cup", "app", "doubt", "rest", "gold", "snow", "bright", "often", "once",
    "yellow", "nope", "stock", "goal", "loft", "night", "top", "dove",
)
#: (voice, words per minute): male/female variants of several accents.
VOICES = (
    ("en-us", 150), ("en-us+f3", 130), ("en-gb", 170), ("en-gb-scotland+f2", 150),
    ("en-gb-x-rp+m3", 140), ("en-029+f4", 160),
)
FOLDER = "espeak-unknown-v1"


def synthetic_unknown(cache: Path) -> list[Clip]:
    """The synthetic ``unknown`` clips (generated once into ``cache``).

    Returns:
        Clips labelled ``unknown``, speaker ``espeak-<voice>``; empty (with
        a warning) when espeak-ng is not installed.
    """
    exe = shutil.which("espeak-ng")
    folder = cache / FOLDER
    clips = []
    for word in WORDS:
        for i, (voice, wpm) in enumerate(VOICES):
            path = folder / f"{word.replace(' ', '-')}_espeak{i}_nohash_0.wav"
            if not path.is_file():
                if exe is None:
                    log.warning("espeak-ng not installed: no synthetic unknown words")
                    return []
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.wav")
                subprocess.run([exe, "-v", voice, "-s", str(wpm), "-w", str(tmp), word],
                               check=True, capture_output=True)
                tmp.replace(path)
            clips.append(Clip(path, "unknown", word, f"espeak{i}"))
    return clips
