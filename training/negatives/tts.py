"""Other speech from text-to-speech: words, phrases and near-misses of the
commands said by espeak-ng, flite and festival voices (issue 11).

What it gives (all :class:`training.data.Clip`, ``speaker`` = the voice id,
``word`` = the text said, ``source`` = ``tts/<voice>/<kind>`` with kind
``word``, ``phrase``, ``near`` or ``command``):

- :func:`tts_negatives` (label ``unknown``): dictionary words
  (``/usr/share/dict/american-english``, lower-case alphabetic, 2-12
  letters, never a command nor a word said exactly like one: see
  :data:`HOMOPHONES`), two-to-four word phrases of them, and the curated
  near-misses :data:`NEAR_MISSES` of each command said by every voice.
- :func:`tts_commands` (label = the command): the ten commands by every
  voice at a few rates and pitches, for "neg" to try as positives.
- ``split="train"`` or ``"heldout"``: the held-out split uses only the
  voices of :data:`VOICES` marked held out, saying only held-out words
  (a seeded hash puts :attr:`TtsConfig.heldout_word_share` of the words,
  near-misses included, there); the training split never hears either.
  Measure on ``heldout`` for voices and words a model never trained on;
  ``voices_from`` has one split's words said by the other split's voices
  (which of the two a model fails on: docs/streaming.md, fourth part).
- :class:`TtsAugmenter`: augmentation that suits clean TTS audio (room
  reverb, microphone colour, speed/pitch, noise) for the trainer to apply
  per copy; the cached files themselves are clean, so one rendering serves
  every augmentation seed. Figures (counts, rendering time, what the bundled
  model makes of the clips): docs/tts-negatives.md.

Each utterance's voice, rate and pitch come from seeded hashes of the word
(not from a running random stream), so adding words never moves the
others. Rendering (training/negatives/tts_render.py): one file per utterance
under ``<cache>/tts-negatives-v1/<voice>/`` (commands under
``tts-commands-v1/``), 16 kHz mono float32 WAV,
silence trimmed, level normalized, never rewritten once there (mtimes are
part of :func:`training.data.clips_hash`); two niced engine processes at
most. A voice whose engine is missing is left out with a warning (the clips
it would give are absent, the others unchanged).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.atomic import write_atomic
from kwsapp.cache import cache_dir
from kwsapp.speakers import stable_fraction
from training import augment
from training.config import AugmentConfig
from training.data import Clip
from training.negatives.tts_render import (RenderConfig, RenderStats, Utterance, Voice,
                                           engine_available, postprocess, render)

__all__ = ["VOICES", "NEAR_MISSES", "HOMOPHONES", "TtsConfig", "RenderConfig", "RenderStats",
           "Utterance", "Voice", "engine_available", "postprocess", "render", "plan",
           "plan_commands", "tts_negatives", "tts_commands", "for_training", "TtsAugmenter",
           "TtsAugmentConfig", "legacy_espeak_unknown", "export_folder", "training_tts_config"]

log = logging.getLogger(__name__)

FOLDER = "tts-negatives-v1"  # other speech, one folder per voice
COMMANDS_FOLDER = "tts-commands-v1"  # the commands, apart: a voice's folder is all negatives
#: One split's words by the other split's voices, apart: a held-out voice's
#: folder under FOLDER stays the held-out stream's (stream_table reads it whole).
CROSS_FOLDER = "tts-negatives-v1-cross"
WORD_LIST = Path("/usr/share/dict/american-english")
SPLITS = ("train", "heldout")
KINDS = ("word", "phrase", "near", "command")

#: Dictionary words said exactly like a command (espeak-ng en-us phonemes
#: equal, stress aside; checked over the whole word list): a negative that
#: sounds the same as a positive only teaches the head to miss the command.
HOMOPHONES = frozenset({"know", "write", "rite", "wright"})

#: Words that sound close to each command (never the command, never a
#: homophone): rhymes, one phoneme off, the command inside a longer word.
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "yes": ("yet", "yeah", "yep", "yell", "yesterday", "less", "guess", "mess", "chess",
            "bless", "dress", "yas", "jess", "yeast"),
    "no": ("now", "nope", "note", "snow", "nose", "known", "gnome", "nor", "new", "slow",
           "nobody", "noble", "toe", "dough", "nuh"),
    "up": ("cup", "pup", "app", "upper", "upset", "upon", "hub", "pop", "sup", "op", "shut",
           "putt", "tub", "ups", "uh"),
    "down": ("town", "gown", "brown", "clown", "noun", "doubt", "dawn", "done", "crown",
             "drown", "downy", "dowel", "pound", "downs", "sound"),
    "left": ("lift", "loft", "leaf", "lest", "cleft", "theft", "deft", "laughed", "lefty",
             "leftover", "let", "lend", "heft", "loved", "lefts"),
    "right": ("bright", "light", "fight", "night", "ride", "ripe", "rice", "white", "riot",
              "rights", "fright", "rat", "wait", "rightly", "ripe"),
    "on": ("an", "in", "own", "one", "don", "con", "upon", "honest", "onset", "ox", "yon",
           "onion", "online", "awn", "ohm"),
    "off": ("of", "office", "often", "cough", "scoff", "offer", "awful", "moth", "loft",
            "oaf", "huff", "offset", "doff", "golf", "offs"),
    "stop": ("stock", "step", "shop", "top", "stab", "stoop", "stomp", "stopwatch", "spot",
             "stopper", "stoplight", "atop", "stuff", "stub", "stops", "stopping"),
    "go": ("goat", "gold", "goal", "gopher", "ago", "grow", "glow", "ghost", "globe",
           "cargo", "got", "goes", "going", "yoga", "though", "outgoing"),
}


_ESPEAK_RATE, _ESPEAK_PITCH = (130.0, 200.0), (30.0, 70.0)
_STRETCH = (0.85, 1.25)
_MALE_F0, _FEMALE_F0 = (85.0, 140.0), (150.0, 220.0)


def _espeak(name: str, heldout: bool = False) -> Voice:
    return Voice("espeak", name, "espeak-" + name.replace("+", "-"), _ESPEAK_RATE,
                 _ESPEAK_PITCH, heldout)


#: Every voice, 24 in all; the four held-out ones are never in the training split.
VOICES: tuple[Voice, ...] = (
    *(_espeak(n) for n in ("en-us", "en-us+m3", "en-us+f2", "en+f3", "en-gb-x-rp",
                           "en-gb-scotland+m2", "en-029+f4", "en-us-nyc", "en-gb-x-gbclan+f1",
                           "en+m7", "en-gb+klatt", "en-us+f5", "en-gb-x-rp+m5", "en-029+m1")),
    _espeak("en-gb-x-gbcwmd+m4", heldout=True),
    _espeak("en-gb-x-gbcwmd+f1", heldout=True),
    Voice("flite", "kal", "flite-kal", _STRETCH, _MALE_F0),
    Voice("flite", "kal16", "flite-kal16", _STRETCH, _MALE_F0),
    Voice("flite", "awb", "flite-awb", _STRETCH, _MALE_F0),
    Voice("flite", "slt", "flite-slt", _STRETCH, _FEMALE_F0),
    Voice("flite", "rms", "flite-rms", _STRETCH, None, heldout=True),
    Voice("festival", "kal_diphone", "festival-kal", _STRETCH, _MALE_F0),
    Voice("festival", "cmu_us_slt_arctic_hts", "festival-slt", (0.8, 1.2), None),
    Voice("festival", "ked_diphone", "festival-ked", _STRETCH, _MALE_F0, heldout=True),
)


@dataclass(frozen=True)
class TtsConfig:
    """How many utterances of each kind (per split) and how they are drawn."""

    seed: int = 0
    words: int = 4000  # dictionary words in the training split, one voice each
    phrases: int = 600  # two-to-four word phrases in the training split
    heldout_words: int = 1000  # the same for the held-out split
    heldout_phrases: int = 150
    heldout_word_share: float = 0.2  # of all words (near-misses too), by seeded hash
    near_miss_voices: int | None = None  # voices per near-miss (None: every voice of the split)
    near_miss_words: int | None = None  # only this many near-misses (tests); None: all
    # Also every dictionary word one phoneme edit from a command or holding
    # it (training/negatives/phonemes.py), each said by this many voices.
    phoneme_near_misses: bool = False
    phoneme_near_voices: int = 6
    command_takes: int = 3  # renditions of each command per voice (different rate/pitch)
    max_word_letters: int = 12
    min_word_letters: int = 2
    render: RenderConfig = RenderConfig()
    voices: tuple[str, ...] | None = None  # only these voice ids (tests); None: all


# ----------------------------------------------------------------- planning

def is_heldout_word(word: str, config: TtsConfig = TtsConfig()) -> bool:
    """Whether ``word`` (a dictionary word, near-miss or phrase word) belongs
    to the held-out split (seeded hash; independent of which words exist)."""
    return stable_fraction(f"{config.seed}/tts-heldout/{word}") < config.heldout_word_share


def excluded_words() -> frozenset[str]:
    """Words never said as negatives: the commands and their homophones."""
    return frozenset(COMMAND_LABELS) | HOMOPHONES


@lru_cache(maxsize=4)
def dictionary_words(path: Path = WORD_LIST, min_letters: int = 2,
                     max_letters: int = 12) -> tuple[str, ...]:
    """The word list's lower-case alphabetic words of ``min..max`` letters,
    sorted, without :func:`excluded_words`; empty (with a warning) when the
    list is missing (``apt-get install wamerican``)."""
    if not path.is_file():
        log.warning("%s: no word list (apt-get install wamerican): no dictionary words", path)
        return ()
    pattern = re.compile(rf"[a-z]{{{min_letters},{max_letters}}}")
    words = {w for w in path.read_text(encoding="utf-8", errors="replace").split()
             if pattern.fullmatch(w)}
    return tuple(sorted(words - excluded_words()))


def voices_of(split: str, config: TtsConfig = TtsConfig()) -> list[Voice]:
    """The voices of a split (``train`` or ``heldout``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return [v for v in VOICES if v.heldout == (split == "heldout")
            and (config.voices is None or v.id in config.voices)]


def _draw(voice: Voice, key: str, seed: int) -> tuple[float, float | None]:
    """Rate and pitch of one utterance, from seeded hashes of ``key``
    (rounded so the file name is short and stable)."""
    u_rate = stable_fraction(f"{seed}/rate/{voice.id}/{key}")
    u_pitch = stable_fraction(f"{seed}/pitch/{voice.id}/{key}")
    lo, hi = voice.rate
    if voice.engine == "espeak":
        rate = float(round(lo + u_rate * (hi - lo)))
    else:
        rate = round((lo + u_rate * (hi - lo)) * 20) / 20  # steps of 0.05
    pitch = None
    if voice.pitch is not None:
        plo, phi = voice.pitch
        pitch = float(round(plo + u_pitch * (phi - plo)))
    return rate, pitch


def _pick_voice(voices: Sequence[Voice], key: str, seed: int) -> Voice:
    """One voice for ``key``: first an engine (each engine equally likely,
    so espeak's many variants do not crowd out flite and festival), then one
    of its voices."""
    engines = sorted({v.engine for v in voices})
    engine = engines[int(stable_fraction(f"{seed}/engine/{key}") * len(engines))]
    of_engine = [v for v in voices if v.engine == engine]
    return of_engine[int(stable_fraction(f"{seed}/voice/{key}") * len(of_engine))]


def _first(words: Iterable[str], n: int, salt: str, seed: int) -> list[str]:
    """The ``n`` words first in a seeded hash order (stable when the list grows)."""
    return sorted(words, key=lambda w: stable_fraction(f"{seed}/{salt}/{w}"))[:n]


def _phrases(words: Sequence[str], n: int, salt: str, seed: int) -> list[str]:
    """``n`` phrases of two to four of ``words``, each drawn from its own seeded generator."""
    out = []
    for i in range(n if words else 0):
        rng = np.random.default_rng([seed, int(stable_fraction(f"{salt}/{i}") * 2 ** 31)])
        k = int(rng.integers(2, 5))
        out.append(" ".join(words[int(j)] for j in rng.integers(0, len(words), k)))
    return out


def plan(split: str = "train", config: TtsConfig = TtsConfig(),
         word_list: Path = WORD_LIST, voices_from: str | None = None) -> list[Utterance]:
    """The negative utterances of a split (nothing rendered).

    Training: :attr:`TtsConfig.words` dictionary words and
    :attr:`TtsConfig.phrases` phrases of training words, one voice each;
    every training near-miss by every training voice. Held out: the same
    from held-out words and held-out voices only. ``voices_from``: the
    split whose voices say them (default ``split``).
    """
    voices = voices_of(voices_from or split, config)
    if not voices:
        return []
    held = split == "heldout"
    seed = config.seed
    pool = [w for w in dictionary_words(word_list, config.min_word_letters,
                                        config.max_word_letters)
            if is_heldout_word(w, config) == held]
    n_words, n_phrases = ((config.heldout_words, config.heldout_phrases) if held
                          else (config.words, config.phrases))
    out: list[Utterance] = []

    def add(voice: Voice, text: str, kind: str) -> None:
        out.append(Utterance(voice, text, kind, "unknown", *_draw(voice, text, seed)))

    near = sorted({w for ws in NEAR_MISSES.values() for w in ws
                   if w not in excluded_words() and is_heldout_word(w, config) == held})
    if config.near_miss_words is not None:
        near = sorted(_first(near, config.near_miss_words, "near-words", seed))
    found: list[str] = []
    if config.phoneme_near_misses:
        from training.negatives.phonemes import command_near_misses

        by_command = command_near_misses(
            dictionary_words(word_list, config.min_word_letters, config.max_word_letters),
            COMMAND_LABELS, cache_dir() / "phonemes")
        found = sorted({w for ws in by_command.values() for w in ws
                        if is_heldout_word(w, config) == held} - set(near))
    hand_picked = set(near)
    near_set = hand_picked | set(found)
    for word in near + found:
        n_voices = (config.near_miss_voices if word in hand_picked
                    else config.phoneme_near_voices)
        chosen = voices if n_voices is None else sorted(
            voices, key=lambda v: stable_fraction(f"{seed}/near/{word}/{v.id}"))[:n_voices]
        for voice in chosen:
            add(voice, word, "near")
    for word in _first([w for w in pool if w not in near_set], n_words, f"pick/{split}", seed):
        add(_pick_voice(voices, word, seed), word, "word")
    for phrase in _phrases(_first(pool, 5000, f"phrase-words/{split}", seed), n_phrases,
                           f"phrase/{split}", seed):
        add(_pick_voice(voices, phrase, seed), phrase, "phrase")
    return _unique(out)


def plan_commands(split: str = "train", config: TtsConfig = TtsConfig()) -> list[Utterance]:
    """The command utterances of a split: each command by each voice of the
    split, :attr:`TtsConfig.command_takes` times at different rates/pitches."""
    out = []
    for voice in voices_of(split, config):
        for command in COMMAND_LABELS:
            for take in range(config.command_takes):
                rate, pitch = _draw(voice, f"{command}#{take}", config.seed)
                out.append(Utterance(voice, command, "command", command, rate, pitch))
    return _unique(out)


def _unique(utterances: list[Utterance]) -> list[Utterance]:
    """Drop repeats of a file (two draws that rounded to the same rate/pitch)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for u in utterances:
        key = (u.voice.id, u.filename)
        if key not in seen:
            seen.add(key)
            out.append(u)
    return out


def _clips(utterances: Sequence[Utterance], cache: Path | None, config: TtsConfig,
           folder: str = FOLDER) -> list[Clip]:
    root = (cache or cache_dir()) / folder
    stats = render(utterances, root, config.render)
    if stats.rendered:
        log.info("rendered %d TTS clips in %.1f s (%d failed)", stats.rendered,
                 stats.seconds, stats.failed)
    return [u.clip(root) for u in utterances if u.path(root).is_file()]


def tts_negatives(cache: Path | None = None, split: str = "train",
                  config: TtsConfig = TtsConfig(), voices_from: str | None = None
                  ) -> list[Clip]:
    """The TTS negatives of a split (rendered on first use, then cached).

    Args:
        cache: cache root (default :func:`training.data.cache_dir`); files go
            to ``<cache>/tts-negatives-v1/<voice>/``.
        split: ``"train"`` or ``"heldout"`` (voices and words disjoint).
        voices_from: the split whose voices say ``split``'s words (default
            ``split``); the other split's go to ``<cache>/`` :data:`CROSS_FOLDER`.

    Returns:
        Clips labelled ``unknown``, in plan order; utterances an engine could
        not render (engine missing, failure) are left out.
    """
    cross = voices_from not in (None, split)
    return _clips(plan(split, config, voices_from=voices_from), cache, config,
                  CROSS_FOLDER if cross else FOLDER)


def fresh_words(config: TtsConfig, n: int, cache: Path | None = None,
                word_list: Path = WORD_LIST) -> list[Clip]:
    """``n`` more training-split dictionary words than ``config`` trains on
    (the next ones in the seeded order, training voices), rendered: other
    speech no model trained on, for mining (``TrainConfig.mining_tts_words``)."""
    have = {(u.voice.id, u.filename) for u in plan("train", config, word_list)}
    more = dataclasses.replace(config, words=config.words + n)
    return _clips([u for u in plan("train", more, word_list)
                   if u.kind == "word" and (u.voice.id, u.filename) not in have], cache, config)


def for_training(data_dir: Path, train: Sequence[Clip], config: object, cache: Path,
                 window: int) -> list[Clip]:
    """The training split of :func:`tts_negatives`, called as
    :data:`training.negatives.KINDS` calls every kind: :class:`TtsConfig`
    with the vocabulary of ``config`` (``TrainConfig.tts_words`` and
    ``tts_phrases``; None: the defaults). ``data_dir``, ``train`` and
    ``window`` are not needed: the set is the same for every model, so its
    cache is shared."""
    return tts_negatives(cache, "train", training_tts_config(config))


def training_tts_config(config: object) -> TtsConfig:
    """:class:`TtsConfig` with a training config's vocabulary
    (``tts_words``, ``tts_phrases``, ``tts_phoneme_near_misses``; None or
    absent: the defaults)."""
    sizes = {name: value for name, value in (
        ("words", getattr(config, "tts_words", None)),
        ("phrases", getattr(config, "tts_phrases", None)),
        ("phoneme_near_misses", getattr(config, "tts_phoneme_near_misses", None)))
        if value is not None}
    return dataclasses.replace(TtsConfig(), **sizes)


def tts_commands(cache: Path | None = None, split: str = "train",
                 config: TtsConfig = TtsConfig()) -> list[Clip]:
    """Synthetic positives: the ten commands said by the split's voices,
    labelled with the command (``source`` ``tts/<voice>/command``)."""
    return _clips(plan_commands(split, config), cache, config, COMMANDS_FOLDER)


def export_folder(out: Path, clips: Sequence[Clip]) -> int:
    """Link ``clips`` into ``out/<word>/<voice>_<file>.wav`` (spaces in the
    word as ``_``): the layout ``kwsapp make-stream --negatives`` reads, which
    takes a recording's word from its folder. Hard links (a copy where the
    file system has none); files already there are kept. Returns how many
    files were added."""
    added = 0
    for c in clips:
        dest = Path(out) / c.word.replace(" ", "_") / f"{c.speaker}_{c.path.name}"
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(c.path, dest)
        except OSError:
            shutil.copy2(c.path, dest)
        added += 1
    return added


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.negatives.tts [--split S] [--voices-from S]
    [--commands] [--export DIR]``: render a split (cached) and optionally
    link it into a folder for ``kwsapp make-stream --negatives DIR``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.negatives.tts",
                                     description=main.__doc__)
    parser.add_argument("--split", choices=SPLITS, default="heldout")
    parser.add_argument("--voices-from", choices=SPLITS, metavar="SPLIT",
                        help="the split whose voices say the words (default: --split's own)")
    parser.add_argument("--commands", action="store_true",
                        help="the synthetic commands instead of the negatives")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="link the clips into DIR/<word>/<voice>_<file>.wav")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.commands and args.voices_from:
        parser.error("--voices-from goes with the negatives, not --commands")
    clips = (tts_commands(None, args.split) if args.commands
             else tts_negatives(None, args.split, voices_from=args.voices_from))
    voices = args.voices_from or args.split
    print(f"{len(clips)} clips ({args.split}, {'commands' if args.commands else 'negatives'}) "
          f"from {len({c.speaker for c in clips})} voices ({voices})")
    if args.export:
        print(f"{export_folder(args.export, clips)} files linked into {args.export}")
    return 0


# ------------------------------------------------ the first espeak negatives

#: The first synthetic negatives (formerly training/synth_unknown.py): Speech
#: Commands fillers and near-misses by six espeak-ng voices, which the bundled
#: ``embed`` was trained with (``TrainConfig.synthetic_unknown``). Kept
#: byte-for-byte (same folder, names and settings) so its caches still hit.
LEGACY_WORDS = (
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin",
    "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero",
    "backward", "forward", "follow", "learn", "visual",
    "yet", "yeah", "yep", "know", "now", "of", "stopping", "going", "write", "lift", "light",
    "down town", "cup", "app", "doubt", "rest", "gold", "snow", "bright", "often", "once",
    "yellow", "nope", "stock", "goal", "loft", "night", "top", "dove",
)
#: (voice, words per minute) of the legacy set.
LEGACY_VOICES = (
    ("en-us", 150), ("en-us+f3", 130), ("en-gb", 170), ("en-gb-scotland+f2", 150),
    ("en-gb-x-rp+m3", 140), ("en-029+f4", 160),
)
LEGACY_FOLDER = "espeak-unknown-v1"


def legacy_espeak_unknown(cache: Path | None = None) -> list[Clip]:
    """The legacy espeak ``unknown`` clips (generated once into ``cache``;
    raw espeak-ng WAV, as before). Note they hold the homophones "know" and
    "write"; the new sets (:func:`tts_negatives`) do not.

    Returns:
        Clips labelled ``unknown``, speaker ``espeak<i>``, source
        ``tts/espeak<i>/legacy``; empty (with a warning) without espeak-ng.
    """
    exe = shutil.which("espeak-ng")
    folder = (cache or cache_dir()) / LEGACY_FOLDER
    clips = []
    for word in LEGACY_WORDS:
        for i, (voice, wpm) in enumerate(LEGACY_VOICES):
            path = folder / f"{word.replace(' ', '-')}_espeak{i}_nohash_0.wav"
            if not path.is_file():
                if exe is None:
                    log.warning("espeak-ng not installed: no synthetic unknown words")
                    return []
                # espeak-ng writes the temporary file itself; a cache entry,
                # so a link of its name is replaced, not followed.
                write_atomic(path, lambda tmp: subprocess.run(
                    [exe, "-v", voice, "-s", str(wpm), "-w", str(tmp), word],
                    check=True, capture_output=True), follow_symlinks=False)
            clips.append(Clip(path, "unknown", word, f"espeak{i}", source=f"tts/espeak{i}/legacy"))
    return clips


# ------------------------------------------------------------- augmentation

@dataclass(frozen=True)
class TtsAugmentConfig:
    """Augmentation of TTS clips: rooms and microphones they never had."""

    reverb_prob: float = 0.5
    rt60_s: tuple[float, float] = (0.15, 0.7)
    drr_db: tuple[float, float] = (0.0, 12.0)
    mic_prob: float = 0.7
    # The base augmentation (speed/pitch, shift, noise) runs after these.
    base: AugmentConfig = AugmentConfig(speed_range=(0.85, 1.15), speed_prob=0.7)


class TtsAugmenter:
    """Augmentation for clean TTS audio, applied by the trainer per copy:
    speed/pitch (``speed_perturb``), a synthetic room (reverb), a random
    microphone colour, then time shift and noise as
    :class:`training.augment.Augmenter` does (real background or coloured).

    Use it in place of the plain ``Augmenter`` for clips whose ``source``
    starts with ``tts/``.
    """

    def __init__(self, background: Sequence[np.ndarray],
                 config: TtsAugmentConfig = TtsAugmentConfig(), seed: int = 0) -> None:
        self.config = config
        self.base = augment.Augmenter(background, config.base, seed)
        self.rng = np.random.default_rng(seed)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """An augmented copy of ``x`` (``[n]`` float32, same length)."""
        rng = self.rng if rng is None else rng
        cfg = self.config
        y = np.asarray(x, np.float32)
        if rng.random() < cfg.reverb_prob:
            rir = augment.room_impulse_response(float(rng.uniform(*cfg.rt60_s)),
                                                float(rng.uniform(*cfg.drr_db)), rng)
            y = augment.reverb(y, rir)
        if rng.random() < cfg.mic_prob:
            y = augment.mic_color(y, rng)
        return self.base(y, rng)


if __name__ == "__main__":
    raise SystemExit(main())
