"""Hard negatives cut from the training speakers' own audio.

A live engine slides its window over every word, so it also sees views no
clip shows: a command only begun or only ending at the window's edge, two
other words run together. Those windows are ``unknown``:

- ``hard/start-of-<command>``: the first :data:`PART` of a command's speech
  (with what came before it), the rest of the window silent;
- ``hard/end-of-<command>``: the last :data:`PART` of it;
- ``hard/pair``: two other words back to back (0-120 ms apart), the window
  centred on the junction.

Only training-split clips are used. The windows are written once, one after
another, into a 16 kHz WAV in the cache (``cache/negatives/hard-<key>.wav``,
key = the clips and settings) and returned as clips of that file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.atomic import write_atomic
from kwsapp.audio.io import load_audio
from kwsapp.config import SAMPLE_RATE_HZ, ms_to_samples
from training.config import TrainConfig
from kwsapp.errors import AudioFileError
from kwsapp.streaming.synth import trim_to_speech
from training.data import Clip, clips_hash

log = logging.getLogger(__name__)

#: Share of a command's speech a partial window keeps (uniform).
PART = (0.25, 0.45)
#: Share of training command clips that give a partial window.
PARTIAL_SHARE = 0.5
#: Word pairs, as a share of the training clips of other words.
PAIRS_PER_UNKNOWN = 1.5
PAIR_GAP_MS = (0.0, 120.0)
_VERSION = 1


def clip_speech(clip: Clip) -> tuple[np.ndarray, int, int] | None:
    """A clip's audio and its speech run ``(audio, start, end)`` (None: no
    speech, or undecodable: logged)."""
    try:
        audio = load_audio(clip.path)
    except AudioFileError as exc:
        log.warning("skipped %s", exc)
        return None
    span = trim_to_speech(audio)
    return None if span is None else (audio, *span)


def _partial(audio: np.ndarray, start: int, end: int, window: int,
             rng: np.random.Generator, at_start: bool) -> np.ndarray:
    """The window holding only the start (or end) of the word."""
    cut = max(1, int((end - start) * rng.uniform(*PART)))
    out = np.zeros(window, np.float32)
    if at_start:  # what came before, then the word's first part; silence after
        piece = audio[:start + cut][-window:]
        pos = int(rng.integers(window // 4, window // 2 + 1))  # where the part ends
        piece = piece[-pos:]
        out[pos - len(piece):pos] = piece
    else:  # the word's last part and what followed; silence before
        piece = audio[end - cut:][:window]
        pos = int(rng.integers(window // 2, 3 * window // 4 + 1))  # where the part starts
        piece = piece[:window - pos]
        out[pos:pos + len(piece)] = piece
    return out


def _pair(a: tuple[np.ndarray, int, int], b: tuple[np.ndarray, int, int], window: int,
          rng: np.random.Generator) -> np.ndarray:
    """Word ``a`` then word ``b``, the window centred on the junction."""
    gap = np.zeros(ms_to_samples(rng.uniform(*PAIR_GAP_MS)), np.float32)
    first, second = a[0][a[1]:a[2]], b[0][b[1]:b[2]]
    # Bring both words to the same level, as two words of one conversation.
    second = second * (np.sqrt(np.mean(first ** 2)) / max(np.sqrt(np.mean(second ** 2)), 1e-6))
    joined = np.concatenate([first, gap, second])
    centre = len(first) + len(gap) // 2
    lo = centre - window // 2
    out = np.zeros(window, np.float32)
    src_lo, src_hi = max(0, lo), min(len(joined), lo + window)
    out[src_lo - lo:src_hi - lo] = joined[src_lo:src_hi]
    return np.clip(out, -1.0, 1.0)


def hard_negatives(data_dir: Path, train: Sequence[Clip], config: TrainConfig, cache: Path,
                   window: int) -> list[Clip]:
    """Partial commands and word pairs from the ``train`` clips (cached)."""
    commands = [c for c in train if c.label in COMMAND_LABELS and not c.frames and not c.source]
    others = [c for c in train if c.label == "unknown" and not c.frames and not c.source]
    return cached_windows(
        cache, "hard", commands + others,
        (_VERSION, PART, PARTIAL_SHARE, PAIRS_PER_UNKNOWN, PAIR_GAP_MS, window, config.seed),
        lambda: _make(commands, others, window, config.seed), window)


def cached_windows(cache: Path, name: str, clips: Sequence[Clip], settings: tuple,
                   make: Callable[[], tuple[list, list]], window: int) -> list[Clip]:
    """Generated ``unknown`` windows as clips of one cached 16 kHz WAV.

    The source ``clips`` and the generator's ``settings`` name the files
    (``cache/negatives/<name>-<hash>.wav`` and ``.json``); on a miss
    ``make()`` returns the windows (``window`` samples each) and their
    ``(source, word)`` rows, written atomically, the index last.
    """
    folder = cache / "negatives"
    digest = clips_hash(clips, *settings)
    wav, index = folder / f"{name}-{digest}.wav", folder / f"{name}-{digest}.json"
    if not (wav.is_file() and index.is_file()):
        windows, rows = make()
        audio = np.concatenate(windows) if windows else np.zeros(0, np.float32)
        write_audio_and_index(wav, audio, index, rows)
        log.info("%s negatives: %d windows written to %s", name, len(rows), wav)
    rows = json.loads(index.read_text())
    return [Clip(wav, "unknown", word, None, i * window, source=source, frames=window)
            for i, (source, word) in enumerate(rows)]


def write_audio_and_index(wav: Path, audio: np.ndarray, index: Path, rows: list) -> None:
    """A generated 16 kHz float WAV and its JSON index, each through a
    temporary file; the index last, so the pair is complete once it exists."""
    import soundfile as sf

    # Cache entries: a link of their name is replaced, not followed.
    write_atomic(wav, lambda tmp: sf.write(str(tmp), audio, SAMPLE_RATE_HZ, format="WAV",
                                           subtype="FLOAT"), follow_symlinks=False)
    write_atomic(index, json.dumps(rows).encode(), follow_symlinks=False)


def _make(commands: Sequence[Clip], others: Sequence[Clip], window: int,
          seed: int) -> tuple[list[np.ndarray], list[tuple[str, str]]]:
    rng = np.random.default_rng([seed, 11])
    windows, rows = [], []
    for clip in commands:
        if rng.random() >= PARTIAL_SHARE:
            continue
        speech = clip_speech(clip)
        if speech is None:
            continue
        at_start = bool(rng.random() < 0.5)
        windows.append(_partial(*speech, window, rng, at_start))
        side = "start" if at_start else "end"
        rows.append((f"hard/{side}-of-{clip.label}", f"{clip.label} ({side})"))
    words = [(c, s) for c in others if (s := clip_speech(c)) is not None]
    for _ in range(int(len(words) * PAIRS_PER_UNKNOWN) if len(words) > 1 else 0):
        i, j = rng.choice(len(words), 2, replace=False)
        windows.append(_pair(words[i][1], words[j][1], window, rng))
        rows.append(("hard/pair", f"{words[i][0].word} {words[j][0].word}"))
    return windows, rows
