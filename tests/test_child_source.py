"""The window's capture child (kwsapp/audio/child_source.py): the shared
ring's exact values across wraps, and a missing device as the same one
line as in-process. (Its stream, loss and restart on a real JACK server:
tests/test_gui_reconnect.py, tests/test_device_faults.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from kwsapp.audio.child_source import SharedRing


def test_shared_ring_gives_every_sample_once_across_wraps():
    writer = SharedRing(100)
    reader = SharedRing(100, name=writer.name)  # as the other process sees it
    try:
        got, cursor, n = [], 0, 0
        for size in (7, 33, 64, 99, 1, 50, 77):
            writer.write(np.arange(n, n + size, dtype=np.float32))
            n += size
            samples, cursor = reader.read_from(cursor)
            got.append(samples)
        assert cursor == n == reader.written
        assert np.array_equal(np.concatenate(got), np.arange(n, dtype=np.float32))
        writer.count_overflow()
        assert reader.overflows == 1
    finally:
        reader.close()
        writer.close(unlink=True)


def test_shared_ring_says_when_the_block_the_reader_waits_for_is_written():
    """The engine's pipeline sleeps until the child's callback says the
    samples it needs are there: the write that reaches the mark says so,
    no other."""
    writer = SharedRing(1000)
    reader = SharedRing(1000, name=writer.name)  # as the other process sees it
    try:
        assert reader.wake_at(2000)  # not written yet: the writer will say
        said = [writer.write(np.ones(960, np.float32)) for _ in range(3)]
        assert said == [False, False, True]  # 960, 1920, 2880: the third reaches 2000
        assert writer.write(np.ones(960, np.float32)) is False  # said once only
        assert not reader.wake_at(3000)  # already there: nobody will say
        assert reader.wake_at(3841) and writer.write(np.ones(1, np.float32))  # exact mark
    finally:
        reader.close()
        writer.close(unlink=True)


def test_shared_ring_reader_behind_gets_the_newest_capacity():
    ring = SharedRing(100)
    try:
        ring.write(np.arange(250, dtype=np.float32))  # more than the ring at once
        ring.write(np.arange(250, 290, dtype=np.float32))
        samples, cursor = ring.read_from(0)
        assert cursor == 290
        assert np.array_equal(samples, np.arange(190, 290, dtype=np.float32))
        assert ring.read_from(cursor)[0].size == 0
    finally:
        ring.close(unlink=True)


def test_missing_device_is_the_same_one_line_as_in_process():
    pytest.importorskip("sounddevice")
    from kwsapp.audio.child_source import ChildSource
    from kwsapp.errors import DeviceError

    with pytest.raises(DeviceError) as caught:
        ChildSource("no-such-device-1234")
    message = str(caught.value)
    assert "\n" not in message
    assert "no-such-device-1234" in message or "no audio input device found" in message
