"""Dropped or opened audio files: classified in a worker thread, shown in a
panel (one row per file; a clip's label and probabilities, a long file's
spectrogram with its commands on a clickable timeline, a bad file's error).

The classification itself is the runtime's classify service
(:mod:`kwsapp.inference.classify`, the same as ``kwsapp classify``); this
module only runs it off the GUI thread and shows what it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.audio.io import audio_info
from kwsapp.config import Config, GuiConfig, Overrides
from kwsapp.errors import Cancelled, KwsError
from kwsapp.gui.columns import ElidingDelegate, fit_columns, fixed_columns
from kwsapp.gui.file_image import FileOverview, frames_per_column
from kwsapp.gui.labels import ElidedLabel, fit_to_width
from kwsapp.gui.result_widget import BarsArea, ProbabilityBars
from kwsapp.gui.spectrogram_widget import FileSpectrogramView, MelColours
from kwsapp.inference.classify import FileClassification, FileClassifier
from kwsapp.inference.verifier import heard_as

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    """What the window shows for one file."""

    path: str
    error: str | None = None
    label: str | None = None  # clip: its top label
    score: float = 0.0
    labels: tuple[str, ...] = ()
    probs: np.ndarray | None = None  # clip: [len(labels)] float32
    # Long file: (label, score, start_s, end_s) per command found.
    commands: list[tuple[str, float, float, float]] = field(default_factory=list)
    # ... and (label, score, start_s, end_s, heard) per command the second
    # opinion did not confirm (not fired; listed greyed after the others).
    withheld: list[tuple[str, float, float, float, str]] = field(default_factory=list)
    columns: np.ndarray | None = None  # long file: log-mel [frames, n_mels]
    # ... and its pixels [n_mels, frames, 4] uint8, coloured off the GUI
    # thread (None: the view colours the columns)
    rgba: np.ndarray | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()  # the service's (a clip too short to trust)

    @property
    def is_clip(self) -> bool:
        return self.error is None and self.probs is not None

    def summary(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if self.is_clip:
            return f"{self.label} ({self.score:.0%})" + "".join(f"; {n}" for n in self.notes)
        found = ", ".join(c[0] for c in self.commands[:6])
        more = "…" if len(self.commands) > 6 else ""
        held = f"; {len(self.withheld)} not emitted" if self.withheld else ""
        return (f"{len(self.commands)} command{'s' * (len(self.commands) != 1)} in "
                f"{self.seconds:.1f} s" + (f": {found}{more}" if found else "") + held)


class FileWorker(QtCore.QObject):
    """Classifies files one by one on its own thread; a bad file gives an
    error result and the next file goes on.

    Each request is a numbered batch; :meth:`stop_through` (called from the
    GUI thread while this one is busy) stops the batches up to a number,
    the file in progress included, and :attr:`cancel` stops them all (the
    window closing): a long file is stopped within one block of its audio.
    """

    result = QtCore.Signal(int, object)  # batch, FileResult
    # batch, path, fraction of a long file done (throttled to
    # GuiConfig.file_progress_s)
    progress = QtCore.Signal(int, str, float)
    # batch, path, a long file's overview so far (FileResult with its
    # columns and length, no commands yet), with each progress that brings
    # new columns
    overview = QtCore.Signal(int, str, object)
    idle = QtCore.Signal(int)  # the batch is done (or stopped)

    def __init__(self, gui_config: GuiConfig, config: Config | None = None) -> None:
        super().__init__()  # parentless: it is moved to a QThread
        self.gui_config = gui_config
        self.config = config or Config()
        self.cancel = threading.Event()
        # Batches (numbered from 1; 0 is none) up to this one are stopped:
        # an int, not an Event, so that a batch queued after a Stop runs.
        self._stopped_through = 0
        self._classifiers: dict[tuple[str, Overrides], FileClassifier] = {}
        self.colours = MelColours(gui_config)

    def stop_through(self, batch: int) -> None:
        """Stop batches ``<= batch`` (thread-safe: one int assignment)."""
        self._stopped_through = max(self._stopped_through, batch)

    def stopped(self, batch: int) -> bool:
        return self.cancel.is_set() or 0 < batch <= self._stopped_through

    @QtCore.Slot(int, list, str, object)
    def classify(self, batch: int, paths: list, model_spec: str,
                 overrides: Overrides | None = None) -> None:
        """Classify ``paths`` with ``model_spec`` and the user's
        ``overrides`` of its card, emitting one :class:`FileResult` each,
        until the batch is stopped."""
        for path in paths:
            if self.stopped(batch):
                break
            try:
                found = self.classify_one(str(path), model_spec, overrides, batch)
            except Cancelled:
                break
            self.result.emit(batch, found)
        self.idle.emit(batch)

    def _classifier(self, model_spec: str, overrides: Overrides) -> FileClassifier:
        """This thread's own classifier (LiteRT interpreters are not shared
        between threads), loaded once per model and overrides."""
        key = (model_spec, overrides)
        if key not in self._classifiers:
            self._classifiers[key] = FileClassifier.load(model_spec, overrides, base=self.config)
        return self._classifiers[key]

    def classify_one(self, path: str, model_spec: str, overrides: Overrides | None = None,
                     batch: int = 0) -> FileResult:
        """One file through the classify service; any failure becomes an
        error result. A long file's overview is made from the samples its
        replay decodes (the file is decoded once) and sent by
        :attr:`overview` as it grows.

        Raises:
            Cancelled: ``batch`` was stopped while this file was processed.
        """
        progress = self._progress(batch, path)
        try:
            # Its length from the header (nothing decoded): the overview's
            # columns are placed by it from the first samples on.
            overview = FileOverview(audio_info(path)[2], self.gui_config)
            shown = [0]  # overview columns sent

            def on_progress(done_s: float, total_s: float) -> None:  # the replay's thread
                if progress(done_s / max(total_s, 1e-9)) and overview.n_done > shown[0]:
                    columns = overview.done()
                    shown[0] = columns.shape[0]
                    self.overview.emit(batch, path, FileResult(
                        path, columns=columns, rgba=self.colours(columns), seconds=total_s))

            found = self._classifier(model_spec, overrides or Overrides()).classify_file(
                path, on_progress, stop=lambda: self.stopped(batch), on_audio=overview.push)
            return self._to_result(found, overview)
        except Cancelled:
            raise
        except KwsError as exc:
            # The row already names the file: show the problem alone.
            return FileResult(path, error=getattr(exc, "problem", None) or str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            log.exception("classifying %s failed", path)
            return FileResult(path, error=f"{type(exc).__name__}: {exc}")

    def _progress(self, batch: int, path: str) -> Callable[[float], bool]:
        """``report(fraction)`` for one file: emits :attr:`progress` at
        most every ``file_progress_s`` and says whether it did (any thread;
        it never raises: the engine's file-source thread calls it)."""
        last = [0.0]

        def report(fraction: float) -> bool:
            now = time.monotonic()
            if now - last[0] >= self.gui_config.file_progress_s:
                last[0] = now
                self.progress.emit(batch, path, fraction)
                return True
            return False

        return report

    def _to_result(self, found: FileClassification, overview: FileOverview) -> FileResult:
        """The service's result -> what the panel shows; a long file's with
        its overview, made as the replay decoded it."""
        commands = [(e.label, e.score, e.start, e.end) for e in found.events]
        withheld = [(u.event.label, u.event.score, u.event.start, u.event.end, u.heard)
                    for u in found.withheld]
        if found.is_clip:
            return FileResult(found.path, label=found.label, score=found.score,
                              labels=found.labels, probs=found.probs, commands=commands,
                              seconds=found.duration_s, notes=found.notes)
        columns = overview.result()
        return FileResult(found.path, commands=commands, withheld=withheld, columns=columns,
                          rgba=self.colours(columns), seconds=found.duration_s)


class FileTable(QtWidgets.QTreeWidget):
    """The Files tab's rows: the file's name (elided in the middle: its
    end, the file's own name, is kept; the whole path in the tooltip) and
    its result, laid out to the view's width (:mod:`~kwsapp.gui.columns`):
    the name was a fixed 220 px and the result stretched from its first
    width, so a table narrowed by its splitter scrolled sideways and cut
    the result off."""

    def __init__(self, config: GuiConfig, parent=None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["file", "result"])
        self.setRootIsDecorated(False)
        for col, tip in enumerate(("The file's name (its path inside a dropped folder); the "
                                   "whole path in the row's tooltip",
                                   "Its label and confidence, the commands found in a long "
                                   "file, or why it could not be classified")):
            self.headerItem().setToolTip(col, tip)  # a narrow column elides its name
        fixed_columns(self)
        self.setItemDelegateForColumn(0, ElidingDelegate(QtCore.Qt.TextElideMode.ElideMiddle,
                                                         self))
        self.least_chars = (config.files_name_min_chars, config.files_result_min_chars)
        # New rows and texts are fitted to a moment later, together.
        self._fit_timer = QtCore.QTimer(self, singleShot=True, interval=config.files_fit_ms)
        self._fit_timer.timeout.connect(self.fit_columns)
        model = self.model()
        for signal in (model.rowsInserted, model.rowsRemoved, model.dataChanged,
                       model.modelReset):
            signal.connect(self._fit_soon)

    def _fit_soon(self, *_args) -> None:
        if not self._fit_timer.isActive():
            self._fit_timer.start()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        # A scroll area's resize events are its viewport's: a vertical
        # scrollbar coming or going resizes it too.
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Lay the columns out to the view's width: the name and the result
        as wide as their text where there is room, the result taking what
        is left; with less they shrink together toward ``least_chars``
        characters each (less text than that: its width), then below."""
        char = self.fontMetrics().averageCharWidth()
        fit_columns(self, least=[int(np.ceil(n * char)) for n in self.least_chars])


class FilesPanel(QtWidgets.QSplitter):
    """One row per file (name, result or error); the selected file's detail on
    the right (``GuiConfig.files_detail_share`` of the width): probabilities
    for a clip, spectrogram + timeline for a long recording. Above the rows,
    while files are classified: how many are done, and Stop."""

    stop_requested = QtCore.Signal()

    def __init__(self, gui_config: GuiConfig, parent=None) -> None:
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setToolTip("Files classified so far of those queued")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Stop classifying: the files not done yet are left "
                                    "unclassified (drop them again to classify them)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.progress_row = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.stop_button)
        self.progress_row.hide()
        self.table = FileTable(gui_config)
        self.table.setToolTip("Classified files; select one to see its detail. "
                              "Drop audio files on the window or use File > Open (Ctrl+O)")
        self.table.currentItemChanged.connect(self._show_selected)
        # Sortable by a header click (a thousand rows: the errors, a label);
        # until then the rows stay in the order given.
        self.table.header().setSortIndicator(-1, QtCore.Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.detail = QtWidgets.QStackedWidget()
        hint = QtWidgets.QLabel("Drop audio files here, or File > Open (Ctrl+O).\n"
                                "A clip gets its label; a long recording its commands "
                                "on a timeline.")
        hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        # The label elided in the middle, its score kept whole: drawn whole
        # at 28 pt, a word's long name ("turn_on_the_kitchen_lights_please")
        # asked 900 px of the detail and widened the window past its least
        # width for this tab alone.
        self.clip_label = ElidedLabel(mode=QtCore.Qt.TextElideMode.ElideMiddle)
        self.clip_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        font = self.clip_label.font()
        font.setPointSize(28)
        font.setBold(True)
        self.clip_label.setFont(font)
        self.clip_note = QtWidgets.QLabel()  # what to know before trusting the label
        self.clip_note.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.clip_note.setWordWrap(True)
        self.clip_note.setStyleSheet("color: #e0a040;")
        self.clip_note.hide()
        self.clip_bars = ProbabilityBars(config=gui_config)
        clip_page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(clip_page)
        lay.addWidget(self.clip_label)
        lay.addWidget(self.clip_note)
        lay.addWidget(BarsArea(self.clip_bars), 1)
        self.file_view = FileSpectrogramView(gui_config)
        self.command_list = QtWidgets.QListWidget()
        self._listed: FileResult | None = None  # the long file the list shows
        self.command_list.setMaximumHeight(110)
        self.command_list.setToolTip("Commands found in the file; click one to jump there "
                                     "(greyed: heard, but the second opinion did not "
                                     "confirm it)")
        self.command_list.currentRowChanged.connect(self._jump)
        self.file_view.command_clicked.connect(self.command_list.setCurrentRow)
        long_page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(long_page)
        lay.addWidget(self.file_view, 1)
        lay.addWidget(self.command_list)
        self.error_label = fit_to_width(QtWidgets.QLabel())  # the file's name, then why
        self.error_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        for page in (hint, clip_page, long_page, self.error_label):
            self.detail.addWidget(page)
        left = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.progress_row)
        lay.addWidget(self.table, 1)
        self.addWidget(left)
        self.addWidget(self.detail)
        # The detail's share of the width, kept as the window is resized
        # (the table kept its first 420 px and the detail got the rest:
        # ~200 px in the smallest window); a drag of the handle sets it.
        self.detail_share = gui_config.files_detail_share
        self.splitterMoved.connect(self._keep_share)
        self._results: dict[str, FileResult] = {}
        # Long files being classified: their overview so far (no commands).
        self._growing: dict[str, FileResult] = {}
        self._rows: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self._pending: dict[str, None] = {}  # rows waiting for a result, in order
        self._stopped: set[str] = set()  # rows left unclassified by Stop

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        room = sum(self.sizes())
        if room > 0:  # a size of 0 would collapse a side
            detail = round(room * self.detail_share)
            self.setSizes([room - detail, detail])

    def _keep_share(self, _pos: int, _index: int) -> None:
        """The handle was dragged: the detail's share is the user's now."""
        room = sum(self.sizes())
        if room > 0:
            self.detail_share = self.sizes()[1] / room

    def add_pending(self, paths: list[str], folder: str | None = None) -> None:
        """Rows for files about to be classified; those of a dropped
        ``folder`` are named by their path inside it (its subfolders hold
        files of the same name: alexa/0.flac, smart_mirror/0.flac)."""
        for path in paths:
            row = self._rows.get(path)
            if row is None:
                name = (Path(path).relative_to(folder).as_posix() if folder
                        else Path(path).name)
                row = QtWidgets.QTreeWidgetItem([name, "classifying…"])
                row.setToolTip(0, path)
                self.table.addTopLevelItem(row)
                self._rows[path] = row
            else:
                row.setText(1, "classifying…")
            self._pending[path] = None
            self._stopped.discard(path)

    def show_progress(self, done: int, total: int, fraction: float = 0.0) -> None:
        """``done`` of ``total`` files classified, ``fraction`` of the next;
        ``total`` 0 hides the bar."""
        self.progress_row.setVisible(total > 0)
        if total <= 0:
            return
        self.progress_bar.setRange(0, 100 * total)
        self.progress_bar.setValue(min(100 * total, 100 * done + int(100 * fraction)))
        self.progress_bar.setFormat(f"{done:,} of {total:,} file{'s' * (total != 1)} classified")

    def show_file_progress(self, path: str, fraction: float) -> None:
        """A long file's row: how far its classification is."""
        row = self._rows.get(path)
        if row is not None and path in self._pending:
            row.setText(1, f"classifying… {fraction:.0%}")

    def show_overview(self, partial: FileResult) -> None:
        """A long file being classified: its overview so far (``partial``'s
        columns and length, no commands). Shown if its row is selected (or
        none is: it is selected), growing in place: the view's zoom and
        detail stay. A file dropped again shows its earlier result until
        the new one comes."""
        path = partial.path
        if path not in self._pending or path in self._results:
            return
        self._growing[path] = partial
        row, current = self._rows[path], self.table.currentItem()
        if current is None:
            self.table.setCurrentItem(row)  # shown by _show_selected
        elif current is row:
            if self._shows(path):
                self.file_view.show_columns(partial.columns, partial.rgba)
                self._listed = partial
            else:
                self._show_selected(row)

    def _shows(self, path: str) -> bool:
        """The detail shows ``path``'s timeline (as a long file)."""
        return (self.detail.currentIndex() == 2 and self._listed is not None
                and self._listed.path == path)

    def mark_stopped(self) -> None:
        """The rows still waiting: left unclassified (Stop); a file dropped
        again keeps its earlier result. A stopped file's overview so far is
        no longer shown."""
        for path in self._pending:
            if self._growing.pop(path, None) is not None and self._shows(path):
                self.file_view.drop_detail()
                self._listed = None
                self.detail.setCurrentIndex(0)
            earlier = self._results.get(path)
            said = earlier.summary() if earlier is not None else "stopped: not classified"
            self._rows[path].setText(1, said)
            self._rows[path].setToolTip(1, said)
            if earlier is None:
                self._stopped.add(path)
        self._pending.clear()

    @QtCore.Slot(object)
    def add_result(self, result: FileResult) -> None:
        if result.path not in self._rows:
            self.add_pending([result.path])
        row = self._rows[result.path]
        self._results[result.path] = result
        self._growing.pop(result.path, None)
        self._pending.pop(result.path, None)
        self._stopped.discard(result.path)
        row.setText(1, result.summary())
        row.setToolTip(1, result.summary())
        if result.error is not None:
            row.setForeground(1, QtCore.Qt.GlobalColor.red)
        else:  # the table's own colour: a file dropped again may read now
            row.setData(1, QtCore.Qt.ItemDataRole.ForegroundRole, None)
        if self.table.currentItem() is None or self.table.currentItem() is row:
            self.table.setCurrentItem(row)
            self._show_selected(row)

    def table_rows(self, selected_only: bool = False) -> tuple[list[str], list[list[object]]]:
        """``(header, rows)`` for export, in table order: file, duration (s),
        clip label and score, the commands found (``label@start-end`` joined
        by spaces), error, notes (joined by "; ")."""
        rows = []
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if selected_only and not item.isSelected():
                continue
            r = self._results.get(item.toolTip(0))
            if r is None:  # still being classified, or stopped before
                state = "stopped" if item.toolTip(0) in self._stopped else "classifying"
                rows.append([item.toolTip(0), "", "", "", "", state, ""])
                continue
            commands = " ".join(f"{c[0]}@{c[2]:.2f}-{c[3]:.2f}" for c in r.commands)
            rows.append([r.path, round(r.seconds, 3) if r.error is None else "",
                         r.label or "", round(r.score, 4) if r.is_clip else "", commands,
                         r.error or "", "; ".join(r.notes)])
        return ["file", "duration_s", "label", "score", "commands", "error", "notes"], rows

    def result_rows(self) -> list[tuple[str, str]]:
        """(file name, result text) per row (for tests)."""
        return [(self.table.topLevelItem(i).text(0), self.table.topLevelItem(i).text(1))
                for i in range(self.table.topLevelItemCount())]

    def _show_selected(self, row, _previous=None) -> None:
        if row is None:
            return
        path = row.toolTip(0)
        result = self._results.get(path) or self._growing.get(path)
        if result is None:
            return
        if result.error is not None or result.is_clip:
            self.file_view.drop_detail()  # a request for the file shown before is stale
            self._listed = None
        if result.error is not None:
            self.error_label.setText(f"{Path(result.path).name}\n\n{result.error}")
            self.detail.setCurrentIndex(3)
        elif result.is_clip:
            self.clip_label.set_text(result.label, tail=f"  {result.score:.0%}")
            self.clip_note.setText("\n".join(n[0].upper() + n[1:] + "." for n in result.notes))
            self.clip_note.setVisible(bool(result.notes))
            if result.labels and tuple(result.labels) != self.clip_bars.labels:
                self.clip_bars.set_labels(result.labels)
            self.clip_bars.set_probabilities(result.probs)
            self.detail.setCurrentIndex(1)
        else:
            # Its overview shown as it grew: the user's zoom stays.
            self.file_view.show_file(result.columns, result.seconds, result.commands,
                                     path=result.path, frames_per_column=frames_per_column(
                                         result.seconds, self.file_view.config),
                                     keep_view=self._shows(result.path), rgba=result.rgba)
            self._listed = result
            self.command_list.clear()
            for label, score, start, end in result.commands:
                self.command_list.addItem(f"{start:7.2f} – {end:.2f} s   {label}  ({score:.0%})")
            grey = self.palette().color(QtGui.QPalette.ColorGroup.Disabled,
                                        QtGui.QPalette.ColorRole.Text)
            for label, score, start, end, heard in result.withheld:
                item = QtWidgets.QListWidgetItem(
                    f"{start:7.2f} – {end:.2f} s   {label}  ({score:.0%}), not emitted: "
                    f"the second opinion heard {heard_as(heard)}")
                item.setForeground(grey)
                self.command_list.addItem(item)
            self.detail.setCurrentIndex(2)

    def _jump(self, index: int) -> None:
        """Zoom the timeline to list row ``index``: a command, or one of the
        withheld ones listed after them."""
        commands = self._listed.commands if self._listed is not None else []
        if 0 <= index < len(commands):
            self.file_view.jump_to(index)
        elif index >= len(commands) and self._listed is not None:
            _label, _score, start, end, _heard = self._listed.withheld[index - len(commands)]
            self.file_view.show_span(start, end)
