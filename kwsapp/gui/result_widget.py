"""What was recognized: the big command label, the history list and the
class-probability bars."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp import LABELS
from kwsapp.config import GuiConfig
from kwsapp.gui.columns import fit_columns, fixed_columns, name_width

ACCENT = (80, 220, 255)
DIM = (110, 110, 120)
NAMES_PX = 64  # the bars' class names' column


#: What the bars are against the command's confidence (the caption's and
#: the big label's tooltips say it from either side).
BARS_TIP = ("The model's probabilities for the latest analysed window alone, "
            "as they are now. A command fires on a class's probability "
            "averaged over a few windows: its confidence (above) is that "
            "smoothed value when it fired, so the two may differ.")


class ResultView(QtWidgets.QFrame):
    """The last command, large, with its smoothed confidence when it fired;
    fades after a moment."""

    def __init__(self, config: GuiConfig, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("resultView")
        self.label = QtWidgets.QLabel("—")
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        font = self.label.font()
        font.setPointSize(44)
        font.setBold(True)
        self.label.setFont(font)
        self.detail = QtWidgets.QLabel("say a command")
        self.detail.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        small = self.detail.font()
        small.setPointSize(12)
        self.detail.setFont(small)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(self.label)
        lay.addWidget(self.detail)
        lay.addStretch(1)
        self.setMinimumWidth(220)
        self.setToolTip("The last recognized command and its confidence when it "
                        "fired: its probability smoothed over a few windows, not "
                        "the latest window's that the bars below show (fades "
                        "after a moment)")
        self._opacity = QtWidgets.QGraphicsOpacityEffect(self.label)
        self._opacity.setOpacity(1.0)
        self.label.setGraphicsEffect(self._opacity)
        self._fade = QtCore.QPropertyAnimation(self._opacity, b"opacity", self)
        self._fade.setDuration(int(config.result_fade_ms))
        self._fade.setStartValue(1.0)
        self._fade.setEndValue(0.25)
        self._hold = QtCore.QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.setInterval(int(config.result_hold_ms))
        self._hold.timeout.connect(self._fade.start)

    def show_command(self, label: str, score: float, when_s: float | None = None) -> None:
        """Show ``label`` with confidence ``score`` (0..1, the smoothed
        probability it fired on) at full strength."""
        self._fade.stop()
        self._opacity.setOpacity(1.0)
        self.label.setText(label)
        when = f" at {when_s:.1f} s" if when_s is not None else ""
        # The history's column says "confidence" too; that it differs from
        # the bars' latest window is the bars' caption's and tooltips' job.
        self.detail.setText(f"confidence {score:.0%}{when}")
        self._hold.start()

    @property
    def text(self) -> str:
        return self.label.text()


class HistoryList(QtWidgets.QTreeWidget):
    """Recognized commands, newest first: clock time, stream time, command,
    confidence, and a note for the ones the second opinion stopped (greyed:
    heard, not emitted). Where the view is too narrow for them all, the
    columns of ``GuiConfig.history_leave_out`` are left out in turn."""

    def __init__(self, config: GuiConfig, parent=None) -> None:
        super().__init__(parent)
        self.max_rows = config.history_rows
        names = ["time", "at (s)", "command", "confidence", "note"]
        self.setHeaderLabels(names)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setToolTip("Every recognized command, newest first; greyed: one the speech "
                        "recogniser's second opinion did not confirm, so it did not fire")
        for col, tip in enumerate(("Clock time it was heard",
                                   "Stream time it ended at, in seconds (its clock "
                                   "time in the cell's tooltip)", "The command",
                                   "How sure the model was: the command's smoothed "
                                   "confidence when it fired",
                                   "Why it did not fire (greyed rows)")):
            self.headerItem().setToolTip(col, tip)  # a narrow column elides its name
        # The columns are laid out to the view's width (fit_columns): a
        # stretched last section never shrank below its first width, so a
        # narrow (or widened then narrowed) window scrolled sideways and cut
        # off the note.
        fixed_columns(self)
        self.note_min_chars = config.history_note_min_chars
        unknown = [name for name in config.history_leave_out if name not in names]
        if unknown:
            raise ValueError(f"GuiConfig.history_leave_out: {unknown} are not the history's "
                             f"columns {names}")
        self.leave_out = [names.index(name) for name in config.history_leave_out]
        self.show_withheld = True  # rows with a note are listed (set_show_withheld)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        # A scroll area's resize events are its viewport's: a vertical
        # scrollbar coming or going resizes it too.
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Lay the columns out to the view's width: time, stream time,
        command and confidence as wide as their text and names, the note
        what is left (elided), at least ``note_min_chars`` wide; with less
        room the note elides to its first letter, then the columns of
        ``leave_out`` are left out in turn (the clock, then the note), and
        only then do the names and values elide."""
        whole = [max(self.sizeHintForColumn(col), name_width(self, col))
                 for col in range(self.columnCount() - 1)]  # hidden or not
        note = int(np.ceil(self.note_min_chars * self.fontMetrics().averageCharWidth()))
        fit_columns(self, least=whole + [0], wanted=whole + [note], leave_out=self.leave_out)

    def add(self, label: str, score: float, stream_s: float,
            audio: np.ndarray | None = None, note: str = "") -> None:
        """A row, newest first; ``audio`` (16 kHz) is what the command was
        heard on, kept for "Ignore this word…" (:meth:`selected_audio`).
        With a ``note`` (why it did not fire) the row is greyed."""
        clock = time.strftime("%H:%M:%S")
        row = QtWidgets.QTreeWidgetItem([clock, f"{stream_s:.1f}", label, f"{score:.0%}",
                                         note])
        # Full values for export (the columns show them rounded).
        row.setData(0, QtCore.Qt.ItemDataRole.UserRole,
                    (clock, round(float(stream_s), 3), label, round(float(score), 4), note))
        if audio is not None:
            row.setData(1, QtCore.Qt.ItemDataRole.UserRole, audio)
        # The clock and the note columns may be left out (a narrow view):
        # what they say is in the cells' tooltips too.
        row.setToolTip(1, f"heard at {clock}" + (f"\n{note}" if note else ""))
        if note:
            grey = self.palette().color(QtGui.QPalette.ColorGroup.Disabled,
                                        QtGui.QPalette.ColorRole.Text)
            for col in range(self.columnCount()):
                row.setForeground(col, grey)
            for col in (0, 2, 3, 4):
                row.setToolTip(col, note)
        else:
            bold = row.font(2)
            bold.setBold(True)
            row.setFont(2, bold)
        self.insertTopLevelItem(0, row)
        row.setHidden(bool(note) and not self.show_withheld)
        while self.topLevelItemCount() > self.max_rows:
            self.takeTopLevelItem(self.topLevelItemCount() - 1)
        self.fit_columns()  # a longer command or stream time than before

    def set_show_withheld(self, on: bool) -> None:
        """List the commands the second opinion stopped (rows with a note),
        or hide them (kept: listed again when switched back on)."""
        self.show_withheld = bool(on)
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.text(4):
                item.setHidden(not self.show_withheld)
        self.fit_columns()

    def _listed(self) -> list[QtWidgets.QTreeWidgetItem]:
        items = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        return [it for it in items if not it.isHidden()]

    def table_rows(self, selected_only: bool = False) -> tuple[list[str], list[list[object]]]:
        """``(header, rows)`` for export, newest first, as listed: clock time,
        stream time (s), command, confidence (0..1), note (empty: it fired)."""
        items = self._listed()
        if selected_only:
            items = [it for it in items if it.isSelected()]
        return (["time", "stream_s", "command", "confidence", "note"],
                [list(it.data(0, QtCore.Qt.ItemDataRole.UserRole)) for it in items])

    def selected_audio(self) -> list[tuple[str, np.ndarray]]:
        """``(name, audio)`` of the selected rows that kept their audio,
        oldest first (the name says the command and the stream time)."""
        out = []
        for it in self.selectedItems():
            audio = it.data(1, QtCore.Qt.ItemDataRole.UserRole)
            if audio is not None:
                out.append((f"{it.text(2)} at {it.text(1)} s", audio))
        return out[::-1]

    def rows(self) -> list[list[str]]:
        """The listed rows as text, newest first (for tests)."""
        return [[it.text(c) for c in range(self.columnCount())] for it in self._listed()]


def probability_axes(plot: pg.PlotItem) -> None:
    """Set ``plot`` up as the probability bars draw: a still x range from 0
    to 1, "0", "50%" and "100%" under it, the class names' column
    ``NAMES_PX`` wide. The bars and their scale row on its own (:class:`ProbabilityScale`)
    share it, so that at the same width they line up."""
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    plot.setXRange(0, 1, padding=0)
    plot.getAxis("left").setWidth(NAMES_PX)
    bottom = plot.getAxis("bottom")
    bottom.setTicks([[(0, "0"), (0.5, "50%"), (1, "100%")]])
    # "0" and "100%" reach half their width past the bars' ends, and
    # pyqtgraph hides a bottom label that leaves its axis: "0" always,
    # "100%" in a narrow window (a share of the range kept for it was
    # too few pixels there). The plot keeps those pixels on its right and
    # the axis lets its labels into them.
    overhang = int(np.ceil(QtGui.QFontMetricsF(bottom.style["tickFont"] or QtGui.QFont())
                           .horizontalAdvance("100%") / 2)) + 2
    bottom.setStyle(hideOverlappingLabels=overhang)
    plot.layout.setContentsMargins(1, 1, overhang, 1)


class ProbabilityBars(pg.PlotWidget):
    """Horizontal bars: each class's probability in the latest window; the top
    class is highlighted, commands in the accent colour. Its minimum height
    gives every label a row of ``GuiConfig.bar_row_lines`` lines: put it in
    a :class:`BarsArea` where the space may be lower."""

    def __init__(self, labels: Sequence[str] = LABELS, parent=None,
                 config: GuiConfig | None = None) -> None:
        super().__init__(parent=parent)
        self.row_lines = (config or GuiConfig()).bar_row_lines
        plot = self.getPlotItem()
        probability_axes(plot)
        self._bars = pg.BarGraphItem(x0=0, y=[0], height=0.7, width=[0])
        plot.addItem(self._bars)
        self.setToolTip("Probability of each class in the latest analysed window")
        self.set_labels(labels)

    def set_labels(self, labels: Sequence[str]) -> None:
        """Use a model's label order (top to bottom as given)."""
        self.labels = tuple(labels)
        n = len(self.labels)
        # First label at the top: y counts down.
        self._y = np.arange(n)[::-1].astype(float)
        axis = self.getPlotItem().getAxis("left")
        axis.setTicks([[(float(y), name) for y, name in zip(self._y, self._names(axis))]])
        self.getPlotItem().setYRange(-0.5, n - 0.5, padding=0)
        self.setMinimumHeight(self.readable_height())
        # Commands and user words in the accent colour, silence/unknown dim.
        self._base = [pg.mkBrush(*(DIM if lab in ("silence", "unknown") else ACCENT), 140)
                      for lab in self.labels]
        self.set_probabilities(np.zeros(n, np.float32))

    def _names(self, axis: pg.AxisItem) -> list[str]:
        """The labels as the names' column draws them: a long one (a word of
        the user's) elided in the middle to the column's width, since
        pyqtgraph leaves out a tick label that does not fit its axis."""
        metrics = QtGui.QFontMetrics(axis.style["tickFont"] or QtGui.QFont())
        room = (NAMES_PX - max(0, axis.style["tickLength"]) - axis.style["tickTextOffset"][0]
                - 2)
        return [metrics.elidedText(lab, QtCore.Qt.TextElideMode.ElideMiddle, room)
                for lab in self.labels]

    def readable_height(self) -> int:
        """Pixels the bars need for every label to have its own row: the
        rows, the scale row under them (if they draw it) and the frame."""
        row_px = self.row_lines * QtGui.QFontMetricsF(self.font()).height()
        axis = self.getPlotItem().getAxis("bottom")
        bottom = axis.height() if axis.isVisible() else 0
        return int(np.ceil(len(self.labels) * row_px + bottom + 2 * self.frameWidth()))

    def show_scale(self, on: bool) -> None:
        """Draw the scale row ("0" ... "100%") under the bars, or leave it
        out (a :class:`BarsArea` keeps its own in view)."""
        self.getPlotItem().showAxis("bottom", on)
        self.setMinimumHeight(self.readable_height())

    def row_of(self, label: str) -> tuple[int, int] | None:
        """``(centre, height)`` in pixels of ``label``'s row in this widget
        (None: not one of its labels)."""
        if label not in self.labels:
            return None
        view = self.mapFromScene(self.getPlotItem().vb.sceneBoundingRect()).boundingRect()
        row = view.height() / len(self.labels)
        return int(view.top() + (self.labels.index(label) + 0.5) * row), int(np.ceil(row))

    def set_probabilities(self, probs: np.ndarray) -> None:
        """Show ``probs`` ``[len(labels)]`` (float, 0..1)."""
        probs = np.asarray(probs, float)
        self.values = probs
        brushes = list(self._base)
        if probs.size and probs.max() > 0:
            brushes[int(np.argmax(probs))] = pg.mkBrush(255, 190, 60, 230)
        self._bars.setOpts(x0=0, y=self._y, height=0.7, width=probs, brushes=brushes,
                           pens=[QtGui.QPen(QtCore.Qt.PenStyle.NoPen)] * len(probs))


class ProbabilityScale(pg.PlotWidget):
    """The probability bars' scale row on its own ("0", "50%", "100%"): no
    rows, its height the axis's; at the bars' width it lines up with them
    (:func:`probability_axes`). A ``caption`` ("now") sits in the names'
    column, left of "0": it says what the bars are at no cost in height."""

    def __init__(self, parent=None, caption: str = "") -> None:
        super().__init__(parent=parent)
        plot = self.getPlotItem()
        probability_axes(plot)
        left, bottom = plot.getAxis("left"), plot.getAxis("bottom")
        left.setStyle(showValues=False)  # the names' column, empty but for the caption
        # The axis, the plot's 1-px margins above and below it, the frame.
        self.setFixedHeight(int(np.ceil(bottom.height())) + 2 + 2 * self.frameWidth())
        self.setToolTip("Probability scale of the bars above")
        self.caption = QtWidgets.QLabel(self)
        self.caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                  | QtCore.Qt.AlignmentFlag.AlignVCenter)
        font = QtGui.QFont(bottom.style["tickFont"] or self.font())
        font.setItalic(True)  # set apart from the class names above it
        self.caption.setFont(font)
        palette = self.caption.palette()
        palette.setColor(QtGui.QPalette.ColorRole.WindowText, bottom.textPen().color())
        self.caption.setPalette(palette)
        self.caption.setToolTip(BARS_TIP)
        self.caption_text = caption
        # The bars start after the frame, the plot's 1-px margin and the
        # names' column; "0" is centred there and reaches half its width
        # left of it. The column is NAMES_PX at any width, so the caption
        # is elided once, rather than run into "0"; a resize only moves it.
        zero = QtGui.QFontMetricsF(font).horizontalAdvance("0") / 2
        self._caption_width = int(1 + NAMES_PX - np.ceil(zero) - 4)
        self.caption.setText(self.caption.fontMetrics().elidedText(
            caption, QtCore.Qt.TextElideMode.ElideRight, self._caption_width))
        self.caption.setVisible(bool(caption))
        self._place_caption()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if hasattr(self, "_caption_width"):  # not while the plot is being made
            self._place_caption()

    def _place_caption(self) -> None:
        self.caption.setGeometry(self.frameWidth(), 0, self._caption_width, self.height())


class BarsArea(QtWidgets.QScrollArea):
    """Probability bars in a scroll area that they fill, scrolling up and
    down once the area is lower than their minimum height (a small
    window). Their scale row is kept under the rows in view, not scrolled
    with them: drawn by the bars it was seen only scrolled to their end.
    Its names' column holds ``caption`` (what the bars are: "now")."""

    def __init__(self, bars: ProbabilityBars, parent=None, caption: str = "") -> None:
        super().__init__(parent)
        self.bars = bars
        bars.show_scale(False)
        self.scale = ProbabilityScale(self, caption)
        self.setWidget(bars)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The scale sits in a margin below the viewport: as wide as the
        # bars, a vertical scrollbar beside both.
        self.setViewportMargins(0, 0, 0, self.scale.height())

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        # A scroll area's resize events are its viewport's: a vertical
        # scrollbar coming or going narrows or widens it too.
        super().resizeEvent(event)
        port = self.viewport().geometry()
        self.scale.setGeometry(port.left(), port.bottom() + 1, port.width(), self.scale.height())
