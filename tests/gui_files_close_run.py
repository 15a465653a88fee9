"""The window closed and deleted while the Files tab's worker cannot stop:
its classifier is loading (the speech recogniser takes 1-3 s of CPU the
first time and cannot be interrupted; here a load held until released).

Run as a subprocess: a QThread destroyed while it runs aborts the whole
process. Prints one JSON object: whether the worker thread ran on after the
window was gone, ended when the load was let go, and the kwsapp threads left.

Usage: python tests/gui_files_close_run.py --model DIR --file WAV
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# gui_helpers sets QT_QPA_PLATFORM=offscreen
from gui_helpers import print_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()

    import shiboken6
    from PySide6 import QtCore

    from kwsapp.gui import files
    from kwsapp.gui.app import make_application
    from kwsapp.gui.main_window import MainWindow

    loading, release = threading.Event(), threading.Event()
    real = files.FileClassifier

    class HeldClassifier(real):
        @classmethod
        def load(cls, *args, **kwargs):
            loading.set()
            release.wait(30)
            return real.load(*args, **kwargs)

    files.FileClassifier = HeldClassifier
    app = make_application(["gui-files-close"])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "kwsapp.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, model=args.model, autostart=False,
                        source_name="none")
    window.show()
    thread = window.file_thread
    ended = threading.Event()
    thread.finished.connect(ended.set, QtCore.Qt.ConnectionType.DirectConnection)
    window.classify_files([args.file])
    deadline = time.monotonic() + 20
    while not loading.is_set() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    window.close()
    result = {"loading_at_close": loading.is_set(), "running_after_close": not ended.is_set()}
    shiboken6.delete(window)  # what Qt does to a closed main window with WA_DeleteOnClose
    result["window_deleted"] = not shiboken6.isValid(window)
    release.set()
    deadline = time.monotonic() + 20
    while not ended.is_set() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    result["thread_ended"] = ended.is_set()
    app.processEvents()
    print_result(result)


if __name__ == "__main__":
    main()
