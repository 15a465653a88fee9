"""The bundled negative pool, ``assets/models/embed/negatives.npz``
(built by ``python -m training.user_negatives``; layout in
docs/contracts.md section 3).

Arrays (plain, ``allow_pickle=False``):

- ``embeddings`` ``[N, CLIP_FRAMES, 96]`` float16: each clip's embeddings
  (the clip is 1.74 s: ``CLIP_FRAMES - 9`` windows of 10);
- ``word`` ``[N]`` str: the word said (lower case; "" for noise);
- ``source`` ``[N]`` str: where it came from (``wake_words/alexa``, ``noise``...);
- ``noise_audio`` int16 and ``noise_lengths`` int64: real background noise
  (unit RMS / 10, recordings one after another) for augmenting takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from kwsapp import COMMAND_LABELS
from kwsapp.errors import ModelError

POOL_FILE = "negatives.npz"
REQUIRED = ("embeddings", "word", "source", "noise_audio", "noise_lengths")


def same_word(a: str, b: str) -> bool:
    """Whether two spellings name the same word (case, ``_``/``-`` and spaces
    do not count)."""
    def norm(s: str) -> str:
        return " ".join(s.lower().replace("_", " ").replace("-", " ").split())
    return norm(a) == norm(b)


@dataclass(frozen=True)
class NegativePool:
    path: Path
    embeddings: np.ndarray
    word: np.ndarray
    source: np.ndarray
    noise: tuple[np.ndarray, ...]
    digest: str
    _features: np.ndarray | None = None

    def keep(self, leave_out: str | Sequence[str] | None,
             commands_only: bool = False) -> np.ndarray:
        """Mask of the clips whose word is not ``leave_out`` (one word or
        several); with ``commands_only``, of the commands' clips and the
        noise alone."""
        mask = np.ones(len(self.word), bool)
        out = [leave_out] if isinstance(leave_out, str) else list(leave_out or ())
        if out:
            mask &= np.array([not any(same_word(str(w), o) for o in out) for w in self.word])
        if commands_only:
            mask &= np.isin(self.word, ("",) + COMMAND_LABELS)
        return mask

    def windows(self, leave_out: str | Sequence[str] | None = None,
                commands_only: bool = False) -> np.ndarray:
        """Every window ``[n, 10, 96]`` float32 of the clips :meth:`keep` keeps."""
        from kwsapp.userwords.detector import sliding_windows

        emb = self.embeddings[self.keep(leave_out, commands_only)].astype(np.float32)
        return np.concatenate([sliding_windows(e) for e in emb])

    def clip_features(self) -> np.ndarray:
        """``[clips, windows per clip, F]``: :func:`~kwsapp.userwords.detector.window_features`
        of every window of every clip (computed once per pool)."""
        from kwsapp.userwords.detector import sliding_windows, window_features

        if self._features is None:
            emb = self.embeddings.astype(np.float32)
            per = sliding_windows(emb[0]).shape[0]
            feats = window_features(np.concatenate([sliding_windows(e) for e in emb]))
            object.__setattr__(self, "_features", feats.reshape(len(emb), per, -1))
        return self._features

    def features(self, leave_out: str | Sequence[str] | None = None,
                 commands_only: bool = False) -> np.ndarray:
        """:meth:`clip_features` of the clips :meth:`keep` keeps, one row per window."""
        feats = self.clip_features()
        return feats[self.keep(leave_out, commands_only)].reshape(-1, feats.shape[-1])


def pool_path(model_dir: Path) -> Path:
    """Where an artifact folder keeps its negative pool."""
    return Path(model_dir) / POOL_FILE


@lru_cache(maxsize=2)
def load_pool(path: str | Path) -> NegativePool:
    """Read and check the pool (cached: enrolling several words reads it once).

    Raises:
        ModelError: missing or malformed.
    """
    import hashlib

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: the user-word negative pool is missing (make models, or "
                         "python -m training.user_negatives)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in REQUIRED}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: not a negative pool ({exc})") from None
    emb = arrays["embeddings"]
    if emb.ndim != 3 or emb.shape[2] != 96 or len(arrays["word"]) != emb.shape[0]:
        raise ModelError(f"{path}: embeddings {emb.shape} do not match {len(arrays['word'])} words")
    noise_audio = arrays["noise_audio"].astype(np.float32) / 32767.0
    noise = tuple(np.split(noise_audio, np.cumsum(arrays["noise_lengths"])[:-1]))
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    return NegativePool(path, emb, arrays["word"], arrays["source"], noise, digest)
