"""The Files tab at scale: a folder of hundreds of clips and an hour-long
recording dropped on the real window, offscreen, classified by the real
worker and classify service on the tiny model (its speed is the point, not
its labels): progress shown, Stop, closing mid-file, memory that does not
grow with the file, a timeline that stays readable."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import label_clips
from gui_helpers import kwsapp_threads, quiet_window

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from kwsapp.audio.io import load_audio  # noqa: E402

WAIT_MS = 30000


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):
    win = quiet_window(qtbot, tmp_path / "s.ini", str(tiny_model), show=True)
    yield win
    win.close()


def long_recording(data_dir, path, minutes: float) -> str:
    """``minutes`` of real clips (the first few of some words, with pauses),
    repeated, written as 16-bit WAV at ``path``."""
    gap = np.zeros(8000, np.float32)
    parts = []
    for label in ("yes", "left", "stop", "go", "no", "up"):
        parts += [load_audio(label_clips(data_dir, label)[0]), gap]
    block = np.concatenate(parts)
    audio = np.tile(block, int(np.ceil(minutes * 60 * 16000 / block.size)))
    import soundfile as sf

    sf.write(path, audio, 16000, subtype="PCM_16")
    return str(path)


def test_closing_mid_recording_stops_the_worker(qtbot, window, data_dir, tmp_path):
    """Closed while a half-hour recording is classified, the window stops
    its worker at once: it waited one second, and the worker's thread, still
    running, was destroyed with the window (Qt aborts the process: "QThread:
    Destroyed while thread is still running")."""
    path = long_recording(data_dir, tmp_path / "half_hour.wav", 30)
    window.classify_files([path])
    # Mid-file (the engine replays it): its row and the bar say how far it is.
    qtbot.waitUntil(lambda: "kwsapp-file-source" in kwsapp_threads(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "%" in window.files.result_rows()[0][1], timeout=WAIT_MS)
    assert window.files.progress_row.isVisible()
    assert "0 of 1 file classified" == window.files.progress_bar.format()
    window.close()
    assert window.file_thread.isFinished()


def test_stop_leaves_the_rest_unclassified_and_files_dropped_later_run(qtbot, window,
                                                                       data_dir, tmp_path):
    folder = data_dir / "yes"  # 300-odd real clips, read in place
    n = len(list(folder.glob("*.wav")))
    window.classify_files([str(folder)])
    assert window.files.progress_row.isVisible()
    qtbot.waitUntil(lambda: window.files.progress_bar.value() >= 300, timeout=WAIT_MS)
    # After Stop, only what the worker had in hand may still land: then it
    # is idle (its results arrive before that signal), with the rest unrun.
    with qtbot.waitSignal(window.file_worker.idle, timeout=WAIT_MS):
        window.files.stop_button.click()
        assert window.files.progress_row.isHidden()
    states = [r[1] for r in window.files.result_rows()]
    stopped = states.count("stopped: not classified")
    assert "classifying…" not in states
    assert len(states) == n and stopped > 0 and n - stopped >= 3
    out = tmp_path / "files.csv"
    assert window.export_csv(str(out))
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n and sum(r["error"] == "stopped" for r in rows) == stopped

    # Files dropped after a Stop are classified (the stop was for those before).
    again = folder / window.files.result_rows()[-1][0]
    window.classify_files([str(again)])
    qtbot.waitUntil(lambda: dict(window.files.result_rows())[again.name]
                    not in ("classifying…", "stopped: not classified"), timeout=WAIT_MS)
    assert len(window.files.result_rows()) == n
    qtbot.waitUntil(lambda: window.files.progress_row.isHidden(), timeout=WAIT_MS)


def test_a_long_files_image_is_pooled_block_by_block(data_dir, tmp_path):
    """The timeline's image, decoded and pooled block by block (an hour
    decoded whole took gigabytes), is the whole file's image pooled: here a
    44.1-kHz stereo file, resampled on the way."""
    import soundfile as sf

    from kwsapp.config import GuiConfig
    from kwsapp.gui.file_image import file_columns, pool_columns
    from kwsapp.gui.spectrogram_widget import StreamingLogMel

    mono = load_audio(long_recording(data_dir, tmp_path / "a.wav", 0.5), 44100)
    path = tmp_path / "b.wav"
    sf.write(path, np.stack([mono, 0.5 * mono], axis=1), 44100, subtype="FLOAT")
    config = GuiConfig(file_max_columns=700)
    whole = pool_columns(StreamingLogMel(config).compute(load_audio(path)), 700)
    blocks = file_columns(path, config)
    assert blocks.shape == whole.shape and blocks.dtype == np.float32
    np.testing.assert_allclose(blocks, whole, atol=1e-3)


def test_an_hour_long_timeline_labels_only_what_can_be_read(qtbot):
    """1,000 commands in an hour: the whole-file view marks them all (one
    triangle each) and labels none, saying how many there are; zoomed to one,
    its span and label are drawn. (A region and a label each, all drawn,
    covered the image with overlapping text: 2,000 items.)"""
    from kwsapp.config import GuiConfig
    from kwsapp.gui.files import FileResult, FilesPanel

    config = GuiConfig()
    panel = FilesPanel(config)
    qtbot.addWidget(panel)
    labels = ("yes", "no", "up", "down", "left")
    commands = [(labels[i % 5], 0.8, 3.6 * i + 1.0, 3.6 * i + 1.6) for i in range(1000)]
    panel.add_result(FileResult("/tmp/hour.wav", commands=commands, seconds=3600.0,
                                columns=np.zeros((3000, config.spectrogram_n_mels),
                                                 np.float32)))
    view = panel.file_view
    assert panel.detail.currentIndex() == 2 and panel.command_list.count() == 1000
    assert len(view._scatter.data) == 1000
    assert view.labelled == [] and view._hint.textItem.toPlainText().startswith("1,000 commands")
    assert len(view.getPlotItem().items) <= 2 * config.file_labels_max + 4

    panel.command_list.setCurrentRow(500)  # zooms there: its label is read
    assert 500 in view.labelled and len(view.labelled) <= 3
    k = view.labelled.index(500)
    assert view._texts[k].isVisible() and view._texts[k].textItem.toPlainText() == "yes 80%"
    assert view._regions[k].getRegion() == pytest.approx((1801.0, 1801.6))
    assert view._hint.textItem.toPlainText() == ""
    assert len(view.getPlotItem().items) <= 2 * config.file_labels_max + 4


def test_a_folders_rows_name_their_subfolder_and_sort_by_a_header_click(qtbot, window, data_dir,
                                                                        tmp_path):
    """Subfolders of a dropped folder may hold files of the same name (the
    wake-word set: alexa/0.flac, smart_mirror/0.flac): each row names the
    path inside the folder. A click on a column's header sorts the rows
    (a thousand of them: the errors together); the export follows."""
    import soundfile as sf
    from PySide6 import QtCore
    from pytestqt.qt_compat import qt_api

    for sub, audio in (("b", load_audio(label_clips(data_dir, "yes")[0])),
                       ("a", load_audio(label_clips(data_dir, "no")[0]))):
        (tmp_path / "takes" / sub).mkdir(parents=True)
        sf.write(tmp_path / "takes" / sub / "0.wav", audio, 16000)
    (tmp_path / "takes" / "c").mkdir()
    (tmp_path / "takes" / "c" / "0.wav").write_bytes(b"not audio")
    window.classify_files([str(tmp_path / "takes")])
    qtbot.waitUntil(lambda: not window.file_dispatch.busy, timeout=WAIT_MS)
    rows = window.files.result_rows()
    assert [name for name, _ in rows] == ["a/0.wav", "b/0.wav", "c/0.wav"]  # as given

    header = window.files.table.header()
    x = header.sectionViewportPosition(1) + header.sectionSize(1) // 2
    qt_api.QtTest.QTest.mouseClick(header.viewport(), QtCore.Qt.MouseButton.LeftButton,
                                   pos=QtCore.QPoint(x, header.height() // 2))
    shown = [text for _, text in window.files.result_rows()]
    assert shown == sorted(shown) and shown[0].startswith("error:")
    out = tmp_path / "files.csv"
    assert window.export_csv(str(out))
    with out.open() as f:
        assert next(csv.DictReader(f))["file"].endswith("c/0.wav")
