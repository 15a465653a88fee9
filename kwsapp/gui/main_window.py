"""The main window: controls on top, the live view (spectrogram, waveform,
level, result, history, class probabilities) and the files panel in tabs,
status bar at the bottom.

Threads: the engine runs its own (its callbacks arrive through
:class:`~kwsapp.gui.live.EngineBridge` signals); files are classified by a
:class:`~kwsapp.gui.files.FileWorker` on a QThread. The GUI thread only draws:
a ~30 Hz timer reads new samples from the engine's ring with its own cursor
and updates each plot once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf
from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.config import Config, GuiConfig, ms_to_samples
from kwsapp.errors import KwsError
from kwsapp.gui.files import FilesPanel, FileWorker
from kwsapp.gui.live import EngineBridge, LiveSession, default_source_factory, engine_config
from kwsapp.gui.result_widget import HistoryList, ProbabilityBars, ResultView
from kwsapp.gui.settings import WindowSettings, open_settings
from kwsapp.gui.spectrogram_widget import SpectrogramWidget
from kwsapp.gui.waveform_widget import LevelMeter, WaveformWidget
from kwsapp.models.registry import DEFAULT_MODEL, bundled_models

log = logging.getLogger(__name__)

OPEN_MODEL = "Open model…"
VAD_CHOICES = ("0 · keeps most", "1", "2 · default", "3 · strictest")
AUDIO_SUFFIXES = {"." + f.lower() for f in sf.available_formats()} | {".oga", ".opus"}


def list_devices() -> list:
    """Input devices (empty when PortAudio finds none or is missing)."""
    try:
        from kwsapp.audio.source import list_input_devices
        return list(list_input_devices())
    except Exception as exc:  # noqa: BLE001 - no audio stack is a state the window shows
        log.warning("cannot list input devices: %s", exc)
        return []


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; folders replaced by the audio files inside them."""
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [str(f) for f in sorted(p.rglob("*"))
                    if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES]
        else:
            out.append(str(p))
    return out


class Banner(QtWidgets.QFrame):
    """A dismissable message strip at the top of the window (faults)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.hide)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addWidget(self.text, 1)
        lay.addWidget(close)
        self.hide()

    def show_message(self, message: str, error: bool = True) -> None:
        colour = "#5a1d1d" if error else "#1d3a5a"
        self.setStyleSheet(f"#banner {{ background: {colour}; border-radius: 4px; }}"
                           "#banner QLabel { color: white; }")
        self.text.setText(message)
        self.show()


class MainWindow(QtWidgets.QMainWindow):
    """kwsapp's window.

    Args:
        config: runtime settings (the model card's defaults are applied on top).
        gui_config: drawing settings.
        settings: where choices are remembered (default: the user's store).
        source_factory: ``device -> AudioSource``; default the sound card.
            Tests and the screenshot pass a file replayed in real time.
        model: model to use instead of the remembered one.
        device: input device to use instead of the remembered one.
        autostart: start listening as soon as the window is built.
        source_name: what to call the input when ``source_factory`` is not a
            sound card (shown in the device chooser and status bar).
    """

    files_requested = QtCore.Signal(list, str, float)

    def __init__(self, config: Config | None = None, gui_config: GuiConfig | None = None,
                 settings: QtCore.QSettings | None = None, source_factory=None,
                 model: str | None = None, device: str | None = None,
                 autostart: bool = True, source_name: str | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        self.gui_config = gui_config or GuiConfig()
        self.store = settings if settings is not None else open_settings()
        self.prefs = WindowSettings.load(self.store)
        if model:
            self.prefs.model = model
        if device:
            self.prefs.device = device
        self.source_factory = source_factory or default_source_factory(self.config)
        self.source_name = source_name
        self.session: LiveSession | None = None
        self.recognizer = None
        self.model_spec: str | None = None
        self.frames_drawn = 0
        self.last_stats = None  # EngineStats at the last status update
        self._closed = False
        self.bridge = EngineBridge()
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self.bridge.command.connect(self._on_command, queued)
        self.bridge.window.connect(self._on_window, queued)
        self.bridge.failed.connect(self._on_engine_error, queued)

        self.setWindowTitle("kwsapp — spoken commands")
        self.setAcceptDrops(True)
        self._build_actions()
        self._build_controls()
        self._build_views()
        self._build_status()
        self._start_file_worker()

        self._redraw_timer = QtCore.QTimer(self, interval=int(1000 / self.gui_config.redraw_hz))
        self._redraw_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._redraw_timer.timeout.connect(self.redraw)
        self._status_timer = QtCore.QTimer(self, interval=int(1000 / self.gui_config.status_hz))
        self._status_timer.timeout.connect(self.update_status)

        if self.prefs.geometry is not None:
            self.restoreGeometry(self.prefs.geometry)
        else:
            self.resize(1180, 760)
        self.refresh_devices()
        self._fill_models()
        self.load_model(self.prefs.model or DEFAULT_MODEL)
        if autostart:
            QtCore.QTimer.singleShot(0, self.start_listening)

    # ----------------------------------------------------------------- layout
    def _build_actions(self) -> None:
        self.listen_action = QtGui.QAction("&Listen", self)
        self.listen_action.setCheckable(True)
        self.listen_action.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.listen_action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        self.listen_action.setToolTip("Start or stop listening to the input device (Space)")
        self.listen_action.toggled.connect(self._on_listen_toggled)
        self.open_action = QtGui.QAction("&Open audio files…", self,
                                         shortcut=QtGui.QKeySequence.StandardKey.Open)
        self.open_action.setToolTip("Classify audio files (Ctrl+O); you can also drop them "
                                    "on the window")
        self.open_action.triggered.connect(self.open_files_dialog)
        self.open_model_action = QtGui.QAction("Open &model…", self)
        self.open_model_action.setToolTip("Use a model artifact directory "
                                          "(model.tflite + card.json)")
        self.open_model_action.triggered.connect(self.open_model_dialog)
        self.quit_action = QtGui.QAction("&Quit", self, shortcut=QtGui.QKeySequence("Ctrl+Q"))
        self.quit_action.setToolTip("Stop listening and quit (Ctrl+Q)")
        self.quit_action.triggered.connect(self.close)
        self.refresh_action = QtGui.QAction("&Refresh devices", self,
                                            shortcut=QtGui.QKeySequence("F5"))
        self.refresh_action.setToolTip("Look for input devices again (F5)")
        self.refresh_action.triggered.connect(self.refresh_devices)
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.open_action, self.open_model_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        listen_menu = menu.addMenu("&Listen")
        listen_menu.addActions([self.listen_action, self.refresh_action])
        for menu_ in (file_menu, listen_menu):
            menu_.setToolTipsVisible(True)

    def _build_controls(self) -> None:
        self.listen_button = QtWidgets.QToolButton()
        self.listen_button.setDefaultAction(self.listen_action)
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
        self.device_combo.activated.connect(self._on_device_chosen)
        refresh = QtWidgets.QToolButton()
        refresh.setDefaultAction(self.refresh_action)
        refresh.setText("⟳")
        self.model_combo = QtWidgets.QComboBox()
        self.model_combo.setMinimumContentsLength(8)
        self.model_combo.setToolTip("Model: a bundled one by name, or " + OPEN_MODEL +
                                    " for an artifact directory")
        self.model_combo.activated.connect(self._on_model_chosen)
        self.threshold_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(5, 99)
        self.threshold_slider.setMinimumWidth(100)
        self.threshold_slider.setToolTip("Sensitivity: a command fires when its smoothed "
                                         "probability passes this threshold (lower fires "
                                         "more often); classes the model card tunes "
                                         "apart keep their offset from it")
        self.threshold_label = QtWidgets.QLabel()
        self.threshold_label.setMinimumWidth(36)
        self.threshold_slider.valueChanged.connect(self._on_threshold_changed)
        self.vad_combo = QtWidgets.QComboBox()
        self.vad_combo.addItems(VAD_CHOICES)
        self.vad_combo.setToolTip("Voice detector aggressiveness: higher ignores more "
                                  "non-speech sound (0..3)")
        self.vad_combo.currentIndexChanged.connect(self._on_vad_changed)

        bar = QtWidgets.QWidget()
        lay = QtWidgets.QHBoxLayout(bar)
        lay.setContentsMargins(8, 6, 8, 2)
        lay.addWidget(self.listen_button)
        lay.addSpacing(10)
        for label, widget in (("Input", self.device_combo), (None, refresh),
                              ("Model", self.model_combo)):
            if label:
                lay.addSpacing(6)
                lay.addWidget(QtWidgets.QLabel(label))
            # The device name gets the spare width (names can be long).
            lay.addWidget(widget, 3 if widget is self.device_combo else 0)
        lay.addSpacing(12)
        lay.addWidget(QtWidgets.QLabel("Threshold"))
        lay.addWidget(self.threshold_slider)
        lay.addWidget(self.threshold_label)
        lay.addSpacing(12)
        lay.addWidget(QtWidgets.QLabel("VAD"))
        lay.addWidget(self.vad_combo)
        lay.addStretch(1)
        self._controls = bar

    def _build_views(self) -> None:
        g = self.gui_config
        self.banner = Banner()
        self.spectrogram = SpectrogramWidget(g)
        self.waveform = WaveformWidget(g)
        self.meter = LevelMeter(g)
        self.result = ResultView(g)
        self.history = HistoryList(g)
        self.bars = ProbabilityBars()
        self.files = FilesPanel(g)

        left = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.spectrogram, 3)
        lay.addWidget(self.waveform, 2)
        lay.addWidget(self.meter)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.result)
        right.addWidget(self.bars)
        right.addWidget(self.history)
        right.setSizes([170, 260, 220])
        live = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        live.addWidget(left)
        live.addWidget(right)
        live.setStretchFactor(0, 3)
        live.setStretchFactor(1, 1)
        live.setSizes([780, 360])
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(live, "Live")
        self.tabs.addTab(self.files, "Files")
        self.tabs.setTabToolTip(0, "Live input: spectrogram, waveform and recognized commands")
        self.tabs.setTabToolTip(1, "Classified audio files (drop files on the window)")

        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self._controls)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

    def _build_status(self) -> None:
        self.status_labels: dict[str, QtWidgets.QLabel] = {}
        tips = {"device": "Input device and its sample rate",
                "xruns": "Input overflows reported by the audio device",
                "dropped": "Windows dropped because inference fell behind",
                "infer": "Inference time per analysed window",
                "latency": "Delay from the end of a word to its command"}
        for key, tip in tips.items():
            label = QtWidgets.QLabel("—")
            label.setToolTip(tip)
            label.setMinimumWidth(0 if key == "device" else 110)
            self.statusBar().addPermanentWidget(label, 1 if key == "device" else 0)
            self.status_labels[key] = label
        self.status_labels["device"].setText("not listening")

    def _start_file_worker(self) -> None:
        self.file_thread = QtCore.QThread(self)
        self.file_thread.setObjectName("kwsapp-files")
        self.file_worker = FileWorker(self.gui_config, self.config)
        self.file_worker.moveToThread(self.file_thread)
        self.files_requested.connect(self.file_worker.classify,
                                     QtCore.Qt.ConnectionType.QueuedConnection)
        self.file_worker.result.connect(self.files.add_result,
                                        QtCore.Qt.ConnectionType.QueuedConnection)
        self.file_thread.start()

    # --------------------------------------------------------------- devices
    def refresh_devices(self) -> None:
        """Fill the device chooser anew (the default marked, the remembered
        or current device selected)."""
        current = self.device_combo.currentData() or self.prefs.device
        self.device_combo.clear()
        if self.source_name is not None:  # not a sound card: nothing to choose
            self.devices = []
            self.device_combo.addItem(self.source_name, None)
            return
        self.devices = list_devices()
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
        self.device_combo.setCurrentIndex(self._match_device(current))

    def _match_device(self, wanted: object) -> int:
        """Row of a device given by name, index or name part (else the default)."""
        text = "" if wanted is None else str(wanted)
        for test in (lambda d: d.name == text,
                     lambda d: text.isdigit() and int(text) == getattr(d, "index", None),
                     lambda d: bool(text) and text.lower() in d.name.lower(),
                     lambda d: getattr(d, "is_default", False)):
            for i, dev in enumerate(self.devices):
                if test(dev):
                    return i
        return 0

    def current_device(self) -> str | None:
        return self.device_combo.currentData()

    def _on_device_chosen(self, _index: int) -> None:
        self.prefs.device = self.current_device()
        if self.session is not None:
            self.stop_listening()
            self.start_listening()

    # ----------------------------------------------------------------- models
    def _fill_models(self) -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for name in bundled_models():
            self.model_combo.addItem(name, name)
        self.model_combo.addItem(OPEN_MODEL, None)
        self.model_combo.blockSignals(False)

    def _select_model_item(self, spec: str) -> None:
        index = self.model_combo.findData(spec)
        if index < 0:
            path = Path(spec)
            self.model_combo.insertItem(self.model_combo.count() - 1, path.name, spec)
            self.model_combo.setItemData(self.model_combo.count() - 2, spec,
                                         QtCore.Qt.ItemDataRole.ToolTipRole)
            index = self.model_combo.count() - 2
        self.model_combo.setCurrentIndex(index)

    def _on_model_chosen(self, index: int) -> None:
        spec = self.model_combo.itemData(index)
        if spec is None:
            self.open_model_dialog()
        else:
            self.load_model(spec)

    def open_model_dialog(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Open model artifact directory (model.tflite + card.json)")
        if folder:
            self.load_model(folder)
        elif self.model_spec is not None:
            self._select_model_item(self.model_spec)

    def load_model(self, spec: str) -> bool:
        """Load a model for the live stream; on failure say why and keep the
        previous one. Returns whether it loaded."""
        from kwsapp.inference.recognizer import Recognizer
        try:
            recognizer = Recognizer.load(spec)
        except (KwsError, OSError, ValueError, RuntimeError) as exc:
            kept = f" Still using {self.model_spec}." if self.model_spec else ""
            self.banner.show_message(f"Model {spec} could not be loaded: {exc}.{kept}")
            if self.model_spec is not None:
                self._select_model_item(self.model_spec)
            return False
        self.recognizer = recognizer
        self.model_spec = str(spec)
        self.prefs.model = self.model_spec
        self._select_model_item(self.model_spec)
        self.bars.set_labels(recognizer.labels)
        card_threshold = engine_config(self.config, recognizer.card.raw, None, None, None)
        self._apply_threshold_default(card_threshold.smoothing.threshold)
        self._apply_vad_default(card_threshold.vad.aggressiveness)
        if self.session is not None:
            self.session.set_recognizer(recognizer)
            # The new card's defaults (or the user's choices) apply too.
            self.session.set_threshold(self.threshold)
            self.session.set_vad_aggressiveness(self.vad_combo.currentIndex())
        self.banner.hide()
        return True

    # -------------------------------------------------------------- controls
    def _apply_threshold_default(self, card_value: float) -> None:
        value = self.prefs.threshold if self.prefs.threshold is not None else card_value
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(int(round(value * 100)))
        self.threshold_slider.blockSignals(False)
        self.threshold_label.setText(f"{self.threshold:.2f}")

    def _apply_vad_default(self, card_value: int) -> None:
        value = self.prefs.vad_aggressiveness
        self.vad_combo.blockSignals(True)
        self.vad_combo.setCurrentIndex(int(card_value if value is None else value))
        self.vad_combo.blockSignals(False)

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100.0

    def _on_threshold_changed(self, _value: int) -> None:
        self.prefs.threshold = self.threshold
        self.threshold_label.setText(f"{self.threshold:.2f}")
        if self.session is not None:
            self.session.set_threshold(self.threshold)

    def _on_vad_changed(self, index: int) -> None:
        self.prefs.vad_aggressiveness = index
        if self.session is not None:
            self.session.set_vad_aggressiveness(index)

    # -------------------------------------------------------------- listening
    def _on_listen_toggled(self, on: bool) -> None:
        if on and self.session is None:
            self.start_listening()
        elif not on and self.session is not None:
            self.stop_listening()

    def _set_listen_checked(self, on: bool) -> None:
        self.listen_action.blockSignals(True)
        self.listen_action.setChecked(on)
        self.listen_action.setText("● Listening" if on else "Listen")
        self.listen_action.blockSignals(False)

    def start_listening(self) -> bool:
        """Open the chosen device and start the engine; on failure say why
        (files still work). Returns whether it started."""
        if self.session is not None or self._closed:
            return self.session is not None
        if self.recognizer is None:
            self.banner.show_message("No model loaded: choose one under Model "
                                     "(or " + OPEN_MODEL + ").")
            self._set_listen_checked(False)
            return False
        device = self.current_device()
        config = engine_config(self.config, self.recognizer.card.raw, self.threshold,
                               self.vad_combo.currentIndex(), device)
        try:
            source = self.source_factory(device)
            session = LiveSession(self.recognizer, config, source, self.bridge)
            session.start()
        except Exception as exc:  # noqa: BLE001 - any device failure is shown, not raised
            log.warning("cannot start listening: %s", exc)
            where = f" on {device}" if device else ""
            self.banner.show_message(
                f"Cannot listen{where}: {exc}. Pick another input device (⟳ refreshes "
                "the list) and press Space. Dropped files are still classified.")
            self._set_listen_checked(False)
            self.status_labels["device"].setText("not listening")
            return False
        self.session = session
        self.spectrogram.restart()
        self._set_listen_checked(True)
        self._redraw_timer.start()
        self._status_timer.start()
        self.update_status()
        return True

    def stop_listening(self, timeout: float = 1.0) -> None:
        """Stop the stream and join the engine's threads."""
        session, self.session = self.session, None
        self._redraw_timer.stop()
        self._status_timer.stop()
        if session is not None:
            session.stop(timeout=timeout)
        self._set_listen_checked(False)
        self.status_labels["device"].setText("not listening")

    def redraw(self) -> None:
        """One frame of the live view (timer tick): new samples scroll into
        the spectrogram; waveform, speech shading and level are redrawn."""
        session = self.session
        if session is None:
            return
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

    def update_status(self) -> None:
        session = self.session
        if session is None:
            return
        if not session.running:  # a file source ended, or the engine stopped itself
            self.redraw()
            self.stop_listening()
            self.status_labels["device"].setText("input ended")
            return
        stats = self.last_stats = session.engine.stats
        device = self.current_device() or self.source_name or "input"
        rate = session.sample_rate_hz
        self.status_labels["device"].setText(f"{device} · {rate / 1000:g} kHz" if rate
                                             else device)
        self.status_labels["xruns"].setText(f"xruns {stats.xruns}")
        self.status_labels["dropped"].setText(f"dropped {stats.dropped_windows}")
        self.status_labels["infer"].setText(f"infer {stats.infer_ms:.1f} ms")
        self.status_labels["latency"].setText(f"latency {stats.latency_ms:.0f} ms")

    @QtCore.Slot(object)
    def _on_command(self, event) -> None:
        self.result.show_command(event.label, float(event.score), float(event.end))
        self.history.add(event.label, float(event.score), float(event.end))

    @QtCore.Slot(object)
    def _on_window(self, result) -> None:
        probs = np.asarray(result.probs)
        if probs.shape[0] == len(self.bars.labels):
            self.bars.set_probabilities(probs)

    @QtCore.Slot(object)
    def _on_engine_error(self, exc: Exception) -> None:
        log.warning("input failed: %s", exc)
        self.stop_listening()
        self.refresh_devices()
        self.banner.show_message(f"The input stopped: {exc}. Pick an input device "
                                 "(the list is refreshed) and press Space to listen again.")

    # ------------------------------------------------------------------ files
    def classify_files(self, paths: list[str]) -> None:
        """Queue files for the worker thread and show the Files tab."""
        paths = expand_paths(paths)
        if not paths:
            return
        self.files.add_pending(paths)
        self.tabs.setCurrentWidget(self.files)
        self.files_requested.emit(paths, self.model_spec or DEFAULT_MODEL,
                                  self.threshold if self.prefs.threshold is not None else 0.0)

    def open_files_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(AUDIO_SUFFIXES))
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self, "Classify audio files", "", f"Audio ({patterns});;All files (*)")
        if paths:
            self.classify_files(paths)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.classify_files(paths)

    # ---------------------------------------------------------------- closing
    def shutdown(self) -> None:
        """Stop the stream, the worker thread and save settings (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.stop_listening()
        self.file_worker.cancel.set()
        self.file_thread.quit()
        self.file_thread.wait(1000)
        self.prefs.geometry = self.saveGeometry()
        self.prefs.save(self.store)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
