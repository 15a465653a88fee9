"""The word detector: a small network on windows of the speech embedding.

A window is the last ``FRAMES`` embeddings (1.5 s of audio, as the command
head reads). Its features are the mean and the maximum of the embeddings
over the window and over its two halves (order matters: "mirror smart" is
not "smart mirror"), standardized. A logistic regression is fit by L-BFGS
(scipy) on the take variants (positives) against the negative pool,
class-balanced, with L2 weight decay: a few thousand windows, well under a
second on one core. The stored format has room for a tanh hidden layer
(``w1``, ``b1``; empty as enrolment trains them), which :class:`Detector`
reads.

The weights are plain arrays (saved with ``numpy.savez``, never pickled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAMES = 10  # embeddings per window (1.5 s)
DIM = 96
#: The embedding's grid: one embedding every ``HOP_SAMPLES`` (80 ms), each
#: from ``FIELD_SAMPLES`` of 16 kHz audio (775 ms), so embedding ``j``
#: reads samples ``[j * HOP_SAMPLES, j * HOP_SAMPLES + FIELD_SAMPLES)``.
HOP_SAMPLES = 1280
FIELD_SAMPLES = 12400
#: Samples under a window of ``FRAMES`` embeddings (1.5 s).
WINDOW_SAMPLES = FIELD_SAMPLES + (FRAMES - 1) * HOP_SAMPLES


def window_features(windows: np.ndarray) -> np.ndarray:
    """``[n, FRAMES, DIM]`` embedding windows -> ``[n, 6 * DIM]`` features."""
    w = np.asarray(windows, np.float32)
    half = w.shape[1] // 2
    parts = [w, w[:, :half], w[:, half:]]
    return np.concatenate([p.mean(axis=1) for p in parts] + [p.max(axis=1) for p in parts],
                          axis=1)


def sliding_windows(embeddings: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """Every window of ``frames`` consecutive rows of ``[T, DIM]``:
    ``[T - frames + 1, frames, DIM]`` (a view; window ``i`` ends at row
    ``i + frames - 1``)."""
    e = np.asarray(embeddings)
    if e.shape[0] < frames:
        return np.zeros((0, frames, e.shape[1]), e.dtype)
    return np.lib.stride_tricks.sliding_window_view(e, frames, axis=0).transpose(0, 2, 1)


@dataclass
class Detector:
    """Standardize -> tanh hidden layer (none when ``w1`` is empty) -> logit."""

    mean: np.ndarray  # [F]
    scale: np.ndarray  # [F]
    w1: np.ndarray  # [F, H]
    b1: np.ndarray  # [H]
    w2: np.ndarray  # [H]
    b2: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, np.float32) - self.mean) / self.scale
        if self.w1.size:
            x = np.tanh(x @ self.w1 + self.b1)
        return x @ self.w2 + self.b2

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``numpy.savez``."""
        return {"mean": self.mean, "scale": self.scale, "w1": self.w1, "b1": self.b1,
                "w2": self.w2, "b2": np.float32(self.b2)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Detector":
        return cls(mean=np.asarray(arrays["mean"], np.float32),
                   scale=np.asarray(arrays["scale"], np.float32),
                   w1=np.asarray(arrays["w1"], np.float32), b1=np.asarray(arrays["b1"], np.float32),
                   w2=np.asarray(arrays["w2"], np.float32), b2=float(arrays["b2"]))


def train_detector(pos: np.ndarray, neg: np.ndarray, l2: float = 1e-2,
                   max_iter: int = 300) -> Detector:
    """Fit a logistic regression on positive and negative feature rows,
    class-balanced (a detector without a hidden layer).

    Args:
        pos, neg: ``[n, F]`` features (:func:`window_features`).
        l2: weight decay (on the standardized inputs' scale).
    """
    import scipy.optimize  # lazy: only enrolment fits (1.8 s of a cold classify)

    x = np.concatenate([pos, neg]).astype(np.float32)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    weight = np.concatenate([np.full(len(pos), 0.5 / len(pos)),
                             np.full(len(neg), 0.5 / len(neg))])
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    x = ((x - mean) / scale).astype(np.float32)
    n_feat = x.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w.astype(np.float32) + b  # float32 products: mixed types copy x
        p = 1.0 / (1.0 + np.exp(-z))
        dz = weight * (p - y)
        value = float(np.sum(weight * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * np.sum(w * w)
        return value, np.concatenate([x.T @ dz.astype(np.float32) + l2 * w, [np.sum(dz)]])

    res = scipy.optimize.minimize(loss, np.zeros(n_feat + 1), jac=True,
                                  method="L-BFGS-B", options={"maxiter": max_iter})
    return Detector(mean.astype(np.float32), scale.astype(np.float32),
                    np.zeros((n_feat, 0), np.float32), np.zeros(0, np.float32),
                    res.x[:-1].astype(np.float32), float(res.x[-1]))
