"""Waiting for a lost input device to come back (the window's side of
:mod:`kwsapp.audio.child_source`): a timer asks a fresh PortAudio in a child
process whether the device answers, without ever blocking the GUI thread,
and says when it does."""

from __future__ import annotations

import logging
import subprocess
import time

from PySide6 import QtCore

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
        self._probe: subprocess.Popen | None = None
        self._probe_started = 0.0

    def watch(self, device: object) -> None:
        """Start waiting for ``device`` (None: the default input)."""
        self.cancel()
        self._device = device
        self._timer.start()

    def cancel(self) -> None:
        """Stop waiting (the user chose to listen, or the window closes)."""
        self._timer.stop()
        self._end_probe()

    def _end_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None and probe.poll() is None:
            probe.kill()
            probe.wait()

    def _tick(self) -> None:
        from kwsapp.audio.child_source import probe_command

        probe = self._probe
        if probe is None:
            self._probe = subprocess.Popen(probe_command(self._device),
                                           stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
            self._probe_started = time.monotonic()
            return
        code = probe.poll()
        if code is None:
            if time.monotonic() - self._probe_started > self._probe_timeout_s:
                self._end_probe()  # PortAudio hung looking: look again
            return
        self._probe = None
        if code == 0:
            log.info("input device %s answers again", self._device or "(default)")
            self._timer.stop()
            self.back.emit()
