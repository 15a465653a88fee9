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

from kwsapp.gui.columns import fit_widths, name_width  # noqa: E402
from kwsapp.inference.engine import CommandEvent, Unconfirmed  # noqa: E402

WAIT_MS = 15000



def _event(label, score, end):
    return CommandEvent(label=label, score=score, start=end - 0.5, end=end, emitted_at=end + 0.2,
                        latency=0.2)


def resized(qtbot, window, size: QtCore.QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size, timeout=2000)
    QtCore.QCoreApplication.processEvents()  # the layouts' posted work


def settled(qtbot, history) -> None:
    """Wait for the vertical scrollbar that a narrowed window's rows need:
    its coming narrows the view after the columns were laid out, and Qt
    hides the horizontal scrollbar it showed meanwhile on its next pass
    (as it did before columns could be left out)."""
    qtbot.waitUntil(lambda: history.verticalScrollBar().isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: not history.horizontalScrollBar().isVisible(), timeout=2000)


def assert_fits(history) -> None:
    """No sideways scrolling; the columns shown fill the view (the clock and
    the note may be left out where it is narrow); the values of time,
    stream time, command and confidence are whole; the last column ends at
    the view's right edge."""
    header, width = history.header(), history.viewport().width()
    shown = [c for c in range(history.columnCount()) if not history.isColumnHidden(c)]
    sizes = {c: header.sectionSize(c) for c in shown}
    assert history.horizontalScrollBar().maximum() == 0, (sizes, width)
    assert not history.horizontalScrollBar().isVisible()
    assert sum(sizes.values()) == width, (sizes, width)
    assert {1, 2, 3} <= set(shown), shown
    for col in set(shown) - {4}:
        assert sizes[col] >= history.sizeHintForColumn(col), (col, sizes)
    assert all(size > 0 for size in sizes.values()), sizes
    last = history.visualItemRect(history.topLevelItem(0))
    assert last.right() < width


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


def test_at_the_least_width_the_clock_then_the_note_make_room_for_the_names(qtbot, window):
    """At the window's least width the five columns' names elided to "time
    | at… | com… | con… | n…", which could not tell them apart. The clock
    is left out first, then the note, so that the others' names and values
    read whole (the clock and the note are in the cells' tooltips and the
    export); widened, all five come back whole."""
    history, header = window.history, window.history.header()
    window.bridge.on_event(_event("yes", 0.8, 1.25))
    window.bridge.on_unconfirmed(Unconfirmed(_event("left", 0.52, 4.0), "Last.", -12.3, -9.7))
    for i in range(10):  # minutes into the stream; more rows than the view holds
        window.bridge.on_event(_event("go", 0.7, 120.0 + i))
    qtbot.waitUntil(lambda: len(history.rows()) == 12, timeout=WAIT_MS)

    resized(qtbot, window, window.minimumSizeHint())
    settled(qtbot, history)
    assert history.isColumnHidden(0)
    # Three-digit stream times and the scrollbar leave no room beside them
    # for even the note's first letter.
    assert history.isColumnHidden(4)
    for col in (1, 2, 3):  # names and values whole
        assert not history.isColumnHidden(col)
        assert header.sectionSize(col) >= header.sectionSizeHint(col), (
            col, header.sectionSize(col), header.sectionSizeHint(col))
    assert_fits(history)
    # What the hidden columns say is still there.
    newest, stopped = history.topLevelItem(0), history.topLevelItem(10)
    assert f"heard at {newest.text(0)}" == newest.toolTip(1)
    assert stopped.toolTip(2) == "not emitted: heard “Last.”"
    assert stopped.toolTip(4) == "not emitted: heard “Last.”"
    header_row, rows = history.table_rows()
    assert header_row[0] == "time" and rows[0][0] == newest.text(0)
    assert len(history.rows()[0]) == 5

    resized(qtbot, window, QtCore.QSize(1600, 900))
    for col in range(5):
        assert not history.isColumnHidden(col), col
        assert header.sectionSize(col) >= header.sectionSizeHint(col), col
    assert_fits(history)
    resized(qtbot, window, window.minimumSizeHint())  # and out again
    settled(qtbot, history)
    assert history.isColumnHidden(0) and history.isColumnHidden(4)
    assert_fits(history)


def test_a_column_name_s_width_is_qt_s_hidden_or_not(qtbot, window):
    """A column left out must come back at the width it went at, or it
    would swing in and out: its name's width is reckoned as Qt's header
    reckons a shown section's, and kept while it is hidden."""
    history, header = window.history, window.history.header()
    resized(qtbot, window, QtCore.QSize(1600, 900))  # room for every column
    for col in range(history.columnCount()):
        assert not history.isColumnHidden(col)
        shown = header.sectionSizeHint(col)
        assert name_width(history, col) == shown > 0, col
        history.setColumnHidden(col, True)
        assert header.sectionSizeHint(col) == 0  # Qt's own, once hidden
        assert name_width(history, col) == shown, col
        history.setColumnHidden(col, False)


@pytest.mark.parametrize("available, expected", [
    (300, [60, 40, 70, 80, 50]),  # room for every name: the note gets the rest
    (240, [60, 33, 60, 66, 21]),  # the names and the note elide, the values stay whole
    (100, [35, 11, 23, 23, 8]),  # below the values too, in proportion
    (0, [0, 0, 0, 0, 0]),
])
def test_fit_widths(available, expected):
    widths = fit_widths(available, wanted=[60, 40, 70, 80, 25], least=[60, 20, 40, 40, 10])
    assert widths == expected and sum(widths) == available
