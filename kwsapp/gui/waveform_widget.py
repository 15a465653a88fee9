"""Waveform of the last few seconds with speech regions shaded, and a level meter.

Drawing is vectorized: the waveform is reduced to a min/max envelope of a
fixed number of buckets (one reshape) and drawn as one zig-zag curve; the
speech mask becomes one stepped, filled curve.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.config import SAMPLE_RATE_HZ, GuiConfig
from kwsapp.gui.spectrogram_widget import AXIS_WIDTH_PX

WAVE_COLOUR = (120, 200, 255)
SPEECH_BRUSH = (255, 190, 60, 55)
#: Shortest envelope segment (in amplitude units, about a pixel at the usual
#: height), so digital silence still draws the zero line.
MIN_SEGMENT = 0.01
#: The level meter's scale steps (dB): the least that gives few enough labels.
SCALE_STEPS_DB = tuple(m * 10 ** k for k in range(4) for m in (1, 2, 3, 5))
SCALE_TEXT = (200, 200, 205)  # the scale over the meter's dark, unfilled part
SCALE_TEXT_ON_BAR = (20, 20, 24)  # and over its bright bar


def scale_ticks(floor_db: float, most: int) -> list[int]:
    """Levels (dBFS, lowest first, 0 last) of a meter's scale from
    ``floor_db`` (below 0) to 0: the multiples of the least round step
    (:data:`SCALE_STEPS_DB`) that gives at most ``most`` of them."""
    span = -float(floor_db)
    for step in SCALE_STEPS_DB:
        count = int(np.floor(span / step + 1e-9)) + 1
        if count <= most:
            break
    return [-k * step for k in range(count - 1, -1, -1)]


def envelope(audio: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``audio`` in ``buckets`` equal parts (the tail that does
    not fill a bucket is dropped at the *start*, so the newest sample stays).

    Returns:
        ``(lo, hi)`` each ``[buckets]`` float32.
    """
    per = max(1, audio.size // buckets)
    usable = audio[audio.size - per * buckets:] if audio.size >= per * buckets else \
        np.pad(audio, (per * buckets - audio.size, 0))
    parts = usable.reshape(buckets, per)
    return parts.min(axis=1), parts.max(axis=1)


def mask_to_buckets(mask: np.ndarray, buckets: int) -> np.ndarray:
    """Any-speech per bucket of a bool mask of any length (per sample or per
    VAD frame), as float32 0/1 ``[buckets]``."""
    mask = np.asarray(mask, bool)
    if mask.size == 0:
        return np.zeros(buckets, np.float32)
    # Index of the mask element at each bucket's centre: works for per-sample
    # and per-frame masks alike.
    idx = ((np.arange(buckets) + 0.5) * mask.size / buckets).astype(np.intp)
    return mask[np.minimum(idx, mask.size - 1)].astype(np.float32)


class SpeechShading(pg.GraphicsObject):
    """Shaded spans where the voice detector heard speech: one ``fillRect``
    per speech run (a full-width translucent image costs ~10x more)."""

    def __init__(self, seconds: float, buckets: int) -> None:
        super().__init__()
        self.seconds, self.buckets = seconds, buckets
        self.mask = np.zeros(buckets, np.float32)
        self._spans: list[tuple[float, float]] = []
        self._brush = pg.mkBrush(*SPEECH_BRUSH)

    def set_mask(self, mask: np.ndarray) -> None:
        """Per-bucket 0/1 speech flags, oldest first."""
        if np.array_equal(mask, self.mask):
            return
        self.mask = mask.astype(np.float32)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], self.mask > 0, [0]]).astype(np.int8)))
        width = self.seconds / self.buckets
        self._spans = [(-self.seconds + a * width, (b - a) * width)
                       for a, b in zip(edges[::2], edges[1::2])]
        self.update()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt name)
        return QtCore.QRectF(-self.seconds, -1.0, self.seconds, 2.0)

    def paint(self, painter, *_args) -> None:
        for x, w in self._spans:
            painter.fillRect(QtCore.QRectF(x, -1.0, w, 2.0), self._brush)


class WaveformWidget(pg.PlotWidget):
    """The last ``waveform_seconds`` of input; VAD speech regions shaded."""

    def __init__(self, config: GuiConfig, sample_rate_hz: int = SAMPLE_RATE_HZ,
                 parent=None) -> None:
        super().__init__(parent=parent)
        self.seconds = config.waveform_seconds
        self.n_samples = int(round(self.seconds * sample_rate_hz))
        self.buckets = config.waveform_buckets
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.setXRange(-self.seconds, 0, padding=0)
        plot.setYRange(-1, 1, padding=0.02)
        plot.setLabel("bottom", "time", units="s")
        plot.getAxis("left").setTicks([[(-1, "-1"), (0, "0"), (1, "1")]])
        plot.getAxis("left").setWidth(AXIS_WIDTH_PX)
        t = np.linspace(-self.seconds, 0, self.buckets, dtype=np.float32)
        self._speech = SpeechShading(self.seconds, self.buckets)
        # Envelope: one vertical segment (min..max) per bucket, drawn with
        # connect="pairs" (pyqtgraph's drawLines fast path, not a path).
        self._wave = pg.PlotCurveItem(np.repeat(t, 2), np.zeros(2 * self.buckets, np.float32),
                                      pen=pg.mkPen(WAVE_COLOUR, width=1), connect="pairs",
                                      skipFiniteCheck=True)
        plot.addItem(self._speech)
        plot.addItem(self._wave)
        self._t2 = np.repeat(t, 2)
        self._zig = np.empty(2 * self.buckets, np.float32)
        self.setToolTip(f"Input waveform of the last {self.seconds:g} s; shaded: "
                        "where the voice detector heard speech")

    def update_view(self, audio: np.ndarray, speech_mask: np.ndarray | None = None) -> None:
        """Draw ``audio`` (the last ``n_samples``, float32) and its speech mask."""
        audio = np.asarray(audio, np.float32)[-self.n_samples:]
        if audio.size < self.n_samples:  # stream younger than the span
            audio = np.pad(audio, (self.n_samples - audio.size, 0))
        lo, hi = envelope(audio, self.buckets)
        self._zig[0::2] = lo
        # A zero-length segment is not drawn: keep silence a visible line.
        self._zig[1::2] = np.maximum(hi, lo + MIN_SEGMENT)
        self._wave.setData(self._t2, self._zig, connect="pairs", skipFiniteCheck=True)
        if speech_mask is not None:
            self._speech.set_mask(mask_to_buckets(speech_mask, self.buckets))

    def speech_shading(self) -> np.ndarray:
        """Per-bucket shading currently drawn, 0/1 (for tests)."""
        return self._speech.mask.copy()

    def wave_points(self) -> np.ndarray:
        """Envelope values currently drawn (for tests)."""
        return self._zig.copy()


class LevelMeter(QtWidgets.QWidget):
    """Input level: RMS bar in dBFS with a decaying peak mark, and a dBFS
    scale drawn inside the bar (no height of its own). The scale's labels
    are laid out on a resize only, each paint draws them (a timer repaints
    the meter 30 times a second)."""

    def __init__(self, config: GuiConfig, parent=None) -> None:
        super().__init__(parent)
        self.floor_db = config.meter_floor_db
        self.rms_db = self.floor_db
        self.peak_db = self.floor_db
        self.ticks = scale_ticks(self.floor_db, config.meter_scale_ticks)
        self._scale_font = QtGui.QFont(self.font())
        self._scale_font.setPixelSize(int(config.meter_scale_px))
        self._labels: list[tuple[str, QtCore.QRect]] = []
        self._tick_xs: list[int] = []
        self.setMinimumHeight(14)
        self.setMaximumHeight(18)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Fixed)
        self.setToolTip("Input level (RMS, dBFS, on the scale drawn in it); the thin "
                        "mark is the recent peak")
        self._lay_out_scale()

    def scale_labels(self) -> list[tuple[str, QtCore.QRect]]:
        """``(text, rect)`` of the scale's labels drawn at the meter's size,
        left to right (in its pixels)."""
        return list(self._labels)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._lay_out_scale()

    def _lay_out_scale(self) -> None:
        width, height = self.width(), self.height()
        metrics = QtGui.QFontMetrics(self._scale_font)
        self._tick_xs = [x for x in (self._x(db, width) for db in self.ticks) if 0 < x < width]
        self._labels = []
        if metrics.height() > height:  # lower than a line: no labels
            return
        pad = 3  # from its tick mark
        gap = max(4, metrics.horizontalAdvance(" "))  # between two labels
        placed = []
        for db in self.ticks:
            text = "0 dBFS" if db == 0 else f"{db:g}"
            x, w = self._x(db, width), metrics.horizontalAdvance(text)
            # Right of its tick; where that leaves the meter (0 dBFS at its
            # right end), left of it.
            left = x + pad if x + pad + w <= width else x - pad - w
            placed.append((db, text, QtCore.QRect(left, (height - metrics.height()) // 2,
                                                  w, metrics.height())))
        # The ends are kept first (0 dBFS, then the floor's), then the rest
        # from the left, each only where it has room: a narrow meter drops
        # labels rather than overlap them.
        order = [placed[-1]] + placed[:-1]
        kept: list[tuple[float, str, QtCore.QRect]] = []
        for db, text, rect in order:
            room = rect.adjusted(-gap, 0, gap, 0)
            if rect.left() >= 0 and rect.right() < width and \
                    not any(room.intersects(other) for _, _, other in kept):
                kept.append((db, text, rect))
        self._labels = [(text, rect) for _, text, rect in sorted(kept, key=lambda k: k[0])]

    def set_audio(self, audio: np.ndarray) -> None:
        """Update from the latest samples (float32)."""
        audio = np.asarray(audio, np.float32)
        rms = float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        self.rms_db = max(self.floor_db, 20.0 * np.log10(max(rms, 1e-12)))
        # Peak mark falls 1 dB per update, so it lingers for about a second.
        self.peak_db = max(self.floor_db, 20.0 * np.log10(max(peak, 1e-12)), self.peak_db - 1.0)
        self.update()

    def _x(self, db: float, width: int) -> int:
        return int(width * (db - self.floor_db) / -self.floor_db)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        p = QtGui.QPainter(self)
        r = self.rect()
        p.fillRect(r, QtGui.QColor(30, 30, 34))
        grad = QtGui.QLinearGradient(0, 0, r.width(), 0)
        grad.setColorAt(0.0, QtGui.QColor(60, 200, 110))
        grad.setColorAt(0.75, QtGui.QColor(230, 210, 60))
        grad.setColorAt(1.0, QtGui.QColor(235, 70, 60))
        fill = self._x(self.rms_db, r.width())
        p.fillRect(QtCore.QRect(0, 0, fill, r.height()), grad)
        # The scale: light over the dark part, dark over the bar.
        p.setFont(self._scale_font)
        align = QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter
        for colour, clip in ((SCALE_TEXT, QtCore.QRect(fill, 0, r.width() - fill, r.height())),
                             (SCALE_TEXT_ON_BAR, QtCore.QRect(0, 0, fill, r.height()))):
            if clip.width() <= 0:
                continue
            p.setClipRect(clip)
            p.setPen(QtGui.QColor(*colour))
            for x in self._tick_xs:
                p.drawLine(x, 0, x, 2)
                p.drawLine(x, r.height() - 3, x, r.height() - 1)
            for text, rect in self._labels:
                p.drawText(rect, align, text)
        p.setClipping(False)
        p.setPen(QtGui.QPen(QtGui.QColor(240, 240, 240), 2))
        x = self._x(self.peak_db, r.width())
        p.drawLine(x, 0, x, r.height())
        p.end()
