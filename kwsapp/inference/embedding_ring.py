"""The last embeddings of a stream with their indices (one per 80 ms).

Embedding ``j`` covers the stream's 16 kHz samples ``[j * hop, j * hop +
input_samples)``; the ring keeps the newest ``capacity`` of them so the
command head and user-word detectors read the same vectors, each computed
once.
"""

from __future__ import annotations

import numpy as np


class EmbeddingRing:
    """Fixed-size store of ``[dim]`` float32 embeddings by stream index.

    Args:
        capacity: embeddings kept (older ones are overwritten).
        dim: length of one embedding.
        hop_samples, input_samples, sample_rate_hz: the time grid (for
            :meth:`end_s`).

    One thread writes (:meth:`put`); readers on other threads may see a
    lagging view (they read copies).
    """

    def __init__(self, capacity: int, dim: int, hop_samples: int, input_samples: int,
                 sample_rate_hz: int) -> None:
        self.capacity = max(1, int(capacity))
        self._data = np.zeros((self.capacity, dim), np.float32)
        self.hop_samples, self.input_samples = hop_samples, input_samples
        self.sample_rate_hz = sample_rate_hz
        self.first: int | None = None  # oldest index held
        self.next: int | None = None  # one past the newest index

    def end_sample(self, j: int) -> int:
        """Stream sample just after embedding ``j``'s audio."""
        return j * self.hop_samples + self.input_samples

    def end_s(self, j: int) -> float:
        """Stream time (s) at the end of embedding ``j``'s audio."""
        return self.end_sample(j) / float(self.sample_rate_hz)

    def clear(self) -> None:
        self.first = self.next = None

    def put(self, j: int, embedding: np.ndarray) -> None:
        """Store embedding ``j``: the next index, or any index after a
        :meth:`clear` (a gap clears the ring first)."""
        if self.next is not None and j != self.next:
            self.clear()
        if self.first is None:
            self.first = j
        self._data[j % self.capacity] = embedding
        self.next = j + 1
        self.first = max(self.first, self.next - self.capacity)

    def has(self, first: int, last: int) -> bool:
        """Whether embeddings ``first .. last - 1`` are all held."""
        return self.first is not None and self.first <= first and last <= self.next

    def get(self, first: int, last: int) -> np.ndarray:
        """Embeddings ``first .. last - 1`` as ``[last - first, dim]`` (a copy).

        Raises:
            KeyError: some are not held.
        """
        if not self.has(first, last):
            raise KeyError(f"embeddings {first}..{last - 1} not held "
                           f"(held {self.first}..{None if self.next is None else self.next - 1})")
        start = first % self.capacity
        if start + last - first <= self.capacity:  # no wrap: one slice
            return self._data[start:start + last - first].copy()
        return self._data[np.arange(first, last) % self.capacity]
