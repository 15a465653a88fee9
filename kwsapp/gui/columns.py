"""A list's columns laid out to its view's width (the live history, the
Files tab's table): never scrolled sideways, at any width.

Qt's own ways fell short: fixed widths and a stretched last section never
shrank below their first widths, so a narrow (or widened then narrowed)
view scrolled sideways and cut the last column off. Here each column gets
its content's and its name's width where there is room, the last one what
is left over; with less room they shrink together toward a least width
each (the cells elide, their whole text in a tooltip), and then below it.
A list may name columns to leave out, in turn, where the others' least
widths do not fit (and to show again where they do).
"""

from __future__ import annotations

from typing import Sequence

from PySide6 import QtCore, QtGui, QtWidgets


def fit_widths(available: int, wanted: Sequence[int], least: Sequence[int]) -> list[int]:
    """Pixel widths of columns that fill ``available`` exactly: each column
    ``wanted`` wide, the last taking what is left over; with less room they
    shrink toward ``least`` together (each in proportion to what it can
    give up), and with less still below it, in proportion to it.

    Returns:
        one width a column, summing to ``available`` (rounding goes to the last).
    """
    least = [min(low, want) for low, want in zip(least, wanted)]
    available = max(0, available)
    if sum(wanted) <= available:
        widths = list(wanted)
    elif sum(least) <= available:
        share = (available - sum(least)) / (sum(wanted) - sum(least))
        widths = [int(low + share * (want - low)) for low, want in zip(least, wanted)]
    else:
        widths = [int(low * available / sum(least)) for low in least]
    widths[-1] += available - sum(widths)
    return widths


def fixed_columns(view: QtWidgets.QTreeView) -> None:
    """Set ``view``'s header up for :func:`fit_columns`: its sections are
    not dragged by hand nor stretched, and may be as narrow as it decides
    (Qt's least section width would overflow a narrow view)."""
    header = view.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    header.setMinimumSectionSize(0)
    header.setTextElideMode(QtCore.Qt.TextElideMode.ElideRight)


def name_width(view: QtWidgets.QTreeView, col: int) -> int:
    """Pixels ``view``'s header section ``col`` takes for its whole name,
    hidden or not (Qt's ``sectionSizeHint`` is 0 for a hidden section, so a
    column left out could not tell when it fits again). Reckoned as Qt
    reckons it: the name in a bold header font, the style's margins; a
    sort indicator is not counted (for a view that shows none)."""
    header = view.header()
    option = QtWidgets.QStyleOptionHeader()
    option.initFrom(header)
    option.section = col
    option.text = str(view.model().headerData(col, QtCore.Qt.Orientation.Horizontal) or "")
    font = QtGui.QFont(header.font())
    font.setBold(True)
    option.fontMetrics = QtGui.QFontMetrics(font)
    return header.style().sizeFromContents(QtWidgets.QStyle.ContentsType.CT_HeaderSection,
                                           option, QtCore.QSize(), header).width()


def fit_columns(view: QtWidgets.QTreeView, least: Sequence[int | None],
                wanted: Sequence[int | None] | None = None,
                leave_out: Sequence[int] = ()) -> list[int]:
    """Lay ``view``'s columns out to its viewport's width
    (:func:`fit_widths`); call it when the view is resized and when its
    rows' text changes.

    Args:
        view: a list set up by :func:`fixed_columns`.
        least: per column, the pixels it keeps while the others shrink to
            theirs (None: its content's whole width); at least a letter of
            its name and "…" (its whole name belongs in the header's tooltip).
        wanted: per column, its width where there is room (None, or not
            given: its content's and its name's); the last column shown
            takes what is left over.
        leave_out: columns hidden in this order, each while the least
            widths of the ones still shown exceed the view's width (the
            choice rests on ``least`` alone, not on what is hidden now,
            so that it does not swing back and forth); shown again where
            they fit.

    Returns:
        the columns' widths in pixels (0: left out).
    """
    header = view.header()
    count = header.count()

    def content(col: int) -> int:  # measured only where asked for: it reads every row
        return max(0, view.sizeHintForColumn(col))

    # A name elided to its first letter and "…" still says which column it is.
    elided = view.fontMetrics().horizontalAdvance("M…") + 2 * view.style().pixelMetric(
        QtWidgets.QStyle.PixelMetric.PM_HeaderMargin)
    wanted = [max(content(col), header.sectionSizeHint(col))
              if wanted is None or wanted[col] is None else max(wanted[col], elided)
              for col in range(count)]
    least = [max(content(col) if low is None else low, elided) for col, low in enumerate(least)]
    available = view.viewport().width()
    shown = list(range(count))
    for col in leave_out:
        if len(shown) == 1 or sum(least[c] for c in shown) <= available:
            break
        shown.remove(col)
    widths = [0] * count
    for col, width in zip(shown, fit_widths(available, [wanted[c] for c in shown],
                                            [least[c] for c in shown])):
        widths[col] = width
    for col in range(count):
        if view.isColumnHidden(col) != (col not in shown):
            view.setColumnHidden(col, col not in shown)
        if col in shown and header.sectionSize(col) != widths[col]:
            header.resizeSection(col, widths[col])
    return widths


class ElidingDelegate(QtWidgets.QStyledItemDelegate):
    """Draws a column's cells elided with its own ``mode`` (a view has one
    for all its columns): a file's name in the middle, its end kept."""

    def __init__(self, mode: QtCore.Qt.TextElideMode,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.mode = mode

    def initStyleOption(self, option: QtWidgets.QStyleOptionViewItem,  # noqa: N802 - Qt's
                        index: QtCore.QModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = self.mode
