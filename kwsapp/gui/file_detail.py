"""The zoomed timeline's detail: the full-resolution spectrogram of the part
of a long file in view, read from the file on its own thread.

The timeline (:class:`~kwsapp.gui.spectrogram_widget.FileSpectrogramView`)
numbers its requests; :class:`FileDetailWorker` reads the latest one only
(a request the view has moved on from is skipped, or stopped within a block
of its audio) and colours the columns, so that the GUI thread only calls
``setImage``. The view draws a result only if it is still its latest
request for the file it shows: a stale one never lands in the wrong place.

Its own thread, not the files worker's: that one may spend minutes on
another hour-long file, and zooming must not wait for it.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6 import QtCore

from kwsapp.config import GuiConfig
from kwsapp.errors import Cancelled, KwsError
from kwsapp.gui.file_image import detail_columns
from kwsapp.gui.spectrogram_widget import DetailImage, DetailRequest, MelColours

log = logging.getLogger(__name__)


class FileDetailWorker(QtCore.QObject):
    """Reads detail requests on its own thread, the latest only.

    :meth:`supersede` (GUI thread) marks the requests before a token stale;
    :attr:`cancel` stops them all (the window closing).
    """

    ready = QtCore.Signal(object)  # DetailImage
    # A request is done with (drawn, skipped, stopped or failed): its token.
    settled = QtCore.Signal(int)

    def __init__(self, gui_config: GuiConfig) -> None:
        super().__init__()  # parentless: it is moved to a QThread
        self.gui_config = gui_config
        self.colours = MelColours(gui_config)
        self.cancel = threading.Event()
        self._latest = 0  # requests before this token are stale
        self.read = detail_columns  # (tests wrap it to hold a read midway)

    def supersede(self, token: int) -> None:
        """Requests before ``token`` are stale (thread-safe: one int
        assignment)."""
        self._latest = max(self._latest, token)

    def wanted(self, token: int) -> bool:
        return not self.cancel.is_set() and token >= self._latest

    @QtCore.Slot(object)
    def render(self, request: DetailRequest) -> None:
        """Read and colour ``request``'s columns and emit :attr:`ready`,
        unless it is stale by then; a file that cannot be read now (moved,
        changed since it was classified) is logged and leaves the overview."""
        try:
            if request.path is None or not self.wanted(request.token):
                return
            first, columns = self.read(request.path, request.start_s, request.end_s,
                                       self.gui_config,
                                       stop=lambda: not self.wanted(request.token))
            rgba = np.ascontiguousarray(self.colours(columns))
            if self.wanted(request.token):
                self.ready.emit(DetailImage(request, first, columns, rgba))
        except Cancelled:
            pass
        except KwsError as exc:
            log.warning("no detailed spectrogram of %s: %s", request.path, exc)
        except Exception:  # noqa: BLE001 - the overview stays; the next zoom asks again
            log.exception("reading the detailed spectrogram of %s failed", request.path)
        finally:
            self.settled.emit(request.token)
