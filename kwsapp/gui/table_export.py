"""Tables out of the window: a table's rows to a CSV file (File > Export…)
or to the clipboard (Copy rows, Ctrl+C: tab-separated, so they paste into
a spreadsheet)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Protocol, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.atomic import write_atomic
from kwsapp.errors import BadInputError


class Table(Protocol):
    """A widget whose rows can leave the window."""

    def table_rows(self, selected_only: bool = False) -> tuple[list[str], list[list[object]]]:
        """``(header, rows)``: every row, or the selected ones."""


def to_csv(header: Sequence[str], rows: Sequence[Sequence[object]],
           delimiter: str = ",") -> str:
    """The rows as CSV text (``delimiter`` "\\t" for the clipboard)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def save_csv(path: str | os.PathLike[str], table: Table) -> int:
    """Write every row of ``table`` to ``path`` (atomically); returns the
    number of rows.

    Raises:
        BadInputError: ``path`` cannot be written; the message names it and
            says why in words.
        DiskFullError: the disk is full (a file there before is kept).
    """
    header, rows = table.table_rows()
    try:
        write_atomic(path, to_csv(header, rows).encode("utf-8"))
    except OSError as exc:
        raise BadInputError(f"{path}: {write_problem(path, exc)}") from None
    return len(rows)


def write_problem(path: str | os.PathLike[str], exc: OSError) -> str:
    """Why ``path`` could not be written, in words. The OS error names the
    atomic write's temporary file (``.tmp-x1y2.csv``), which the user never
    chose and cannot find: the message said "Permission denied:
    '/data/.tmp-x1y2.csv'" for a read-only /data."""
    folder = Path(path).parent
    if isinstance(exc, IsADirectoryError) or Path(path).is_dir():
        return "that is a folder: give the file a name"
    if isinstance(exc, PermissionError):
        return f"no permission to write in {folder}"
    if isinstance(exc, (NotADirectoryError, FileExistsError)):  # a file where a folder should be
        return f"{folder} is not a folder"
    return f"cannot be written ({exc.strerror or exc})"


def copy_rows(table: Table) -> int:
    """The selected rows (all if none is) to the clipboard, tab-separated,
    without the header; returns the number copied."""
    _, rows = table.table_rows(selected_only=True)
    if not rows:
        _, rows = table.table_rows()
    QtGui.QGuiApplication.clipboard().setText(to_csv((), rows, delimiter="\t"))
    return len(rows)


def add_copy_action(widget: QtWidgets.QAbstractItemView, table: Table) -> QtGui.QAction:
    """Rows selectable in ranges; "Copy rows" (Ctrl+C) on the widget and in
    its context menu."""
    widget.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
    action = QtGui.QAction("&Copy rows", widget)
    action.setShortcut(QtGui.QKeySequence.StandardKey.Copy)
    action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.setToolTip("Copy the selected rows (all if none is selected), tab-separated")
    action.triggered.connect(lambda: copy_rows(table))
    widget.addAction(action)
    widget.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.ActionsContextMenu)
    return action
