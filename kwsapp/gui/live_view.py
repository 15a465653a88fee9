"""The Live tab: the scrolling spectrogram, the waveform with speech shaded
and the level meter on the left; the recognized command, the class
probabilities and the history on the right.

It draws what it is given: :meth:`draw` reads new samples from a
:class:`~kwsapp.gui.live.LiveSession` on the window's redraw timer;
:meth:`show_command` and :meth:`show_window` take the engine's events and
window results (arriving by queued signals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtWidgets

from kwsapp.config import GuiConfig, ms_to_samples
from kwsapp.gui.result_widget import (BARS_TIP, BarsArea, HistoryList, ProbabilityBars,
                                      ResultView)
from kwsapp.gui.spectrogram_widget import SpectrogramWidget
from kwsapp.gui.waveform_widget import LevelMeter, WaveformWidget
from kwsapp.inference.verifier import heard_as

if TYPE_CHECKING:
    from kwsapp.gui.live import LiveSession
    from kwsapp.inference.engine import CommandEvent, WindowResult
    from kwsapp.inference.second_opinion import Unconfirmed


class LiveView(QtWidgets.QSplitter):
    """The live plots and results, side by side."""

    def __init__(self, gui_config: GuiConfig, parent=None) -> None:
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.gui_config = g = gui_config
        self.spectrogram = SpectrogramWidget(g)
        self.waveform = WaveformWidget(g)
        self.meter = LevelMeter(g)
        self.result = ResultView(g)
        self.history = HistoryList(g)
        self.bars = ProbabilityBars(config=g)
        self.bars.setToolTip(BARS_TIP)
        self.word_bars = ProbabilityBars(("none",), config=g)  # labels set when words exist
        self.word_bars.setToolTip("Probability of each of your words in the latest "
                                  "window alone (the command above: smoothed when it fired)")
        # In a low window the bars scroll rather than squeeze their labels
        # over each other.
        self.bars_area = BarsArea(self.bars, caption=g.bars_caption)
        self.word_bars_area = BarsArea(self.word_bars, caption=g.bars_caption)
        self.word_bars.hide()  # after BarsArea(), which shows it
        self.word_bars_area.hide()
        self.frames_drawn = 0

        left = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.spectrogram, 3)
        lay.addWidget(self.waveform, 2)
        lay.addWidget(self.meter)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.result)
        right.addWidget(self.bars_area)
        right.addWidget(self.word_bars_area)
        right.addWidget(self.history)
        right.setSizes([170, 260, 90, 220])
        self.addWidget(left)
        self.addWidget(right)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 1)
        self.setSizes([780, 360])

    def set_labels(self, labels: tuple[str, ...]) -> None:
        """A new model's class labels (the probability bars)."""
        self.bars.set_labels(labels)

    def restart(self) -> None:
        """A new stream begins: the spectrogram starts empty."""
        self.spectrogram.restart()

    def draw(self, session: LiveSession) -> None:
        """One frame (timer tick): new samples scroll into the spectrogram;
        waveform, speech shading and level are redrawn."""
        mel = self.spectrogram.mel
        span = self.spectrogram.n_columns * mel.hop + mel.win
        block, skipped = session.new_samples(span)
        if skipped:
            mel.reset()
        self.spectrogram.push(block)
        audio, mask = session.latest(self.waveform.n_samples)
        self.waveform.update_view(audio, mask)
        self.meter.set_audio(audio[-ms_to_samples(self.gui_config.meter_span_ms):])
        self.frames_drawn += 1

    @QtCore.Slot(object)
    def show_command(self, event: CommandEvent, audio: np.ndarray | None = None) -> None:
        """A CommandEvent: the big label and a history row (keeping
        ``audio``, what it was heard on, when given)."""
        self.result.show_command(event.label, float(event.score), float(event.end))
        self.history.add(event.label, float(event.score), float(event.end), audio)
        # Bars that scroll (a low window) bring the command's row into view:
        # the highlighted class could be scrolled out of sight.
        row = self.bars.row_of(event.label)
        if row is not None:
            self.bars_area.ensureVisible(0, row[0], 0, row[1])

    @QtCore.Slot(object)
    def show_unconfirmed(self, dropped: Unconfirmed) -> None:
        """An Unconfirmed command: a greyed history row saying what the
        second opinion heard (the big label stays on the last command)."""
        event = dropped.event
        self.history.add(event.label, float(event.score), float(event.end),
                         note=f"not emitted: heard {heard_as(dropped.heard)}")

    @QtCore.Slot(object)
    def show_window(self, result: WindowResult) -> None:
        """A WindowResult: the class probabilities."""
        probs = np.asarray(result.probs)
        if probs.shape[0] == len(self.bars.labels):
            self.bars.set_probabilities(probs)

    @QtCore.Slot(object)
    def show_word_scores(self, scores: tuple[float, tuple[str, ...], np.ndarray]) -> None:
        """User words' ``(end, labels, probs)``: their bars (label 0 is the
        detectors' "none")."""
        _end, labels, probs = scores
        if tuple(labels[1:]) == self.word_bars.labels:
            self.word_bars.set_probabilities(np.asarray(probs)[1:])

    def show_word_bars(self, names: tuple[str, ...]) -> None:
        """Bars for these user words (hidden when there are none)."""
        if names:
            self.word_bars.set_labels(names)
        self.word_bars.setVisible(bool(names))
        self.word_bars_area.setVisible(bool(names))
