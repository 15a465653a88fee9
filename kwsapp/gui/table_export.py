"""Tables out of the window: a table's rows to a CSV file (File > Export…)
or to the clipboard (Copy rows, Ctrl+C: tab-separated, so they paste into
a spreadsheet)."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path
from typing import Protocol, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.atomic import write_atomic, write_target
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
    """Write every row of ``table`` to ``path`` (atomically: through a
    symbolic link to its file, a file's mode kept); returns the number of
    rows.

    Raises:
        BadInputError: ``path`` cannot be written, or is a read-only file
            (:func:`read_only`, kept as it is); the message names it and
            says why in words.
        DiskFullError: the disk is full (a file there before is kept).
    """
    header, rows = table.table_rows()
    if read_only(path):
        # The atomic write's rename replaces a file whatever its mode (in a
        # folder that may be written): a file made read-only was replaced.
        raise BadInputError(f"{path}: the file is read-only, so it is kept as it is; export "
                            "under another name, or make it writable first")
    try:
        write_atomic(path, to_csv(header, rows).encode("utf-8"))
    except OSError as exc:
        raise BadInputError(f"{path}: {write_problem(path, exc)}") from None
    return len(rows)


def read_only(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file its mode does not let this user write.
    Root may write any file, so for root: one whose owner may not write it
    (``chmod a-w``, ``444``), as ``ls -l`` shows it read-only."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # no such file (or none reachable): nothing to keep
        return False
    if not stat.S_ISREG(mode):
        return False
    if getattr(os, "geteuid", lambda: -1)() == 0:
        return not mode & stat.S_IWUSR
    return not os.access(path, os.W_OK)


def write_problem(path: str | os.PathLike[str], exc: OSError) -> str:
    """Why ``path`` could not be written, in words. The OS error names the
    atomic write's temporary file (``.tmp-x1y2.csv``), which the user never
    chose and cannot find: the message said "Permission denied:
    '/data/.tmp-x1y2.csv'" for a read-only /data. The folder named is the
    one written: that of the file a symbolic link points to."""
    folder = write_target(path).parent
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
