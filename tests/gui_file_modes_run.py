"""The window given folders and files it may not read or write: run as a
subprocess under ``setpriv`` (conftest.without_root_file_access), so that
file modes hold even for root, who reads and writes them all.

Drops ``--drop`` paths on the window (a real drag-enter + drop), waits for
the files to be classified, exports the Files tab to ``--export`` and
prints one JSON object: the rows (name, result), the export's outcome and
the banner's text, and the kwsapp threads left after closing.

Usage: python tests/gui_file_modes_run.py --model DIR --drop PATH... --export CSV
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import print_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--drop", required=True, nargs="+")
    parser.add_argument("--export", required=True)
    args = parser.parse_args()

    from PySide6 import QtCore, QtGui, QtWidgets

    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    app = make_application(["gui-file-modes"])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "kwsapp.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, model=args.model, autostart=False,
                        source_name="none")
    window.show()
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(p) for p in args.drop])
    pos = QtCore.QPointF(window.width() / 2, window.height() / 2)
    window.dropEvent(QtGui.QDropEvent(pos, QtCore.Qt.DropAction.CopyAction, mime,
                                      QtCore.Qt.MouseButton.NoButton,
                                      QtCore.Qt.KeyboardModifier.NoModifier))
    deadline = time.monotonic() + 60
    while window.file_dispatch.busy and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    QtWidgets.QApplication.processEvents()
    exported = window.export_csv(args.export)
    result = {"rows": window.files.result_rows(), "exported": exported,
              "banner": window.banner.text.text() if not window.banner.isHidden() else ""}
    window.close()
    print_result(result)


if __name__ == "__main__":
    main()
