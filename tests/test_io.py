"""File decoding (any WAV width, FLAC/OGG, rates, channels) and the
streaming resampler against one resample_poly call."""

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from kwsapp.audio.io import StreamResampler, load_audio, to_mono
from kwsapp.errors import AudioFileError


def _tone(rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("rate,block", [(8000, 1)] + [
    (rate, block) for rate in (8000, 44100, 48000, 22050, 32000) for block in (160, 1000, 4096, 333)])
def test_stream_resampler_equals_one_resample_poly(rate, block):
    x = (np.random.default_rng(rate).standard_normal(rate) * 0.3).astype(np.float32)
    g = np.gcd(rate, 16000)
    ref = scipy.signal.resample_poly(x, 16000 // g, rate // g)
    r = StreamResampler(rate, 16000)
    out = np.concatenate([r.process(x[i:i + block]) for i in range(0, len(x), block)]
                         + [r.flush()])
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_stream_resampler_identity_at_16k():
    x = np.arange(10, dtype=np.float32)
    r = StreamResampler(16000, 16000)
    np.testing.assert_array_equal(r.process(x), x)
    assert r.flush().size == 0


@pytest.mark.parametrize("rate", [16000, 8000, 44100, 48000])
def test_inputs_for_says_when_the_outputs_are_complete(rate):
    """The live pipeline sleeps until the input the next step needs is due:
    ``inputs_for(n)`` input samples give ``n`` outputs, one fewer do not."""
    r = StreamResampler(rate, 16000)
    blocks = np.random.default_rng(rate).integers(1, 700, 300)
    n_in = n_out = 0
    for block in blocks:
        n_out += r.process(np.zeros(block, np.float32)).shape[0]
        n_in += int(block)
        assert r.inputs_for(n_out) <= n_in < r.inputs_for(n_out + 1)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_widths_decode_to_the_same_signal(tmp_path, subtype):
    x = _tone(16000)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, 16000, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-2 if subtype == "PCM_U8" else 1e-4)


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg")])
def test_flac_and_ogg(tmp_path, fmt, ext):
    x = _tone(16000)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 16000, format=fmt)
    y = load_audio(path)
    assert abs(len(y) - len(x)) < 200
    assert np.corrcoef(y[:7000], x[:7000])[0, 1] > 0.95


@pytest.mark.parametrize("rate", [8000, 11025, 44100, 48000])
def test_other_rates_and_stereo_become_16k_mono(tmp_path, rate):
    x = _tone(rate, 1.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([x, x], axis=1), rate)
    y = load_audio(path)
    assert y.shape == (16000,)
    np.testing.assert_allclose(y[1000:-1000], _tone(16000, 1.0)[1000:-1000], atol=2e-3)


@pytest.mark.parametrize("channels", [1, 2, 3, 6, 7, 8, 12])
def test_to_mono_is_the_mean_of_the_channels(channels):
    """Summed a channel at a time (20x numpy's mean over the short axis):
    the same samples as ``mean(axis=1)`` up to 7 channels, within rounding
    beyond (numpy then adds them pairwise)."""
    x = np.random.default_rng(channels).standard_normal((9601, channels)).astype(np.float32)
    got = to_mono(x)
    want = x.mean(axis=1, dtype=np.float32)
    assert got.dtype == np.float32 and got.shape == (9601,)
    if channels < 8:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_array_equal(to_mono(x[:, 0]), x[:, 0])  # mono passes


def test_bad_files_name_the_file_and_problem(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    full = tmp_path / "full.wav"
    sf.write(full, _tone(16000), 16000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(full.read_bytes()[:60])
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    for path, words in [(empty, "empty"), (text, "not a readable audio"),
                        (truncated, "truncated"), (folder, "folder"),
                        (tmp_path / "missing.wav", "no such file")]:
        with pytest.raises(AudioFileError) as info:
            load_audio(path)
        assert str(path) in str(info.value) and words in str(info.value), str(info.value)


@pytest.mark.parametrize("rate,block", [(44100, 3528), (48000, 3840), (48000, 333),
                                        (32000, 2560), (32000, 1)])
def test_stream_resampler_fast_paths_give_upfirdn_samples(rate, block):
    """The resampler makes its polyphase filter once (scipy's private class
    when it gives scipy.signal.upfirdn's samples), and when it only
    decimates (48 and 32 kHz) runs its own polyphase correlations over a
    kept buffer: the very float32 samples of one that calls the public
    ``upfirdn`` over the kept input each time."""
    x = (np.random.default_rng(rate).standard_normal(3 * rate) * 0.3).astype(np.float32)
    x[rate:rate + 4000] *= 3.0  # loud enough to clip, as a close talker
    fast, public = StreamResampler(rate, 16000), StreamResampler(rate, 16000)
    public._dec, public._upfirdn = None, scipy.signal.upfirdn
    assert (fast._dec is not None) == (rate != 44100)
    for i in range(0, len(x), block):
        np.testing.assert_array_equal(fast.process(x[i:i + block]),
                                      public.process(x[i:i + block]))
    np.testing.assert_array_equal(fast.flush(), public.flush())
