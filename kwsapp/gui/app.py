"""Start the desktop app: check for a display *before* Qt is touched, make the
QApplication, route Qt messages and uncaught exceptions to logging, show the
window, run the event loop."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from kwsapp.errors import KwsError

if TYPE_CHECKING:
    from PySide6 import QtWidgets

    from kwsapp.gui.main_window import MainWindow

log = logging.getLogger(__name__)

#: Qt platforms that need no display server.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


class NoDisplayError(KwsError):
    """No screen to open a window on."""

    exit_code = 2


def check_display(environ: dict[str, str] | None = None, platform: str = sys.platform) -> None:
    """Raise :class:`NoDisplayError` where Qt would abort for lack of a
    display (no X11/Wayland display on Linux and no headless platform set)."""
    env = os.environ if environ is None else environ
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in HEADLESS_PLATFORMS or platform in ("win32", "darwin"):
        return
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return
    raise NoDisplayError("no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
                         "use `kwsapp listen` to recognize commands in a terminal")


def _qt_message_handler(mode, _context, message: str) -> None:
    from PySide6 import QtCore
    level = {QtCore.QtMsgType.QtDebugMsg: logging.DEBUG,
             QtCore.QtMsgType.QtInfoMsg: logging.INFO,
             QtCore.QtMsgType.QtWarningMsg: logging.WARNING}.get(mode, logging.ERROR)
    logging.getLogger("qt").log(level, "%s", message)


def apply_dark_theme(app: QtWidgets.QApplication) -> None:
    """Fusion with a dark palette, so the controls match the dark plots."""
    from PySide6 import QtGui

    app.setStyle("Fusion")
    c = QtGui.QColor
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    for r, colour in ((role.Window, c(37, 39, 44)), (role.WindowText, c(225, 228, 232)),
                      (role.Base, c(24, 25, 29)), (role.AlternateBase, c(33, 35, 40)),
                      (role.ToolTipBase, c(50, 52, 58)), (role.ToolTipText, c(235, 235, 235)),
                      (role.Text, c(225, 228, 232)), (role.Button, c(48, 51, 57)),
                      (role.ButtonText, c(225, 228, 232)), (role.BrightText, c(255, 90, 90)),
                      (role.Highlight, c(40, 150, 190)), (role.HighlightedText, c(255, 255, 255)),
                      (role.PlaceholderText, c(130, 130, 140)), (role.Link, c(80, 200, 255))):
        pal.setColor(r, colour)
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for r in (role.Text, role.ButtonText, role.WindowText):
        pal.setColor(disabled, r, c(110, 112, 118))
    app.setPalette(pal)


def make_application(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication (existing one reused), with Qt messages sent to logging."""
    from PySide6 import QtCore, QtWidgets
    import pyqtgraph as pg

    QtCore.qInstallMessageHandler(_qt_message_handler)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or ["kwsapp"])
    app.setApplicationName("kwsapp")
    app.setOrganizationName("kwsapp")
    pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")
    apply_dark_theme(app)
    return app


def install_excepthook(window: MainWindow) -> None:
    """Uncaught exceptions in slots are logged and shown in the window's
    banner instead of killing the app."""

    def hook(kind, value, tb) -> None:
        log.error("uncaught error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        try:
            window.banner.show_message(f"Internal error: {kind.__name__}: {value} "
                                       "(details in the log)")
        except RuntimeError:  # window already deleted
            pass

    sys.excepthook = hook


def log_to_file() -> Path | None:
    """Also log warnings and errors (uncaught ones included) to a rotating
    file in the app's data folder; returns its path."""
    from logging.handlers import RotatingFileHandler

    from PySide6 import QtCore

    folder = Path(QtCore.QStandardPaths.writableLocation(
        QtCore.QStandardPaths.StandardLocation.AppLocalDataLocation))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / "kwsapp.log", maxBytes=1_000_000, backupCount=2)
    except OSError as exc:  # a read-only home must not stop the window
        log.warning("no log file in %s: %s", folder, exc)
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return folder / "kwsapp.log"


def run(model: str | None = None, device: str | None = None,
        device_rate_hz: int | None = None) -> int:
    """Open the window listening at once (``device_rate_hz``: the rate to ask
    the device for; None its own); returns the exit code."""
    check_display()
    app = make_application(sys.argv[:1])
    log_to_file()
    from kwsapp.gui.main_window import MainWindow

    from dataclasses import replace

    from kwsapp.config import Config

    config = Config()
    config = replace(config, audio=replace(config.audio, device_rate_hz=device_rate_hz))
    window = MainWindow(config=config, model=model, device=device)
    install_excepthook(window)
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    return int(app.exec())
