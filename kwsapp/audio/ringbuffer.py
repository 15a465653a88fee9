"""A float32 mono ring buffer with one writer and any number of readers.

Each block is written twice (storage is ``2 * capacity``), so any read of up
to ``capacity`` samples is one contiguous slice (friture's ``ringbuffer.py``
does the same). Readers keep their own absolute cursors (sample counts since
the stream started); the writer never waits for them. A reader that falls
more than ``capacity`` behind gets :class:`RingOverrun` and the ``overruns``
counter goes up. Each write is stamped with the monotonic clock, so a
reader can tell when the next samples of a paced (live) stream are due
instead of polling for them.
"""

from __future__ import annotations

import time

import numpy as np


class RingOverrun(LookupError):
    """The samples asked for were already overwritten."""


class RingBuffer:
    """float32 mono ring, written by one producer; readers keep absolute cursors.

    Args:
        capacity_samples: how many of the latest samples stay readable.
    """

    def __init__(self, capacity_samples: int) -> None:
        if capacity_samples <= 0:
            raise ValueError(f"capacity must be positive, not {capacity_samples}")
        self.capacity = int(capacity_samples)
        self._data = np.zeros(2 * self.capacity, dtype=np.float32)
        self._written = 0
        self.overruns = 0
        #: ``(total_written, time.monotonic(), block length)`` just after the
        #: last write (one tuple, so a reader never pairs a count with another
        #: write's time).
        self.written_at: tuple[int, float, int] | None = None

    @property
    def total_written(self) -> int:
        """Absolute number of samples ever written."""
        return self._written

    @property
    def oldest(self) -> int:
        """Absolute index of the oldest sample still held."""
        return max(0, self._written - self.capacity)

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (mono, any float dtype). Producer only; never blocks.

        Only the cursor update publishes the new samples, so a reader never
        sees a half-written block as valid (CPython assigns the int atomically).
        """
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        n = block.shape[0]
        if n == 0:
            return
        if n > self.capacity:  # only the newest `capacity` samples can stay
            self._written += n - self.capacity
            block = block[-self.capacity:]
            n = self.capacity
        cap = self.capacity
        pos = self._written % cap
        first = min(n, cap - pos)
        # Write both copies: [pos, pos+n) and [pos+cap, pos+cap+n), wrapping
        # the second one to the start of the storage.
        self._data[pos:pos + first] = block[:first]
        self._data[pos + cap:pos + cap + first] = block[:first]
        if first < n:
            rest = n - first
            self._data[:rest] = block[first:]
            self._data[cap:cap + rest] = block[first:]
        self._written += n
        self.written_at = (self._written, time.monotonic(), n)

    def read(self, start: int, n: int) -> np.ndarray:
        """A copy of absolute samples ``[start, start + n)``.

        Samples before the stream start (negative indices) read as zeros.

        Raises:
            RingOverrun: part of the range was already overwritten.
            ValueError: the range reaches past ``total_written`` or is longer
                than the capacity.
        """
        if n < 0 or n > self.capacity:
            raise ValueError(f"cannot read {n} samples from a ring of {self.capacity}")
        end = start + n
        if end > self._written:
            raise ValueError(f"samples up to {end} asked, only {self._written} written")
        out = np.zeros(n, dtype=np.float32)
        lead = min(n, max(0, -start))  # zeros before the stream began
        if lead < n:
            s = start + lead
            if s < self._written - self.capacity:
                self.overruns += 1
                raise RingOverrun(f"samples from {s} overwritten (oldest held: {self.oldest})")
            pos = s % self.capacity
            out[lead:] = self._data[pos:pos + n - lead]
            # The writer may have lapped us while we copied: then the copy
            # is not to be trusted.
            if s < self._written - self.capacity:
                self.overruns += 1
                raise RingOverrun(f"samples from {s} overwritten while reading")
        return out

    def latest(self, n: int) -> np.ndarray:
        """The last ``n`` samples (zeros before the start of the stream)."""
        n = min(int(n), self.capacity)
        end = self._written
        try:
            return self.read(end - n, n)
        except RingOverrun:  # lapped while copying: try once more from the new end
            end = self._written
            return self.read(end - n, n)
