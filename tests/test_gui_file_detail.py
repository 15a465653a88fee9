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
