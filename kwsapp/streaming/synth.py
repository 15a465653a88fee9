"""Build a test stream: words of chosen speakers at random gaps over real
background noise, with the true place of every word.

The stream is what a user's microphone hears: command words, other (unknown)
words and pauses, over a noise bed cut from ``_background_noise_``. Each clip
is trimmed to its speech with webrtcvad so the truth rows say where the word
really is. Every word's speech is brought to the same level
(:data:`SPEECH_RMS`); the noise bed is scaled so that speech power over noise
power is ``snr_db``. Now and then a command is said twice, the second onset
:attr:`StreamSpec.repeat_gap_s` after the first. Everything random comes from
one seeded generator, so a seed gives the same bytes.

With :attr:`StreamSpec.negatives` the stream is *other speech* only, dense
like a conversation or a TV (word after word, 0.2-1.5 s apart): recordings of
any length and format from any folders. A recording up to
:data:`MAX_UTTERANCE_S` holds one utterance (its speech run, first to last
voiced frame); a longer one is cut into runs at pauses of :data:`RUN_GAP_MS`.
Each truth row names its source file and the word said (:func:`word_of`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.audio.io import audio_info, load_audio
from kwsapp.audio.vad import speech_flags
from kwsapp.config import SAMPLE_RATE_HZ, ms_to_samples
from kwsapp.errors import AudioFileError, BadInputError
from kwsapp.streaming.scoring import TruthWord, word_of
from kwsapp.speakers import BACKGROUND_DIR as NOISE_DIR, SILENCE_DIR, UNKNOWN_DIR, speaker_of, \
    which_set

log = logging.getLogger(__name__)

#: RMS of every word's speech part (-26 dBFS): leaves headroom for noise.
SPEECH_RMS = 0.05
#: Audio kept around the speech part of a clip, faded, so words are not cut.
PAD_MS = 60.0
VAD_FRAME_MS = 10
#: Frames this far below the clip's loudest frame are not speech even if the
#: VAD says so (the VAD alone takes clip-edge clicks and hum for speech).
ENERGY_FLOOR_DB = 35.0
#: Other-speech recordings up to this long hold one utterance (the wake-word
#: recordings run 1.3-5.7 s); longer ones are cut into speech runs.
MAX_UTTERANCE_S = 6.0
#: In a long recording, pauses this long end a run (a word or a phrase) ...
RUN_GAP_MS = 300.0
#: ... and runs shorter than this are clicks, not words.
MIN_RUN_MS = 150.0
#: Files read as other speech (what soundfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class StreamSpec:
    """What :func:`make_stream` builds."""

    minutes: float = 5.0
    snr_db: float | None = 10.0  # None: no noise bed
    seed: int = 0
    speakers: tuple[str, ...] = ("validation",)  # sets of the speaker split
    commands: bool = True  # False: noise, pauses and unknown words only
    gap_s: tuple[float, float] = (1.0, 3.0)  # pause between words, uniform
    unknown_share: float = 0.25  # of words, unknown ones
    repeat_share: float = 0.1  # of command words, said twice
    repeat_gap_s: float = 1.5  # onset to onset
    noise_segment_s: tuple[float, float] = (10.0, 30.0)  # one noise recording this long
    # Folders of other speech: when set, the stream holds only their words
    # (no commands), with `gap_s` pauses (NEGATIVE_GAP_S suits them).
    negatives: tuple[str, ...] = ()
    # Only these words of `negatives` (empty: all): a model's held-out words.
    words: tuple[str, ...] = ()


#: Pauses between other-speech words: a conversation or a TV.
NEGATIVE_GAP_S = (0.2, 1.5)


@dataclass(frozen=True)
class Clip:
    """A clip trimmed to its speech (plus :data:`PAD_MS` each side)."""

    label: str
    file: str  # relative to the data folder
    audio: np.ndarray  # float32 16 kHz, speech RMS = SPEECH_RMS
    speech_start: int  # samples into ``audio``
    speech_end: int
    word: str = ""  # the word said


def trim_to_speech(audio: np.ndarray) -> tuple[int, int] | None:
    """``(start, end)`` samples of the speech in a clip, or None if none found.

    Speech = webrtcvad (aggressiveness 3, 10 ms frames) voiced frames within
    :data:`ENERGY_FLOOR_DB` of the loudest frame; the span runs from the first
    to the last of them.
    """
    idx = np.flatnonzero(_voiced_frames(audio))
    if idx.size == 0:
        return None
    n = ms_to_samples(VAD_FRAME_MS)
    return int(idx[0] * n), int((idx[-1] + 1) * n)


def _voiced_frames(audio: np.ndarray) -> np.ndarray:
    """Per :data:`VAD_FRAME_MS` frame: webrtcvad (aggressiveness 3) says
    speech and the frame is within :data:`ENERGY_FLOOR_DB` of the loudest."""
    n = ms_to_samples(VAD_FRAME_MS)
    frames = len(audio) // n
    if frames == 0:
        return np.zeros(0, bool)
    voiced = speech_flags(audio, aggressiveness=3, frame_ms=VAD_FRAME_MS)[:frames]
    energy_db = 10 * np.log10(np.mean(audio[:frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    return voiced & (energy_db > energy_db.max() - ENERGY_FLOOR_DB)


def speech_runs(audio: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` samples of the speech runs of a long recording: the
    voiced frames of :func:`trim_to_speech`, joined across pauses shorter
    than :data:`RUN_GAP_MS`, runs shorter than :data:`MIN_RUN_MS` dropped."""
    n = ms_to_samples(VAD_FRAME_MS)
    idx = np.flatnonzero(_voiced_frames(audio))
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) * VAD_FRAME_MS >= RUN_GAP_MS)
    firsts = np.concatenate([idx[:1], idx[breaks + 1]])
    lasts = np.concatenate([idx[breaks], idx[-1:]])
    return [(int(a * n), int((b + 1) * n)) for a, b in zip(firsts, lasts)
            if (b + 1 - a) * VAD_FRAME_MS >= MIN_RUN_MS]


def level_clip(audio: np.ndarray, span: tuple[int, int], label: str, file: str,
               word: str = "") -> Clip:
    """The speech ``span`` of ``audio`` with :data:`PAD_MS` around it, faded
    at the edges, its speech part brought to :data:`SPEECH_RMS`."""
    pad = ms_to_samples(PAD_MS)
    lo, hi = max(0, span[0] - pad), min(len(audio), span[1] + pad)
    cut = audio[lo:hi].astype(np.float32)
    speech = audio[span[0]:span[1]]
    cut *= SPEECH_RMS / max(float(np.sqrt(np.mean(speech ** 2))), 1e-6)
    fade = min(pad, len(cut) // 4)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        cut[:fade] *= ramp
        cut[-fade:] *= ramp[::-1]
    return Clip(label, file, np.clip(cut, -1.0, 1.0), span[0] - lo, span[1] - lo, word)


def load_clip(data_dir: Path, rel: str, label: str) -> Clip | None:
    """Load, trim and level one clip (None when it holds no speech)."""
    audio = load_audio(data_dir / rel)
    span = trim_to_speech(audio)
    if span is None:
        log.info("%s: no speech found, skipped", rel)
        return None
    return level_clip(audio, span, label, rel, label if label != "unknown" else word_of(rel))


def list_negatives(dirs: tuple[str, ...], speakers: tuple[str, ...],
                   words: tuple[str, ...] = ()) -> list[tuple[Path, str]]:
    """``(path, name)`` of the other-speech recordings under ``dirs`` (any
    depth, sorted), ``name`` relative to the folder's parent
    (``wake_words/alexa/0.flac``); only those of ``words`` when given
    (:func:`~kwsapp.streaming.scoring.word_of`: "bed", "smart mirror").

    Left out: background noise and silence folders, words that are commands
    (a folder of "yes" is no other speech), and Speech Commands clips whose
    speaker (``<id>_nohash_``) is not in ``speakers`` (training speakers
    never go in a test stream); recordings without a speaker id are kept.
    """
    from kwsapp.audio.files import scan_audio

    out, commands, found = [], 0, set()
    for d in map(Path, dirs):
        if not d.is_dir():
            raise BadInputError(f"{d}: no such folder (--negatives)")
        refused = scan_audio(d, recursive=True)[1]
        if refused:  # its recordings would be left out without a word
            raise BadInputError(f"{refused[0][0]}: {refused[0][1]} (--negatives)")
        for p in sorted(d.rglob("*")):
            if not p.is_file() or p.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            if {NOISE_DIR, SILENCE_DIR} & set(p.relative_to(d).parts):
                continue
            word = word_of(p)
            if word in COMMAND_LABELS:
                commands += 1
                continue
            if words and word not in words:
                continue
            if speaker_of(p) is not None and which_set(p.name) not in speakers:
                continue
            out.append((p, p.relative_to(d.parent).as_posix()))
            found.add(word)
    if commands:
        log.info("--negatives: %d recordings of command words left out", commands)
    missing = sorted(set(words) - found)
    if out and missing:  # a typo must not quietly measure fewer words
        raise BadInputError(f"{', '.join(dirs)}: no recording of {', '.join(missing)} by "
                            f"{'/'.join(speakers)} speakers (--words)")
    if not out:
        raise BadInputError(f"{', '.join(dirs)}: no other-speech recordings "
                            f"({'/'.join(AUDIO_SUFFIXES)}) of {'/'.join(speakers)} speakers"
                            + (f" saying {', '.join(words)}" if words else ""))
    return out


def load_negative(path: Path, name: str) -> list[Clip]:
    """The utterances of one other-speech recording, levelled (``[]``: no
    speech). Raises :class:`AudioFileError` for a file that does not decode."""
    audio = load_audio(path)
    if len(audio) <= MAX_UTTERANCE_S * SAMPLE_RATE_HZ:
        span = trim_to_speech(audio)
        spans = [] if span is None else [span]
    else:
        spans = speech_runs(audio)
    word = word_of(path)
    return [level_clip(audio, sp, "unknown", name, word) for sp in spans]


def list_clips(data_dir: Path, speakers: tuple[str, ...]) -> tuple[list[tuple[str, str]],
                                                                     list[tuple[str, str]]]:
    """``(commands, unknowns)``: sorted ``(label, relative path)`` of the clips
    whose speaker is in the sets ``speakers``."""
    commands, unknowns = [], []
    for label in COMMAND_LABELS:
        for p in _wavs(data_dir / label):
            if which_set(p.name) in speakers:
                commands.append((label, f"{label}/{p.name}"))
    for p in _wavs(data_dir / UNKNOWN_DIR):
        if which_set(p.name) in speakers:
            unknowns.append(("unknown", f"{UNKNOWN_DIR}/{p.name}"))
    return commands, unknowns


def _wavs(folder: Path) -> list[Path]:
    """The ``*.wav`` of ``folder``, sorted (none when it does not exist).

    Raises:
        BadInputError: it cannot be read (a word left out of the stream
            without a word, or a PermissionError traceback).
    """
    import os

    from kwsapp.audio.files import folder_problem

    try:
        with os.scandir(folder) as entries:
            return sorted(folder / e.name for e in entries if e.name.endswith(".wav"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        # The data folder itself unreadable is said by make-stream first.
        raise BadInputError(f"{folder}: {folder_problem(exc)}") from None


class _Deck:
    """Draw items without replacement, reshuffling when all were drawn."""

    def __init__(self, items: list[tuple[Any, str]], rng: np.random.Generator) -> None:
        self.items, self.rng, self.order = items, rng, []

    def draw(self) -> tuple[Any, str]:
        if not self.order:
            self.order = list(self.rng.permutation(len(self.items)))
        return self.items[self.order.pop()]


def noise_bed(data_dir: Path, n: int, spec: StreamSpec, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of unit-RMS background noise: random stretches of the
    recordings in ``_background_noise_``, one after another, cross-faded."""
    files = _wavs(data_dir / NOISE_DIR)
    if not files:
        raise BadInputError(f"{data_dir / NOISE_DIR}: no background noise recordings")
    recs = []
    for f in files:
        x = load_audio(f)
        recs.append(x / max(float(np.sqrt(np.mean(x ** 2))), 1e-6))
    out = np.zeros(n, np.float32)
    fade = ms_to_samples(200)
    pos = 0
    while pos < n:
        rec = recs[int(rng.integers(len(recs)))]
        seg = min(len(rec), ms_to_samples(1000 * rng.uniform(*spec.noise_segment_s)), n - pos + fade)
        start = int(rng.integers(0, len(rec) - seg + 1))
        piece = rec[start:start + seg].copy()
        f = min(fade, seg // 2)
        ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
        if pos > 0:
            piece[:f] *= ramp
            out[pos:pos + f] *= ramp[::-1]
        end = min(n, pos + seg)
        out[pos:end] += piece[:end - pos]
        pos = end - f if end < n else n
    return out


def make_stream(data_dir: str | Path, spec: StreamSpec,
                on_skipped: Callable[[AudioFileError], None] | None = None
                ) -> tuple[np.ndarray, list[TruthWord]]:
    """Build the stream ``spec`` describes from the clips under ``data_dir``
    (or, with ``spec.negatives``, from those folders; ``data_dir`` then
    gives the background noise only). ``on_skipped`` hears of each
    other-speech recording that does not decode (left out of the stream).

    Returns:
        ``(audio, truth)``: float32 16 kHz mono, and one row per word (command
        labels, or ``unknown``), times in seconds, in order.
    Raises:
        BadInputError: the folder lacks the clips or noise the stream needs.
    """
    data_dir = Path(data_dir)
    if spec.negatives:
        return _negative_stream(data_dir, spec, on_skipped)
    rng = np.random.default_rng(spec.seed)
    commands, unknowns = list_clips(data_dir, spec.speakers)
    if spec.commands and not commands:
        raise BadInputError(f"{data_dir}: no command clips of {'/'.join(spec.speakers)} speakers")
    if not spec.commands and not unknowns and spec.unknown_share > 0:
        raise BadInputError(f"{data_dir}: no unknown-word clips of "
                            f"{'/'.join(spec.speakers)} speakers")
    cmd_deck, unk_deck = _Deck(commands, rng), _Deck(unknowns, rng)
    total = ms_to_samples(spec.minutes * 60_000)
    cache: dict[str, Clip | None] = {}

    def clip(item: tuple[str, str]) -> Clip | None:
        if item[1] not in cache:
            cache[item[1]] = load_clip(data_dir, item[1], item[0])
        return cache[item[1]]

    speech = np.zeros(total, np.float32)
    truth: list[TruthWord] = []
    t = ms_to_samples(1000 * rng.uniform(*spec.gap_s))
    while True:
        unknown = not spec.commands or (bool(unknowns) and rng.random() < spec.unknown_share)
        if not unknowns and unknown:  # --no-commands with no unknown clips: noise only
            break
        c = clip(unk_deck.draw() if unknown else cmd_deck.draw())
        if c is None:
            continue
        placed = [c]
        if not unknown and rng.random() < spec.repeat_share:
            placed.append(c)
        # A first pause shorter than the clip's lead-in (up to PAD_MS) would
        # start the clip before the stream does.
        onset = max(t, c.speech_start)
        ok = True
        for k, cl in enumerate(placed):
            start = onset + k * ms_to_samples(1000 * spec.repeat_gap_s) - cl.speech_start
            end = _place(speech, truth, cl, start)
            if end is None:
                ok = False
                break
            t = end
        if not ok:
            break
        t += ms_to_samples(1000 * rng.uniform(*spec.gap_s))
    return _mix(speech, data_dir, spec, rng), truth


def _place(speech: np.ndarray, truth: list[TruthWord], clip: Clip, start: int) -> int | None:
    """Add ``clip`` to ``speech`` at sample ``start`` and its truth row;
    returns the sample after it, or None (nothing added) past the end."""
    end = start + len(clip.audio)
    if end > len(speech):
        return None
    speech[start:end] += clip.audio
    truth.append(TruthWord(clip.label, (start + clip.speech_start) / SAMPLE_RATE_HZ,
                           (start + clip.speech_end) / SAMPLE_RATE_HZ, clip.file, clip.word))
    return end


def _mix(speech: np.ndarray, data_dir: Path, spec: StreamSpec,
         rng: np.random.Generator) -> np.ndarray:
    """The words over the noise bed at ``spec.snr_db``, scaled (never
    clipped) to peak at most 0.99."""
    audio = speech
    if spec.snr_db is not None:
        audio = speech + noise_bed(data_dir, len(speech), spec, rng) * (
            SPEECH_RMS / 10 ** (spec.snr_db / 20.0))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:  # keep the mix's SNR; scale the whole stream, never clip
        audio = audio * (0.99 / peak)
    return audio.astype(np.float32)


def _negative_stream(data_dir: Path, spec: StreamSpec,
                     on_skipped: Callable[[AudioFileError], None] | None
                     ) -> tuple[np.ndarray, list[TruthWord]]:
    """Other speech only: recordings drawn without replacement from
    ``spec.negatives``, each one's utterances in order, ``spec.gap_s`` apart.
    Files that do not decode are skipped (logged once each, ``on_skipped``),
    those never drawn included (their headers are read)."""
    rng = np.random.default_rng(spec.seed)
    files = list_negatives(spec.negatives, spec.speakers, spec.words)
    deck = _Deck(files, rng)
    total = ms_to_samples(spec.minutes * 60_000)
    cache: dict[Path, list[Clip]] = {}
    speech = np.zeros(total, np.float32)
    truth: list[TruthWord] = []
    unreadable: list[AudioFileError] = []

    def skip(exc: AudioFileError) -> None:
        log.warning("skipped %s", exc)
        unreadable.append(exc)
        if on_skipped is not None:
            on_skipped(exc)

    t = ms_to_samples(1000 * rng.uniform(*spec.gap_s))
    while t < total:
        path, name = deck.draw()
        if path not in cache:
            try:
                cache[path] = load_negative(path, name)
            except AudioFileError as exc:
                skip(exc)
                cache[path] = []
            if not cache[path] and all(f in cache and not cache[f] for f, _ in files):
                raise _no_speech_error(spec.negatives, len(files), unreadable)
        for clip in cache[path]:
            end = _place(speech, truth, clip, t)
            if end is None:
                t = total
                break
            t = end + ms_to_samples(1000 * rng.uniform(*spec.gap_s))
    # A short stream draws a few of many files: the others' headers are read
    # too, so that a broken file is named whichever the seed drew.
    for path, _ in files:
        if path not in cache:
            try:
                audio_info(path)
            except AudioFileError as exc:
                skip(exc)
    return _mix(speech, data_dir, spec, rng), truth


def _no_speech_error(dirs: tuple[str, ...], n_files: int,
                     unreadable: list[AudioFileError]) -> BadInputError:
    """Why no other-speech recording gave a word: none decoded (named), or
    none holds speech."""
    where = ", ".join(dirs)
    if len(unreadable) == n_files:
        names = ", ".join(e.path for e in unreadable[:3]) + (", ..." if n_files > 3 else "")
        return BadInputError(f"{where}: none of the {n_files} recording(s) could be read "
                             f"({names})")
    also = f" ({len(unreadable)} of {n_files} could not be read)" if unreadable else ""
    return BadInputError(f"{where}: no recording holds speech{also}")


def stream_paths(out: str | Path) -> tuple[Path, Path]:
    """Where :func:`write_stream` puts ``out``'s WAV and truth CSV:
    ``out.wav`` and ``out.csv`` (``out`` ending in .wav or .csv: that name
    and its twin)."""
    out = Path(out)
    if out.suffix in (".wav", ".csv"):
        return out.with_suffix(".wav"), out.with_suffix(".csv")
    return out.with_name(out.name + ".wav"), out.with_name(out.name + ".csv")


def write_stream(out: str | Path, audio: np.ndarray, truth: list[TruthWord]) -> tuple[Path, Path]:
    """Write ``out.wav`` (16-bit PCM, 16 kHz) and ``out.csv``; returns both
    paths. Each is written whole or not at all (a temporary file, then a
    rename): a full disk or Ctrl-C left half a WAV.

    Raises:
        DiskFullError: no space left (the previous files, if any, are kept).
    """
    import soundfile as sf

    from kwsapp.atomic import write_atomic
    from kwsapp.streaming.scoring import write_truth

    wav, csv = stream_paths(out)
    wav.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(wav, lambda tmp: sf.write(str(tmp), audio, SAMPLE_RATE_HZ, format="WAV",
                                           subtype="PCM_16"))
    write_atomic(csv, lambda tmp: write_truth(tmp, truth))
    return wav, csv
