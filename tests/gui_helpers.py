"""Helpers shared by the GUI tests (offscreen Qt) and their run scripts
(tests/gui_*_run.py)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time

# Before any QApplication exists: the tests draw offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtGui  # noqa: E402

from kwsapp.audio.source import FileSource  # noqa: E402


def run_until(condition, timeout_s: float = 30.0, each=None) -> bool:
    """Qt events (and ``each()``) until ``condition()`` holds; whether it
    did in time."""
    from PySide6 import QtWidgets

    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        QtWidgets.QApplication.processEvents()
        if each is not None:
            each()
        time.sleep(0.01)
    QtWidgets.QApplication.processEvents()
    return condition()


def own_children(module: str) -> list:
    """This process's children (at any depth) running ``python -m
    module`` (kwsapp.audio.child_source, kwsapp.audio.portaudio_child),
    still running: one that ended and is not reaped yet, a zombie, is not."""
    import psutil

    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if module in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:  # ended meanwhile, or a zombie
            pass
    return found


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


class NotedSource(FileSource):
    """``audio`` (thirty seconds of silence unless given) replayed in real
    time, noting the threads that made and stopped it."""

    def __init__(self, audio: np.ndarray | None = None) -> None:
        super().__init__(np.zeros(16000 * 30, np.float32) if audio is None else audio, 320,
                         realtime=True)
        self.made_on = threading.current_thread().name
        self.stopped_on: str | None = None

    def stop(self) -> None:
        if self.stopped_on is None:
            self.stopped_on = threading.current_thread().name
        super().stop()


class SlowSources:
    """A source factory that waits for ``gate`` (at most ``wait_s``) before
    it makes each source (``kind()``): a device slow to open."""

    def __init__(self, wait_s: float = 0.0, open_at_once: bool = True,
                 kind=NotedSource) -> None:
        self.kind = kind
        self.made: list[NotedSource] = []
        self.devices: list[object] = []
        self.gate = threading.Event()
        if open_at_once:
            self.gate.set()
        self.wait_s = wait_s
        self.most_at_once = 0  # sources made and not stopped, at most

    def __call__(self, device: object) -> NotedSource:
        self.devices.append(device)
        self.gate.wait(self.wait_s)
        self.made.append(self.kind())
        self.most_at_once = max(self.most_at_once, len(self.running()))
        return self.made[-1]

    def running(self) -> list[NotedSource]:
        return [s for s in self.made if s.stopped_on is None]


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


@pytest.fixture(name="window")
def exposed_window(qtbot, tmp_path, tiny_model):
    """The ``window`` of tests that look at its layout (imported by them):
    a quiet main window on the tiny model, shown and exposed; closed after."""
    win = quiet_window(qtbot, tmp_path / "s.ini", str(tiny_model), show=True)
    qtbot.waitExposed(win)
    yield win
    win.close()


@contextlib.contextmanager
def windows_made(tmp_path, **defaults):
    """``make(model, source_factory=None, settings_file="kwsapp.ini",
    **kwargs)``: a shown main window (``defaults`` under ``kwargs``), its
    settings in ``tmp_path``; every window made is closed at the end (a
    test fixture yields ``make``; strong references: qtbot keeps only weak
    ones)."""
    from kwsapp.gui.main_window import MainWindow

    windows = []

    def make(model, source_factory=None, settings_file="kwsapp.ini", **kwargs):
        window = MainWindow(settings=temp_settings(tmp_path / settings_file),
                            model=str(model), source_factory=source_factory,
                            **{**defaults, **kwargs})
        windows.append(window)
        window.show()
        return window

    try:
        yield make
    finally:
        for window in windows:
            window.close()
