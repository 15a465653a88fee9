"""The Files tab at scale: a folder of hundreds of clips and an hour-long
recording dropped on the real window, offscreen, classified by the real
worker and classify service on the tiny model (its speed is the point, not
its labels): progress shown, Stop, closing mid-file, memory that does not
grow with the file, a timeline that stays readable."""

from __future__ import annotations

import csv
import os

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


# -- the overview from the replay's one decode ---------------------------------

def stereo_recording(data_dir, path, minutes: float, rate: int = 48000) -> str:
    """``minutes`` of real clips with pauses as a ``rate`` stereo 16-bit
    WAV, the channels unlike (the right one quieter, with its own noise),
    written a block at a time."""
    import soundfile as sf

    from kwsapp.audio.io import resample

    gap = np.zeros(8000, np.float32)
    parts = []
    for label in ("yes", "left", "stop", "go", "no", "up"):
        parts += [load_audio(label_clips(data_dir, label)[1]), gap]
    block = resample(np.concatenate(parts), 16000, rate)
    rng = np.random.default_rng(3)
    total = int(minutes * 60 * rate)
    with sf.SoundFile(str(path), "w", rate, 2, subtype="PCM_16") as f:
        for begin in range(0, total, block.size):
            x = block[:min(block.size, total - begin)]
            noise = 0.002 * rng.standard_normal(x.size).astype(np.float32)
            f.write(np.stack([x, 0.5 * x + noise], axis=1))
    return str(path)


class DecoderReads:
    """Counts the frames decoded from each file: wraps
    ``soundfile.SoundFile.read``, the call every decode in kwsapp goes
    through (``kwsapp/audio/io.py``), so reads by any path are counted."""

    def __init__(self, monkeypatch) -> None:
        import threading

        import soundfile as sf

        self.frames: dict[str, int] = {}
        lock, real = threading.Lock(), sf.SoundFile.read

        def read(f, frames=-1, *args, **kwargs):
            data = real(f, frames, *args, **kwargs)
            with lock:
                name = os.fsdecode(f.name)  # kwsapp opens by bytes (audio/io.py _open)
                self.frames[name] = self.frames.get(name, 0) + len(data)
            return data

        monkeypatch.setattr(sf.SoundFile, "read", read)


def whole_file_overview(path: str, config) -> np.ndarray:
    """The overview as the old path built it, from the whole file at once:
    its full-resolution columns (decoded and resampled in one piece), each
    ``frames_per_column`` max-pooled, a last partial group on its own."""
    from kwsapp.gui.file_image import frames_per_column
    from kwsapp.gui.spectrogram_widget import StreamingLogMel

    audio = load_audio(path)
    whole = StreamingLogMel(config).compute(audio)
    per = frames_per_column(audio.size / 16000, config)
    return np.stack([whole[j:j + per].max(axis=0) for j in range(0, whole.shape[0], per)])


def test_the_overview_comes_from_the_replays_one_decode(data_dir, tiny_model, tmp_path,
                                                        monkeypatch):
    """A long 48-kHz stereo file through the Files worker: decoded once (the
    replay's decode gives the overview its samples; it was decoded again
    for it), its overview the one the old path built from the whole file
    (within float rounding), and sent as it grows: each one sent is the
    start of the final one, column for column (columns at their own times)."""
    import soundfile as sf
    from PySide6 import QtCore

    from kwsapp.config import Config, GuiConfig, Overrides
    from kwsapp.gui.files import FileWorker

    path = stereo_recording(data_dir, tmp_path / "stereo48k.wav", 3)
    config = GuiConfig(file_progress_s=0.0)  # every block's progress (new columns: sent)
    worker = FileWorker(config, Config())
    worker._classifier(str(tiny_model), Overrides())
    sent = []
    worker.overview.connect(lambda _b, _p, partial: sent.append(partial),
                            QtCore.Qt.ConnectionType.DirectConnection)  # (the replay's thread)
    reads = DecoderReads(monkeypatch)
    result = worker.classify_one(path, str(tiny_model))

    assert result.error is None and not result.is_clip
    assert reads.frames == {path: sf.info(path).frames}  # once, whole
    want = whole_file_overview(path, config)
    assert result.columns.shape == want.shape and result.columns.dtype == np.float32
    np.testing.assert_allclose(result.columns, want, atol=1e-3)
    np.testing.assert_array_equal(result.rgba, worker.colours(result.columns))

    sizes = [p.columns.shape[0] for p in sent]
    assert len(sent) >= 3 and sizes == sorted(set(sizes)) and sizes[-1] <= want.shape[0]
    for partial in sent:
        assert partial.path == path and partial.seconds == result.seconds
        assert partial.commands == [] and partial.error is None
        np.testing.assert_array_equal(partial.columns, result.columns[:partial.columns.shape[0]])
        np.testing.assert_array_equal(partial.rgba, result.rgba[:, :partial.columns.shape[0]])


def test_the_overview_takes_memory_independent_of_the_files_length(data_dir, tiny_model,
                                                                    tmp_path):
    """Classified with its overview, a file four times longer takes no more
    memory at its peak (numpy's and Python's allocations, traced): holding
    its decoded samples (4 min at 16 kHz: 15 MB more than 1 min; 48 kHz
    stereo: 92 MB) or its unpooled columns (6 MB) would show."""
    import tracemalloc

    from kwsapp.config import Config, GuiConfig, Overrides
    from kwsapp.gui.files import FileWorker

    worker = FileWorker(GuiConfig(), Config())
    worker._classifier(str(tiny_model), Overrides())
    short = stereo_recording(data_dir, tmp_path / "short.wav", 1)
    longer = stereo_recording(data_dir, tmp_path / "long.wav", 4)
    assert worker.classify_one(short, str(tiny_model)).error is None  # lazy imports, caches
    peaks = {}
    for path in (short, longer):
        tracemalloc.start()
        try:
            result = worker.classify_one(path, str(tiny_model))
            peaks[path] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.error is None and result.columns.shape[0] >= 2000
    assert peaks[longer] - peaks[short] < 3 * 2**20, peaks


def hold_the_overview(monkeypatch, worker, at_s: float):
    """The Files worker's overview holds the replay (its thread) once
    ``at_s`` seconds of a file are pushed to it, until ``release`` is set
    (or the worker cancelled); ``holding`` is set meanwhile. Each progress
    with new columns sends them (the tiny model replays minutes in
    seconds). Returns ``(holding, release)``."""
    import dataclasses
    import threading

    from kwsapp.gui import files as files_module

    holding, release = threading.Event(), threading.Event()

    class HeldOverview(files_module.FileOverview):
        pushed = 0

        def push(self, samples):
            super().push(samples)
            self.pushed += samples.shape[0]
            if self.pushed >= at_s * 16000 and not release.is_set():
                holding.set()
                while not release.is_set() and not worker.cancel.is_set():
                    release.wait(0.01)

    monkeypatch.setattr(files_module, "FileOverview", HeldOverview)
    worker.gui_config = dataclasses.replace(worker.gui_config, file_progress_s=0.0)
    return holding, release


def test_the_overview_grows_in_the_window_while_the_file_is_classified(qtbot, window, data_dir,
                                                                      tmp_path, monkeypatch):
    """Dropped on the window, a long file's overview shows while its replay
    runs (it came after the replay and a second decode: 74-96 s for an
    hour at 48 kHz stereo, docs/benchmarks.md): held at its second minute,
    the row still classifying, the part decoded is drawn, at its own times;
    zoomed into it, its detail comes; when the commands come, the overview
    is whole and the user's zoom and detail stay."""
    holding, release = hold_the_overview(monkeypatch, window.file_worker, 120.0)
    path = stereo_recording(data_dir, tmp_path / "a.wav", 4)
    files, view = window.files, window.files.file_view
    window.classify_files([path])
    qtbot.waitUntil(holding.is_set, timeout=WAIT_MS)
    per = view._column_s
    qtbot.waitUntil(lambda: view._path == path and view.image.image is not None
                    and view.image.image.shape[1] * per > 110.0, timeout=WAIT_MS)
    assert files.detail.currentIndex() == 2 and files.result_rows()[0][1].startswith("classifying")
    drawn = view.image.image.shape[1]
    assert drawn * per <= 120.0 + per  # the part decoded, no more
    rect = view.image.mapRectToParent(view.image.boundingRect())
    assert rect.width() == pytest.approx(drawn * per)  # at its columns' own times
    assert view.getPlotItem().getViewBox().viewRange()[0] == pytest.approx([0.0, 240.0])

    view.getPlotItem().setXRange(60.0, 75.0, padding=0)
    qtbot.waitUntil(lambda: view.detail_span is not None, timeout=WAIT_MS)
    detail, partial = view.detail_span, view.image.image.copy()
    release.set()
    qtbot.waitUntil(lambda: path in files._results, timeout=WAIT_MS)
    result = files._results[path]
    assert result.error is None and view.image.image.shape[1] == result.columns.shape[0]
    assert result.columns.shape[0] * per >= 239.0
    np.testing.assert_array_equal(view.image.image[:, :drawn], partial)  # the same columns
    assert view.getPlotItem().getViewBox().viewRange()[0] == pytest.approx([60.0, 75.0])
    assert view.detail_span == detail and view.detail.isVisible()
    assert files.command_list.count() == len(result.commands) + len(result.withheld)


def test_a_stopped_files_overview_goes(qtbot, window, data_dir, tmp_path, monkeypatch):
    """Stopped while its overview grows, the file is left unclassified: its
    row says so and its part-made overview is no longer shown."""
    holding, release = hold_the_overview(monkeypatch, window.file_worker, 60.0)
    path = stereo_recording(data_dir, tmp_path / "a.wav", 2)
    files, view = window.files, window.files.file_view
    window.classify_files([path])
    qtbot.waitUntil(holding.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: files.detail.currentIndex() == 2 and view._path == path,
                    timeout=WAIT_MS)
    with qtbot.waitSignal(window.file_worker.idle, timeout=WAIT_MS):
        files.stop_button.click()
        release.set()
    qtbot.wait(50)  # what it queued before it stopped
    assert files.result_rows() == [("a.wav", "stopped: not classified")]
    assert files.detail.currentIndex() == 0 and path not in files._results
    assert view.detail_span is None
