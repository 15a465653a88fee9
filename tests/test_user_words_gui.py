"""The Add word dialog (pytest-qt, offscreen, real widgets): takes recorded
from a source, dropped as files, dropped and redone; training with progress;
words removed. The JACK test records through real PortAudio and checks the
live window then hears the word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import REPO_ROOT, HandedSource, StuckSource
from test_user_words import recordings, take_of, wake_dir  # noqa: F401 - fixture

pytest.importorskip("PySide6")
pytestmark = pytest.mark.gui

from gui_helpers import NotedSource, SlowSources, grab_pixels, kwsapp_threads  # noqa: E402
from kwsapp.audio.io import load_audio  # noqa: E402
from kwsapp.audio.source import FileSource  # noqa: E402
from kwsapp.errors import DeviceError  # noqa: E402


@pytest.fixture
def dialog(qtbot, tmp_path, wake_dir):  # noqa: F811
    from kwsapp.gui.add_word import AddWordDialog

    clips = [load_audio(p) for p in recordings(wake_dir, "snowboy", 6)]
    played = []

    def source(_device):
        """Each recording plays the next real take in real time."""
        audio = clips[len(played) % len(clips)]
        played.append(audio)
        return FileSource(np.concatenate([audio, np.zeros(16000, np.float32)]),
                          block_size=320, realtime=True)

    d = AddWordDialog(source, countdown_ms=300, root=tmp_path / "home")
    qtbot.addWidget(d)
    d.show()
    yield d
    d.close()


def add_files(qtbot, dialog, paths) -> None:
    """Files given to the dialog as a drop gives them, decoded on its
    worker thread: back once their takes are placed."""
    dialog.add_files([str(p) for p in paths])
    qtbot.waitUntil(lambda: not dialog.reading, timeout=20000)


def drop(dialog, paths) -> None:
    """A real drop event of ``paths`` on the dialog."""
    from PySide6 import QtCore, QtGui

    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    args = (QtCore.Qt.DropAction.CopyAction, mime, QtCore.Qt.MouseButton.LeftButton,
            QtCore.Qt.KeyboardModifier.NoModifier)
    # Qt delivers a drop only where the drag entered and was accepted.
    enter = QtGui.QDragEnterEvent(QtCore.QPoint(20, 20), *args)
    QtCore.QCoreApplication.sendEvent(dialog, enter)
    assert enter.isAccepted()
    event = QtGui.QDropEvent(QtCore.QPointF(20, 20), *args)
    QtCore.QCoreApplication.sendEvent(dialog, event)
    assert event.isAccepted()


def reads_recorded(monkeypatch, gate: threading.Event | None = None) -> list:
    """The threads the dialog decodes take files on: the real decoder,
    wrapped to note its thread (and, given ``gate``, to wait for it first,
    as a slow disk would)."""
    import kwsapp.gui.take_sources as take_sources

    threads, real = [], take_sources.read_take

    def read_take(*args, **kwargs):
        threads.append(threading.current_thread())
        if gate is not None:
            assert gate.wait(20.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(take_sources, "read_take", read_take)
    return threads


def test_dropped_files_are_decoded_off_the_gui_thread(qtbot, dialog, wake_dir,  # noqa: F811
                                                      monkeypatch):
    """A drop returns at once (the window stays live while a long file is
    read): its files are decoded on a worker thread, then become takes;
    Record and Train wait for them."""
    threads = reads_recorded(monkeypatch)
    files = recordings(wake_dir, "alexa", 3)
    drop(dialog, files)
    assert dialog.takes == []  # the drop is back before its files are decoded
    assert dialog.reading and "Reading 3 file(s)" in dialog.prompt.text()
    assert not dialog.train_button.isEnabled()
    assert not dialog.slots[4].record_button.isEnabled()
    qtbot.waitUntil(lambda: len(dialog.takes) == 3, timeout=20000)
    assert not dialog.reading and dialog.prompt.text() == "2 more take(s) to record."
    assert len(threads) == 3
    assert all(t is not threading.current_thread() for t in threads), threads
    assert dialog.train_button.isEnabled() and dialog.slots[4].record_button.isEnabled()


def test_closing_the_dialog_while_files_are_decoded(qtbot, dialog, wake_dir,  # noqa: F811
                                                   monkeypatch):
    """Closed while its dropped files are read, the dialog places none of
    them later, says they were not used, and takes the next drop as ever."""
    gate = threading.Event()
    threads = reads_recorded(monkeypatch, gate)
    files = recordings(wake_dir, "alexa", 3)
    drop(dialog, files)
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=5000)  # the worker is on a file
    dialog.close()
    assert not dialog.reading
    gate.set()
    threads[0].join(20.0)
    assert not threads[0].is_alive() and len(threads) == 1  # it stopped after that file
    qtbot.wait(100)  # its result, had it been queued, would have arrived
    assert dialog.takes == [] and "were not used" in dialog.prompt.text()
    assert dialog.train_button.isEnabled() and dialog.slots[0].record_button.isEnabled()

    dialog.show()
    add_files(qtbot, dialog, files)
    assert len(dialog.takes) == 3


def test_records_drops_redoes_trains_and_removes(qtbot, dialog, tmp_path):
    blank = grab_pixels(dialog.slots[0].plot).std()
    for i in range(len(dialog.slots)):
        dialog.record_take(i)
        assert dialog.recording
        qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
        assert dialog.loudest_dbfs > -40.0  # the level meter showed the word
        assert dialog.slots[i].take is not None, dialog.slots[i].status.text()
        assert dialog.slots[i].drawn_points() > 0
    assert grab_pixels(dialog.slots[0].plot).std() > blank + 1.0  # the waveform is drawn

    dialog.drop_take(2)  # drop one and redo it
    assert dialog.slots[2].take is None and len(dialog.takes) == len(dialog.slots) - 1
    dialog.record_take(2)
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    assert dialog.slots[2].take is not None

    dialog.name_edit.setText("yes")  # a bundled command: refused, nothing trained
    assert not dialog.train()
    assert "bundled command" in dialog.prompt.text()

    dialog.name_edit.setText("Snow Boy")
    values = []
    dialog.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.word_added, timeout=60000) as added:
        assert dialog.train()
    assert added.args == ["snow boy"]
    assert values and values[-1] == 100 and len(set(values)) > 3  # progress moved
    assert dialog.words.names() == ["snow boy"]
    assert (tmp_path / "home" / "words" / "snow_boy" / "card.json").is_file()

    # A word removed behind the dialog's back (`kwsapp words --remove` in a
    # terminal; here its folder moved aside): the dialog says it was not
    # removed, and why, not "removed", and the list is read again.
    folder = tmp_path / "home" / "words" / "snow_boy"
    dialog.words.words_list.setCurrentRow(0)
    folder.rename(tmp_path / "aside")
    with qtbot.assertNotEmitted(dialog.word_removed):
        dialog.words.remove_selected()
    assert "not removed" in dialog.prompt.text() and "snow boy" in dialog.prompt.text()
    assert dialog.words.names() == []

    (tmp_path / "aside").rename(folder)
    dialog.words.refresh()
    dialog.words.words_list.setCurrentRow(0)
    with qtbot.waitSignal(dialog.word_removed, timeout=5000):
        dialog.words.remove_selected()
    assert dialog.words.names() == [] and "removed" in dialog.prompt.text()
    assert not folder.exists()


def slow_dialog(qtbot, tmp_path, wake_dir, open_at_once: bool = False):  # noqa: F811
    """A dialog (no countdown) whose input opens when its ``sources.gate``
    is set, each source playing a real take in real time; ``(dialog,
    sources)``."""
    from kwsapp.gui.add_word import AddWordDialog

    take = np.concatenate([load_audio(recordings(wake_dir, "snowboy", 1)[0]),
                           np.zeros(16000, np.float32)])
    sources = SlowSources(wait_s=20.0, open_at_once=open_at_once,
                          kind=lambda: NotedSource(take))
    dialog = AddWordDialog(sources, countdown_ms=0, root=tmp_path / "home")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, sources


def test_record_opens_and_closes_the_input_off_the_gui_thread(qtbot, tmp_path,
                                                              wake_dir):  # noqa: F811
    """Record returns while the input is still opening (a sound card takes a
    quarter of a second: the dialog froze), its button saying so; another
    click meanwhile opens nothing more; the take is recorded once the input
    runs. The input is opened and closed on the dialog's own thread, which
    ends after the take."""
    dialog, sources = slow_dialog(qtbot, tmp_path, wake_dir)
    button = dialog.slots[0].record_button
    button.click()
    assert dialog.recording and dialog.opening  # back before the input opened
    assert button.text() == "Starting…" and not button.isEnabled()
    assert dialog.prompt.text() == "Take 1: opening the input…"
    button.click()  # the second click, on this take or another: nothing
    dialog.record_take(0)
    dialog.record_take(1)
    sources.gate.set()
    # "Now" once the input is open and its audio flows.
    qtbot.waitUntil(lambda: dialog.prompt.text() == "Take 1: say the word now.", timeout=10000)
    assert dialog.recording and not dialog.opening
    assert button.text() == "● Record" and not button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    assert dialog.slots[0].take is not None, dialog.slots[0].status.text()
    assert dialog.slots[1].take is None and len(sources.made) == 1
    assert button.isEnabled() and dialog.slots[1].record_button.isEnabled()
    assert sources.made[0].made_on == "kwsapp-record"
    qtbot.waitUntil(lambda: sources.running() == [], timeout=10000)
    assert sources.made[0].stopped_on == "kwsapp-record"
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)


@pytest.mark.parametrize("how", ["Close", "Escape"])
def test_closing_the_dialog_while_the_input_opens(qtbot, tmp_path, wake_dir,  # noqa: F811
                                                  how):
    """Closed (or cancelled with Escape) while the input opens, the dialog
    records nothing and says so; the input is closed as soon as it is open,
    on the dialog's thread, which ends. Opened again at once, it records as
    ever, the old input closed before the new one opens."""
    from PySide6 import QtCore

    dialog, sources = slow_dialog(qtbot, tmp_path, wake_dir)
    dialog.record_take(0)
    qtbot.waitUntil(lambda: len(sources.devices) == 1, timeout=10000)  # it is opening
    if how == "Close":
        dialog.close()
    else:
        qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)
    assert not dialog.isVisible() and not dialog.recording and not dialog.opening
    assert dialog.prompt.text() == "Take 1 was not recorded: the dialog was closed."
    assert dialog.slots[0].record_button.text() == "● Record"
    assert dialog.slots[0].record_button.isEnabled()

    dialog.show()
    dialog.record_take(0)  # while the first input is still opening
    sources.gate.set()
    qtbot.waitUntil(lambda: not dialog.recording, timeout=20000)
    assert dialog.slots[0].take is not None, dialog.slots[0].status.text()
    assert len(sources.made) == 2 and sources.most_at_once == 1
    assert sources.made[0].stopped_on == "kwsapp-record"
    qtbot.waitUntil(lambda: sources.running() == [], timeout=10000)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)


def handed_dialog(qtbot, tmp_path, countdown_ms: int, config=None):
    """A dialog whose inputs are :class:`HandedSource` s (the test says what
    each hears, and when), on ``config`` (default: the defaults);
    ``(dialog, sources)``."""
    from kwsapp.gui.add_word import AddWordDialog

    sources: list[HandedSource] = []

    def make(_device):
        sources.append(HandedSource())
        return sources[-1]

    dialog = AddWordDialog(make, countdown_ms=countdown_ms, config=config,
                           root=tmp_path / "home")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, sources


def test_the_input_opens_during_the_countdown_and_its_audio_is_dropped(qtbot, tmp_path,
                                                                       wake_dir):  # noqa: F811
    """Record opens the input at once, not at the countdown's end (it takes
    0.25-0.5 s: "say the word now" came that long before the take began,
    and a word said on cue lost its start); what it hears before the
    countdown's end is not in the take, which starts there."""
    dialog, sources = handed_dialog(qtbot, tmp_path, countdown_ms=2000)
    word = take_of(wake_dir, dialog.config.record_s)
    noise = 0.3 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    dialog.slots[0].record_button.click()
    qtbot.waitUntil(lambda: bool(sources) and sources[0].started, timeout=10000)
    assert dialog.prompt.text().startswith("Take 1: get ready…")  # still counting down
    sources[0].hand(noise)  # heard during the countdown (on this, the dialog's thread)
    assert dialog.prompt.text().startswith("Take 1: get ready…")
    qtbot.waitUntil(lambda: dialog.prompt.text() == "Take 1: say the word now.", timeout=10000)
    sources[0].hand(word)
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    take = dialog.slots[0].take
    assert take is not None, dialog.slots[0].status.text()
    assert take.audio.size == word.size and np.array_equal(take.audio, word)  # no noise
    assert len(sources) == 1
    qtbot.waitUntil(lambda: sources[0].stopped, timeout=10000)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)


def test_the_meter_shows_the_input_during_the_countdown(qtbot, tmp_path,
                                                       wake_dir):  # noqa: F811
    """The level meter moves with what the input hears during the countdown
    (the user sees the microphone works before speaking), and that audio is
    still not in the take, which holds only what came after "now"."""
    dialog, sources = handed_dialog(qtbot, tmp_path, countdown_ms=3000)
    word = take_of(wake_dir, dialog.config.record_s)
    loud = 0.5 * np.random.default_rng(1).standard_normal(8000).astype(np.float32)
    floor = dialog.meter.floor_db
    dialog.slots[0].record_button.click()
    qtbot.waitUntil(lambda: bool(sources) and sources[0].started, timeout=10000)
    assert dialog.meter.rms_db == floor  # nothing heard yet
    sources[0].hand(loud)
    qtbot.waitUntil(lambda: dialog.meter.rms_db > -20.0, timeout=10000)
    assert dialog.prompt.text().startswith("Take 1: get ready…")  # still counting down
    assert dialog.loudest_dbfs == float("-inf")  # the take's loudest: not this
    qtbot.waitUntil(lambda: dialog.prompt.text() == "Take 1: say the word now.", timeout=10000)
    sources[0].hand(word)
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    take = dialog.slots[0].take
    assert take is not None, dialog.slots[0].status.text()
    assert np.array_equal(take.audio, word)  # none of the loud countdown audio
    qtbot.waitUntil(lambda: sources[0].stopped, timeout=10000)


def test_now_is_said_once_the_inputs_audio_flows(qtbot, tmp_path, wake_dir):  # noqa: F811
    """An input open at the countdown's end but not delivering yet: the
    prompt says it is opening, and "say the word now" comes with its first
    audio, which is the take's start."""
    dialog, sources = handed_dialog(qtbot, tmp_path, countdown_ms=0)
    word = take_of(wake_dir, dialog.config.record_s)
    dialog.record_take(0)
    qtbot.waitUntil(lambda: not dialog.opening, timeout=10000)  # open, no audio yet
    assert sources[0].started and dialog.recording
    qtbot.wait(100)  # the dialog's timer looks meanwhile
    assert dialog.prompt.text() == "Take 1: opening the input…"
    sources[0].hand(word[:320])
    qtbot.waitUntil(lambda: dialog.prompt.text() == "Take 1: say the word now.", timeout=10000)
    sources[0].hand(word[320:])
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    take = dialog.slots[0].take
    assert take is not None and np.array_equal(take.audio, word), dialog.slots[0].status.text()


@pytest.mark.parametrize("how", ["Close", "Escape"])
def test_closing_the_dialog_during_the_countdown_closes_its_input(qtbot, tmp_path, how):
    """Closed (or cancelled) during the countdown, the input already open:
    nothing is recorded, it says so, and the input is closed on the
    dialog's thread, which ends."""
    from PySide6 import QtCore

    dialog, sources = handed_dialog(qtbot, tmp_path, countdown_ms=5000)
    dialog.record_take(1)
    qtbot.waitUntil(lambda: bool(sources) and sources[0].started, timeout=10000)
    assert dialog.prompt.text().startswith("Take 2: get ready…")  # still counting down
    if how == "Close":
        dialog.close()
    else:
        qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)
    assert not dialog.isVisible() and not dialog.recording
    assert dialog.prompt.text() == "Take 2 was not recorded: the dialog was closed."
    qtbot.waitUntil(lambda: sources[0].stopped, timeout=10000)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)
    assert dialog.slots[1].take is None and dialog.slots[1].record_button.isEnabled()


def test_an_input_that_sends_no_audio_is_closed_and_said(qtbot, tmp_path,
                                                         wake_dir):  # noqa: F811
    """An input that opens but never sends audio (nor reports an error):
    after ``record_no_audio_s`` the take is given up, its input closed on
    the dialog's thread, and the prompt says so (it stayed on "opening the
    input…" for ever); Record then works again."""
    from dataclasses import replace

    from kwsapp.config import UserWordsConfig

    config = replace(UserWordsConfig(), record_no_audio_s=0.3)
    dialog, sources = handed_dialog(qtbot, tmp_path, countdown_ms=0, config=config)
    dialog.record_take(1)
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    said = "the default input device sent no audio in 0.3 s; pick another input device"
    assert dialog.prompt.text() == f"Take 2 was not recorded: {said}"
    assert dialog.slots[1].status.text() == said
    assert dialog.slots[1].take is None
    qtbot.waitUntil(lambda: sources[0].stopped, timeout=10000)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)
    button = dialog.slots[1].record_button
    assert button.text() == "● Record" and button.isEnabled()
    assert all(slot.record_button.isEnabled() for slot in dialog.slots)

    word = take_of(wake_dir, config.record_s)  # the next Record, on an input that sends
    button.click()
    # Open and the take begun (its audio kept), not only started: the source
    # starts on the opening thread before the dialog hears of it, and audio
    # handed in between is dropped as the countdown's.
    qtbot.waitUntil(lambda: len(sources) == 2 and sources[1].started and not dialog.opening,
                    timeout=10000)
    sources[1].hand(word)
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    take = dialog.slots[1].take
    assert take is not None and np.array_equal(take.audio, word), dialog.slots[1].status.text()
    assert sources[0].on_block is None  # the first input heard nothing more


def stuck_dialog(qtbot, tmp_path, config, stuck: dict):
    """A dialog (no countdown) on ``config`` recording from "mic 9"; a
    device named in ``stuck`` (name -> release event) opens when its event
    is set (a :class:`StuckSource`), any other at once (a HandedSource);
    ``(dialog, sources)``."""
    from kwsapp.gui.add_word import AddWordDialog

    sources: list = []

    def make(device):
        gate = stuck.get(device)
        sources.append(HandedSource() if gate is None else StuckSource(gate))
        return sources[-1]

    dialog = AddWordDialog(make, device="mic 9", countdown_ms=0, config=config,
                           root=tmp_path / "home")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, sources


def test_an_input_that_never_opens_is_left_and_another_records(qtbot, tmp_path,
                                                              wake_dir):  # noqa: F811
    """An input whose open never ends (simulated: a StuckSource, whose start
    blocks until the test releases it; no real device hangs on demand):
    past ``record_open_s`` the take is given up, the prompt naming the
    device and saying to pick another (it said "opening the input…" for
    ever). The dialog stays usable: another device chosen (as the window's
    chooser sets it), Record records from it without waiting behind the
    stuck open, even one slow to open itself while the stuck one ends; the
    input that opened late is closed on its own thread, which ends, and
    changes nothing in the dialog; Escape closes it."""
    from dataclasses import replace

    from PySide6 import QtCore

    from kwsapp.config import UserWordsConfig

    config = replace(UserWordsConfig(), record_open_s=0.3)
    never, slow = threading.Event(), threading.Event()
    dialog, sources = stuck_dialog(qtbot, tmp_path, config, {"mic 9": never, "mic 2": slow})
    try:
        dialog.record_take(1)
        qtbot.waitUntil(lambda: not dialog.recording, timeout=20000)
        said = "input device 'mic 9' did not open in 0.3 s; pick another input device"
        assert dialog.prompt.text() == f"Take 2 was not recorded: {said}"
        assert dialog.slots[1].status.text() == said and dialog.slots[1].take is None
        assert dialog.slots[1].record_button.text() == "● Record"
        assert all(slot.record_button.isEnabled() for slot in dialog.slots)
        assert sources[0].opening.is_set() and not sources[0].started

        dialog.device = "mic 2"  # slow, not stuck: it opens once the stuck one has
        dialog.slots[1].record_button.click()
        qtbot.waitUntil(lambda: len(sources) == 2 and sources[1].opening.is_set(),
                        timeout=10000)  # not behind the stuck open
        assert dialog.recording and dialog.opening
        never.set()  # the stuck open ends now, late: its runner closes what it opened
        qtbot.waitUntil(lambda: sources[0].stopped, timeout=10000)
        # Its runner reported the open before stopping it: that report is
        # queued to this thread; it arrives here and nothing of it is taken.
        qtbot.wait(100)
        assert sources[0].stopped_on == "kwsapp-record" and dialog.opening
        slow.set()
        qtbot.waitUntil(lambda: not dialog.opening, timeout=10000)  # open, the take begun
        word = take_of(wake_dir, config.record_s)
        sources[1].hand(word)
        qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
        take = dialog.slots[1].take
        assert take is not None and np.array_equal(take.audio, word), \
            dialog.slots[1].status.text()
        qtbot.waitUntil(lambda: sources[1].stopped, timeout=10000)
        qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)
        assert len(sources) == 2

        qtbot.keyClick(dialog, QtCore.Qt.Key.Key_Escape)
        assert not dialog.isVisible() and not dialog.recording
    finally:
        never.set()
        slow.set()


def test_a_take_closed_while_its_input_hangs_does_not_hold_the_next(qtbot, tmp_path,
                                                                   wake_dir):  # noqa: F811
    """Closed while its input's open hangs (simulated: a StuckSource, whose
    start blocks until the test releases it), the dialog says the take was
    not recorded; opened again once that open is past ``record_open_s``,
    with another device chosen, it records from that one at once instead of
    queueing behind the stuck open (and then blaming the new device)."""
    from dataclasses import replace

    from kwsapp.config import UserWordsConfig

    config = replace(UserWordsConfig(), record_open_s=0.3)
    never = threading.Event()
    dialog, sources = stuck_dialog(qtbot, tmp_path, config, {"mic 9": never})
    try:
        dialog.record_take(0)
        qtbot.waitUntil(lambda: bool(sources) and sources[0].opening.is_set(), timeout=10000)
        dialog.close()
        assert dialog.prompt.text() == "Take 1 was not recorded: the dialog was closed."
        qtbot.wait(500)  # longer than record_open_s: that open is past its limit

        dialog.show()
        dialog.device = "mic 2"
        dialog.record_take(0)
        qtbot.waitUntil(lambda: len(sources) == 2 and dialog.recording and not dialog.opening,
                        timeout=10000)  # open, the take begun
        word = take_of(wake_dir, config.record_s)
        sources[1].hand(word)
        qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
        take = dialog.slots[0].take
        assert take is not None and np.array_equal(take.audio, word), \
            dialog.slots[0].status.text()
        assert not sources[0].started  # still stuck
    finally:
        never.set()
    qtbot.waitUntil(lambda: sources[0].stopped, timeout=10000)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)


def test_a_window_closed_while_inputs_hang_opening_still_exits(tmp_path, tiny_model):
    """The app ends though its Add word dialog's inputs never open
    (simulated: a source whose open blocks for ever; tests/add_word_stuck_run.py):
    one take given up on it, the next closed with the window while its open
    hangs; the stuck threads are left, not joined, and the program ends as
    Python programs do, with exit code 0."""
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "add_word_stuck_run.py"),
                           "--model", str(tiny_model), "--settings", str(tmp_path / "k.ini")],
                          cwd=REPO_ROOT, env=dict(os.environ, KWSAPP_HOME=str(tmp_path / "home")),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["given_up"], result
    assert result["prompt"] == ("Take 1 was not recorded: the default input device did not "
                                "open in 0.3 s; pick another input device"), result
    assert result["opening_again"], result
    assert result["closed_prompt"] == "Take 2 was not recorded: the dialog was closed.", result
    # Both opens were still stuck when the program ended: left, not waited for.
    assert result["threads_left"].count("kwsapp-record") == 2, result


def test_an_input_that_cannot_open_is_said(qtbot, tmp_path):
    """An input device that fails to open: the take says why, and the
    dialog too, as before; Record can be pressed again."""
    from kwsapp.gui.add_word import AddWordDialog

    def missing(device):
        raise DeviceError(f"input device {device!r} not found")

    dialog = AddWordDialog(missing, device="mic 9", countdown_ms=0, root=tmp_path / "home")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.record_take(2)
    qtbot.waitUntil(lambda: not dialog.recording, timeout=10000)
    assert dialog.slots[2].status.text() == "cannot record: input device 'mic 9' not found"
    assert dialog.prompt.text() == "Cannot record: input device 'mic 9' not found"
    assert dialog.slots[2].record_button.text() == "● Record"
    assert all(slot.record_button.isEnabled() for slot in dialog.slots)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=10000)


def test_dropped_files_become_takes_and_bad_ones_say_why(qtbot, dialog, wake_dir,  # noqa: F811
                                                         tmp_path):
    import soundfile as sf

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    files = [str(p) for p in recordings(wake_dir, "alexa", 3)]
    add_files(qtbot, dialog, [*files, str(silent)])
    assert len(dialog.takes) == 3
    assert "silent" in dialog.prompt.text()
    assert "silent" in dialog.slots[3].status.text()

    dialog.name_edit.setText("alexa")
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 8, skip=3)])
    assert len(dialog.slots) == 2 * dialog.config.default_takes  # more slots, to a limit
    assert "No room" in dialog.prompt.text()


def test_files_not_used_are_all_named_after_the_good_ones(qtbot, dialog, wake_dir,  # noqa: F811
                                                         tmp_path):
    """Files dropped before good ones (unreadable, a folder, a silent take)
    are each named with why, after the good ones filled slots: every take's
    message replaced the one before, so nothing said they were not used."""
    import soundfile as sf

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    folder = tmp_path / "takes"
    folder.mkdir()
    long = tmp_path / "an hour.wav"  # 12 s stands in: refused by its length alone
    sf.write(long, np.zeros(16000 * 12, np.float32), 16000)
    add_files(qtbot, dialog, [str(corrupt), str(folder), str(silent), str(long),
                      *map(str, recordings(wake_dir, "alexa", 2))])
    assert len(dialog.takes) == 2
    said = dialog.prompt.text()
    assert said.startswith("Not used: corrupt.wav: not a readable audio file"), said
    assert "takes: is a folder" in said and "silent.wav: the take is silent" in said
    assert "an hour.wav: 12.0 s is too long for one take" in said
    assert said.endswith("3 more take(s) to record.")
    assert dialog.slots[2].take is None


def test_a_takes_long_message_is_not_drawn_over_its_waveform(qtbot, dialog, wake_dir,  # noqa: F811
                                                             tmp_path):
    """A refused take's two-line reason sits under its waveform, not over
    it, and ten takes scroll instead of making the dialog taller than a
    screen (in a fixed-height dialog the takes were squeezed)."""
    import soundfile as sf

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    add_files(qtbot, dialog, [str(silent)])
    qtbot.wait(50)  # laid out
    slot = dialog.slots[0]
    assert "silent" in slot.status.text()
    assert slot.status.height() >= slot.status.heightForWidth(slot.status.width())  # every line
    assert slot.status.geometry().top() >= slot.plot.geometry().bottom()
    height = dialog.height()
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 10)])
    qtbot.wait(50)
    assert len(dialog.slots) == 10 and dialog.height() == height


def test_the_dialog_fits_a_768_pixel_screen(qtbot, dialog):
    """Opened, and at its smallest, the dialog fits a 768-pixel screen
    (700 pixels left under a title bar and a panel; it opened 770 tall),
    with its five takes in view, not scrolled."""
    qtbot.wait(50)  # laid out
    assert dialog.height() <= 700
    assert dialog.sizeHint().height() <= 700 and dialog.minimumSizeHint().height() <= 700
    assert len(dialog.slots) == 5 and dialog.takes_area.verticalScrollBar().maximum() == 0


def test_long_names_do_not_widen_the_dialog(qtbot, tmp_path):
    """A 200-character name typed (or pasted), or a file with a long name
    and no space dropped: the prompt held it on one line and the dialog
    grew as wide (1,452 pixels on an 800-pixel screen, its buttons off the
    edge). It keeps its width and the prompt wraps; the name is shortened
    in the message. A name taken says how to remove the word here (it gave
    the command line's way)."""
    from kwsapp.gui.add_word import AddWordDialog

    d = AddWordDialog(lambda _device: None, root=tmp_path / "home")
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    width = d.width()
    d.name_edit.setText("x" * 200)
    assert not d.train()
    said = d.prompt.text()
    assert said == f"{'x' * 32 + '…'!r} is 200 characters long: names are at most 32"
    assert d.minimumSizeHint().width() < width and d.width() == width
    long_file = tmp_path / ("y" * 160 + ".wav")
    long_file.write_text("not audio")
    add_files(qtbot, d, [long_file])
    assert long_file.name in d.prompt.text() and "not a readable audio file" in d.prompt.text()
    assert d.minimumSizeHint().width() < width and d.width() == width
    # Every line shown, once the layout has run (a pass of the event loop
    # after the text changed: under load it had not yet when asked at once).
    qtbot.waitUntil(lambda: d.prompt.height() >= d.prompt.heightForWidth(d.prompt.width()),
                    timeout=5000)
    (tmp_path / "home" / "words" / "lights").mkdir(parents=True)
    (tmp_path / "home" / "words" / "lights" / "card.json").write_text("{}")
    d.name_edit.setText("Lights")
    assert not d.train()
    assert d.prompt.text() == ("'lights' is already taken; remove it first (select it under "
                               "Your words, then Remove word) or pick another name")
    d.close()


def test_a_word_to_ignore_is_trained_as_one_and_listed_so(qtbot, dialog, wake_dir,  # noqa: F811
                                                          tmp_path):
    """The dialog's "Ignore it" box: the word is stored with the ignore
    role (from one take, which a word to ignore may be), listed as ignored,
    the prompt says commands no longer fire on it, and the box is cleared
    for the next word."""
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 1)])
    dialog.name_edit.setText("alexa")
    dialog.ignore_box.setChecked(True)
    with qtbot.waitSignal(dialog.word_added, timeout=60000):
        assert dialog.train()
    card = json.loads((tmp_path / "home" / "words" / "alexa" / "card.json").read_text())
    assert card["role"] == "ignore"
    assert "ignored" in dialog.words.words_list.item(0).text()
    assert "no longer fire" in dialog.prompt.text()
    assert not dialog.ignore_box.isChecked()


def test_the_prompt_counts_takes_for_a_word_to_ignore(qtbot, dialog, wake_dir):  # noqa: F811
    """One take is enough for a word to ignore: with "Ignore it" ticked the
    prompt says Train can start, not that more takes are to be recorded."""
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 1)])
    assert dialog.prompt.text() == "4 more take(s) to record."
    dialog.ignore_box.setChecked(True)
    assert "enough for a word to ignore: press Train" in dialog.prompt.text()
    dialog.ignore_box.setChecked(False)
    assert dialog.prompt.text() == "4 more take(s) to record."
    dialog.ignore_box.setChecked(True)
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 1, skip=1)])
    assert dialog.prompt.text().startswith("2 take(s) in, enough for a word to ignore")


def test_a_word_to_ignore_that_sounds_like_a_command_says_so(qtbot, dialog, data_dir,
                                                            tmp_path):
    """A word to ignore taught from a take of "stop" would veto others'
    "stop" at the usual level: the prompt names the command and the level
    it vetoes at instead (the card's threshold, raised by enrol)."""
    take = sorted((data_dir / "stop").glob("*.wav"))[0]
    add_files(qtbot, dialog, [str(take)])
    dialog.name_edit.setText("halt")
    dialog.ignore_box.setChecked(True)
    with qtbot.waitSignal(dialog.word_added, timeout=60000):
        assert dialog.train()
    card = json.loads((tmp_path / "home" / "words" / "halt" / "card.json").read_text())
    assert card["threshold"] > dialog.config.ignore_threshold
    said = dialog.prompt.text()
    assert "sounds like" in said and "'stop'" in said.split("sounds like")[1], said
    assert f"({card['threshold']:.2f})" in dialog.prompt.text()
    assert f"vetoes at {card['threshold']:.2f}" in dialog.words.words_list.item(0).text()


def test_a_word_made_for_another_model_is_marked_and_retrained(qtbot, dialog, wake_dir,  # noqa: F811
                                                                tmp_path):
    """A stored word whose card names another embedding (as after an update)
    is marked in the list; Retrain trains it again from its kept takes, the
    takes being recorded stay, and the live view is told (word_added)."""
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 3)])
    dialog.name_edit.setText("alexa")
    with qtbot.waitSignal(dialog.word_added, timeout=60000):
        assert dialog.train()
    path = tmp_path / "home" / "words" / "alexa" / "card.json"
    card = json.loads(path.read_text())
    current = card["embedding"]
    path.write_text(json.dumps({**card, "embedding": "embed/embedding.tflite:000000000000"}))
    dialog.words.refresh()
    assert "Retrain" in dialog.words.words_list.item(0).text()

    # A take in progress.
    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "snowboy", 1)])
    assert not dialog.retrain_selected()  # nothing selected
    dialog.words.words_list.setCurrentRow(0)
    with qtbot.waitSignal(dialog.word_added, timeout=60000) as added:
        assert dialog.retrain_selected()
    assert added.args == ["alexa"]
    assert json.loads(path.read_text())["embedding"] == current
    assert "Retrain" not in dialog.words.words_list.item(0).text()
    assert "retrained" in dialog.prompt.text() and len(dialog.takes) == 1


def test_words_a_model_cannot_hear_are_said_in_the_window(qtbot, dialog, wake_dir,  # noqa: F811
                                                         tmp_path, monkeypatch, tiny_model):
    """Listening on a model that streams no embeddings (cnn, wavception,
    here the tiny one), the user's words are not listened for: the window
    says so (only the log did, and the words seemed not to work)."""
    from gui_helpers import temp_settings
    from kwsapp.gui.main_window import MainWindow

    add_files(qtbot, dialog, [str(p) for p in recordings(wake_dir, "alexa", 3)])
    dialog.name_edit.setText("alexa")
    with qtbot.waitSignal(dialog.word_added, timeout=60000):
        assert dialog.train()
    monkeypatch.setenv("KWSAPP_HOME", str(tmp_path / "home"))
    window = MainWindow(settings=temp_settings(tmp_path / "kwsapp.ini"), model=str(tiny_model),
                        source_factory=lambda _d: FileSource(np.zeros(16000 * 30, np.float32),
                                                             320, realtime=True))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    assert not window.banner.isHidden()
    said = window.banner.text.text()
    assert said.startswith("Your words (alexa) are listened for with the embed model only")
    assert "tiny_model does not stream" in said
    assert window.word_bars.isHidden()
    window.close()


@pytest.mark.jack
def test_dialog_on_a_jack_server_that_stopped_answering(frozen_jack, tmp_path):
    """Real parts (tests/add_word_frozen_jack_run.py): the dialog's take on
    the window's sound-card source while the JACK server answers nobody
    (SIGSTOP): PortAudio's start hangs in the take's capture child, and the
    take is given up past ``record_open_s``, saying so and to pick another
    input (it said "opening the input…" for 20 s, the capture child's own
    limit, and before that for ever). Once the server answers again, Record
    records a take (the dummy input's silence, said to be silent), and the
    hung child, answered at last, is closed; no thread of the dialog stays."""
    open_s = 5.0  # the take after it opens within it even on a busy machine
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "add_word_frozen_jack_run.py"),
                           "--jackd-pid", str(frozen_jack.pid), "--open-s", str(open_s)],
                          cwd=REPO_ROOT, env=dict(os.environ, **frozen_jack.env,
                                                  KWSAPP_HOME=str(tmp_path / "home")),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    said = f"the default input device did not open in {open_s:g} s; pick another input device"
    assert result["given_up"], result
    assert result["prompt"] == f"Take 1 was not recorded: {said}", result
    assert result["status"] == said and result["record_enabled"], result
    assert result["hung_children"] == 1, result  # hung, not ended: it was left
    assert result["recorded"], result
    assert "the take is silent" in result["status_again"], result  # a whole take came
    assert result["children_gone"] and result["threads_gone"], result
    assert result["threads_left"] == [], result


@pytest.mark.jack
def test_dialog_records_from_jack_and_the_live_view_hears_the_word(jack_server, tmp_path,
                                                                   wake_dir):  # noqa: F811
    takes = recordings(wake_dir, "snowboy", 5)
    probe = recordings(wake_dir, "snowboy", 1, skip=40)[0]
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "gui_words_jack_run.py"),
                           "--name", "snowboy", "--takes", *map(str, takes),
                           "--probe", str(probe)],
                          cwd=REPO_ROOT, env=dict(os.environ, **jack_server,
                                                  KWSAPP_HOME=str(tmp_path / "home")),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["started"], result
    assert all("speech" in s for s in result["slots"]), result["slots"]
    assert all(n > 0 for n in result["drawn"]), result
    assert result["trained"] and result["words"] == ["snowboy"], result
    assert result["word_bars"] == ["snowboy"], result
    assert result["heard"], result
    assert result["threads_left"] == []
