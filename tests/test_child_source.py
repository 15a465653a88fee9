"""The window's capture child (kwsapp/audio/child_source.py): the shared
ring's exact values across wraps, a missing device as the same one line
as in-process, and a child silent past the open limit killed and said.
(Its stream, loss and restart on a real JACK server:
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


#: A capture child that hangs as one stuck in PortAudio's start does (on a
#: sound server that answers nobody): it reads nothing and says nothing,
#: after saying it found 'mock mic' when given an argument. A stand-in: a
#: real hang needs a frozen JACK server (tests/test_device_faults.py has
#: that case, for the first wait); this one reaches the second wait too.
HANGING_CHILD = """
import json, sys, time
if sys.argv[1:2] == ["--found"]:
    print(json.dumps({"name": "mock mic", "rate": 16000, "notice": None}), flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("found", [False, True], ids=["finding", "starting"])
def test_a_child_silent_past_the_open_limit_is_killed_and_said(monkeypatch, found):
    """Either wait of an open (the device found, the stream started) gives
    up past ``open_timeout_s``: one line naming the device (the one asked
    for, or the child's name for it once found) and what to do; the child
    is killed then, not left hanging."""
    import subprocess
    import sys
    import time

    from kwsapp.audio import child_source
    from kwsapp.errors import DeviceError

    made: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(cmd, **kwargs):  # notes the child, to see it killed
        made.append(real_popen(cmd, **kwargs))
        return made[-1]

    monkeypatch.setattr(child_source, "CHILD_COMMAND", [sys.executable, "-c", HANGING_CHILD,
                                                        *(["--found"] if found else [])])
    monkeypatch.setattr(child_source.subprocess, "Popen", popen)
    asked = time.monotonic()
    with pytest.raises(DeviceError) as caught:
        source = child_source.ChildSource(None, open_timeout_s=0.5)
        try:
            source.start(None)
        finally:
            source.stop()
    took = time.monotonic() - asked
    name = "input device 'mock mic'" if found else "the default input device"
    assert str(caught.value) == (f"{name} did not open in 0.5 s (the sound system did not "
                                 "answer); pick another input device or check the sound server")
    assert len(made) == 1 and made[0].poll() is not None  # killed, and reaped
    assert took < 5.0, took  # Python's start, 0.5 s, the kill: not the child's 20 s
