"""The main window with the real engine, offscreen.

Audio comes from real clips of the shared data replayed in real time through
the engine's FileSource (the JACK path of the sound card is the engine's
tests' business). Plumbing tests use the structural ``tiny_model`` fixture;
the test that a spoken word is *recognized* uses the bundled default model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import real_clip, sure_clips, without_root_file_access
from gui_helpers import SlowSources, grab_pixels, kwsapp_threads, temp_settings, windows_made

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from PySide6 import QtCore, QtGui  # noqa: E402

from kwsapp.audio.io import load_audio  # noqa: E402
from kwsapp.audio.source import FileSource  # noqa: E402
from kwsapp.config import Config  # noqa: E402
from kwsapp.errors import DeviceError  # noqa: E402
from kwsapp.inference.engine import CommandEvent  # noqa: E402

WAIT_MS = 15000  # for the first command of a few seconds of real-time replay


def words_audio(data_dir, labels, gap_s: float = 0.6, index: int = 0,
                model=None) -> np.ndarray:
    """Real clips of ``labels`` (the ``index``-th of each; with ``model``,
    the first that model is sure of: conftest.sure_clips) with silence
    around them, 16 kHz float32."""
    gap = np.zeros(int(gap_s * 16000), np.float32)
    parts = [gap]
    for label in labels:
        clip = sure_clips(model, data_dir, label)[0] if model else real_clip(data_dir, label, index)
        parts += [load_audio(clip), gap]
    return np.concatenate(parts)


def replay(audio: np.ndarray):
    """A source factory: every device plays ``audio`` in real time."""
    return lambda _device: FileSource(audio, block_size=320, realtime=True)


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.is_alive() and t.name.startswith("kwsapp-")]


@pytest.fixture
def make_window(qtbot, tmp_path):
    with windows_made(tmp_path) as make:
        yield make


def test_live_commands_reach_result_history_and_spectrogram(qtbot, make_window, tiny_model,
                                                            data_dir):
    window = make_window(tiny_model, replay(words_audio(data_dir, ["yes", "stop"])))
    blank = grab_pixels(window.spectrogram).std()
    qtbot.waitUntil(lambda: bool(window.history.rows()), timeout=WAIT_MS)
    newest = window.history.rows()[0]
    assert window.result.text == newest[2]
    assert newest[2] in window.recognizer.labels
    assert window.frames_drawn > 10
    assert grab_pixels(window.spectrogram).std() > blank + 1.0
    assert np.abs(window.waveform.wave_points()).max() > 0.01
    assert window.bars.values.max() > 0.0  # window probabilities arrived
    assert window.listen_action.isChecked()

    threads = engine_threads()
    assert "kwsapp-pipeline" in threads and "kwsapp-inference" in threads
    window.close()  # stops the stream and joins (Engine.stop(timeout=1.0))
    assert window.session is None and not window.listen_action.isChecked()
    assert engine_threads() == []
    assert window.file_thread.isFinished()


def test_bundled_model_recognizes_a_real_word(qtbot, make_window, bundled_model_dir,
                                              data_dir):
    window = make_window(bundled_model_dir, replay(words_audio(data_dir, ["yes"], 0.8)))
    qtbot.waitUntil(lambda: bool(window.history.rows()), timeout=WAIT_MS)
    assert window.result.text == "yes"
    assert window.history.rows()[0][2] == "yes"


def test_the_second_opinion_switch(qtbot, make_window, bundled_model_dir, tiny_model,
                                   data_dir, tmp_path):
    """The bundled card sets the recogniser's levels: the switch shows it on
    and the engine runs it; switched off, listening restarts on the head
    alone and the choice is remembered; a card without levels greys the
    switch out and says why."""
    from kwsapp.inference.verifier import model_dir

    if model_dir() is None:
        pytest.skip("the Moonshine recogniser is not installed (pip install '.[verify]')")
    window = make_window(bundled_model_dir, replay(words_audio(data_dir, ["yes"] * 8, 0.8)))
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    assert window.verify_check.isEnabled() and window.verify_check.isChecked()
    assert window.session.engine.config.verify.active
    first = window.session
    window.verify_check.setChecked(False)  # listening restarts (on the session runner)
    qtbot.waitUntil(lambda: window.session is not None and window.session is not first,
                    timeout=5000)
    assert not window.session.engine.config.verify.active
    assert window.overrides().verify is False  # dropped files too
    window.close()
    assert temp_settings(tmp_path / "kwsapp.ini").value("model/verify") == "false"

    again = make_window(bundled_model_dir, autostart=False)
    assert again.verify_check.isEnabled() and not again.verify_check.isChecked()
    assert again.load_model(str(tiny_model))
    assert not again.verify_check.isEnabled()
    assert "sets no levels" in again.verify_check.toolTip()


def test_history_rows_become_takes_of_a_word_to_ignore(qtbot, make_window, bundled_model_dir,
                                                      data_dir, tmp_path, monkeypatch):
    """"Ignore this word…" on selected history rows: the Add word dialog
    opens with the audio each command was heard on as takes (speech found
    in each) and its "Ignore it" box ticked; with nothing selected it says
    what to do."""
    monkeypatch.setenv("KWSAPP_HOME", str(tmp_path / "home"))
    window = make_window(bundled_model_dir, replay(words_audio(
        data_dir, ["yes", "go"], 0.8, model=bundled_model_dir)))
    qtbot.waitUntil(lambda: len(window.history.rows()) == 2, timeout=WAIT_MS)
    window.ignore_selected()
    assert window.add_word_dialog is None  # nothing selected: nothing opened
    # ... and says so for a while, in the place of the input's state (it
    # replaced the state for good, or for half a second while listening).
    assert window.status.message.text().startswith("Select the commands to ignore")
    assert window.status_labels["device"].isHidden()
    window.history.selectAll()
    window.ignore_action.trigger()
    dialog = window.add_word_dialog
    assert dialog is not None and dialog.isVisible() and dialog.ignore_box.isChecked()
    assert [t.name for t in dialog.takes] == ["yes at " + window.history.rows()[1][1] + " s",
                                              "go at " + window.history.rows()[0][1] + " s"]
    assert all(0.1 < t.speech_s < 1.0 for t in dialog.takes)
    assert dialog.name_edit.text() == "not yes or go"  # a free name, ready to train
    assert "enough for a word to ignore: press Train" in dialog.prompt.text()
    assert dialog.free_name("not yes") == "not yes"


def test_ignoring_many_commands_still_gets_a_name(qtbot, make_window, tiny_model, tmp_path,
                                                  monkeypatch):
    """"Ignore this word…" on commands of five labels: the name made of them
    all is longer than a word's name may be, and the name was left empty
    (Train then said "the word needs a name"); it names as many as fit."""
    monkeypatch.setenv("KWSAPP_HOME", str(tmp_path / "home"))
    labels = ["yes", "no", "left", "right", "down"]
    window = make_window(tiny_model, replay(np.zeros(16000 * 30, np.float32)))
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.session.engine.ring.total_written > 16000 * 6,
                    timeout=WAIT_MS)  # the ring holds the commands' audio
    for i, label in enumerate(labels):  # as the engine's thread sends them
        window.bridge.on_event(CommandEvent(label, 0.9, 0.5 + i, 1.4 + i, 1.5 + i, 0.1),
                               ticket=window.session.ticket)
    qtbot.waitUntil(lambda: len(window.history.rows()) == 5, timeout=WAIT_MS)
    assert [row[2] for row in window.history.rows()] == labels[::-1]
    window.history.selectAll()
    window.ignore_action.trigger()
    assert window.add_word_dialog.name_edit.text() == "not yes or no or left or right"


def models_dir_with(tmp_path, monkeypatch, model, names):
    """A bundled-models folder holding copies of ``model`` under ``names``."""
    root = tmp_path / "models"
    for name in names:
        shutil.copytree(model, root / name)
    monkeypatch.setenv("KWSAPP_MODELS_DIR", str(root))
    return root


def test_controls_change_what_the_engine_uses(qtbot, make_window, tiny_model, data_dir,
                                              tmp_path, monkeypatch):
    root = models_dir_with(tmp_path, monkeypatch, tiny_model, ["tiny_a", "tiny_b"])
    audio = np.zeros(16000 * 30, np.float32)  # long enough to stay running
    window = make_window("tiny_a", replay(audio))
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    engine = window.session.engine
    assert [window.model_combo.itemText(i) for i in range(window.model_combo.count())] == \
        ["tiny_a", "tiny_b", "Open model…"]

    window.threshold_slider.setValue(35)
    assert engine.config.smoothing.threshold == pytest.approx(0.35)
    assert engine.smoother.config.threshold == pytest.approx(0.35)
    window.vad_combo.setCurrentIndex(3)
    assert engine.config.vad.aggressiveness == 3

    window.model_combo.activated.emit(window.model_combo.findData("tiny_b"))
    qtbot.waitUntil(lambda: window.model_spec == "tiny_b" and window.session is not None,
                    timeout=5000)  # loaded and listening anew (the session runner)
    engine = window.session.engine  # listening anew, on the new card
    assert engine.recognizer.path == root / "tiny_b"
    assert window.model_spec == "tiny_b"
    assert engine.config.smoothing.threshold == pytest.approx(0.35)  # the user's, kept
    assert engine.config.vad.aggressiveness == 3

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_text("{not json")
    assert not window.load_model(str(broken))
    assert not window.banner.isHidden() and "could not be loaded" in window.banner.text.text()
    assert window.model_spec == "tiny_b" and engine.recognizer.path == root / "tiny_b"
    assert window.model_combo.currentData() == "tiny_b"

    # Space stops and starts listening.
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)
    assert window.session is None and not window.listening
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)
    assert window.listening
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)


def test_space_goes_to_a_focused_list_or_check_box(qtbot, make_window, tiny_model, data_dir):
    """Space on a focused list opens it (and on a check box ticks it)
    instead of stopping listening: the window's Space shortcut took it, so
    the keyboard could not use them. Elsewhere Space still toggles
    listening (the test above)."""
    window = make_window(tiny_model, replay(words_audio(data_dir, ["yes"])))
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    combo = window.vad_combo
    combo.setFocus()
    qtbot.keyClick(combo, QtCore.Qt.Key.Key_Space)
    assert window.listening and window.session is not None
    assert combo.view().isVisible()  # its list opened
    combo.hidePopup()


def test_model_folders_that_are_not_models_are_said_and_the_model_kept(qtbot, make_window,
                                                                        tiny_model, tmp_path,
                                                                        monkeypatch):
    """ "Open model…" on a folder with no card, a corrupt card, a card whose
    model.tflite is missing, or a word of the user's (which said "missing
    labels, sample_rate_hz, window_ms, input"): each is named with its
    problem and the model in use is kept; a folder of a bundled model's
    name is listed apart from it (two "tiny_a" rows could not be told
    apart), and a bundled model is chosen back."""
    models_dir_with(tmp_path, monkeypatch, tiny_model, ["tiny_a", "tiny_b"])
    folders = {name: tmp_path / "picked" / name for name in
               ("empty", "corrupt", "no_tflite", "lights", "tiny_a")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["corrupt"] / "card.json").write_text('{"labels": [')
    shutil.copy(tiny_model / "card.json", folders["no_tflite"])
    # What enrol writes to a word's card (the fields the loader tells it by).
    (folders["lights"] / "card.json").write_text(
        '{"format_version": 1, "kind": "user_word", "role": "word", "name": "lights"}')
    shutil.copytree(tiny_model, folders["tiny_a"], dirs_exist_ok=True)
    window = make_window("tiny_a", autostart=False)

    def choose(folder: Path) -> str:
        window.choose_model(str(folder))  # as Open model… does, on the session runner
        qtbot.waitUntil(lambda: window._model_wanted is None, timeout=WAIT_MS)
        return window.banner.text.text() if not window.banner.isHidden() else ""

    expected = {"empty": "not a model artifact (no card.json)",
                "corrupt": "card.json: unreadable card",
                "no_tflite": "model.tflite: model file missing",
                "lights": "a word of your own ('lights'), not a model"}
    for name, problem in expected.items():
        said = choose(folders[name])
        assert said.startswith(f"Model {folders[name]} could not be loaded: "), said
        assert problem in said and said.endswith("Still using tiny_a."), said
        assert window.model_spec == "tiny_a" and window.model_combo.currentText() == "tiny_a"
    assert choose(folders["tiny_a"]) == ""
    assert window.model_spec == str(folders["tiny_a"])
    assert window.model_combo.currentText() == "picked/tiny_a"
    window.model_combo.activated.emit(window.model_combo.findData("tiny_b"))
    qtbot.waitUntil(lambda: window.model_spec == "tiny_b", timeout=WAIT_MS)
    assert window.banner.isHidden() and window.model_combo.currentText() == "tiny_b"


def test_the_vad_choice_marks_the_models_own(qtbot, make_window, tiny_model, tmp_path,
                                             monkeypatch):
    """The VAD choice marks as "default" the mode the model's card sets
    (the runtime's where it sets none): "2 · default" was marked whatever
    the card said (the embed model's is 1), next to the 1 it used."""
    import json

    root = models_dir_with(tmp_path, monkeypatch, tiny_model, ["tiny_a", "tiny_b"])
    card = json.loads((root / "tiny_b" / "card.json").read_text())
    card["vad"] = {"aggressiveness": 1}
    (root / "tiny_b" / "card.json").write_text(json.dumps(card))
    window = make_window("tiny_a", autostart=False)
    combo = window.vad_combo
    default = Config().vad.aggressiveness
    assert [combo.itemText(i).endswith(" · default") for i in range(4)] == [
        i == default for i in range(4)]
    assert combo.currentIndex() == default
    assert window.load_model("tiny_b")
    assert [combo.itemText(i) for i in range(4)] == ["0 · keeps most", "1 · default", "2",
                                                     "3 · strictest"]
    assert combo.currentIndex() == 1


def test_switching_models_while_listening_uses_the_new_card(qtbot, make_window, tiny_model,
                                                            tmp_path, monkeypatch):
    """The engine takes the chosen model's whole card (its smoothing, its
    per-class thresholds, its VAD hangover), not only its network: swapped
    into the running engine, the model kept the previous card's."""
    import json

    root = models_dir_with(tmp_path, monkeypatch, tiny_model, ["tiny_a", "tiny_b"])
    card = json.loads((root / "tiny_b" / "card.json").read_text())
    card.update(smoothing={"average_window_ms": 400.0, "refractory_ms": 700.0},
                thresholds={"left": 0.8}, vad={"hangover_ms": 650.0})
    (root / "tiny_b" / "card.json").write_text(json.dumps(card))
    window = make_window("tiny_a", replay(np.zeros(16000 * 30, np.float32)))
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    assert window.session.engine.config.smoothing.average_window_ms != 400.0

    window.model_combo.activated.emit(window.model_combo.findData("tiny_b"))
    qtbot.waitUntil(lambda: window.model_spec == "tiny_b" and window.session is not None,
                    timeout=5000)  # loaded and listening anew (the session runner)
    engine = window.session.engine
    assert engine.recognizer.path == root / "tiny_b"
    assert window.listen_action.isChecked() and engine.is_running
    assert engine.smoother.config.average_window_ms == 400.0
    assert engine.smoother.config.refractory_ms == 700.0
    assert dict(engine.smoother.config.class_offsets) == {"left": pytest.approx(0.3)}
    assert engine.config.vad.hangover_ms == 650.0
    assert engine.config.verify.active == window.verify_check.isChecked()


def test_settings_are_written_and_restored(qtbot, make_window, tiny_model, tmp_path,
                                           monkeypatch):
    models_dir_with(tmp_path, monkeypatch, tiny_model, ["tiny_a", "tiny_b"])
    first = make_window("tiny_b", autostart=False)
    first.threshold_slider.setValue(42)
    first.vad_combo.setCurrentIndex(3)
    first.resize(900, 640)
    first.close()
    store = temp_settings(tmp_path / "kwsapp.ini")
    assert store.value("model/spec") == "tiny_b"
    assert float(store.value("model/threshold")) == pytest.approx(0.42)

    from kwsapp.gui.main_window import MainWindow
    second = MainWindow(settings=store, autostart=False)
    second.close()
    assert second.model_spec == "tiny_b"
    assert second.threshold == pytest.approx(0.42)
    assert second.vad_combo.currentIndex() == 3
    assert len(store.value("window/geometry")) > 0
    assert second.height() == 640


@pytest.mark.parametrize("threshold, vad, verify", [("5.0", "9", "maybe"), ("nan", "-1", ""),
                                                    ("0.001", "4", "yes")])
def test_remembered_values_the_window_cannot_use_are_the_cards(qtbot, make_window, tiny_model,
                                                               tmp_path, threshold, vad, verify):
    """A settings file edited by hand (or by another version): a threshold of
    5 or NaN stopped the window opening (a traceback from runtime_settings),
    a VAD mode of 9 left the VAD choice blank and listening failed with
    webrtcvad's "set_mode returned NULL". Such values are not chosen: the
    card's hold, and the window listens."""
    store = temp_settings(tmp_path / "kwsapp.ini")
    for key, value in (("model/threshold", threshold), ("vad/aggressiveness", vad),
                       ("model/verify", verify)):
        store.setValue(key, value)
    store.sync()
    window = make_window(tiny_model, replay(np.zeros(16000 * 30, np.float32)))
    card = window.recognizer.card.raw
    assert window.threshold == pytest.approx(card["threshold"])
    assert window.vad_combo.currentIndex() == Config().vad.aggressiveness  # the card sets none
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    assert window.banner.isHidden(), window.banner.text.text()
    assert window.session.engine.config.vad.aggressiveness == window.vad_combo.currentIndex()


def test_the_first_window_fits_the_screen(qtbot, make_window, tiny_model):
    """At the first run (no size remembered) the window opens within the
    screen's free area: it opened 1180x760 whatever the screen (offscreen's
    is 800x800; a 1366x768 laptop's panel hid its bottom)."""
    window = make_window(tiny_model, autostart=False)
    free = window.screen().availableGeometry()
    assert window.width() <= free.width() and window.height() <= free.height()


def test_the_controls_take_two_rows_in_a_narrow_window(qtbot, make_window, tiny_model):
    """Half of a 1920-pixel screen: the controls stack in two rows instead of
    holding the window at one row's width (1,157 px); wide, one row. Either
    way no control overlaps another or is cut at the window's edge."""
    window = make_window(tiny_model, autostart=False)
    controls = window.controls
    shown = [controls.listen_button, controls.device_combo, controls.model_combo,
             controls.threshold_slider, controls.vad_combo, controls.verify_check,
             window.add_word_button]

    def rects() -> list:
        return [QtCore.QRect(w.mapTo(window, QtCore.QPoint(0, 0)), w.size()) for w in shown]

    def laid_out(width: int) -> list:
        window.resize(width, 700)
        qtbot.waitUntil(lambda: window.width() == width, timeout=2000)
        QtCore.QCoreApplication.processEvents()
        boxes = rects()
        for i, a in enumerate(boxes):
            assert a.right() < window.width() and a.width() > 0, (width, shown[i])
            for j in range(i + 1, len(boxes)):
                assert not a.intersects(boxes[j]), (width, shown[i], shown[j])
        return boxes

    wide = laid_out(1600)
    assert not controls.stacked and abs(wide[0].center().y() - wide[5].center().y()) < 8
    narrow = laid_out(940)
    assert controls.stacked and narrow[5].top() > narrow[0].bottom()  # the second row
    tabs_top = window.tabs.mapTo(window, QtCore.QPoint(0, 0)).y()
    assert max(r.bottom() for r in narrow) < tabs_top  # the views start below both rows
    wide = laid_out(1600)  # and back
    assert not controls.stacked


def bar_labels(bars, side: str = "left") -> list[tuple[str, QtCore.QRectF]]:
    """``(label, rect)`` of each label a plot's axis draws (its own draw
    specs, in axis coordinates): by default the bars' class names."""
    axis = bars.getPlotItem().getAxis(side)
    image = QtGui.QImage(bars.size(), QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(image)
    try:
        _line, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, rect) for rect, _flags, text in texts]


def test_the_probability_bars_labels_stay_apart_in_a_low_window(qtbot, make_window,
                                                                 tiny_model):
    """A 420-pixel window: every class name is drawn, whole, on its own row
    (below ~500 px they were squeezed over each other); the bars scroll
    instead."""
    window = make_window(tiny_model, autostart=False)
    window.resize(1180, 420)
    qtbot.waitUntil(lambda: window.height() == 420, timeout=2000)
    QtCore.QCoreApplication.processEvents()
    drawn = bar_labels(window.bars)
    assert [text for text, _ in drawn] == list(window.bars.labels)
    axis_height = window.bars.getPlotItem().getAxis("left").geometry().height()
    for i, (text, rect) in enumerate(drawn):
        for other, other_rect in drawn[i + 1:]:
            assert not rect.intersects(other_rect), (text, other)
    for text, rect in drawn:  # and none is cut at the edge
        assert rect.top() >= 0 and rect.bottom() <= axis_height, (text, rect)
    area = window.live.bars_area
    assert area.height() < window.bars.height()  # lower than the bars need:
    assert area.verticalScrollBar().maximum() > 0  # they scroll
    # A command brings its row into view (the last label, `go`, was below).
    area.verticalScrollBar().setValue(0)
    label = window.bars.labels[-1]
    centre, _ = window.bars.row_of(label)
    assert centre > area.viewport().height()  # out of sight
    window.live.show_command(CommandEvent(label, 0.9, 1.0, 1.5, 1.6, 0.1))
    shown = centre - area.verticalScrollBar().value()
    assert 0 <= shown <= area.viewport().height(), (centre, area.verticalScrollBar().value())


def test_a_long_word_name_is_elided_in_the_bars_not_left_out(qtbot):
    """A word of the user's with a long name got a bar but no name: pyqtgraph
    leaves out a tick label wider than its axis. It is now cut in the
    middle to the names' column, and every row has its name."""
    from kwsapp.gui.result_widget import ProbabilityBars

    long_name = "turn_on_the_kitchen_lights_please"
    bars = ProbabilityBars(("silence", "unknown", long_name, "no"))
    qtbot.addWidget(bars)
    bars.resize(300, 200)
    bars.show()
    qtbot.waitExposed(bars)
    QtCore.QCoreApplication.processEvents()
    drawn = [text for text, _ in bar_labels(bars)]
    assert len(drawn) == 4, drawn
    assert drawn[0] == "silence" and drawn[3] == "no", drawn
    assert drawn[2] != long_name and "…" in drawn[2], drawn
    assert drawn[2].startswith("tur") and drawn[2].endswith("se"), drawn


def in_widget(plot, side: str, rect: QtCore.QRectF) -> QtCore.QRect:
    """An axis label's ``rect`` (axis coordinates) in ``plot``'s pixels."""
    scene = plot.getPlotItem().getAxis(side).mapRectToScene(rect)
    return plot.mapFromScene(scene).boundingRect()


def test_axis_labels_are_readable_in_the_smallest_window(qtbot, make_window, tiny_model):
    """At the window's minimum size the spectrogram's Hz labels leave out
    those with no room (250 and 500 Hz were drawn over each other) and the
    bars' "100%" is drawn within their scale row (pyqtgraph hid it: it
    reached past the axis); widened, every Hz label is back."""
    window = make_window(tiny_model, autostart=False)

    def resized(size: QtCore.QSize) -> None:
        window.resize(size)
        qtbot.waitUntil(lambda: window.size() == size, timeout=2000)
        QtCore.QCoreApplication.processEvents()

    resized(window.minimumSizeHint())
    drawn = bar_labels(window.spectrogram)
    for i, (text, rect) in enumerate(drawn):
        for other, other_rect in drawn[i + 1:]:
            assert not rect.intersects(other_rect), (text, other)
        centre = in_widget(window.spectrogram, "left", rect).center()
        assert window.spectrogram.rect().contains(centre), (text, centre)
    texts = [text for text, _ in drawn]
    assert len(texts) >= 4 and {"250", "1k", "4k"} <= set(texts), texts

    scale = window.live.bars_area.scale  # the bars' scale row
    labels = dict(bar_labels(scale, "bottom"))
    assert set(labels) == {"0", "50%", "100%"}
    hundred = in_widget(scale, "bottom", labels["100%"])
    assert scale.rect().contains(hundred), (hundred, scale.rect())

    resized(QtCore.QSize(1180, 760))
    assert [text for text, _ in bar_labels(window.spectrogram)] == [
        "250", "500", "1k", "2k", "4k", "8k"]


def test_the_bars_scale_stays_in_view_without_scrolling(qtbot, make_window, tiny_model):
    """At the window's minimum size the bars scroll, and their scale row
    ("0" ... "100%") was drawn under the last row: seen only scrolled to
    the end. It is kept under the rows in view, scrolled anywhere, and
    lined up with the bars ("0" at their start, "100%" at their end, a
    vertical scrollbar beside both); so in a large window, where nothing
    scrolls."""
    window = make_window(tiny_model, autostart=False)
    area, bars = window.live.bars_area, window.bars
    smallest = window.minimumSizeHint()
    for size in (smallest, QtCore.QSize(1180, 760)):
        window.resize(size)
        qtbot.waitUntil(lambda: window.size() == size, timeout=2000)  # noqa: B023
        QtCore.QCoreApplication.processEvents()
        bar = area.verticalScrollBar()
        assert (bar.maximum() > 0) == (size == smallest), (size, bar.maximum())
        for value in (0, bar.maximum() // 2, bar.maximum()):
            bar.setValue(value)
            QtCore.QCoreApplication.processEvents()
            scale = area.scale
            assert scale.isVisible() and area.rect().contains(scale.geometry()), size
            rows = area.viewport().geometry()  # the rows in view, in the area
            view = bars.mapFromScene(bars.getPlotItem().vb.sceneBoundingRect()).boundingRect()
            ends = QtCore.QRect(bars.mapTo(area, view.topLeft()), view.size())
            labels = dict(bar_labels(scale, "bottom"))
            for text, x in (("0", ends.left()), ("100%", ends.right())):
                drawn = in_widget(scale, "bottom", labels[text])
                seen = QtCore.QRect(scale.mapTo(area, drawn.topLeft()), drawn.size())
                assert area.rect().contains(seen), (size, value, text, seen, area.rect())
                assert seen.top() > rows.bottom(), (size, value, text, seen, rows)  # under them
                assert abs(seen.center().x() - x) <= 2, (size, value, text, seen, ends)


def test_the_bars_say_now_and_the_command_its_smoothed_confidence(qtbot, make_window,
                                                                  tiny_model):
    """The bars are the latest window's probabilities, the big label the
    command's smoothed confidence when it fired ("go 53 %" beside a 78 %
    bar puzzled). The bars' scale row says "now" in the names' column
    (drawn, whole, left of "0" on its row: no height taken), at the
X
    their tooltips say which is which."""
    window = make_window(tiny_model, autostart=False)
    live = window.live
    for size in (window.minimumSizeHint(), QtCore.QSize(1180, 760)):
        window.resize(size)
        qtbot.waitUntil(lambda: window.size() == size, timeout=2000)  # noqa: B023
        QtCore.QCoreApplication.processEvents()
        scale = live.bars_area.scale
        caption = scale.caption
        assert caption.isVisible() and caption.text() == "now", (size, caption.text())
        box = QtCore.QRect(caption.mapTo(scale, QtCore.QPoint(0, 0)), caption.size())
        assert scale.rect().contains(box), (size, box, scale.rect())
        assert caption.fontMetrics().horizontalAdvance("now") <= box.width(), size
        zero = in_widget(scale, "bottom", dict(bar_labels(scale, "bottom"))["0"])
        assert box.right() < zero.left(), (size, box, zero)
        assert box.top() <= zero.center().y() <= box.bottom(), (size, box, zero)
        pixels = grab_pixels(scale)[box.top():box.bottom() + 1, box.left():box.right() + 1]
        assert int(pixels.max()) - int(pixels.min()) > 60, size  # drawn, not covered
        assert "latest" in caption.toolTip() and "smoothed" in caption.toolTip()
    live.show_command(CommandEvent("go", 0.53, 6.8, 7.1, 7.4, 0.3))
    assert live.result.detail.text() == "confidence 53% at 7.1 s"
    assert "smoothed" in live.result.toolTip() and "bars" in live.result.toolTip()


def test_missing_device_is_a_message_and_files_still_work(qtbot, make_window, tiny_model):
    window = make_window(tiny_model, device="no such input device 1234")
    qtbot.waitUntil(lambda: not window.banner.isHidden(), timeout=5000)
    assert "Cannot listen" in window.banner.text.text()
    assert window.session is None and not window.listen_action.isChecked()


def test_device_failing_mid_stream_is_reported_without_a_crash(qtbot, make_window, tiny_model):
    sources = []

    def factory(_device):
        sources.append(FileSource(np.zeros(16000 * 30, np.float32), 320, realtime=True))
        return sources[-1]

    window = make_window(tiny_model, factory)
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    # Simulated unplug: the source reports a PortAudio-style failure, as
    # SoundDeviceSource does when its stream dies (no hardware to pull here).
    sources[-1].error = DeviceError("input device disappeared")
    qtbot.waitUntil(lambda: window.session is None, timeout=5000)
    assert "input device disappeared" in window.banner.text.text()
    qtbot.waitUntil(lambda: engine_threads() == ["kwsapp-session"], timeout=5000)
    assert window.start_listening()  # pick again and go on
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)


def drop(window, paths) -> None:
    """A real drag-enter + drop of file URLs on the window."""
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QtCore.QPointF(window.width() / 2, window.height() / 2)
    action = QtCore.Qt.DropAction.CopyAction
    buttons, mods = QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier
    enter = QtGui.QDragEnterEvent(pos.toPoint(), action, mime, buttons, mods)
    QtCore.QCoreApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QtCore.QCoreApplication.sendEvent(window, QtGui.QDropEvent(pos, action, mime, buttons, mods))


def test_dropped_files_are_classified_in_the_worker(qtbot, make_window, bundled_model_dir,
                                                    data_dir, tmp_path):
    import soundfile as sf

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    clip = real_clip(data_dir, "yes")
    long_file = tmp_path / "left_go.wav"
    sf.write(long_file, words_audio(data_dir, ["left", "go"], 0.8, model=bundled_model_dir), 16000)
    window = make_window(bundled_model_dir, autostart=False)
    drop(window, [clip, bad, long_file])
    assert window.tabs.currentWidget() is window.files
    qtbot.waitUntil(lambda: all("classifying" not in r[1] for r in window.files.result_rows()),
                    timeout=WAIT_MS)
    rows = dict(window.files.result_rows())
    assert rows[clip.name].startswith("yes (")
    assert rows[bad.name].startswith("error: not a readable")  # the reason, not the path
    assert rows[long_file.name].startswith("2 commands") and rows[long_file.name].endswith(
        "left, go")

    window.files.table.setCurrentItem(window.files.table.topLevelItem(2))
    assert window.files.detail.currentIndex() == 2  # the timeline page
    assert window.files.command_list.count() == 2
    window.files.command_list.setCurrentRow(1)  # click "go": the view jumps there
    (x0, x1), _ = window.files.file_view.getPlotItem().vb.viewRange()
    start, end = window.files.file_view._spans[1]
    assert x0 <= start and end <= x1 and x1 - x0 < 4.0


@pytest.mark.jack
def test_window_listens_through_real_portaudio(jack_server, bundled_model_dir, data_dir):
    """The window's own sound-card source on a JACK dummy server: the JACK
    input is listed (default marked), a real clip played into it comes out
    as the command, and closing leaves no engine thread."""
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "gui_jack_run.py"),
                           "--model", str(bundled_model_dir),
                           "--clip", str(real_clip(data_dir, "yes", 2))],
                          cwd=REPO_ROOT, env=dict(os.environ, **jack_server),
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["started"], result
    assert any("★ default" in d for d in result["devices"]), result
    assert result["history"] and result["history"][0][2] == "yes", result
    assert result["result"] == "yes" and result["frames"] > 5
    assert result["threads_left"] == []


def test_a_dropped_folder_without_audio_says_so(qtbot, make_window, tiny_model, tmp_path):
    """A folder with no audio file in it (nor in its subfolders) gets a row
    with the reason, in the order dropped: the drop did nothing visible."""
    empty = tmp_path / "notes"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "readme.txt").write_text("no audio here")
    window = make_window(tiny_model, autostart=False)
    window.tabs.setCurrentWidget(window.live)
    drop(window, [empty])
    assert window.tabs.currentWidget() is window.files
    assert window.files.result_rows() == [
        ("notes", "error: no audio files in this folder or its subfolders")]
    assert window.files.detail.currentIndex() == 3  # the error page, with the reason
    assert "no audio files" in window.files.error_label.text()


def test_folders_it_may_not_read_and_a_folder_it_may_not_write_are_said(tiny_model, tmp_path):
    """A dropped folder that cannot be listed said "no audio files in this
    folder", and a subfolder that cannot be listed was left out without a
    word; each gets a row naming it with the reason, the rest is
    classified. Exporting to a read-only folder names the file chosen and
    why, not the atomic write's temporary file ("Permission denied:
    '…/.tmp-x1y2.csv'"). File modes hold for root only without its
    capabilities: a subprocess (tests/gui_file_modes_run.py) under setpriv."""
    clip = silent_clip(tmp_path)
    top, shut, locked_out = tmp_path / "recordings", tmp_path / "shut", tmp_path / "read-only"
    (top / "locked").mkdir(parents=True)
    shut.mkdir()
    locked_out.mkdir()
    for folder in (top, top / "locked", shut):
        shutil.copy(clip, folder / "a.wav")
    for folder, mode in ((top / "locked", 0), (shut, 0), (locked_out, 0o555)):
        folder.chmod(mode)
    script = Path(__file__).resolve().parent / "gui_file_modes_run.py"
    try:
        proc = subprocess.run([*without_root_file_access(), sys.executable, str(script),
                               "--model", str(tiny_model), "--drop", str(top), str(shut),
                               "--export", str(locked_out / "files.csv")],
                              capture_output=True, text=True, timeout=120)
    finally:
        for folder in (top / "locked", shut, locked_out):
            folder.chmod(0o755)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = dict(map(tuple, result["rows"]))
    assert set(rows) == {"a.wav", "locked", "shut"}, rows
    assert not rows["a.wav"].startswith("error")
    assert rows["locked"] == rows["shut"] == "error: no permission to read this folder"
    assert result["exported"] is False
    assert result["banner"] == (f"Cannot export: {locked_out / 'files.csv'}: no permission to "
                                f"write in {locked_out}")
    assert result["threads_left"] == []
    assert list(locked_out.iterdir()) == []


def silent_clip(tmp_path: Path) -> Path:
    """A second of silence as a WAV file (what it is classified as does not matter)."""
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    return path


def test_exporting_to_a_folder_names_it_as_one(qtbot, make_window, tiny_model, tmp_path):
    """A folder's name given as the file to export to: the message said
    "[Errno 21] Is a directory: '…/.tmp-x1y2.tmp' -> '…'"."""
    window = make_window(tiny_model, autostart=False)
    assert not window.export_csv(str(tmp_path))
    assert window.banner.text.text() == f"Cannot export: {tmp_path}: that is a folder: give " \
                                        "the file a name"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_long_file_or_folder_name_does_not_widen_the_window(qtbot, make_window, tiny_model,
                                                              tmp_path):
    """A file whose 200-character name has no space in it, dropped and not
    readable: its reason's page held the name on one line and the window
    grew to 1,533 pixels (the files list squeezed to 70); a model folder
    of such a name did the same through the banner. The window keeps its
    width and the texts wrap."""
    window = make_window(tiny_model, autostart=False)
    window.resize(900, 640)
    qtbot.waitUntil(lambda: window.width() == 900)
    bad = tmp_path / ("x" * 200 + ".wav")
    bad.write_text("not audio")
    drop(window, [bad])
    qtbot.waitUntil(lambda: not window.file_dispatch.busy, timeout=WAIT_MS)
    assert window.files.detail.currentIndex() == 3  # the reason's page
    assert "not a readable audio file" in window.files.error_label.text()
    assert window.width() == 900 and window.minimumSizeHint().width() < 900
    assert window.files.table.width() > 200
    assert not window.load_model(str(tmp_path / ("y" * 200)))
    assert not window.banner.isHidden() and "could not be loaded" in window.banner.text.text()
    assert window.width() == 900 and window.minimumSizeHint().width() < 900


def test_the_add_word_dialog_records_from_the_input_chosen_since(qtbot, make_window, tiny_model,
                                                                 tmp_path, monkeypatch):
    """The Add word dialog, kept between openings, records from the input
    device chosen in the window after it was first opened, not the one
    chosen then."""
    from types import SimpleNamespace

    monkeypatch.setenv("KWSAPP_HOME", str(tmp_path / "home"))
    asked = []

    def factory(device):
        asked.append(device)
        return FileSource(np.zeros(16000 * 3, np.float32), 320, realtime=True)

    window = make_window(tiny_model, factory, autostart=False)
    window.controls.fill_devices([SimpleNamespace(name="mic one", index=0, is_default=True),
                                  SimpleNamespace(name="mic two", index=1)], "mic one")
    window.open_add_word()
    dialog = window.add_word_dialog
    dialog.countdown_ms = 0
    window.device_combo.setCurrentIndex(1)
    window.device_combo.activated.emit(1)  # the user picks "mic two"
    dialog.record_take(0)
    qtbot.waitUntil(lambda: not dialog.opening, timeout=5000)
    assert asked == ["mic two"]
    dialog.close()


def test_closing_the_window_stops_the_take_being_recorded(qtbot, make_window, tiny_model,
                                                         tmp_path, monkeypatch):
    """The window closed while its Add word dialog records a take: the dialog
    closes too, the take's input with it (it recorded on), and no thread of
    the dialog is left."""
    monkeypatch.setenv("KWSAPP_HOME", str(tmp_path / "home"))
    sources = SlowSources()
    window = make_window(tiny_model, sources, autostart=False)
    window.open_add_word()
    dialog = window.add_word_dialog
    dialog.countdown_ms = 0
    dialog.record_take(0)
    qtbot.waitUntil(lambda: not dialog.opening, timeout=5000)
    assert dialog.recording and len(sources.made) == 1
    window.close()
    assert not dialog.recording and not dialog.isVisible()
    qtbot.waitUntil(lambda: sources.running() == [], timeout=5000)
    qtbot.waitUntil(lambda: "kwsapp-record" not in kwsapp_threads(), timeout=5000)
