"""Long files are decoded and classified block by block: the same events
as decoding the whole file first, bad data mid-file is one clear error, and
a progress bar goes to a terminal's stderr only for audio over a minute."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from conftest import real_clip
from kwsapp.audio.io import AudioFileBlocks, load_audio
from kwsapp.commands import progress
from kwsapp.errors import AudioFileError
from kwsapp.inference.classify import FileClassifier

WORDS = ("stop", "yes", "go", "no", "left", "right", "up", "down")


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory, data_dir):
    """70 s of real words every ~8 s over noise: 44.1 kHz, stereo, 24-bit."""
    from kwsapp.audio.io import resample

    rng = np.random.default_rng(0)
    parts = []
    for i, word in enumerate(WORDS):
        parts += [np.zeros(int(16000 * (6 + i % 3)), np.float32),
                  load_audio(real_clip(data_dir, word, i))]
    audio = np.concatenate(parts + [np.zeros(16000 * 8, np.float32)])
    audio = audio + 0.003 * rng.standard_normal(len(audio)).astype(np.float32)
    x = resample(audio, 16000, 44100)
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, np.stack([x, 0.5 * x], axis=1), 44100, subtype="PCM_24")
    return path


def test_blocks_are_the_whole_decode(long_wav):
    blocks = AudioFileBlocks(long_wav, block_frames=10000)
    whole, rate = sf.read(long_wav, dtype="float32", always_2d=True)
    got = np.concatenate(list(blocks))
    assert blocks.sample_rate_hz == rate == 44100
    np.testing.assert_array_equal(got, whole.mean(axis=1, dtype=np.float32))
    assert blocks.duration_s == pytest.approx(len(whole) / 44100)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_a_range_is_read_by_a_seek(tmp_path, suffix):
    """``read(start, stop)`` gives those frames of the whole decode, in
    blocks, whatever the block size; a range running past the end stops at
    it (the Files tab's zoomed detail reads a few seconds of an hour)."""
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((300007, 2))).astype(np.float32)
    path = tmp_path / f"a{suffix}"
    sf.write(path, x, 48000, subtype="PCM_16")
    whole = np.concatenate(list(AudioFileBlocks(path)))
    for block_frames in (-1, 4096, 96000):
        blocks = AudioFileBlocks(path, block_frames=block_frames)
        for start, stop in ((0, 10), (123457, 200001), (299000, None), (290000, 400000),
                            (300007, 300100)):
            got = list(blocks.read(start, stop))
            assert all(b.ndim == 1 and b.dtype == np.float32 for b in got)
            assert 0 < block_frames or len(got) <= 1
            want = whole[start:stop]
            np.testing.assert_array_equal(np.concatenate(got) if got else want[:0], want)


def test_long_file_block_by_block_gives_the_whole_file_events(long_wav):
    """... and gives a caller the samples it decoded (``on_audio``: the
    Files tab's overview is made of them): the whole file at 16 kHz, in
    order, without the silence the engine adds at the end."""
    classifier = FileClassifier.load(None)
    seen, blocks = [], []
    streamed = classifier.classify_file(long_wav, lambda done, total: seen.append((done, total)),
                                        on_audio=blocks.append)
    whole_audio = load_audio(long_wav)
    whole = classifier.classify_audio(whole_audio, str(long_wav))
    decoded = np.concatenate(blocks)
    assert decoded.dtype == np.float32 and decoded.shape == whole_audio.shape
    np.testing.assert_allclose(decoded, whole_audio, atol=1e-5)
    assert len(streamed.events) >= 4 and streamed.probs is None
    assert [e.label for e in streamed.events] == [e.label for e in whole.events]
    for a, b in zip(streamed.events, whole.events):
        assert a.start == pytest.approx(b.start, abs=0.001)
        assert a.end == pytest.approx(b.end, abs=0.001)
        assert a.score == pytest.approx(b.score, abs=1e-3)
    assert streamed.duration_s == pytest.approx(whole.duration_s, abs=1e-3)
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(streamed.duration_s)
    assert {t for _, t in seen} == {streamed.duration_s}


def test_nan_in_the_middle_of_a_long_file_is_one_clear_error(tmp_path):
    x = np.zeros(16000 * 20, np.float32)
    x[16000 * 12] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN or infinite"):
        FileClassifier.load(None).classify_file(path)


class _Terminal(io.StringIO):
    """Stands in for a terminal's stderr (a test has none)."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_over_a_minute(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    with progress.audio_progress("short.wav") as on_progress:
        on_progress(10.0, 30.0)
    assert term.getvalue() == ""
    with progress.audio_progress("long.wav") as on_progress:
        for done in (30.0, 60.0, 90.0):
            on_progress(done, 90.0)
    assert "long.wav" in term.getvalue() and "/90 s" in term.getvalue()
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    with progress.audio_progress("long.wav") as on_progress:
        assert on_progress is None
