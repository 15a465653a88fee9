"""Chimeras: words no one said, cut from real people's recordings.

Held-out real words fire commands because the head has heard few real
other words (27), and synthetic voices do not sound like people
(docs/streaming.md). Chimeras give the ``unknown`` class new sound
sequences in real voices, rooms and microphones, cut and joined from the
training split's clips and the wake-word recordings:

- ``chimera/reversed``: a word's speech played backwards (not "on" nor
  "no": each is close to the other reversed);
- ``chimera/splice``: the start of one word run into the end of another
  (the same speaker's where there is one; at most one of the two a
  command, and at most 65 % of it);
- ``chimera/inside``: a whole command with part of another word run into
  it before or after, as a command inside a longer word ("stopping",
  "outgoing").

Joins are 10 ms cross-fades, the second part brought to the first's level.
Each clip's ``word`` names its donors ("bird (reversed)", "left + sheila"),
so a held-out word's chimeras are left out with it
(:func:`training.negatives.kept`). Windows are written once into the cache
(:func:`training.negatives.hard.cached_windows`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.audio.io import load_audio
from kwsapp.config import ms_to_samples
from kwsapp.errors import AudioFileError
from training.config import TrainConfig
from training.data import Clip
from training.negatives.hard import cached_windows, clip_speech
from training.negatives.real import WAKE_WORDS_DIR, audio_files, speech_runs

log = logging.getLogger(__name__)

#: Windows of each kind (drawn with replacement from the donors). Only
#: commands inside longer words: held out in turn, they were what cut the
#: held-out words' false activations; reversed words and splices added
#: little (docs/streaming.md "End of the word and chimeras").
COUNTS = {"reversed": 0, "splice": 0, "inside": 2400}
#: Share of a word's speech a splice keeps from it (uniform).
PART = (0.35, 0.65)
#: Speech kept around the speech run found by the VAD (soft onsets and tails).
PAD_MS = 30.0
#: How far a chimera's centre may sit from the window's (as the positives' shifts).
SHIFT_MS = 250.0
FADE_MS = 10.0
#: Reversed, these sound like another command.
NOT_REVERSED = ("on", "no")
_VERSION = 1


class _Word:
    """One donor recording: its audio, speech run, word and speaker."""

    def __init__(self, audio: np.ndarray, start: int, end: int, word: str, speaker: str | None):
        pad = ms_to_samples(PAD_MS)
        self.audio, self.word, self.speaker = audio, word, speaker
        self.start, self.end = max(0, start - pad), min(len(audio), end + pad)

    @property
    def command(self) -> bool:
        return self.word in COMMAND_LABELS

    def speech(self) -> np.ndarray:
        return self.audio[self.start:self.end]


def _donors(data_dir: Path, train: Sequence[Clip], cache: Path) -> list[_Word]:
    words = []
    for clip in train:
        if clip.frames or clip.source or clip.label not in (*COMMAND_LABELS, "unknown"):
            continue
        speech = clip_speech(clip)
        if speech is not None:
            words.append(_Word(*speech, clip.word, clip.speaker))
    root = Path(data_dir).parent / WAKE_WORDS_DIR
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else ():
        for f, (_, start, end) in speech_runs(audio_files(folder), cache).items():
            try:
                audio = load_audio(f)
            except AudioFileError as exc:
                log.warning("skipped %s", exc)
                continue
            words.append(_Word(audio, start, end, folder.name.replace("_", " "), None))
    return words


def _join(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first`` then ``second`` at ``first``'s level, a short cross-fade between."""
    level = np.sqrt(np.mean(first ** 2)) / max(np.sqrt(np.mean(second ** 2)), 1e-6)
    second = second * level
    fade = min(ms_to_samples(FADE_MS), len(first), len(second))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    middle = first[len(first) - fade:] * (1 - ramp) + second[:fade] * ramp
    return np.concatenate([first[:len(first) - fade], middle, second[fade:]])


def _head(w: _Word, share: float) -> np.ndarray:
    s = w.speech()
    return s[:max(1, int(len(s) * share))]


def _tail(w: _Word, share: float) -> np.ndarray:
    s = w.speech()
    return s[len(s) - max(1, int(len(s) * share)):]


def _place(chunk: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """``chunk`` in a ``window``-sample window, its centre up to
    :data:`SHIFT_MS` from the window's (the middle of a longer chunk)."""
    if len(chunk) >= window:
        lo = (len(chunk) - window) // 2
        return chunk[lo:lo + window].astype(np.float32)
    shift = ms_to_samples(SHIFT_MS)
    first = (window - len(chunk)) // 2 + int(rng.integers(-shift, shift + 1))
    first = int(np.clip(first, 0, window - len(chunk)))
    out = np.zeros(window, np.float32)
    out[first:first + len(chunk)] = chunk
    return out


def _pick(words: Sequence[_Word], rng: np.random.Generator, ok=lambda w: True) -> _Word:
    for _ in range(100):
        w = words[int(rng.integers(len(words)))]
        if ok(w):
            return w
    raise ValueError("no donor word fits")


def _partner(a: _Word, words: Sequence[_Word], by_speaker: dict[str | None, list[_Word]],
             rng: np.random.Generator, command_ok: bool) -> _Word:
    """Another word, the same speaker's if they said one that fits."""
    fits = [w for w in by_speaker.get(a.speaker, []) if a.speaker is not None
            and w.word != a.word and (command_ok or not w.command)]
    if fits:
        return fits[int(rng.integers(len(fits)))]
    return _pick(words, rng, lambda w: w.word != a.word and (command_ok or not w.command))


def _make(words: Sequence[_Word], window: int, seed: int) -> tuple[list[np.ndarray], list]:
    rng = np.random.default_rng([seed, 23])
    by_speaker: dict[str | None, list[_Word]] = {}
    for w in words:
        by_speaker.setdefault(w.speaker, []).append(w)
    windows, rows = [], []
    for _ in range(COUNTS["reversed"]):
        w = _pick(words, rng, lambda w: w.word not in NOT_REVERSED)
        windows.append(_place(w.speech()[::-1].copy(), window, rng))
        rows.append(("chimera/reversed", f"{w.word} (reversed)"))
    for _ in range(COUNTS["splice"]):
        a = _pick(words, rng)
        b = _partner(a, words, by_speaker, rng, command_ok=not a.command)
        windows.append(_place(_join(_head(a, rng.uniform(*PART)), _tail(b, rng.uniform(*PART))),
                              window, rng))
        rows.append(("chimera/splice", f"{a.word} + {b.word}"))
    for _ in range(COUNTS["inside"]):
        c = _pick(words, rng, lambda w: w.command)
        o = _partner(c, words, by_speaker, rng, command_ok=False)
        side = rng.integers(3)  # 0: other word before, 1: after, 2: both
        chunk = c.speech()
        if side in (0, 2):
            chunk = _join(_head(o, rng.uniform(*PART)), chunk)
        if side in (1, 2):
            chunk = _join(chunk, _tail(o, rng.uniform(*PART)))
        windows.append(_place(chunk, window, rng))
        rows.append(("chimera/inside", f"{o.word} + {c.word}"))
    return windows, rows


def chimeras(data_dir: Path, train: Sequence[Clip], config: TrainConfig, cache: Path,
             window: int) -> list[Clip]:
    """Reversed words, splices and commands inside longer words from the
    ``train`` clips and the wake-word recordings (cached)."""
    donors = [c for c in train
              if c.label in (*COMMAND_LABELS, "unknown") and not c.frames and not c.source]
    root = Path(data_dir).parent / WAKE_WORDS_DIR
    wake = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    return cached_windows(
        cache, "chimera", donors, (wake, _VERSION, COUNTS, PART, PAD_MS, SHIFT_MS, FADE_MS,
                                   NOT_REVERSED, window, config.seed),
        lambda: _make(_donors(data_dir, train, cache), window, config.seed), window)
