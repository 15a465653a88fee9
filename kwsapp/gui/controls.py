"""The controls bar: listen button, input device, model, threshold and VAD
aggressiveness. It shows and reports choices (signals); the window decides
what they do to the stream."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.models.registry import bundled_models

log = logging.getLogger(__name__)

OPEN_MODEL = "Open model…"
VAD_CHOICES = ("0 · keeps most", "1", "2", "3 · strictest")
#: After the VAD choice the model's card (or the runtime's default) sets.
DEFAULT_MARK = " · default"


LOOKING = "looking for input devices…"
NOT_LISTED = "input devices not listed (⟳ looks again)"


class _Look:
    """One look for the devices: its child job, cancelled from any thread
    (before its thread made the job, too: the job is then cancelled as it
    is handed over, and never starts its child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job = None
        self._cancelled = False

    def keep(self, job) -> None:
        with self._lock:
            self._job = job
            if self._cancelled:
                job.cancel()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            job = self._job
        if job is not None:
            job.cancel()


class DeviceLister(QtCore.QObject):
    """Looks for the input devices off the GUI thread: a fresh PortAudio in
    a child process (:func:`~kwsapp.audio.portaudio_child.list_input_devices_in_child`),
    run from a thread of its own (``kwsapp-devices``) and killed after
    ``timeout_s``. In this process PortAudio's start would hang the window
    for ever on a sound server that answers nobody, and a PortAudio started
    once lists the devices as they were then.

    Signals:
        listed(devices, problem): the newest look's answer: the devices
            (a list, maybe empty) and None, or None and why there are none
            (PortAudio missing, failed or not answering).
    """

    listed = QtCore.Signal(object, object)
    _answer = QtCore.Signal(int, object, object)  # (ticket, devices, problem): any thread

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket = 0
        self._look: _Look | None = None
        self._thread: threading.Thread | None = None
        self._answer.connect(self._on_answer, QtCore.Qt.ConnectionType.QueuedConnection)

    @property
    def looking(self) -> bool:
        """A look is under way (its answer not shown yet)."""
        return self._thread is not None

    def look(self, timeout_s: float) -> None:
        """Look for the devices anew (a look under way is given up: its
        child killed, its answer dropped)."""
        from kwsapp.audio.portaudio_child import list_input_devices_in_child
        from kwsapp.errors import Cancelled, KwsError

        self.cancel()
        self._ticket += 1
        ticket, answer, look = self._ticket, self._answer, _Look()

        def run() -> None:
            try:
                devices, problem = list_input_devices_in_child(timeout_s, look.keep), None
            except Cancelled:
                return
            except KwsError as exc:
                devices, problem = None, str(exc)
            try:
                answer.emit(ticket, devices, problem)
            except RuntimeError:  # the window was deleted without closing: nobody to tell
                pass

        self._look = look
        self._thread = threading.Thread(target=run, name="kwsapp-devices", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Give up the look under way (the window closes, or looks again):
        its child is killed and its thread ends at once."""
        thread, look = self._thread, self._look
        self._thread = self._look = None
        self._ticket += 1  # whatever it still says is dropped
        if look is not None:
            look.cancel()
        if thread is not None:
            thread.join(1.0)

    @QtCore.Slot(int, object, object)
    def _on_answer(self, ticket: int, devices: object, problem: object) -> None:
        if ticket != self._ticket:
            return  # a look given up since
        thread, self._thread, self._look = self._thread, None, None
        if thread is not None:
            thread.join(1.0)  # it emitted its answer last: it is ending
        if problem is not None:
            log.warning("cannot list input devices: %s", problem)
        self.listed.emit(devices, problem)


def match_device(devices: list, wanted: object) -> int:
    """Row of a device given by name, index or name part (else the default,
    else 0)."""
    text = "" if wanted is None else str(wanted)
    for test in (lambda d: d.name == text,
                 lambda d: text.isdigit() and int(text) == getattr(d, "index", None),
                 lambda d: bool(text) and text.lower() in d.name.lower(),
                 lambda d: getattr(d, "is_default", False)):
        for i, dev in enumerate(devices):
            if test(dev):
                return i
    return 0


class ControlsBar(QtWidgets.QWidget):
    """The row of controls above the views.

    Signals:
        device_chosen: the user picked an input device.
        model_chosen(spec): a bundled name or artifact path; None for
            "Open model…".
        threshold_changed(value): the slider moved (0.05 .. 0.99).
        vad_changed(aggressiveness): 0 .. 3.
        verify_changed(on): the second opinion switched on or off.
    """

    device_chosen = QtCore.Signal()
    model_chosen = QtCore.Signal(object)
    threshold_changed = QtCore.Signal(float)
    vad_changed = QtCore.Signal(int)
    verify_changed = QtCore.Signal(bool)

    def __init__(self, listen_action: QtGui.QAction, refresh_action: QtGui.QAction,
                 parent=None) -> None:
        super().__init__(parent)
        self.devices: list = []
        self.listen_button = QtWidgets.QToolButton()
        self.listen_button.setDefaultAction(listen_action)
        self.listen_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.listen_button.setMinimumWidth(110)
        self.listen_button.setStyleSheet(
            "QToolButton { padding: 3px 10px; }"
            "QToolButton:checked { background: #1f7a55; color: white; border-radius: 3px; }")
        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.setMinimumContentsLength(14)
        self.device_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device_combo.setToolTip("Input device (★ marks the system default); "
                                     "changing it restarts listening on the new one")
        self.device_combo.activated.connect(lambda _i: self.device_chosen.emit())
        refresh = QtWidgets.QToolButton()
        refresh.setDefaultAction(refresh_action)
        refresh.setText("⟳")
        self.model_combo = QtWidgets.QComboBox()
        self.model_combo.setMinimumContentsLength(8)
        self.model_combo.setToolTip("Model: a bundled one by name, or " + OPEN_MODEL +
                                    " for an artifact directory; changing it restarts "
                                    "listening with its card's settings")
        self.model_combo.activated.connect(
            lambda index: self.model_chosen.emit(self.model_combo.itemData(index)))
        self.threshold_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(5, 99)
        self.threshold_slider.setMinimumWidth(100)
        self.threshold_slider.setToolTip("Sensitivity: a command fires when its smoothed "
                                         "probability passes this threshold (lower fires "
                                         "more often); classes the model card tunes "
                                         "apart keep their offset from it")
        self.threshold_label = QtWidgets.QLabel()
        self.threshold_label.setMinimumWidth(36)
        self.threshold_slider.valueChanged.connect(self._on_threshold_moved)
        self.vad_combo = QtWidgets.QComboBox()
        self.vad_combo.addItems(VAD_CHOICES)
        self.vad_combo.setToolTip("Voice detector aggressiveness: higher ignores more "
                                  "non-speech sound (0..3)")
        self.vad_combo.currentIndexChanged.connect(self.vad_changed.emit)
        self.verify_check = QtWidgets.QCheckBox("Second opinion")
        self.verify_check.toggled.connect(self.verify_changed.emit)

        # Two groups: where the sound comes from and what listens to it, and
        # how it decides. Side by side when the window is wide enough; the
        # second below the first when not (:meth:`resizeEvent`), so the
        # window can be half of a 1920-pixel screen (one row held it at
        # 1,157 pixels or more).
        self._where, self._how = QtWidgets.QWidget(), QtWidgets.QWidget()
        where = QtWidgets.QHBoxLayout(self._where)
        where.setContentsMargins(0, 0, 0, 0)
        where.addWidget(self.listen_button)
        where.addSpacing(10)
        for label, widget in (("Input", self.device_combo), (None, refresh),
                              ("Model", self.model_combo)):
            if label:
                where.addSpacing(6)
                where.addWidget(QtWidgets.QLabel(label))
            # The device name gets the spare width (names can be long).
            where.addWidget(widget, 3 if widget is self.device_combo else 0)
        how = QtWidgets.QHBoxLayout(self._how)
        how.setContentsMargins(0, 0, 0, 0)
        how.addWidget(QtWidgets.QLabel("Threshold"))
        how.addWidget(self.threshold_slider)
        how.addWidget(self.threshold_label)
        how.addSpacing(12)
        how.addWidget(QtWidgets.QLabel("VAD"))
        how.addWidget(self.vad_combo)
        how.addSpacing(12)
        how.addWidget(self.verify_check)
        how.addStretch(1)
        self._layout = how
        lay = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.Direction.LeftToRight, self)
        lay.setContentsMargins(8, 6, 8, 2)
        lay.setSpacing(12)
        # Not the one row's width as the bar's minimum: resizeEvent stacks
        # the groups instead (minimumSizeHint gives the stacked width).
        lay.setSizeConstraint(QtWidgets.QLayout.SizeConstraint.SetNoConstraint)
        lay.addWidget(self._where, 1)  # the device name gets the spare width
        lay.addWidget(self._how, 0)
        self._outer = lay

    def add_button(self, action: QtGui.QAction) -> QtWidgets.QToolButton:
        """A button for ``action`` after the other controls."""
        button = QtWidgets.QToolButton()
        button.setDefaultAction(action)
        self._layout.insertSpacing(self._layout.count() - 1, 12)
        self._layout.insertWidget(self._layout.count() - 1, button)
        return button

    @property
    def stacked(self) -> bool:
        """Whether the controls are in two rows (the window is narrow)."""
        return self._outer.direction() == QtWidgets.QBoxLayout.Direction.TopToBottom

    def _one_row_width(self) -> int:
        m = self._outer.contentsMargins()
        return (self._where.minimumSizeHint().width() + self._outer.spacing()
                + self._how.minimumSizeHint().width() + m.left() + m.right())

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        """As narrow as the wider group, as tall as the rows need."""
        m = self._outer.contentsMargins()
        width = max(self._where.minimumSizeHint().width(),
                    self._how.minimumSizeHint().width()) + m.left() + m.right()
        rows = [self._where.minimumSizeHint().height(), self._how.minimumSizeHint().height()]
        height = (sum(rows) + self._outer.spacing() if self.stacked else max(rows))
        return QtCore.QSize(width, height + m.top() + m.bottom())

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        return QtCore.QSize(max(self._one_row_width(), self.minimumSizeHint().width()),
                            self.minimumSizeHint().height())

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        stack = event.size().width() < self._one_row_width()
        if stack != self.stacked:
            self._outer.setDirection(QtWidgets.QBoxLayout.Direction.TopToBottom if stack
                                     else QtWidgets.QBoxLayout.Direction.LeftToRight)
            self.updateGeometry()  # the window gives the bar its new height
        super().resizeEvent(event)

    # ---------------------------------------------------------------- devices
    def fill_devices(self, devices: list, wanted: object,
                     source_name: str | None = None) -> None:
        """Fill the device chooser anew (the default marked, ``wanted``
        selected); ``source_name``: not a sound card, nothing to choose."""
        self.device_combo.clear()
        if source_name is not None:
            self.devices = []
            self.device_combo.addItem(source_name, None)
            return
        self.devices = list(devices)
        if not self.devices:
            self.device_combo.addItem("no input device found", None)
            self.device_combo.setEnabled(False)
            return
        self.device_combo.setEnabled(True)
        for i, dev in enumerate(self.devices):
            star = " ★ default" if getattr(dev, "is_default", False) else ""
            self.device_combo.addItem(f"{dev.name}{star}", dev.name)
            self.device_combo.setItemData(
                i, f"{dev.name} ({getattr(dev, 'hostapi', '')}, "
                   f"{getattr(dev, 'default_rate_hz', 0):g} Hz)",
                QtCore.Qt.ItemDataRole.ToolTipRole)
        self.device_combo.setCurrentIndex(match_device(self.devices, wanted))

    def show_looking(self, wanted: object) -> None:
        """The devices are being looked for (:class:`DeviceLister`): nothing
        to choose meanwhile; ``wanted``, the device to select once they are
        listed, is the current one (what Listen opens)."""
        self.devices = []
        self.device_combo.clear()
        self.device_combo.addItem(LOOKING, wanted)
        self.device_combo.setEnabled(False)

    def show_not_listed(self, problem: str, wanted: object) -> None:
        """The devices could not be listed (``problem`` in the tooltip);
        ``wanted`` stays the current device (Listen still tries it)."""
        self.devices = []
        self.device_combo.clear()
        self.device_combo.addItem(NOT_LISTED, wanted)
        self.device_combo.setItemData(0, problem, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.device_combo.setEnabled(False)

    def current_device(self) -> str | None:
        return self.device_combo.currentData()

    # ----------------------------------------------------------------- models
    def fill_models(self) -> None:
        """The bundled models, then "Open model…"."""
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for name in bundled_models():
            self.model_combo.addItem(name, name)
        self.model_combo.addItem(OPEN_MODEL, None)
        self.model_combo.blockSignals(False)

    def select_model(self, spec: str) -> None:
        """Show ``spec`` as the current model (an artifact path gets a row)."""
        index = self.model_combo.findData(spec)
        if index < 0:
            name = Path(spec).name
            if self.model_combo.findText(name) >= 0:
                # Two "embed" (the bundled one's folder opened) or two
                # "model" (runs/a/model, runs/b/model) could not be told apart.
                name = f"{Path(spec).parent.name}/{name}"
            self.model_combo.insertItem(self.model_combo.count() - 1, name, spec)
            self.model_combo.setItemData(self.model_combo.count() - 2, spec,
                                         QtCore.Qt.ItemDataRole.ToolTipRole)
            index = self.model_combo.count() - 2
        self.model_combo.setCurrentIndex(index)

    def show_no_model(self) -> None:
        """No model loads: no model shown, no threshold to set."""
        self.model_combo.setCurrentIndex(-1)
        self.threshold_slider.setEnabled(False)
        self.threshold_label.setText("—")

    # ------------------------------------------------------ threshold and VAD
    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100.0

    def set_threshold(self, value: float) -> None:
        """Show ``value`` without reporting it as the user's choice."""
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(int(round(value * 100)))
        self.threshold_slider.blockSignals(False)
        self.threshold_label.setText(f"{self.threshold:.2f}")

    def set_vad(self, aggressiveness: int) -> None:
        """Show ``aggressiveness`` without reporting it as the user's choice."""
        self.vad_combo.blockSignals(True)
        self.vad_combo.setCurrentIndex(int(aggressiveness))
        self.vad_combo.blockSignals(False)

    def set_vad_default(self, aggressiveness: int) -> None:
        """Mark the VAD choice the model uses unless the user picks another
        ("2 · default" was marked whatever the model's card set: the embed
        model's is 1)."""
        for i, text in enumerate(VAD_CHOICES):
            self.vad_combo.setItemText(i, text + (DEFAULT_MARK if i == aggressiveness else ""))

    def set_verify(self, on: bool, why_not: str | None) -> None:
        """Show the second opinion ``on`` or off without reporting it as the
        user's choice; ``why_not``: it cannot run (greyed, the reason)."""
        self.verify_check.blockSignals(True)
        self.verify_check.setChecked(on and why_not is None)
        self.verify_check.blockSignals(False)
        self.verify_check.setEnabled(why_not is None)
        self.verify_check.setToolTip(
            why_not or "A speech recogniser (Moonshine) hears each command before it "
                       "fires, and drops what it does not hear as that command: far fewer "
                       "commands on other words, about 30 ms later, 240 MB more memory. "
                       "Off: the model alone. Changing it restarts listening.")

    def _on_threshold_moved(self, _value: int) -> None:
        self.threshold_label.setText(f"{self.threshold:.2f}")
        self.threshold_changed.emit(self.threshold)
