"""GUI widgets on real data, offscreen: the spectrogram scrolls the clip in,
the waveform and its speech shading follow the samples, results, history and
probability bars show what they are given, settings round-trip, and
`kwsapp gui` without a display says so in one line (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gui_helpers import grab_pixels, temp_settings

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")
pytestmark = pytest.mark.gui

from kwsapp.audio.io import load_audio  # noqa: E402
from kwsapp.config import GuiConfig  # noqa: E402


@pytest.fixture(scope="module")
def yes_clip(data_dir):
    return load_audio(sorted((data_dir / "yes").glob("*.wav"))[0])


def test_streaming_log_mel_is_block_size_invariant(yes_clip):
    from kwsapp.gui.spectrogram_widget import StreamingLogMel

    whole = StreamingLogMel(GuiConfig()).compute(yes_clip)
    for block in (1, 160, 333, 4096):
        mel = StreamingLogMel(GuiConfig())
        cols = np.concatenate([mel.push(yes_clip[i:i + block])
                               for i in range(0, yes_clip.size, block)])
        assert cols.shape == whole.shape, block
        np.testing.assert_allclose(cols, whole, rtol=1e-5, atol=1e-4)


def test_spectrogram_scrolls_a_real_clip_in(qtbot, yes_clip):
    from kwsapp.gui.spectrogram_widget import SpectrogramWidget

    widget = SpectrogramWidget(GuiConfig())
    qtbot.addWidget(widget)
    widget.resize(500, 240)
    blank = grab_pixels(widget)
    scrolled = sum(widget.push(yes_clip[i:i + 533]) for i in range(0, yes_clip.size, 533))
    assert scrolled == (yes_clip.size - widget.mel.win) // widget.mel.hop + 1
    image = widget.pixels()
    assert image.shape == (GuiConfig().spectrogram_n_mels, widget.n_columns)
    # The clip occupies the newest (rightmost) columns; older ones stay blank.
    assert image[:, -50:].std() > 1.0
    assert np.all(image[:, :widget.n_columns - scrolled] == GuiConfig().spectrogram_levels[0])
    drawn = grab_pixels(widget)
    assert drawn.std() > blank.std() + 1.0  # grab() pixels vary once the word is in


def test_waveform_envelope_and_speech_shading(qtbot):
    from kwsapp.gui.waveform_widget import WaveformWidget, envelope, mask_to_buckets

    lo, hi = envelope(np.arange(12, dtype=np.float32), 3)
    np.testing.assert_array_equal(lo, [0, 4, 8])
    np.testing.assert_array_equal(hi, [3, 7, 11])
    per_frame = np.array([False, True, True, False])
    np.testing.assert_array_equal(mask_to_buckets(per_frame, 8), [0, 0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(mask_to_buckets(np.repeat(per_frame, 480), 8),
                                  [0, 0, 1, 1, 1, 1, 0, 0])

    widget = WaveformWidget(GuiConfig())
    qtbot.addWidget(widget)
    audio = np.zeros(widget.n_samples, np.float32)
    audio[-8000:] = 0.5 * np.sin(np.arange(8000) * 0.3)
    mask = np.zeros(widget.n_samples, bool)
    mask[-8000:] = True
    widget.update_view(audio, mask)
    points = widget.wave_points()
    tail = widget.buckets // 6  # the last 0.5 s of 3 s
    assert np.abs(points[:-2 * tail - 4]).max() <= 0.011  # silence: the zero line
    assert points[-2 * tail:].max() > 0.45 and points[-2 * tail:].min() < -0.45
    shaded = widget.speech_shading()
    assert shaded[-tail:].min() == 1.0 and shaded[:-tail - 2].max() == 0.0


def test_level_meter_has_a_dbfs_scale_that_drops_labels_without_room(qtbot):
    """The level meter's dBFS scale: labels at a round step of its own
    range (-60 ... 0 dBFS; -90 ... 0 with a -90 floor), drawn inside the
    bar (its height as before); a narrow meter drops those with no room
    (the ends kept first), never overlapping two or cutting one at its
    edge."""
    from kwsapp.gui.waveform_widget import LevelMeter, scale_ticks

    assert scale_ticks(-60, 4) == [-60, -40, -20, 0]
    assert scale_ticks(-90, 4) == [-90, -60, -30, 0]
    assert scale_ticks(-48, 4) == [-40, -20, 0]
    assert scale_ticks(-60, 7) == [-60, -50, -40, -30, -20, -10, 0]
    deep = LevelMeter(GuiConfig(meter_floor_db=-90.0))
    meter = LevelMeter(GuiConfig())
    for widget in (deep, meter):
        qtbot.addWidget(widget)
        widget.resize(600, 16)
        widget.show()
    assert [text for text, _ in deep.scale_labels()] == ["-90", "-60", "-30", "0 dBFS"]
    assert [text for text, _ in meter.scale_labels()] == ["-60", "-40", "-20", "0 dBFS"]
    assert (meter.minimumHeight(), meter.maximumHeight()) == (14, 18)
    for width in (600, 150, 80, 30):
        meter.resize(width, 16)
        qtbot.waitUntil(lambda: meter.width() == width, timeout=2000)  # noqa: B023
        labels = meter.scale_labels()
        texts = [text for text, _ in labels]
        assert texts, width
        rects = [rect for _, rect in labels]
        for i, rect in enumerate(rects):
            assert meter.rect().contains(rect), (width, texts[i], rect)
            for j in range(i + 1, len(rects)):
                assert not rect.intersects(rects[j]), (width, texts[i], texts[j])
        if width == 150:  # -20 would touch 0 dBFS: left out, the ends kept
            assert texts == ["-60", "-40", "0 dBFS"]
    # Drawn: the labels' pixels stand out of the dark, unfilled meter.
    meter.resize(600, 16)
    qtbot.waitUntil(lambda: meter.width() == 600, timeout=2000)
    pixels = grab_pixels(meter)
    for text, rect in meter.scale_labels():
        part = pixels[rect.top():rect.bottom() + 1, rect.left():rect.right() + 1]
        assert part.max() > 120, text


def test_result_view_history_and_bars(qtbot):
    from kwsapp import LABELS
    from kwsapp.gui.result_widget import HistoryList, ProbabilityBars, ResultView

    view, history, bars = ResultView(GuiConfig()), HistoryList(GuiConfig()), ProbabilityBars()
    for w in (view, history, bars):
        qtbot.addWidget(w)
    view.show_command("yes", 0.93, 1.25)
    assert view.text == "yes" and "93%" in view.detail.text()
    history.add("yes", 0.93, 1.25)
    history.add("stop", 0.81, 3.5)
    rows = history.rows()
    assert [r[2] for r in rows] == ["stop", "yes"] and rows[0][3] == "81%"
    probs = np.linspace(0, 1, len(LABELS)).astype(np.float32)
    bars.set_probabilities(probs)
    np.testing.assert_allclose(bars.values, probs)
    assert bars.labels == LABELS


def test_settings_round_trip(tmp_path):
    from kwsapp.gui.settings import WindowSettings
    from PySide6 import QtCore

    store = temp_settings(tmp_path / "kwsapp.ini")
    WindowSettings(device="JACK dummy", model="/some/artifact", threshold=0.42,
                   vad_aggressiveness=3, show_withheld=False,
                   geometry=QtCore.QByteArray(b"geom")).save(store)
    back = WindowSettings.load(temp_settings(tmp_path / "kwsapp.ini"))
    assert (back.device, back.model, back.threshold, back.vad_aggressiveness,
            back.show_withheld) == ("JACK dummy", "/some/artifact", 0.42, 3, False)
    assert bytes(back.geometry) == b"geom"
    empty = WindowSettings.load(temp_settings(tmp_path / "none.ini"))
    assert empty == WindowSettings()


def test_no_display_prints_one_line_and_exits_2(repo_root):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "kwsapp", "gui"], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "kwsapp listen" in lines[0]
    assert proc.stdout == ""


def test_a_long_files_withheld_commands_are_listed_greyed_after_its_commands(qtbot):
    """The Files tab: the commands the second opinion stopped in a long file
    come after the file's commands in its list, greyed, saying what the
    recogniser heard; its row's summary counts them; clicking one zooms the
    timeline to it."""
    from kwsapp.gui.files import FilesPanel, FileResult

    panel = FilesPanel(GuiConfig())
    qtbot.addWidget(panel)
    result = FileResult("/tmp/talk.wav", commands=[("go", 0.9, 2.0, 2.5)],
                        withheld=[("left", 0.51, 7.0, 7.4, "Last."), ("up", 0.47, 12.0, 12.3, "")],
                        columns=np.zeros((400, 40), np.float32), seconds=20.0)
    panel.add_result(result)
    assert panel.result_rows() == [("talk.wav", "1 command in 20.0 s: go; 2 not emitted")]
    items = [panel.command_list.item(i) for i in range(panel.command_list.count())]
    assert [it.text().split(" s   ", 1)[1] for it in items] == [
        "go  (90%)", "left  (51%), not emitted: the second opinion heard “Last.”",
        "up  (47%), not emitted: the second opinion heard no word"]
    assert items[1].foreground().color() != items[0].foreground().color()
    panel.command_list.setCurrentRow(2)  # the withheld "up": the view zooms there
    (x0, x1), _ = panel.file_view.getPlotItem().vb.viewRange()
    assert x0 <= 12.0 and 12.3 <= x1 and x1 - x0 < 4.0
    panel.command_list.setCurrentRow(0)  # and back to "go"
    (x0, x1), _ = panel.file_view.getPlotItem().vb.viewRange()
    assert x0 <= 2.0 and 2.5 <= x1 and x1 - x0 < 4.0


def test_a_file_that_reads_when_dropped_again_loses_its_error_red(qtbot, tmp_path, tiny_model,
                                                                 data_dir):
    """A file dropped before it was there (an error row, red), then again
    once it is: its result is shown in the table's ordinary colour, as a
    file that read the first time, not in the error's red."""
    import shutil

    from kwsapp.gui.files import FilesPanel, FileWorker

    panel = FilesPanel(GuiConfig())
    qtbot.addWidget(panel)
    worker = FileWorker(GuiConfig())
    clip = sorted((data_dir / "yes").glob("*.wav"))[0]
    late = tmp_path / "late.wav"
    panel.add_result(worker.classify_one(str(late), str(tiny_model)))
    panel.add_result(worker.classify_one(str(clip), str(tiny_model)))
    late_row, good_row = panel.table.topLevelItem(0), panel.table.topLevelItem(1)
    assert late_row.text(1) == "error: no such file"
    red = late_row.foreground(1).color()
    shutil.copy(clip, late)
    panel.add_pending([str(late)])
    panel.add_result(worker.classify_one(str(late), str(tiny_model)))
    assert late_row.text(1) == good_row.text(1) and "error" not in late_row.text(1)
    assert late_row.foreground(1).color() != red
    assert late_row.foreground(1).color() == good_row.foreground(1).color()


def test_a_clip_too_short_to_trust_says_so_in_the_files_tab(qtbot, tmp_path, tiny_model,
                                                             data_dir):
    """The Files tab: a 0.05-s clip's row, its detail and its exported row
    carry the classify service's note (its label may be wrong); a whole
    clip's carry none."""
    import soundfile as sf

    from kwsapp.gui.files import FilesPanel, FileWorker

    panel = FilesPanel(GuiConfig())
    qtbot.addWidget(panel)
    panel.show()
    worker = FileWorker(GuiConfig())
    whole = sorted((data_dir / "yes").glob("*.wav"))[0]
    x = load_audio(whole)
    short = tmp_path / "short.wav"
    sf.write(short, x[int(np.argmax(np.abs(x))) - 400:][:800], 16000)
    panel.add_result(worker.classify_one(str(whole), str(tiny_model)))
    panel.add_result(worker.classify_one(str(short), str(tiny_model)))
    (_, whole_said), (_, short_said) = panel.result_rows()
    assert "only 50 ms of audio" in short_said and "may be wrong" in short_said
    assert "only" not in whole_said
    panel.table.setCurrentItem(panel.table.topLevelItem(1))
    assert panel.clip_note.isVisible() and "50 ms" in panel.clip_note.text()
    panel.table.setCurrentItem(panel.table.topLevelItem(0))
    assert not panel.clip_note.isVisible()
    header, rows = panel.table_rows()
    notes = [dict(zip(header, row))["notes"] for row in rows]
    assert notes[0] == "" and notes[1].startswith("only 50 ms of audio")
