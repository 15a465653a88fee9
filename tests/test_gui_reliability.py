"""Issue 15 in the window: a model that cannot be loaded is named with its
reason and the window keeps a model that works (controls showing it); a bad
dropped file's row shows the reason, not its path again; the input device
failing is said in the banner."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gui_helpers import temp_settings

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from kwsapp.audio.source import FileSource  # noqa: E402


def silence_source(_device):
    return FileSource(np.zeros(16000 * 60, np.float32), 320, realtime=True)


@pytest.fixture
def window_factory(qtbot, tmp_path):
    from kwsapp.gui.main_window import MainWindow

    made = []

    def make(**kwargs):
        window = MainWindow(settings=temp_settings(tmp_path / "kwsapp.ini"),
                            source_factory=silence_source, **kwargs)
        made.append(window)
        window.show()
        return window

    yield make
    for window in made:
        window.close()


def test_missing_model_is_named_and_a_working_model_stays(qtbot, window_factory, tiny_model,
                                                          caplog):
    first = window_factory(model=str(tiny_model), autostart=False)
    first.close()  # remembers tiny_model
    with caplog.at_level(logging.WARNING):
        window = window_factory(model="/nonexistent")
    qtbot.waitUntil(lambda: window.session is not None, timeout=5000)
    text = window.banner.text.text()
    assert not window.banner.isHidden()
    assert "/nonexistent" in text and "no such model" in text, text
    assert str(tiny_model) in text  # what is used instead
    assert window.model_spec == str(tiny_model)
    assert window.model_combo.currentData() == str(tiny_model)
    card = window.recognizer.card.raw
    assert window.threshold == pytest.approx(card.get("threshold", 0.5), abs=0.011)
    assert window.threshold > 0
    assert "/nonexistent" in caplog.text


def test_bad_file_row_shows_the_reason(qtbot, window_factory, tiny_model, tmp_path):
    bad = tmp_path / "a_rather_long_folder_name_for_the_test" / "broken.wav"
    bad.parent.mkdir()
    bad.write_text("not audio")
    window = window_factory(model=str(tiny_model), autostart=False)
    window.classify_files([str(bad)])
    qtbot.waitUntil(lambda: "classifying" not in window.files.result_rows()[0][1],
                    timeout=10000)
    name, result = window.files.result_rows()[0]
    assert name == "broken.wav"
    assert str(bad.parent) not in result  # the path is in the name column already
    assert result.startswith("error: not a readable audio file"), result


def test_engine_callbacks_after_the_window_is_gone_are_dropped(qtbot):
    """An engine thread can outlive the window (a model slower than the
    engine's stop timeout): its late callbacks reach a deleted bridge, which
    Qt refuses ("Signal source has been deleted"). They are dropped; while
    the bridge lives, every callback arrives."""
    import shiboken6

    from kwsapp.gui.live import EngineBridge

    bridge = EngineBridge()
    got = []
    bridge.window.connect(got.append)
    bridge.command.connect(got.append)
    bridge.on_window("w")
    bridge.on_event("e", ticket=3)
    assert got == [(None, "w"), (3, "e")]
    shiboken6.delete(bridge)  # what the window's teardown does to it
    bridge.on_window("late")
    bridge.on_event("late")
    bridge.on_error(1, RuntimeError("late"))
    bridge.on_word_scores(1.0, ("x",), None)
    assert got == [(None, "w"), (3, "e")]
