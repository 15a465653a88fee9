"""The window opens, starts and stops its live session off the GUI thread
(:class:`~kwsapp.gui.live.SessionRunner`): a sound card takes a quarter of a
second to open (its capture child starts and answers) and the window froze
meanwhile, at every Listen, model, device or second-opinion change. These
tests use real windows and engines on sources replayed in real time, made
slow to open or to close on purpose; they check what happened, never how
long it took. The Files tab's worker, busy when the window closes, ends on
its own after the window is gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from gui_helpers import NotedSource, SlowSources, kwsapp_threads, windows_made

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from kwsapp.errors import DeviceError  # noqa: E402

WAIT_MS = 10000


def shown(action) -> str:
    """What the Listen action says in the menu and on its button: its text
    without the mnemonic's "&", which it must have (Alt+L, then its letter,
    from the keyboard; "● Listening" had none)."""
    from PySide6 import QtGui

    text = action.text()
    assert not QtGui.QKeySequence.mnemonic(text).isEmpty(), f"no mnemonic in {text!r}"
    return text.replace("&", "")


@pytest.fixture
def make_window(qtbot, tmp_path):
    with windows_made(tmp_path, autostart=False, source_name="test input") as make:
        yield make


def test_listen_opens_and_stop_closes_the_device_off_the_gui_thread(qtbot, make_window,
                                                                   tiny_model):
    """start_listening returns while the device is still opening (the button
    says so), and the session shows when it runs; stop_listening returns at
    once and the source is stopped on the session runner's thread."""
    sources = SlowSources(wait_s=5.0, open_at_once=False)
    window = make_window(tiny_model, sources)
    assert window.start_listening()
    assert window.starting and window.session is None  # the device is still opening
    assert window.listen_action.isChecked() and shown(window.listen_action) == "Starting…"
    assert window.controls.listen_button.text() == "Starting…"
    assert window.status_labels["device"].text() == "starting…"
    sources.gate.set()
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    assert not window.starting and shown(window.listen_action) == "● Listening"
    assert window.controls.listen_button.text() == "● Listening"
    assert sources.made[0].made_on == "kwsapp-session"
    assert window.session.source is sources.made[0] and window.session.running

    window.stop_listening()
    assert window.session is None and not window.listen_action.isChecked()
    assert shown(window.listen_action) == "Listen"
    qtbot.waitUntil(lambda: sources.made[0].stopped_on is not None, timeout=WAIT_MS)
    assert sources.made[0].stopped_on == "kwsapp-session"
    qtbot.waitUntil(lambda: kwsapp_threads() == ["kwsapp-session"], timeout=WAIT_MS)


def test_closing_while_the_device_opens_leaves_nothing_running(qtbot, make_window, tiny_model):
    """The window closed while its start is in progress: the start ends,
    its session is stopped at once, and no thread of it is left."""
    sources = SlowSources(wait_s=0.5, open_at_once=False)  # opens half a second later
    window = make_window(tiny_model, sources)
    window.start_listening()
    qtbot.waitUntil(lambda: bool(sources.devices), timeout=WAIT_MS)  # it is opening
    assert window.starting
    window.close()
    assert window.session is None and not window.starting
    assert len(sources.made) == 1 and sources.running() == []
    assert kwsapp_threads() == []


def test_rapid_listen_clicks_end_in_one_session_or_none(qtbot, make_window, tiny_model):
    """Listen clicked again and again while the device opens: the last
    click wins, no two sessions ever run, and each one started is stopped
    (starts stopped before they began are skipped: how many run depends on
    the timing)."""
    sources = SlowSources(wait_s=0.05, open_at_once=False)  # each open takes a while
    window = make_window(tiny_model, sources)
    listening = False
    for clicks in (7, 3, 4):  # from not listening: on, off, off
        for _ in range(clicks):
            window.listen_action.trigger()
        qtbot.waitUntil(lambda: not window.starting, timeout=WAIT_MS)
        listening ^= clicks % 2 == 1
        assert window.listen_action.isChecked() == listening
        assert (window.session is not None) == listening
        qtbot.waitUntil(lambda: len(sources.running()) == int(listening), timeout=WAIT_MS)
        if listening:
            assert sources.running() == [window.session.source]
        qtbot.wait(300)  # nothing further starts
        assert len(sources.running()) == int(listening)
    assert sources.most_at_once == 1
    qtbot.waitUntil(lambda: kwsapp_threads() == ["kwsapp-session"], timeout=WAIT_MS)


def test_changes_while_the_device_opens_are_what_it_listens_with(qtbot, make_window, tiny_model,
                                                                 tmp_path, monkeypatch):
    """A model, a device, the threshold or VAD chosen while a start is in
    progress: listening ends up on the last choices, in one session."""
    import shutil

    root = tmp_path / "models"
    for name in ("tiny_a", "tiny_b"):
        shutil.copytree(tiny_model, root / name)
    monkeypatch.setenv("KWSAPP_MODELS_DIR", str(root))
    sources = SlowSources(wait_s=5.0, open_at_once=False)
    window = make_window("tiny_a", sources)
    window.start_listening()
    window.model_combo.activated.emit(window.model_combo.findData("tiny_b"))
    window.controls.device_chosen.emit()
    window.threshold_slider.setValue(42)
    window.vad_combo.setCurrentIndex(3)
    assert window.starting and window.session is None
    sources.gate.set()
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    engine = window.session.engine
    assert engine.recognizer.path == root / "tiny_b"
    assert engine.config.smoothing.threshold == pytest.approx(0.42)
    assert engine.config.vad.aggressiveness == 3
    qtbot.waitUntil(lambda: len(sources.running()) == 1, timeout=WAIT_MS)
    assert sources.running() == [window.session.source]
    assert sources.most_at_once == 1


def test_a_model_chosen_loads_off_the_gui_thread_and_the_last_choice_wins(
        qtbot, make_window, tiny_model, tmp_path, monkeypatch):
    """A model picked in the chooser is loaded on the session runner's
    thread (an embed model took 60-120 ms on the GUI thread); picked twice
    in a row, the second is the one used; one that does not load is said
    and the model in use is kept."""
    import shutil

    from kwsapp.inference.recognizer import Recognizer

    root = tmp_path / "models"
    for name in ("tiny_a", "tiny_b", "tiny_c"):
        shutil.copytree(tiny_model, root / name)
    monkeypatch.setenv("KWSAPP_MODELS_DIR", str(root))
    window = make_window("tiny_a", SlowSources())
    window.start_listening()
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)

    loaded_on = []
    real_load = Recognizer.load.__func__

    def load(cls, spec=None):
        loaded_on.append((str(spec), threading.current_thread().name))
        return real_load(cls, spec)

    monkeypatch.setattr(Recognizer, "load", classmethod(load))
    window.model_combo.activated.emit(window.model_combo.findData("tiny_b"))
    window.model_combo.activated.emit(window.model_combo.findData("tiny_c"))
    qtbot.waitUntil(lambda: window.model_spec == "tiny_c" and window.session is not None,
                    timeout=WAIT_MS)
    assert loaded_on == [("tiny_b", "kwsapp-session"), ("tiny_c", "kwsapp-session")]
    assert window.session.engine.recognizer.path == root / "tiny_c"
    assert window.model_combo.currentData() == "tiny_c"

    (root / "tiny_b" / "card.json").write_text("{not json")
    window.model_combo.activated.emit(window.model_combo.findData("tiny_b"))
    qtbot.waitUntil(lambda: not window.banner.isHidden(), timeout=WAIT_MS)
    assert "Model tiny_b could not be loaded" in window.banner.text.text()
    assert window.model_spec == "tiny_c" and window.model_combo.currentData() == "tiny_c"
    assert window.session is not None and window.session.engine.recognizer.path == root / "tiny_c"


def reported(window) -> threading.Event:
    """Set on the engine's thread as soon as an engine error is reported to
    the window: it is queued to the GUI thread, which has not seen it yet."""
    from PySide6 import QtCore

    event = threading.Event()
    window.bridge.failed.connect(lambda *_: event.set(), QtCore.Qt.ConnectionType.DirectConnection)
    return event


def test_an_error_of_the_session_being_replaced_leaves_the_new_one_listening(
        qtbot, make_window, tiny_model):
    """The input fails as the user switches device (or model): the old
    session's error reaches the window after the switch started the new
    session. It is the old session's: the new one listens on (the error
    stopped it, and the window said the input had stopped)."""
    sources = SlowSources()
    window = make_window(tiny_model, sources)
    window.start_listening()
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    failed = reported(window)
    sources.made[0].error = DeviceError("the old input failed")
    assert failed.wait(WAIT_MS / 1000)
    window.controls.device_chosen.emit()  # stops the old session, starts a new one
    qtbot.waitUntil(lambda: not window.starting, timeout=WAIT_MS)
    assert window.session is not None, window.banner.text.text()
    assert window.banner.isHidden() and window.listen_action.isChecked()
    qtbot.waitUntil(lambda: sources.made[0].stopped_on is not None, timeout=WAIT_MS)
    assert sources.running() == [window.session.source] == [sources.made[1]]
    assert window.session.running


class FailingSource(NotedSource):
    """A source that fails as it starts, and returns from its start only
    once the engine has reported that: the window hears of the error before
    it hears that the start ended."""

    reported: threading.Event

    def start(self, on_block) -> None:
        super().start(on_block)
        self.error = DeviceError("the input failed at once")
        self.reported.wait(WAIT_MS / 1000)


def test_an_error_of_the_session_starting_stops_it_and_is_said(qtbot, make_window, tiny_model):
    """An error of the session being started, reported before its start
    is: the window stops that start and says why (not dropped as an
    error of no session)."""
    sources = SlowSources(kind=FailingSource)
    window = make_window(tiny_model, sources)
    FailingSource.reported = reported(window)
    window.start_listening()
    qtbot.waitUntil(lambda: not window.banner.isHidden(), timeout=WAIT_MS)
    assert "the input failed at once" in window.banner.text.text()
    qtbot.waitUntil(lambda: sources.made and sources.running() == [], timeout=WAIT_MS)
    qtbot.wait(100)  # the start's end, queued after the error, changes nothing
    assert window.session is None and not window.starting
    assert not window.listen_action.isChecked()


def test_a_window_closed_while_the_files_worker_loads_does_not_abort(tiny_model, tmp_path):
    """The window closed, and deleted, while the Files tab's worker loads
    its classifier (the recogniser takes 1-3 s and cannot be interrupted):
    its thread runs on after the window and ends when the load does. Its
    QThread was deleted with the window, running, and Qt aborted the
    process: so this runs in a subprocess (tests/gui_files_close_run.py)."""
    import soundfile as sf

    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros(16000, np.float32), 16000)
    script = Path(__file__).resolve().parent / "gui_files_close_run.py"
    proc = subprocess.run([sys.executable, str(script), "--model", str(tiny_model),
                           "--file", str(clip)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Destroyed while thread" not in proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"loading_at_close": True, "running_after_close": True,
                      "window_deleted": True, "thread_ended": True, "threads_left": []}


def test_what_a_replaced_session_queued_is_dropped(qtbot, make_window, tiny_model):
    """A session replaced by a switch (device, model) may have queued a
    command, probabilities or user-word scores before it stopped: they
    arrive after the switch. They are dropped: the command's audio would be
    read from the new session's ring, and an old model's probabilities
    drawn over the new one's bars. What the current session sends is
    shown."""
    from kwsapp.inference.engine import CommandEvent

    sources = SlowSources()
    window = make_window(tiny_model, sources)
    window.start_listening()
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    old = window.session.ticket
    window.controls.device_chosen.emit()  # stops the old session, starts a new one
    qtbot.waitUntil(lambda: not window.starting and window.session is not None,
                    timeout=WAIT_MS)
    assert window.session.ticket != old

    def said(label: str, ticket: int) -> None:  # as an engine's thread queues it
        window.bridge.on_event(CommandEvent(label, 0.9, 1.0, 1.4, 1.5, 0.1), ticket=ticket)

    said("left", old)
    said("right", window.session.ticket)  # queued after it: once it is shown, both were seen
    qtbot.waitUntil(lambda: "right" in [r[2] for r in window.history.rows()], timeout=WAIT_MS)
    assert "left" not in [r[2] for r in window.history.rows()]
