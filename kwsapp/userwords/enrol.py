"""Teach a word: takes -> variants -> embeddings -> detector -> stored word.

Positives are the windows of the take variants that hold the whole word;
windows holding less than half of it join the negatives (so a word's first
syllable alone does not fire), beside every window of the bundled pool
except the clips of the word itself, by name or by sound. The pool may
hold the very word under another name (a user's "alexa" taught as "the
TV"): its clips would then count against the takes, and the detector would
miss its own word (6 of 30 held-out "alexa" recordings found, against 29
of 30 under its own name). So a probe detector, fitted against the pool's
commands and noise alone, scores every other word of the pool, and the
words it finds (at ``same_word_level``) in at least ``same_word_share`` of
their clips are left out like the name. A word to ignore keeps the probe:
what it must not do is veto a command (taught as "the tv" from 3 of its own
false activations, "alexa" let 20 of 29 later commands through against the
whole pool, none against the commands; README "Words to ignore"). A word
to ignore that sounds like a command ("bright" and `right`) would still
veto it: its veto level is raised until a detector trained without half
the pool's command clips vetoes at most 1 in 20 of any command's among
them (:func:`veto_level`). A logistic regression on the pooled window
features (kwsapp/userwords/detector.py) was as good as a small network on the
wake-word streams and trains ten times faster (README "User words").
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kwsapp import COMMAND_LABELS, __version__
from kwsapp.config import UserWordsConfig, ms_to_samples
from kwsapp.userwords.augment import Variant, variants
from kwsapp.userwords.detector import (FIELD_SAMPLES, FRAMES, HOP_SAMPLES, Detector,
                                      sliding_windows, train_detector, window_features)
from kwsapp.userwords.pool import NegativePool
from kwsapp.userwords.store import StoredWord, check_name, check_writable, save_word
from kwsapp.userwords.takes import BadTakeError, Take, check_takes, load_takes

#: ``[n]`` float32 16 kHz audio -> ``[T, 96]`` embeddings (embedding ``j``
#: from samples ``[j * 1280, j * 1280 + 12400)``).
EmbedFn = Callable[[np.ndarray], np.ndarray]
#: ``(fraction done 0..1, what is happening)``.
Progress = Callable[[float, str], None]

def window_span(j: int) -> tuple[int, int]:
    """Samples under the window that ends with embedding ``j``."""
    return (j - FRAMES + 1) * HOP_SAMPLES, j * HOP_SAMPLES + FIELD_SAMPLES


def split_windows(embeddings: np.ndarray, word_start: int, word_end: int,
                  config: UserWordsConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(whole, partial)``: windows of one variant that hold the whole word
    (ending at least ``end_margin_ms`` after it) and those that hold less than
    ``partial_cover`` of it (and so must not fire)."""
    windows = sliding_windows(embeddings)
    margin = ms_to_samples(config.end_margin_ms)
    whole, partial = [], []
    for i in range(len(windows)):
        s0, s1 = window_span(i + FRAMES - 1)
        if s0 <= word_start and s1 >= word_end + margin:
            whole.append(i)
        else:
            cover = max(0, min(s1, word_end) - max(s0, word_start)) / max(1, word_end - word_start)
            if cover < config.partial_cover:
                partial.append(i)
    return windows[whole], windows[partial]


def clip_peaks(detector: Detector, features: np.ndarray) -> np.ndarray:
    """``[clips, windows, F]`` window features -> each clip's best logit."""
    logits = detector.logits(features.reshape(-1, features.shape[-1]))
    return logits.reshape(features.shape[:2]).max(axis=1)


def words_like(pool: NegativePool, probe: Detector, level: float, share: float,
               leave_out: str) -> list[str]:
    """The pool's words (commands and noise aside) whose clips ``probe``
    finds, at ``level``, in at least ``share`` of them: the takes' word
    under other names."""
    peak = clip_peaks(probe, pool.clip_features())
    found = peak >= np.log(level / (1.0 - level))
    candidates = ~pool.keep(None, commands_only=True) & pool.keep(leave_out)
    words = sorted({str(w) for w in pool.word[candidates]})
    return [w for w in words if np.mean(found[candidates & (pool.word == w)]) >= share]


def veto_level(pos_f: np.ndarray, part_f: np.ndarray, pool: NegativePool, leave_out: str,
               config: UserWordsConfig) -> tuple[float, dict[str, dict[str, float]]]:
    """The level a word to ignore vetoes at, and the share of the pool's
    command clips it vetoes at the default level and at that one.

    A detector is trained as the word's own (against the pool's commands and
    noise) but without a seeded half of the command clips, and scored on
    them: the best window of each. The level is ``config.ignore_threshold``,
    raised (to 3 decimals, at most ``ignore_max_level``) until no command
    loses more than ``ignore_command_loss`` of those clips. The word's own
    detector also trains on those clips, so the shares are an estimate on
    the safe side of what it does on commands it never heard.
    """
    feats = pool.clip_features()
    keep = pool.keep(leave_out, commands_only=True)
    commands = keep & (pool.word != "")
    held = commands & (np.random.default_rng(config.seed).random(len(pool.word)) < 0.5)
    det = train_detector(pos_f, np.concatenate([
        feats[keep & ~held].reshape(-1, feats.shape[-1]), part_f]), l2=config.l2)
    peaks = 1.0 / (1.0 + np.exp(-clip_peaks(det, feats[held]).astype(np.float64)))
    said = pool.word[held]
    level = config.ignore_threshold
    for c in COMMAND_LABELS:
        top = np.sort(peaks[said == c])[::-1]
        allowed = int(config.ignore_command_loss * top.size + 0.5)  # 1 of 19 at 0.05
        if allowed < top.size and top[allowed] >= level:
            level = np.floor(top[allowed] * 1000.0 + 1.0) / 1000.0  # just above it
    level = float(min(level, config.ignore_max_level))

    def shares(at: float) -> dict[str, float]:
        return {c: round(float(np.mean(peaks[said == c] >= at)), 3) for c in COMMAND_LABELS
                if np.any(said == c)}

    return level, {"default": shares(config.ignore_threshold), "level": shares(level)}


def embed_variants(vs: Sequence[Variant], embed: EmbedFn) -> list[np.ndarray]:
    """Each variant's embeddings ``[T_k, 96]`` from one call: the variants
    laid end to end, each from a multiple of the 80 ms hop, so a long call
    (the split model's chunked path, several times faster per embedding than
    short ones) gives each variant's own embeddings; those that would reach
    into the next variant are dropped."""
    offsets, parts, pos = [], [], 0
    for v in vs:
        n = -(-v.audio.size // HOP_SAMPLES) * HOP_SAMPLES
        offsets.append(pos)
        parts.append(np.pad(v.audio, (0, n - v.audio.size)))
        pos += n
    emb = embed(np.concatenate(parts))
    out = []
    for v, off in zip(vs, offsets):
        first = off // HOP_SAMPLES
        count = max(0, (v.audio.size - FIELD_SAMPLES) // HOP_SAMPLES + 1)
        out.append(emb[first:first + count])
    return out


def enrol(name: str, takes: Sequence[Take], embed: EmbedFn, pool: NegativePool,
          config: UserWordsConfig = UserWordsConfig(), root: Path | None = None,
          progress: Progress | None = None, embedding_id: str = "",
          ignore: bool = False, replace: bool = False,
          threshold: float | None = None) -> StoredWord:
    """Train a detector for ``name`` from ``takes`` and store it; with
    ``ignore``, as a word to ignore (no events of its own; it vetoes the
    commands decided where it is heard: :meth:`Engine.veto`); with
    ``replace``, in place of the stored word of that name; ``threshold``
    for the card (default ``config.threshold``).

    Raises:
        BadNameError / BadTakeError: the name or the takes cannot be used.
        BadInputError: the words folder cannot be written (said before
            any training).
    """
    t0 = time.perf_counter()
    report = progress or (lambda _f, _m: None)
    norm = check_name(name, root, taken_ok=replace)
    check_writable(root)  # before the training it would lose
    check_takes(takes, config, ignore)
    report(0.02, "making variants of the takes")
    vs = variants(list(takes), config, list(pool.noise), seed=config.seed)
    pos, part = [], []
    groups = np.array_split(np.arange(len(vs)), min(len(vs), config.embed_groups))
    for g, members in enumerate(groups):
        for (v, emb) in zip([vs[k] for k in members], embed_variants([vs[k] for k in members],
                                                                     embed)):
            whole, partial = split_windows(emb, v.word_start, v.word_end, config)
            pos.append(whole)
            part.append(partial)
        report(0.05 + 0.75 * (g + 1) / len(groups),
               f"embedding variants ({members[-1] + 1} of {len(vs)})")
    pos_w = np.concatenate(pos)
    part_w = np.concatenate(part)
    report(0.82, "training the detector")
    pos_f, part_f = window_features(pos_w), window_features(part_w)
    neg_f = np.concatenate([pool.features(leave_out=norm, commands_only=True), part_f])
    detector = train_detector(pos_f, neg_f, l2=config.l2)
    like = words_like(pool, detector, config.same_word_level, config.same_word_share, norm)
    vetoes = None
    if ignore:
        report(0.9, "checking it against the commands")
        level, vetoes = veto_level(pos_f, part_f, pool, norm, config)
    else:
        report(0.9, "training the detector against the other words")
        neg_f = np.concatenate([pool.features(leave_out=[norm, *like]), part_f])
        detector = train_detector(pos_f, neg_f, l2=config.l2)
        level = config.threshold
    report(0.95, "saving")
    p_pos = 1.0 / (1.0 + np.exp(-detector.logits(pos_f)))
    p_neg = 1.0 / (1.0 + np.exp(-detector.logits(neg_f)))
    thr = level if threshold is None else threshold
    seconds = time.perf_counter() - t0
    card = {
        "format_version": 1,
        "role": "ignore" if ignore else "word",
        "threshold": thr,
        "takes": [{"source": t.name, "speech_s": round(t.speech_s, 3),
                   "seconds": round(t.audio.size / 16000, 3)} for t in takes],
        "detector": {"kind": "logistic", "features": "mean+max of window and halves",
                     "frames": FRAMES, "positives": int(len(pos_f)),
                     "negatives": int(len(neg_f))},
        "figures": {"variant_windows_found": round(float(np.mean(p_pos >= thr)), 4),
                    "pool_windows_firing": round(float(np.mean(p_neg >= thr)), 5),
                    "enrol_seconds": round(seconds, 2),
                    **({"command_clips_vetoed": vetoes} if vetoes is not None else {})},
        "embedding": embedding_id,
        "pool": {"file": pool.path.name, "sha1": pool.digest,
                 "negatives": "commands and noise" if ignore else "all but the word",
                 "same_word": like,
                 "left_out": int(np.sum(~pool.keep([norm, *like], commands_only=ignore)))},
        "augment": {"variants": len(vs),
                    "snrs_db": list(config.snrs_db), "seed": config.seed},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": __version__,
    }
    word = save_word(norm, card, detector.arrays(), [t.audio for t in takes], root,
                     replace=replace)
    report(1.0, "done")
    return word


def retrain(word: StoredWord, embed: EmbedFn, pool: NegativePool,
            config: UserWordsConfig = UserWordsConfig(), root: Path | None = None,
            embedding_id: str = "") -> StoredWord:
    """Enrol ``word`` again from its kept takes, on ``embed`` and ``pool``
    (after an update changed either), keeping its name, role and threshold
    (a word to ignore's threshold, its veto level, is chosen anew:
    :func:`veto_level` depends on the pool).

    Raises:
        BadTakeError: a kept take is missing or no longer usable (the stored
            word is left as it was).
    """
    paths = word.take_paths()
    if not paths:
        raise BadTakeError(f"{word.path}: the card lists no kept takes; enrol "
                           f"{word.name!r} again from recordings")
    takes = load_takes(paths, config, word.ignore)
    return enrol(word.name, takes, embed, pool, config, root, embedding_id=embedding_id,
                 ignore=word.ignore, replace=True,
                 threshold=None if word.ignore else word.threshold)
