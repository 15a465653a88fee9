"""One take of the "Add word…" dialog: its waveform with the speech shaded,
what is wrong with it, and its Record / Play / Drop buttons."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from kwsapp.config import SAMPLE_RATE_HZ
from kwsapp.gui.labels import fit_to_width
from kwsapp.gui.waveform_widget import envelope
from kwsapp.userwords.takes import Take

WAVE_POINTS = 400
SPEECH_BRUSH = (255, 190, 60, 60)
RECORD_TEXT = "● Record"
STARTING_TEXT = "Starting…"  # the input is opening


class TakeSlot(QtWidgets.QFrame):
    """One take: its waveform (speech shaded), what is wrong with it, and
    Record / Play / Drop buttons."""

    record_clicked = QtCore.Signal(int)
    play_clicked = QtCore.Signal(int)
    drop_clicked = QtCore.Signal(int)

    def __init__(self, index: int, parent=None) -> None:
        super().__init__(parent)
        self.index = index
        self.take: Take | None = None
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(46)
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.setYRange(-1, 1, padding=0.05)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen((120, 200, 255), width=1))
        self.speech = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(*SPEECH_BRUSH))
        self.speech.hide()
        item.addItem(self.speech)
        item.addItem(self.curve)
        self.status = fit_to_width(QtWidgets.QLabel("not recorded"))  # a file's name, why not
        self.record_button = QtWidgets.QPushButton(RECORD_TEXT)
        self.record_button.setToolTip("Record this take from the input device")
        self.play_button = QtWidgets.QPushButton("▶ Play")
        self.play_button.setToolTip("Play this take back")
        self.drop_button = QtWidgets.QPushButton("✕ Drop")
        self.drop_button.setToolTip("Drop this take (record it again, or drop a file here)")
        self.record_button.clicked.connect(lambda: self.record_clicked.emit(self.index))
        self.play_button.clicked.connect(lambda: self.play_clicked.emit(self.index))
        self.drop_button.clicked.connect(lambda: self.drop_clicked.emit(self.index))
        title = QtWidgets.QLabel(f"Take {index + 1}")
        title.setMinimumWidth(48)
        # Two rows of buttons, not three: five takes and the rest of the
        # dialog then fit a 768-pixel screen without scrolling.
        buttons = QtWidgets.QGridLayout()
        buttons.addWidget(self.record_button, 0, 0, 1, 2)
        buttons.addWidget(self.play_button, 1, 0)
        buttons.addWidget(self.drop_button, 1, 1)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(6, 3, 6, 3)
        lay.addWidget(title)
        mid = QtWidgets.QVBoxLayout()
        mid.addWidget(self.plot)
        mid.addWidget(self.status)
        lay.addLayout(mid, 1)
        lay.addLayout(buttons)
        self.set_take(None)

    def set_take(self, take: Take | None, message: str | None = None) -> None:
        """Show ``take`` (None: empty) and a status line."""
        self.take = take
        self.play_button.setEnabled(take is not None)
        self.drop_button.setEnabled(take is not None)
        if take is None:
            self.curve.setData([], [])
            self.speech.hide()
            self.status.setText(message or "not recorded")
            self.status.setStyleSheet("color: #e07070;" if message else "")
            return
        lo, hi = envelope(take.audio, WAVE_POINTS)
        peak = max(float(np.max(np.abs(take.audio))), 1e-3)
        seconds = take.audio.size / SAMPLE_RATE_HZ
        t = np.repeat(np.linspace(0, seconds, WAVE_POINTS), 2)
        zig = np.empty(2 * WAVE_POINTS, np.float32)
        zig[0::2], zig[1::2] = lo / peak, hi / peak
        self.curve.setData(t, zig, connect="pairs")
        self.plot.getPlotItem().setXRange(0, seconds, padding=0)
        self.speech.setRegion((take.speech_start / SAMPLE_RATE_HZ, take.speech_end / SAMPLE_RATE_HZ))
        self.speech.show()
        self.status.setText(message or f"{take.speech_s:.2f} s of speech")
        self.status.setStyleSheet("")

    def drawn_points(self) -> int:
        """Points of the waveform drawn (for tests)."""
        x, _ = self.curve.getData()
        return 0 if x is None else len(x)

    def show_starting(self, starting: bool) -> None:
        """Record says that its input is opening, or is Record again."""
        self.record_button.setText(STARTING_TEXT if starting else RECORD_TEXT)
