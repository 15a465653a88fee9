"""The status bar's parts stay apart at any width: the input device's name
is elided to the room the counters leave it (its whole text in the
tooltip), the counters keep theirs. Real window, offscreen, listening to a
replayed source under a long device name."""

from __future__ import annotations

from itertools import combinations

import pytest

from gui_helpers import NotedSource, windows_made

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from PySide6 import QtCore  # noqa: E402

from kwsapp.config import GuiConfig  # noqa: E402
from kwsapp.gui.status import FIELDS  # noqa: E402
from kwsapp.inference.engine import EngineStats  # noqa: E402

WAIT_MS = 15000
LONG_NAME = ("USB Audio CODEC: Blue Yeti Stereo Microphone, the one on the desk by the "
             "window (hw:2,0) " * 3).strip()


@pytest.fixture
def make_window(qtbot, tmp_path):
    with windows_made(tmp_path, autostart=False) as make:
        yield make


def resized(qtbot, window, size: QtCore.QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size, timeout=2000)
    QtCore.QCoreApplication.processEvents()  # the layouts' posted work


def shown(label) -> str:
    """The text as drawn (a plain QLabel draws its whole text, clipped)."""
    return label.shown_text() if hasattr(label, "shown_text") else label.text()


def assert_apart_and_readable(window) -> None:
    """No two labels' rectangles meet, each is within the bar, and each
    shows its whole text, or (the device) a cut one that fits, ends with
    the rate, with its whole text in the tooltip."""
    bar, labels = window.statusBar(), window.status_labels
    for (one, a), (other, b) in combinations(labels.items(), 2):
        assert not a.geometry().intersects(b.geometry()), (one, a.geometry(), other,
                                                           b.geometry())
    for key, label in labels.items():
        assert bar.rect().contains(label.geometry()), (key, label.geometry(), bar.rect())
        room, metrics = label.contentsRect().width(), label.fontMetrics()
        if key != "device":
            assert metrics.horizontalAdvance(label.text()) <= room, (key, label.text(), room)
            continue
        text = shown(label)
        assert metrics.horizontalAdvance(text) <= room, (text, room)
        if text != label.text():
            assert "…" in text and text.endswith(" · 16 kHz"), text
            assert label.text() in label.toolTip() and FIELDS["device"] in label.toolTip()


def test_the_status_bar_parts_stay_apart_in_the_smallest_and_the_default_window(
        qtbot, make_window, tiny_model):
    """At the window's minimum size the device's text ran into "xruns 0"
    and its rate was cut off; at the default size a long device name was
    cut at the counters with no "…" and no way to read the rest; a
    counter's text longer than its least width was cut."""
    window = make_window(tiny_model, lambda _device: NotedSource(), source_name=LONG_NAME)
    assert window.start_listening()
    qtbot.waitUntil(lambda: window.status_labels["xruns"].text() == "xruns 0", timeout=WAIT_MS)
    device = window.status_labels["device"]
    assert device.text() == f"{LONG_NAME} · 16 kHz"

    resized(qtbot, window, window.minimumSizeHint())
    assert_apart_and_readable(window)
    narrow = shown(device)
    assert narrow != device.text()  # cut: the test is of a name that does not fit
    resized(qtbot, window, QtCore.QSize(*GuiConfig().window_size))
    assert_apart_and_readable(window)
    assert len(shown(device)) > len(narrow)  # widened, more of the name
    resized(qtbot, window, window.minimumSizeHint())
    assert_apart_and_readable(window)
    assert shown(device) == narrow

    # A name that fits is shown whole, its tooltip only says what the field is.
    window.stop_listening()
    assert device.text() == "not listening" and shown(device) == "not listening"
    assert device.toolTip() == FIELDS["device"]

    # Counters longer than their least width (110 px) are not cut: the
    # name gives up the room ("latency 1234567 ms" was cut at 110 px).
    window.status.show_stats(LONG_NAME, 16000, EngineStats(
        xruns=123456789, dropped_windows=1234567, infer_ms=12345.6, latency_ms=1234567))
    QtCore.QCoreApplication.processEvents()
    assert_apart_and_readable(window)


def test_counters_keep_their_text_in_a_bar_at_its_least_width(qtbot):
    """A counter's least width was a fixed 110 px: in a bar at its least
    width "latency 1234567 ms" was cut there."""
    from PySide6 import QtWidgets

    from kwsapp.gui.status import StatusFields

    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    status = StatusFields(window.statusBar())
    window.status_labels = status.labels
    status.show_stats(LONG_NAME, 16000, EngineStats(
        xruns=123456789, dropped_windows=1234567, infer_ms=12345.6, latency_ms=1234567))
    window.show()
    resized(qtbot, window, window.minimumSizeHint())
    assert_apart_and_readable(window)
