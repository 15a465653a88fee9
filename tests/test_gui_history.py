"""The live history fits its width: no sideways scrolling at the window's
minimum size nor after the window was widened and narrowed again; the
note column takes what is left and elides. Real window, offscreen, rows
fed through the engine bridge's signals as the engine's thread does."""

from __future__ import annotations

import pytest

from gui_helpers import exposed_window  # noqa: F401 (the window fixture)

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from PySide6 import QtCore  # noqa: E402

from kwsapp.gui.columns import fit_widths  # noqa: E402
from kwsapp.inference.engine import CommandEvent, Unconfirmed  # noqa: E402

WAIT_MS = 15000



def _event(label, score, end):
    return CommandEvent(label=label, score=score, start=end - 0.5, end=end, emitted_at=end + 0.2,
                        latency=0.2)


def resized(qtbot, window, size: QtCore.QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size, timeout=2000)
    QtCore.QCoreApplication.processEvents()  # the layouts' posted work


def assert_fits(history) -> None:
    """No sideways scrolling; the columns fill the view; the values of
    time, stream time, command and confidence are whole; the note, last,
    ends at the view's right edge."""
    header, width = history.header(), history.viewport().width()
    sizes = [header.sectionSize(c) for c in range(history.columnCount())]
    assert history.horizontalScrollBar().maximum() == 0, (sizes, width)
    assert not history.horizontalScrollBar().isVisible()
    assert sum(sizes) == width, (sizes, width)
    for col in range(4):
        assert sizes[col] >= history.sizeHintForColumn(col), (col, sizes)
    assert sizes[4] > 0
    note = history.visualItemRect(history.topLevelItem(0))
    assert note.right() < width


def test_the_history_fits_the_smallest_window_and_after_widen_then_narrow(qtbot, window):
    """At the window's minimum size the five columns fitted 204 pixels only
    with a horizontal scrollbar (their widths were fixed, the stretched
    note kept its first 100 px); widened, the note grew and never shrank
    back when narrowed."""
    history = window.history
    window.bridge.on_event(_event("yes", 0.8, 1.25))
    window.bridge.on_unconfirmed(Unconfirmed(_event("left", 0.52, 4.0), "Last.", -12.3, -9.7))
    window.bridge.on_event(_event("stop", 0.91, 3600.5))  # a wider stream time
    qtbot.waitUntil(lambda: len(history.rows()) == 3, timeout=WAIT_MS)
    smallest = window.minimumSizeHint()

    resized(qtbot, window, smallest)
    assert_fits(history)
    resized(qtbot, window, QtCore.QSize(1600, 900))
    assert_fits(history)
    wide_note = history.header().sectionSize(4)
    resized(qtbot, window, smallest)
    assert_fits(history)
    assert history.header().sectionSize(4) < wide_note  # it shrank back
    # The note's whole text is in the cell's tooltip (the cell elides it).
    assert history.topLevelItem(1).toolTip(4) == "not emitted: heard “Last.”"

    # More rows than the view holds: the vertical scrollbar's width is taken
    # from the columns, not scrolled to sideways.
    for i in range(30):
        window.bridge.on_event(_event("go", 0.7, 10.0 + i))
    qtbot.waitUntil(lambda: len(history.rows()) == 33, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: history.verticalScrollBar().isVisible(), timeout=2000)
    assert_fits(history)


@pytest.mark.parametrize("available, expected", [
    (300, [60, 40, 70, 80, 50]),  # room for every name: the note gets the rest
    (240, [60, 33, 60, 66, 21]),  # the names and the note elide, the values stay whole
    (100, [35, 11, 23, 23, 8]),  # below the values too, in proportion
    (0, [0, 0, 0, 0, 0]),
])
def test_fit_widths(available, expected):
    widths = fit_widths(available, wanted=[60, 40, 70, 80, 25], least=[60, 20, 40, 40, 10])
    assert widths == expected and sum(widths) == available
