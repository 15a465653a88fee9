"""The Files tab's table fits its width: no sideways scrolling at the
window's minimum size, with the table narrowed by its splitter, nor after
the window and the table were widened and narrowed again; long file names
elide in the middle (their end, the file's own name, kept), their whole
path in the tooltip; a clip's long label is elided, the window not widened
for it. Real window, offscreen, files classified by the real worker on the
tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from gui_helpers import exposed_window  # noqa: F401 (the window fixture)

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from PySide6 import QtCore, QtTest, QtWidgets  # noqa: E402

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


def test_a_clips_long_label_does_not_widen_the_window(qtbot, tmp_path, tiny_model, data_dir):
    """A clip's label was drawn whole at 28 pt: a word with a long name
    asked some 900 px of the detail, and the window's least width grew
    past what every other part needs, for the Files tab alone (the table
    squeezed to 70 px). The label is elided in the middle, its score kept
    whole, the whole name in its tooltip. A copy of the tiny model whose
    words have long names (the user's own words may) classifies a real
    clip."""
    import json
    import shutil

    from gui_helpers import quiet_window

    model = tmp_path / "long_names"
    shutil.copytree(tiny_model, model)
    card = json.loads((model / "card.json").read_text())
    card["labels"] = card["labels"][:2] + [f"turn_the_kitchen_lights_{label}_please"
                                           for label in card["labels"][2:]]
    (model / "card.json").write_text(json.dumps(card))
    window = quiet_window(qtbot, tmp_path / "s.ini", str(model), show=True)
    qtbot.waitExposed(window)
    smallest = window.minimumSizeHint()
    clip = sorted((data_dir / "go").glob("*.wav"))[0]
    window.classify_files([str(clip)])
    qtbot.waitUntil(lambda: not window.file_dispatch.busy, timeout=WAIT_MS)
    panel = window.files
    result = panel._results[str(clip)]
    assert result.label.startswith("turn_the_kitchen_lights_"), result.summary()
    assert panel.detail.currentIndex() == 1

    for _ in range(10):  # the layouts' posted work, a level of them at a time
        QtCore.QCoreApplication.processEvents()
    assert window.minimumSizeHint() == smallest, (window.minimumSizeHint(), smallest)
    resized(qtbot, window, smallest)
    assert_fits(qtbot, panel.table)
    label = panel.clip_label
    shown = label.shown_text()
    assert "…" in shown and shown.endswith(f"  {result.score:.0%}"), shown
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.toolTip().startswith(f"{result.label}  {result.score:.0%}"), label.toolTip()
    window.close()


def drawn_labels(view) -> list[tuple[str, QtCore.QRectF]]:
    """The command labels ``view``'s timeline draws: their text and
    rectangle in the scene's pixels (read after a paint: a label's
    pixel-sized transform is set when it is painted)."""
    view.grab()
    return [(text.toPlainText(), text.mapRectToScene(text.boundingRect()))
            for text in view._texts if text.isVisible()]


def test_the_timeline_labels_only_where_they_have_room(qtbot, window):
    """A 24-s file with 16 commands: at the window's minimum size (a
    ~270-px plot) their labels were all drawn, over each other, an
    unreadable smear. Labels that would overlap one drawn already are
    left out (a lower row is tried first), within the plot's upper half;
    every command keeps its marker and span, the marker's tooltip names
    it, and zoomed in, it has room. Wide, every label is drawn that the plot's edge does not
    cut, the first ones where they were (at the top, at their command's
    start)."""
    from kwsapp.gui.files import FileResult

    words = ("yes", "stop", "go", "no")
    commands = [(words[k % 4], 0.46 + 0.01 * k, 6.0 * (k // 4) + (0.09, 1.59, 3.09, 4.92)[k % 4],
                 6.0 * (k // 4) + (0.48, 2.13, 3.48, 5.19)[k % 4]) for k in range(16)]
    smallest = window.minimumSizeHint()
    panel = window.files
    window.tabs.setCurrentWidget(panel)
    config = window.gui_config
    panel.add_result(FileResult("/tmp/words.wav", commands=commands, seconds=24.0,
                                columns=np.zeros((2400, config.spectrogram_n_mels), np.float32)))
    view = panel.file_view
    assert panel.detail.currentIndex() == 2

    for size in (smallest, QtCore.QSize(1240, 760)):
        resized(qtbot, window, size)
        drawn = drawn_labels(view)
        for i, (text, rect) in enumerate(drawn):
            for other, other_rect in drawn[i + 1:]:
                assert not rect.intersects(other_rect), (size, text, rect, other, other_rect)
        plot = view.getPlotItem().vb.sceneBoundingRect()
        for text, rect in drawn:  # whole, in the plot's upper half
            assert plot.top() - 0.5 <= rect.top() and rect.bottom() <= plot.center().y() + 0.5, (
                size, text, rect, plot)
            assert plot.left() - 0.5 <= rect.left() and rect.right() <= plot.right() + 0.5, (
                size, text, rect, plot)
        assert len(view._scatter.data) == 16 and view.labelled == list(range(16))
        assert all(region.isVisible() for region in view._regions[:16])
        texts = [text for text, _ in drawn]
        assert texts[0] == "yes 46%" and len(texts) >= 4, (size, texts)
        first = drawn[0][1]  # where it was: at the top, at the first command's start
        start = view.getPlotItem().vb.mapViewToScene(
            QtCore.QPointF(commands[0][2], config.spectrogram_n_mels))
        assert abs(first.top() - start.y()) <= 0.5 and abs(first.left() - start.x()) <= 0.5, (
            first, start)
    # Wide, every label is drawn but the last: the plot's edge would cut it
    # (it was: "no 4").
    assert texts == [f"{word} {score:.0%}" for word, score, _, _ in commands[:15]], texts

    resized(qtbot, window, smallest)
    hidden = sorted(set(range(16)) - set(view.shown_labels))
    assert hidden, view.shown_labels  # (else the test shows nothing)
    k = hidden[0]  # hovered, its triangle names it
    vb = view.getPlotItem().vb
    marker = view.mapFromScene(vb.mapViewToScene(QtCore.QPointF(
        (commands[k][2] + commands[k][3]) / 2, config.spectrogram_n_mels * 0.05)))
    moves = iter(range(10**6))

    def named() -> None:  # (moved again each try: pyqtgraph drops moves that come too often)
        QtTest.QTest.mouseMove(view.viewport(), marker + QtCore.QPoint(next(moves) % 2, 0))
        assert f"{commands[k][0]} {commands[k][1]:.0%}" in vb.toolTip(), vb.toolTip()

    qtbot.waitUntil(named, timeout=2000)
    panel.command_list.setCurrentRow(k)  # zoomed to it, its label has room
    assert k in view.shown_labels, view.shown_labels
    drawn = drawn_labels(view)
    assert f"{commands[k][0]} {commands[k][1]:.0%}" in [text for text, _ in drawn], drawn


def test_a_command_begun_left_of_the_view_keeps_its_label_pinned_to_the_edge(qtbot, window):
    """Zoomed or panned so that a command's span starts left of the view,
    its label was left out however much of the span showed. It is drawn at
    the view's left edge, whole, inside the part of its span that shows,
    when that part holds it; one whose part in view is narrower than its
    label stays out (its span and marker stay). A span running off the
    right edge keeps its label at its start where the label fits before
    the edge."""
    from kwsapp.gui.files import FileResult

    commands = [("go", 0.71, 1.0, 3.05),  # 0.05 s of it in view: too little
                ("yes", 0.92, 2.0, 6.0),  # half the view
                ("stop", 0.64, 7.0, 12.0)]  # runs off the right edge
    panel, config = window.files, window.gui_config
    window.tabs.setCurrentWidget(panel)
    panel.add_result(FileResult("/tmp/words.wav", commands=commands, seconds=12.0,
                                columns=np.zeros((1200, config.spectrogram_n_mels), np.float32)))
    view = panel.file_view
    vb = view.getPlotItem().vb
    for size in (window.minimumSizeHint(), QtCore.QSize(1240, 760)):
        resized(qtbot, window, size)
        vb.setXRange(3.0, 9.0, padding=0)
        QtCore.QCoreApplication.processEvents()
        assert view.labelled == [0, 1, 2]
        assert all(region.isVisible() for region in view._regions[:3])
        drawn = dict(drawn_labels(view))
        assert set(drawn) == {"yes 92%", "stop 64%"}, (size, drawn)
        plot = vb.sceneBoundingRect()
        yes = drawn["yes 92%"]
        span_end = vb.mapViewToScene(QtCore.QPointF(6.0, 0)).x()
        assert abs(yes.left() - plot.left()) <= 0.5 and yes.right() <= span_end + 0.5, (
            size, yes, plot, span_end)
        stop = drawn["stop 64%"]
        start = vb.mapViewToScene(QtCore.QPointF(7.0, 0)).x()
        assert abs(stop.left() - start) <= 0.5 and stop.right() <= plot.right() + 0.5, (
            size, stop, start, plot)
        assert sorted(view.shown_labels) == [1, 2]
