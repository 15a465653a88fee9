"""A dismissable message strip at the top of the window (faults, hints)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from kwsapp.gui.labels import fit_to_width


class Banner(QtWidgets.QFrame):
    """One message at a time; hidden until :meth:`show_message`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.text = fit_to_width(QtWidgets.QLabel())  # it names files and folders
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.hide)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addWidget(self.text, 1)
        lay.addWidget(close)
        self.hide()

    def show_message(self, message: str, error: bool = True) -> None:
        colour = "#5a1d1d" if error else "#1d3a5a"
        self.setStyleSheet(f"#banner {{ background: {colour}; border-radius: 4px; }}"
                           "#banner QLabel { color: white; }")
        self.text.setText(message)
        self.show()

    def clear_if(self, prefix: str) -> None:
        """Hide the message if it starts with ``prefix``: a fault that a later
        success has made stale (an export that failed, then worked), while
        any other message stays."""
        if not self.isHidden() and self.text.text().startswith(prefix):
            self.hide()
