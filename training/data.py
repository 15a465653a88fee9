"""Read the Speech Commands layout, split it by speaker, cache decoded audio.

Two layouts are read the same way:

- the 12-class layout (the shared subset): ``yes/ no/ ... go/``,
  ``_unknown_/<word>_<speaker>_nohash_<n>.wav``, ``_silence_/<n>.wav``;
- the full v0.02 layout: 35 word folders; words that are not commands become
  ``unknown`` (kept at ``TrainConfig.unknown_share`` of the set) and
  ``silence`` clips are cut from ``_background_noise_``
  (``TrainConfig.silence_share`` of the set).

``validation_list.txt``/``testing_list.txt`` decide the split when present;
otherwise a seeded hash of the speaker (the 8-hex-digit id before
``_nohash_``) does, so no speaker is in two splits. Clips without a speaker
(``_silence_``, cut background) are split by a hash of their name.
:func:`split_clips` and :func:`validation_speakers` are the functions other
tools reuse to know which speakers a model never heard.

Decoded audio is cached as ``.npy`` (memory-mapped) keyed by a hash of the
clip list, so a second run starts in seconds.
"""

from __future__ import annotations

import hashlib
import logging
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS, LABELS
from kwsapp.atomic import write_atomic
from kwsapp.audio.io import fit_length, load_audio
from kwsapp.cache import cache_dir
from kwsapp.config import SAMPLE_RATE_HZ
from training.config import TrainConfig
from kwsapp.errors import AudioFileError, BadInputError, DiskFullError
from kwsapp.speakers import (BACKGROUND_DIR, SILENCE_DIR, UNKNOWN_DIR, hash_split, speaker_of,
                             stable_fraction)

log = logging.getLogger(__name__)

CLIP_SAMPLES = SAMPLE_RATE_HZ  # every clip is (padded to) one second
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
SPLITS = ("train", "validation", "test")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Clip:
    """One labelled second of audio.

    ``start`` is the first sample in ``path`` (non-zero for silence cut
    from a background recording and for windows cut from longer
    recordings); ``frames`` is how many samples to read from there (0: the
    whole file); ``word`` is the raw word (``unknown`` clips keep theirs);
    ``speaker`` is None for silence; ``source`` names where a clip not
    from the data set came from (``tts/flite-kal/near``,
    ``wake_words/alexa``, ``hard/start-of-left``; docs/contracts.md
    section 3); empty for the data set.
    """

    path: Path
    label: str
    word: str
    speaker: str | None
    start: int = 0
    source: str = ""
    frames: int = 0

    def key(self, root: Path) -> str:
        """The clip's name relative to the data folder (as in the lists);
        a generated clip outside it (training/negatives/) keeps its
        folder and file name."""
        span = f"@{self.start}+{self.frames}" if self.frames else ""
        if not self.path.is_relative_to(root):
            return f"{self.path.parent.name}/{self.path.name}{span}"
        rel = self.path.relative_to(root).as_posix()
        return f"{rel}@{self.start}" if self.path.parent.name == BACKGROUND_DIR else rel + span


def _unreadable(path: Path, what: str, exc: OSError) -> BadInputError:
    """``path`` (a ``what``: "data folder", "split list" ...) cannot be read,
    as one line naming it and why: a bare PermissionError reached the user
    as ``kwsapp: PermissionError: <path>: Permission denied``."""
    return BadInputError(f"{path}: cannot read this {what} ({exc.strerror or exc}); make it "
                         "readable (e.g. chmod u+rX) and run again")


def _entries(folder: Path, what: str) -> list[Path]:
    """What ``folder`` holds, sorted.

    Raises:
        BadInputError: it cannot be listed (naming it and why).
    """
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise _unreadable(folder, what, exc) from None


def _mode(path: Path, folder: Path, what: str) -> int:
    """``path``'s file type and mode (0: gone, or a link to nothing, for
    which ``Path.is_file`` says False). A folder that lists its names but
    lets none be looked at (no x permission) made ``Path.is_file`` raise a
    bare PermissionError naming the first file, not the folder.

    Raises:
        BadInputError: ``folder`` (a ``what``), or the file a link in it
            leads to, cannot be looked at.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise _unreadable(folder, what, exc) from None
    if not stat.S_ISLNK(mode):
        return mode
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read where this link leads "
                            f"({exc.strerror or exc})") from None


def _wavs(folder: Path, what: str = "label folder") -> list[Path]:
    """The ``.wav`` files of ``folder`` (a ``what``), sorted.

    Raises:
        BadInputError: the folder cannot be read.
    """
    return [p for p in _entries(folder, what)
            if p.suffix.lower() == ".wav" and stat.S_ISREG(_mode(p, folder, what))]


def scan(data_dir: str | Path, config: TrainConfig = TrainConfig(),
         all_words: bool = False) -> list[Clip]:
    """Every clip of a Speech Commands folder, labelled with :data:`LABELS`.

    Args:
        all_words: keep every clip of the full layout's other words (an
            extra folder of ``TrainConfig.extra_data``), not a share of them,
            and cut no silence.

    Raises:
        BadInputError: the folder is missing, cannot be read (nor one of its
            class folders), or holds no class folder.
    """
    root = Path(data_dir)
    try:
        is_dir = stat.S_ISDIR(root.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        is_dir = False
    except OSError as exc:  # a folder above it that may not be looked into
        raise _unreadable(root, "data folder", exc) from None
    if not is_dir:
        raise BadInputError(f"{root}: no such data folder")
    known: list[Clip] = []
    others: list[Clip] = []
    silence: list[Clip] = []
    for folder in [p for p in _entries(root, "data folder")
                   if stat.S_ISDIR(_mode(p, root, "data folder"))]:
        name = folder.name
        if name == BACKGROUND_DIR or name.startswith("."):
            continue
        for path in _wavs(folder):
            if name == SILENCE_DIR:
                silence.append(Clip(path, "silence", "silence", None))
            elif name == UNKNOWN_DIR:
                word = path.stem.split("_")[0]
                known.append(Clip(path, "unknown", word, speaker_of(path)))
            elif name in COMMAND_LABELS:
                known.append(Clip(path, name, name, speaker_of(path)))
            else:  # full layout: another word of the 35
                others.append(Clip(path, "unknown", name, speaker_of(path)))
    if not known and not others:
        raise BadInputError(f"{root}: no Speech Commands class folders "
                            f"(expected e.g. {root / 'yes'})")
    n_commands = sum(c.label != "unknown" for c in known)
    rest = 1.0 - config.unknown_share - config.silence_share
    if all_words:
        return known + others + silence
    if others:
        # Keep a seeded, stable selection (by file name) so a clip's split
        # never depends on which others were kept.
        want = int(round(config.unknown_share / rest * n_commands))
        others.sort(key=lambda c: stable_fraction(f"{config.seed}/keep/{c.key(root)}"))
        known += others[:want]
    if not silence:
        want = int(round(config.silence_share / rest * n_commands))
        silence = _cut_silence(root, want, config.seed)
    return known + silence


def _cut_silence(root: Path, count: int, seed: int) -> list[Clip]:
    """``count`` one-second silence clips cut from ``_background_noise_``."""
    import soundfile as sf

    folder = root / BACKGROUND_DIR
    files = _wavs(folder, "background noise folder") if folder.is_dir() else []
    lengths = []
    for path in files:
        try:
            lengths.append(sf.info(str(path)).frames)
        except (RuntimeError, sf.LibsndfileError) as exc:
            log.warning("%s: skipped (%s)", path, exc)
            lengths.append(0)
    usable = [(p, n) for p, n in zip(files, lengths) if n >= CLIP_SAMPLES]
    if not usable or count <= 0:
        if count > 0:
            log.warning("%s: no background noise to cut silence from", root)
        return []
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        path, n = usable[i % len(usable)]
        out.append(Clip(path, "silence", "silence", None,
                        int(rng.integers(0, n - CLIP_SAMPLES + 1))))
    return out


def _read_list(path: Path) -> set[str]:
    """The clip names of a split list, one a line.

    Raises:
        BadInputError: it cannot be read, or is not text.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise _unreadable(path, "split list", exc) from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not a text file (a split list names one clip a line, "
                            "relative to the data folder: yes/<file>.wav)") from None
    return {line.strip() for line in text.splitlines() if line.strip()}


def split_of(clip: Clip, root: Path, config: TrainConfig = TrainConfig(),
             lists: dict[str, set[str]] | None = None) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for one clip.

    With the data set's lists (``lists`` maps split -> relative names) a
    listed clip goes where listed; any other speech clip is training. Without
    lists, and for silence always, a seeded hash of the speaker (or of the
    clip's name when it has none) decides.
    """
    if lists and clip.speaker is not None:
        rel = clip.path.relative_to(root).as_posix()
        for split in ("validation", "test"):
            if rel in lists.get(split, ()):
                return split
        return "train"
    return hash_split(clip.speaker if clip.speaker is not None else f"clip:{clip.key(root)}",
                      config)


def official_lists(data_dir: str | Path) -> dict[str, set[str]] | None:
    """The data set's validation/testing lists, or None when it has none."""
    root = Path(data_dir)
    val, test = root / VALIDATION_LIST, root / TESTING_LIST
    present = {p: stat.S_ISREG(_mode(p, root, "data folder")) for p in (val, test)}
    if not any(present.values()):
        return None
    return {"validation": _read_list(val) if present[val] else set(),
            "test": _read_list(test) if present[test] else set()}


def extra_folders(data_dir: str | Path, config: TrainConfig = TrainConfig()) -> list[Path]:
    """``config.extra_data`` resolved (relative names are siblings of
    ``data_dir``); folders that are absent are skipped with a warning."""
    out = []
    for name in config.extra_data:
        folder = Path(name) if Path(name).is_absolute() else Path(data_dir).parent / name
        if folder.is_dir():
            out.append(folder)
        else:
            log.warning("extra data %s not found: trained without it", folder)
    return out


def split_clips(data_dir: str | Path, config: TrainConfig = TrainConfig()
                ) -> dict[str, list[Clip]]:
    """The data set's clips by split (``train``, ``validation``, ``test``).

    Clips of the ``config.extra_data`` folders (every word: commands are
    more positives, other words ``unknown``) join the split of their
    speaker, by the same seeded hash, so a speaker in both folders stays on
    one side.

    Raises:
        BadInputError: the folder's lists name none of its word clips for
            validation (a missing or empty ``validation_list.txt``, or names
            not relative to the folder).
    """
    root = Path(data_dir)
    lists = official_lists(root)
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for clip in scan(root, config):
        out[split_of(clip, root, config, lists)].append(clip)
    if lists is not None and all(c.label == "silence" for c in out["validation"]):
        # Else the model is validated (its epoch chosen) on cut silence alone.
        raise BadInputError(f"{root / VALIDATION_LIST}: names none of the word clips of "
                            f"{root} (one name a line, relative to it: yes/<file>.wav)")
    for folder in extra_folders(root, config):
        for clip in scan(folder, config, all_words=True):
            if clip.speaker is not None:
                out[hash_split(clip.speaker, config)].append(clip)
    return out


def subsample(clips: list[Clip], limit: int | None, seed: int) -> list[Clip]:
    """At most ``limit`` of ``clips`` (None: all), a seeded pick kept in order
    (``TrainConfig.max_*_clips``)."""
    if limit is None or len(clips) <= limit:
        return clips
    order = np.random.default_rng(seed).permutation(len(clips))[:limit]
    return [clips[i] for i in sorted(order)]


def split_description(data_dir: str | Path, config: TrainConfig = TrainConfig()) -> str:
    """How :func:`split_clips` splits this folder, in one line (model cards)."""
    if official_lists(data_dir) is not None:
        return "the data set's validation_list.txt / testing_list.txt"
    return (f"speaker-disjoint by seeded hash (seed {config.seed}; validation "
            f"{config.validation_share:.0%}, test {config.test_share:.0%} of speakers; "
            f"training/data.py split_clips)")


def validation_speakers(data_dir: str | Path, config: TrainConfig = TrainConfig()) -> set[str]:
    """Speakers of the validation split: a model trained with ``config`` on
    ``data_dir`` never heard them."""
    return {c.speaker for c in split_clips(data_dir, config)["validation"] if c.speaker}


def label_indices(clips: Sequence[Clip], labels: Sequence[str] = LABELS) -> np.ndarray:
    """``[n]`` int32 class index of each clip in ``labels``."""
    index = {name: i for i, name in enumerate(labels)}
    return np.array([index[c.label] for c in clips], np.int32)


def summary(split: dict[str, list[Clip]]) -> dict[str, dict[str, int]]:
    """Clips and speakers per split (for logs and cards)."""
    return {name: {"clips": len(clips),
                   "speakers": len({c.speaker for c in clips if c.speaker}),
                   **dict(sorted(Counter(c.label for c in clips).items()))}
            for name, clips in split.items()}


def background_noise(data_dir: str | Path) -> list[np.ndarray]:
    """The ``_background_noise_`` recordings, float32 at 16 kHz (bad files
    are skipped with a warning)."""
    folder = Path(data_dir) / BACKGROUND_DIR
    out = []
    for path in _wavs(folder, "background noise folder") if folder.is_dir() else []:
        try:
            out.append(load_audio(path, SAMPLE_RATE_HZ))
        except AudioFileError as exc:
            log.warning("skipped background %s", exc)
    return out


def clips_hash(clips: Iterable[Clip], *extra: object) -> str:
    """A hash of the clip list (names, offsets, sizes, mtimes) and ``extra``."""
    h = hashlib.sha1(f"v{_CACHE_VERSION}".encode())
    for c in clips:
        st = c.path.stat()
        span = f"+{c.frames}" if c.frames else ""  # whole-file clips keep their old hash
        h.update(f"{c.path}|{c.start}{span}|{c.label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    for e in extra:
        h.update(repr(e).encode())
    return h.hexdigest()[:20]


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to the cache file ``path`` with
    :func:`kwsapp.atomic.write_atomic` (a killed run never leaves a
    half-written cache; a link of its name is replaced, not followed).

    Raises:
        DiskFullError: the disk is full.
    """
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # np.save adds ".npy" to a name lacking it, not to a file
            np.save(f, array)

    write_atomic(path, save, follow_symlinks=False)


def read_span(path: Path, start: int, frames: int) -> np.ndarray:
    """``frames`` samples of a 16 kHz file (WAV, FLAC, any format soundfile
    reads) from sample ``start``, mono float32; fewer where the file ends.

    Raises:
        AudioFileError: unreadable, or not at 16 kHz.
    """
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), start=start, frames=frames, dtype="float32",
                              always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFileError(path, f"cannot be decoded ({exc})") from None
    if rate != SAMPLE_RATE_HZ:
        raise AudioFileError(path, f"at {rate} Hz; a span is read at {SAMPLE_RATE_HZ} only")
    if audio.shape[0] == 0:
        raise AudioFileError(path, f"no audio at sample {start}")
    return audio.mean(axis=1)


def _decode(clip: Clip, n_samples: int) -> np.ndarray:
    if clip.frames:
        audio = read_span(clip.path, clip.start, clip.frames)
    elif clip.path.parent.name == BACKGROUND_DIR:
        audio = read_span(clip.path, clip.start, CLIP_SAMPLES)
    else:
        audio = load_audio(clip.path, SAMPLE_RATE_HZ)
    # Short clips are zero-padded around the centre, as the runtime does.
    return fit_length(audio, n_samples)


def load_clips(clips: Sequence[Clip], n_samples: int = CLIP_SAMPLES,
               cache: Path | None = None) -> tuple[np.ndarray, list[Clip]]:
    """Decode clips to ``[n, n_samples]`` float32 (16 kHz), cached on disk.

    A file that cannot be decoded is logged and left out; the clips kept are
    returned beside the audio.

    Args:
        clips: what to decode.
        n_samples: length of each row (clips are centre-cropped/padded).
        cache: cache folder (default :func:`cache_dir`); the file is named by
            :func:`clips_hash`, and read memory-mapped when present.

    Returns:
        ``(audio, kept)``: ``audio`` ``[len(kept), n_samples]`` float32
        (memory-mapped when read from the cache), ``kept`` the clips in order.
    """
    folder = cache or cache_dir()
    key = clips_hash(clips, n_samples)
    audio_path = folder / f"audio-{key}.npy"
    kept_path = folder / f"audio-{key}.kept.npy"
    if audio_path.is_file() and kept_path.is_file():
        try:
            kept_idx = [int(i) for i in np.load(kept_path)]
            audio = np.load(audio_path, mmap_mode="r")
            if audio.shape == (len(kept_idx), n_samples):
                log.info("decoded audio from cache %s", audio_path)
                return audio, [clips[i] for i in kept_idx]
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache %s (%s)", audio_path, exc)
    rows, kept_idx = [], []
    for i, clip in enumerate(clips):
        try:
            rows.append(_decode(clip, n_samples))
            kept_idx.append(i)
        except AudioFileError as exc:
            log.warning("skipped %s", exc)
    if len(kept_idx) < len(clips):
        log.warning("skipped %d of %d clips: unreadable (each named above)",
                    len(clips) - len(kept_idx), len(clips))
    audio = np.stack(rows).astype(np.float32) if rows else np.zeros((0, n_samples), np.float32)
    try:
        save_npy_atomic(kept_path, np.array(kept_idx, np.int64))
        save_npy_atomic(audio_path, audio)
    except (OSError, DiskFullError) as exc:  # a cache we cannot write costs time, not results
        log.warning("could not cache decoded audio in %s (%s)", folder, exc)
    return audio, [clips[i] for i in kept_idx]
