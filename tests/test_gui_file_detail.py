"""Zoomed into a long file's timeline, the Files tab draws the
full-resolution spectrogram of the part in view over the pooled overview
(one column of an hour's overview is ~1.2 s): read from the file by a seek,
off the GUI thread, debounced, dropped when zoomed out; a request the user
has moved on from never draws, and closing the window mid-read is safe.

The files are synthesised in tmp_path: quiet noise with tone bursts at
known times, so the detail's columns can be checked against where the
sound is, and against the spectrogram computed directly from the samples."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

import soundfile as sf  # noqa: E402

from kwsapp.config import GuiConfig  # noqa: E402
from kwsapp.gui.file_image import detail_columns  # noqa: E402
from kwsapp.gui.spectrogram_widget import StreamingLogMel  # noqa: E402

WAIT_MS = 30000
TONE_HZ = 2000.0


def synth_file(path, seconds: float, rate: int, bursts: list[tuple[float, float]],
               channels: int = 1, seed: int = 0) -> str:
    """``seconds`` of quiet noise with a ``TONE_HZ`` tone over each
    ``(start_s, end_s)`` of ``bursts``, written block by block (a long file
    is never whole in memory) as 16-bit PCM at ``rate``."""
    rng = np.random.default_rng(seed)
    total = int(round(seconds * rate))
    block = 60 * rate
    with sf.SoundFile(str(path), "w", rate, channels, subtype="PCM_16") as f:
        for begin in range(0, total, block):
            n = min(block, total - begin)
            t = (begin + np.arange(n)) / rate
            x = 0.001 * rng.standard_normal(n)
            for start_s, end_s in bursts:
                on = (t >= start_s) & (t < end_s)
                x[on] += 0.3 * np.sin(2 * np.pi * TONE_HZ * t[on])
            f.write(np.repeat(x[:, None], channels, axis=1).astype(np.float32))
    return str(path)


@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2), (8000, 1)])
def test_detail_columns_are_the_whole_files_columns_of_the_range(tmp_path, rate, channels):
    """Read by a seek to the range (resampled from there), the columns are
    the rows of the whole file's full-resolution image; the first, the
    last and past the end of the file too."""
    from kwsapp.audio.io import load_audio

    config = GuiConfig()
    path = synth_file(tmp_path / "a.wav", 40.0, rate, [(12.0, 12.2), (39.9, 40.0)],
                      channels=channels)
    whole = StreamingLogMel(config).compute(load_audio(path))
    for start_s, end_s in ((11.5, 13.25), (0.0, 0.5), (39.0, 41.0), (12.003, 12.004)):
        first, columns = detail_columns(path, start_s, end_s, config)
        assert first == int(start_s * 100)
        assert columns.dtype == np.float32 and columns.shape[1] == config.spectrogram_n_mels
        want = whole[first:min(whole.shape[0], int(np.ceil(end_s * 100)) + 1)]
        assert columns.shape == want.shape
        np.testing.assert_allclose(columns, want, atol=1e-3)
    assert detail_columns(path, 50.0, 51.0, config)[1].shape[0] == 0  # past the end


def test_a_detail_read_can_be_stopped(tmp_path):
    from kwsapp.errors import Cancelled

    path = synth_file(tmp_path / "a.wav", 10.0, 16000, [])
    with pytest.raises(Cancelled):
        detail_columns(path, 1.0, 9.0, GuiConfig(), stop=lambda: True)


# -- the timeline, in the real window ------------------------------------------

LONG_S = 600.0  # 10 minutes: its overview is pooled (0.21 s a column)
BURSTS = [(301.0, 301.2), (303.5, 303.55), (450.0, 450.3)]


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> str:
    return synth_file(tmp_path_factory.mktemp("detail") / "long.wav", LONG_S, 16000, BURSTS)


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):
    from gui_helpers import quiet_window

    win = quiet_window(qtbot, tmp_path / "s.ini", str(tiny_model), show=True)
    yield win
    win.close()


def show_long_file(window, path: str):
    """``path`` shown in the Files tab as the worker's result would be
    (its commands are not the point here); returns the timeline."""
    from kwsapp.gui.file_image import file_columns
    from kwsapp.gui.files import FileResult

    columns = file_columns(path, window.gui_config)
    window.files.add_result(FileResult(path, columns=columns, seconds=LONG_S))
    return window.files.file_view


def zoom(view, x0: float, x1: float) -> None:
    view.getPlotItem().setXRange(x0, x1, padding=0)


class HeldRead:
    """Stands in for the detail worker's read: each read waits until
    :attr:`release` is set (or the worker is cancelled), then reads."""

    def __init__(self, worker) -> None:
        import threading

        self.worker, self.real = worker, worker.read
        self.started = threading.Event()
        self.release = threading.Event()
        self.spans: list[tuple[float, float]] = []

    def __call__(self, path, start_s, end_s, config, stop=None):
        self.spans.append((start_s, end_s))
        self.started.set()
        while not self.release.is_set() and not self.worker.cancel.is_set():
            self.release.wait(0.01)
        return self.real(path, start_s, end_s, config, stop=stop)


def column_times(view) -> np.ndarray:
    """The time (s) at the centre of each column of the drawn detail."""
    rect = view.detail.mapRectToParent(view.detail.boundingRect())
    n = view.detail.image.shape[1]
    return rect.left() + (np.arange(n) + 0.5) * rect.width() / n


def test_zoomed_in_a_long_file_shows_its_full_resolution_detail(qtbot, window, long_file):
    """Classified in the window, then zoomed to 15 s: once the view keeps still
    the detail of the view (and half its span either side) is drawn over
    the pooled overview: the spectrogram computed directly from those
    samples, one column per 10-ms hop, in the same colours, each column at
    its own time: the tone bursts are where they were written."""
    window.classify_files([long_file])
    qtbot.waitUntil(lambda: window.files.detail.currentIndex() == 2, timeout=WAIT_MS)
    view = window.files.file_view
    assert view.image.image.shape[1] <= window.gui_config.file_max_columns  # pooled
    assert not view.detail.isVisible()
    got = []
    window.file_dispatch.detail_worker.ready.connect(got.append)  # (on the worker's thread)
    zoom(view, 295.0, 310.0)
    qtbot.waitUntil(lambda: bool(got) and view.detail_span is not None, timeout=WAIT_MS)
    [image] = got
    assert (image.request.start_s, image.request.end_s) == pytest.approx((287.5, 317.5))
    assert view.detail.isVisible()
    np.testing.assert_array_equal(view.detail.image, image.rgba)
    np.testing.assert_array_equal(image.rgba, view.to_rgba(image.columns))

    config = window.gui_config
    mel = StreamingLogMel(config)
    first, n = image.first_frame, image.columns.shape[0]
    assert first == 28750 and n == 3001  # frames 28750-31750: 287.5-317.5 s
    samples, _ = sf.read(long_file, start=first * mel.hop, stop=(first + n - 1) * mel.hop + mel.win,
                         dtype="float32")
    np.testing.assert_allclose(image.columns, mel.compute(samples), atol=1e-3)

    times = column_times(view)
    assert np.diff(times) == pytest.approx(0.01)  # full resolution
    band = int(mel.band_of_hz(TONE_HZ))
    level = image.columns[:, band]
    loud = level > (level.max() + np.median(level)) / 2
    win_s = config.spectrogram_window_ms / 1000.0
    for start_s, end_s in BURSTS[:2]:  # the bursts in the detail
        inside = (times > start_s + win_s / 2) & (times < end_s - win_s / 2)
        near = (times > start_s - win_s) & (times < end_s + win_s)
        assert inside.sum() >= 2 and loud[inside].all()
        assert not loud[~near & (np.abs(times - start_s) < 1.0)].any()
    burst_times = times[loud]
    assert all(any(s - win_s <= t <= e + win_s for s, e in BURSTS) for t in burst_times)


def test_the_detail_is_dropped_when_zoomed_out_and_short_files_need_none(qtbot, window,
                                                                        long_file, tmp_path):
    """Zoomed back out (wider than GuiConfig.file_detail_max_s), the detail
    goes at once; a pan within what was read asks nothing new, one beyond
    it asks again (the old detail stays, in its place, until the new one
    comes). A short file's image is already at full resolution: zoomed, it
    asks for nothing."""
    view = show_long_file(window, long_file)
    asked = []
    view.detail_wanted.connect(lambda r: asked.append(r) if r.path else None)
    zoom(view, 100.0, 104.0)
    zoom(view, 100.0, 110.0)
    zoom(view, 101.0, 111.0)  # moves while zooming: one request, once it keeps still
    assert asked == []
    qtbot.waitUntil(lambda: view.detail_span is not None, timeout=WAIT_MS)
    assert [(r.start_s, r.end_s) for r in asked] == [pytest.approx((96.0, 116.0))]
    zoom(view, 103.0, 113.0)  # within what was read
    assert not view._detail_timer.isActive() and view.detail.isVisible()
    drawn = view.detail_span
    zoom(view, 130.0, 140.0)  # beyond: asked again, the old one still drawn meanwhile
    assert view.detail_span == drawn and view.detail.isVisible()
    qtbot.waitUntil(lambda: view.detail_span != drawn, timeout=WAIT_MS)
    assert view.detail_span[0] <= 130.0 and view.detail_span[1] >= 140.0

    zoom(view, 100.0, 300.0)  # wider than 60 s: dropped now
    assert view.detail_span is None and not view.detail.isVisible()
    assert view.detail.image is None and not view._detail_timer.isActive()
    zoom(view, 0.0, LONG_S)
    assert view.detail_span is None

    short = synth_file(tmp_path / "short.wav", 20.0, 16000, [(5.0, 5.2)])
    from kwsapp.gui.file_image import file_columns
    from kwsapp.gui.files import FileResult

    window.files.add_result(FileResult(short, columns=file_columns(short, window.gui_config),
                                       seconds=20.0))
    window.files.table.setCurrentItem(window.files._rows[short])
    assert view._seconds == 20.0
    before = len(asked)
    zoom(view, 4.0, 6.0)
    assert not view._detail_timer.isActive() and len(asked) == before


def test_a_stale_detail_is_never_drawn(qtbot, window, long_file, tmp_path):
    """A read the user has moved on from is stopped, or ignored if it comes
    anyway: zoomed elsewhere while it is read, only the new place is drawn;
    another file selected meanwhile, nothing is; and a result delivered
    late (its request superseded) changes nothing."""
    from kwsapp.gui.files import FileResult

    view = show_long_file(window, long_file)
    worker = window.file_dispatch.detail_worker
    held = HeldRead(worker)
    worker.read = held
    zoom(view, 100.0, 110.0)
    qtbot.waitUntil(held.started.is_set, timeout=WAIT_MS)  # reading 95-115 s
    zoom(view, 440.0, 460.0)  # moved on while it reads: asked once it keeps still
    qtbot.waitUntil(lambda: not view._detail_timer.isActive(), timeout=WAIT_MS)
    held.release.set()
    qtbot.waitUntil(lambda: view.detail_span is not None, timeout=WAIT_MS)
    assert held.spans == [pytest.approx((95.0, 115.0)), pytest.approx((430.0, 470.0))]
    assert view.detail_span[0] <= 440.0 and view.detail_span[1] >= 460.0
    rect = view.detail.mapRectToParent(view.detail.boundingRect())

    # A result of the earlier request delivered now (as if it had crossed
    # the new request in the event queue) is ignored.
    from kwsapp.gui.spectrogram_widget import DetailImage, DetailRequest

    first, columns = worker.read.real(long_file, 95.0, 115.0, window.gui_config)
    late = DetailImage(DetailRequest(1, long_file, 95.0, 115.0), first, columns,
                       view.to_rgba(columns))
    view.show_detail(late)
    assert view.detail.mapRectToParent(view.detail.boundingRect()) == rect

    # Another file selected while a read is held: nothing is drawn, and the
    # long file shown again starts zoomed out, without a detail.
    held.release.clear()
    held.started.clear()
    zoom(view, 200.0, 210.0)
    qtbot.waitUntil(held.started.is_set, timeout=WAIT_MS)
    clip = FileResult(str(tmp_path / "clip.wav"), label="yes", score=0.9, labels=("yes", "no"),
                      probs=np.array([0.9, 0.1], np.float32), seconds=1.0)
    window.files.add_result(clip)
    window.files.table.setCurrentItem(window.files._rows[clip.path])
    assert window.files.detail.currentIndex() == 1 and view.detail_span is None
    settled = []
    worker.settled.connect(settled.append)  # (on the worker's thread)
    held.release.set()
    qtbot.waitUntil(lambda: len(settled) == 1, timeout=WAIT_MS)
    qtbot.wait(50)  # let anything it queued land
    assert view.detail_span is None and not view.detail.isVisible()
    window.files.table.setCurrentItem(window.files._rows[long_file])
    assert view.detail_span is None and not view.detail.isVisible()


def test_closing_the_window_mid_read_is_safe(qtbot, window, long_file):
    """Closed while a detail is read, the window stops the read (within a
    block of audio) and its thread; nothing is drawn, nothing raises."""
    view = show_long_file(window, long_file)
    worker = window.file_dispatch.detail_worker
    held = HeldRead(worker)
    worker.read = held
    drawn = []
    worker.ready.connect(drawn.append)
    zoom(view, 100.0, 110.0)
    qtbot.waitUntil(held.started.is_set, timeout=WAIT_MS)
    window.close()
    assert window.file_dispatch.detail_thread.isFinished()
    assert window.file_thread.isFinished()
    qtbot.wait(50)
    assert drawn == [] and view.detail_span is None


def test_the_overview_columns_are_drawn_at_their_own_times(qtbot, tmp_path):
    """A pooled column covers ``frames_per_column`` 10 ms frames: the image
    is as wide as its columns' frames, not stretched over the file's length
    (an hour's columns drifted by up to a second near its end, and the
    detail, placed by its own times, did not line up with them)."""
    from kwsapp.gui.file_image import file_columns, frames_per_column
    from kwsapp.gui.spectrogram_widget import FileSpectrogramView

    config = GuiConfig()
    path = synth_file(tmp_path / "a.wav", 41.0, 16000, [])
    frames = (41 * 16000 - 400) // 160 + 1  # 25 ms windows, 10 ms apart
    assert file_columns(path, config).shape[0] == -(-frames // frames_per_column(41.0, config))

    seconds = 600.0  # 59,998 frames, 21 a column: 2,858 columns
    per = frames_per_column(seconds, config)
    columns = np.zeros((-(-59998 // per), config.spectrogram_n_mels), np.float32)
    view = FileSpectrogramView(config)
    qtbot.addWidget(view)
    view.show_file(columns, seconds, [], frames_per_column=per)
    rect = view.image.mapRectToParent(view.image.boundingRect())
    for t in (1.0, 300.0, 599.0, 599.9):
        drawn = int((t - rect.left()) / rect.width() * columns.shape[0])
        assert drawn == int(t * 100) // per, t
