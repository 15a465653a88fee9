"""RingBuffer: exact values with arange blocks, wrap-around, overruns."""

import numpy as np
import pytest

from kwsapp.audio.ringbuffer import RingBuffer, RingOverrun


def test_reads_exact_values_across_wraparound():
    ring = RingBuffer(10)
    data = np.arange(37, dtype=np.float32)
    for i in range(0, 37, 3):  # blocks of 3 lap the 10-sample ring several times
        ring.write(data[i:i + 3])
        end = ring.total_written
        n = min(end, 10)
        np.testing.assert_array_equal(ring.read(end - n, n), data[end - n:end])
    assert ring.total_written == 37
    np.testing.assert_array_equal(ring.latest(10), data[27:])


def test_before_the_start_reads_zeros():
    ring = RingBuffer(8)
    ring.write(np.arange(1, 4, dtype=np.float32))
    np.testing.assert_array_equal(ring.latest(5), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(ring.read(-2, 4), [0, 0, 1, 2])


def test_overwritten_samples_raise_and_count_an_overrun():
    ring = RingBuffer(10)
    ring.write(np.arange(25, dtype=np.float32))
    assert ring.oldest == 15
    with pytest.raises(RingOverrun):
        ring.read(14, 3)
    assert ring.overruns == 1
    np.testing.assert_array_equal(ring.read(15, 10), np.arange(15, 25))


def test_block_longer_than_capacity_keeps_the_newest():
    ring = RingBuffer(4)
    ring.write(np.arange(9, dtype=np.float32))
    assert ring.total_written == 9
    np.testing.assert_array_equal(ring.latest(4), [5, 6, 7, 8])


def test_reading_past_the_written_end_is_an_error():
    ring = RingBuffer(4)
    ring.write(np.ones(2, np.float32))
    with pytest.raises(ValueError):
        ring.read(1, 2)
