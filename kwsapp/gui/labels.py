"""Labels that show text the user gave: file and folder names, paths, a
word's name.

Qt wraps a label's text only where a line may break (spaces, after "/" or
"-"), and asks for the longest unbroken run's width as the label's least:
a 200-character file name with none made the window 1,533 pixels wide (the
files list squeezed to 70), a long name typed in Add word made the dialog
wider than the screen. These labels take the width the window has and
wrap in it; a run longer than that is cut at the edge (the whole text is
in the tooltip).
"""

from __future__ import annotations

from PySide6 import QtWidgets


def fit_to_width(label: QtWidgets.QLabel) -> QtWidgets.QLabel:
    """``label`` wrapped to the width it is given, never asking for more
    (its least width 0: a layout ignores its width hints); returns it."""
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QtWidgets.QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)
    return label

