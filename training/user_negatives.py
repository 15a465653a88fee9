"""Build the user words' negative pool, ``assets/models/embed/negatives.npz``.

Every clip of other speech and noise the data sets hold (the Speech Commands
subset's unknown words and commands of *training* speakers, the extra clips
of training speakers, half the wake-word recordings by a stable file hash,
background noise, and with ``--tts N`` a sample of the text-to-speech words
and phrases of ``training/negatives/tts.py``'s training voices) is trimmed
to its speech, leveled, placed at a seeded random spot in
:data:`CLIP_SAMPLES` of audio with seeded noise at a random SNR, and run
through the frozen embedding. The pool keeps, per clip, its
``[CLIP_FRAMES, 96]`` float16 embeddings (``CLIP_FRAMES - 9`` overlapping
windows of 10), the word said and its source, plus a few seconds of real
background noise (int16) that enrolment mixes into the takes. Plain arrays
only (``numpy.load`` needs no pickle). Layout in docs/contracts.md section 3.

Streams that measure user words (training/measure_words.py) use only what
the pool does not: validation/test speakers and the other half of the
wake-word files (:func:`in_pool`).

Usage: python -m training.user_negatives [--data ../shared/data] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.atomic import write_atomic
from kwsapp.audio.io import load_audio
from kwsapp.config import SAMPLE_RATE_HZ
from kwsapp.errors import AudioFileError
from kwsapp.speakers import BACKGROUND_DIR, UNKNOWN_DIR, stable_fraction, which_set
from kwsapp.streaming.synth import trim_to_speech

log = logging.getLogger(__name__)

CLIP_FRAMES = 13  # embeddings kept per clip: 4 windows of 10
CLIP_SAMPLES = 12400 + (CLIP_FRAMES - 1) * 1280  # 1.74 s
#: Commands per word from the subset (training speakers), so the pool holds
#: each command without being mostly commands.
COMMANDS_PER_WORD = 30
WAKE_WORD_POOL_SHARE = 0.5  # of each wake-word folder's files (stable hash)
NOISE_CLIPS = 120  # background-noise windows
NOISE_AUDIO_S = 3.0  # seconds of each background recording kept for augmentation
SNRS_DB = (None, 20.0, 10.0, 5.0)
TTS_CLIPS = 0  # text-to-speech clips (training voices): 400 cost 1-2.5 points of found, no FA gain
SEED = 0

#: Embeds one clip: ``[n]`` float32 -> ``[T, 96]`` (the runtime's
#: :class:`kwsapp.userwords.embedding.Embedder`, so pool and takes match).
EmbedFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PoolClip:
    path: Path
    word: str
    source: str


def in_pool(path: str | Path) -> bool:
    """Whether a wake-word recording belongs to the pool's half (the other
    half is left for measuring)."""
    p = Path(path)
    return stable_fraction(f"pool/{p.parent.name}/{p.name}") < WAKE_WORD_POOL_SHARE


def tts_clips(n: int) -> list[PoolClip]:
    """A seeded sample of ``n`` text-to-speech words and phrases of the
    training voices (training/negatives/tts.py; rendered there, cached)."""
    if n <= 0:
        return []
    from training.negatives.tts import tts_negatives

    clips = tts_negatives(split="train")
    rng = np.random.default_rng(SEED)
    picked = sorted(rng.choice(len(clips), min(n, len(clips)), replace=False))
    return [PoolClip(clips[i].path, clips[i].word.lower(), clips[i].source) for i in picked]


def pool_clips(data_root: Path, tts: int = 0) -> list[PoolClip]:
    """The speech clips of the pool, in a stable order."""
    subset = data_root / "speech_commands_subset"
    extra = data_root / "speech_commands_extra"
    wake = data_root / "wake_words"
    clips: list[PoolClip] = []
    for p in sorted((subset / UNKNOWN_DIR).glob("*.wav")):
        if which_set(p.name) == "train":
            clips.append(PoolClip(p, p.stem.split("_")[0], "speech_commands/unknown"))
    rng = np.random.default_rng(SEED)
    for label in COMMAND_LABELS:
        files = [p for p in sorted((subset / label).glob("*.wav")) if which_set(p.name) == "train"]
        for i in sorted(rng.choice(len(files), min(COMMANDS_PER_WORD, len(files)), replace=False)):
            clips.append(PoolClip(files[i], label, "speech_commands/command"))
    for folder in sorted(p for p in extra.glob("*") if p.is_dir()):
        for p in sorted(folder.glob("*.wav")):
            if which_set(p.name) == "train":
                clips.append(PoolClip(p, folder.name, "speech_commands_extra"))
    for folder in sorted(p for p in wake.glob("*") if p.is_dir()):
        word = folder.name.replace("_", " ")
        for p in sorted(folder.glob("*.flac")):
            if in_pool(p):
                clips.append(PoolClip(p, word, f"wake_words/{folder.name}"))
    return clips + tts_clips(tts)


def place(speech: np.ndarray, rng: np.random.Generator, noise: list[np.ndarray]) -> np.ndarray:
    """``speech`` (already trimmed) at a random spot of ``CLIP_SAMPLES``,
    leveled to a random level, with noise at a random SNR of :data:`SNRS_DB`."""
    from kwsapp.userwords.augment import noise_piece

    n = CLIP_SAMPLES
    speech = speech[:n]
    level = 10 ** (rng.uniform(-36.0, -16.0) / 20.0)
    speech = speech * level / max(float(np.sqrt(np.mean(speech ** 2))), 1e-6)
    out = np.zeros(n, np.float32)
    start = int(rng.integers(0, n - speech.size + 1))
    out[start:start + speech.size] = speech
    snr = SNRS_DB[int(rng.integers(len(SNRS_DB)))]
    if snr is not None:
        out += noise_piece(n, rng, noise) * level / 10 ** (snr / 20.0)
    return np.clip(out, -1.0, 1.0)


def background(data_root: Path) -> list[np.ndarray]:
    folder = data_root / "speech_commands_subset" / BACKGROUND_DIR
    return [load_audio(p) for p in sorted(folder.glob("*.wav"))]


def build_pool(data_root: Path, embed: EmbedFn, tts: int = TTS_CLIPS) -> dict[str, np.ndarray]:
    """The pool's arrays (see the module doc)."""
    rng = np.random.default_rng(SEED)
    noise = background(data_root)
    audio, words, sources = [], [], []
    for clip in pool_clips(data_root, tts):
        try:
            x = load_audio(clip.path)
        except AudioFileError as exc:
            log.warning("skipped %s", exc)
            continue
        span = trim_to_speech(x)
        if span is None:
            continue
        pad = 960  # 60 ms each side
        audio.append(place(x[max(0, span[0] - pad):span[1] + pad], rng, noise))
        words.append(clip.word)
        sources.append(clip.source)
    for i in range(NOISE_CLIPS):
        rec = noise[i % len(noise)]
        start = int(rng.integers(0, rec.size - CLIP_SAMPLES))
        piece = rec[start:start + CLIP_SAMPLES]
        piece = piece * 10 ** (rng.uniform(-50.0, -20.0) / 20.0) / max(
            float(np.sqrt(np.mean(piece ** 2))), 1e-6)
        audio.append(piece.astype(np.float32))
        words.append("")
        sources.append("noise")
    emb = np.stack([embed(x) for x in audio])
    keep = int(NOISE_AUDIO_S * SAMPLE_RATE_HZ)
    noise_audio = np.concatenate([r[:keep] / max(float(np.sqrt(np.mean(r[:keep] ** 2))), 1e-6)
                                  * 0.1 for r in noise])
    return {"embeddings": emb.astype(np.float16),
            "word": np.array(words, dtype="U32"),
            "source": np.array(sources, dtype="U48"),
            "noise_audio": (np.clip(noise_audio, -1, 1) * 32767).astype(np.int16),
            "noise_lengths": np.array([min(keep, r.size) for r in noise], np.int64)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="shared data folder")
    parser.add_argument("--out", default="assets/models/embed/negatives.npz")
    parser.add_argument("--model", default=None,
                        help="split embed artifact whose embedding to use (default: bundled)")
    parser.add_argument("--tts", type=int, default=TTS_CLIPS,
                        help=f"text-to-speech clips to include (default {TTS_CLIPS}; 0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    t0 = time.perf_counter()
    from kwsapp.userwords.embedding import Embedder

    arrays = build_pool(Path(args.data), Embedder(Path(args.model) if args.model else None),
                        args.tts)
    out = Path(args.out)

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # np.savez adds ".npz" to a name lacking it, not to a file
            np.savez_compressed(f, **arrays)

    write_atomic(out, save)
    n = len(arrays["word"])
    kind = np.array([str(s).split("/")[0] for s in arrays["source"]])
    kinds = {k: int(np.sum(kind == k)) for k in sorted(set(kind))}
    print(f"{out}: {n} clips ({kinds}), {out.stat().st_size / 1e6:.1f} MB, "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
