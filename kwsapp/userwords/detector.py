"""The word detector: a small network on windows of the speech embedding.

A window is the last ``FRAMES`` embeddings (1.5 s of audio, as the command
head reads). Its features are the mean and the maximum of the embeddings
over the window and over its two halves (order matters: "mirror smart" is
not "smart mirror"), standardized. A one-hidden-layer network (``HIDDEN``
tanh units, sigmoid output) is fit by L-BFGS (scipy) on the take variants
(positives) against the negative pool, class-balanced, with L2 weight decay:
a few thousand windows, well under a second on one core.

The weights are plain arrays (saved with ``numpy.savez``, never pickled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAMES = 10  # embeddings per window (1.5 s)
DIM = 96


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
    """Standardize -> tanh hidden layer -> logit -> sigmoid."""

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


def train_detector(pos: np.ndarray, neg: np.ndarray, hidden: int = 16, l2: float = 1e-2,
                   seed: int = 0, max_iter: int = 300, neg_weight: float = 1.0) -> Detector:
    """Fit a detector on positive and negative feature rows.

    Args:
        pos, neg: ``[n, F]`` features (:func:`window_features`).
        hidden: hidden units.
        l2: weight decay (on the standardized inputs' scale).
        neg_weight: total weight of the negatives relative to the positives.
    """
    import scipy.optimize  # lazy: only enrolment fits (1.8 s of a cold classify)

    x = np.concatenate([pos, neg]).astype(np.float32)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    weight = np.concatenate([np.full(len(pos), 0.5 / len(pos)),
                             np.full(len(neg), 0.5 * neg_weight / len(neg))])
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    x = ((x - mean) / scale).astype(np.float32)
    n_feat = x.shape[1]
    rng = np.random.default_rng(seed)
    shapes = [(n_feat, hidden), (hidden,), (hidden,), ()]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(theta: np.ndarray) -> list[np.ndarray]:
        out, i = [], 0
        for shape, size in zip(shapes, sizes):
            out.append(theta[i:i + size].reshape(shape))
            i += size
        return out

    if hidden == 0:  # logistic regression: convex, one product per step
        shapes = [(n_feat,), ()]
        sizes = [n_feat, 1]

    def linear_loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w.astype(np.float32) + b  # float32 products: mixed types copy x
        p = 1.0 / (1.0 + np.exp(-z))
        dz = weight * (p - y)
        value = float(np.sum(weight * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * np.sum(w * w)
        return value, np.concatenate([x.T @ dz.astype(np.float32) + l2 * w, [np.sum(dz)]])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w1, b1, w2, b2 = unpack(theta)
        h = np.tanh(x @ w1.astype(np.float32) + b1)
        z = h @ w2 + b2
        # Cross-entropy with logits, stable for large |z|.
        ce = np.logaddexp(0.0, z) - y * z
        p = 1.0 / (1.0 + np.exp(-z))
        dz = weight * (p - y)
        value = float(np.sum(weight * ce)) + 0.5 * l2 * (np.sum(w1 ** 2) + np.sum(w2 ** 2))
        gw2 = h.T @ dz + l2 * w2
        gb2 = np.sum(dz)
        dh = np.outer(dz, w2) * (1.0 - h ** 2)
        gw1 = x.T @ dh.astype(np.float32) + l2 * w1
        gb1 = dh.sum(axis=0)
        return value, np.concatenate([gw1.ravel(), gb1, gw2, [gb2]])

    if hidden == 0:
        res = scipy.optimize.minimize(linear_loss, np.zeros(n_feat + 1), jac=True,
                                      method="L-BFGS-B", options={"maxiter": max_iter})
        return Detector(mean.astype(np.float32), scale.astype(np.float32),
                        np.zeros((n_feat, 0), np.float32), np.zeros(0, np.float32),
                        res.x[:-1].astype(np.float32), float(res.x[-1]))
    theta0 = np.concatenate([rng.normal(0, 1.0 / np.sqrt(n_feat), n_feat * hidden),
                             np.zeros(hidden), rng.normal(0, 1.0 / np.sqrt(hidden), hidden),
                             [0.0]])
    res = scipy.optimize.minimize(loss, theta0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": max_iter})
    w1, b1, w2, b2 = unpack(res.x)
    return Detector(mean.astype(np.float32), scale.astype(np.float32), w1.astype(np.float32),
                    b1.astype(np.float32), w2.astype(np.float32), float(b2))
