"""Log-mel spectrogram views: the live scrolling one and a static one for files.

Compute and paint are split as in Friture's spectrogram: :class:`StreamingLogMel`
turns new samples into new columns (numpy only, no Qt); the widgets keep a
preallocated image, shift it in place and call ``setImage`` once per frame
with fixed levels and a 256-entry colour LUT (pyqtgraph's fast path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from kwsapp import features
from kwsapp.config import SAMPLE_RATE_HZ, GuiConfig, ms_to_samples

#: Frequencies labelled on the mel axis, in the order they are kept where
#: there is no room for every label (a low plot): 250 and 500 Hz are 9
#: pixels apart in the smallest window, and their labels overlapped.
AXIS_TICKS_HZ = (1000, 4000, 250, 2000, 500, 8000)
#: Left axis width shared by the stacked live plots, so their time axes align.
AXIS_WIDTH_PX = 44


def roomy(extents: Iterable[tuple[float, float]]) -> list[int]:
    """The indices of the ``(low, high)`` extents (pixels along an axis)
    that have room, taken in the order given: one that overlaps an extent
    kept already is left out (touching is room enough). Labels drawn only
    where they have room: the Hz ticks, the timeline's commands."""
    kept: list[tuple[float, float]] = []
    indices = []
    for i, (low, high) in enumerate(extents):
        if all(high <= other_low or low >= other_high for other_low, other_high in kept):
            kept.append((low, high))
            indices.append(i)
    return indices


def rows_with_room(extents: Sequence[tuple[float, float]], n_rows: int) -> list[int | None]:
    """The row (0 the first) of each ``(low, high)`` extent, in the first
    of ``n_rows`` rows where it overlaps none placed before it (taken in
    the order given), or None: no room in any."""
    rows: list[int | None] = [None] * len(extents)
    left = list(range(len(extents)))
    for row in range(max(0, n_rows)):
        kept = roomy(extents[i] for i in left)
        for j in kept:
            rows[left[j]] = row
        left = [i for i in left if rows[i] is None]
    return rows


class RoomyTicksAxis(pg.AxisItem):
    """An axis of fixed, labelled ticks that draws those its length has
    room for: taken in the order given, a tick whose label would overlap
    the label of one already kept is left out. (pyqtgraph draws every
    fixed tick of ``setTicks``, overlapping or not; its text fill limits
    only drop whole tick levels.)

    Args:
        orientation: "left", "right", "top" or "bottom".
        ticks: ``(value, label)`` pairs, the first kept first.
    """

    def __init__(self, orientation: str, ticks: Sequence[tuple[float, str]] = (),
                 **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.set_ticks(ticks)

    def set_ticks(self, ticks: Sequence[tuple[float, str]]) -> None:
        """The ``(value, label)`` pairs to draw, the first kept first."""
        self.ticks = [(float(value), str(label)) for value, label in ticks]
        self.picture = None  # drawn anew
        self.update()

    def kept_ticks(self, low: float, high: float, length_px: float) -> list[tuple[float, str]]:
        """The ticks drawn on an axis from ``low`` to ``high`` that is
        ``length_px`` pixels long, in value order."""
        if high < low:
            low, high = high, low
        if high == low or length_px <= 0:
            return []
        metrics = QtGui.QFontMetricsF(self.style["tickFont"] or QtGui.QFont())
        px_per_unit = length_px / (high - low)
        inside = [(value, label) for value, label in self.ticks if low <= value <= high]
        extents = []  # each label's pixels along the axis, centred on its tick
        for value, label in inside:
            extent = (metrics.height() if self.orientation in ("left", "right")
                      else metrics.horizontalAdvance(label))
            extents.append((value * px_per_unit - extent / 2, value * px_per_unit + extent / 2))
        return sorted(inside[i] for i in roomy(extents))

    def tickValues(self, minVal: float, maxVal: float, size: float):  # noqa: N802,N803
        return [(None, [value for value, _ in self.kept_ticks(minVal, maxVal, size)])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        labels = dict(self.ticks)
        return [labels.get(float(value), "") for value in values]


class StreamingLogMel:
    """Log-mel columns of a stream fed in arbitrary blocks.

    Keeps the samples that do not yet fill a whole hop, so the columns are
    the same whatever the block sizes (every frame is computed once).
    """

    def __init__(self, config: GuiConfig, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.n_mels = config.spectrogram_n_mels
        self._window_ms = config.spectrogram_window_ms
        self._hop_ms = config.spectrogram_hop_ms
        self._n_fft = config.spectrogram_n_fft
        self.win = ms_to_samples(self._window_ms, sample_rate_hz)
        self.hop = ms_to_samples(self._hop_ms, sample_rate_hz)
        self._pending = np.zeros(0, np.float32)

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append ``samples`` (mono float32 at ``sample_rate_hz``).

        Returns:
            the new columns ``[n_new, n_mels]`` float32 (natural-log mel power);
            ``n_new`` may be 0.
        """
        buf = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        n_frames = (buf.size - self.win) // self.hop + 1 if buf.size >= self.win else 0
        if n_frames <= 0:
            self._pending = buf
            return np.zeros((0, self.n_mels), np.float32)
        used = (n_frames - 1) * self.hop + self.win
        cols = self.compute(buf[:used])
        self._pending = buf[n_frames * self.hop:]
        return cols

    def compute(self, audio: np.ndarray) -> np.ndarray:
        """Log-mel ``[frames, n_mels]`` of a whole signal (same parameters)."""
        return features.log_mel(audio, self.sample_rate_hz, self.n_mels,
                                window_ms=self._window_ms, hop_ms=self._hop_ms,
                                n_fft=self._n_fft)

    def band_of_hz(self, hz: np.ndarray | float) -> np.ndarray:
        """Fractional mel-band index of frequencies (for axis ticks)."""
        fb = features.mel_filterbank(self.sample_rate_hz, self._n_fft, self.n_mels, 20.0, None)
        fft_hz = np.linspace(0.0, self.sample_rate_hz / 2.0, fb.shape[0])
        centres_hz = fft_hz[np.argmax(fb, axis=0)]
        return np.interp(hz, centres_hz, np.arange(self.n_mels) + 0.5)


class MelColours:
    """Log-mel values to RGBA pixels through ``GuiConfig``'s fixed levels
    and colour map (numpy only once made: a worker thread may colour an
    image the GUI thread then only hands to ``setImage``).

    The colour map is applied here, not by the ImageItem: an RGBA uint8
    image draws ~15x faster than a float image through a LUT (which Qt
    paints as a scaled Indexed8 image).
    """

    def __init__(self, config: GuiConfig) -> None:
        self._lut = pg.colormap.get(config.colormap).getLookupTable(nPts=256, alpha=True)
        lo, hi = config.spectrogram_levels
        self._scale = 255.0 / (hi - lo)
        self._low = float(lo)

    def __call__(self, columns: np.ndarray) -> np.ndarray:
        """Log-mel ``[frames, n_mels]`` -> RGBA ``[n_mels, frames, 4]`` uint8."""
        index = np.clip((columns.T - self._low) * self._scale, 0, 255).astype(np.uint8)
        return self._lut[index]


def hz_ticks(mel: StreamingLogMel) -> list[tuple[float, str]]:
    """``(mel band, label)`` of the :data:`AXIS_TICKS_HZ` below ``mel``'s
    Nyquist frequency, in their order."""
    hz = np.array([f for f in AXIS_TICKS_HZ if f <= mel.sample_rate_hz / 2])
    return [(float(b), f"{f / 1000:g}k" if f >= 1000 else str(f))
            for f, b in zip(hz, mel.band_of_hz(hz))]


class MelImagePlot(pg.PlotWidget):
    """A plot holding one log-mel image: colour map, fixed levels, Hz ticks."""

    def __init__(self, config: GuiConfig, parent=None) -> None:
        mel = StreamingLogMel(config)
        # In a low plot the Hz labels that have no room are left out.
        super().__init__(parent=parent, axisItems={"left": RoomyTicksAxis("left", hz_ticks(mel))})
        self.config = config
        self.mel = mel
        self.colours = MelColours(config)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setLabel("bottom", "time", units="s")
        plot.getAxis("left").setWidth(AXIS_WIDTH_PX)
        plot.setYRange(0, config.spectrogram_n_mels, padding=0)

    def to_rgba(self, columns: np.ndarray) -> np.ndarray:
        """Log-mel ``[frames, n_mels]`` -> RGBA ``[n_mels, frames, 4]`` uint8
        through the fixed levels and the colour map."""
        return self.colours(columns)


class SpectrogramWidget(MelImagePlot):
    """The last ``spectrogram_seconds`` of the stream, scrolling right to left.

    Call :meth:`push` once per redraw tick with the samples that arrived since
    the last tick: it computes only the new columns, shifts the preallocated
    image in place and updates the item once.
    """

    def __init__(self, config: GuiConfig, parent=None) -> None:
        super().__init__(config, parent)
        self.n_columns = int(round(config.spectrogram_seconds * 1000.0 / config.spectrogram_hop_ms))
        self._floor = float(config.spectrogram_levels[0])
        self._data = np.full((config.spectrogram_n_mels, self.n_columns), self._floor, np.float32)
        self._rgba = np.ascontiguousarray(self.to_rgba(self._data.T))
        self.image.setImage(self._rgba, autoLevels=False, levels=None)
        seconds = config.spectrogram_seconds
        self.image.setRect(QtCore.QRectF(-seconds, 0, seconds, config.spectrogram_n_mels))
        self.getPlotItem().setXRange(-seconds, 0, padding=0)
        self.getPlotItem().setMouseEnabled(x=False, y=False)
        self.setToolTip("Live log-mel spectrogram of the last "
                        f"{seconds:g} s of input (newest on the right)")

    def restart(self) -> None:
        """Blank the image and forget partial frames (a new stream starts).
        (Not ``clear``: that name is PlotWidget's "remove every item".)"""
        self.mel.reset()
        self._data.fill(self._floor)
        self._rgba[:] = self.to_rgba(self._data[:, :1].T)
        self.image.setImage(self._rgba, autoLevels=False)

    def push(self, samples: np.ndarray) -> int:
        """Add new stream samples; returns how many columns scrolled in."""
        cols = self.mel.push(samples)
        k = min(cols.shape[0], self.n_columns)
        if k == 0:
            return 0
        self._data[:, :-k] = self._data[:, k:]  # numpy handles the overlap
        self._data[:, -k:] = cols[-k:].T
        self._rgba[:, :-k] = self._rgba[:, k:]
        self._rgba[:, -k:] = self.to_rgba(cols[-k:])
        self.image.setImage(self._rgba, autoLevels=False)
        return k

    def pixels(self) -> np.ndarray:
        """The log-mel values shown ``[n_mels, columns]`` float32 (for tests)."""
        return self._data


@dataclass(frozen=True)
class DetailRequest:
    """The timeline's request number ``token`` (later ones are larger) for
    ``path``'s ``start_s``-``end_s``; ``path`` None asks for nothing: the
    requests before ``token`` are no longer wanted (zoomed out, another
    file shown)."""

    token: int
    path: str | None
    start_s: float = 0.0
    end_s: float = 0.0


@dataclass(frozen=True)
class DetailImage:
    """What a request gives: the frame index of the first column (frame
    ``k`` is the window of 16-kHz samples ``[k * hop, k * hop + win)``), the
    columns ``[n, n_mels]`` float32 (natural-log mel power, as the file's
    image) and their pixels ``[n_mels, n, 4]`` uint8."""

    request: DetailRequest
    first_frame: int
    columns: np.ndarray
    rgba: np.ndarray


class FileSpectrogramView(MelImagePlot):
    """A whole file's log-mel image with its commands marked on a timeline:
    a triangle each, and, for the commands in view when they are at most
    ``GuiConfig.file_labels_max``, a shaded span and a label. (A region and
    a label per command, all drawn, covered an hour-long file's image with
    overlapping text, and adding 2,600 items froze the window 5 s.) A label
    is drawn only where it has room (``GuiConfig.file_label_rows``), placed
    anew as the view is zoomed, panned or resized; hovering a triangle
    names its command.

    Clicking a marker (or calling :meth:`jump_to`) zooms the view to that
    command.

    Zoomed in on a file whose image is pooled (``GuiConfig.file_detail_*``),
    it asks for the full-resolution detail of the part in view by
    :attr:`detail_wanted` once the view keeps still, and draws what
    :meth:`show_detail` is given over the overview, at the columns' own
    times; zoomed out, or another file shown, the detail is dropped.
    """

    command_clicked = QtCore.Signal(int)
    # A DetailRequest: the detail of a span of the file shown (read by
    # FileDetailWorker), or, with path None, none (the earlier are stale).
    detail_wanted = QtCore.Signal(object)

    def __init__(self, config: GuiConfig, parent=None) -> None:
        super().__init__(config, parent)
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=True, y=False)
        # The zoomed detail, drawn over the overview image and under the
        # markers (items of equal z are stacked in the order added).
        self.detail = pg.ImageItem(axisOrder="row-major")
        self.detail.hide()
        plot.addItem(self.detail, ignoreBounds=True)
        self._path: str | None = None  # the file shown (None: no detail for it)
        self._column_s = 0.0  # seconds per column of its overview image
        self._detail_token = 0  # the latest request's number
        self._asked: tuple[float, float] | None = None  # its span (s)
        self.detail_span: tuple[float, float] | None = None  # what is drawn (s)
        self._detail_timer = QtCore.QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(int(config.file_detail_delay_ms))
        self._detail_timer.timeout.connect(self._ask_detail)
        self._commands: list[tuple[str, float, float, float]] = []
        self._spans: list[tuple[float, float]] = []
        self._by_start = np.zeros(0, np.int64)  # command indices, by start
        self._starts = np.zeros(0)  # their starts, sorted
        self._longest_s = 0.0
        self._seconds = 0.0
        # Span + label pairs, made as needed (at most file_labels_max) and
        # reused for whatever commands are in view.
        self._regions: list[pg.LinearRegionItem] = []
        self._texts: list[pg.TextItem] = []
        self.labelled: list[int] = []  # the commands spanned now (label k is labelled[k]'s)
        self.shown_labels: list[int] = []  # those whose label has room, drawn
        self._hint = pg.TextItem("", color=(200, 210, 220), anchor=(0, 0))
        self._hint.setZValue(10)
        plot.addItem(self._hint, ignoreBounds=True)
        # Hovered, a triangle's tooltip names its command (its label may
        # have had no room).
        self._scatter = pg.ScatterPlotItem(size=14, symbol="t", pen=pg.mkPen("k"),
                                           brush=pg.mkBrush(80, 220, 255),
                                           hoverable=True, tip=self._marker_tip)
        self._scatter.sigClicked.connect(self._on_points_clicked)
        plot.addItem(self._scatter)
        plot.getViewBox().sigXRangeChanged.connect(self._label_in_view)
        plot.getViewBox().sigXRangeChanged.connect(self._update_detail)
        plot.getViewBox().sigResized.connect(self._place_labels)
        self.setToolTip("Spectrogram of the selected file; triangles mark the commands "
                        "found (click one to zoom there, drag to pan, wheel to zoom)")

    def show_file(self, columns: np.ndarray, seconds: float,
                  commands: list[tuple[str, float, float, float]],
                  path: str | None = None, frames_per_column: int = 1,
                  keep_view: bool = False, rgba: np.ndarray | None = None) -> None:
        """Show ``columns`` ``[n, n_mels]``, each ``frames_per_column`` of a
        ``seconds`` file's 10 ms frames pooled (``file_image.FileOverview``),
        and mark ``commands`` as ``(label, score, start_s, end_s)``;
        ``path``, the file's, is where a zoomed detail is read from (None:
        none is). ``keep_view``: the same file again (its overview grown,
        its commands come): the view's range and the detail drawn stay.
        ``rgba``: the columns' pixels, if coloured already (off the GUI
        thread)."""
        if not keep_view:
            self.drop_detail()
        self._path = path
        hop_s = self.config.spectrogram_hop_ms / 1000.0
        self._column_s = frames_per_column * hop_s
        self._seconds = seconds
        self.show_columns(columns, rgba)
        self._commands = list(commands)
        self._spans = [(s, e) for _, _, s, e in commands]
        starts = np.array([s for s, _ in self._spans], dtype=np.float64)
        self._by_start = np.argsort(starts, kind="stable")
        self._starts = starts[self._by_start]
        self._longest_s = max((e - s for s, e in self._spans), default=0.0)
        centres = np.array([(s + e) / 2 for s, e in self._spans])
        top = self.config.spectrogram_n_mels
        self._scatter.setData(x=centres, y=np.full(len(centres), top * 0.05),
                              data=np.arange(len(centres)))
        if not keep_view:
            self.getPlotItem().setXRange(0, max(seconds, 1e-3), padding=0)
        self._label_in_view()

    def show_columns(self, columns: np.ndarray, rgba: np.ndarray | None = None) -> None:
        """The file's overview columns ``[n, n_mels]`` from its start (those
        so far of a file still being decoded: the image grows to the right,
        the view and the detail stay as they are); ``rgba``, their pixels
        ``[n_mels, n, 4]`` uint8 if coloured already."""
        pixels = self.to_rgba(columns) if rgba is None else rgba
        self.image.setImage(np.ascontiguousarray(pixels), autoLevels=False, levels=None)
        # Column j pools frames [j * per, (j + 1) * per): drawn at their
        # times (as the detail is), not stretched over the file's length,
        # which drifted an hour's columns by up to a second near its end.
        hop_s = self.config.spectrogram_hop_ms / 1000.0
        x0 = (self.config.spectrogram_window_ms / 1000.0 - hop_s) / 2
        width = max(columns.shape[0] * self._column_s, 1e-3)
        self.image.setRect(QtCore.QRectF(x0, 0, width, self.config.spectrogram_n_mels))

    def _in_view(self, x0: float, x1: float) -> list[int]:
        """Indices of the commands overlapping ``[x0, x1]`` s, by start."""
        lo = int(np.searchsorted(self._starts, x0 - self._longest_s, side="left"))
        hi = int(np.searchsorted(self._starts, x1, side="right"))
        return [int(i) for i in self._by_start[lo:hi] if self._spans[i][1] >= x0]

    def _label_in_view(self, *_args) -> None:
        """Span and label the commands in view if they are few enough to
        read; else say how many there are (the triangles still mark them)."""
        (x0, x1), _ = self.getPlotItem().getViewBox().viewRange()
        shown = self._in_view(x0, x1)
        many = len(shown) > self.config.file_labels_max
        self.labelled = [] if many else shown
        top = self.config.spectrogram_n_mels
        while len(self._regions) < len(self.labelled):
            region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(80, 220, 255, 40),
                                         pen=pg.mkPen(80, 220, 255, 160))
            text = pg.TextItem(color=(230, 250, 255), anchor=(0, 0))
            for item in (region, text):
                self.getPlotItem().addItem(item, ignoreBounds=True)
            self._regions.append(region)
            self._texts.append(text)
        for k, (region, text) in enumerate(zip(self._regions, self._texts)):
            if k < len(self.labelled):
                label, score, start, end = self._commands[self.labelled[k]]
                region.setRegion((start, end))
                text.setText(f"{label} {score:.0%}")
            region.setVisible(k < len(self.labelled))
            if k >= len(self.labelled):
                text.hide()  # (those spanned: placed below)
        self._hint.setText(f"{len(shown):,} commands in view: zoom in (wheel) or pick one "
                           "below to read them" if many else "")
        self._hint.setPos(x0, top)
        self._place_labels()

    def _place_labels(self, *_args) -> None:
        """Draw the labels of the commands spanned that have room at the
        plot's pixels now, each at its command's start (a command begun left
        of the view: at the view's left edge, if the part of its span in
        view is as wide as the label), whole within the plot: in the top
        row, else in the first lower row with room
        (``GuiConfig.file_label_rows``, as many as fit in
        ``file_labels_height_share`` of the plot's height), else not at all."""
        view = self.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = view.viewRange()
        texts = self._texts[:len(self.labelled)]
        self.shown_labels = []
        if view.width() <= 0 or view.height() <= 0:  # not laid out yet: placed when it is
            for text in texts:
                text.hide()
            return
        s_per_px, y_per_px = (x1 - x0) / view.width(), (y1 - y0) / view.height()
        row_px = max((text.textItem.boundingRect().height() for text in texts), default=1.0)
        n_rows = max(1, min(self.config.file_label_rows,
                            int(self.config.file_labels_height_share * view.height() // row_px)))
        extents = []  # each label's pixels from the plot's left edge
        for k, text in enumerate(texts):
            start, end = self._spans[self.labelled[k]]
            left, width = (start - x0) / s_per_px, text.textItem.boundingRect().width()
            if left < -0.5:
                # Its span starts left of the view: the label is pinned to
                # the view's left edge if the part of the span that shows
                # holds it (it was left out, however much of the span showed).
                shows = (min(end, x1) - x0) / s_per_px
                left = 0.0 if width <= shows + 0.5 else -np.inf
            extents.append((left, left + width))
        # A label the plot's edge would cut ("no 4" for "no 46%") has no room.
        # (One running off the right edge from its span's start has less of
        # its span in view than its own width: it stays out, as one whose
        # span shows too little at the left edge.)
        whole = [k for k, (left, right) in enumerate(extents)
                 if left >= -0.5 and right <= view.width() + 0.5]
        rows: list[int | None] = [None] * len(texts)
        for k, row in zip(whole, rows_with_room([extents[k] for k in whole], n_rows)):
            rows[k] = row
        top = self.config.spectrogram_n_mels
        for k, (text, row) in enumerate(zip(texts, rows)):
            if row is not None:
                x = max(self._spans[self.labelled[k]][0], x0)
                text.setPos(x, top - row * row_px * y_per_px)
                self.shown_labels.append(self.labelled[k])
            text.setVisible(row is not None)

    def _marker_tip(self, x: float, y: float, data: object) -> str:
        """A triangle's tooltip: its command, score and span."""
        label, score, start, end = self._commands[int(data)]
        return f"{label} {score:.0%}  ({start:.2f}\u2013{end:.2f} s)"

    def jump_to(self, index: int, margin_s: float = 1.0) -> None:
        """Zoom the view to command ``index`` with ``margin_s`` either side."""
        self.show_span(*self._spans[index], margin_s=margin_s)

    def show_span(self, start: float, end: float, margin_s: float = 1.0) -> None:
        """Zoom the view to ``start``-``end`` (s) with ``margin_s`` either side."""
        self.getPlotItem().setXRange(max(0.0, start - margin_s),
                                     min(self._seconds, end + margin_s), padding=0)

    def _view_span(self) -> tuple[float, float]:
        """The part of the file in view (s): the view range clipped to it."""
        (x0, x1), _ = self.getPlotItem().getViewBox().viewRange()
        return max(0.0, x0), min(self._seconds, x1)

    def _wants_detail(self, x0: float, x1: float) -> bool:
        """A detail of ``x0``-``x1`` would show more than the overview: its
        image is pooled (a short file's is already at full resolution) and
        the span narrow enough (``GuiConfig.file_detail_max_*``)."""
        config = self.config
        return (self._path is not None and 0.0 < x1 - x0
                and self._column_s > 1.5 * config.spectrogram_hop_ms / 1000.0
                and x1 - x0 <= min(config.file_detail_max_s,
                                   config.file_detail_max_share * self._seconds))

    def _update_detail(self, *_args) -> None:
        """The view moved: drop the detail when zoomed out, else ask for one
        once the view keeps still, unless what is drawn or asked covers it."""
        x0, x1 = self._view_span()
        if not self._wants_detail(x0, x1):
            if self._asked is not None or self.detail_span is not None:
                self.drop_detail()
            self._detail_timer.stop()
            return
        eps = 1e-6
        if self._asked is not None and self._asked[0] - eps <= x0 and x1 <= self._asked[1] + eps:
            self._detail_timer.stop()
            return
        self._detail_timer.start()  # (again: debounced)

    def _ask_detail(self) -> None:
        """Ask for the detail of the view with a margin either side."""
        x0, x1 = self._view_span()
        if not self._wants_detail(x0, x1):
            return
        margin = self.config.file_detail_margin * (x1 - x0)
        self._asked = (max(0.0, x0 - margin), min(self._seconds, x1 + margin))
        self._detail_token += 1
        self.detail_wanted.emit(DetailRequest(self._detail_token, self._path, *self._asked))

    def drop_detail(self) -> None:
        """Remove the detail, and make any request still out stale."""
        self._detail_timer.stop()
        self._asked = None
        self.detail_span = None
        self.detail.hide()
        self.detail.clear()
        self._detail_token += 1
        self.detail_wanted.emit(DetailRequest(self._detail_token, None))

    @QtCore.Slot(object)
    def show_detail(self, image: DetailImage) -> None:
        """Draw ``image`` over the overview at its columns' times, if it is
        the latest request for the file shown (else it is stale: ignored).
        Column ``j`` is frame ``first_frame + j``, drawn one hop wide about
        the centre of its window."""
        request = image.request
        if (request.token != self._detail_token or request.path != self._path
                or image.columns.shape[0] == 0):
            return
        hop_s = self.config.spectrogram_hop_ms / 1000.0
        win_s = self.config.spectrogram_window_ms / 1000.0
        x0 = image.first_frame * hop_s + (win_s - hop_s) / 2
        width = image.columns.shape[0] * hop_s
        self.detail.setImage(image.rgba, autoLevels=False, levels=None)
        self.detail.setRect(QtCore.QRectF(x0, 0, width, self.config.spectrogram_n_mels))
        self.detail.show()
        self.detail_span = (x0, x0 + width)

    def _on_points_clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            index = int(points[0].data())
            self.jump_to(index)
            self.command_clicked.emit(index)
