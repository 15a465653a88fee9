"""Mined negatives: windows of other speech that fire a trained model.

A model trained with negatives still fires on some other speech. Mining
runs it over long streams of the *training* split's other speech (whole
recordings of the negatives' words and the training speakers' unknown
words, one after another with short gaps over real background noise) the
way the live engine would (a window every 80 ms, probabilities averaged
over :data:`AVERAGE_WINDOWS`), keeps the peak window of every stretch where
a command passes ``TrainConfig.mining_threshold`` (0.4: below the live
threshold, near misses teach too), and gives it back as an ``unknown`` clip
(``source`` ``mined/<command>``) for the next round of training
(training/train.py, ``TrainConfig.mining_rounds``).

The streams and their embeddings (one 96-d vector per 80 ms, each computed
once) are cached under ``cache/negatives/``; a round only runs the head.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS, LABELS
from kwsapp.config import SAMPLE_RATE_HZ, ms_to_samples
from kwsapp.errors import BadInputError
from training.data import Clip, background_noise, clips_hash, save_npy_atomic

log = logging.getLogger(__name__)

#: Windows averaged, 80 ms apart (the smoother's 500 ms of its day; the 250
#: ms it averages now, 3 windows, mined no better: docs/streaming.md).
AVERAGE_WINDOWS = 6
#: Words per mining stream, at most (a seeded draw when there are more).
MAX_WORDS = 4000
GAP_S = (0.3, 1.2)
SNR_DB = (5.0, 20.0)
#: Embeddings per call of the embedding model over a long stream.
CHUNK_EMBEDDINGS = 64
_VERSION = 1
#: Negative kinds whose clips are windows of one long bank file: its whole
#: file is no recording (the chimeras' bank alone is an hour of audio).
BANKED = ("hard", "mined", "chimera")


def sources(negatives: Sequence[Clip], train: Sequence[Clip]) -> list[Clip]:
    """Whole recordings of other speech to mine on: the files the
    negatives were cut from (not the generated windows of :data:`BANKED`
    kinds) and the training split's unknown clips, each once."""
    seen, out = set(), []
    for c in list(negatives) + [c for c in train if c.label == "unknown"]:
        kind = c.source.split("/")[0]
        if kind in BANKED or c.path in seen:
            continue
        seen.add(c.path)
        out.append(Clip(c.path, "unknown", c.word, c.speaker, source=c.source))
    return out


def banked_windows(negatives: Sequence[Clip], kinds: Sequence[str]) -> list[Clip]:
    """The windows of the :data:`BANKED` ``kinds`` among ``negatives``, each
    to be replayed on its own (``start``/``frames`` of its bank file)."""
    unknown = sorted(set(kinds) - set(BANKED))
    if unknown:
        raise BadInputError(f"mining_windows: {', '.join(unknown)} not among "
                            f"{', '.join(BANKED)}")
    return [c for c in negatives if c.frames and c.source.split("/")[0] in kinds]


def build_stream(recordings: Sequence[Clip], data_dir: Path, cache: Path, seed: int,
                 extra: Sequence[Clip] = ()) -> tuple[Path, list[dict[str, Any]]]:
    """The mining stream of ``recordings`` (cached): ``(wav, words)``, each
    word ``{"start", "end", "word", "source"}`` in samples. ``extra`` clips
    (windows of bank files, :func:`banked_windows`, or fresh recordings)
    join the drawn recordings, each played once on its own, in a seeded
    order."""
    from kwsapp.streaming.synth import SPEECH_RMS
    from training.negatives.hard import write_audio_and_index

    key = clips_hash(list(recordings) + list(extra), _VERSION, MAX_WORDS, GAP_S, SNR_DB, seed)
    folder = cache / "negatives"
    wav, index = folder / f"mining-{key}.wav", folder / f"mining-{key}.json"
    if wav.is_file() and index.is_file():
        return wav, json.loads(index.read_text())
    rng = np.random.default_rng([seed, 23])
    order = [recordings[int(i)] for i in rng.permutation(len(recordings))[:MAX_WORDS]]
    if extra:  # the draw above stays the same with or without them
        order += extra
        order = [order[int(i)] for i in rng.permutation(len(order))]
    pieces, words, pos = [], [], 0
    for rec in order:
        clip = _load(rec)
        if clip is None:
            continue
        gap = np.zeros(ms_to_samples(1000 * rng.uniform(*GAP_S)), np.float32)
        pieces += [clip.audio, gap]
        words.append({"start": pos + clip.speech_start, "end": pos + clip.speech_end,
                      "word": rec.word, "source": rec.source})
        pos += len(clip.audio) + len(gap)
    speech = np.concatenate(pieces) if pieces else np.zeros(SAMPLE_RATE_HZ, np.float32)
    audio = speech + _noise(data_dir, len(speech), rng) * np.float32(SPEECH_RMS)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    write_audio_and_index(wav, audio, index, words)
    log.info("mining stream: %d words, %.1f min in %s", len(words),
             len(audio) / SAMPLE_RATE_HZ / 60, wav)
    return wav, words


def _load(rec: Clip) -> Any:
    """One recording (or one window of a bank file), trimmed and levelled
    as the test streams' clips are (None when it holds no speech)."""
    from kwsapp.streaming.synth import level_clip, load_clip, trim_to_speech

    if not rec.frames:
        return load_clip(Path("/"), str(Path(rec.path).resolve()), "unknown")
    import soundfile as sf

    audio = sf.read(str(rec.path), start=rec.start, frames=rec.frames, dtype="float32")[0]
    span = trim_to_speech(audio)
    return None if span is None else level_clip(audio, span, "unknown", str(rec.path), rec.word)


def _noise(data_dir: Path, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of the background recordings, unit RMS scaled down by
    a random SNR (one per 10 s stretch) in :data:`SNR_DB`."""
    recs = [r / max(float(np.sqrt(np.mean(r ** 2))), 1e-6) for r in background_noise(data_dir)
            if len(r) > SAMPLE_RATE_HZ]
    out = np.zeros(n, np.float32)
    if not recs:
        return out
    step = 10 * SAMPLE_RATE_HZ
    for pos in range(0, n, step):
        rec = recs[int(rng.integers(len(recs)))]
        m = min(step, n - pos, len(rec))
        start = int(rng.integers(0, len(rec) - m + 1))
        out[pos:pos + m] = rec[start:start + m] * 10 ** (-rng.uniform(*SNR_DB) / 20)
    return out


def stream_embeddings(wav: Path, cache: Path) -> np.ndarray:
    """``[T, 96]`` embeddings of a stream, embedding ``j`` covering samples
    ``[j * 1280, j * 1280 + 12400)`` (cached beside the stream)."""
    import soundfile as sf

    from training.models import embedding

    path = wav.with_suffix(".embeddings.npy")
    if path.is_file():
        return np.load(path)
    audio = sf.read(str(wav), dtype="float32")[0]
    hop, first = embedding.EMBEDDING_HOP_SAMPLES, embedding.FIRST_EMBEDDING_SAMPLES
    total = embedding.n_embeddings(len(audio))
    span = first + (CHUNK_EMBEDDINGS - 1) * hop
    starts = range(0, total * hop, CHUNK_EMBEDDINGS * hop)
    chunks = np.zeros((len(starts), span), np.float32)
    for k, s in enumerate(starts):
        piece = audio[s:s + span]
        chunks[k, :len(piece)] = piece
    model = embedding.build_embedding(span)
    emb = embedding.embed_batches(model, chunks, batch_size=8).reshape(-1, embedding.EMBEDDING_DIM)
    emb = emb[:total]
    save_npy_atomic(path, emb)
    return emb


def mine(head: Any, wav: Path, words: Sequence[dict[str, Any]], embeddings: np.ndarray,
         frames: int, window: int, threshold: float) -> list[Clip]:
    """Windows of the stream where ``head`` would fire a command.

    Args:
        head: Keras model ``[n, frames, 96] -> [n, 12]`` probabilities.
        frames: embeddings per window (10 for 1.5 s).
        window: window length in samples.
        threshold: a command's averaged probability that counts as firing.

    Returns:
        One ``unknown`` clip per stretch of firing windows (its peak), with
        the word heard there.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    from training.models import embedding

    if len(embeddings) < frames:
        return []
    x = sliding_window_view(embeddings, (frames, embeddings.shape[1]))[:, 0]
    probs = head.predict(np.ascontiguousarray(x), batch_size=1024, verbose=0)
    commands = [LABELS.index(c) for c in COMMAND_LABELS]
    score = probs[:, commands]
    kernel = np.ones(AVERAGE_WINDOWS) / AVERAGE_WINDOWS
    avg = np.stack([np.convolve(score[:, k], kernel)[:len(score)] for k in range(len(commands))],
                   axis=1)  # causal mean of the last windows, as the smoother does
    firing = avg.max(axis=1) >= threshold
    rises = np.flatnonzero(np.diff(np.concatenate([[0], firing.astype(int)])) == 1)
    starts = [int(s) for s in rises]
    hop = embedding.EMBEDDING_HOP_SAMPLES
    mids = np.array([(w["start"] + w["end"]) / 2 for w in words]) if words else np.zeros(0)
    out = []
    for s in starts:
        e = s
        while e < len(firing) and firing[e]:
            e += 1
        peak = s + int(np.argmax(score[s:e].max(axis=1)))
        label = COMMAND_LABELS[int(np.argmax(avg[peak]))]
        first = peak * hop  # window `peak` reads embeddings peak .. peak + frames - 1
        centre = first + window // 2
        near = int(np.argmin(np.abs(mids - centre))) if len(mids) else -1
        word = words[near]["word"] if near >= 0 else ""
        out.append(Clip(wav, "unknown", word, None, first, source=f"mined/{label}",
                        frames=window))
    return out


def mine_training_speech(head: Any, negatives: Sequence[Clip], train: Sequence[Clip],
                         data_dir: Path, cache: Path, seed: int, frames: int,
                         window: int, threshold: float, windows: Sequence[str] = (),
                         fresh: Sequence[Clip] = ()) -> list[Clip]:
    """Build (cached) the mining stream of the training split's other
    speech, the ``windows`` kinds' windows (one at a time) and ``fresh``
    recordings, and mine it with ``head`` at ``threshold``."""
    recordings = sources(negatives, train)
    if not recordings:
        return []
    wav, words = build_stream(recordings, data_dir, cache, seed,
                              banked_windows(negatives, windows) + list(fresh))
    found = mine(head, wav, words, stream_embeddings(wav, cache), frames, window, threshold)
    log.info("mined %d windows that fire on %.1f min of other speech", len(found),
             _minutes(wav))
    return found


def _minutes(wav: Path) -> float:
    import soundfile as sf

    return sf.info(str(wav)).frames / SAMPLE_RATE_HZ / 60
