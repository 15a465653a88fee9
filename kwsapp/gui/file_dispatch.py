"""Files to classify, from the Open dialog or a drop, sent to the
:class:`~kwsapp.gui.files.FileWorker` on its own QThread; results go to the
:class:`~kwsapp.gui.files.FilesPanel`. The zoomed timeline's detail requests
go to the :class:`~kwsapp.gui.file_detail.FileDetailWorker` on another."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.audio.files import AUDIO_SUFFIXES, NO_AUDIO, files_to_read
from kwsapp.config import Config, GuiConfig, Overrides
from kwsapp.gui.file_detail import FileDetailWorker
from kwsapp.gui.files import FileResult, FilesPanel, FileWorker
from kwsapp.gui.spectrogram_widget import DetailImage, DetailRequest

log = logging.getLogger(__name__)

#: A dropped folder with no audio file (subfolders are looked in too).
NO_AUDIO_HERE = NO_AUDIO + " or its subfolders"


def dropped_paths(mime: QtCore.QMimeData) -> list[str]:
    """Local files of a drag or drop (empty: not for us)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


class FileDispatch(QtCore.QObject):
    """Owns the worker threads; :meth:`classify` queues files for the files
    worker, the timeline's detail requests go to the detail worker.

    Args:
        panel: where pending rows and results are shown.
    """

    requested = QtCore.Signal(int, list, str, object)  # batch, paths, model spec, Overrides
    detail_requested = QtCore.Signal(object)  # DetailRequest

    def __init__(self, panel: FilesPanel, gui_config: GuiConfig, config: Config,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.thread = QtCore.QThread(self)
        self.thread.setObjectName("kwsapp-files")
        self.worker = FileWorker(gui_config, config)
        self.worker.moveToThread(self.thread)
        # Progress over the batches not done yet (reset when the last one
        # ends or is stopped): what the panel's bar shows.
        self._batch = 0  # the last batch requested (numbered from 1)
        self._stopped_through = 0  # the last batch stopped
        self._total = self._done = 0
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self.requested.connect(self.worker.classify, queued)
        self.worker.result.connect(self._on_result, queued)
        self.worker.progress.connect(self._on_progress, queued)
        self.worker.overview.connect(self._on_overview, queued)
        self.worker.idle.connect(self._on_idle, queued)
        panel.stop_requested.connect(self.stop)
        self.thread.start()
        # Its own thread: zooming must not wait for a long file being classified.
        self.detail_thread = QtCore.QThread(self)
        self.detail_thread.setObjectName("kwsapp-file-detail")
        self.detail_worker = FileDetailWorker(gui_config)
        self.detail_worker.moveToThread(self.detail_thread)
        self._closed = False
        panel.file_view.detail_wanted.connect(self._on_detail_wanted)
        self.detail_requested.connect(self.detail_worker.render, queued)
        self.detail_worker.ready.connect(self._on_detail, queued)
        self.detail_thread.start()

    def classify(self, paths: list[str], model_spec: str, overrides: Overrides) -> list[str]:
        """Queue ``paths`` (folders expanded, subfolders too); a folder
        without audio files gets a row saying so (a drop that did nothing
        left the user guessing), and so does a folder or subfolder that
        cannot be listed (its files were left out without a word; a dropped
        one said "no audio files"). Returns the paths given a row."""
        files, shown = [], []
        for path in paths:  # rows in the order given
            folder = str(Path(path)) if path and Path(path).is_dir() else None
            for entry, problem in files_to_read([path], recursive=True, no_audio=NO_AUDIO_HERE):
                # Named by its path inside the dropped folder (the folder itself by its name).
                inside = folder if entry != folder else None
                self.panel.add_pending([entry], inside)
                if problem is None:
                    files.append(entry)
                else:
                    self.panel.add_result(FileResult(entry, error=problem))
                shown.append(entry)
        if files:
            self._batch += 1
            self._total += len(files)
            self.panel.show_progress(self._done, self._total)
            self.requested.emit(self._batch, files, model_spec, overrides)
        return shown

    @property
    def busy(self) -> bool:
        """Files are queued or being classified."""
        return self._total > 0

    def stop(self) -> None:
        """Stop classifying: the file in progress and those queued (the
        worker stops within a block of a long file's audio); their rows say
        so. Files dropped afterwards are classified as usual."""
        self._stopped_through = self._batch
        self.worker.stop_through(self._batch)  # now: the worker thread is busy
        self.panel.mark_stopped()
        self._total = self._done = 0
        self.panel.show_progress(0, 0)

    @QtCore.Slot(int, object)
    def _on_result(self, batch: int, result: FileResult) -> None:
        self.panel.add_result(result)  # a file finished as Stop came: still shown
        if batch > self._stopped_through:
            self._done += 1
            self.panel.show_progress(self._done, self._total)

    @QtCore.Slot(int, str, float)
    def _on_progress(self, batch: int, path: str, fraction: float) -> None:
        if batch > self._stopped_through:
            self.panel.show_file_progress(path, fraction)
            self.panel.show_progress(self._done, self._total, fraction)

    @QtCore.Slot(int, str, object)
    def _on_overview(self, batch: int, _path: str, partial: FileResult) -> None:
        if batch > self._stopped_through:
            self.panel.show_overview(partial)

    @QtCore.Slot(int)
    def _on_idle(self, batch: int) -> None:
        if batch == self._batch:  # the last one requested: nothing is queued
            self._total = self._done = 0
            self.panel.show_progress(0, 0)

    @QtCore.Slot(object)
    def _on_detail_wanted(self, request: DetailRequest) -> None:
        """The timeline's request: the earlier ones are stale now (the
        worker skips or stops them), and this one is read unless it asks
        for nothing."""
        self.detail_worker.supersede(request.token)
        if request.path is not None and not self._closed:
            self.detail_requested.emit(request)

    @QtCore.Slot(object)
    def _on_detail(self, image: DetailImage) -> None:
        if not self._closed:  # (the view ignores a stale one itself)
            self.panel.file_view.show_detail(image)

    @staticmethod
    def ask_for_files(parent: QtWidgets.QWidget) -> list[str]:
        """The Open dialog (audio files by suffix)."""
        patterns = " ".join(f"*{s}" for s in sorted(AUDIO_SUFFIXES))
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            parent, "Classify audio files", "", f"Audio ({patterns});;All files (*)")
        return paths

    def shutdown(self, wait_ms: int = 1000) -> None:
        """Cancel what is queued and the file in progress (within a block of
        its audio) and the detail being read, and stop the threads: each
        within ``wait_ms``, or it is handed to the application, which deletes
        it when it ends (and waits for it at quit).

        A worker loading its classifier cannot stop (the speech recogniser
        takes 1-3 s the first time): its QThread, a child of the window, was
        destroyed with it while running, and Qt aborts the process then.
        """
        self._closed = True
        self.worker.cancel.set()
        self.detail_worker.cancel.set()
        self.thread.quit()
        self.detail_thread.quit()
        for thread, worker in ((self.thread, self.worker),
                               (self.detail_thread, self.detail_worker)):
            if thread.wait(wait_ms):
                continue
            app = QtCore.QCoreApplication.instance()
            log.info("the %s is still busy; it ends on its own", thread.objectName() or "worker")
            thread.setParent(app)  # not deleted with the window
            thread.worker = worker  # nor its worker, which runs there (a Python reference)
            thread.finished.connect(thread.deleteLater)
            app.aboutToQuit.connect(thread.wait)


def accept_drag(event: QtGui.QDragEnterEvent | QtGui.QDragMoveEvent) -> None:
    """Accept a drag that carries local files."""
    if dropped_paths(event.mimeData()):
        event.acceptProposedAction()
