"""The main window, the frame: menus and actions, the parts laid out
(controls bar, banner, Live and Files tabs, status bar), the model and the
live stream's life cycle, settings and shutdown.

Each part is its own module: :mod:`~kwsapp.gui.controls` (the controls bar),
:mod:`~kwsapp.gui.live_view` (the Live tab), :mod:`~kwsapp.gui.files` (the
Files tab and its worker), :mod:`~kwsapp.gui.file_dispatch` (files to the
worker thread), :mod:`~kwsapp.gui.status` (the status bar),
:mod:`~kwsapp.gui.banner`, and :mod:`~kwsapp.gui.live` (the engine behind
the window).

Threads: the engine runs its own (its callbacks arrive through
:class:`~kwsapp.gui.live.EngineBridge` signals), and a
:class:`~kwsapp.gui.live.SessionRunner` opens, starts and stops it on one
more (a sound card takes a quarter of a second to open); files are
classified by a :class:`~kwsapp.gui.files.FileWorker` on a QThread. The GUI
thread only draws: a ~30 Hz timer reads new samples from the engine's ring
with its own cursor and updates each plot once.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace

from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.config import Config, GuiConfig, Overrides, runtime_settings
from kwsapp.errors import DeviceError, KwsError
from kwsapp.gui.banner import Banner
from kwsapp.gui.controls import OPEN_MODEL, ControlsBar, DeviceLister
from kwsapp.gui.file_dispatch import FileDispatch, accept_drag, dropped_paths
from kwsapp.gui.files import FilesPanel
from kwsapp.gui.live import (EngineBridge, LiveSession, SessionRunner, default_source_factory,
                             open_session)
from kwsapp.gui.live_view import LiveView
from kwsapp.gui.reconnect import DeviceWatcher
from kwsapp.gui.settings import WindowSettings, open_settings
from kwsapp.gui.status import StatusFields
from kwsapp.gui.table_export import Table, add_copy_action, save_csv
from kwsapp.inference.verifier import why_unavailable as why_no_second_opinion
from kwsapp.models.registry import DEFAULT_MODEL

log = logging.getLogger(__name__)

#: How long closing the window waits for the live session to stop: a start in
#: progress ends first (a sound card that does not answer can take far longer;
#: the session runner then stops it when it does, the window gone).
SESSION_SHUTDOWN_S = 5.0


def load_recognizer(spec: str) -> tuple[object | None, Exception | None]:
    """``(the model spec loaded, None)``, or ``(None, why it could not be)``."""
    from kwsapp.inference.recognizer import Recognizer

    try:
        return Recognizer.load(spec), None
    except (KwsError, OSError, ValueError, RuntimeError) as exc:
        return None, exc


#: How the banner begins when an export fails (a later export clears it).
EXPORT_FAILED = "Cannot export:"

#: The Listen action's text (menu and button) in each state; each keeps a
#: mnemonic (Alt+L, then its letter, from the keyboard): "● Listening" had
#: none. The button shows them without the "&" (_set_listen_checked).
LISTEN_TEXT = "&Listen"
LISTENING_TEXT = "● &Listening"
STARTING_TEXT = "&Starting…"


class SpaceToFocusedControl(QtCore.QObject):
    """Space goes to the focused check box, button or list, not to the
    window's Space shortcut (Listen): with the shortcut taking it, the
    keyboard could not tick "Second opinion" nor open a list. Elsewhere
    Space still starts and stops listening (a focused Listen button is
    Listen itself)."""

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if (event.type() == QtCore.QEvent.Type.ShortcutOverride
                and event.key() == QtCore.Qt.Key.Key_Space
                and event.modifiers() == QtCore.Qt.KeyboardModifier.NoModifier):
            event.accept()  # the key goes to the widget as a key press
        return False


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

    def __init__(self, config: Config | None = None, gui_config: GuiConfig | None = None,
                 settings: QtCore.QSettings | None = None, source_factory=None,
                 model: str | None = None, device: str | None = None,
                 autostart: bool = True, source_name: str | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        self.gui_config = gui_config or GuiConfig()
        self.store = settings if settings is not None else open_settings()
        self.prefs = WindowSettings.load(self.store)
        remembered = self.prefs.model
        if model:
            self.prefs.model = model
        if device:
            self.prefs.device = device
        self.source_factory = source_factory or default_source_factory(self.config)
        self.source_name = source_name
        self.session: LiveSession | None = None
        self._model_wanted: str | None = None  # chosen, loading on the session runner
        self._starting: int | None = None  # the session runner's ticket of the start wanted
        self._back = False  # that start is the device coming back: say so when it runs
        self.recognizer = None
        self.model_spec: str | None = None
        self.last_stats = None  # EngineStats at the last status update
        self._closed = False
        self.add_word_dialog = None

        self.setWindowTitle("kwsapp — spoken commands")
        self.setAcceptDrops(True)
        self._build_actions()
        self._build_parts()
        self._build_menus()
        self._connect()
        self._space_filter = SpaceToFocusedControl(self)
        for widget in (self.findChildren(QtWidgets.QAbstractButton)
                       + self.findChildren(QtWidgets.QComboBox)):
            widget.installEventFilter(self._space_filter)

        self._redraw_timer = QtCore.QTimer(self, interval=int(1000 / self.gui_config.redraw_hz))
        self._redraw_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._redraw_timer.timeout.connect(self.redraw)
        self._status_timer = QtCore.QTimer(self, interval=int(1000 / self.gui_config.status_hz))
        self._status_timer.timeout.connect(self.update_status)
        self.device_watcher = DeviceWatcher(self.config.audio.device_poll_s, self,
                                            self.config.audio.device_probe_timeout_s)
        self.device_watcher.back.connect(self._on_device_back)

        if self.prefs.geometry is not None:
            self.restoreGeometry(self.prefs.geometry)
        else:
            self.resize(self.first_size())
        self.refresh_devices()
        self.controls.fill_models()
        self._load_first_model([self.prefs.model, remembered, DEFAULT_MODEL])
        if autostart:
            QtCore.QTimer.singleShot(0, self.start_listening)

    def first_size(self) -> QtCore.QSize:
        """The window's size at the first run: the default, within the
        screen's free area (it opened 760 pixels tall on a 1366x768 laptop,
        its bottom under the panel, and 1,180 wide on a 1,024 screen)."""
        free = self.screen().availableGeometry().size() * self.gui_config.window_screen_share
        return QtCore.QSize(*self.gui_config.window_size).boundedTo(free)

    # ----------------------------------------------------------------- layout
    def _action(self, text: str, tip: str, slot, shortcut=None) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.listen_action = QtGui.QAction(LISTEN_TEXT, self)
        self.listen_action.setCheckable(True)
        self.listen_action.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.listen_action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        self.listen_action.setToolTip("Start or stop listening to the input device (Space)")
        self.listen_action.toggled.connect(self._on_listen_toggled)
        self.open_action = self._action(
            "&Open audio files…", "Classify audio files (Ctrl+O); you can also drop them "
            "on the window", self.open_files_dialog, QtGui.QKeySequence.StandardKey.Open)
        self.open_model_action = self._action(
            "Open &model…", "Use a model artifact directory (model.tflite + card.json)",
            self.open_model_dialog)
        self.quit_action = self._action("&Quit", "Stop listening and quit (Ctrl+Q)", self.close,
                                        "Ctrl+Q")
        self.refresh_action = self._action("&Refresh devices", "Look for input devices again "
                                           "(F5)", self.refresh_devices, "F5")
        self.export_action = self._action(
            "&Export…", "Save the current tab's table (the command history, or the "
            "classified files) as CSV", self.export_dialog, "Ctrl+E")
        self.about_action = self._action("&About kwsapp", "Version, bundled models and "
                                         "credits", self.show_about)
        self.add_word_action = self._action("&Add word…", "Teach the app a word of your own "
                                            "from a few recordings (or remove one)",
                                            self.open_add_word)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        self.file_menu = menu.addMenu("&File")
        self.file_menu.addActions([self.open_action, self.open_model_action])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.export_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.listen_menu = menu.addMenu("&Listen")
        self.listen_menu.addActions([self.listen_action, self.refresh_action])
        self.words_menu = menu.addMenu("&Words")
        self.words_menu.addAction(self.add_word_action)
        self.help_menu = menu.addMenu("&Help")
        self.help_menu.addAction(self.about_action)
        for menu_ in (self.file_menu, self.listen_menu, self.words_menu, self.help_menu):
            menu_.setToolTipsVisible(True)

    def _build_parts(self) -> None:
        self.controls = ControlsBar(self.listen_action, self.refresh_action)
        self.add_word_button = self.controls.add_button(self.add_word_action)
        self.banner = Banner()
        self.live = LiveView(self.gui_config)
        self.files = FilesPanel(self.gui_config)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.live, "Live")
        self.tabs.addTab(self.files, "Files")
        self.tabs.setTabToolTip(0, "Live input: spectrogram, waveform and recognized commands")
        self.tabs.setTabToolTip(1, "Classified audio files (drop files on the window)")
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.controls)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.status = StatusFields(self.statusBar(), self.gui_config)
        self.file_dispatch = FileDispatch(self.files, self.gui_config, self.config, self)
        add_copy_action(self.live.history, self.live.history)
        self.ignore_action = QtGui.QAction("&Ignore this word…", self.live.history)
        self.ignore_action.setToolTip("Teach the app that what set off the selected commands "
                                      "is a word to ignore: the Add word dialog opens with "
                                      "their audio as takes")
        self.ignore_action.triggered.connect(self.ignore_selected)
        self.live.history.addAction(self.ignore_action)
        self.withheld_action = QtGui.QAction("&Show commands the second opinion stopped",
                                             self.live.history, checkable=True)
        self.withheld_action.setToolTip("List, greyed, the commands the speech recogniser did "
                                        "not confirm (they did not fire)")
        self.withheld_action.setChecked(self.prefs.show_withheld)
        self.live.history.set_show_withheld(self.prefs.show_withheld)
        self.withheld_action.toggled.connect(self._show_withheld)
        self.live.history.addAction(self.withheld_action)
        add_copy_action(self.files.table, self.files)
        # The parts' widgets by their old names (tests, screenshot, benchmarks).
        for name in ("device_combo", "model_combo", "threshold_slider", "threshold_label",
                     "vad_combo", "verify_check"):
            setattr(self, name, getattr(self.controls, name))
        for name in ("spectrogram", "waveform", "meter", "result", "history", "bars",
                     "word_bars"):
            setattr(self, name, getattr(self.live, name))
        self.status_labels = self.status.labels
        self.file_thread, self.file_worker = self.file_dispatch.thread, self.file_dispatch.worker

    def _connect(self) -> None:
        self.bridge = EngineBridge()
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self.bridge.command.connect(self._on_command, queued)
        self.bridge.unconfirmed.connect(self._on_unconfirmed, queued)
        self.bridge.window.connect(self._on_window, queued)
        self.bridge.failed.connect(self._on_engine_error, queued)
        self.bridge.word_scores.connect(self._on_word_scores, queued)
        self.bridge.started.connect(self._on_session_started, queued)
        self.bridge.model_loaded.connect(self._on_model_loaded, queued)
        self.runner = SessionRunner(self.bridge.on_started)
        self.device_lister = DeviceLister(self)
        self.device_lister.listed.connect(self._on_devices_listed)
        self._devices_wanted: object = None  # the device to select once listed
        self._devices_banner: str | None = None  # the banner saying they were not listed
        self.controls.device_chosen.connect(self._on_device_chosen)
        self.controls.model_chosen.connect(self._on_model_chosen)
        self.controls.threshold_changed.connect(self._on_threshold_changed)
        self.controls.vad_changed.connect(self._on_vad_changed)
        self.controls.verify_changed.connect(self._on_verify_changed)

    @property
    def frames_drawn(self) -> int:
        return self.live.frames_drawn

    @property
    def starting(self) -> bool:
        """A start is in progress on the session runner's thread."""
        return self._starting is not None

    @property
    def listening(self) -> bool:
        """Listening, or starting to."""
        return self.session is not None or self._starting is not None

    # --------------------------------------------------------------- devices
    def refresh_devices(self) -> None:
        """Look for the input devices anew, off the GUI thread (a fresh
        PortAudio in a child process, :class:`DeviceLister`; in this one its
        start hangs for ever on a sound server that answers nobody): the
        chooser says "looking for input devices…", then lists them (the
        default marked, the remembered or current device selected) or says
        why it cannot. Listening meanwhile opens that device."""
        wanted = self.controls.current_device() or self.prefs.device
        if self.source_name is not None:
            self.controls.fill_devices([], wanted, self.source_name)
            return
        self._devices_wanted = wanted
        self.controls.show_looking(wanted)
        self.device_lister.look(self.config.audio.device_list_timeout_s)

    @QtCore.Slot(object, object)
    def _on_devices_listed(self, devices: list | None, problem: str | None) -> None:
        shown, self._devices_banner = self._devices_banner, None
        if shown is not None and not self.banner.isHidden() and self.banner.text.text() == shown:
            self.banner.hide()  # said by the look before: this one answers
        if problem is not None:
            self.controls.show_not_listed(problem, self._devices_wanted)
            if self.banner.isHidden():  # a fault already shown stays
                self._devices_banner = (f"No input devices listed: {problem}; ⟳ (F5) looks "
                                        "for them again.")
                self.banner.show_message(self._devices_banner)
            return
        self.controls.fill_devices(devices, self._devices_wanted)

    @property
    def devices(self) -> list:
        """The input devices listed (empty while they are looked for)."""
        return self.controls.devices

    @property
    def looking_for_devices(self) -> bool:
        """The input devices are being looked for."""
        return self.device_lister.looking

    def current_device(self) -> str | None:
        return self.controls.current_device()

    def _on_device_chosen(self) -> None:
        self.prefs.device = self.current_device()
        if self.add_word_dialog is not None:  # it records from the chosen one too
            self.add_word_dialog.device = self.prefs.device
        if self.listening:
            self.stop_listening()
            self.start_listening()

    # ----------------------------------------------------------------- models
    def _on_model_chosen(self, spec: str | None) -> None:
        if spec is None:
            self.open_model_dialog()
        else:
            self.choose_model(spec)

    def open_model_dialog(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Open model artifact directory (model.tflite + card.json)")
        if folder:
            self.choose_model(folder)
        elif self.model_spec is not None:
            self.controls.select_model(self.model_spec)

    def _load_first_model(self, specs: list[str | None]) -> None:
        """The wanted model, else the remembered one, else the default; the
        banner names what failed and why, and what is used instead."""
        failed: list[str] = []
        for spec in dict.fromkeys(s for s in specs if s):
            if self.load_model(spec):
                if failed:
                    self.banner.show_message(" ".join(failed) + f" Using {spec} instead.")
                return
            failed.append(self.banner.text.text())
        # Nothing loads: the controls must not pretend otherwise.
        self.controls.show_no_model()

    def choose_model(self, spec: str) -> None:
        """The model the user chose: loaded on the session runner's thread
        (an embed model takes 60-120 ms: LiteRT allocates its tensors), then
        used as :meth:`load_model` does, unless another was chosen meanwhile."""
        self._model_wanted = spec
        bridge = self.bridge
        self.runner.run(lambda: bridge.on_model_loaded(spec, *load_recognizer(spec)))

    @QtCore.Slot(object)
    def _on_model_loaded(self, loaded: tuple) -> None:
        spec, recognizer, exc = loaded
        if self._closed or spec != self._model_wanted:
            return  # another model was chosen since: that one is used
        self._model_wanted = None
        self._use_model(spec, recognizer, exc)

    def load_model(self, spec: str) -> bool:
        """Load a model for the live stream (here, on the calling thread);
        on failure say why and keep the previous one. Returns whether it
        loaded."""
        return self._use_model(spec, *load_recognizer(spec))

    def _use_model(self, spec: str, recognizer, exc: Exception | None) -> bool:
        """Listen with ``recognizer`` (the model ``spec``), or say why
        ``spec`` did not load (``exc``) and keep the previous model."""
        if exc is not None:
            log.warning("model %s could not be loaded: %s", spec, exc)
            kept = f" Still using {self.model_spec}." if self.model_spec else ""
            self.banner.show_message(f"Model {spec} could not be loaded: {exc}.{kept}")
            if self.model_spec is not None:
                self.controls.select_model(self.model_spec)
            return False
        self.recognizer = recognizer
        self.threshold_slider.setEnabled(True)
        self.model_spec = str(spec)
        self.prefs.model = self.model_spec
        self.controls.select_model(self.model_spec)
        self.live.set_labels(recognizer.labels)
        # The controls show the settings the engine will get: the card's
        # defaults, with the user's remembered choices over them.
        shown = runtime_settings(recognizer.card.raw, self.overrides(), self.config)
        self.controls.set_threshold(shown.smoothing.threshold)
        self.controls.set_vad(shown.vad.aggressiveness)
        self.controls.set_vad_default(self.config.with_card(recognizer.card.raw)
                                      .vad.aggressiveness)
        self.controls.set_verify(shown.verify.active, why_no_second_opinion(recognizer.card.raw))
        self.banner.hide()
        if self.listening:
            # Listen anew on the new card's settings (its smoothing, VAD
            # hangover and second opinion, the user's choices over them)
            # and with the user words attached to its embeddings: a model
            # swapped into the running engine kept the old card's.
            self.stop_listening()
            self.start_listening()
        return True

    # -------------------------------------------------------------- controls
    def overrides(self) -> Overrides:
        """What the user chose over the card (None: never moved, the card's)."""
        return Overrides(threshold=self.prefs.threshold,
                         vad_aggressiveness=self.prefs.vad_aggressiveness,
                         verify=self.prefs.verify)

    @property
    def threshold(self) -> float:
        return self.controls.threshold

    def _on_threshold_changed(self, value: float) -> None:
        self.prefs.threshold = value
        if self.session is not None:
            self.session.set_threshold(value)

    def _on_vad_changed(self, index: int) -> None:
        self.prefs.vad_aggressiveness = index
        if self.session is not None:
            self.session.set_vad_aggressiveness(index)

    def _on_verify_changed(self, on: bool) -> None:
        self.prefs.verify = on
        if self.listening:  # the engine starts its check thread, or not
            self.stop_listening()
            self.start_listening()

    # -------------------------------------------------------------- listening
    def _on_listen_toggled(self, on: bool) -> None:
        if on and not self.listening:
            self.start_listening()
        elif not on and self.listening:
            self.stop_listening()  # a start in progress too

    def _set_listen_checked(self, on: bool, text: str | None = None) -> None:
        self.listen_action.blockSignals(True)
        self.listen_action.setChecked(on)
        text = text or (LISTENING_TEXT if on else LISTEN_TEXT)
        self.listen_action.setText(text)
        # The button's text: Qt's own (from the text) drops the "…" too.
        self.listen_action.setIconText(text.replace("&", ""))
        self.listen_action.blockSignals(False)

    def start_listening(self) -> bool:
        """Start listening on the chosen device. The device is opened and
        the engine started on the session runner's thread (the button says
        "Starting…" meanwhile); :meth:`_on_session_started` then shows it
        running, or says why it could not start (files still work).

        Returns:
            Whether it is starting (or listening already); False when it
            cannot (no model, the window closed).
        """
        if self._closed:
            return False
        if self.listening:
            return True
        self.device_watcher.cancel()  # listening now, or failing with its own reason
        if self.recognizer is None:
            if self.banner.isHidden():  # else it already says why no model loaded
                self.banner.show_message("No model loaded: choose one under Model "
                                         "(or " + OPEN_MODEL + ").")
            self._set_listen_checked(False)
            return False
        device = self.current_device()
        config = runtime_settings(self.recognizer.card.raw,
                                  Overrides(self.threshold, self.vad_combo.currentIndex(), device,
                                            self.prefs.verify),
                                  self.config)
        # The live view reads the engine's 16 kHz ring and VAD flags on every
        # redraw: have the engine bring them up to date as often (by itself
        # it only wakes when a window or embedding step is due).
        config = replace(config, audio=replace(config.audio,
                                               refresh_ms=1000.0 / self.gui_config.redraw_hz))
        self._starting = self.runner.start(functools.partial(
            open_session, self.source_factory, device, self.recognizer, config, self.bridge))
        self._set_listen_checked(True, STARTING_TEXT)
        self.status.set_state("starting…")
        return True

    @QtCore.Slot(object)
    def _on_session_started(self, started: tuple) -> None:
        """The session runner's start ended: show the session running, or
        say why it did not start."""
        ticket, session, exc = started
        if ticket != self._starting:
            return  # stopped, or started anew, meanwhile: the runner stops it
        self._starting = None
        back, self._back = self._back, False
        if exc is not None:
            log.warning("cannot start listening: %s", exc)
            device = self.current_device()  # the one it started on: a change starts anew
            where = f" on {device}" if device else ""
            # An input that did not open in time already says to pick another
            # (or check the sound server): not said twice.
            advice = ("⟳ refreshes the list; Space tries again."
                      if "pick another input device" in str(exc)
                      else "Pick another input device (⟳ refreshes the list) and press Space.")
            self.banner.show_message(
                f"Cannot listen{where}: {exc}. {advice} Dropped files are still classified.")
            self._set_listen_checked(False)
            self.status.set_state("not listening")
            return
        self.session = session
        # The threshold or VAD moved while it started: what the controls show now.
        if session.engine.config.smoothing.threshold != self.threshold:
            session.set_threshold(self.threshold)
        if session.engine.config.vad.aggressiveness != self.vad_combo.currentIndex():
            session.set_vad_aggressiveness(self.vad_combo.currentIndex())
        notice = getattr(session.source, "notice", None)
        if notice:  # the device refused the rate asked for: listening at another
            self.banner.show_message(notice[0].upper() + notice[1:] + ".", error=False)
        self.live.show_word_bars(session.user_words.labels[1:] if session.user_words else ())
        self._say_unheard_words()
        self.live.restart()
        self._set_listen_checked(True)
        self._redraw_timer.start()
        self._status_timer.start()
        self.update_status()
        if back:
            self.banner.show_message("The input device is back: listening again.", error=False)

    def stop_listening(self) -> None:
        """Stop listening: the session runner stops the stream (or the start
        in progress, once it ends) and joins the engine's threads."""
        session, self.session = self.session, None
        starting, self._starting = self._starting, None
        self._back = False
        self._redraw_timer.stop()
        self._status_timer.stop()
        if session is not None or starting is not None:
            self.runner.stop()
        self._set_listen_checked(False)
        self.status.set_state("not listening")

    def redraw(self) -> None:
        """One frame of the live view (the redraw timer's tick)."""
        if self.session is not None:
            self.live.draw(self.session)

    def update_status(self) -> None:
        session = self.session
        if session is None:
            return
        if not session.running:  # a file source ended, or the engine stopped itself
            self.redraw()
            self.stop_listening()
            self.status.set_state("input ended")
            return
        self.last_stats = session.engine.stats
        self.status.show_stats(self.current_device() or self.source_name or "input",
                               session.sample_rate_hz, self.last_stats)

    # ------------------------------------------------------------ user words
    def open_add_word(self) -> None:
        """Show the Add word dialog (one at a time)."""
        from kwsapp.gui.add_word import AddWordDialog

        if self.add_word_dialog is None:
            self.add_word_dialog = AddWordDialog(self.source_factory, self.current_device(),
                                                 gui_config=self.gui_config, parent=self)
            self.add_word_dialog.word_added.connect(self.reload_user_words)
            self.add_word_dialog.word_removed.connect(self.reload_user_words)
        self.add_word_dialog.show()
        self.add_word_dialog.raise_()

    @QtCore.Slot(object)
    def _on_command(self, heard: tuple) -> None:
        """A command: shown, with the audio it was heard on kept in the
        history (read from the ring now, while it is still there)."""
        ticket, event = heard
        if self._replaced(ticket):
            return
        session = self.session
        audio = None if session is None else session.heard(float(event.start),
                                                            float(event.end))
        self.live.show_command(event, audio)

    @QtCore.Slot(object)
    def _on_unconfirmed(self, heard: tuple) -> None:
        ticket, dropped = heard
        if not self._replaced(ticket):
            self.live.show_unconfirmed(dropped)

    @QtCore.Slot(object)
    def _on_window(self, heard: tuple) -> None:
        ticket, result = heard
        if not self._replaced(ticket):
            self.live.show_window(result)

    @QtCore.Slot(object)
    def _on_word_scores(self, heard: tuple) -> None:
        ticket, scores = heard
        if not self._replaced(ticket):
            self.live.show_word_scores(scores)

    def _replaced(self, ticket: int | None) -> bool:
        """Whether ``ticket``'s session is one the window has since stopped
        or replaced (what it queued before it stopped is dropped); None:
        not from a session."""
        session = self.session
        return ticket is not None and ticket != self._starting and (
            session is None or ticket != session.ticket)

    def _show_withheld(self, on: bool) -> None:
        self.live.history.set_show_withheld(on)
        self.prefs.show_withheld = on

    def ignore_selected(self) -> None:
        """The Add word dialog with the selected history rows' audio as
        takes and "Ignore it" ticked: a word that set off commands it is not."""
        clips = self.live.history.selected_audio()
        if not clips:  # a hint for a while, not the input's state
            self.status.show_message("Select the commands to ignore in the history first.",
                                     self.gui_config.status_message_ms)
            return
        self.open_add_word()
        dialog = self.add_word_dialog
        dialog.ignore_box.setChecked(True)  # first: the takes are counted for it
        dialog.add_audio(clips)
        if not dialog.name_edit.text():  # a name to accept as it is: "not left"
            labels = list(dict.fromkeys(name.split(" at ")[0] for name, _ in clips))
            name = ""
            # As many of them as a name holds: five made it too long, the
            # name was left empty and Train said "the word needs a name".
            while labels and not name:
                name = dialog.free_name("not " + " or ".join(labels))
                labels.pop()
            dialog.name_edit.setText(name)

    def reload_user_words(self, _name: str = "") -> None:
        """Listen for the user words as stored now."""
        if self.session is not None:
            self.live.show_word_bars(self.session.reload_user_words())
            self._say_unheard_words()

    def _say_unheard_words(self) -> None:
        """Say so when the user's words are not listened for (the model
        streams no embeddings): only the engine's log said it."""
        unheard = self.session.unheard if self.session is not None else ()
        if unheard and self.banner.isHidden():  # a fault shown stays
            self.banner.show_message(
                f"Your words ({', '.join(unheard)}) are listened for with the {DEFAULT_MODEL} "
                f"model only: {self.model_combo.currentText()} does not stream its "
                "embeddings. Commands are heard as usual.", error=False)

    @QtCore.Slot(object)
    def _on_engine_error(self, failed: tuple) -> None:
        ticket, exc = failed
        if self._replaced(ticket):
            # A session stopped since (a model or device switch, a stop):
            # its error, queued before, must not stop the one after it.
            log.info("input failed on a session since replaced: %s", exc)
            return
        log.warning("input failed: %s", exc)
        self.stop_listening()
        self.refresh_devices()
        if isinstance(exc, DeviceError) and self.source_name is None:
            # A sound card: its stream ran in a child process that is gone
            # now; a fresh one can listen as soon as the device answers.
            # The window starts no PortAudio of its own (devices are listed
            # and takes played in children too); should one have been
            # started here all the same, its exit handler would abort at
            # exit now that its sound server went away (pa_jack.c Terminate
            # assertion), with nothing left to close.
            from kwsapp.audio.source import skip_portaudio_exit_handler

            skip_portaudio_exit_handler()
            self.device_watcher.watch(self.current_device())
            self.banner.show_message(f"The input stopped: {exc}. Listening again as soon as "
                                     "it is back; or pick another input device and press "
                                     "Space.")
            return
        self.banner.show_message(f"The input stopped: {exc}. Pick an input device "
                                 "(the list is refreshed) and press Space to listen again.")

    @QtCore.Slot()
    def _on_device_back(self) -> None:
        if self.listening or self._closed:
            return
        self._back = self.start_listening()  # said when it runs

    # ------------------------------------------------------------------ files
    def classify_files(self, paths: list[str]) -> None:
        """Queue files for the worker thread and show the Files tab."""
        if self.file_dispatch.classify(paths, self.model_spec or DEFAULT_MODEL, self.overrides()):
            self.tabs.setCurrentWidget(self.files)

    def open_files_dialog(self) -> None:
        paths = self.file_dispatch.ask_for_files(self)
        if paths:
            self.classify_files(paths)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        accept_drag(event)

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:  # noqa: N802
        accept_drag(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.classify_files(paths)

    # ------------------------------------------------------- export and about
    def current_table(self) -> Table:
        """The table of the tab in view: the history (Live) or the files."""
        return self.files if self.tabs.currentWidget() is self.files else self.live.history

    def export_dialog(self) -> None:
        """File > Export…: the current tab's table to a CSV file."""
        name = "kwsapp-files.csv" if self.current_table() is self.files else "kwsapp-history.csv"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export as CSV", name,
                                                        "CSV (*.csv);;All files (*)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> bool:
        """Write the current tab's table to ``path``; a failure is shown."""
        try:
            n = save_csv(path, self.current_table())
        except KwsError as exc:  # it names the file and the problem
            self.banner.show_message(f"{EXPORT_FAILED} {exc}")
            return False
        self.banner.clear_if(EXPORT_FAILED)  # an earlier export's failure is past
        self.status.show_message(f"exported {n} row{'s' * (n != 1)} to ", ms=self.gui_config
                                 .status_message_ms, path=str(path))
        return True

    def show_about(self) -> None:
        from kwsapp.gui.about import about_html

        QtWidgets.QMessageBox.about(self, "About kwsapp", about_html())

    # ---------------------------------------------------------------- closing
    def shutdown(self) -> None:
        """Stop the stream, the worker thread and save settings (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.device_watcher.cancel()
        self.device_lister.cancel()  # its child killed, its thread ended
        if self.add_word_dialog is not None:  # a take under way is not left recording
            self.add_word_dialog.close()
        self.stop_listening()
        self.runner.shutdown(SESSION_SHUTDOWN_S)  # a start in progress ends, then stops
        self.file_dispatch.shutdown()
        self.prefs.geometry = self.saveGeometry()
        self.prefs.save(self.store)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
