"""The training data as model inputs: split, decode, place each clip in the
model's window, augment, and run the model's front end once over it all,
cached on disk (step 2 of training/train.py's run)."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

from kwsapp import LABELS
from kwsapp.atomic import write_atomic
from kwsapp.audio.io import fit_length, resample
from kwsapp.config import SAMPLE_RATE_HZ
from kwsapp.errors import BadInputError
from training import data
from training.config import AugmentConfig, TrainConfig
from training.progress import bar_interval

log = logging.getLogger(__name__)


def window_samples(module: ModuleType) -> int:
    """Samples at 16 kHz of the window the architecture ``module`` classifies."""
    return int(round(module.WINDOW_MS * SAMPLE_RATE_HZ / 1000.0))


def frontend_of(module: ModuleType, weights: str = "float"
                ) -> Callable[[np.ndarray], np.ndarray]:
    """``[n, window] float32 16 kHz -> [n, ...]`` model inputs: the module's
    own ``frontend`` (``embed``: the embedding, of ``weights`` precision,
    ``TrainConfig.embedding_weights``) or the card input's."""
    if hasattr(module, "frontend"):
        if weights != "float":
            return functools.partial(module.frontend, weights=weights)
        return module.frontend
    spec = module.INPUT
    rate = int(spec.get("sample_rate_hz", SAMPLE_RATE_HZ))

    def run(windows: np.ndarray) -> np.ndarray:
        rows = []
        for w in windows:
            x = resample(w, SAMPLE_RATE_HZ, rate)
            if spec["kind"] != "waveform":
                from kwsapp import features

                x = features.compute(spec["kind"], x, sample_rate_hz=rate,
                                     **spec.get("params", {}))
            rows.append(x.astype(np.float32))
        return np.stack(rows)

    return run


def frontend_id(module: ModuleType, cfg: TrainConfig) -> str:
    """What the front end's output depends on (part of its cache key).

    Raises:
        BadInputError: ``cfg.embedding_weights`` is not a precision the
            module's front end has.
    """
    if cfg.embedding_weights == "float":
        return getattr(module, "FRONTEND_ID", json.dumps(module.INPUT, sort_keys=True))
    from training.models.embedding_int8 import PRECISIONS

    if not hasattr(module, "frontend_id") or cfg.embedding_weights not in PRECISIONS:
        raise BadInputError(f"embedding_weights {cfg.embedding_weights!r}: the embed model "
                            f"takes one of {PRECISIONS}; other models have no embedding")
    return module.frontend_id(cfg.embedding_weights)


def _augmenter(data_dir: Path, aug: AugmentConfig, cfg: TrainConfig
               ) -> Callable[..., np.ndarray]:
    """training/augment.py's Augmenter, then a random gain: without it
    quiet words look like silence to a level-sensitive front end."""
    from training.augment import Augmenter

    augment = Augmenter(data.background_noise(data_dir), aug, seed=cfg.seed)
    low, high = cfg.gain_db_range

    def run(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        y = augment(window, rng) * np.float32(10.0 ** (rng.uniform(low, high) / 20.0))
        return np.clip(y, -1.0, 1.0)

    return run


def feature_bank(module: ModuleType, audio: np.ndarray, copies: int, cache_key: str,
                 cache: Path, augment: Callable[..., np.ndarray] | None, seed: int,
                 chunk: int = 256, weights: str = "float") -> np.ndarray:
    """Front-end output of ``copies`` versions of each clip, cached.

    Copy 0 is the clip as is; copies 1.. are augmented with
    ``augment(window, rng)``, ``rng`` seeded by (seed, copy, clip index).
    ``weights``: the embedding's precision (:func:`frontend_of`; part of
    ``cache_key``).

    Returns:
        ``[copies, n, ...]`` float32, memory-mapped from the cache.
    """
    path = cache / f"features-{cache_key}.npy"
    if path.is_file():
        try:
            bank = np.load(path, mmap_mode="r")
            if bank.shape[:2] == (copies, len(audio)):
                log.info("front-end features from cache %s", path)
                return bank
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache %s (%s)", path, exc)
    n_window = window_samples(module)
    front = frontend_of(module, weights)
    from tqdm import tqdm

    def write(tmp: Path) -> None:
        # Written straight into a memory map of the temporary file: the bank
        # may not fit in memory twice.
        out = None
        with tqdm(total=copies * len(audio), desc="front end", unit="clip",
                  file=sys.stderr, leave=False, mininterval=bar_interval()) as bar:
            for k in range(copies):
                for start in range(0, len(audio), chunk):
                    windows = []
                    for i in range(start, min(start + chunk, len(audio))):
                        w = fit_length(np.asarray(audio[i], np.float32), n_window)
                        if k > 0 and augment is not None:
                            w = augment(w, np.random.default_rng([seed, k, i]))
                        windows.append(w)
                    feats = front(np.stack(windows))
                    if out is None:
                        out = np.lib.format.open_memmap(
                            tmp, mode="w+", dtype=np.float32,
                            shape=(copies, len(audio), *feats.shape[1:]))
                    out[k, start:start + len(feats)] = feats
                    bar.update(len(feats))
        assert out is not None
        out.flush()

    write_atomic(path, write, follow_symlinks=False)
    return np.load(path, mmap_mode="r")


@dataclasses.dataclass
class Prepared:
    """Model inputs by split. ``x_train`` is ``[copies, n, ...]``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    clips: dict[str, list[data.Clip]]
    audio_val: np.ndarray
    #: Other speech for the training split's ``unknown`` class
    #: (training/negatives): ``[copies, n, ...]``, drawn apart from the
    #: clips (``TrainConfig.negatives_per_epoch``); ``clips["negatives"]``.
    x_neg: np.ndarray | None = None


def prepare(data_dir: Path, module: ModuleType, arch: str, cfg: TrainConfig,
            aug: AugmentConfig, cache: Path | None = None,
            mined: Sequence[data.Clip] = ()) -> Prepared:
    """Split, decode, augment and run the front end (all cached).

    Args:
        mined: windows of other speech that fired an earlier model
            (training/negatives/mining.py), added to the negatives.
    """
    from training.negatives import kept, training_negatives

    cache = cache or data.cache_dir()
    split = data.split_clips(data_dir, cfg)
    split["train"] = data.subsample(split["train"], cfg.max_train_clips, cfg.seed)
    split["validation"] = data.subsample(split["validation"], cfg.max_val_clips, cfg.seed)
    split["test"] = data.subsample(split["test"], cfg.max_val_clips, cfg.seed)
    if cfg.synthetic_unknown:
        from training.negatives.tts import legacy_espeak_unknown

        split["train"] = split["train"] + legacy_espeak_unknown(cache)
    if cfg.synthetic_commands:
        from training.negatives.tts import tts_commands

        split["train"] = split["train"] + tts_commands(cache, "train")
    if not split["train"] or not split["validation"]:
        raise BadInputError(f"{data_dir}: too few speakers for a training and a validation "
                            f"split ({data.summary(split)})")
    # Refused before the costly embedding; warned once, after it (below).
    _check_classes(data_dir, split["train"], warn=False)
    front_id = frontend_id(module, cfg)
    out: dict[str, Any] = {}

    def bank_of(clips: list[data.Clip], copies: int, n_samples: int = data.CLIP_SAMPLES
                ) -> tuple[np.ndarray, np.ndarray, list[data.Clip]]:
        audio, clips = data.load_clips(clips, n_samples, cache=cache)
        aug_fn = _augmenter(data_dir, aug, cfg) if copies > 1 else None
        key = data.clips_hash(clips, arch, front_id, window_samples(module), copies,
                              dataclasses.asdict(aug) if aug_fn else None, cfg.seed,
                              cfg.gain_db_range if aug_fn else None)
        bank = feature_bank(module, audio, copies, key, cache, aug_fn, cfg.seed,
                            weights=cfg.embedding_weights) \
            if len(audio) else np.zeros((1, 0), np.float32)
        return bank, audio, clips

    for name in data.SPLITS:
        if name == "train":
            # One bank per origin (the data set, tts/..., ...): recipes that
            # add or drop generated clips reuse the others' cached embeddings.
            groups: dict[str, list[data.Clip]] = {}
            for c in split[name]:
                # The first espeak words stay with the data set's clips: the
                # bank they were embedded in keeps hitting the cache.
                origin = "" if c.source.endswith("/legacy") else c.source.split("/")[0]
                groups.setdefault(origin, []).append(c)
            parts = [bank_of(g, cfg.aug_copies) for g in groups.values()]
            parts = [p for p in parts if len(p[2])]
            if not parts:
                raise BadInputError(f"{data_dir}: none of the {len(split[name])} training "
                                    "clips could be read (each file is named above)")
            bank = np.concatenate([np.asarray(p[0]) for p in parts], axis=1) \
                if len(parts) > 1 else parts[0][0]
            split[name] = [c for p in parts for c in p[2]]
            if cfg.negatives_exclude:
                # A held-out word is never trained on: its own clips in the
                # data set (an `unknown` word such as "bed") leave with its
                # negatives; dropped after embedding, so the cache still hits.
                keep = kept(split[name], cfg.negatives_exclude)
                if len(keep) < len(split[name]):
                    bank = np.asarray(bank)[:, keep]
                    split[name] = [split[name][i] for i in keep]
        else:
            bank, audio, split[name] = bank_of(split[name], 1)
        if name == "validation" and not split[name]:
            raise BadInputError(f"{data_dir}: none of the validation clips could be read "
                                "(each file is named above)")
        out[name] = (bank if name == "train" else bank[0], data.label_indices(split[name]))
        if name == "validation":
            out["audio_val"] = audio
    _check_classes(data_dir, split["train"])  # unreadable files may have left one
    x_neg = None
    if cfg.negatives or mined:
        # One embedding bank per kind: recipes sharing a kind share its cache.
        groups = list(training_negatives(data_dir, split["train"], cfg, cache,
                                         window_samples(module)).values())
        banks, negs = [], []
        for group in groups + ([list(mined)] if mined else []):
            group = data.subsample(group, cfg.max_negatives, cfg.seed)
            bank, _, group = bank_of(group, cfg.negative_copies, window_samples(module))
            keep = kept(group, cfg.negatives_exclude)
            if not keep:
                continue
            banks.append(np.asarray(bank[:, keep]))
            negs += [group[i] for i in keep]
        x_neg = np.concatenate(banks, axis=1) if banks else None
        split["negatives"] = negs
    return Prepared(out["train"][0], out["train"][1], out["validation"][0],
                    out["validation"][1], out["test"][0], out["test"][1], split,
                    out["audio_val"], x_neg)


def _check_classes(data_dir: Path, clips: Sequence[data.Clip], warn: bool = True) -> None:
    """Refuse training clips of a single class (a model that can only say
    it); with ``warn``, name the classes with no training clip (the model
    never says them).

    Raises:
        BadInputError: ``clips`` hold fewer than two classes.
    """
    have = {c.label for c in clips}
    if len(have) < 2:
        raise BadInputError(f"{data_dir}: the training clips are all of one class "
                            f"({', '.join(sorted(have))}); a model needs clips of two or "
                            f"more (folders such as yes/, no/, _unknown_/)")
    missing = [label for label in LABELS if label not in have]
    if warn and missing:
        log.warning("%s: no training clips of %s: the model will never say %s", data_dir,
                    ", ".join(missing), "it" if len(missing) == 1 else "them")

