"""Waiting for a lost input device to come back (the window's side of
:mod:`kwsapp.audio.child_source`): a timer asks a fresh PortAudio in a child
process whether the device answers (:func:`~kwsapp.audio.portaudio_child.probe_job`),
without ever blocking the GUI thread, and says when it does."""

from __future__ import annotations

import logging

from PySide6 import QtCore

from kwsapp.audio.portaudio_child import ChildJob, probe_job
from kwsapp.errors import DeviceError

log = logging.getLogger(__name__)


class DeviceWatcher(QtCore.QObject):
    """Polls for an input device; emits :attr:`back` once when it answers.

    Args:
        poll_s: seconds between probes.
        probe_timeout_s: a probe that has not answered in this long is
            killed and tried again.
    """

    back = QtCore.Signal()

    def __init__(self, poll_s: float = 1.0, parent: QtCore.QObject | None = None,
                 probe_timeout_s: float = 15.0) -> None:
        super().__init__(parent)
        self._probe_timeout_s = probe_timeout_s
        self._timer = QtCore.QTimer(self, interval=max(50, int(poll_s * 1000)))
        self._timer.timeout.connect(self._tick)
        self._device: object = None
        self._probe: ChildJob | None = None

    def watch(self, device: object) -> None:
        """Start waiting for ``device`` (None: the default input)."""
        self.cancel()
        self._device = device
        self._timer.start()

    def cancel(self) -> None:
        """Stop waiting (the user chose to listen, or the window closes)."""
        self._timer.stop()
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()

    def _tick(self) -> None:
        if self._probe is None:
            self._probe = probe_job(self._device, self._probe_timeout_s)
            self._probe.start()
            return
        try:
            if self._probe.poll() is None:
                return
        except DeviceError as exc:  # not there yet, or PortAudio hung looking: look again
            self._probe = None
            log.debug("input device %s not back: %s", self._device or "(default)", exc)
            return
        self._probe = None
        log.info("input device %s answers again", self._device or "(default)")
        self._timer.stop()
        self.back.emit()
