"""The Files tab's table fits its width: no sideways scrolling at the
window's minimum size, with the table narrowed by its splitter, nor after
the window and the table were widened and narrowed again; long file names
elide in the middle (their end, the file's own name, kept), their whole
path in the tooltip. Real window, offscreen, files classified by the real
worker on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from gui_helpers import exposed_window  # noqa: F401 (the window fixture)

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from PySide6 import QtCore, QtWidgets  # noqa: E402

WAIT_MS = 30000



def resized(qtbot, window, size: QtCore.QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size, timeout=2000)
    QtCore.QCoreApplication.processEvents()  # the layouts' posted work


def table_width(qtbot, window, width: int) -> None:
    """The splitter moved so that the table's side is ``width`` pixels."""
    panel = window.files
    panel.setSizes([width, sum(panel.sizes()) - width])
    QtCore.QCoreApplication.processEvents()


def fit_problem(table) -> str | None:
    """Why the columns do not fit the view (None: they do): a sideways
    scroll, columns that do not fill it, or one at its least."""
    header, width = table.header(), table.viewport().width()
    sizes = [header.sectionSize(c) for c in range(table.columnCount())]
    if table.horizontalScrollBar().maximum() != 0 or table.horizontalScrollBar().isVisible():
        return f"scrolls sideways: {sizes} in {width}"
    if sum(sizes) != width:
        return f"{sizes} do not fill {width}"
    content = [table.sizeHintForColumn(c) for c in range(table.columnCount())]
    if sum(content) <= width and any(s < c for s, c in zip(sizes, content)):
        return f"{sizes} cut their text {content} with room for it in {width}"
    return None


def assert_fits(qtbot, table) -> None:
    def fits() -> None:
        problem = fit_problem(table)
        assert problem is None, problem

    qtbot.waitUntil(fits, timeout=2000)  # a fit to new rows may be a moment late


def write_clip(path) -> str:
    """A second of quiet noise as a 16-bit WAV at ``path``."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    sf.write(str(path), 0.01 * rng.standard_normal(16000).astype(np.float32), 16000)
    return str(path)


def test_the_files_table_fits_the_smallest_window_and_after_widen_then_narrow(
        qtbot, window, tmp_path):
    """The file column was a fixed 220 px and the result stretched from its
    first width: narrowed by its splitter (at the window's minimum size the
    table could be 160 px), the table scrolled sideways and cut the result
    off, and long names were cut at their end."""
    folder = tmp_path / ("recordings_from_the_kitchen_session_" * 2)
    (folder / "evening").mkdir(parents=True)
    long_name = "left_take_from_the_second_speaker_" + "x" * 120 + "_near_the_window.wav"
    paths = [write_clip(folder / "evening" / long_name), write_clip(folder / "go.wav")]
    (folder / ("broken_" + "y" * 60 + ".wav")).write_text("not audio")
    window.classify_files([str(folder)])
    qtbot.waitUntil(lambda: not window.file_dispatch.busy, timeout=WAIT_MS)
    table = window.files.table
    assert len(window.files.result_rows()) == 3

    smallest = window.minimumSizeHint()
    resized(qtbot, window, smallest)
    assert_fits(qtbot, table)
    table_width(qtbot, window, 160)
    assert_fits(qtbot, table)
    narrow = [table.header().sectionSize(c) for c in range(2)]
    resized(qtbot, window, QtCore.QSize(1600, 900))
    table_width(qtbot, window, 1000)
    assert_fits(qtbot, table)
    assert table.header().sectionSize(1) > narrow[1]  # the result grew with the view
    resized(qtbot, window, smallest)
    table_width(qtbot, window, 160)
    assert_fits(qtbot, table)
    assert [table.header().sectionSize(c) for c in range(2)] == narrow  # shrank back

    # Names elide in the middle: the end of the file's own name is kept;
    # the whole path is in the row's tooltip, the result's text in its own.
    row = next(table.topLevelItem(i) for i in range(3)
               if table.topLevelItem(i).text(0).endswith("_near_the_window.wav"))
    assert row.toolTip(0) == paths[0] and row.text(0) == f"evening/{long_name}"
    option = QtWidgets.QStyleOptionViewItem()
    index = table.indexFromItem(row, 0)
    table.itemDelegateForColumn(0).initStyleOption(option, index)
    assert option.textElideMode == QtCore.Qt.TextElideMode.ElideMiddle
    for i in range(3):
        item = table.topLevelItem(i)
        assert item.toolTip(1) == item.text(1), item.text(1)
    # The header's names, elided in a narrow table, are in its tooltips.
    assert all(table.headerItem().toolTip(c) for c in range(2))

    # More rows than the view holds (waiting to be classified): the vertical
    # scrollbar's width is taken from the columns, not scrolled to sideways.
    window.files.add_pending([str(folder / f"take_{i:02d}.wav") for i in range(40)])
    qtbot.waitUntil(lambda: table.verticalScrollBar().isVisible(), timeout=2000)
    assert_fits(qtbot, table)


def test_the_detail_keeps_its_share_of_the_width(qtbot, window, tmp_path):
    """The table kept its first 420 px and the detail got what was left:
    about 200 px at the window's minimum size, a clip's bars and a long
    file's timeline squeezed. The detail takes GuiConfig.files_detail_share
    of the width at any size, the table (its columns fitted) the rest; a
    drag of the handle sets another share, kept as the window is resized."""
    window.classify_files([write_clip(tmp_path / "go.wav")])
    qtbot.waitUntil(lambda: not window.file_dispatch.busy, timeout=WAIT_MS)
    window.tabs.setCurrentWidget(window.files)
    panel, share = window.files, window.gui_config.files_detail_share
    smallest = window.minimumSizeHint()

    def detail_share() -> float:
        return panel.sizes()[1] / sum(panel.sizes())

    for size in (smallest, QtCore.QSize(1600, 900), smallest):
        resized(qtbot, window, size)
        assert abs(detail_share() - share) < 0.01, (size, panel.sizes())
        assert_fits(qtbot, panel.table)
    assert panel.detail.width() >= 300, panel.sizes()

    panel.moveSplitter(sum(panel.sizes()) // 4, 1)  # as a drag of the handle does
    dragged = detail_share()
    assert dragged > share + 0.1
    for size in (QtCore.QSize(1600, 900), smallest):
        resized(qtbot, window, size)
        assert abs(detail_share() - dragged) < 0.01, (size, panel.sizes())
        assert_fits(qtbot, panel.table)
