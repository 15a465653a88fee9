"""Labels that show text the user gave: file and folder names, paths, a
word's name, an input device's name.

Qt wraps a label's text only where a line may break (spaces, after "/" or
"-"), and asks for the longest unbroken run's width as the label's least:
a 200-character file name with none made the window 1,533 pixels wide (the
files list squeezed to 70), a long name typed in Add word made the dialog
wider than the screen. These labels take the width the window has and
wrap in it; a run longer than that is cut at the edge (the whole text is
in the tooltip). Where there is one line only (the status bar), the
text is elided instead: :class:`ElidedLabel`.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


def fit_to_width(label: QtWidgets.QLabel) -> QtWidgets.QLabel:
    """``label`` wrapped to the width it is given, never asking for more
    (its least width 0: a layout ignores its width hints); returns it."""
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QtWidgets.QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)
    return label


class ElidedLabel(QtWidgets.QLabel):
    """One line of text that takes the width it is given, never asking for
    more than a letter of it: cut with "…" where it is too long (the status
    bar's input device: drawn whole, clipped at its edge, it ran into the
    counters and lost its rate at the window's least width). A ``head`` and
    a ``tail`` (a message's words before a path, the device's rate) are
    kept whole while there is room. :meth:`text` is the whole text; cut, it
    is also in the tooltip, above the label's own ``tip``.
    """

    def __init__(self, text: str = "", tip: str = "",
                 mode: QtCore.Qt.TextElideMode = QtCore.Qt.TextElideMode.ElideRight,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.tip, self.mode = tip, mode
        self._head, self._cut, self._tail = "", "", ""
        self.set_text(text)

    def set_text(self, text: str, tail: str = "", head: str = "") -> None:
        """Show ``head`` + ``text`` + ``tail``; ``text`` is cut first (by
        the label's ``mode``), and with no room for a letter of it the whole
        is cut at its end."""
        self._head, self._cut, self._tail = head, text, tail
        super().setText(head + text + tail)  # and updateGeometry: the least width holds the tail
        self._update_tip()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.set_text(text)

    def shown_text(self) -> str:
        """The text as drawn at the label's width."""
        metrics, width = self.fontMetrics(), self.contentsRect().width()
        whole = self._head + self._cut + self._tail
        if metrics.horizontalAdvance(whole) <= width:
            return whole
        room = width - metrics.horizontalAdvance(self._head + self._tail)
        if self._cut and room >= metrics.horizontalAdvance(self._cut[:1] + "…"):
            return self._head + metrics.elidedText(self._cut, self.mode, room) + self._tail
        return metrics.elidedText(whole, QtCore.Qt.TextElideMode.ElideRight, width)

    def elided(self) -> bool:
        """Less than the whole text is shown."""
        return self.shown_text() != self._head + self._cut + self._tail

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        # A letter, "…" and the tail: the layout may give it less than its text.
        hint = super().minimumSizeHint()
        least = self.fontMetrics().horizontalAdvance("M…" + self._tail)
        margins = self.contentsMargins()
        return QtCore.QSize(min(hint.width(), least + margins.left() + margins.right()),
                            hint.height())

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's name
        # QLabel would draw the whole text, clipped at the edge.
        painter = QtGui.QPainter(self)
        self.drawFrame(painter)
        self.style().drawItemText(painter, self.contentsRect(), int(self.alignment()),
                                  self.palette(), self.isEnabled(), self.shown_text(),
                                  self.foregroundRole())

    def _update_tip(self) -> None:
        whole = self._head + self._cut + self._tail
        tip = "\n".join(part for part in (whole if self.elided() else "", self.tip) if part)
        if self.toolTip() != tip:
            self.setToolTip(tip)
