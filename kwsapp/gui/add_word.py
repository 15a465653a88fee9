"""The "Add word…" dialog: name a word, record (or drop) its takes, see and
replay each, drop and redo one, train with a progress bar; the words already
taught are listed, and can be removed, in the same dialog.

Recording runs a :class:`~kwsapp.userwords.record.TakeRecorder` on a source
from the window's source factory (the sound card, or whatever the tests
give), opened and closed by a :class:`~kwsapp.gui.live.SessionRunner` on a
thread of its own (a sound card takes a quarter of a second to open). It is
opened when Record is pressed, while the countdown runs; what it hears
before the countdown's end is dropped, and "say the word now" is shown once
the take's audio flows. A timer counts down, draws the level (of what the
input hears during the countdown too, though it is not kept) and has the
input closed when the take is full, or when it breaks the limits of an
:class:`~kwsapp.userwords.record.InputWatch` (as ``kwsapp enrol --record``
does: not open in ``record_open_s``, no audio in ``record_no_audio_s``),
the take then saying which device to leave. An open that never ends cannot
be interrupted: its runner is left to it (its daemon thread closes the
input should it open after all) and a new one opens the next take's input,
not waiting behind it. Dropped files are
decoded, and training runs, on worker threads whose results and progress
arrive through Qt signals: the dialog stays live while a long file is read.
Each take shows in a :class:`~kwsapp.gui.take_slot.TakeSlot`; the recorder
and the files' decoding are :mod:`kwsapp.gui.take_sources`'; the words
taught are a :class:`~kwsapp.gui.your_words.YourWords`, whose Retrain runs
here, on the training's worker thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from kwsapp.audio.portaudio_child import ClipPlayer
from kwsapp.config import SAMPLE_RATE_HZ, GuiConfig, UserWordsConfig
from kwsapp.errors import KwsError
from kwsapp.gui.labels import fit_to_width
from kwsapp.gui.live import SessionRunner
from kwsapp.gui.take_slot import TakeSlot
from kwsapp.gui.take_sources import open_recorder, read_takes
from kwsapp.gui.waveform_widget import LevelMeter
from kwsapp.gui.your_words import YourWords
from kwsapp.userwords.record import InputWatch
from kwsapp.userwords.takes import Take, check_take, check_takes, min_takes

log = logging.getLogger(__name__)


class _WorkerBridge(QtCore.QObject):
    """The worker threads' results, queued to the dialog's thread."""

    progress = QtCore.Signal(float, str)
    # (runner, ticket, TakeRecorder or None, Exception or None): the input
    # opened, or not (the runner too: the one that replaces a runner left to
    # an open that did not end counts its tickets from 1 again)
    recorder_started = QtCore.Signal(object)
    done = QtCore.Signal(object)
    retrained = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    files_read = QtCore.Signal(object, object, object)  # job, clips, problems
    played = QtCore.Signal(object)  # a take played (None), or why not (an Exception)


class AddWordDialog(QtWidgets.QDialog):
    """Teach a word, or remove one.

    Args:
        source_factory: ``device -> AudioSource`` (the window's).
        device: input device for recording.
        config: takes, augmentation and detector settings.
        gui_config: level meter settings.
        root: user words folder (None: ``$KWSAPP_HOME`` / platformdirs).
        countdown_ms: pause between pressing Record and the recording,
            shown as a countdown; the input opens meanwhile.
        embedder, pool: the embedding and negative pool (default: bundled).
    """

    word_added = QtCore.Signal(str)
    word_removed = QtCore.Signal(str)

    def __init__(self, source_factory: Callable[[Any], Any], device: Any = None,
                 config: UserWordsConfig | None = None, gui_config: GuiConfig | None = None,
                 root: Path | None = None, countdown_ms: int = 900, parent=None,
                 embedder: Any = None, pool: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add word")
        self.setAcceptDrops(True)
        self.config = config or UserWordsConfig()
        self.source_factory, self.device, self.root = source_factory, device, root
        self.countdown_ms = countdown_ms
        self._embedder, self._pool = embedder, pool
        self._recorder = None  # recording, its input open
        # (runner, ticket) of the take's input opening; and of the last open
        # asked for, until it ends (the take may be over: closed meanwhile).
        self._opening: tuple[SessionRunner, int] | None = None
        self._pending: tuple[SessionRunner, int, InputWatch] | None = None
        self._watch: InputWatch | None = None  # the take's input's limits
        self._recording_slot: int | None = None
        self._record_at = 0.0  # when the countdown ends (time.monotonic)
        self._said_now = False  # the take has started: "say the word now" is shown
        self.loudest_dbfs = float("-inf")  # of the level meter, this recording
        self._thread: threading.Thread | None = None
        # Dropped files being read: the thread and its cancel flag (which
        # also tells its result from a cancelled one's); drops waiting, and
        # what the drops before them gave (placed together, so that one
        # prompt names every file not used).
        self._reader: tuple[threading.Thread, threading.Event] | None = None
        self._files_waiting: list[list[str]] = []
        self._files_read: tuple[list, list] = ([], [])
        self.last_word = None
        self._error = False  # the prompt shows an error

        self.name_edit = QtWidgets.QLineEdit()
        self.name_edit.setPlaceholderText("the word's name, e.g. lights on")
        self.name_edit.setToolTip("What the word is called when it is heard (not a command "
                                  "name, not a word you already have)")
        self.ignore_box = QtWidgets.QCheckBox("Ignore it: no command fires on this word")
        self.ignore_box.setToolTip("For a word that sets off commands it is not (a name said "
                                   "often, a TV's catchphrase): it is never reported, and "
                                   "commands heard on it are dropped")
        self.ignore_box.toggled.connect(self._on_ignore_toggled)
        self.slots = [self._new_slot(i) for i in range(self.config.default_takes)]
        self.meter = LevelMeter(gui_config or GuiConfig())
        self.prompt = QtWidgets.QLabel(f"Record {self.config.default_takes} takes of the word "
                                       "(or drop audio files here), then train.")
        fit_to_width(self.prompt)  # it names the files not used, the name typed
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train a detector for the word from the takes (seconds)")
        self.train_button.clicked.connect(self.train)
        self.words = YourWords(root, self._embedding_and_pool)
        self.words.said.connect(self.say)
        self.words.removed.connect(self.word_removed)
        self.words.retrain_button.clicked.connect(self.retrain_selected)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)

        form = QtWidgets.QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("", self.ignore_box)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.prompt)
        # The takes scroll: in a fixed-height dialog a take's wrapped
        # message was squeezed over its waveform, and ten takes made the
        # dialog taller than a screen.
        takes = QtWidgets.QWidget()
        self._slots_layout = QtWidgets.QVBoxLayout(takes)
        self._slots_layout.setContentsMargins(0, 0, 0, 0)
        for slot in self.slots:
            self._slots_layout.addWidget(slot)
        self._slots_layout.addStretch(1)
        self.takes_area = QtWidgets.QScrollArea()
        self.takes_area.setWidget(takes)
        self.takes_area.setWidgetResizable(True)
        self.takes_area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.takes_area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay.addWidget(self.takes_area, 1)
        lay.addWidget(self.meter)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.train_button)
        lay.addLayout(row)
        lay.addWidget(self.words)
        self.words.buttons.addWidget(close)
        # The default takes without scrolling, within a 768-pixel screen's
        # 700 pixels under a title bar and a panel.
        self.resize(560, 680)

        self._timer = QtCore.QTimer(self, interval=30)
        self._timer.timeout.connect(self._tick)
        self._bridge = _WorkerBridge()
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self._bridge.files_read.connect(self._on_files_read, queued)
        self._bridge.progress.connect(self._on_progress, queued)
        self._bridge.done.connect(self._on_trained, queued)
        self._bridge.retrained.connect(self._on_retrained, queued)
        self._bridge.failed.connect(self._on_train_failed, queued)
        self._bridge.recorder_started.connect(self._on_recorder_started, queued)
        self._bridge.played.connect(self._on_played, queued)
        # Takes play through a fresh PortAudio in a child process (started
        # here, its start would hang the window on a sound server that
        # answers nobody), waited for on a thread of its own.
        self.player = ClipPlayer(self.config.play_answer_s, self._bridge.played.emit)
        self._runner = self._new_runner()
        self.words.refresh()

    def _new_slot(self, index: int) -> TakeSlot:
        """Take slot ``index``, its buttons connected to the dialog."""
        slot = TakeSlot(index)
        slot.record_clicked.connect(self.record_take)
        slot.play_clicked.connect(self.play_take)
        slot.drop_clicked.connect(self.drop_take)
        return slot

    def _new_runner(self) -> SessionRunner:
        """The runner that opens and closes the takes' inputs."""
        bridge = self._bridge  # what the runner's thread holds: not the dialog

        def started(*result: Any) -> None:
            bridge.recorder_started.emit((runner, *result))

        runner = SessionRunner(started, name="kwsapp-record")
        return runner

    def _leave_runner(self) -> None:
        """Leave the runner to an open that did not end in time: closed, it
        closes that input should it open after all, on its thread (a daemon,
        never joined: it holds neither the dialog nor the app's exit); the
        next take's input is opened by a new runner, not behind it."""
        self._runner.close()
        self._runner = self._new_runner()
        self._pending = None

    # ------------------------------------------------------------- takes
    @property
    def takes(self) -> list[Take]:
        return [s.take for s in self.slots if s.take is not None]

    @property
    def recording(self) -> bool:
        """A take is under way: counting down (its input opening meanwhile),
        waiting for its input's audio, or recording."""
        return self._recording_slot is not None

    @property
    def opening(self) -> bool:
        """The take's input is opening (on the runner's thread)."""
        return self._opening is not None

    @property
    def reading(self) -> bool:
        """Dropped files are being decoded (their takes not placed yet)."""
        return self._reader is not None

    def _enable_buttons(self) -> None:
        """Record and Train only while nothing else is under way (a take
        recorded or files read would land in a slot the other wanted)."""
        for slot in self.slots:
            slot.record_button.setEnabled(not self.recording and not self.reading)
        self.train_button.setEnabled(self._thread is None and not self.reading)

    def say(self, text: str, error: bool = False) -> None:
        self.prompt.setText(text)
        self._error = error
        self.prompt.setStyleSheet("color: #e07070;" if error else "")

    def record_take(self, index: int) -> None:
        """Count down, then record take ``index`` for ``config.record_s``.
        The input opens at once, during the countdown (it takes 0.25-0.5 s:
        opened at its end, the take began that much after "now", and a word
        said on cue lost its start); what it hears before the countdown's
        end is not kept."""
        if self.recording or self.reading or self._thread is not None:
            return
        self._recording_slot = index
        self._record_at = time.monotonic() + max(self.countdown_ms, 0) / 1000.0
        if self._pending is not None and self._pending[2].expired() is not None:
            # A take closed while its input opened, and that open has not
            # ended since: this take's must not wait behind it.
            self._leave_runner()
        self._watch = InputWatch(self.device, self.config)
        self._said_now = False
        self.loudest_dbfs = float("-inf")
        for slot in self.slots:
            slot.record_button.setEnabled(False)
        self._open_recorder()
        self._timer.start()
        self._tick()  # the countdown's first step (or that the input opens)

    def _open_recorder(self) -> None:
        """Have the runner open the input and start its recorder (dropping
        the audio until the countdown ends); the button says it is starting
        meanwhile."""
        index = self._recording_slot
        make = functools.partial(open_recorder, self.source_factory, self.device,
                                 self.config.record_s)
        runner = self._runner
        self._opening = (runner, runner.start(lambda _ticket: make()))
        self._pending = (*self._opening, self._watch)
        self.slots[index].show_starting(True)

    @QtCore.Slot(object)
    def _on_recorder_started(self, started: tuple) -> None:
        runner, ticket, recorder, exc = started
        if self._pending is not None and self._pending[:2] == (runner, ticket):
            self._pending = None  # that open has ended
        if (runner, ticket) != self._opening:
            # The take was closed or given up meanwhile: its runner closes it.
            return
        self._opening = None
        index = self._recording_slot
        self.slots[index].show_starting(False)
        if exc is not None:
            self._finish_recording()
            self.slots[index].set_take(None, f"cannot record: {exc}")
            self.say(f"Cannot record: {exc}", error=True)
            return
        self._recorder = recorder
        self._watch.opened(recorder)
        self._tick()  # the countdown over already: the take starts now

    def _tick(self) -> None:
        index, rec = self._recording_slot, self._recorder
        if index is None:
            return
        if rec is not None:
            error = getattr(rec.source, "error", None)
            if rec.done.is_set() or error is not None:
                self._take_ended(index, rec, error)
                return
        problem = self._watch.expired()  # not open, or no audio, in time
        if problem is not None:
            self._give_up(index, problem)
            return
        left = self._record_at - time.monotonic()
        if left > 0:  # counting down, the input opening or open (its audio dropped)
            count = max(1, int(np.ceil(3 * left / max(self.countdown_ms / 1000.0, 1e-3))))
            self.say(f"Take {index + 1}: get ready… {count}")
            if rec is not None:  # the input's level, not kept: the user sees it works
                self.meter.set_audio(rec.latest(0.05))
            return
        if rec is None:  # the countdown is over and the input not open yet
            self.say(f"Take {index + 1}: opening the input…")
            return
        rec.keep()  # the take starts here: what the input hears from now on
        if not self._said_now:
            if not rec.flowing.is_set():  # open, no audio yet: "now" when it comes
                self.say(f"Take {index + 1}: opening the input…")
                return
            self._said_now = True
            self.say(f"Take {index + 1}: say the word now.")
        self.meter.set_audio(rec.latest(0.05))
        self.loudest_dbfs = max(self.loudest_dbfs, self.meter.rms_db)

    def _take_ended(self, index: int, rec: Any, error: Exception | None) -> None:
        """The take is full, or its input failed: it is checked, or the
        failure said; the input is closed."""
        audio = rec.audio()  # full, or all there was: nothing is added after
        full = rec.done.is_set()
        self._finish_recording()
        if error is not None and not full:
            self.slots[index].set_take(None, f"the input failed: {error}")
            self.say(f"Take {index + 1} was not recorded: the input failed: {error}",
                     error=True)
            return
        self._accept(index, audio, f"take {index + 1}")

    def _give_up(self, index: int, problem: Exception) -> None:
        """The take's input did not open, or sent no audio, in time: the
        take is not recorded, the input closed (an open that has not ended
        is left to its runner) and the user told to pick another."""
        stuck = self._opening is not None
        self._finish_recording()
        if stuck:
            self._leave_runner()
        self.slots[index].set_take(None, str(problem))
        self.say(f"Take {index + 1} was not recorded: {problem}", error=True)

    def _finish_recording(self) -> None:
        """The take's end: its input closed (after it opened, when it is
        opening) on the runner's thread, which then ends."""
        self._timer.stop()
        self._runner.close()
        if self._opening is not None:
            self.slots[self._recording_slot].show_starting(False)
        self._recorder = self._opening = self._watch = None
        self._recording_slot = None
        self._said_now = False
        self._enable_buttons()

    def _accept(self, index: int, audio: np.ndarray, name: str) -> bool:
        try:
            take = check_take(audio, name, self.config)
        except KwsError as exc:
            self.slots[index].set_take(None, str(exc))
            self.say(f"{exc}. Record it again.", error=True)
            return False
        self.slots[index].set_take(take)
        self.say_takes_left()
        return True

    def say_takes_left(self) -> None:
        self.say(self._takes_left_text())

    def _takes_left_text(self) -> str:
        """How many takes are still to record, or that Train can start (a
        word to ignore needs fewer: one is enough)."""
        left = sum(s.take is None for s in self.slots)
        have, needed = len(self.takes), min_takes(self.config, ignore=True)
        if left and self.ignore_box.isChecked() and have >= needed:
            return f"{have} take(s) in, enough for a word to ignore: press Train (or record more)."
        return f"{left} more take(s) to record." if left else "All takes in: press Train."

    def _on_ignore_toggled(self) -> None:
        # Takes to count anew (a word to ignore needs fewer); an error stays.
        if (self.takes and not self.recording and not self.reading and self._thread is None
                and not self._error):
            self.say_takes_left()

    def drop_take(self, index: int) -> None:
        self.slots[index].set_take(None)
        self.say(f"Take {index + 1} dropped: record it again.")

    def play_take(self, index: int) -> None:
        """Play take ``index`` to the default output (the take playing
        stops); returns at once: a take that cannot be played is said when
        its player gives up (``UserWordsConfig.play_answer_s``)."""
        take = self.slots[index].take
        if take is None:
            return
        self.player.play(take.audio, SAMPLE_RATE_HZ)

    @QtCore.Slot(object)
    def _on_played(self, problem: Exception | None) -> None:
        if problem is not None:  # no output device, or a sound server that hangs
            self.say(f"Cannot play the take: {problem}", error=True)

    def add_files(self, paths: list[str]) -> None:
        """Use audio files as takes, in the empty slots (more slots when
        needed, up to twice the default). They are decoded on a worker
        thread and placed, as :meth:`add_audio` places clips, once all are
        read (:attr:`reading` until then; files dropped meanwhile are read
        next)."""
        paths = [str(p) for p in paths]
        if paths:
            self._files_waiting.append(paths)
        if self._reader is None and self._files_waiting:
            self._read_next()

    def _read_next(self) -> None:
        paths = self._files_waiting.pop(0)
        cancel = threading.Event()
        thread = threading.Thread(target=self._read_worker, args=(paths, cancel),
                                  name="kwsapp-read-takes", daemon=True)
        self._reader = (thread, cancel)
        self._enable_buttons()
        self.say(f"Reading {len(paths)} file(s)…")
        thread.start()

    def _read_worker(self, paths: list[str], cancel: threading.Event) -> None:
        clips, problems = read_takes(paths, self.config, cancel)
        self._bridge.files_read.emit(cancel, clips, problems)

    @QtCore.Slot(object, object, object)
    def _on_files_read(self, job: threading.Event, clips: list, problems: list) -> None:
        if self._reader is None or self._reader[1] is not job:
            return  # cancelled: the dialog was closed while they were read
        self._reader[0].join(1.0)
        self._reader = None
        self._files_read[0].extend(clips)
        self._files_read[1].extend(problems)
        if self._files_waiting:
            self._read_next()
            return
        (clips, problems), self._files_read = self._files_read, ([], [])
        self._enable_buttons()
        self.add_audio(clips, problems)

    def _stop_reading(self) -> None:
        """Forget the files being read and those waiting (the dialog is
        closed): none is placed later, and the prompt says so."""
        if self._reader is None:
            return
        self._reader[1].set()  # the worker stops after the file it is on
        self._reader = None
        self._files_waiting.clear()
        self._files_read = ([], [])
        self._enable_buttons()
        self.say("The dropped files were not used: the dialog was closed before they "
                 "were read. Drop them again.")

    def add_audio(self, clips: list[tuple[str, np.ndarray]], problems: list[str] = ()) -> None:
        """Use ``(name, 16 kHz audio)`` clips as takes, as :meth:`add_files`
        does files (the live history's "Ignore this word…"). The prompt ends
        saying every clip not used and why (``problems``: those that did not
        even load): each take's own message replaced the one before."""
        problems, unplaced = list(problems), 0
        for i, (name, audio) in enumerate(clips):
            # Not the slot being recorded: its take would replace this one.
            empty = [s for s in self.slots
                     if s.take is None and s.index != self._recording_slot]
            if not empty:
                if len(self.slots) >= 2 * self.config.default_takes:
                    unplaced = len(clips) - i
                    break
                slot = self._new_slot(len(self.slots))
                self._slots_layout.insertWidget(len(self.slots), slot)
                self.slots.append(slot)
                self._enable_buttons()  # the new slot's Record as the others'
                empty = [slot]
            if not self._accept(empty[0].index, audio, name):
                problems.append(empty[0].status.text())
        if not problems and not unplaced:
            return  # the last take's message says what is left to do
        said = [f"Not used: {'; '.join(problems)}."] if problems else []
        if unplaced:
            said.append(f"No room for {unplaced} more take(s): drop one first.")
        self.say(" ".join(said + [self._takes_left_text()]), error=True)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)

    # ------------------------------------------------------------ training
    def train(self) -> bool:
        """Check the name and takes, then train on a worker thread; returns
        whether training started."""
        from kwsapp.userwords.store import check_name

        if self._thread is not None or self.recording or self.reading:
            return False
        try:
            name = check_name(self.name_edit.text(), self.root,
                              remove_with="select it under Your words, then Remove word")
            check_takes(self.takes, self.config, self.ignore_box.isChecked())
        except KwsError as exc:
            self.say(str(exc), error=True)
            return False
        takes = self.takes
        self.train_button.setEnabled(False)
        self.progress.setValue(0)
        self.say(f"Training {name!r}…")
        self._thread = threading.Thread(target=self._train_worker,
                                        args=(name, takes, self.ignore_box.isChecked()),
                                        name="kwsapp-enrol", daemon=True)
        self._thread.start()
        return True

    def _embedding_and_pool(self) -> tuple[Any, Any]:
        from kwsapp.userwords.embedding import default_embedder, default_pool

        return self._embedder or default_embedder(), self._pool or default_pool()

    def _train_worker(self, name: str, takes: list[Take], ignore: bool = False) -> None:
        try:
            from kwsapp.userwords.enrol import enrol

            embedder, pool = self._embedding_and_pool()
            word = enrol(name, takes, embedder, pool, self.config, self.root,
                         progress=self._bridge.progress.emit,
                         embedding_id=getattr(embedder, "id", ""), ignore=ignore)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            log.exception("enrolment failed")
            self._bridge.failed.emit(str(exc))
            return
        self._bridge.done.emit(word)

    def retrain_selected(self) -> bool:
        """Train the selected word again from its kept takes on a worker
        thread (the takes being recorded stay); returns whether it started."""
        from kwsapp.userwords.store import find_word

        name = self.words.selected()
        if name is None:
            self.say("Select a word to retrain.", error=True)
            return False
        if self._thread is not None or self.recording:
            return False
        try:
            word = find_word(name, self.root)
        except KwsError as exc:
            self.say(str(exc), error=True)
            return False
        self.train_button.setEnabled(False)
        self.say(f"Retraining {word.name!r} from its takes…")
        self._thread = threading.Thread(target=self._retrain_worker, args=(word,),
                                        name="kwsapp-retrain", daemon=True)
        self._thread.start()
        return True

    def _retrain_worker(self, word: Any) -> None:
        try:
            from kwsapp.userwords.enrol import retrain

            embedder, pool = self._embedding_and_pool()
            new = retrain(word, embedder, pool, self.config, self.root,
                          embedding_id=getattr(embedder, "id", ""))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            log.exception("retraining failed")
            self._bridge.failed.emit(str(exc))
            return
        self._bridge.retrained.emit(new)

    @QtCore.Slot(object)
    def _on_retrained(self, word: Any) -> None:
        self._join()
        self.say(f"{word.name!r} retrained from its takes.")
        self.words.refresh()
        self.word_added.emit(word.name)  # the live view reloads its words

    @QtCore.Slot(float, str)
    def _on_progress(self, fraction: float, what: str) -> None:
        self.progress.setValue(int(round(100 * fraction)))
        self.progress.setFormat(f"%p%  {what}")

    @QtCore.Slot(object)
    def _on_trained(self, word: Any) -> None:
        self._join()
        self.last_word = word
        self.progress.setValue(100)
        secs = word.card.get("figures", {}).get("enrol_seconds", 0.0)
        if word.ignore:
            alike = " and ".join(map(repr, word.sounds_like()))
            self.say(f"{word.name!r} learnt in {secs:.1f} s: commands no longer fire on it."
                     + (f" It sounds like {alike}, so it vetoes only where it is sure of "
                        f"itself ({word.threshold:.2f}), to keep those commands." if alike else ""))
        else:
            self.say(f"{word.name!r} learnt in {secs:.1f} s: say it and watch the live view.")
        for slot in self.slots:
            slot.set_take(None)
        self.name_edit.clear()
        self.ignore_box.setChecked(False)
        self.words.refresh()
        self.word_added.emit(word.name)

    @QtCore.Slot(str)
    def _on_train_failed(self, message: str) -> None:
        self._join()
        self.say(f"Training failed: {message}", error=True)

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join(1.0)
        self._thread = None
        self._enable_buttons()

    @property
    def training(self) -> bool:
        return self._thread is not None

    # --------------------------------------------------------------- words
    def free_name(self, base: str) -> str:
        """``base``, or ``base 2``, ``base 3``… the first no word has yet."""
        from kwsapp.userwords.store import check_name

        for k in range(1, 100):
            name = base if k == 1 else f"{base} {k}"
            try:
                return check_name(name, self.root)
            except KwsError:
                continue
        return ""

    def _cancel(self) -> None:
        """The dialog is closed, or cancelled: the take under way is not
        recorded (its input closed), nor are the dropped files being read."""
        if self.recording:
            index = self._recording_slot
            self._finish_recording()
            self.say(f"Take {index + 1} was not recorded: the dialog was closed.")
        self._stop_reading()
        self.player.stop()

    def reject(self) -> None:
        # Escape: hides the dialog without a close event.
        self._cancel()
        super().reject()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self._cancel()
        super().closeEvent(event)
