"""Issue 15, a model too slow for real time: windows are dropped, counted
and shown (engine stats, the window's status bar), and nothing grows: the
hand-off queue stays at its bound and memory stays flat.

The slow model is a TEST DOUBLE (no real model is this slow on purpose): it
wraps the structural tiny model and sleeps before each window."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from conftest import real_clip
from kwsapp.audio.io import load_audio
from kwsapp.audio.source import FileSource
from kwsapp.config import Config
from kwsapp.inference.engine import Engine
from kwsapp.inference.recognizer import Recognizer

SLEEP_S = 1.0  # per window; a window comes every hop (250 ms) while speech goes on


class SlowRecognizer:
    """The real recognizer, SLEEP_S slower per window (a test double)."""

    def __init__(self, inner: Recognizer) -> None:
        self._inner = inner
        self.card, self.labels, self.path = inner.card, inner.labels, inner.path
        self.calls = 0

    def __getattr__(self, name):  # anything else the engine asks: the real one
        return getattr(self._inner, name)

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        self.calls += 1
        time.sleep(SLEEP_S)
        return self._inner.probabilities(window)


@pytest.fixture(scope="module")
def talking(data_dir) -> np.ndarray:
    """12 s of real words back to back: the speech gate stays open."""
    words = [load_audio(real_clip(data_dir, w, i)) for i, w in
             enumerate(("yes", "no", "up", "down", "left", "right", "on", "off"))]
    audio = np.concatenate(words * 2)
    return audio[:12 * 16000]


def test_slow_model_drops_counted_windows_and_nothing_grows(tiny_model, talking):
    slow = SlowRecognizer(Recognizer(tiny_model))
    engine = Engine(slow, Config(), FileSource(talking, 320, realtime=True))
    tracemalloc.start()
    try:
        engine.start()
        time.sleep(4.0)  # warm-up: the queue is full by now
        base = tracemalloc.get_traced_memory()[0]
        queued = []
        t_end = time.monotonic() + 7.0
        while time.monotonic() < t_end:
            queue = getattr(engine, "_queue", None)  # the bound, where the engine has one
            queued.append(len(getattr(queue, "_items", ())))
            time.sleep(0.1)
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        engine.stop(timeout=3.0)
        tracemalloc.stop()
    stats = engine.stats
    # ~4 windows/s offered, 1/s classified: most are dropped, and counted.
    assert stats.dropped_windows >= 10, stats
    assert slow.calls <= 13
    assert max(queued) <= Config().queue_size
    # The pipeline never runs so slow a model itself (the ring and the gate
    # would wait on it): every window goes through the bounded queue.
    assert engine.inline == 0
    # An unbounded queue would hold ~3 more 1.5 s windows (96 kB) a second.
    assert grown < 1_000_000, grown
    assert not engine.is_running


def test_window_status_bar_shows_the_drops(qtbot, tiny_model, talking, tmp_path):
    pytest.importorskip("PySide6")
    from gui_helpers import temp_settings
    from kwsapp.gui.main_window import MainWindow

    window = MainWindow(settings=temp_settings(tmp_path / "k.ini"), model=str(tiny_model),
                        source_factory=lambda _d: FileSource(talking, 320, realtime=True))
    try:
        window.show()
        qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
        window.session.set_recognizer(SlowRecognizer(window.recognizer))
        qtbot.waitUntil(lambda: window.session is not None
                        and window.session.engine.stats.dropped_windows >= 3, timeout=10000)
        window.update_status()
        text = window.status_labels["dropped"].text()
        assert text.startswith("dropped ") and int(text.split()[1]) >= 3, text
    finally:
        window.close()
