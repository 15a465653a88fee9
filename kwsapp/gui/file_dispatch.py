"""Files to classify, from the Open dialog or a drop, sent to the
:class:`~kwsapp.gui.files.FileWorker` on its own QThread; results go to the
:class:`~kwsapp.gui.files.FilesPanel`."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.audio.files import AUDIO_SUFFIXES, expand_paths
from kwsapp.config import Config, GuiConfig, Overrides
from kwsapp.gui.files import FileResult, FilesPanel, FileWorker


def dropped_paths(mime: QtCore.QMimeData) -> list[str]:
    """Local files of a drag or drop (empty: not for us)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


class FileDispatch(QtCore.QObject):
    """Owns the worker thread; :meth:`classify` queues files for it.

    Args:
        panel: where pending rows and results are shown.
    """

    requested = QtCore.Signal(list, str, object)  # paths, model spec, Overrides

    def __init__(self, panel: FilesPanel, gui_config: GuiConfig, config: Config,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.thread = QtCore.QThread(self)
        self.thread.setObjectName("kwsapp-files")
        self.worker = FileWorker(gui_config, config)
        self.worker.moveToThread(self.thread)
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self.requested.connect(self.worker.classify, queued)
        self.worker.result.connect(panel.add_result, queued)
        self.thread.start()

    def classify(self, paths: list[str], model_spec: str, overrides: Overrides) -> list[str]:
        """Queue ``paths`` (folders expanded, subfolders too); a folder
        without audio files gets a row saying so (a drop that did nothing
        left the user guessing). Returns the paths given a row."""
        files, shown = [], []
        for path in paths:  # rows in the order given
            found = expand_paths([path], recursive=True)
            if found:
                self.panel.add_pending(found)
            else:  # only a folder expands to nothing
                self.panel.add_result(FileResult(path, error="no audio files in this folder "
                                                             "or its subfolders"))
            files += found
            shown += found or [path]
        if files:
            self.requested.emit(files, model_spec, overrides)
        return shown

    @staticmethod
    def ask_for_files(parent: QtWidgets.QWidget) -> list[str]:
        """The Open dialog (audio files by suffix)."""
        patterns = " ".join(f"*{s}" for s in sorted(AUDIO_SUFFIXES))
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            parent, "Classify audio files", "", f"Audio ({patterns});;All files (*)")
        return paths

    def shutdown(self, wait_ms: int = 1000) -> None:
        """Cancel what is queued and stop the thread."""
        self.worker.cancel.set()
        self.thread.quit()
        self.thread.wait(wait_ms)


def accept_drag(event: QtGui.QDragEnterEvent | QtGui.QDragMoveEvent) -> None:
    """Accept a drag that carries local files."""
    if dropped_paths(event.mimeData()):
        event.acceptProposedAction()
