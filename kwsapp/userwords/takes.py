"""Check recordings offered as takes of a word and find the word in each.

A take is one recording of the word alone, silence around it allowed. The
word is located by its speech run (webrtcvad plus an energy floor, as the
test streams trim their clips). Every problem is a :class:`BadTakeError`
whose message names the take and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kwsapp.config import SAMPLE_RATE_HZ, UserWordsConfig
from kwsapp.errors import BadInputError


class BadTakeError(BadInputError):
    """A take (or a set of takes) cannot be used to teach a word."""


@dataclass(frozen=True)
class Take:
    """One usable recording: 16 kHz float32 audio and where the word is."""

    audio: np.ndarray
    speech_start: int  # samples
    speech_end: int
    name: str = ""  # file name or "take N", for messages and the card

    @property
    def speech_s(self) -> float:
        return (self.speech_end - self.speech_start) / SAMPLE_RATE_HZ

    def word(self) -> np.ndarray:
        """The speech part alone."""
        return self.audio[self.speech_start:self.speech_end]


def level_dbfs(audio: np.ndarray) -> float:
    """RMS level in dB re full scale (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def word_span(audio: np.ndarray, gap_ms: float = 300.0) -> tuple[int, int] | None:
    """``(start, end)`` samples of the word in a take, or None.

    Voiced 10 ms frames (webrtcvad at its strictest, within 35 dB of the
    loudest frame, as the test streams trim clips) closer than ``gap_ms``
    form runs; the word is the run with the most energy, so a click or a
    breath away from it is not taken for part of it.
    """
    from kwsapp.audio.vad import speech_flags
    from kwsapp.streaming.synth import ENERGY_FLOOR_DB, VAD_FRAME_MS

    n = SAMPLE_RATE_HZ * VAD_FRAME_MS // 1000
    frames = audio.size // n
    if frames == 0:
        return None
    power = np.mean(audio[:frames * n].reshape(frames, n).astype(np.float64) ** 2, axis=1)
    energy_db = 10 * np.log10(power + 1e-12)
    voiced = speech_flags(audio, aggressiveness=3, frame_ms=VAD_FRAME_MS)
    voiced &= energy_db > energy_db.max() - ENERGY_FLOOR_DB
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return None
    breaks = np.flatnonzero(np.diff(idx) > gap_ms / VAD_FRAME_MS)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    best = int(np.argmax([power[a:b].sum() for a, b in zip(starts, ends)]))
    return int(starts[best] * n), int(ends[best] * n)


def check_take(audio: np.ndarray, name: str,
               config: UserWordsConfig = UserWordsConfig()) -> Take:
    """Check one recording (16 kHz float32) and locate its word.

    Raises:
        BadTakeError: empty, silent, clipped, too long, or no word found.
    """
    audio = np.asarray(audio, np.float32)
    seconds = audio.size / SAMPLE_RATE_HZ
    if audio.size == 0:
        raise BadTakeError(f"{name}: the take is empty (no audio); record it again")
    if seconds > config.max_recording_s:
        raise _too_long(name, seconds, config)
    peak = float(np.max(np.abs(audio)))
    if peak < 10 ** (config.silent_peak_dbfs / 20.0):
        raise BadTakeError(f"{name}: the take is silent (peak {20 * np.log10(max(peak, 1e-6)):.0f}"
                           " dBFS); check the microphone and say the word closer to it")
    clipped = float(np.mean(np.abs(audio) >= config.clip_level))
    if clipped > config.max_clipped_share:
        raise BadTakeError(f"{name}: the take is clipped ({clipped:.1%} of samples at full "
                           "scale); say the word further from the microphone or turn the "
                           "input level down")
    span = word_span(audio)
    if span is None:
        raise BadTakeError(f"{name}: no speech found in the take; say the word clearly")
    start, end = span
    speech_s = (end - start) / SAMPLE_RATE_HZ
    if speech_s < config.min_word_s:
        raise BadTakeError(f"{name}: the speech is only {speech_s * 1000:.0f} ms, shorter "
                           f"than a word (at least {config.min_word_s * 1000:.0f} ms); "
                           "say the whole word")
    if speech_s > config.max_word_s:
        raise BadTakeError(f"{name}: the speech lasts {speech_s:.1f} s, longer than "
                           f"{config.max_word_s:g} s; say the word alone, once")
    return Take(audio, start, end, name)


def min_takes(config: UserWordsConfig, ignore: bool = False) -> int:
    """Takes a word needs (a word to ignore: fewer)."""
    return config.min_ignore_takes if ignore else config.min_takes


def check_takes(takes: Sequence[Take], config: UserWordsConfig = UserWordsConfig(),
                ignore: bool = False) -> None:
    """Checks across the takes: enough of them (:func:`min_takes`), and none
    much shorter or longer than the others (a cut-off word, or extra words).

    Raises:
        BadTakeError: naming the odd take.
    """
    if len(takes) < min_takes(config, ignore):
        raise BadTakeError(f"{len(takes)} take(s) given: at least {min_takes(config, ignore)} are "
                           f"needed ({config.default_takes} recommended)")
    lengths = np.array([t.speech_s for t in takes])
    median = float(np.median(lengths))
    for t, s in zip(takes, lengths):
        if s < config.short_ratio * median:
            raise BadTakeError(f"{t.name}: the speech is {s:.2f} s, shorter than the word "
                               f"in the other takes ({median:.2f} s); was it cut off?")
        if s > config.long_ratio * median:
            raise BadTakeError(f"{t.name}: the speech is {s:.2f} s, much longer than the "
                               f"word in the other takes ({median:.2f} s); say the word alone")


def distinct_files(paths: Sequence[str | Path], config: UserWordsConfig = UserWordsConfig(),
                   ignore: bool = False) -> list[str | Path]:
    """``paths`` with each file once (in order): one recording given twice
    is one take, not two.

    Raises:
        BadTakeError: fewer distinct files than :func:`min_takes`, naming
            the repeated ones.
    """
    import logging

    groups: dict[Path, list[str | Path]] = {}
    for path in paths:  # resolved: "./a.wav", "a.wav" and a link to it are one file
        groups.setdefault(Path(path).resolve(), []).append(path)
    repeated = ", ".join(str(g[0]) for g in groups.values() if len(g) > 1)
    if not repeated:
        return list(paths)
    need = min_takes(config, ignore)
    if len(groups) < need:
        raise BadTakeError(f"{repeated} given more than once: one file is one take, so "
                           f"{len(groups)} take(s) given; at least {need} are needed "
                           f"({config.default_takes} recommended)")
    logging.getLogger(__name__).warning("%s given more than once: counted once", repeated)
    return [g[0] for g in groups.values()]


def read_take(path: str | Path, config: UserWordsConfig = UserWordsConfig(),
              name: str | None = None) -> np.ndarray:
    """A take file's audio (16 kHz mono float32); one longer than a take may
    be is refused from its header, before it is decoded (an hour's
    recording dropped by mistake would hold the window for seconds).
    ``name`` is what messages call it (default: ``path``).

    Raises:
        BadTakeError: too long for a take.
        AudioFileError: the file does not decode.
    """
    from kwsapp.audio.io import audio_info, load_audio

    seconds = audio_info(path)[2]
    if seconds > config.max_recording_s:
        raise _too_long(name or str(path), seconds, config)
    return load_audio(path)


def _too_long(name: str, seconds: float, config: UserWordsConfig) -> BadTakeError:
    return BadTakeError(f"{name}: {seconds:.1f} s is too long for one take (at most "
                        f"{config.max_recording_s:g} s: the word alone, with a little "
                        "silence around it)")


def load_takes(paths: Sequence[str | Path],
               config: UserWordsConfig = UserWordsConfig(), ignore: bool = False) -> list[Take]:
    """Decode and check take files; every bad file is reported at once.

    Raises:
        BadTakeError: one line per bad file (and the set-wide checks).
    """
    from kwsapp.errors import AudioFileError

    paths = distinct_files(paths, config, ignore)
    takes, problems = [], []
    for path in paths:
        try:
            takes.append(check_take(read_take(path, config), str(path), config))
        except (BadTakeError, AudioFileError) as exc:
            problems.append(str(exc))
    if problems:
        raise BadTakeError("\n".join(problems))
    check_takes(takes, config, ignore)
    return takes
