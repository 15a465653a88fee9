"""Helpers shared by the GUI tests (offscreen Qt) and their run scripts
(tests/gui_*_run.py)."""

from __future__ import annotations

import json
import os
import threading
import time

# Before any QApplication exists: the tests draw offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtGui  # noqa: E402


def grab_pixels(widget) -> np.ndarray:
    """The widget as drawn: ``[height, width, 3]`` uint8 RGB."""
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    h, w, stride = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return buf[:, :w * 3].reshape(h, w, 3).copy()


def temp_settings(path) -> QtCore.QSettings:
    """A settings store in a temporary ini file (never the user's)."""
    return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)


def kwsapp_threads() -> list[str]:
    """Names of the kwsapp threads still alive (a closed window leaves none)."""
    return [t.name for t in threading.enumerate()
            if t.name.startswith("kwsapp-") and t.is_alive()]


def print_result(result: dict) -> None:
    """A run script's last line: ``result`` and the kwsapp threads left, as JSON."""
    result["threads_left"] = kwsapp_threads()
    print(json.dumps(result), flush=True)


def start_and_wait(window, timeout_s: float = 30.0) -> bool:
    """``window.start_listening()``, then Qt events until that start ends
    (the window's session runner opens the device on its own thread):
    whether the window listens. For the run scripts, which have no qtbot."""
    from PySide6 import QtWidgets

    window.start_listening()
    deadline = time.monotonic() + timeout_s
    while window.starting and time.monotonic() < deadline:
        QtWidgets.QApplication.processEvents()
        time.sleep(0.01)
    QtWidgets.QApplication.processEvents()  # what the start's end queued
    return window.session is not None


def quiet_window(qtbot, settings_file, model: str, show: bool = False):
    """A main window on ``model`` that does not start listening, with its
    settings in ``settings_file`` (closed by the caller)."""
    from kwsapp.gui.main_window import MainWindow

    win = MainWindow(settings=temp_settings(settings_file), model=model,
                     autostart=False, source_name="test input")
    qtbot.addWidget(win)
    if show:
        win.show()
    return win
